/* Transactional outbox: a message to Kafka is written as a row of the
 * `outbox` table in the same MariaDB transaction as the change it announces,
 * so the message exists if and only if the change committed. The relay
 * (outbox_relay.h) publishes the rows; this file only appends them. */
#ifndef TICKETD_OUTBOX_H
#define TICKETD_OUTBOX_H

#include <mysql.h>
#include <stdint.h>

/* Column limits of the outbox table (001_schema.sql). */
#define OUTBOX_TOPIC_MAX 64
#define OUTBOX_KEY_MAX 128

/* Kafka header that carries the outbox row id (decimal ASCII); consumers use
 * it as the message id for inbox de-duplication. */
#define OUTBOX_ID_HEADER "outbox-id"

/* Inserts one outbox row (topic, key, payload) with a prepared statement on
 * conn, which must be inside an open transaction (START TRANSACTION or
 * autocommit off); the caller commits or rolls back, so the row becomes
 * visible exactly when its transaction commits. Call it after the statements
 * that lock the business rows of key, so that rows of one key get ids in
 * commit order. The payload is opaque to the relay (normally JSON).
 * Returns 0, or -EINVAL (NULL argument, topic/key empty or too long,
 * not inside a transaction), -ENOMEM, -EDEADLK or -ETIMEDOUT (lock trouble:
 * the caller retries its whole transaction), -ECONNRESET (server gone),
 * -EIO (any other SQL error). */
int outbox_append(MYSQL *conn, const char *topic, const char *key,
		  const char *payload_json);

/* As outbox_append, and stores the new row's id in *id (when id != NULL). */
int outbox_append_id(MYSQL *conn, const char *topic, const char *key,
		     const char *payload_json, uint64_t *id);

/* One row for outbox_append_many. */
struct outbox_msg {
	const char *topic;
	const char *key;
	const char *payload_json;
};

/* Appends n rows (in this order, so ascending ids) with one multi-row
 * INSERT per 32 rows, on conn inside an open transaction, and signals the
 * relay once. Same rules and errors as outbox_append; any invalid row
 * (NULL, empty or too long topic or key, NULL payload) or n < 1 fails with
 * -EINVAL before anything is written. After another error the caller rolls
 * back (some chunks may be inserted). */
int outbox_append_many(MYSQL *conn, const struct outbox_msg *msgs, int n);

/* The new-row signal. After inserting a row, outbox_append calls the
 * registered wake function (the relay's outbox_relay_notify), so the relay
 * wakes on new rows instead of polling. The row is not committed yet when
 * the signal comes: the relay reads a moment later and re-reads after
 * short steps (outbox_relay.h). The function must be cheap and must not
 * block (it runs inside the writer's transaction).
 *
 * One registration per process (the only state of this file, guarded by a
 * rwlock: appends take it shared, register and clear exclusively, so a
 * clear returns only after every running call of fn has returned). */
typedef void (*outbox_wake_fn)(void *arg, unsigned rows);

/* Registers fn(arg). Returns 0, -EINVAL (fn NULL), or -EBUSY (another is
 * registered: a second relay in one process stays unsignalled and polls). */
int outbox_wake_register(outbox_wake_fn fn, void *arg);

/* Removes the registration when it is arg's (no-op otherwise); after it
 * returns, fn(arg) is not running and will not be called again. */
void outbox_wake_clear(void *arg);

#endif
