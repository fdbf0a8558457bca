/* The Redis journal: every published seat change is written to Redis by one
 * writer thread, pipelined, so a fresh node can rebuild live holds and SSE
 * can replay beyond its in-memory buffer.
 *
 *   tkt:hold:{event}:{seat}  "slot:state:expiryUnixMs", expiring at that
 *                            time (PXAT); deleted when the seat is released,
 *                            lapses or is sold. Live holds and orders only.
 *   tkt:seats:{event}        stream, one entry per event per written batch:
 *                            id "<last version>-0", field c =
 *                            "version:seat:status;..." in version order;
 *                            trimmed to about JOURNAL_STREAM_LEN entries.
 *
 * Within a batch a seat's hold key gets only its last state, so a hold and
 * its release cost one DEL between them (write amplification bounded by
 * batches and seats, not by changes).
 *
 * Memory is bounded: the queue holds JOURNAL_QUEUE entries; while Redis is
 * unreachable the writer retries with backoff, and entries that do not fit
 * are dropped and counted (journal_dropped). The seat table, not Redis, is
 * the authority: a lost journal entry can at worst lose a hold on a fresh
 * node, never sell a seat twice (sold seats come from MariaDB). */
#ifndef TICKETD_JOURNAL_H
#define TICKETD_JOURNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define JOURNAL_QUEUE 65536
#define JOURNAL_STREAM_LEN 2000 /* entries; one per event per batch */

struct journal_entry {
	uint64_t version;
	uint64_t word;          /* seat word after the change */
	int64_t expiry_unix_ms; /* live hold/order expiry, 0 otherwise */
	uint32_t event_id, seat_id;
	uint8_t status;         /* enum seat_status */
};

struct journal {
	char host[256];
	int port;
	pthread_t thread;
	pthread_mutex_t lock; /* guards the queue and the condition */
	pthread_cond_t cond;
	struct journal_entry *q;
	uint32_t head, len;
	bool stop;
	atomic_uint_least64_t written, dropped, failed_batches;
	atomic_bool connected;
};

int journal_start(struct journal *j, const char *host, int port);
/* Writes what is queued (bounded wait) and stops. */
void journal_stop(struct journal *j);

struct event_info;
struct seat_event;
struct tkt_change;

/* The seat stream's sink (seat_sink_fn; ctx is the journal): journals
 * every published change with its hold's wall-clock expiry. */
void journal_seat_sink(void *journal, const struct event_info *e,
		       const struct seat_event *ev, const struct tkt_change *rec);

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

/* Seat changes of an event with version > after, oldest first, up to max.
 * Returns how many were written to out, or a negative errno. */
struct seat_event;
int journal_read_since(const char *host, int port, uint32_t event_id,
		       uint64_t after, struct seat_event *out, int max);

#endif
