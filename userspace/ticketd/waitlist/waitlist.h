/* The waiting list of one sold-out event (docs/api.md, "Waiting list"):
 * sessions in join order, each wanting 1..WL_COUNT_MAX seats, and the offer
 * (seats held for the waiter's session slot) each one is being made.
 *
 * No threads, no locks, no I/O: the caller (waitlist_service.c) holds the
 * lock that guards a queue, and the seat table is reached only through
 * struct wl_ops, so the logic is unit-tested with fakes
 * (tests/unit/test_waitlist.c).
 *
 * The rules:
 * - A free seat goes to the first waiter in join order whose offer is not
 *   yet full (fewer seats than it asked for), through ops->hold (the REST
 *   hold rules: same CAS, hold limits, waiting-room admission). A waiter
 *   whose hold is refused (its limit, no admission) is passed over for
 *   this seat; at most WL_TRY_MAX are tried, then the seat stays free. A
 *   seat another buyer took first (TAKEN, SOLD) is simply not offered.
 * - Partial offers: the first seat makes the offer (announced at once);
 *   later seats join it, held until the same expiry, until the offer has
 *   as many seats as asked for.
 * - An offer ends in one of two ways: the waiter orders one of its seats
 *   (the entry leaves the list; seats it did not order lapse as any hold),
 *   or every seat of it is no longer held by the waiter (lapsed or given
 *   back): the entry leaves the list (a lapsed offer) and the seats, once
 *   the sweeper frees them, go to the next waiter.
 * - A waiter whose session expired is dropped when its turn comes (its
 *   slot may go to another session after the grace; it must never be
 *   given seats). */
#ifndef TICKETD_WAITLIST_H
#define TICKETD_WAITLIST_H

#include <stdbool.h>
#include <stdint.h>

#define WL_COUNT_MAX 4
#define WL_SID_LEN 8 /* a session id (bpf/ticket_wire.h) */
/* waiters whose hold was refused, at most, before a seat stays free */
#define WL_TRY_MAX 8

struct wl_entry {
	uint8_t sid[WL_SID_LEN]; /* the session id (key) */
	uint32_t slot;           /* the session's seat-table slot */
	uint8_t count;           /* seats wanted, 1..WL_COUNT_MAX */
	uint8_t n_offer;         /* seats offered (held for slot) so far */
	bool dead;               /* left the list; a hole until compaction */
	int64_t session_expires_ms; /* Unix ms: no seat is held for it after */
	int64_t joined_ms;          /* Unix ms */
	uint64_t seq;               /* join order within the event */
	int64_t offer_expires_ms;   /* Unix ms of the offer's holds, 0: none */
	uint32_t offer[WL_COUNT_MAX];
};

/* What ops->claim sees of a seat for a slot. */
enum wl_claim {
	WL_CLAIM_GONE = 0, /* free, lapsed or somebody else's */
	WL_CLAIM_HELD,     /* slot's live hold */
	WL_CLAIM_ORDERED,  /* slot's order, or sold */
};

enum wl_hold {
	WL_HOLD_OK = 0,
	WL_HOLD_TAKEN,   /* another buyer has it, or it is sold: not offered */
	WL_HOLD_REFUSED, /* this waiter may not hold it (limit, admission) */
};

/* Why an entry changed (wl_ops.changed). */
enum wl_change {
	WL_JOINED,
	WL_OFFERED,  /* a new offer (its first seat) */
	WL_GREW,     /* one more seat in an offer */
	WL_SHRANK,   /* a seat of an offer is no longer held */
	WL_LEFT,     /* DELETE */
	WL_ORDERED,  /* the waiter ordered an offered seat */
	WL_LAPSED,   /* every seat of the offer lapsed or was given back */
	WL_EXPIRED,  /* the session expired */
};

struct wl_ops {
	/* Holds seat for slot for secs; *expires_ms: the hold's expiry. */
	enum wl_hold (*hold)(void *ctx, uint32_t slot, uint32_t event_id,
			     uint32_t seat_id, uint32_t secs, int64_t *expires_ms);
	enum wl_claim (*claim)(void *ctx, uint32_t slot, uint32_t event_id,
			       uint32_t seat_id);
	/* Gives slot's hold of seat back (DELETE of a waiter with an offer). */
	void (*release)(void *ctx, uint32_t slot, uint32_t event_id,
			uint32_t seat_id);
	/* e changed (after the change; for a removal, e is its last state).
	 * May be NULL. */
	void (*changed)(void *ctx, uint32_t event_id, const struct wl_entry *e,
			enum wl_change why);
	void *ctx;
};

struct wl_queue {
	uint32_t event_id;
	uint32_t max;         /* live entries at most */
	struct wl_entry *e;   /* join order, holes marked dead */
	uint32_t cap, used;   /* slots allocated, used (live and dead) */
	uint32_t live, head;  /* live entries; first slot that may be live */
	uint32_t n_offers;    /* live entries with n_offer > 0 */
	uint32_t *fen;        /* Fenwick tree of live flags over e[0..cap) */
	uint32_t *hash;       /* sid -> index + 1; 0 empty, UINT32_MAX deleted */
	uint32_t hmask;
	uint64_t next_seq;
};

enum wl_result {
	WL_OK = 0,
	WL_EXISTS,  /* the session is on the list already (its entry) */
	WL_FULL,    /* max live entries */
	WL_NOMEM,
	WL_NOT_FOUND,
};

void wl_queue_init(struct wl_queue *q, uint32_t event_id, uint32_t max);
void wl_queue_free(struct wl_queue *q);

/* Appends a waiter (or answers WL_EXISTS with the present entry). *out
 * points into the queue until the next call that changes it. */
enum wl_result wl_join(struct wl_queue *q, const uint8_t sid[WL_SID_LEN],
		       uint32_t slot, int64_t session_expires_ms, uint8_t count,
		       int64_t now_ms, const struct wl_ops *ops,
		       const struct wl_entry **out);

/* Puts back an entry as stored (start: from Redis), in any order; seq is
 * kept. Call wl_restore_done once all are in. */
enum wl_result wl_restore(struct wl_queue *q, const struct wl_entry *e);
void wl_restore_done(struct wl_queue *q);

/* The session's entry, or NULL; *position (1 = next) when pos != NULL. */
const struct wl_entry *wl_find(struct wl_queue *q, const uint8_t sid[WL_SID_LEN],
			       uint32_t *position);

/* Removes the session's entry and gives its offered seats back. */
enum wl_result wl_leave(struct wl_queue *q, const uint8_t sid[WL_SID_LEN],
			const struct wl_ops *ops);

/* A seat of the event became free: offers it (rules above). Returns the
 * entry that got it, or NULL. Checks the offers first (wl_check_offers),
 * so a lapsed offer never gets its own seat back. */
const struct wl_entry *wl_seat_free(struct wl_queue *q, uint32_t seat_id,
				    int64_t now_ms, uint32_t offer_secs,
				    const struct wl_ops *ops);

/* Ends the offers that were ordered or lapsed, and drops the seats of an
 * offer the waiter no longer holds. Returns the entries removed. */
uint32_t wl_check_offers(struct wl_queue *q, int64_t now_ms,
			 const struct wl_ops *ops);

#endif
