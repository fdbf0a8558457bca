/* Consumer inbox: de-duplication for Kafka consumers. A consumer claims a
 * message id in the same MariaDB transaction as the effects of handling the
 * message, so a redelivered message (after a relay retry, a rebalance or a
 * crash before the offset commit) is recognised and skipped. */
#ifndef TICKETD_INBOX_H
#define TICKETD_INBOX_H

#include <mysql.h>
#include <stdbool.h>

/* Column limits of the inbox table (001_schema.sql). */
#define INBOX_CONSUMER_MAX 64
#define INBOX_MESSAGE_ID_MAX 128

/* Records that consumer processes message_id, inside the caller's open
 * transaction on conn (the caller commits it together with the effects, or
 * rolls both back). Returns 1 when newly claimed (apply the effects), 0 when
 * this consumer already processed the message (skip it; commit or roll back,
 * either is fine), or a negative errno: -EINVAL (NULL, empty or too long
 * argument, not inside a transaction), -ENOMEM, -EDEADLK or -ETIMEDOUT
 * (the caller retries its transaction), -ECONNRESET, -EIO. While another
 * transaction holds an uncommitted claim of the same id, this call waits for
 * it (InnoDB row lock) and then answers 0 or 1 by its outcome. A duplicate is
 * detected by the primary key (error 1062), which only undoes this one
 * statement, so the caller's transaction stays usable. */
int inbox_claim(MYSQL *conn, const char *consumer, const char *message_id);

/* inbox_claim for n message ids at once (a consumer's batch), inside the
 * caller's open transaction: one multi-row INSERT per 32 ids; when one of
 * them was processed already, that statement alone is undone and its ids
 * are claimed one by one. claimed[i] says whether ids[i] is newly claimed
 * (apply its effects). Returns how many were claimed (0..n), or a negative
 * errno as inbox_claim (-EINVAL before anything is written: NULL, n < 1,
 * or any id empty or too long). After an error the caller rolls back. An id
 * given twice is claimed once (its first occurrence). */
int inbox_claim_many(MYSQL *conn, const char *consumer,
		     const char *const *ids, int n, bool *claimed);

#endif
