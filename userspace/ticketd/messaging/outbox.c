/* Appending to the transactional outbox (see outbox.h). */
#include "userspace/ticketd/messaging/outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "userspace/lib/trace.h"
#include "userspace/ticketd/db/db.h"

/* The registered new-row signal (outbox.h): fn and arg, guarded by lock. */
static struct {
	pthread_rwlock_t lock;
	outbox_wake_fn fn;
	void *arg;
} wake = {.lock = PTHREAD_RWLOCK_INITIALIZER};

int outbox_wake_register(outbox_wake_fn fn, void *arg)
{
	int rc = 0;

	if (!fn)
		return -EINVAL;
	pthread_rwlock_wrlock(&wake.lock);
	if (wake.fn) {
		rc = -EBUSY;
	} else {
		wake.fn = fn;
		wake.arg = arg;
	}
	pthread_rwlock_unlock(&wake.lock);
	return rc;
}

void outbox_wake_clear(void *arg)
{
	pthread_rwlock_wrlock(&wake.lock);
	if (wake.fn && wake.arg == arg) {
		wake.fn = NULL;
		wake.arg = NULL;
	}
	pthread_rwlock_unlock(&wake.lock);
}

static void wake_relay(unsigned rows)
{
	pthread_rwlock_rdlock(&wake.lock);
	if (wake.fn)
		wake.fn(wake.arg, rows);
	pthread_rwlock_unlock(&wake.lock);
}

/* Rows per multi-row INSERT (4 parameters a row, DB_ROWS_MAX_PARAMS). */
#define APPEND_CHUNK 24

static bool msg_valid(const struct outbox_msg *m)
{
	return m->topic && m->key && m->payload_json && *m->topic && *m->key &&
	       strlen(m->topic) <= OUTBOX_TOPIC_MAX &&
	       strlen(m->key) <= OUTBOX_KEY_MAX;
}

/* Inserts msgs[0..n) (n <= APPEND_CHUNK) with one statement, cached per
 * connection for each n; *id (when not NULL) gets the first row's id. The
 * caller's transaction decides their fate. created_at is written in UTC
 * explicitly so lag and pruning do not depend on a session's time_zone.
 * Each row carries the calling thread's trace context (#15 tracing), or
 * SQL NULL. */
static int append_chunk(MYSQL *conn, const struct outbox_msg *msgs, int n,
			uint64_t *id)
{
	struct db_arg args[4 * APPEND_CHUNK];
	char tp[TRACEPARENT_LEN + 1];
	struct traceparent cur;
	const char *trace;
	long long rc;

	trace_current_get(&cur);
	trace = traceparent_format(&cur, tp) ? NULL : tp;
	memset(args, 0, sizeof(args));
	for (int i = 0; i < n; i++) {
		args[4 * i].s = msgs[i].topic;
		args[4 * i + 1].s = msgs[i].key;
		args[4 * i + 2].s = msgs[i].payload_json;
		args[4 * i + 3].s = trace;
	}
	rc = db_insert_rows(conn,
			    "INSERT INTO outbox (topic, msg_key, payload, created_at, traceparent)"
			    " VALUES ",
			    "(?, ?, ?, UTC_TIMESTAMP(3), ?)", "ssss", args, n, id);
	return rc < 0 ? (int)rc : 0;
}

int outbox_append_id(MYSQL *conn, const char *topic, const char *key,
		     const char *payload_json, uint64_t *id)
{
	const struct outbox_msg m = {topic, key, payload_json};
	int rc;

	if (!conn || !msg_valid(&m))
		return -EINVAL;
	rc = append_chunk(conn, &m, 1, id);
	if (rc == 0)
		wake_relay(1);
	return rc;
}

/* See outbox_append_id. */
int outbox_append(MYSQL *conn, const char *topic, const char *key,
		  const char *payload_json)
{
	return outbox_append_id(conn, topic, key, payload_json, NULL);
}

int outbox_append_many(MYSQL *conn, const struct outbox_msg *msgs, int n)
{
	if (!conn || !msgs || n < 1)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (!msg_valid(&msgs[i]))
			return -EINVAL;
	for (int at = 0; at < n; at += APPEND_CHUNK) {
		int rc = append_chunk(conn, msgs + at,
				      n - at < APPEND_CHUNK ? n - at : APPEND_CHUNK, NULL);

		if (rc)
			return rc;
	}
	wake_relay((unsigned)n);
	return 0;
}
