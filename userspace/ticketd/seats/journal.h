/* The Redis journal: every published seat change is written to Redis by one
 * writer thread, pipelined, so a fresh node can rebuild live holds and SSE
 * can replay beyond its in-memory buffer.
 *
 *   tkt:hold:{event}:{seat}  "slot:state:expiryUnixMs", expiring at that
 *                            time (PXAT); deleted when the seat is released,
 *                            lapses or is sold. Live holds and orders only.
 *   tkt:seats:{event}        stream, one entry per event per written batch:
 *                            id "<last version>-0", field c =
 *                            "version:seat:status;..." in version order,
 *                            a change whose version is the previous
 *                            one's next written "seat:status";
 *                            trimmed to about JOURNAL_STREAM_LEN entries.
 *
 * Within a batch a seat's hold key gets only its last state, so a hold and
 * its release cost one DEL between them, and nothing when the key is known
 * absent (deleted by this run and not written since): write amplification
 * is bounded by batches and seats, not by changes. Each batch is one
 * pipeline, one round trip. The stream entry keeps every change (SSE
 * replays need contiguous versions).
 *
 * Nothing is lost silently (docs/operations.md, "The journal's invariant"):
 * - an error reply or a connection failure is a failure: the batch stays
 *   queued and is retried with backoff (a new connection after a transport
 *   failure). A batch that keeps getting error replies is, after
 *   batch_attempts tries, turned into seats to repair (below); its stream
 *   entries are gone, which SSE sees as a gap (a snapshot, never a hole).
 * - a change that does not fit the queue marks its seat dirty (a bitmap over
 *   the seat table, bounded memory). The writer rewrites a dirty seat's hold
 *   key from the seat table, the authority for holds, once every entry
 *   queued before it is written, so an older queued state never lands after
 *   the repair.
 * - a graceful stop keeps writing for at most drain_ms; what is left is
 *   counted and logged, and the next start rewrites every hold key from the
 *   seat table (journal_repair_all), as it does after kill -9. */
#ifndef TICKETD_JOURNAL_H
#define TICKETD_JOURNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

#define JOURNAL_QUEUE 65536
#define JOURNAL_STREAM_LEN 2000 /* entries; one per event per batch */
#define JOURNAL_LINGER_MS 10    /* at most one pipeline per this, unless a batch is full */

struct journal_entry {
	uint64_t version;
	uint64_t word;          /* seat word after the change */
	int64_t expiry_unix_ms; /* live hold/order expiry, 0 otherwise */
	uint32_t event_id, seat_id;
	uint32_t seat_index;    /* in the seat table (event's seat_base + seat) */
	uint32_t queued_ms;     /* monotonic ms32 when queued (lag) */
	uint8_t status;         /* enum seat_status */
};

struct catalog;

struct journal_opts {
	const char *host;
	int port;
	/* The seat table and its layout, for repairs; without them (NULL) a
	 * change that cannot be kept is only counted (journal_lost). */
	const struct catalog *catalog;
	const __u64 *seats;
	uint32_t queue_cap;       /* entries; 0: JOURNAL_QUEUE */
	uint32_t drain_ms;        /* graceful stop: keep writing this long */
	uint32_t batch_attempts;  /* error replies before a batch becomes repairs; 0: 8 */
	uint32_t backoff_max_ms;  /* retry backoff cap; 0: 2000 */
	uint32_t linger_ms;       /* pipelines at most this often unless a
				   * batch is full; 0: JOURNAL_LINGER_MS */
	/* Multi-node fencing (issue #16; NULL: off): epoch_of gives the epoch
	 * an event's hold-key writes carry (0: not served here, the write is
	 * dropped and counted in unowned); each write checks it against
	 * tkt:shard:epoch:<event> in the same Lua script, and a refusal calls
	 * on_fenced (journal thread). */
	uint64_t (*epoch_of)(void *ctx, uint32_t event_id);
	void (*on_fenced)(void *ctx, uint32_t event_id);
	void *fence_ctx;
};

struct journal {
	char host[256];
	int port;
	const struct catalog *catalog;
	const __u64 *seats;
	uint32_t cap, drain_ms, batch_attempts, backoff_max_ms, linger_ms;
	uint64_t (*epoch_of)(void *ctx, uint32_t event_id);
	void (*on_fenced)(void *ctx, uint32_t event_id);
	void *fence_ctx;
	pthread_t thread;
	pthread_mutex_t lock; /* guards the queue, the dirty set, stop */
	pthread_cond_t cond;
	struct journal_entry *q;
	uint32_t head, len;
	uint64_t *dirty;      /* bit per seat table word: rewrite from the table */
	uint32_t dirty_words, n_dirty;
	/* bit per seat table word: its hold key may exist in Redis (writer
	 * thread only). Set when a SET is sent, cleared once Redis took a DEL
	 * of it; a seat whose key is known absent needs no DEL. All set at
	 * start (keys of an earlier run). */
	uint64_t *maybe_key;
	bool stop;
	/* the writer waits for an empty queue to fill (not lingering): only
	 * then does a push need to wake it */
	bool idle;
	int64_t stop_deadline_ms; /* monotonic */
	/* written: entries Redis took; dropped: changes that did not fit the
	 * queue (their seats repaired); errors: failed batch attempts (error
	 * reply or connection); retries: attempts after a failure; deferred:
	 * entries of batches given up after batch_attempts (seats repaired);
	 * repaired: hold keys rewritten from the seat table; lost: changes
	 * neither written nor repairable (no seat table given, or stop). */
	atomic_uint_least64_t written, dropped, errors, retries, deferred,
		repaired, lost;
	/* round_trips: pipelines sent (one per batch, plus repairs);
	 * dels_skipped: DELs left out because the key was known absent */
	atomic_uint_least64_t round_trips, dels_skipped;
	/* fenced: hold-key writes refused by the event's epoch (another node
	 * owns it); unowned: writes dropped because this node no longer
	 * serves the event (multi-node only) */
	atomic_uint_least64_t fenced, unowned;
	atomic_bool connected;
};

int journal_start(struct journal *j, const struct journal_opts *o);
/* Keeps writing what is queued and dirty for at most drain_ms, then stops;
 * whatever is left is counted in lost and logged. */
void journal_stop(struct journal *j);

/* Queues one change; never blocks. A full queue marks the seat dirty (and
 * counts dropped); it is rewritten from the seat table later. */
void journal_push(struct journal *j, const struct journal_entry *e);
/* Queues e[0..n) in order under one hold of the queue's lock. */
void journal_push_batch(struct journal *j, const struct journal_entry *e, uint32_t n);

/* Marks every seat of the catalogue dirty: the writer rewrites every hold
 * key from the seat table (after a restart, once recovery is done). */
void journal_repair_all(struct journal *j);

struct journal_backlog {
	uint32_t queued, dirty_seats;
	uint32_t lag_ms; /* age of the oldest queued entry, 0 when none */
};
void journal_backlog(struct journal *j, struct journal_backlog *out);

struct event_info;
struct seat_event;
struct tkt_change;

/* The seat stream's sink (seat_sink_fn; ctx is the journal): journals
 * every published change with its hold's wall-clock expiry. */
void journal_seat_sink(void *journal, const struct event_info *e,
		       const struct seat_event *ev, const struct tkt_change *rec);
/* The same as a batch sink (seat_batch_sink_fn): one clock reading and one
 * hold of the queue's lock per batch; the writer takes what a batch queued
 * as one pipeline. */
struct seat_change;
void journal_seat_batch_sink(void *journal, const struct seat_change *ch, uint32_t n);

/* Appends to out[*n..max) the changes with version > after of one stream
 * entry's "c" field (journal.h, top). 0, or -1 when it is malformed (what
 * came before the fault is kept). */
int journal_unpack_changes(const char *packed, uint64_t after, struct seat_event *out,
			   int max, int *n);

/* Last version journalled for an event (0 when none or Redis is down). */
uint64_t journal_last_version(const char *host, int port, uint32_t event_id);

struct journal_hold {
	uint32_t event_id, seat_id, slot;
	uint8_t state; /* TKT_SEAT_HELD or TKT_SEAT_ORDERED */
	int64_t expiry_unix_ms;
};

/* Reads every live hold from Redis (SCAN, never KEYS). Calls cb for each.
 * Returns the number read or a negative errno. */
int journal_scan_holds(const char *host, int port,
		       int (*cb)(void *ctx, const struct journal_hold *h),
		       void *ctx);

/* The same for one event's hold keys (tkt:hold:<event>:*). */
int journal_scan_event_holds(const char *host, int port, uint32_t event_id,
			     int (*cb)(void *ctx, const struct journal_hold *h),
			     void *ctx);

/* Seat changes of an event with version > after, oldest first, up to max.
 * Returns how many were written to out, or a negative errno. */
struct seat_event;
int journal_read_since(const char *host, int port, uint32_t event_id,
		       uint64_t after, struct seat_event *out, int max);

#endif
