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

/* #15 tracing: the calling thread's trace context, or SQL NULL. */
static void outbox_bind_trace(MYSQL_BIND *b, char tp[TRACEPARENT_LEN + 1],
			      unsigned long *len)
{
	struct traceparent cur;

	trace_current_get(&cur);
	if (traceparent_format(&cur, tp))
		b->buffer_type = MYSQL_TYPE_NULL;
	else
		db_bind_str(b, tp, len);
}

/* Inserts the row; the caller's transaction decides its fate. created_at is
 * written in UTC explicitly so lag and pruning do not depend on a session's
 * time_zone. */
int outbox_append_id(MYSQL *conn, const char *topic, const char *key,
		     const char *payload_json, uint64_t *id)
{
	static const char sql[] =
		"INSERT INTO outbox (topic, msg_key, payload, created_at, traceparent)"
		" VALUES (?, ?, ?, UTC_TIMESTAMP(3), ?)";
	MYSQL_BIND bind[4];
	unsigned long len[4];
	char tp[TRACEPARENT_LEN + 1];
	MYSQL_STMT *st;
	int rc = 0;

	if (!conn || !topic || !key || !payload_json || !*topic || !*key ||
	    strlen(topic) > OUTBOX_TOPIC_MAX || strlen(key) > OUTBOX_KEY_MAX)
		return -EINVAL;
	if ((rc = db_tx_stmt(conn, &st)))
		return rc;
	memset(bind, 0, sizeof(bind));
	db_bind_str(&bind[0], topic, &len[0]);
	db_bind_str(&bind[1], key, &len[1]);
	db_bind_str(&bind[2], payload_json, &len[2]);
	outbox_bind_trace(&bind[3], tp, &len[3]); /* #15 tracing */
	if (mysql_stmt_prepare(st, sql, sizeof(sql) - 1) ||
	    mysql_stmt_bind_param(st, bind) || mysql_stmt_execute(st))
		rc = db_errno(mysql_stmt_errno(st));
	else if (id)
		*id = (uint64_t)mysql_stmt_insert_id(st);
	mysql_stmt_close(st);
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

/* Rows per multi-row INSERT. */
#define APPEND_CHUNK 32

static bool msg_valid(const struct outbox_msg *m)
{
	return m->topic && m->key && m->payload_json && *m->topic && *m->key &&
	       strlen(m->topic) <= OUTBOX_TOPIC_MAX &&
	       strlen(m->key) <= OUTBOX_KEY_MAX;
}

/* Inserts msgs[0..n) (n <= APPEND_CHUNK) with one statement. */
static int append_chunk(MYSQL *conn, const struct outbox_msg *msgs, int n)
{
	static const char head[] =
		"INSERT INTO outbox (topic, msg_key, payload, created_at) VALUES ";
	static const char row[] = "(?, ?, ?, UTC_TIMESTAMP(3))";
	char sql[sizeof(head) + APPEND_CHUNK * (sizeof(row) + 1)];
	MYSQL_BIND bind[3 * APPEND_CHUNK];
	unsigned long len[3 * APPEND_CHUNK];
	size_t off = 0;
	MYSQL_STMT *st;
	int rc = 0;

	/* Placeholders only: the text depends on n, never on the values. */
	off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s", head);
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s%s",
					i ? "," : "", row);
	if ((rc = db_tx_stmt(conn, &st)))
		return rc;
	memset(bind, 0, sizeof(bind));
	for (int i = 0; i < n; i++) {
		db_bind_str(&bind[3 * i], msgs[i].topic, &len[3 * i]);
		db_bind_str(&bind[3 * i + 1], msgs[i].key, &len[3 * i + 1]);
		db_bind_str(&bind[3 * i + 2], msgs[i].payload_json, &len[3 * i + 2]);
	}
	if (mysql_stmt_prepare(st, sql, off) || mysql_stmt_bind_param(st, bind) ||
	    mysql_stmt_execute(st))
		rc = db_errno(mysql_stmt_errno(st));
	mysql_stmt_close(st);
	return rc;
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
				      n - at < APPEND_CHUNK ? n - at : APPEND_CHUNK);

		if (rc)
			return rc;
	}
	wake_relay((unsigned)n);
	return 0;
}
