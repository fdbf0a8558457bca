#include "userspace/ticketd/commerce/sessions.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "userspace/lib/hex.h"
#include "userspace/ticketd/db/db.h"

int sessions_load_key(const char *path, struct tkt_token_key *key, char *err,
		      size_t errlen)
{
	uint8_t raw[16];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -EIO;
		}
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			n = write(fd, raw, sizeof(raw));
			if (n != (ssize_t)sizeof(raw) || fsync(fd)) {
				snprintf(err, errlen, "writing %s: %s", path, strerror(errno));
				close(fd);
				return -EIO;
			}
			close(fd);
		}
		/* Another daemon may have won the O_EXCL race: read theirs. */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, errlen, "token key %s: %s", path, strerror(errno));
		return -errno;
	}
	n = read(fd, raw, sizeof(raw));
	close(fd);
	if (n != (ssize_t)sizeof(raw)) {
		snprintf(err, errlen, "token key %s: expected 16 bytes", path);
		return -EINVAL;
	}
	key->k0 = tkt_load_le64(raw);
	key->k1 = tkt_load_le64(raw + 8);
	return 0;
}

/* The session a token (or a freshly minted one) stands for: its 8-byte id
 * is the slot and the expiry, big-endian (bpf/session_token.h). */
static void fill_session(struct session *s, const uint8_t token[TKT_TOKEN_LEN])
{
	memcpy(s->id, token, TKT_SESSION_ID_LEN);
	s->slot = tkt_load_be32(token);
	s->expires_unix = tkt_load_be32(token + 4);
	hex_encode(s->id, sizeof(s->id), s->id_hex);
}

static int next_slot_seq(MYSQL *conn, unsigned long long *seq)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(conn, "SELECT NEXTVAL(session_slot_seq)") ||
	    !(res = mysql_store_result(conn)))
		return -EIO;
	row = mysql_fetch_row(res);
	if (!row || !row[0]) {
		mysql_free_result(res);
		return -EIO;
	}
	*seq = strtoull(row[0], NULL, 10);
	mysql_free_result(res);
	return 0;
}

static int insert_session(MYSQL *conn, unsigned long long seq,
			  const struct session *s)
{
	const char *sql = "INSERT INTO sessions (slot_seq, session_id, expires_at)"
			  " VALUES (?, ?, FROM_UNIXTIME(?))";
	MYSQL_STMT *st = mysql_stmt_init(conn);
	MYSQL_BIND b[3] = {0};
	unsigned long idlen = 16;
	long long expires = s->expires_unix;
	int rc = -EIO;

	if (!st || mysql_stmt_prepare(st, sql, strlen(sql)))
		goto out;
	b[0].buffer_type = MYSQL_TYPE_LONGLONG;
	b[0].buffer = &seq;
	b[0].is_unsigned = 1;
	b[1].buffer_type = MYSQL_TYPE_STRING;
	b[1].buffer = (void *)s->id_hex;
	b[1].buffer_length = idlen;
	b[1].length = &idlen;
	b[2].buffer_type = MYSQL_TYPE_LONGLONG;
	b[2].buffer = &expires;
	if (!mysql_stmt_bind_param(st, b) && !mysql_stmt_execute(st))
		rc = 0;
out:
	if (st)
		mysql_stmt_close(st);
	return rc;
}

int sessions_create(struct db_pool *db, const struct tkt_token_key *key,
		    long ttl, struct session *out, char token_hex[33])
{
	MYSQL *conn = db_get(db);
	unsigned long long seq = 0;
	uint8_t token[TKT_TOKEN_LEN];
	int rc;

	rc = next_slot_seq(conn, &seq);
	if (!rc) {
		uint32_t slot = (uint32_t)((seq - 1) % SESSION_SLOTS) + 1;

		tkt_token_mint(key, slot, (uint32_t)(time(NULL) + ttl), token);
		fill_session(out, token);
		rc = insert_session(conn, seq, out);
	}
	db_put(db, conn);
	if (rc)
		return rc;
	hex_encode(token, sizeof(token), token_hex);
	return 0;
}

enum session_auth sessions_check_bearer(const struct tkt_token_key *key,
					const char *header, struct session *out)
{
	uint8_t token[TKT_TOKEN_LEN];
	uint32_t slot = 0;
	int verdict;

	if (!header)
		return SESSION_AUTH_MISSING;
	if (strncasecmp(header, "Bearer ", 7))
		return SESSION_AUTH_FORGED;
	header += 7;
	while (*header == ' ')
		header++;
	if (hex_decode(header, token, sizeof(token)))
		return SESSION_AUTH_FORGED;
	verdict = tkt_token_check(key, token, (uint64_t)time(NULL), &slot);
	if (verdict == TKT_TOKEN_FORGED)
		return SESSION_AUTH_FORGED;
	if (verdict == TKT_TOKEN_EXPIRED)
		return SESSION_AUTH_EXPIRED;
	fill_session(out, token);
	return SESSION_AUTH_OK;
}
