/* Appending to the transactional outbox (see outbox.h). */
#include "userspace/ticketd/messaging/outbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

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

/* Inserts the row; the caller's transaction decides its fate. created_at is
 * written in UTC explicitly so lag and pruning do not depend on a session's
 * time_zone. */
int outbox_append_id(MYSQL *conn, const char *topic, const char *key,
		     const char *payload_json, uint64_t *id)
{
	static const char sql[] =
		"INSERT INTO outbox (topic, msg_key, payload, created_at)"
		" VALUES (?, ?, ?, UTC_TIMESTAMP(3))";
	MYSQL_BIND bind[3];
	unsigned long len[3];
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
