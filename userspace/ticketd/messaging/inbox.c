/* Claiming message ids in the consumer inbox (see inbox.h). */
#include "userspace/ticketd/messaging/inbox.h"

#include <errno.h>
#include <mysqld_error.h>
#include <stdbool.h>
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
