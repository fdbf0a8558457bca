/* Claiming message ids in the consumer inbox (see inbox.h). */
#include "userspace/ticketd/messaging/inbox.h"

#include <errno.h>
#include <mysqld_error.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "userspace/ticketd/db/db.h"

/* A plain INSERT rather than INSERT IGNORE: IGNORE would also turn other
 * problems (truncation, a NULL) into a silent "already processed". */
int inbox_claim(MYSQL *conn, const char *consumer, const char *message_id)
{
	static const char sql[] =
		"INSERT INTO inbox (consumer, message_id, processed_at)"
		" VALUES (?, ?, UTC_TIMESTAMP(3))";
	MYSQL_BIND bind[2];
	unsigned long len[2];
	MYSQL_STMT *st;
	int rc;

	if (!conn || !consumer || !message_id || !*consumer || !*message_id ||
	    strlen(consumer) > INBOX_CONSUMER_MAX ||
	    strlen(message_id) > INBOX_MESSAGE_ID_MAX)
		return -EINVAL;
	if ((rc = db_tx_stmt(conn, &st)))
		return rc;
	rc = 1; /* claimed, unless the insert says otherwise */
	memset(bind, 0, sizeof(bind));
	db_bind_str(&bind[0], consumer, &len[0]);
	db_bind_str(&bind[1], message_id, &len[1]);
	if (mysql_stmt_prepare(st, sql, sizeof(sql) - 1) ||
	    mysql_stmt_bind_param(st, bind))
		rc = db_errno(mysql_stmt_errno(st));
	else if (mysql_stmt_execute(st))
		rc = mysql_stmt_errno(st) == ER_DUP_ENTRY
			     ? 0
			     : db_errno(mysql_stmt_errno(st));
	mysql_stmt_close(st);
	return rc;
}

/* Ids per multi-row INSERT. */
#define CLAIM_CHUNK 32

/* Claims ids[0..n) (n <= CLAIM_CHUNK) with one statement. Returns 1 when
 * all were new, 0 when one existed (nothing of this statement stays), or a
 * negative errno. */
static int claim_chunk(MYSQL *conn, const char *consumer,
		       const char *const *ids, int n)
{
	static const char head[] =
		"INSERT INTO inbox (consumer, message_id, processed_at) VALUES ";
	static const char row[] = "(?, ?, UTC_TIMESTAMP(3))";
	char sql[sizeof(head) + CLAIM_CHUNK * (sizeof(row) + 1)];
	MYSQL_BIND bind[2 * CLAIM_CHUNK];
	unsigned long len[2 * CLAIM_CHUNK];
	size_t off = 0;
	MYSQL_STMT *st;
	int rc;

	/* Placeholders only: the text depends on n, never on the values. */
	off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s", head);
	for (int i = 0; i < n; i++)
		off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s%s",
					i ? "," : "", row);
	if ((rc = db_tx_stmt(conn, &st)))
		return rc;
	memset(bind, 0, sizeof(bind));
	for (int i = 0; i < n; i++) {
		db_bind_str(&bind[2 * i], consumer, &len[2 * i]);
		db_bind_str(&bind[2 * i + 1], ids[i], &len[2 * i + 1]);
	}
	rc = 1;
	if (mysql_stmt_prepare(st, sql, off) || mysql_stmt_bind_param(st, bind))
		rc = db_errno(mysql_stmt_errno(st));
	else if (mysql_stmt_execute(st))
		rc = mysql_stmt_errno(st) == ER_DUP_ENTRY
			     ? 0
			     : db_errno(mysql_stmt_errno(st));
	mysql_stmt_close(st);
	return rc;
}

int inbox_claim_many(MYSQL *conn, const char *consumer,
		     const char *const *ids, int n, bool *claimed)
{
	int total = 0;

	if (!conn || !consumer || !*consumer ||
	    strlen(consumer) > INBOX_CONSUMER_MAX || !ids || !claimed || n < 1)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (!ids[i] || !*ids[i] || strlen(ids[i]) > INBOX_MESSAGE_ID_MAX)
			return -EINVAL;
	for (int at = 0; at < n; at += CLAIM_CHUNK) {
		int k = n - at < CLAIM_CHUNK ? n - at : CLAIM_CHUNK;
		bool repeat = false;
		int rc;

		/* A repeated id would fail the multi-row statement: one by one. */
		for (int i = at; i < at + k && !repeat; i++)
			for (int j = 0; j < i && !repeat; j++)
				repeat = !strcmp(ids[i], ids[j]);
		rc = repeat ? 0 : claim_chunk(conn, consumer, ids + at, k);
		if (rc < 0)
			return rc;
		for (int i = at; i < at + k; i++) {
			int one = rc == 1 ? 1 : inbox_claim(conn, consumer, ids[i]);

			if (one < 0)
				return one;
			claimed[i] = one == 1;
			total += one;
		}
	}
	return total;
}
