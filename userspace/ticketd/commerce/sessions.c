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

#include "userspace/lib/clock.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/db/db.h"

#define TKT_STR_(x) #x
#define TKT_STR(x) TKT_STR_(x)

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

/* Takes slot for the candidate seq (session id_hex) until busy_until (Unix
 * seconds) if no live session reserves it, and otherwise leaves the
 * reservation alone: 0 either way (record_session tells which), -errno.
 * One statement on the slot's row, which it locks exclusively (a plain
 * INSERT would take a shared lock on a duplicate, and two requests
 * upgrading it deadlock), so two daemons sharing the database cannot both
 * take it.
 *
 * MariaDB applies ON DUPLICATE KEY UPDATE assignments left to right, each
 * seeing the ones before: busy_until must change last, while the others
 * still compare against its old value. Affected rows cannot tell a taken
 * slot from one left alone: under CLIENT_FOUND_ROWS (our connections) both
 * a fresh insert and a reservation left alone count 1. */
static int claim_slot_row(MYSQL *conn, uint32_t slot, unsigned long long seq,
			  const char *id_hex, int64_t busy_until)
{
	long long n = db_exec(
		conn,
		"INSERT INTO session_slots (slot, slot_seq, session_id, busy_until)"
		" VALUES (?, ?, ?, FROM_UNIXTIME(?))"
		" ON DUPLICATE KEY UPDATE"
		" slot_seq = IF(busy_until < NOW(3), VALUES(slot_seq), slot_seq),"
		" session_id = IF(busy_until < NOW(3), VALUES(session_id), session_id),"
		" busy_until = IF(busy_until < NOW(3), VALUES(busy_until), busy_until)",
		"uusi", (uint64_t)slot, (uint64_t)seq, id_hex, busy_until);

	return n < 0 ? (int)n : 0;
}

static int count_rows(void *ctx, int n, char **values)
{
	(void)ctx;
	(void)n;
	(void)values;
	return 0;
}

/* 1 when slot looks reserved (a plain read, no lock), 0 when it looks
 * free, -errno. Lets a request pass over reserved candidates without
 * locking their rows: only the one it tries to take is locked. */
static int slot_looks_reserved(MYSQL *conn, uint32_t slot)
{
	long long n = db_select(conn,
				"SELECT 1 FROM session_slots"
				" WHERE slot = ? AND busy_until >= NOW(3)",
				count_rows, NULL, "u", (uint64_t)slot);

	return n < 0 ? (int)n : n > 0;
}

/* Records the session if, after claim_slot_row, the slot's row names this
 * claim: 1 recorded, 0 the slot stays another session's, -errno. The claim
 * is told by slot_seq, unique per candidate (two requests in the same
 * second mint the same session id for a slot); the row lock claim_slot_row
 * took keeps the answer true until the commit. */
static int record_session(MYSQL *conn, unsigned long long seq,
			  const struct session *s)
{
	long long n = db_exec(conn,
			      "INSERT INTO sessions (slot_seq, session_id, slot, expires_at)"
			      " SELECT ?, ?, ?, FROM_UNIXTIME(?) FROM session_slots"
			      " WHERE slot = ? AND slot_seq = ?",
			      "usuiuu", (uint64_t)seq, s->id_hex, (uint64_t)s->slot,
			      (int64_t)s->expires_unix, (uint64_t)s->slot, (uint64_t)seq);

	return n < 0 ? (int)n : n > 0;
}

/* Starts a READ COMMITTED transaction in one round trip (our connections
 * allow several statements in one query). */
static int begin_read_committed(MYSQL *conn)
{
	int status;

	if (mysql_query(conn, "SET TRANSACTION ISOLATION LEVEL READ COMMITTED;"
			      " START TRANSACTION"))
		return -EIO;
	while ((status = mysql_next_result(conn)) == 0)
		;
	return status > 0 ? -EIO : 0;
}

/* One attempt inside the caller's transaction: walks up to tries candidate
 * slots, claims the first free one and records the session. 0, or
 * SESSIONS_EXHAUSTED, -EDEADLK (the transaction was rolled back: try
 * again), -EIO. Reserved-looking candidates after the first are passed over
 * without a lock; a candidate lost in a race keeps its row lock until the
 * end of the transaction, so two requests can only deadlock when their
 * candidates wrap onto the same slots: with a handful of slots (tests,
 * small deployments). */
static int claim_and_record(struct sessions *s, MYSQL *conn,
			    const struct sockaddr *origin, uint32_t expiry,
			    struct session *out, uint8_t token[TKT_TOKEN_LEN])
{
	unsigned tries = s->n_slots < SESSIONS_MAX_CANDIDATES ? s->n_slots
							     : SESSIONS_MAX_CANDIDATES;

	for (unsigned i = 0; i < tries; i++) {
		unsigned long long seq = 0;
		uint32_t slot;
		int taken;

		if (next_slot_seq(conn, &seq))
			return -EIO;
		slot = (uint32_t)((seq - 1) % s->n_slots) + 1;
		/* The first candidate is usually free (the sequence hands
		 * out the slot used longest ago): claim it straight away. */
		taken = i ? slot_looks_reserved(conn, slot) : 0;
		if (taken < 0)
			return taken == -EDEADLK ? -EDEADLK : -EIO;
		if (taken) {
			atomic_fetch_add(&s->slot_busy, 1);
			continue;
		}
		tkt_token_mint(s->key, slot, expiry, token);
		fill_session(out, token);
		taken = claim_slot_row(conn, slot, seq, out->id_hex,
				       (int64_t)expiry + s->grace);
		if (!taken)
			taken = record_session(conn, seq, out);
		if (taken == -EEXIST) /* the same slot and expiry second again */
			log_msg(LOG_ERROR, NULL,
				"session %s is recorded already: did the clock go back?",
				out->id_hex);
		if (taken < 0)
			return taken == -EDEADLK ? -EDEADLK : -EIO;
		if (!taken) {
			atomic_fetch_add(&s->slot_busy, 1);
			continue;
		}
		/* Asked only now that this request holds the slot's row lock:
		 * whatever the hook records (the slot's origin) is for the
		 * session that gets the slot, never for a live one. */
		if (s->claim_slot && s->claim_slot(s->claim_ctx, slot, origin)) {
			atomic_fetch_add(&s->slot_seats, 1);
			/* Rare: give the claim and the session row back by
			 * starting over (what the transaction held besides them
			 * were candidates left alone), rather than a SAVEPOINT
			 * round trip on every request. */
			if (mysql_rollback(conn) || begin_read_committed(conn))
				return -EIO;
			continue;
		}
		return mysql_commit(conn) ? -EIO : 0;
	}
	return SESSIONS_EXHAUSTED;
}

int sessions_create(struct sessions *s, const struct sockaddr *origin,
		    struct session *out, char token_hex[33])
{
	uint32_t expiry = (uint32_t)(time(NULL) + s->ttl);
	uint8_t token[TKT_TOKEN_LEN];
	MYSQL *conn = db_get_timed(s->db, s->wait_ms);
	int rc = -EDEADLK;

	if (!conn) {
		atomic_fetch_add(&s->db_busy, 1);
		return SESSIONS_DB_BUSY;
	}
	/* The claim and the session row commit together: one log flush per
	 * session instead of two. Row locks keep the claim atomic across
	 * daemons (a locking read sees the latest committed busy_until). */
	for (int attempt = 0; attempt < 3 && rc == -EDEADLK; attempt++) {
		/* READ COMMITTED: each look at a candidate sees the latest
		 * committed reservation, not a snapshot from the first one. */
		if (begin_read_committed(conn)) {
			rc = -EIO;
			break;
		}
		rc = claim_and_record(s, conn, origin, expiry, out, token);
		if (rc)
			mysql_query(conn, "ROLLBACK");
	}
	if (rc == -EIO || rc == -EDEADLK)
		log_msg(LOG_WARN, NULL, "creating a session: %s",
			rc == -EDEADLK ? "deadlocked three times" : mysql_error(conn));
	db_put(s->db, conn);
	if (rc == SESSIONS_EXHAUSTED)
		atomic_fetch_add(&s->exhausted, 1);
	if (rc)
		return rc;
	atomic_fetch_add(&s->created, 1);
	hex_encode(token, sizeof(token), token_hex);
	return 0;
}

long long sessions_prune(struct sessions *s)
{
	MYSQL *conn = db_get_timed(s->db, 1000);
	long long total = 0;

	if (!conn)
		return -EBUSY;
	for (int round = 0; round < SESSIONS_PRUNE_ROUNDS; round++) {
		/* A row whose slot row still names it and is reserved stays,
		 * whatever its expiry says. */
		long long n = db_exec(
			conn,
			"DELETE FROM sessions"
			" WHERE expires_at < NOW(3) - INTERVAL ? SECOND"
			" AND NOT EXISTS (SELECT 1 FROM session_slots ss"
			"  WHERE ss.slot = sessions.slot"
			"  AND ss.session_id = sessions.session_id"
			"  AND ss.busy_until >= NOW(3))"
			" LIMIT " TKT_STR(SESSIONS_PRUNE_BATCH),
			"i", (int64_t)s->grace);

		if (n < 0) {
			total = total ? total : n;
			break;
		}
		total += n;
		if (n < SESSIONS_PRUNE_BATCH)
			break;
	}
	db_put(s->db, conn);
	if (total > 0)
		atomic_fetch_add(&s->pruned, (unsigned long long)total);
	return total;
}

static void *pruner_main(void *arg)
{
	struct sessions *s = arg;

	while (!worker_stopping(&s->pruner)) {
		long long n = sessions_prune(s);

		if (n > 0)
			log_msg(LOG_INFO, NULL, "pruned %lld expired sessions", n);
		else if (n < 0 && n != -EBUSY)
			log_msg(LOG_WARN, NULL, "pruning sessions failed: %s",
				strerror((int)-n));
		worker_wait_until(&s->pruner, tkt_mono_ms() + s->prune_ms);
	}
	return NULL;
}

int sessions_start(struct sessions *s)
{
	return worker_start(&s->pruner, pruner_main, s);
}

void sessions_stop(struct sessions *s)
{
	worker_stop(&s->pruner);
}

int sessions_render_metrics(struct sessions *s, char **buf, size_t *len,
			    size_t *cap)
{
	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_sessions_created_total Sessions minted.\n"
		"# TYPE ticketd_sessions_created_total counter\n"
		"ticketd_sessions_created_total %llu\n"
		"# HELP ticketd_sessions_refused_total POST /api/sessions answered 503, by reason.\n"
		"# TYPE ticketd_sessions_refused_total counter\n"
		"ticketd_sessions_refused_total{reason=\"slots_exhausted\"} %llu\n"
		"ticketd_sessions_refused_total{reason=\"db_busy\"} %llu\n"
		"# HELP ticketd_session_slot_skips_total Candidate slots passed over, by reason.\n"
		"# TYPE ticketd_session_slot_skips_total counter\n"
		"ticketd_session_slot_skips_total{reason=\"reserved\"} %llu\n"
		"ticketd_session_slot_skips_total{reason=\"seats\"} %llu\n"
		"# HELP ticketd_sessions_pruned_total Expired session rows deleted.\n"
		"# TYPE ticketd_sessions_pruned_total counter\n"
		"ticketd_sessions_pruned_total %llu\n",
		(unsigned long long)atomic_load(&s->created),
		(unsigned long long)atomic_load(&s->exhausted),
		(unsigned long long)atomic_load(&s->db_busy),
		(unsigned long long)atomic_load(&s->slot_busy),
		(unsigned long long)atomic_load(&s->slot_seats),
		(unsigned long long)atomic_load(&s->pruned));
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
