/* The waiting room of one event (issue #12; docs/api.md, "Waiting room"):
 * who waits, in which order, and who is let through. In memory, one node.
 *
 * Every visitor (a session) gets a sequence number seq. Visitors who join
 * before starts_at wait in a pre-queue with seq 0; at the start they are
 * drawn: shuffled once and given the next K seqs in random order. Later
 * visitors get the next seq, first come, first served. A serving counter
 * advances at the room's rate (visitors per second) while fewer than
 * active_max admitted visitors are active; a waiting visitor whose seq is
 * at most the serving counter is admitted on its next visit when a place
 * is free. Position = seq - serving. An admitted visitor with no request
 * for idle_seconds (or whose admission is older than admit_seconds without
 * activity) loses its place; coming back it waits again at the end.
 *
 * No HTTP, no SQL, no clock of its own: every call gets now_ms (wall-clock
 * Unix ms), so tests drive it with a fake clock. Not thread-safe: the
 * caller (room/room_service.c) holds one lock per room around each call.
 * Admissions reach the seat table through struct room_edge_ops. */
#ifndef TICKETD_ROOM_H
#define TICKETD_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How the room marks admissions in the seat table (the edge's
 * edge_set_event_room, edge_admit and edge_admit_clear; wired in main.c).
 * Return values are 0 or a negative errno; a failure is counted, never
 * fatal (the room's own state stays the authority of the REST doors). */
struct room_edge_ops {
	int (*set_room)(void *ctx, uint32_t event_id, bool on);
	int (*admit)(void *ctx, uint32_t slot, uint32_t event_id, uint32_t ttl_ms);
	int (*clear)(void *ctx, uint32_t slot);
	void *ctx;
};

/* One row of event_rooms. */
struct room_settings {
	bool enabled;
	int64_t starts_at_ms;   /* wall clock; 0: already open */
	uint32_t rate_per_s;    /* 0: automatic (room_set_auto_rate); else the
				 * most, braked by room_set_brake */
	uint32_t active_max;    /* admitted visitors active at once */
	uint32_t idle_seconds;  /* no request for this long: place lost */
	uint32_t admit_seconds; /* lifetime of an admission mark, refreshed */
};

/* Defaults of a room created by the admin endpoint (and migration 008). */
#define ROOM_DEFAULT_RATE 50
#define ROOM_DEFAULT_ACTIVE_MAX 1000
#define ROOM_DEFAULT_IDLE_SECONDS 120
#define ROOM_DEFAULT_ADMIT_SECONDS 600
/* Limits of the settings (the admin endpoint refuses others). */
#define ROOM_RATE_MAX 1000000
#define ROOM_ACTIVE_MAX_MAX 10000000
#define ROOM_IDLE_MIN 5
#define ROOM_IDLE_MAX 86400
#define ROOM_ADMIT_MIN 10
#define ROOM_ADMIT_MAX 86400

/* A waiting visitor unseen this long is forgotten (its ticket brings it
 * back with its seq). */
#define ROOM_FORGET_MS (15 * 60 * 1000)

/* 0 or an error message for settings outside the limits above. */
const char *room_settings_check(const struct room_settings *s);

enum room_state {
	ROOM_OPEN = 0,  /* no room, or it is off: go to the seat map */
	ROOM_WAITING,
	ROOM_ADMITTED,
};

/* A visitor's view of the room after a visit. */
struct room_view {
	enum room_state state;
	uint64_t seq;           /* 0: in the pre-queue (not drawn yet) */
	int64_t issued_ms;      /* the ticket's time */
	uint64_t position;      /* waiting: seq - serving (0: next); pre-queue:
				 * visitors in the pre-queue */
	bool prequeue;
	uint32_t wait_seconds;  /* estimate */
	double rate;            /* the room's current rate, visitors/s */
	int64_t starts_at_ms;   /* 0: none */
	int64_t admitted_until_ms;
};

/* What a visitor's ticket says, once its MAC was checked (room_ticket.h). */
struct room_claim {
	uint64_t seq;
	int64_t issued_ms;
};

enum room_result {
	ROOM_OK = 0,
	ROOM_NOT_IN_QUEUE = -1, /* unknown session, no ticket, create false */
	ROOM_FULL = -2,         /* max_visitors reached */
	ROOM_NOMEM = -3,
};

struct room_stats {
	bool enabled;
	uint64_t serving, next_seq;
	uint32_t waiting;     /* visitors waiting (pre-queue included) */
	uint32_t prequeue;    /* of which in the pre-queue */
	uint32_t active;      /* admitted and active */
	uint32_t visitors;    /* records kept */
	uint64_t admitted_total;
	uint64_t expired_total; /* admitted visitors who lost their place */
	uint64_t edge_errors;   /* room_edge_ops calls that failed */
	double rate;
	uint32_t wait_seconds; /* estimate for the last visitor in the queue */
};

struct room;

/* A room for event_id, off until room_configure. max_visitors bounds the
 * records kept (waiting + admitted); seed drives the pre-queue draw (take
 * it from getrandom). ops is copied. NULL without memory. */
struct room *room_new(uint32_t event_id, const struct room_edge_ops *ops,
		      uint32_t max_visitors, uint64_t seed);
void room_free(struct room *r);

uint32_t room_event_id(const struct room *r);

/* Applies new settings (turning the room on or off tells the edge). */
void room_configure(struct room *r, const struct room_settings *s, int64_t now_ms);
void room_get_settings(const struct room *r, struct room_settings *s);
bool room_enabled(const struct room *r);

/* Progress kept across restarts by room_service: serving counter, next
 * seq, and the seq block of the last draw (seq-0 tickets issued before
 * that start are placed at random inside it). */
struct room_progress {
	uint64_t serving, next_seq, draw_lo, draw_hi;
	int64_t drawn_at_ms;
};
void room_get_progress(const struct room *r, struct room_progress *p);
void room_set_progress(struct room *r, const struct room_progress *p);

/* The automatic rate (rate_per_s 0) in visitors per second, set by the
 * service from measured capacity. */
void room_set_auto_rate(struct room *r, double rate);

/* The brake of a fixed rate (rate_per_s > 0): the room admits
 * rate_per_s x brake per second, brake in (0, 1] (1: the set rate; the
 * service lowers it while the purchase path is congested, room_auto.h). */
void room_set_brake(struct room *r, double brake);

/* One visit of session sid (its seat-table slot): joins or polls. claim is
 * the visitor's checked ticket or NULL. A session the room does not know
 * is added when create is true or it has a claim (a rejoin after a
 * restart keeps its seq); otherwise ROOM_NOT_IN_QUEUE. A waiting visitor
 * whose turn came is admitted here if a place is free; an admitted one
 * refreshes its activity. Fills out (state ROOM_OPEN when the room is
 * off). */
enum room_result room_visit(struct room *r, uint64_t sid, uint32_t slot,
			    const struct room_claim *claim, bool create,
			    int64_t now_ms, struct room_view *out);

/* Is session sid admitted (and active)? Refreshes its activity when it
 * is. A room that is off answers true. */
bool room_admitted(struct room *r, uint64_t sid, int64_t now_ms);

/* Once per tick (the service: every 100 ms): draws the pre-queue at the
 * start, advances the serving counter by rate * elapsed while places are
 * free, ends admissions that went idle, and every second or so forgets
 * waiting visitors unseen for ROOM_FORGET_MS. Returns true when positions
 * or states changed (streams have news). */
bool room_tick(struct room *r, int64_t now_ms);

void room_get_stats(const struct room *r, struct room_stats *st);

#endif
