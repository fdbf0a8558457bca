/* The consumer thread (see kafka_consumer.h). Offsets: librdkafka's
 * automatic offset store and commit are off; after the handler returns 0
 * the thread stores offset+1 for the message's partition and commits the
 * stored offsets every commit_interval_ms, before a partition is revoked and
 * at stop. A failed handler call rewinds its partition to the message. */
#include "userspace/ticketd/messaging/kafka_consumer.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/kafka.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/lib/trace.h"
#include "userspace/ticketd/messaging/outbox.h"

/* Sleeps the current backoff step (then doubles it, up to the cap), or
 * less when stop is requested. */
static void back_off(struct kafka_consumer *c)
{
	if (c->backoff_ms == 0)
		c->backoff_ms = c->opts.retry_initial_ms;
	worker_wait_until(&c->w, tkt_mono_ms() + c->backoff_ms);
	c->backoff_ms *= 2;
	if (c->backoff_ms > c->opts.retry_max_ms)
		c->backoff_ms = c->opts.retry_max_ms;
}

/* ---- librdkafka callbacks (all on the consumer thread but the log) ---- */

/* librdkafka's error events (broker down, ...): counted and logged; the
 * consumer keeps trying on its own. Fatal ones are handled by the loop. */
static void kafka_error(rd_kafka_t *rk, int err, const char *reason,
			void *opaque)
{
	struct kafka_consumer *c = opaque;

	atomic_fetch_add(&c->errors, 1);
	tkt_kafka_log_error(rk, err, reason);
}

/* Commits the stored offsets now and waits for the answer. */
static void commit_sync(struct kafka_consumer *c, rd_kafka_t *rk)
{
	rd_kafka_resp_err_t err = rd_kafka_commit(rk, NULL, 0);

	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
		atomic_fetch_add(&c->errors, 1);
		log_json(LOG_WARN, NULL, "kafka consumer: commit failed",
			 json_pack("{s:s, s:s}", "group", c->group_id, "error",
				   rd_kafka_err2str(err)));
	}
	c->commit_due = false;
}

static void on_commit(rd_kafka_t *rk, rd_kafka_resp_err_t err,
		      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	struct kafka_consumer *c = opaque;

	(void)rk;
	(void)offsets;
	if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) {
		atomic_fetch_add(&c->errors, 1);
		log_json(LOG_WARN, NULL, "kafka consumer: commit failed",
			 json_pack("{s:s, s:s}", "group", c->group_id, "error",
				   rd_kafka_err2str(err)));
	}
}

/* Takes the partitions the group gives us; before giving partitions back,
 * commits what was handled on them so the next owner does not redo it
 * (unless the assignment was lost: then the group moved on already). */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct kafka_consumer *c = opaque;
	bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (coop) {
			e = rd_kafka_incremental_assign(rk, parts);
			if (!e)
				atomic_fetch_add(&c->assigned_partitions, parts->cnt);
		} else {
			rerr = rd_kafka_assign(rk, parts);
			if (!rerr)
				atomic_store(&c->assigned_partitions, parts->cnt);
		}
	} else {
		if (!rd_kafka_assignment_lost(rk))
			commit_sync(c, rk);
		if (coop) {
			e = rd_kafka_incremental_unassign(rk, parts);
			atomic_fetch_sub(&c->assigned_partitions, parts->cnt);
		} else {
			rerr = rd_kafka_assign(rk, NULL);
			atomic_store(&c->assigned_partitions, 0);
		}
	}
	if (e || rerr) {
		atomic_fetch_add(&c->errors, 1);
		log_json(LOG_WARN, NULL, "kafka consumer: rebalance failed",
			 json_pack("{s:s, s:s}", "group", c->group_id, "error",
				   e ? rd_kafka_error_string(e)
				     : rd_kafka_err2str(rerr)));
		if (e)
			rd_kafka_error_destroy(e);
	}
}

/* ---- consumer ---------------------------------------------------------- */

/* Creates the consumer and subscribes it. Returns 0 or -EINVAL/-ENOMEM with
 * the reason in err. */
static int consumer_create(struct kafka_consumer *c, char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *topics;
	rd_kafka_resp_err_t rerr;
	rd_kafka_t *rk;
	char fetch_wait[24], fetch_min[24];
	int rc = 0;

	if (!conf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(fetch_wait, sizeof(fetch_wait), "%d", c->opts.fetch_wait_ms);
	snprintf(fetch_min, sizeof(fetch_min), "%d", c->opts.fetch_min_bytes);
	if ((rc = tkt_kafka_conf_set(conf, "bootstrap.servers", c->bootstrap, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "group.id", c->group_id, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "client.id", c->client_id, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "enable.auto.offset.store", "false", err,
			   errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "auto.offset.reset", c->offset_reset, err,
			   errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "enable.partition.eof", "false", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "socket.nagle.disable", "true", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "log.connection.close", "false", err, errlen)) ||
	    /* With fetch.min.bytes 1 the broker answered a fetch as soon as
	     * one produce request had landed: at 500 orders/s about one fetch
	     * (and one fetch response) per produce request. With a floor the
	     * broker holds the fetch until that much is there or the wait
	     * passed: about 1000/fetch_wait_ms fetches a second whatever the
	     * rate, each carrying everything that came meanwhile. */
	    (rc = tkt_kafka_conf_set(conf, "fetch.wait.max.ms", fetch_wait, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "fetch.min.bytes", fetch_min, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "session.timeout.ms", "6000", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "heartbeat.interval.ms", "1000", err, errlen)) ||
	    (c->instance_id[0] &&
	     (rc = tkt_kafka_conf_set(conf, "group.instance.id", c->instance_id, err, errlen)))) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_offset_commit_cb(conf, on_commit);
	rd_kafka_conf_set_log_cb(conf, tkt_kafka_log);
	rd_kafka_conf_set_error_cb(conf, kafka_error);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	/* Errors, commit results and rebalances arrive through
	 * rd_kafka_consumer_poll. */
	rd_kafka_poll_set_consumer(rk);
	topics = rd_kafka_topic_partition_list_new(c->n_topics);
	if (!topics) {
		rd_kafka_destroy(rk);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < c->n_topics; i++)
		rd_kafka_topic_partition_list_add(topics, c->topics[i],
						  RD_KAFKA_PARTITION_UA);
	rerr = rd_kafka_subscribe(rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (rerr) {
		snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(rerr));
		rd_kafka_destroy(rk);
		return -EINVAL;
	}
	if (c->opts.batch_handler &&
	    !(c->queue = rd_kafka_queue_get_consumer(rk))) {
		rd_kafka_destroy(rk);
		snprintf(err, errlen, "no consumer queue");
		return -ENOMEM;
	}
	c->rk = rk;
	c->commit_due = false;
	c->next_commit_ms = tkt_mono_ms() + c->opts.commit_interval_ms;
	return 0;
}

/* Leaves the group (committing first when graceful) and frees the consumer. */
static void consumer_destroy(struct kafka_consumer *c, bool graceful)
{
	rd_kafka_t *rk = c->rk;

	if (!rk)
		return;
	if (c->queue) {
		rd_kafka_queue_destroy(c->queue);
		c->queue = NULL;
	}
	if (graceful) {
		commit_sync(c, rk);
		rd_kafka_consumer_close(rk);
		rd_kafka_destroy(rk);
	} else {
		rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
	}
	c->rk = NULL;
	atomic_store(&c->assigned_partitions, 0);
}

/* Finds the last header called name. Returns 0 with *value and *len set
 * (value NULL for a null header), or -ENOENT. */
static int kafka_message_header(const struct kafka_message *m, const char *name,
			 const void **value, size_t *len)
{
	rd_kafka_headers_t *hdrs = NULL;

	if (!m->priv ||
	    rd_kafka_message_headers((const rd_kafka_message_t *)m->priv, &hdrs) ||
	    rd_kafka_header_get_last(hdrs, name, value, len))
		return -ENOENT;
	return 0;
}

/* Rewinds m's partition to m, so the next poll hands it again. */
static void rewind_to(struct kafka_consumer *c, const rd_kafka_message_t *m)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_error_t *e;

	if (!l)
		return;
	rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt),
					  m->partition)->offset = m->offset;
	e = rd_kafka_seek_partitions(c->rk, l, 5000);
	if (!e && l->elems[0].err)
		log_json(LOG_WARN, NULL, "kafka consumer: rewind failed",
			 json_pack("{s:s, s:s}", "group", c->group_id, "error",
				   rd_kafka_err2str(l->elems[0].err)));
	if (e) {
		log_json(LOG_WARN, NULL, "kafka consumer: rewind failed",
			 json_pack("{s:s, s:s}", "group", c->group_id, "error",
				   rd_kafka_error_string(e)));
		rd_kafka_error_destroy(e);
	}
	rd_kafka_topic_partition_list_destroy(l);
}

/* The handler's view of m (valid while m lives). */
static void fill_message(struct kafka_message *km, const rd_kafka_message_t *m)
{
	const void *v;
	size_t vlen;

	*km = (struct kafka_message){
		.topic = rd_kafka_topic_name(m->rkt),
		.partition = m->partition,
		.offset = m->offset,
		.timestamp_ms = rd_kafka_message_timestamp(m, NULL),
		.key = m->key,
		.key_len = m->key_len,
		.payload = m->payload,
		.payload_len = m->len,
		.priv = m,
	};
	if (!kafka_message_header(km, OUTBOX_ID_HEADER, &v, &vlen) && v &&
	    vlen < sizeof(km->outbox_id_str)) {
		char *end;

		memcpy(km->outbox_id_str, v, vlen);
		km->outbox_id_str[vlen] = '\0';
		km->outbox_id = strtoull(km->outbox_id_str, &end, 10);
		if (*end || end == km->outbox_id_str)
			km->outbox_id = 0;
	}
}

/* Stores offset+1 of each message of ms[0..n) for the next commit (the
 * last one of each partition counts: a partition's messages come in
 * offset order). */
static void store_offsets(struct kafka_consumer *c,
			  const struct kafka_message *ms, int n)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(n);

	if (!l)
		return;
	for (int i = 0; i < n; i++) {
		rd_kafka_topic_partition_t *p = rd_kafka_topic_partition_list_find(
			l, ms[i].topic, ms[i].partition);

		if (!p)
			p = rd_kafka_topic_partition_list_add(l, ms[i].topic,
							      ms[i].partition);
		p->offset = ms[i].offset + 1;
	}
	if (!rd_kafka_offsets_store(c->rk, l))
		c->commit_due = true;
	rd_kafka_topic_partition_list_destroy(l);
}

/* #15 tracing: a kafka.consume span, child of the producer's span named by
 * the message's traceparent header (messages without one start none); with
 * enter, current while the handler runs, so its work continues the trace
 * (one message at a time; a batch's spans only time the batch). */
static struct trace_span *consume_span_begin(const struct kafka_consumer *c,
					     const struct kafka_message *km, bool enter)
{
	char text[TRACEPARENT_LEN + 8];
	struct traceparent parent;
	struct trace_span *span;
	const void *v;
	size_t n;

	if (!trace_enabled() || kafka_message_header(km, "traceparent", &v, &n) ||
	    !v || n >= sizeof(text))
		return NULL;
	memcpy(text, v, n);
	text[n] = '\0';
	if (traceparent_parse(text, &parent))
		return NULL;
	span = trace_span_begin("kafka.consume", TRACE_CONSUMER, &parent);
	trace_span_attr(span, "messaging.system", "kafka");
	trace_span_attr(span, "messaging.destination.name", km->topic);
	trace_span_attr(span, "messaging.consumer.group.name", c->group_id);
	trace_span_attr_int(span, "messaging.kafka.offset", km->offset);
	trace_span_attr(span, "outbox.id", km->outbox_id_str);
	if (enter)
		trace_current_enter(span, NULL);
	return span;
}

static void consume_span_end(struct trace_span *span, int rc, bool entered)
{
	if (!span)
		return;
	if (entered)
		trace_current_set(NULL, NULL);
	if (rc)
		trace_span_error(span, "handler failed; will retry");
	trace_span_end(span);
}

/* Hands one message to the handler; on success stores its offset for the
 * next commit, on failure rewinds and backs off. */
static void handle(struct kafka_consumer *c, const rd_kafka_message_t *m)
{
	struct kafka_message km;
	struct trace_span *span;
	int rc;

	fill_message(&km, m);
	span = consume_span_begin(c, &km, true); /* #15 tracing */
	rc = c->opts.handler(c->opts.arg, &km);
	consume_span_end(span, rc, true);
	if (rc == 0) {
		atomic_fetch_add(&c->handled, 1);
		c->backoff_ms = 0;
		store_offsets(c, &km, 1);
		return;
	}
	atomic_fetch_add(&c->handler_failures, 1);
	if (c->backoff_ms == 0)
		log_json(LOG_WARN, NULL, "kafka consumer: handler failed; will retry",
			 json_pack("{s:s, s:s, s:i, s:I, s:s, s:i}", "group",
				   c->group_id, "topic", km.topic, "partition",
				   (int)m->partition, "offset", (json_int_t)m->offset,
				   "outboxId", km.outbox_id_str, "rc", rc));
	rewind_to(c, m);
	back_off(c);
}

/* Hands a batch to the batch handler. On success stores every offset; on
 * failure rewinds each partition of the batch to its first message in it
 * (the whole batch comes again) and backs off. */
static void handle_batch(struct kafka_consumer *c, rd_kafka_message_t **msgs,
			 int n)
{
	int rc;

	for (int i = 0; i < n; i++) {
		fill_message(&c->kms[i], msgs[i]);
		c->spans[i] = consume_span_begin(c, &c->kms[i], false); /* #15 tracing */
	}
	rc = c->opts.batch_handler(c->opts.arg, c->kms, n);
	for (int i = 0; i < n; i++)
		consume_span_end(c->spans[i], rc, false);
	if (rc == 0) {
		atomic_fetch_add(&c->handled, (uint64_t)n);
		atomic_fetch_add(&c->batches, 1);
		c->backoff_ms = 0;
		store_offsets(c, c->kms, n);
		return;
	}
	atomic_fetch_add(&c->handler_failures, 1);
	if (c->backoff_ms == 0)
		log_json(LOG_WARN, NULL, "kafka consumer: batch handler failed; will retry",
			 json_pack("{s:s, s:i, s:s, s:i, s:I, s:i}", "group", c->group_id,
				   "messages", n, "topic", c->kms[0].topic, "partition",
				   (int)c->kms[0].partition, "offset",
				   (json_int_t)c->kms[0].offset, "rc", rc));
	for (int i = 0; i < n; i++) {
		bool first = true;

		for (int j = 0; j < i && first; j++)
			first = msgs[j]->rkt != msgs[i]->rkt ||
				msgs[j]->partition != msgs[i]->partition;
		if (first)
			rewind_to(c, msgs[i]);
	}
	back_off(c);
}

/* Batch mode's poll: takes what is waiting (up to batch_max, at most 100 ms
 * for the first), drops error events after counting them, hands the rest
 * to handle_batch. */
static void poll_batch(struct kafka_consumer *c)
{
	rd_kafka_message_t **msgs = (rd_kafka_message_t **)c->batch;
	ssize_t got = rd_kafka_consume_batch_queue(c->queue, 100, msgs,
						   (size_t)c->opts.batch_max);
	int n = 0;

	for (ssize_t i = 0; i < got; i++) {
		rd_kafka_message_t *m = msgs[i];

		if (!m->err) {
			msgs[n++] = m;
			continue;
		}
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			atomic_fetch_add(&c->errors, 1);
			log_json(LOG_WARN, NULL, "kafka consumer: error",
				 json_pack("{s:s, s:s}", "group", c->group_id,
					   "error", rd_kafka_message_errstr(m)));
		}
		rd_kafka_message_destroy(m);
	}
	if (n > 0)
		handle_batch(c, msgs, n);
	for (int i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
}

static void *consumer_main(void *arg)
{
	struct kafka_consumer *c = arg;
	char err[512];

	while (!worker_stopping(&c->w)) {
		rd_kafka_message_t *m;

		if (!c->rk) {
			if (consumer_create(c, err, sizeof(err))) {
				atomic_fetch_add(&c->errors, 1);
				log_json(LOG_ERROR, NULL,
					 "kafka consumer: cannot create the consumer",
					 json_pack("{s:s, s:s}", "group", c->group_id,
						   "error", err));
				back_off(c);
				continue;
			}
		}
		if (c->queue) {
			poll_batch(c);
			m = NULL;
		} else {
			m = rd_kafka_consumer_poll(c->rk, 100);
		}
		if (m && !m->err) {
			handle(c, m);
		} else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			atomic_fetch_add(&c->errors, 1);
			log_json(LOG_WARN, NULL, "kafka consumer: error",
				 json_pack("{s:s, s:s}", "group", c->group_id,
					   "error", rd_kafka_message_errstr(m)));
		}
		if (m)
			rd_kafka_message_destroy(m);
		if (rd_kafka_fatal_error(c->rk, err, sizeof(err))) {
			log_json(LOG_ERROR, NULL,
				 "kafka consumer: fatal error; recreating the consumer",
				 json_pack("{s:s, s:s}", "group", c->group_id,
					   "error", err));
			consumer_destroy(c, false);
			atomic_fetch_add(&c->restarts, 1);
			back_off(c);
			continue;
		}
		if (c->commit_due && tkt_mono_ms() >= c->next_commit_ms) {
			/* Async: the result comes back through on_commit. */
			rd_kafka_commit(c->rk, NULL, 1);
			c->commit_due = false;
			c->next_commit_ms = tkt_mono_ms() + c->opts.commit_interval_ms;
		}
	}
	consumer_destroy(c, true);
	return NULL;
}

/* ---- public --------------------------------------------------------------- */

void kafka_consumer_default_opts(struct kafka_consumer_opts *o)
{
	*o = (struct kafka_consumer_opts){
		.client_id = "ticketd-consumer",
		.auto_offset_reset = "earliest",
		.commit_interval_ms = 200,
		.batch_max = 64,
		.fetch_wait_ms = 100,
		.fetch_min_bytes = 65536,
		.retry_initial_ms = 100,
		.retry_max_ms = 5000,
	};
}

static void kafka_consumer_free_batch(struct kafka_consumer *c)
{
	free(c->batch);
	free(c->kms);
	free(c->spans);
	c->batch = NULL;
	c->kms = NULL;
	c->spans = NULL;
}

static int copy_str(char *dst, size_t cap, const char *src)
{
	if (!src || !*src || strlen(src) >= cap)
		return -EINVAL;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* See kafka_consumer.h. The consumer is created on the caller's thread so
 * that a configuration error is reported here. */
int kafka_consumer_start(struct kafka_consumer *c, const char *bootstrap,
			 const struct kafka_consumer_opts *opts, char *err,
			 size_t errlen)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (!opts || !opts->handler == !opts->batch_handler ||
	    (opts->batch_handler && (opts->batch_max < 1 || opts->batch_max > 10000)) ||
	    opts->fetch_wait_ms < 1 || opts->fetch_wait_ms > 60000 ||
	    opts->fetch_min_bytes < 1 || opts->fetch_min_bytes > 100000000 ||
	    opts->commit_interval_ms <= 0 ||
	    opts->retry_initial_ms <= 0 ||
	    opts->retry_max_ms < opts->retry_initial_ms ||
	    copy_str(c->bootstrap, sizeof(c->bootstrap), bootstrap) ||
	    copy_str(c->group_id, sizeof(c->group_id), opts->group_id) ||
	    copy_str(c->client_id, sizeof(c->client_id), opts->client_id) ||
	    copy_str(c->offset_reset, sizeof(c->offset_reset),
		     opts->auto_offset_reset)) {
		snprintf(err, errlen, "kafka consumer: invalid arguments");
		return -EINVAL;
	}
	if (opts->instance_id &&
	    copy_str(c->instance_id, sizeof(c->instance_id), opts->instance_id)) {
		snprintf(err, errlen, "kafka consumer: invalid instance id");
		return -EINVAL;
	}
	for (int i = 0; i < KAFKA_CONSUMER_MAX_TOPICS && opts->topics[i]; i++)
		if (copy_str(c->topics[c->n_topics++], sizeof(c->topics[0]),
			     opts->topics[i])) {
			snprintf(err, errlen, "kafka consumer: invalid topic");
			return -EINVAL;
		}
	if (c->n_topics == 0) {
		snprintf(err, errlen, "kafka consumer: no topics");
		return -EINVAL;
	}
	c->opts = *opts;
	c->opts.group_id = c->group_id;
	c->opts.client_id = c->client_id;
	c->opts.instance_id = c->instance_id[0] ? c->instance_id : NULL;
	c->opts.auto_offset_reset = c->offset_reset;
	for (int i = 0; i < c->n_topics; i++)
		c->opts.topics[i] = c->topics[i];
	c->opts.topics[c->n_topics] = NULL;

	if (c->opts.batch_handler &&
	    (!(c->batch = calloc((size_t)c->opts.batch_max, sizeof(*c->batch))) ||
	     !(c->kms = calloc((size_t)c->opts.batch_max, sizeof(*c->kms))) ||
	     !(c->spans = calloc((size_t)c->opts.batch_max, sizeof(*c->spans))))) {
		kafka_consumer_free_batch(c);
		snprintf(err, errlen, "kafka consumer: out of memory");
		return -ENOMEM;
	}
	rc = consumer_create(c, err, errlen);
	if (rc) {
		kafka_consumer_free_batch(c);
		return rc;
	}
	rc = worker_start(&c->w, consumer_main, c);
	if (rc) {
		snprintf(err, errlen, "kafka consumer: pthread_create: %s",
			 strerror(-rc));
		consumer_destroy(c, false);
		kafka_consumer_free_batch(c);
	}
	return rc;
}

void kafka_consumer_stop(struct kafka_consumer *c)
{
	worker_stop(&c->w);
	kafka_consumer_free_batch(c);
}

void kafka_consumer_stats(struct kafka_consumer *c,
			  struct kafka_consumer_stats *st)
{
	st->handled = atomic_load(&c->handled);
	st->handler_failures = atomic_load(&c->handler_failures);
	st->errors = atomic_load(&c->errors);
	st->restarts = atomic_load(&c->restarts);
	st->batches = atomic_load(&c->batches);
	st->assigned = atomic_load(&c->assigned_partitions) > 0;
}

int kafka_consumer_render_metrics(struct kafka_consumer *const *cs, int n,
				  char **buf, size_t *len, size_t *cap)
{
	static const struct {
		const char *name, *type, *help;
	} fam[] = {
		{"ticketd_consumer_messages_handled_total", "counter",
		 "Messages the handler finished (offset committed after)."},
		{"ticketd_consumer_handler_failures_total", "counter",
		 "Handler calls that asked for a retry."},
		{"ticketd_consumer_errors_total", "counter",
		 "Consumer, commit and rebalance errors."},
		{"ticketd_consumer_restarts_total", "counter",
		 "Consumers recreated after a fatal error."},
		{"ticketd_consumer_assigned", "gauge",
		 "1 when the consumer has partitions assigned."},
		{"ticketd_consumer_batches_total", "counter",
		 "Batches a batch handler finished (one transaction each)."},
	};
	int rc = 0;

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		rc |= metrics_appendf(buf, len, cap, "# HELP %s %s\n# TYPE %s %s\n",
				      fam[f].name, fam[f].help, fam[f].name,
				      fam[f].type);
		for (int i = 0; i < n; i++) {
			struct kafka_consumer_stats st;
			uint64_t v[] = {0, 0, 0, 0, 0, 0};

			kafka_consumer_stats(cs[i], &st);
			v[0] = st.handled;
			v[1] = st.handler_failures;
			v[2] = st.errors;
			v[3] = st.restarts;
			v[4] = st.assigned;
			v[5] = st.batches;
			rc |= metrics_appendf(buf, len, cap,
					      "%s{consumer=\"%s\"} %" PRIu64 "\n",
					      fam[f].name, cs[i]->group_id, v[f]);
		}
	}
	return rc ? -ENOMEM : 0;
}
