/* Browser and UDP sessions: minting tokens the XDP program can check, and
 * checking Bearer tokens on REST calls. Token layout: bpf/session_token.h. */
#ifndef TICKETD_SESSIONS_H
#define TICKETD_SESSIONS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "bpf/session_token.h"
#include "userspace/lib/worker.h"

struct db_pool;
struct sockaddr;

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

/* Asked once the database gave this request a slot (its row is locked
 * until the session is recorded): 0 to take it, -EBUSY to give the slot
 * back and try the next candidate (the seat table still has seats whose
 * word carries this slot). origin is the client that asked for the session
 * (NULL when unknown). Runs on the caller's (HTTP) thread. */
typedef int (*sessions_claim_fn)(void *ctx, uint32_t slot,
				 const struct sockaddr *origin);

/* Candidate slots one POST /api/sessions tries before it answers 503
 * SESSIONS_EXHAUSTED (fewer when session_slots is smaller). */
#define SESSIONS_MAX_CANDIDATES 16
/* Rows one pruning statement deletes, and statements per round. */
#define SESSIONS_PRUNE_BATCH 1000
#define SESSIONS_PRUNE_ROUNDS 20

/* Minting sessions and their slots. Set the fields, then sessions_start;
 * the fields are read-only afterwards, the counters atomic. */
struct sessions {
	struct db_pool *db;
	const struct tkt_token_key *key;
	long ttl;          /* session lifetime, seconds */
	long grace;        /* a slot stays reserved this long after expiry */
	uint32_t n_slots;  /* sessions take slots 1..n_slots */
	int wait_ms;       /* longest wait for a pool connection */
	int prune_ms;      /* between pruning rounds */
	sessions_claim_fn claim_slot; /* NULL: no check */
	void *claim_ctx;

	struct worker pruner;
	atomic_ullong created;
	atomic_ullong exhausted;  /* 503 SESSIONS_EXHAUSTED */
	atomic_ullong db_busy;    /* 503 SERVICE_BUSY */
	atomic_ullong slot_busy;  /* candidates a live session still reserves */
	atomic_ullong slot_seats; /* candidates claim_slot refused */
	atomic_ullong pruned;     /* session rows deleted */
};

enum {
	SESSIONS_EXHAUSTED = -1001, /* every candidate slot is reserved */
	SESSIONS_DB_BUSY = -1002,   /* no pool connection within wait_ms */
};

/* Creates a session valid for ttl seconds on a slot no other live session
 * holds: candidates come from the database sequence, each is claimed
 * atomically in session_slots (free only when its reservation ended), at
 * most SESSIONS_MAX_CANDIDATES of them. Writes the 32-hex token. Returns 0,
 * SESSIONS_EXHAUSTED (nothing was evicted), SESSIONS_DB_BUSY, or -EIO. */
int sessions_create(struct sessions *s, const struct sockaddr *origin,
		    struct session *out, char token_hex[33]);

/* Starts the thread that deletes sessions expired for longer than the grace
 * (never one whose slot row still reserves it), SESSIONS_PRUNE_BATCH rows a
 * statement. Returns 0 or -errno. */
int sessions_start(struct sessions *s);
void sessions_stop(struct sessions *s);

/* One pruning round on the calling thread: deletes up to
 * SESSIONS_PRUNE_ROUNDS batches; returns the rows deleted or -errno. */
long long sessions_prune(struct sessions *s);

/* Appends the session counters to /metrics (metrics_appendf); 0 or
 * -ENOMEM. Any thread. */
int sessions_render_metrics(struct sessions *s, char **buf, size_t *len,
			    size_t *cap);

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
