/* Browser and UDP sessions: minting tokens the XDP program can check, and
 * checking Bearer tokens on REST calls. Token layout: bpf/session_token.h. */
#ifndef TICKETD_SESSIONS_H
#define TICKETD_SESSIONS_H

#include <stdint.h>
#include <time.h>

#include "bpf/session_token.h"

struct db_pool;

/* Sessions get slots 1..TKT_SLOT_MAX-1; the last slot is ticketd's own,
 * used only while it rebuilds sold seats on a fresh node. */
#define SESSION_SLOT_SYSTEM TKT_SLOT_MAX
#define SESSION_SLOTS (TKT_SLOT_MAX - 1)

struct session {
	uint8_t id[TKT_SESSION_ID_LEN];
	uint32_t slot;
	int64_t expires_unix;
	char id_hex[2 * TKT_SESSION_ID_LEN + 1];
};

/* Reads the 16-byte key from path, creating it (mode 0600, from
 * getrandom) when missing. */
int sessions_load_key(const char *path, struct tkt_token_key *key, char *err,
		      size_t errlen);

/* Creates a session valid for ttl seconds: takes the next slot from the
 * database sequence, records the session, and writes the 32-hex token. */
int sessions_create(struct db_pool *db, const struct tkt_token_key *key,
		    long ttl, struct session *out, char token_hex[33]);

enum session_auth {
	SESSION_AUTH_OK = 0,
	SESSION_AUTH_MISSING = -1,
	SESSION_AUTH_FORGED = -2,
	SESSION_AUTH_EXPIRED = -3,
};

/* Checks an "Authorization: Bearer <32 hex>" header value. */
enum session_auth sessions_check_bearer(const struct tkt_token_key *key,
					const char *header, struct session *out);


#endif
