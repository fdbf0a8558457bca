/* The outbox relay thread (see outbox_relay.h for its guarantees).
 *
 * One loop iteration: check the producer (recreate it after a fatal error),
 * serve delivery reports, mark the delivered rows sent, then, when allowed,
 * read the next unsent rows and produce them; housekeeping (backlog gauge,
 * pruning) runs on its own timers. Between iterations the thread sleeps on
 * r->w until a kick, a librdkafka queue event, a timer or stop.
 *
 * Reading happens when one is due (read_at: a new-row signal plus
 * wake_delay_ms, a kick, a chase step, the idle poll, a full batch, the end
 * of a failure) and is allowed only when: this relay holds the leader lock, every
 * delivered row is already marked (n_acked == 0), no failure is being
 * drained or backed off, and fewer than max_in_flight messages await their
 * reports. When nothing is in flight the cursor resets, so the next read
 * starts at the oldest unsent row. */
#include "userspace/ticketd/messaging/outbox_relay.h"

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
#include "userspace/ticketd/config.h"
#include "userspace/ticketd/messaging/outbox.h"

/* Re-reads after a read found fewer rows than were signalled (ms after the
 * previous read): the signalling transactions are still committing. The
 * longer steps cover a commit slowed by a busy disk (88 ms in all); a
 * commit later still is found by a post-commit kick or the idle poll. */
static const int chase_steps_ms[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
#define N_CHASE_STEPS (int)(sizeof(chase_steps_ms) / sizeof(chase_steps_ms[0]))

/* Ids marked per UPDATE statement; a shorter list is padded by repeating its
 * last id, so one prepared text serves every size. */
#define MARK_CHUNK 64

/* Upper bounds of the publish-delay histogram, in seconds. */
static const double delay_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
				      0.05,  0.1,    0.25,  0.5,  1,
				      2.5,   5,      10,    30,   60};
#define N_DELAY_BOUNDS (sizeof(delay_bounds) / sizeof(delay_bounds[0]))
_Static_assert(N_DELAY_BOUNDS == OUTBOX_RELAY_DELAY_BUCKETS,
	       "delay_bounds and struct outbox_relay disagree");

enum relay_stmt {
	ST_LEADER, ST_READ, ST_MARK, ST_BACKLOG, ST_PRUNE, ST_PRUNE_INBOX, ST_N
};

static const char *const stmt_what[ST_N] = {"leader lock", "read", "mark sent",
					    "backlog", "prune", "prune inbox"};

static const char *const stmt_sql[ST_N] = {
	[ST_LEADER] = "SELECT GET_LOCK(?, 0)",
	[ST_READ] = "SELECT id, topic, msg_key, payload,"
		    " TIMESTAMPDIFF(MICROSECOND, created_at, UTC_TIMESTAMP(6)),"
		    " traceparent"
		    " FROM outbox WHERE sent_at IS NULL AND id > ?"
		    /* Held: a row of the same key is parked (order per key). */
		    " AND NOT EXISTS (SELECT 1 FROM outbox_parked p"
		    "  WHERE p.topic = outbox.topic AND p.msg_key = outbox.msg_key)"
		    " ORDER BY id LIMIT ?",
	[ST_MARK] = NULL, /* relay_state.mark_sql */
	[ST_BACKLOG] = "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND,"
		       " MIN(created_at), UTC_TIMESTAMP(6)), 0),"
		       " (SELECT COUNT(*) FROM outbox_parked)"
		       " FROM outbox WHERE sent_at IS NULL",
	[ST_PRUNE] = "DELETE FROM outbox WHERE sent_at IS NOT NULL"
		     " AND sent_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND"
		     " ORDER BY sent_at LIMIT ?",
	[ST_PRUNE_INBOX] = "DELETE FROM inbox"
			   " WHERE processed_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND"
			   " ORDER BY processed_at LIMIT ?",
};

/* One produced message awaiting its delivery report (librdkafka's per
 * message opaque); freed by the report, which librdkafka always delivers,
 * also for purged messages. */
struct in_flight_msg {
	uint64_t id;
	int64_t created_us; /* row's insert time on the monotonic clock */
	struct trace_span *span; /* #15: outbox.send, ended by the report */
};

/* Everything the relay thread owns (r->priv). */
struct relay_state {
	struct db_pool pool; /* one connection of our own */
	MYSQL *conn;         /* NULL until connected */
	unsigned long lock_session; /* session holding the leader lock, 0: none */

	rd_kafka_t *rk;
	rd_kafka_queue_t *mainq;

	uint64_t cursor;   /* highest id produced since the last reset */
	int64_t in_flight; /* produced, no report yet */
	int64_t ahead_since_ms; /* when the cursor last left 0 */
	uint64_t *acked;   /* delivered, not yet marked; max_in_flight slots */
	size_t n_acked;
	bool failed;       /* a delivery failed: drain, back off, rescan */
	/* Poisoned rows. A permanent delivery error may name a whole batch,
	 * so the smallest such id becomes the suspect and rows are then sent
	 * one at a time (isolating) until one fails alone, which is parked,
	 * or the suspect is delivered. A permanent error of the produce call
	 * itself names its row alone. */
	uint64_t suspect_id;  /* 0: none */
	bool isolating;       /* the one message in flight is a probe */
	uint64_t poison_id;   /* to park once nothing is in flight, 0: none */
	char poison_err[128];
	bool cycle_error;  /* any failure in this iteration */

	/* When to read (see the file comment). */
	int64_t read_at;       /* next read due (monotonic ms), 0: none */
	int64_t next_idle_ms;  /* safety-net read */
	int64_t last_read_ms;
	uint64_t signals_seen; /* r->signals at the last look */
	uint64_t credited;     /* signals matched by rows read, <= signals_seen */
	int chase_step;        /* next chase_steps_ms index */
	bool missing_behind;   /* the chase gave up while ahead of the oldest
				* unsent row: re-read once the cursor resets */

	int backoff_ms; /* current step, 0 after a clean iteration */
	int64_t backoff_until_ms;
	int64_t next_backlog_ms, next_prune_ms;

	/* Row buffers, grown to the longest value seen. */
	char *buf[3];
	unsigned long cap[3];

	/* Prepared statements of the current session (st_session), prepared
	 * on first use and dropped after an error or a reconnect. */
	MYSQL_STMT *st[ST_N];
	unsigned long st_session;
	char mark_sql[128 + MARK_CHUNK * 2];
	bool db_down_logged, kafka_failed_logged, leader_known;
	bool conn_lost; /* s->conn died: replace it (db_ensure) */
};

/* Starts or lengthens the backoff: doubles from backoff_initial_ms up to
 * backoff_max_ms; reading waits until it ends. */
static void back_off(struct outbox_relay *r, struct relay_state *s)
{
	s->cycle_error = true;
	if (s->backoff_ms == 0)
		s->backoff_ms = r->opts.backoff_initial_ms;
	else if (s->backoff_ms < r->opts.backoff_max_ms)
		s->backoff_ms *= 2;
	if (s->backoff_ms > r->opts.backoff_max_ms)
		s->backoff_ms = r->opts.backoff_max_ms;
	s->backoff_until_ms = tkt_mono_ms() + s->backoff_ms;
}

static void db_failed(struct outbox_relay *r, struct relay_state *s,
		      const char *what, const char *why)
{
	atomic_fetch_add(&r->db_errors, 1);
	if (!s->db_down_logged)
		log_json(LOG_WARN, NULL, "outbox relay: database operation failed",
			 json_pack("{s:s, s:s}", "op", what, "error", why));
	s->db_down_logged = true;
	back_off(r, s);
}

/* Makes a read due at `at` (or earlier, when one is already due sooner). */
static void schedule_read(struct relay_state *s, int64_t at)
{
	if (!s->read_at || at < s->read_at)
		s->read_at = at;
}

/* ---- librdkafka callbacks -------------------------------------------- */

/* Called by librdkafka (internal thread, its queue lock held) when an event
 * lands on the empty main queue: wake the relay thread to serve it. */
static void queue_event(rd_kafka_t *rk, void *opaque)
{
	struct outbox_relay *r = opaque;

	(void)rk;
	worker_kick(&r->w);
}

static void observe_delay(struct outbox_relay *r, int64_t us)
{
	double sec = (double)(us < 0 ? 0 : us) / 1e6;

	for (size_t i = 0; i < N_DELAY_BOUNDS; i++)
		if (sec <= delay_bounds[i]) {
			atomic_fetch_add(&r->delay_buckets[i], 1);
			break;
		}
	atomic_fetch_add(&r->delay_count, 1);
	atomic_fetch_add(&r->delay_sum_us, (uint64_t)(us < 0 ? 0 : us));
}

/* librdkafka's error events (from rd_kafka_poll, relay thread). Transient
 * ones (broker down, ...) only delay deliveries; fatal ones are handled by
 * relay_step. */
static void kafka_error(rd_kafka_t *rk, int err, const char *reason,
			void *opaque)
{
	(void)opaque;
	tkt_kafka_log_error(rk, err, reason);
}

/* Errors after which sending the same message again cannot succeed: the
 * broker or the client refuses the message itself (size, format) or its
 * destination does not exist. Everything else (brokers down, leader
 * changes, timeouts) is retried. */
static bool permanent_error(rd_kafka_resp_err_t err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
	case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
	case RD_KAFKA_RESP_ERR_INVALID_RECORD:
	case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
	case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
	case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
	case RD_KAFKA_RESP_ERR__INVALID_ARG:
		return true;
	default:
		return false;
	}
}

/* Delivery report, called from rd_kafka_poll/flush on the relay thread. A
 * success queues the id for marking; a failure stops reading until the
 * in-flight messages are reported, then the relay backs off and re-reads
 * from the oldest unsent row. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
			void *opaque)
{
	struct outbox_relay *r = opaque;
	struct relay_state *s = r->priv;
	struct in_flight_msg *f = m->_private;

	(void)rk;
	s->in_flight--;
	atomic_store(&r->in_flight, s->in_flight);
	if (!f)
		return;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* n_acked + in_flight never exceeds max_in_flight (reading
		 * waits for marking), so there is always a slot. */
		if (s->n_acked < (size_t)r->opts.max_in_flight)
			s->acked[s->n_acked++] = f->id;
		/* A probe at or past the suspect went through alone (other
		 * partitions' successes say nothing about the suspect). */
		if (s->isolating && s->suspect_id && f->id >= s->suspect_id)
			s->suspect_id = 0;
		s->isolating = false;
		observe_delay(r, (int64_t)(tkt_mono_ns() / 1000) - f->created_us);
	} else {
		atomic_fetch_add(&r->delivery_failures, 1);
		if (permanent_error(m->err)) {
			if (s->isolating && s->in_flight == 0 && !s->poison_id) {
				s->poison_id = f->id; /* failed alone */
				snprintf(s->poison_err, sizeof(s->poison_err), "%s",
					 rd_kafka_err2str(m->err));
			} else if (!s->suspect_id || f->id < s->suspect_id) {
				s->suspect_id = f->id;
			}
		}
		s->isolating = false;
		if (!s->failed && m->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
		    m->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
			log_json(LOG_WARN, NULL,
				 "outbox relay: delivery failed; backing off",
				 json_pack("{s:I, s:s, s:s}", "outboxId",
					   (json_int_t)f->id, "topic",
					   rd_kafka_topic_name(m->rkt), "error",
					   rd_kafka_err2str(m->err)));
		if (!s->failed)
			back_off(r, s);
		s->failed = true;
	}
	if (m->err) /* #15 tracing */
		trace_span_error(f->span, rd_kafka_err2str(m->err));
	trace_span_end(f->span);
	free(f);
}

/* ---- producer ---------------------------------------------------------- */

/* Creates the idempotent producer and routes its main-queue events to
 * queue_event. Returns 0 or -EINVAL/-ENOMEM with the reason in err. */
static int producer_create(struct outbox_relay *r, struct relay_state *s,
			   char *err, size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char num[4][24];
	int rc = 0;

	if (!conf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(num[0], sizeof(num[0]), "%d", r->opts.linger_ms);
	snprintf(num[1], sizeof(num[1]), "%d",
		 r->opts.max_in_flight > 100000 ? r->opts.max_in_flight : 100000);
	snprintf(num[2], sizeof(num[2]), "%d", r->opts.backoff_max_ms);
	snprintf(num[3], sizeof(num[3]), "%d", r->opts.batch_bytes);
	/* message.timeout.ms=0 (never): a message that timed out in the queue
	 * lets later messages of its partition through (librdkafka skips it
	 * with an epoch bump), which would reorder a key once the relay
	 * re-sends it. Without a timeout, a message fails only for a permanent
	 * reason or a fatal error, and Kafka being down just delays it. */
	if ((rc = tkt_kafka_conf_set(conf, "bootstrap.servers", r->bootstrap, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "client.id", r->client_id, err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "enable.idempotence", "true", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "acks", "all", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "linger.ms", num[0], err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "batch.size", num[3], err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "compression.codec", r->compression, err,
				     errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "message.timeout.ms", "0", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "queue.buffering.max.messages", num[1], err,
			   errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "reconnect.backoff.ms", "100", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "reconnect.backoff.max.ms", num[2], err,
			   errlen)) ||
	    /* The Java client's partitioner: a key lands on the same partition
	     * whichever client produced it. */
	    (rc = tkt_kafka_conf_set(conf, "partitioner", "murmur2_random", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "socket.nagle.disable", "true", err, errlen)) ||
	    (rc = tkt_kafka_conf_set(conf, "log.connection.close", "false", err, errlen))) {
		rd_kafka_conf_destroy(conf);
		return rc;
	}
	rd_kafka_conf_set_opaque(conf, r);
	rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
	rd_kafka_conf_set_log_cb(conf, tkt_kafka_log);
	rd_kafka_conf_set_error_cb(conf, kafka_error);
	s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	if (!s->rk) {
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	s->mainq = rd_kafka_queue_get_main(s->rk);
	rd_kafka_queue_cb_event_enable(s->mainq, queue_event, r);
	return 0;
}

/* Waits up to grace_ms for outstanding reports (they are served into
 * s->acked), purges the rest (their reports say so and mark nothing), and
 * destroys the producer. Afterwards nothing is in flight. */
static void producer_destroy(struct outbox_relay *r, struct relay_state *s,
			     int grace_ms)
{
	if (!s->rk)
		return;
	if (grace_ms > 0)
		rd_kafka_flush(s->rk, grace_ms);
	rd_kafka_purge(s->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
	/* Purged messages get their (failed) reports through the queue;
	 * serve them so every in_flight_msg is freed. */
	rd_kafka_flush(s->rk, 1000);
	rd_kafka_poll(s->rk, 0);
	rd_kafka_queue_cb_event_enable(s->mainq, NULL, NULL);
	rd_kafka_queue_destroy(s->mainq);
	rd_kafka_destroy(s->rk);
	s->rk = NULL;
	s->mainq = NULL;
	s->in_flight = 0;
	atomic_store(&r->in_flight, 0);
}

/* ---- database ------------------------------------------------------------ */

/* Opens the relay's own connection with the shared pool's settings. */
static int db_ensure(struct outbox_relay *r, struct relay_state *s)
{
	struct config cfg;
	char err[256];

	if (s->conn)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.db_host, sizeof(cfg.db_host), "%s", r->shared_db->host);
	snprintf(cfg.db_user, sizeof(cfg.db_user), "%s", r->shared_db->user);
	snprintf(cfg.db_password, sizeof(cfg.db_password), "%s",
		 r->shared_db->password);
	snprintf(cfg.db_name, sizeof(cfg.db_name), "%s", r->shared_db->name);
	cfg.db_port = (int)r->shared_db->port;
	cfg.db_pool = 1;
	if (db_pool_open(&s->pool, &cfg, 0, err, sizeof(err))) {
		db_failed(r, s, "connect", err);
		return -ECONNREFUSED;
	}
	s->conn = db_get_timed(&s->pool, 0); /* its only connection, free */
	if (!s->conn) {
		db_pool_close(&s->pool);
		db_failed(r, s, "connect", "no connection");
		return -ECONNREFUSED;
	}
	return 0;
}

static void stmts_close(struct relay_state *s)
{
	for (int i = 0; i < ST_N; i++)
		if (s->st[i]) {
			mysql_stmt_close(s->st[i]);
			s->st[i] = NULL;
		}
}

static void db_release(struct relay_state *s)
{
	if (!s->conn)
		return;
	stmts_close(s);
	db_put(&s->pool, s->conn);
	db_pool_close(&s->pool);
	s->conn = NULL;
	s->lock_session = 0;
	s->conn_lost = false;
}

/* After an error: a dead connection (the connector never reconnects by
 * itself) is dropped, so the next iteration's db_ensure opens a new one;
 * the leader lock went with the old session and is taken again. */
static void note_lost(struct relay_state *s, unsigned mysql_err)
{
	if (db_conn_lost(mysql_err))
		s->conn_lost = true;
}

/* Executes statement `which` with params (may be NULL), preparing it first
 * when this session has not yet. Returns the statement (owned by the cache;
 * the caller frees its result), or NULL after recording the error and
 * dropping the statement. */
static MYSQL_STMT *stmt_exec(struct outbox_relay *r, struct relay_state *s,
			     enum relay_stmt which, MYSQL_BIND *params)
{
	const char *sql = which == ST_MARK ? s->mark_sql : stmt_sql[which];
	unsigned long session = mysql_thread_id(s->conn);
	MYSQL_STMT *st;

	/* On a new connection the old session's statements are gone. */
	if (session != s->st_session) {
		stmts_close(s);
		s->st_session = session;
	}
	st = s->st[which];
	if (!st) {
		my_bool update_max = 1;

		st = mysql_stmt_init(s->conn);
		if (!st) {
			db_failed(r, s, stmt_what[which], "out of memory");
			return NULL;
		}
		/* Result buffers are sized from each column's longest value. */
		if (which == ST_READ)
			mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH,
					    &update_max);
		if (mysql_stmt_prepare(st, sql, strlen(sql))) {
			note_lost(s, mysql_stmt_errno(st));
			db_failed(r, s, stmt_what[which], mysql_stmt_error(st));
			mysql_stmt_close(st);
			return NULL;
		}
		s->st[which] = st;
	}
	if ((params && mysql_stmt_bind_param(st, params)) ||
	    mysql_stmt_execute(st)) {
		note_lost(s, mysql_stmt_errno(st));
		db_failed(r, s, stmt_what[which], mysql_stmt_error(st));
		mysql_stmt_close(st);
		s->st[which] = NULL;
		return NULL;
	}
	if (s->db_down_logged)
		log_msg(LOG_INFO, NULL, "outbox relay: database reachable again");
	s->db_down_logged = false;
	return st;
}

/* Records a failure on a statement that executed and drops it. */
static void stmt_failed(struct outbox_relay *r, struct relay_state *s,
			enum relay_stmt which)
{
	note_lost(s, mysql_stmt_errno(s->st[which]));
	db_failed(r, s, stmt_what[which], mysql_stmt_error(s->st[which]));
	mysql_stmt_close(s->st[which]);
	s->st[which] = NULL;
}

/* True while this relay holds the leader lock. The lock belongs to a
 * MariaDB session; after a reconnect (note_lost), a changed session
 * id means the lock went with the old session and must be taken again. */
static bool leader_check(struct outbox_relay *r, struct relay_state *s)
{
	MYSQL_BIND p = {0}, res = {0};
	unsigned long name_len;
	int64_t got = 0;
	my_bool is_null = 0;
	MYSQL_STMT *st;
	bool was = atomic_load(&r->leader);

	if (s->lock_session && s->lock_session == mysql_thread_id(s->conn))
		return true;
	s->lock_session = 0;
	db_bind_str(&p, r->lock_name, &name_len);
	st = stmt_exec(r, s, ST_LEADER, &p);
	if (!st) {
		/* Unknown while the database is unreachable: not leading. */
		atomic_store(&r->leader, false);
		return false;
	}
	db_bind_i64(&res, &got);
	res.is_null = &is_null;
	if (mysql_stmt_bind_result(st, &res) || mysql_stmt_fetch(st)) {
		stmt_failed(r, s, ST_LEADER);
		atomic_store(&r->leader, false);
		return false;
	}
	mysql_stmt_free_result(st);
	if (!is_null && got == 1)
		s->lock_session = mysql_thread_id(s->conn);
	atomic_store(&r->leader, s->lock_session != 0);
	if (was != (s->lock_session != 0) || !s->leader_known)
		log_msg(LOG_INFO, NULL, "outbox relay: %s (lock %s)",
			s->lock_session ? "active" : "standing by, another relay holds the lock",
			r->lock_name);
	s->leader_known = true;
	return s->lock_session != 0;
}

/* Marks every acknowledged id sent, MARK_CHUNK ids per statement. On an
 * error the ids not yet marked stay queued for the next attempt. */
static int mark_sent(struct outbox_relay *r, struct relay_state *s)
{
	uint64_t ids[MARK_CHUNK], max_id = atomic_load(&r->last_sent_id);
	MYSQL_BIND p[MARK_CHUNK];
	size_t done = 0;

	while (done < s->n_acked) {
		size_t n = s->n_acked - done;
		MYSQL_STMT *st;

		if (n > MARK_CHUNK)
			n = MARK_CHUNK;
		memset(p, 0, sizeof(p));
		for (size_t i = 0; i < MARK_CHUNK; i++) {
			ids[i] = s->acked[done + (i < n ? i : n - 1)];
			db_bind_u64(&p[i], &ids[i]);
			if (ids[i] > max_id)
				max_id = ids[i];
		}
		st = stmt_exec(r, s, ST_MARK, p);
		if (!st)
			break;
		done += n;
		atomic_fetch_add(&r->rows_sent, n);
		atomic_store(&r->last_sent_id, max_id);
		if (!s->failed)
			s->backoff_ms = 0; /* deliveries succeed again */
	}
	memmove(s->acked, s->acked + done, (s->n_acked - done) * sizeof(*s->acked));
	s->n_acked -= done;
	return s->n_acked ? -EIO : 0;
}

/* Makes b a string result buffer of at least need bytes plus a NUL. */
static int bind_text(MYSQL_BIND *b, char **buf, unsigned long *cap,
		     unsigned long need, unsigned long *len)
{
	if (need + 1 > *cap) {
		char *nb = realloc(*buf, need + 1);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = need + 1;
	}
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = *buf;
	b->buffer_length = *cap;
	b->length = len;
	return 0;
}

/* #15 tracing: an outbox.send span per message whose row carries a
 * trace context (rows without one start no trace), ended by its delivery
 * report. Its context goes into tp, the message's traceparent header:
 * with tracing off, the row's own context is passed on unchanged. */
static struct trace_span *relay_span_begin(const char *row_tp, const char *topic,
					   uint64_t id, char tp[TRACEPARENT_LEN + 1])
{
	struct traceparent parent, ctx;
	struct trace_span *span = NULL;

	tp[0] = '\0';
	if (!row_tp || traceparent_parse(row_tp, &parent))
		return NULL;
	span = trace_span_begin("outbox.send", TRACE_PRODUCER, &parent);
	trace_span_attr(span, "messaging.system", "kafka");
	trace_span_attr(span, "messaging.destination.name", topic);
	trace_span_attr_int(span, "outbox.id", (int64_t)id);
	if (span)
		trace_span_context(span, &ctx);
	else
		ctx = parent;
	traceparent_format(&ctx, tp);
	return span;
}

/* Hands one row to the producer. Returns 0, 1 when the local queue is full
 * (try again after reports), or -1 after a produce failure (counted and
 * logged; reading stops and the relay backs off). */
static int produce_row(struct outbox_relay *r, struct relay_state *s,
		       uint64_t id, const char *topic, const char *key,
		       unsigned long key_len, const char *payload,
		       unsigned long payload_len, int64_t created_us,
		       const char *row_tp)
{
	struct in_flight_msg *f = malloc(sizeof(*f));
	char idbuf[24], tp[TRACEPARENT_LEN + 1];
	rd_kafka_headers_t *hdrs;
	rd_kafka_resp_err_t err;

	if (!f)
		return 1;
	f->id = id;
	f->created_us = created_us;
	snprintf(idbuf, sizeof(idbuf), "%" PRIu64, id);
	f->span = relay_span_begin(row_tp, topic, id, tp); /* #15 tracing */
	hdrs = rd_kafka_headers_new(2);
	rd_kafka_header_add(hdrs, OUTBOX_ID_HEADER, -1, idbuf, -1);
	if (tp[0])
		rd_kafka_header_add(hdrs, "traceparent", -1, tp, -1);
	err = rd_kafka_producev(
		s->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, key_len),
		RD_KAFKA_V_VALUE((void *)payload, payload_len),
		RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(f), RD_KAFKA_V_END);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		s->in_flight++;
		atomic_store(&r->in_flight, s->in_flight);
		return 0;
	}
	rd_kafka_headers_destroy(hdrs); /* kept by librdkafka only on success */
	trace_span_end(f->span); /* #15: not produced (the row is read again) */
	free(f);
	if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		return 1;
	atomic_fetch_add(&r->delivery_failures, 1);
	if (permanent_error(err) && !s->poison_id) {
		/* The client refused this message itself: nothing after it
		 * was produced, so it is parked once the earlier ones are
		 * reported. */
		s->poison_id = id;
		snprintf(s->poison_err, sizeof(s->poison_err), "%s",
			 rd_kafka_err2str(err));
	}
	log_json(LOG_WARN, NULL, "outbox relay: produce failed; backing off",
		 json_pack("{s:I, s:s, s:s}", "outboxId", (json_int_t)id, "topic",
			   topic, "error", rd_kafka_err2str(err)));
	s->failed = true;
	back_off(r, s);
	return -1;
}

/* Reads up to limit unsent rows after the cursor, in id order, and produces
 * them. Returns how many were produced, or -1 on a database error. */
static int read_and_produce(struct outbox_relay *r, struct relay_state *s,
			    int limit)
{
	MYSQL_BIND p[2], res[6];
	char tp[TRACEPARENT_LEN + 1]; /* #15 tracing: the row's traceparent */
	unsigned long tp_len = 0;
	my_bool tp_null = 1;
	MYSQL_RES *meta;
	MYSQL_FIELD *fields;
	unsigned long len[3];
	uint64_t cursor = s->cursor, id = 0;
	int64_t lim = limit, age_us = 0, read_us;
	MYSQL_STMT *st;
	int produced = 0, rc;

	memset(p, 0, sizeof(p));
	db_bind_u64(&p[0], &cursor);
	db_bind_i64(&p[1], &lim);
	st = stmt_exec(r, s, ST_READ, p);
	if (!st)
		return -1;
	if (mysql_stmt_store_result(st) || !(meta = mysql_stmt_result_metadata(st))) {
		stmt_failed(r, s, ST_READ);
		return -1;
	}
	read_us = (int64_t)(tkt_mono_ns() / 1000);
	fields = mysql_fetch_fields(meta);
	memset(res, 0, sizeof(res));
	db_bind_u64(&res[0], &id);
	db_bind_i64(&res[4], &age_us);
	res[5].buffer_type = MYSQL_TYPE_STRING; /* #15 tracing */
	res[5].buffer = tp;
	res[5].buffer_length = sizeof(tp);
	res[5].length = &tp_len;
	res[5].is_null = &tp_null;
	for (int i = 0; i < 3; i++)
		if (bind_text(&res[1 + i], &s->buf[i], &s->cap[i],
			      fields[1 + i].max_length, &len[i])) {
			mysql_free_result(meta);
			mysql_stmt_free_result(st);
			db_failed(r, s, "read", "out of memory");
			return -1;
		}
	mysql_free_result(meta);
	if (mysql_stmt_bind_result(st, res)) {
		stmt_failed(r, s, ST_READ);
		return -1;
	}
	/* The rows were read on the leader's session: if the connector
	 * connection was replaced meanwhile, the lock is gone and so is the right to
	 * publish them. */
	if (s->lock_session != mysql_thread_id(s->conn)) {
		mysql_stmt_free_result(st);
		return 0;
	}
	while ((rc = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
		if (rc != 0) { /* 1: error; truncation cannot happen */
			stmt_failed(r, s, ST_READ);
			return produced ? produced : -1;
		}
		s->buf[0][len[0]] = '\0'; /* topic: librdkafka wants a C string */
		if (!tp_null && tp_len < sizeof(tp))
			tp[tp_len] = '\0'; /* #15 tracing */
		if (produce_row(r, s, id, s->buf[0], s->buf[1], len[1], s->buf[2],
				len[2], read_us - age_us,
				tp_null || tp_len >= sizeof(tp) ? NULL : tp))
			break;
		if (s->cursor == 0)
			s->ahead_since_ms = tkt_mono_ms();
		s->cursor = id;
		produced++;
	}
	mysql_stmt_free_result(st);
	return produced;
}

/* Refreshes the backlog and lag gauges. */
static void refresh_backlog(struct outbox_relay *r, struct relay_state *s)
{
	MYSQL_BIND res[3];
	int64_t count = 0, lag = 0, parked = 0;
	MYSQL_STMT *st = stmt_exec(r, s, ST_BACKLOG, NULL);

	if (!st)
		return;
	memset(res, 0, sizeof(res));
	db_bind_i64(&res[0], &count);
	db_bind_i64(&res[1], &lag);
	db_bind_i64(&res[2], &parked);
	if (mysql_stmt_bind_result(st, res) || mysql_stmt_fetch(st)) {
		stmt_failed(r, s, ST_BACKLOG);
		return;
	}
	mysql_stmt_free_result(st);
	atomic_store(&r->backlog, count);
	atomic_store(&r->lag_us, lag < 0 ? 0 : lag);
	atomic_store(&r->parked, parked);
}

/* Deletes one batch of rows sent more than prune_after_s ago. Returns true
 * when the batch was full (more may be waiting). */
static bool prune_sent(struct outbox_relay *r, struct relay_state *s)
{
	MYSQL_BIND p[2];
	int64_t age = r->opts.prune_after_s, lim = r->opts.prune_batch;
	MYSQL_STMT *st;
	my_ulonglong n;

	memset(p, 0, sizeof(p));
	db_bind_i64(&p[0], &age);
	db_bind_i64(&p[1], &lim);
	st = stmt_exec(r, s, ST_PRUNE, p);
	if (!st)
		return false;
	n = mysql_stmt_affected_rows(st);
	if (n == (my_ulonglong)-1)
		return false;
	atomic_fetch_add(&r->rows_pruned, (uint64_t)n);
	return n == (my_ulonglong)lim;
}

/* Deletes one batch of inbox claims older than inbox_keep_s (a message
 * that old is past the topics' retention: it cannot be delivered again).
 * Returns true when the batch was full. */
static bool prune_inbox(struct outbox_relay *r, struct relay_state *s)
{
	MYSQL_BIND p[2];
	int64_t age = r->opts.inbox_keep_s, lim = r->opts.prune_batch;
	MYSQL_STMT *st;
	my_ulonglong n;

	if (age <= 0)
		return false; /* kept for ever */
	memset(p, 0, sizeof(p));
	db_bind_i64(&p[0], &age);
	db_bind_i64(&p[1], &lim);
	st = stmt_exec(r, s, ST_PRUNE_INBOX, p);
	if (!st)
		return false;
	n = mysql_stmt_affected_rows(st);
	if (n == (my_ulonglong)-1)
		return false;
	atomic_fetch_add(&r->inbox_pruned, (uint64_t)n);
	return n == (my_ulonglong)lim;
}

struct parked_row {
	char topic[DB_CELL_MAX], key[DB_CELL_MAX];
	bool found;
};

static int parked_row_fn(void *ctx, int n, char **v)
{
	struct parked_row *p = ctx;

	(void)n;
	snprintf(p->topic, sizeof(p->topic), "%s", v[0] ? v[0] : "");
	snprintf(p->key, sizeof(p->key), "%s", v[1] ? v[1] : "");
	p->found = true;
	return 0;
}

/* Moves the poisoned row s->poison_id to outbox_parked (one transaction)
 * and logs it; the later rows of its key are held by ST_READ from then on.
 * Called with nothing in flight. Returns 0, or -1 after a database error
 * (counted; the row is parked on a later iteration). */
static int park_poisoned(struct outbox_relay *r, struct relay_state *s)
{
	struct parked_row row = {.found = false};
	uint64_t id = s->poison_id;
	long long n = 0;

	if (s->lock_session != mysql_thread_id(s->conn)) {
		/* The lock went with an old session: the next leader finds
		 * the row by itself. */
		s->poison_id = 0;
		return 0;
	}
	if (mysql_query(s->conn, "START TRANSACTION")) {
		note_lost(s, mysql_errno(s->conn));
		db_failed(r, s, "park", mysql_error(s->conn));
		return -1;
	}
	n = db_select(s->conn,
		      "SELECT topic, msg_key FROM outbox"
		      " WHERE id = ? AND sent_at IS NULL FOR UPDATE",
		      parked_row_fn, &row, "u", id);
	if (n > 0)
		n = db_exec(s->conn,
			    "INSERT INTO outbox_parked (id, topic, msg_key, payload,"
			    " created_at, parked_at, error)"
			    " SELECT id, topic, msg_key, payload, created_at,"
			    " UTC_TIMESTAMP(3), ? FROM outbox WHERE id = ?",
			    "su", s->poison_err, id);
	if (n > 0)
		n = db_exec(s->conn, "DELETE FROM outbox WHERE id = ?", "u", id);
	if (n < 0 || mysql_commit(s->conn)) {
		note_lost(s, mysql_errno(s->conn));
		db_failed(r, s, "park", mysql_error(s->conn));
		mysql_rollback(s->conn);
		return -1;
	}
	if (row.found) {
		atomic_fetch_add(&r->rows_parked, 1);
		atomic_fetch_add(&r->parked, 1);
		log_json(LOG_ERROR, NULL,
			 "outbox relay: parked a row Kafka refuses for good; later "
			 "rows of its key are held until it is replayed or discarded",
			 json_pack("{s:I, s:s, s:s, s:s}", "outboxId", (json_int_t)id,
				   "topic", row.topic, "key", row.key, "error",
				   s->poison_err));
	}
	s->poison_id = 0;
	if (s->suspect_id && id >= s->suspect_id)
		s->suspect_id = 0;
	/* The refusal was the row's fault, not Kafka's: no backoff. */
	s->failed = false;
	s->backoff_ms = 0;
	s->backoff_until_ms = 0;
	schedule_read(s, tkt_mono_ms()); /* the other keys go on */
	return 0;
}

/* ---- the thread ------------------------------------------------------------ */

/* Turns signals and kicks that arrived since the last look into a due
 * read. A signal comes from inside the writer's transaction, so its read
 * waits wake_delay_ms; a kick comes after the commit, so it reads as soon
 * as the previous read is wake_delay_ms old (kicks under load coalesce). */
static void take_signals(struct outbox_relay *r, struct relay_state *s,
			 int64_t now)
{
	uint64_t sig = atomic_load(&r->signals);

	if (sig != s->signals_seen) {
		s->signals_seen = sig;
		s->chase_step = 0;
		schedule_read(s, now + r->opts.wake_delay_ms);
	}
	if (atomic_exchange(&r->read_now, false)) {
		int64_t at = s->last_read_ms + r->opts.wake_delay_ms;

		schedule_read(s, at > now ? at : now);
	}
	if (now >= s->next_idle_ms)
		schedule_read(s, now);
}

/* After a read that produced n of limit rows: a full batch reads on at
 * once; fewer rows than signals chase the missing ones in short steps,
 * then give up (they were rolled back, are held, or committed behind the
 * cursor: missing_behind re-reads from the oldest row once it resets). */
static void after_read(struct outbox_relay *r, struct relay_state *s, int n,
		       int limit, int64_t now)
{
	atomic_fetch_add(&r->reads, 1);
	if (n == 0)
		atomic_fetch_add(&r->empty_reads, 1);
	s->last_read_ms = now;
	s->next_idle_ms = now + r->opts.idle_poll_ms;
	if (n > 0)
		s->credited += (uint64_t)n;
	if (s->credited > s->signals_seen)
		s->credited = s->signals_seen; /* rows of others, re-reads */
	if (n == limit && !s->failed) {
		schedule_read(s, now);
	} else if (s->credited < s->signals_seen) {
		if (s->chase_step < N_CHASE_STEPS) {
			schedule_read(s, now + chase_steps_ms[s->chase_step++]);
		} else {
			s->credited = s->signals_seen;
			if (s->cursor)
				s->missing_behind = true;
		}
	}
}

/* Sleeps until deadline_ms (monotonic), a kick, a Kafka event or stop. */
static void relay_wait(struct outbox_relay *r, int64_t deadline_ms)
{
	worker_wait_until(&r->w, deadline_ms);
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* One iteration; returns true when it should run again without sleeping. */
static bool relay_step(struct outbox_relay *r, struct relay_state *s,
		       int64_t *deadline)
{
	char err[512];
	int64_t now;
	bool more = false;

	/* Before take_signals reads the count: a signal after this kicks
	 * again (outbox_relay_notify). */
	atomic_store(&r->signal_kicked, false);
	s->cycle_error = false;
	if (s->rk && rd_kafka_fatal_error(s->rk, err, sizeof(err))) {
		log_json(LOG_ERROR, NULL,
			 "outbox relay: fatal producer error; recreating the producer",
			 json_pack("{s:s}", "error", err));
		producer_destroy(r, s, 0);
		atomic_fetch_add(&r->producer_restarts, 1);
		s->failed = true;
		back_off(r, s);
	}
	now = tkt_mono_ms();
	if (!s->rk && now >= s->backoff_until_ms) {
		if (producer_create(r, s, err, sizeof(err))) {
			if (!s->kafka_failed_logged)
				log_json(LOG_ERROR, NULL,
					 "outbox relay: cannot create the producer",
					 json_pack("{s:s}", "error", err));
			s->kafka_failed_logged = true;
			back_off(r, s);
		} else {
			s->kafka_failed_logged = false;
		}
	}
	if (s->rk)
		rd_kafka_poll(s->rk, 0);
	if (s->conn_lost)
		db_release(s);
	if (db_ensure(r, s))
		goto wait;
	if (s->n_acked && mark_sent(r, s))
		goto wait;

	if (s->in_flight == 0 && s->poison_id && park_poisoned(r, s))
		goto wait;

	now = tkt_mono_ms();
	take_signals(r, s, now);
	if (s->in_flight == 0) {
		if (s->cursor && (s->missing_behind || s->suspect_id)) {
			/* Back to the oldest unsent row: a late commit behind
			 * the cursor, or the next probe of an isolation. */
			s->missing_behind = false;
			schedule_read(s, now);
		}
		s->cursor = 0;
		if (s->failed && now >= s->backoff_until_ms) {
			s->failed = false;
			schedule_read(s, now);
		}
	}
	/* While a suspect is being isolated, one row at a time. */
	if (s->read_at && now >= s->read_at && s->rk && !s->failed &&
	    now >= s->backoff_until_ms &&
	    s->in_flight < r->opts.max_in_flight &&
	    (!s->suspect_id || s->in_flight == 0) &&
	    (s->cursor == 0 || now - s->ahead_since_ms < r->opts.rescan_ms) &&
	    leader_check(r, s)) {
		int64_t room = r->opts.max_in_flight - s->in_flight;
		int limit = room < r->opts.batch_size ? (int)room : r->opts.batch_size;
		int n;

		if (s->suspect_id)
			limit = 1;
		s->read_at = 0;
		n = read_and_produce(r, s, limit);
		s->isolating = s->suspect_id && n == 1;
		if (n > 0)
			rd_kafka_poll(s->rk, 0);
		if (n >= 0)
			after_read(r, s, n, limit, tkt_mono_ms());
		/* A full batch: more rows may be waiting. */
		more = n == limit && !s->failed;
	}

	/* Housekeeping is skipped, not hurried, after an error: its timers
	 * always move into the future, so they never make the wait spin. */
	now = tkt_mono_ms();
	if (now >= s->next_backlog_ms) {
		if (!s->cycle_error)
			refresh_backlog(r, s);
		s->next_backlog_ms = now + r->opts.backlog_refresh_ms;
	}
	if (now >= s->next_prune_ms) {
		bool leading = !s->cycle_error && atomic_load(&r->leader);
		bool full = leading && prune_sent(r, s);

		full = (leading && prune_inbox(r, s)) || full;

		/* Not leading (yet: a predecessor's lock may still be held
		 * for a moment): try again soon, not a whole interval later. */
		s->next_prune_ms = now + (full ? 100
					   : leading ? r->opts.prune_interval_ms
						     : r->opts.backlog_refresh_ms);
	}
	/* Reports served by this iteration's polls are marked at once, not
	 * at the next wake (which may be the idle poll). */
	if (s->n_acked && !s->cycle_error)
		more = true;
	if (!s->cycle_error && !s->failed) {
		/* Healthy and idle: the next failure starts a fresh backoff. A
		 * failing row keeps messages in flight until it fails, so its
		 * backoff keeps doubling. */
		if (s->in_flight == 0)
			s->backoff_ms = 0;
	}
wait:
	now = tkt_mono_ms();
	*deadline = s->next_idle_ms > now ? s->next_idle_ms : now + r->opts.idle_poll_ms;
	/* A due read that is blocked (in flight, failure, standby) waits for
	 * the event that unblocks it, not for its own time. */
	if (s->read_at > now)
		*deadline = min64(*deadline, s->read_at);
	/* Delivery reports wake us through queue_event: librdkafka empties
	 * its queue under its lock when serving it, so an event arriving after
	 * the last rd_kafka_poll always finds it empty and signals. */
	if (s->backoff_until_ms > now)
		*deadline = min64(*deadline, s->backoff_until_ms);
	if (s->next_backlog_ms > now)
		*deadline = min64(*deadline, s->next_backlog_ms);
	if (s->next_prune_ms > now)
		*deadline = min64(*deadline, s->next_prune_ms);
	return more;
}

static void *relay_main(void *arg)
{
	struct outbox_relay *r = arg;
	struct relay_state *s = r->priv;
	int64_t deadline;

	while (!worker_stopping(&r->w))
		if (!relay_step(r, s, &deadline))
			relay_wait(r, deadline);

	/* Shutting down: give outstanding reports a moment, mark what they
	 * confirmed, and leave the rest unsent for the next relay. */
	producer_destroy(r, s, 2000);
	if (s->n_acked && s->conn)
		mark_sent(r, s);
	db_release(s);
	atomic_store(&r->leader, false);
	return NULL;
}

void outbox_relay_default_opts(struct outbox_relay_opts *o)
{
	*o = (struct outbox_relay_opts){
		.batch_size = 500,
		.max_in_flight = 10000,
		.linger_ms = 20,
		.batch_bytes = 1000000,
		.compression = "lz4",
		.idle_poll_ms = 1000,
		.wake_delay_ms = 2,
		.backoff_initial_ms = 100,
		.backoff_max_ms = 5000,
		.backlog_refresh_ms = 1000,
		.rescan_ms = 1000,
		.prune_interval_ms = 60000,
		.prune_after_s = 3600,
		.prune_batch = 1000,
		.inbox_keep_s = 7 * 24 * 3600,
		.lock_name = "ticketd.outbox_relay",
		.client_id = "ticketd-outbox",
	};
}

/* ---- public ------------------------------------------------------------- */

static bool opts_valid(const struct outbox_relay_opts *o)
{
	return o->batch_size > 0 && o->max_in_flight >= o->batch_size &&
	       o->linger_ms >= 0 && o->idle_poll_ms > 0 &&
	       o->batch_bytes > 0 && o->compression && *o->compression &&
	       strlen(o->compression) < 16 &&
	       o->wake_delay_ms >= 0 && o->wake_delay_ms <= 1000 &&
	       o->backoff_initial_ms > 0 &&
	       o->backoff_max_ms >= o->backoff_initial_ms &&
	       o->backlog_refresh_ms > 0 && o->rescan_ms > 0 &&
	       o->prune_interval_ms > 0 && o->prune_after_s >= 0 &&
	       o->prune_batch > 0 && o->inbox_keep_s >= 0 && o->lock_name && *o->lock_name &&
	       strlen(o->lock_name) < 64 && o->client_id && *o->client_id &&
	       strlen(o->client_id) < 64;
}

static void state_free(struct relay_state *s)
{
	for (int i = 0; i < 3; i++)
		free(s->buf[i]);
	free(s->acked);
	free(s);
}

/* See outbox_relay.h. The producer is created here, on the caller's
 * thread, so a configuration error is reported to the caller; the thread
 * takes it over. */
int outbox_relay_start(struct outbox_relay *r, struct db_pool *db,
		       const char *bootstrap,
		       const struct outbox_relay_opts *opts, char *err,
		       size_t errlen)
{
	struct relay_state *s;
	size_t off;
	int rc;

	memset(r, 0, sizeof(*r));
	if (opts)
		r->opts = *opts;
	else
		outbox_relay_default_opts(&r->opts);
	if (!db || !bootstrap || !*bootstrap ||
	    strlen(bootstrap) >= sizeof(r->bootstrap) || !opts_valid(&r->opts)) {
		snprintf(err, errlen, "outbox relay: invalid arguments");
		return -EINVAL;
	}
	snprintf(r->bootstrap, sizeof(r->bootstrap), "%s", bootstrap);
	snprintf(r->lock_name, sizeof(r->lock_name), "%s", r->opts.lock_name);
	snprintf(r->client_id, sizeof(r->client_id), "%s", r->opts.client_id);
	snprintf(r->compression, sizeof(r->compression), "%s", r->opts.compression);
	r->opts.lock_name = r->lock_name;
	r->opts.client_id = r->client_id;
	r->opts.compression = r->compression;
	r->shared_db = db;
	atomic_store(&r->backlog, -1);

	s = calloc(1, sizeof(*s));
	if (!s || !(s->acked = calloc((size_t)r->opts.max_in_flight,
				      sizeof(*s->acked)))) {
		free(s);
		snprintf(err, errlen, "outbox relay: out of memory");
		return -ENOMEM;
	}
	r->priv = s;
	off = (size_t)snprintf(s->mark_sql, sizeof(s->mark_sql),
			       "UPDATE outbox SET sent_at = UTC_TIMESTAMP(3)"
			       " WHERE sent_at IS NULL AND id IN (?");
	for (int i = 1; i < MARK_CHUNK; i++)
		off += (size_t)snprintf(s->mark_sql + off, sizeof(s->mark_sql) - off,
					",?");
	snprintf(s->mark_sql + off, sizeof(s->mark_sql) - off, ")");

	rc = producer_create(r, s, err, errlen);
	if (rc)
		goto fail;
	rc = worker_start(&r->w, relay_main, r);
	if (rc) {
		snprintf(err, errlen, "outbox relay: pthread_create: %s",
			 strerror(-rc));
		producer_destroy(r, s, 0);
		goto fail;
	}
	/* -EBUSY: another relay of this process is signalled; this one polls. */
	(void)outbox_wake_register(outbox_relay_notify, r);
	return 0;
fail:
	state_free(s);
	r->priv = NULL;
	return rc;
}

void outbox_relay_stop(struct outbox_relay *r)
{
	if (!r->w.started)
		return;
	outbox_wake_clear(r); /* no signal runs or comes after this */
	worker_stop(&r->w);
	state_free(r->priv);
	r->priv = NULL;
}

void outbox_relay_kick(struct outbox_relay *r)
{
	atomic_store(&r->read_now, true);
	worker_kick(&r->w);
}

void outbox_relay_notify(void *relay, unsigned rows)
{
	struct outbox_relay *r = relay;

	atomic_fetch_add(&r->signals, rows);
	/* The first signal of an iteration wakes the relay; the others are
	 * counted, and found by that iteration's take_signals or the next's
	 * (whose start cleared the flag after this one was set). */
	if (!atomic_exchange(&r->signal_kicked, true))
		worker_kick(&r->w);
}

void outbox_relay_stats(struct outbox_relay *r, struct outbox_relay_stats *st)
{
	st->rows_sent = atomic_load(&r->rows_sent);
	st->delivery_failures = atomic_load(&r->delivery_failures);
	st->producer_restarts = atomic_load(&r->producer_restarts);
	st->db_errors = atomic_load(&r->db_errors);
	st->rows_pruned = atomic_load(&r->rows_pruned);
	st->rows_parked = atomic_load(&r->rows_parked);
	st->inbox_pruned = atomic_load(&r->inbox_pruned);
	st->parked = atomic_load(&r->parked);
	st->last_sent_id = atomic_load(&r->last_sent_id);
	st->backlog = atomic_load(&r->backlog);
	st->lag_seconds = (double)atomic_load(&r->lag_us) / 1e6;
	st->in_flight = atomic_load(&r->in_flight);
	st->leader = atomic_load(&r->leader);
	st->reads = atomic_load(&r->reads);
	st->empty_reads = atomic_load(&r->empty_reads);
	st->signals = atomic_load(&r->signals);
}

int outbox_relay_render_metrics(struct outbox_relay *r, char **buf,
				size_t *len, size_t *cap)
{
	struct outbox_relay_stats st;
	uint64_t cum = 0;
	int rc = 0;

	outbox_relay_stats(r, &st);
	rc |= metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_outbox_rows_sent_total Outbox rows marked sent after a successful delivery report.\n"
		"# TYPE ticketd_outbox_rows_sent_total counter\n"
		"ticketd_outbox_rows_sent_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_delivery_failures_total Failed produce calls and delivery reports.\n"
		"# TYPE ticketd_outbox_delivery_failures_total counter\n"
		"ticketd_outbox_delivery_failures_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_producer_restarts_total Producers recreated after a fatal error.\n"
		"# TYPE ticketd_outbox_producer_restarts_total counter\n"
		"ticketd_outbox_producer_restarts_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_db_errors_total Failed MariaDB operations of the relay.\n"
		"# TYPE ticketd_outbox_db_errors_total counter\n"
		"ticketd_outbox_db_errors_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_rows_pruned_total Sent outbox rows deleted.\n"
		"# TYPE ticketd_outbox_rows_pruned_total counter\n"
		"ticketd_outbox_rows_pruned_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_rows_parked_total Outbox rows Kafka refused for good, moved to outbox_parked.\n"
		"# TYPE ticketd_outbox_rows_parked_total counter\n"
		"ticketd_outbox_rows_parked_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_parked_rows Rows in outbox_parked (refreshed with the backlog); their keys' later rows are held.\n"
		"# TYPE ticketd_outbox_parked_rows gauge\n"
		"ticketd_outbox_parked_rows %" PRId64 "\n"
		"# HELP ticketd_inbox_rows_pruned_total Inbox claims older than inbox_keep_hours deleted.\n"
		"# TYPE ticketd_inbox_rows_pruned_total counter\n"
		"ticketd_inbox_rows_pruned_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_backlog_rows Unsent outbox rows (refreshed periodically, -1 unknown).\n"
		"# TYPE ticketd_outbox_backlog_rows gauge\n"
		"ticketd_outbox_backlog_rows %" PRId64 "\n"
		"# HELP ticketd_outbox_relay_lag_seconds Age of the oldest unsent outbox row.\n"
		"# TYPE ticketd_outbox_relay_lag_seconds gauge\n"
		"ticketd_outbox_relay_lag_seconds %.3f\n"
		"# HELP ticketd_outbox_in_flight Messages produced and awaiting their delivery report.\n"
		"# TYPE ticketd_outbox_in_flight gauge\n"
		"ticketd_outbox_in_flight %" PRId64 "\n"
		"# HELP ticketd_outbox_relay_leader 1 when this relay holds the leader lock.\n"
		"# TYPE ticketd_outbox_relay_leader gauge\n"
		"ticketd_outbox_relay_leader %d\n"
		"# HELP ticketd_outbox_relay_reads_total SELECTs of unsent outbox rows.\n"
		"# TYPE ticketd_outbox_relay_reads_total counter\n"
		"ticketd_outbox_relay_reads_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_relay_empty_reads_total SELECTs of unsent outbox rows that found none.\n"
		"# TYPE ticketd_outbox_relay_empty_reads_total counter\n"
		"ticketd_outbox_relay_empty_reads_total %" PRIu64 "\n"
		"# HELP ticketd_outbox_relay_signals_total New-row signals from outbox_append.\n"
		"# TYPE ticketd_outbox_relay_signals_total counter\n"
		"ticketd_outbox_relay_signals_total %" PRIu64 "\n",
		st.rows_sent, st.delivery_failures, st.producer_restarts,
		st.db_errors, st.rows_pruned, st.rows_parked, st.parked,
		st.inbox_pruned, st.backlog, st.lag_seconds,
		st.in_flight, st.leader ? 1 : 0, st.reads, st.empty_reads,
		st.signals);
	rc |= metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_outbox_publish_delay_seconds Time from outbox insert to Kafka acknowledgement.\n"
		"# TYPE ticketd_outbox_publish_delay_seconds histogram\n");
	for (size_t i = 0; i < N_DELAY_BOUNDS; i++) {
		cum += atomic_load(&r->delay_buckets[i]);
		rc |= metrics_appendf(
			buf, len, cap,
			"ticketd_outbox_publish_delay_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			delay_bounds[i], cum);
	}
	rc |= metrics_appendf(
		buf, len, cap,
		"ticketd_outbox_publish_delay_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		"ticketd_outbox_publish_delay_seconds_sum %.6f\n"
		"ticketd_outbox_publish_delay_seconds_count %" PRIu64 "\n",
		(uint64_t)atomic_load(&r->delay_count),
		(double)atomic_load(&r->delay_sum_us) / 1e6,
		(uint64_t)atomic_load(&r->delay_count));
	return rc ? -ENOMEM : 0;
}
