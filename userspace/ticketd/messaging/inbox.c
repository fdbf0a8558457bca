/* Claiming message ids in the consumer inbox (see inbox.h). */
#include "userspace/ticketd/messaging/inbox.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "userspace/ticketd/db/db.h"

/* Ids per multi-row INSERT. */
#define CLAIM_CHUNK 32

/* Claims ids[0..n) (n <= CLAIM_CHUNK) with one statement (cached per
 * connection for each n). Returns 1 when all were new, 0 when one existed
 * (nothing of this statement stays), or a negative errno. A plain INSERT
 * rather than INSERT IGNORE: IGNORE would also turn other problems
 * (truncation, a NULL) into a silent "already processed". */
static int claim_chunk(MYSQL *conn, const char *consumer,
		       const char *const *ids, int n)
{
	struct db_arg args[2 * CLAIM_CHUNK];
	long long rc;

	memset(args, 0, sizeof(args));
	for (int i = 0; i < n; i++) {
		args[2 * i].s = consumer;
		args[2 * i + 1].s = ids[i];
	}
	rc = db_insert_rows(conn,
			    "INSERT INTO inbox (consumer, message_id, processed_at) VALUES ",
			    "(?, ?, UTC_TIMESTAMP(3))", "ss", args, n, NULL);
	if (rc == -EEXIST)
		return 0;
	return rc < 0 ? (int)rc : 1;
}

int inbox_claim(MYSQL *conn, const char *consumer, const char *message_id)
{
	if (!conn || !consumer || !message_id || !*consumer || !*message_id ||
	    strlen(consumer) > INBOX_CONSUMER_MAX ||
	    strlen(message_id) > INBOX_MESSAGE_ID_MAX)
		return -EINVAL;
	return claim_chunk(conn, consumer, &message_id, 1);
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
