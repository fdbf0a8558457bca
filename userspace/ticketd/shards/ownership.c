#include "userspace/ticketd/shards/ownership.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis.h>
#include <librdkafka/rdkafka.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/kafka.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/commerce/saga.h"
#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/seats/journal.h"
#include "userspace/ticketd/seats/recovery.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/seats/seat_view.h"
#include "userspace/ticketd/seats/stream_epoch.h"
#include "userspace/ticketd/ticketd.h"

#define REFRESH_MS 1000
#define POLL_MS 100

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The thread's Redis connection, (re)opened on demand; NULL when Redis
 * cannot be reached. */
static redisContext *redis_of(struct shards *s)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};

	if (s->redis && s->redis->err) {
		redisFree(s->redis);
		s->redis = NULL;
	}
	if (!s->redis) {
		s->redis = redisConnectWithTimeout(s->app->cfg.redis_host,
						   s->app->cfg.redis_port, tv);
		if (s->redis && s->redis->err) {
			redisFree(s->redis);
			s->redis = NULL;
		}
		if (s->redis)
			redisSetTimeout(s->redis, tv);
	}
	return s->redis;
}

/* The arrays below are indexed by event id (0..TKT_MAX_EVENTS-1, the
 * events map's index): an event published while the daemon runs needs no
 * new room. -1 for an id that is no catalogue event. */
static int index_of(const struct shards *s, uint32_t event_id)
{
	return event_id < TKT_MAX_EVENTS && catalog_find(&s->app->catalog, event_id)
		       ? (int)event_id
		       : -1;
}

static int clear_words(struct shards *s, uint32_t id);

/* ---- giving an event up ---- */

/* Stops serving the event at once: the doors answer WRONG_NODE from the
 * next request on. Then the shard map entry goes, if still ours. */
static void give_up(struct shards *s, uint32_t idx, const char *why)
{
	uint32_t id = idx;
	bool was = atomic_exchange(&s->epochs[idx], 0) != 0;
	redisContext *c;

	(void)edge_set_event_owned(s->app->edge, id, TKT_OWNED_NO, 0, 0);
	atomic_store(&s->owner_set[idx], 0);
	if (!was)
		return;
	/* its streams end: a client that reconnects is sent to the owner */
	sse_hub_end_event(s->app->sse, id);
	/* its words are the new owner's now: cleared here (records the
	 * journal skips), so no stale hold counts towards a session's limit
	 * and nothing lingers until the event comes back */
	if (clear_words(s, id))
		log_msg(LOG_WARN, NULL, "shards: event %u given up with its words "
			"uncleared (change queue full); they are cleared when it comes back", id);
	c = redis_of(s);
	if (c)
		(void)shard_map_withdraw(c, id, s->node);
	atomic_fetch_sub(&s->owned_events, 1);
	atomic_fetch_add(&s->giveups, 1);
	pthread_mutex_lock(&s->lock);
	memset(&s->owners[idx], 0, sizeof(s->owners[idx]));
	pthread_mutex_unlock(&s->lock);
	log_json(LOG_INFO, NULL, "shards: event given up",
		 json_pack("{s:i, s:s}", "event", (int)id, "why", why));
}

/* ---- taking an event over ---- */

/* Clears the event's words (records the journal skips); the change queue
 * may be full for a moment. */
static int clear_words(struct shards *s, uint32_t id)
{
	for (int tries = 0; tries < 2000; tries++) {
		int rc = edge_event_clear(s->app->edge, id, NULL);
		struct timespec ms = {.tv_sec = 0, .tv_nsec = 1000000};

		if (rc != -ENOBUFS)
			return rc;
		nanosleep(&ms, NULL);
	}
	return -ENOBUFS;
}

/* Fence, rebuild, publish, serve. 0, or a negative errno (the event is
 * then not served; the thread tries again a second later). */
static int take_over(struct shards *s, uint32_t idx)
{
	struct ticketd *app = s->app;
	uint32_t id = idx;
	struct recovery_report rep = {0};
	struct shard_owner me = {0};
	uint64_t epoch = 0, sepoch = 0, t0 = tkt_mono_ns(), floor;
	redisContext *c = redis_of(s);
	char err[256] = "";
	int rc;

	if (atomic_load(&s->epochs[idx]))
		return 0; /* served already (an assignment seen twice) */
	if (!c)
		return -ECONNREFUSED;
	rc = shard_epoch_take(c, id, &epoch);
	if (rc)
		return rc;
	/* versions continue above whatever the last owner journalled */
	floor = stream_epoch_of(journal_last_version(app->cfg.redis_host, app->cfg.redis_port,
						     id)) + 1;
	if (stream_epoch_take(app->cfg.redis_host, app->cfg.redis_port, app->cfg.state_dir,
			      floor, &sepoch))
		log_msg(LOG_WARN, NULL, "shards: stream epoch %llu kept nowhere",
			(unsigned long long)sepoch);
	(void)seat_stream_rebase(&app->stream, id, sepoch << STREAM_EPOCH_SHIFT);
	rc = clear_words(s, id);
	atomic_store(&s->owner_set[idx], 0);
	if (!rc)
		rc = edge_set_event_owned(app->edge, id, TKT_OWNED_REBUILD, 0, 0);
	/* the epoch first: the rebuild's own journal writes carry it */
	atomic_store(&s->epochs[idx], epoch);
	if (!rc)
		rc = recovery_rebuild_event(app, id, &rep, err, sizeof(err));
	if (!rc && saga_reconcile_event(app, id))
		log_msg(LOG_WARN, NULL, "shards: reconciling event %u with its orders failed", id);
	snprintf(me.node, sizeof(me.node), "%s", s->node);
	snprintf(me.udp, sizeof(me.udp), "%s", app->cfg.advertise_udp);
	snprintf(me.http, sizeof(me.http), "%s", app->cfg.advertise_http);
	me.epoch = epoch;
	if (!rc)
		rc = shard_map_publish(c, id, &me);
	if (rc) {
		atomic_store(&s->epochs[idx], 0);
		(void)edge_set_event_owned(app->edge, id, TKT_OWNED_NO, 0, 0);
		atomic_fetch_add(&s->take_failures, 1);
		log_msg(LOG_WARN, NULL, "shards: taking event %u over failed: %s", id,
			err[0] ? err : strerror(-rc));
		return rc;
	}
	(void)edge_set_event_owned(app->edge, id, TKT_OWNED_YES, 0, 0);
	pthread_mutex_lock(&s->lock);
	s->owners[idx] = me;
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&s->owned_events, 1);
	atomic_fetch_add(&s->takeovers, 1);
	atomic_store(&s->rebuild_us_last, (tkt_mono_ns() - t0) / 1000);
	log_json(LOG_INFO, NULL, "shards: event taken over",
		 json_pack("{s:i, s:I, s:i, s:i, s:i, s:i, s:f}", "event", (int)id, "epoch",
			   (json_int_t)epoch, "sold", (int)rep.sold, "holds", (int)rep.holds,
			   "orders", (int)rep.orders, "skipped", (int)rep.skipped,
			   "seconds", (double)(tkt_mono_ns() - t0) / 1e9));
	return 0;
}

/* ---- the group ---- */

static void each_event_of(struct shards *s, const rd_kafka_topic_partition_list_t *parts,
			  bool assign)
{
	for (int i = 0; i < parts->cnt; i++) {
		const rd_kafka_topic_partition_t *p = &parts->elems[i];

		if (strcmp(p->topic, SHARDS_TOPIC) || p->partition < 0 ||
		    (uint32_t)p->partition >= s->partitions)
			continue;
		atomic_store(&s->assigned[p->partition], assign);
		for (uint32_t id = (uint32_t)p->partition; id < TKT_MAX_EVENTS; id += s->partitions) {
			if (assign) {
				atomic_store(&s->fenced_out[id], 0);
				if (catalog_find(&s->app->catalog, id))
					(void)take_over(s, id);
			} else {
				give_up(s, id, "partition revoked");
			}
		}
	}
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct shards *s = opaque;
	bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
	rd_kafka_error_t *e = NULL;
	rd_kafka_resp_err_t rerr = RD_KAFKA_RESP_ERR_NO_ERROR;

	atomic_fetch_add(&s->rebalances, 1);
	log_json(LOG_INFO, NULL, "shards: rebalance",
		 json_pack("{s:s, s:i, s:b}", "kind",
			   err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS ? "assign"
			   : rd_kafka_assignment_lost(rk)	    ? "lost"
								    : "revoke",
			   "partitions", parts->cnt, "cooperative", coop));
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rerr = rd_kafka_assign(rk, parts);
		each_event_of(s, parts, true);
	} else {
		/* before the callback returns: nothing served from here on */
		each_event_of(s, parts, false);
		if (coop)
			e = rd_kafka_incremental_unassign(rk, parts);
		else
			rerr = rd_kafka_assign(rk, NULL);
	}
	if (e || rerr) {
		log_msg(LOG_WARN, NULL, "shards: rebalance: %s",
			e ? rd_kafka_error_string(e) : rd_kafka_err2str(rerr));
		if (e)
			rd_kafka_error_destroy(e);
	}
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	(void)opaque;
	tkt_kafka_log_error(rk, err, reason);
}

/* The topic with P partitions: created when absent; one with another
 * count is refused. 0 or -EINVAL (err filled). */
static int ensure_topic(struct shards *s, rd_kafka_t *rk, char *err, size_t errlen)
{
	/* a topic just created shows in metadata a moment later */
	for (int round = 0; round < 40; round++) {
		const struct rd_kafka_metadata *md = NULL;
		rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, SHARDS_TOPIC, NULL);
		rd_kafka_resp_err_t rerr;
		int have = -1;

		if (!rkt) {
			snprintf(err, errlen, "cannot make a topic handle");
			return -ENOMEM;
		}
		rerr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
		rd_kafka_topic_destroy(rkt);
		if (rerr) {
			snprintf(err, errlen, "Kafka metadata for %s: %s", SHARDS_TOPIC,
				 rd_kafka_err2str(rerr));
			return -EIO;
		}
		if (md->topic_cnt == 1 && !md->topics[0].err)
			have = md->topics[0].partition_cnt;
		rd_kafka_metadata_destroy(md);
		if (have >= 0) {
			if ((uint32_t)have != s->partitions) {
				snprintf(err, errlen,
					 "topic %s has %d partitions, shard_partitions is %u: "
					 "every node must use the topic's count (or delete the "
					 "topic)", SHARDS_TOPIC, have, s->partitions);
				return -EINVAL;
			}
			return 0;
		}
		if (round) {
			struct timespec wait = {.tv_sec = 0, .tv_nsec = 250 * 1000000L};

			nanosleep(&wait, NULL);
			continue;
		}
		{
			char why[256];
			rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(
				SHARDS_TOPIC, (int)s->partitions, 1, why, sizeof(why));
			rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
			rd_kafka_event_t *ev;

			if (!nt || !q) {
				if (nt)
					rd_kafka_NewTopic_destroy(nt);
				if (q)
					rd_kafka_queue_destroy(q);
				snprintf(err, errlen, "cannot create %s: %s", SHARDS_TOPIC, why);
				return -EINVAL;
			}
			rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
			rd_kafka_NewTopic_destroy(nt);
			ev = rd_kafka_queue_poll(q, 15000);
			if (ev) {
				size_t n = 0;
				const rd_kafka_topic_result_t **res =
					rd_kafka_CreateTopics_result_topics(
						rd_kafka_event_CreateTopics_result(ev), &n);

				if (n == 1 && rd_kafka_topic_result_error(res[0]) &&
				    rd_kafka_topic_result_error(res[0]) !=
					    RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
					log_msg(LOG_WARN, NULL, "shards: creating %s: %s",
						SHARDS_TOPIC,
						rd_kafka_topic_result_error_string(res[0]));
				rd_kafka_event_destroy(ev);
			}
			rd_kafka_queue_destroy(q);
		}
	}
	snprintf(err, errlen, "topic %s is missing and could not be created", SHARDS_TOPIC);
	return -EIO;
}

static int consumer_create(struct shards *s, char *err, size_t errlen)
{
	struct ticketd *app = s->app;
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_topic_partition_list_t *topics;
	char client_id[64], session[16], beat[16];
	rd_kafka_t *rk;
	int rc;

	if (!conf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(client_id, sizeof(client_id), "ticketd-shards-%s", s->node);
	snprintf(session, sizeof(session), "%d", SHARDS_SESSION_TIMEOUT_MS);
	snprintf(beat, sizeof(beat), "%d", SHARDS_HEARTBEAT_MS);
	if ((rc = tkt_kafka_conf_set(conf, "bootstrap.servers", app->cfg.kafka_bootstrap, err,
				     errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "group.id", SHARDS_GROUP, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "group.instance.id", s->node, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "client.id", client_id, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "partition.assignment.strategy",
				     "cooperative-sticky", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "session.timeout.ms", session, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "heartbeat.interval.ms", beat, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "enable.auto.commit", "false", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "auto.offset.reset", "latest", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "enable.partition.eof", "false", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "log.connection.close", "false", err, errlen))) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_conf_set_opaque(conf, s);
	rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
	rd_kafka_conf_set_log_cb(conf, tkt_kafka_log);
	rd_kafka_conf_set_error_cb(conf, on_kafka_error);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	if (!rk) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rc = ensure_topic(s, rk, err, errlen);
	if (rc) {
		rd_kafka_destroy(rk);
		return rc;
	}
	rd_kafka_poll_set_consumer(rk);
	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, SHARDS_TOPIC, RD_KAFKA_PARTITION_UA);
	if (rd_kafka_subscribe(rk, topics)) {
		rd_kafka_topic_partition_list_destroy(topics);
		rd_kafka_destroy(rk);
		snprintf(err, errlen, "cannot subscribe to %s", SHARDS_TOPIC);
		return -EIO;
	}
	rd_kafka_topic_partition_list_destroy(topics);
	s->rk = rk;
	return 0;
}

/* ---- the map cache and the heartbeat ---- */

struct refresh_ctx {
	struct shards *s;
	struct shard_owner *owners; /* fresh, per index */
};

static void on_map_entry(void *ctx, uint32_t event_id, const struct shard_owner *o)
{
	struct refresh_ctx *rc = ctx;
	int idx = index_of(rc->s, event_id);

	if (idx >= 0)
		rc->owners[idx] = *o;
}

static json_t *read_nodes(redisContext *c)
{
	redisReply *r = redisCommand(c, "HGETALL %s", SHARD_NODES_KEY);
	json_t *out = json_object();

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; out && i + 1 < r->elements; i += 2) {
		struct shard_node n;

		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    r->element[i + 1]->type != REDIS_REPLY_STRING ||
		    shard_node_parse(r->element[i + 1]->str, &n))
			continue;
		json_object_set_new(out, r->element[i]->str,
				    json_pack("{s:s, s:s, s:I}", "udp", n.udp, "http", n.http,
					      "seenAt", (json_int_t)n.seen_at_ms));
	}
	freeReplyObject(r);
	return out;
}

/* The counts of every event served here go to tkt:shard:counts (one
 * pipeline); those of the others come back into s->counts, for
 * GET /api/events on every node. */
static void exchange_counts(struct shards *s, redisContext *c)
{
	redisReply *r;
	int sent = 0;

	for (uint32_t k = 0; k < TKT_MAX_EVENTS; k++) {
		const struct event_info *e;
		struct seat_counts sc;
		char v[48];

		if (!atomic_load(&s->epochs[k]) || !(e = catalog_find(&s->app->catalog, k)))
			continue;
		sc = seat_view_counts(s->app, e);
		snprintf(v, sizeof(v), "%u:%u:%u", sc.available, sc.held, sc.sold);
		if (redisAppendCommand(c, "HSET %s %u %s", SHARD_COUNTS_KEY, e->id, v) == REDIS_OK)
			sent++;
	}
	for (int i = 0; i < sent; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK)
			return;
		freeReplyObject(r);
	}
	r = redisCommand(c, "HGETALL %s", SHARD_COUNTS_KEY);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		unsigned a, h, so;
		int idx;

		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    r->element[i + 1]->type != REDIS_REPLY_STRING ||
		    sscanf(r->element[i + 1]->str, "%u:%u:%u", &a, &h, &so) != 3)
			continue;
		idx = index_of(s, (uint32_t)strtoul(r->element[i]->str, NULL, 10));
		if (idx < 0)
			continue;
		s->counts[idx].available = a;
		s->counts[idx].held = h;
		s->counts[idx].sold = so;
		s->counts[idx].known = true;
	}
	pthread_mutex_unlock(&s->lock);
	freeReplyObject(r);
}

/* Beats tkt:nodes, reads the map, and gives every event served elsewhere
 * its owner's UDP address in the events entry (WRONG_NODE replies). */
static void refresh(struct shards *s)
{
	struct shard_node me = {.seen_at_ms = wall_ms()};
	struct refresh_ctx rc = {.s = s};
	redisContext *c = redis_of(s);
	json_t *nodes;

	if (!c)
		return;
	snprintf(me.udp, sizeof(me.udp), "%s", s->app->cfg.advertise_udp);
	snprintf(me.http, sizeof(me.http), "%s", s->app->cfg.advertise_http);
	(void)shard_node_beat(c, s->node, &me);
	rc.owners = calloc(TKT_MAX_EVENTS, sizeof(*rc.owners));
	if (!rc.owners)
		return;
	if (shard_map_read(c, on_map_entry, &rc) < 0) {
		free(rc.owners);
		return;
	}
	nodes = read_nodes(c);
	exchange_counts(s, c);
	for (uint32_t k = 0; k < TKT_MAX_EVENTS; k++) {
		const struct shard_owner *o = &rc.owners[k];
		uint32_t id = k, ip = 0;
		uint16_t port = 0;

		if (atomic_load(&s->epochs[k]) || !catalog_find(&s->app->catalog, k))
			continue; /* ours (owner fields stay zero), or no event */
		if (o->node[0] && strcmp(o->node, s->node))
			(void)shard_addr_ipv4(o->udp, &ip, &port);
		/* one write when the owner changed (the doors read the entry) */
		if (edge_event_owned(s->app->edge, id) == (int)TKT_OWNED_NO &&
		    atomic_load(&s->owner_set[k]) != ((uint64_t)ip << 16 | port | 1ull << 48) &&
		    !edge_set_event_owned(s->app->edge, id, TKT_OWNED_NO, ip, port))
			atomic_store(&s->owner_set[k], (uint64_t)ip << 16 | port | 1ull << 48);
	}
	pthread_mutex_lock(&s->lock);
	for (uint32_t k = 0; k < TKT_MAX_EVENTS; k++)
		if (!atomic_load(&s->epochs[k]))
			s->owners[k] = rc.owners[k];
	if (nodes) {
		json_decref(s->nodes_json);
		s->nodes_json = nodes;
	}
	pthread_mutex_unlock(&s->lock);
	free(rc.owners);
}

static void *shards_main(void *arg)
{
	struct shards *s = arg;

	while (!atomic_load(&s->stop)) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(s->rk, POLL_MS);

		if (m)
			rd_kafka_message_destroy(m); /* nothing is ever produced there */
		if (tkt_mono_ms() >= s->next_refresh_ms) {
			s->next_refresh_ms = tkt_mono_ms() + REFRESH_MS;
			/* a takeover that failed (Redis or MariaDB away), or
			 * an event published since, is taken over while its
			 * partition stays ours (not one a newer epoch fenced
			 * off: that waits for a new assignment) */
			for (uint32_t id = 0; id < TKT_MAX_EVENTS; id++)
				if (atomic_load(&s->assigned[id % s->partitions]) &&
				    !atomic_load(&s->fenced_out[id]) &&
				    !atomic_load(&s->epochs[id]) &&
				    catalog_find(&s->app->catalog, id))
					(void)take_over(s, id);
			refresh(s);
		}
	}
	return NULL;
}

/* ---- start, stop ---- */

int shards_init(struct shards *s, struct ticketd *app, char *err, size_t errlen)
{
	uint32_t n = TKT_MAX_EVENTS;

	memset(s, 0, sizeof(*s));
	s->app = app;
	s->on = app->cfg.shards_on;
	pthread_mutex_init(&s->lock, NULL);
	if (!s->on)
		return 0;
	s->partitions = (uint32_t)app->cfg.shard_partitions;
	snprintf(s->node, sizeof(s->node), "%s", app->cfg.node_id);
	s->assigned = calloc(s->partitions, sizeof(*s->assigned));
	s->fenced_out = calloc(n, sizeof(*s->fenced_out));
	s->owner_set = calloc(n, sizeof(*s->owner_set));
	s->counts = calloc(n, sizeof(*s->counts));
	s->owners = calloc(n, sizeof(*s->owners));
	s->epochs = calloc(n, sizeof(*s->epochs));
	if (!s->assigned || !s->fenced_out || !s->owners || !s->epochs || !s->owner_set ||
	    !s->counts) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	atomic_store(&s->ready, true);
	return 0;
}

void shards_free(struct shards *s)
{
	atomic_store(&s->ready, false);
	json_decref(s->nodes_json);
	s->nodes_json = NULL;
	free((void *)s->assigned);
	free((void *)s->fenced_out);
	s->assigned = NULL;
	s->fenced_out = NULL;
	free((void *)s->owner_set);
	free(s->counts);
	s->counts = NULL;
	s->owner_set = NULL;
	free(s->owners);
	free((void *)s->epochs);
	s->owners = NULL;
	s->epochs = NULL;
	pthread_mutex_destroy(&s->lock);
}

int shards_start(struct shards *s, char *err, size_t errlen)
{
	struct ticketd *app = s->app;
	int rc;

	if (!s->on)
		return 0;
	rc = consumer_create(s, err, errlen);
	if (rc)
		return rc;
	refresh(s);
	if (pthread_create(&s->thread, NULL, shards_main, s)) {
		snprintf(err, errlen, "cannot start the shards thread");
		rd_kafka_destroy(s->rk);
		s->rk = NULL;
		return -EAGAIN;
	}
	s->running = true;
	log_json(LOG_INFO, NULL, "shards: multi-node mode",
		 json_pack("{s:s, s:i, s:s, s:s}", "node", s->node, "partitions",
			   (int)s->partitions, "udp", app->cfg.advertise_udp, "http",
			   app->cfg.advertise_http));
	return 0;
}

void shards_stop(struct shards *s)
{
	if (s->running) {
		atomic_store(&s->stop, true);
		pthread_join(s->thread, NULL);
		s->running = false;
	}
	if (s->rk) {
		/* leaves the group: the revoke callback gives every event up */
		rd_kafka_consumer_close(s->rk);
		rd_kafka_destroy(s->rk);
		s->rk = NULL;
	}
	if (s->redis) {
		redisReply *r = redisCommand(s->redis, "HDEL %s %s", SHARD_NODES_KEY, s->node);

		if (r)
			freeReplyObject(r);
		redisFree(s->redis);
		s->redis = NULL;
	}
}

/* ---- readers ---- */

enum shard_where shards_where(struct shards *s, uint32_t event_id, struct shard_owner *owner)
{
	int idx;
	enum shard_where w = SHARD_MOVING;

	if (!s->on)
		return SHARD_HERE;
	idx = index_of(s, event_id);
	if (idx < 0)
		return SHARD_HERE; /* unknown event: the handler says so */
	if (atomic_load(&s->epochs[idx]) &&
	    edge_event_owned(s->app->edge, event_id) == (int)TKT_OWNED_YES)
		return SHARD_HERE;
	pthread_mutex_lock(&s->lock);
	if (s->owners[idx].node[0] && strcmp(s->owners[idx].node, s->node)) {
		w = SHARD_ELSEWHERE;
		if (owner)
			*owner = s->owners[idx];
	}
	pthread_mutex_unlock(&s->lock);
	return w;
}

uint64_t shards_epoch(struct shards *s, uint32_t event_id)
{
	int idx;

	if (!s->on)
		return UINT64_MAX;
	if (!atomic_load(&s->ready))
		return 0;
	idx = index_of(s, event_id);
	return idx < 0 ? 0 : atomic_load(&s->epochs[idx]);
}

void shards_fenced(struct shards *s, uint32_t event_id)
{
	int idx = atomic_load(&s->ready) ? index_of(s, event_id) : -1;

	atomic_fetch_add(&s->fenced, 1);
	if (idx < 0)
		return;
	/* not taken back by the retry loop: only a new assignment does */
	atomic_store(&s->fenced_out[idx], 1);
	if (atomic_exchange(&s->epochs[idx], 0)) {
		(void)edge_set_event_owned(s->app->edge, event_id, TKT_OWNED_NO, 0, 0);
		atomic_store(&s->owner_set[idx], 0);
		sse_hub_end_event(s->app->sse, event_id);
		atomic_fetch_sub(&s->owned_events, 1);
		atomic_fetch_add(&s->giveups, 1);
		log_msg(LOG_WARN, NULL,
			"shards: a journal write of event %u was refused by its epoch: "
			"another node owns it; no longer served here", event_id);
	}
}

json_t *shards_json(struct shards *s)
{
	json_t *events = json_object(), *out;

	pthread_mutex_lock(&s->lock);
	for (uint32_t k = 0; s->on && k < TKT_MAX_EVENTS; k++) {
		const struct shard_owner *o = &s->owners[k];
		char id[16];

		if (!o->node[0] || !catalog_find(&s->app->catalog, k))
			continue;
		snprintf(id, sizeof(id), "%u", k);
		json_object_set_new(events, id,
				    json_pack("{s:s, s:s, s:s, s:I}", "node", o->node, "udp",
					      o->udp, "http", o->http, "epoch",
					      (json_int_t)o->epoch));
	}
	out = json_pack("{s:i, s:s?, s:o, s:o}", "partitions", (int)s->partitions, "node",
			s->on ? s->node : NULL, "nodes",
			s->nodes_json ? json_deep_copy(s->nodes_json) : json_object(),
			"events", events);
	pthread_mutex_unlock(&s->lock);
	return out;
}

int shards_render_metrics(struct shards *s, char **buf, size_t *len, size_t *cap)
{
	uint32_t owned = shards_owned_events(s);

	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_shard_owned_events Events this node serves (every event "
		"on a single node).\n"
		"# TYPE ticketd_shard_owned_events gauge\n"
		"ticketd_shard_owned_events %u\n"
		"# HELP ticketd_shard_rebalances_total Rebalance callbacks of the "
		"ticketd-shards group (assign, revoke, lost).\n"
		"# TYPE ticketd_shard_rebalances_total counter\n"
		"ticketd_shard_rebalances_total %llu\n"
		"# HELP ticketd_shard_fenced_total Journal writes refused because another "
		"node took the event (its epoch moved on).\n"
		"# TYPE ticketd_shard_fenced_total counter\n"
		"ticketd_shard_fenced_total %llu\n"
		"# HELP ticketd_shard_rebuild_seconds Time the last takeover of an event "
		"took (fence, rebuild, publish).\n"
		"# TYPE ticketd_shard_rebuild_seconds gauge\n"
		"ticketd_shard_rebuild_seconds %.6f\n",
		owned, (unsigned long long)atomic_load(&s->rebalances),
		(unsigned long long)atomic_load(&s->fenced),
		(double)atomic_load(&s->rebuild_us_last) / 1e6);
}

int shards_order_event(struct shards *s, const char *order_id, uint32_t *event_id)
{
	struct order o;
	MYSQL *c;
	int rc;

	if (!s->on || !order_id || strlen(order_id) > ORDER_ID_LEN)
		return -ENOENT;
	c = db_get_timed(&s->app->db, s->app->cfg.db_wait_ms);
	if (!c)
		return -EBUSY;
	rc = order_store_get(c, order_id, false, &o);
	db_put(&s->app->db, c);
	if (rc)
		return rc < 0 ? rc : -ENOENT;
	*event_id = o.event_id;
	return 0;
}

bool shards_serves(struct shards *s, uint32_t event_id)
{
	return !s->on || edge_event_owned(s->app->edge, event_id) == (int)TKT_OWNED_YES ||
	       edge_event_owned(s->app->edge, event_id) == (int)TKT_OWNED_REBUILD;
}

bool shards_counts(struct shards *s, uint32_t event_id, uint32_t *available, uint32_t *held,
		   uint32_t *sold)
{
	int idx;
	bool known = false;

	if (!s->on || !atomic_load(&s->ready) || shards_serves(s, event_id))
		return false;
	idx = index_of(s, event_id);
	if (idx < 0)
		return false;
	pthread_mutex_lock(&s->lock);
	if (s->counts[idx].known) {
		*available = s->counts[idx].available;
		*held = s->counts[idx].held;
		*sold = s->counts[idx].sold;
		known = true;
	}
	pthread_mutex_unlock(&s->lock);
	return known;
}

uint32_t shards_owned_events(struct shards *s)
{
	uint32_t n = 0;

	if (s->on)
		return atomic_load(&s->owned_events);
	for (uint32_t id = 0; id < TKT_MAX_EVENTS; id++)
		n += catalog_find(&s->app->catalog, id) != NULL;
	return n;
}
