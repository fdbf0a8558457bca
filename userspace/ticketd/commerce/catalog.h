/* The event catalogue: events and their seats (labels, prices, sections,
 * categories), live. Each event is an immutable snapshot (struct
 * event_info) published by id with one atomic pointer store; a change
 * publishes a new snapshot and keeps the old one until catalog_free, so a
 * reader (any thread, no lock) may keep the pointer it found for as long as
 * the daemon runs. Event ids are 1..CATALOG_MAX_EVENTS-1 (they index the
 * events map). Each event owns a contiguous range of the seat table
 * starting at seat_base, chosen once when it is created and never moved. */
#ifndef TICKETD_CATALOG_H
#define TICKETD_CATALOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct db_pool;

#define CATALOG_MAX_EVENTS 4096 /* TKT_MAX_EVENTS: ids index the events map */

/* seat_info.flags */
#define SEAT_ACCESSIBLE (1u << 0)
#define SEAT_COMPANION (1u << 1)
#define SEAT_BLOCKED (1u << 2) /* kill seat: its word is SOLD without a sale */
#define SEAT_GAP (1u << 3)     /* no seat: a short row's padding (also blocked) */

struct seat_info {
	char label[16];
	uint32_t price; /* minor currency unit */
	uint16_t r, c;
	uint16_t section, category; /* 0: none */
	uint8_t flags;              /* SEAT_* */
};

enum event_state {
	EVENT_PUBLISHED = 0, /* on sale (inside its window) */
	EVENT_DRAFT = 1,     /* admin only: not listed, not in the events map */
	EVENT_CANCELLED = 2, /* listed, nothing sells */
};

struct event_info {
	uint32_t id;
	char name[201];
	char venue[201];
	int64_t starts_at_ms; /* Unix ms */
	uint16_t rows, cols;
	uint32_t n_seats;
	uint32_t seat_base; /* index of seat 0 in the seat table */
	struct seat_info *seats;
	uint8_t state;               /* enum event_state */
	int64_t sale_starts_ms;      /* Unix ms, 0: none */
	int64_t sale_ends_ms;        /* Unix ms, 0: none */
	uint16_t hold_limit;         /* seats per session; 0: the server's */
	uint16_t hold_seconds;       /* default hold; 0: the server's */
	uint16_t max_hold_seconds;   /* hold lifetime cap; 0: the server's */
	char *categories_json;       /* JSON array text, NULL: [] */
	char *sections_json;         /* JSON array text, NULL: [] */
	uint64_t revision;           /* events.revision: grows with every change */
};

struct catalog {
	/* CATALOG_MAX_EVENTS snapshots by id, NULL for none */
	_Atomic(struct event_info *) *by_id;
	atomic_uint max_id;     /* highest id ever published */
	atomic_uint n_events;   /* events published (any state) */
	atomic_uint seats_used; /* seat table words taken by all events */
	/* Serialises writers (catalog_put) and guards retired. */
	pthread_mutex_t lock;
	struct event_info **retired;
	uint32_t n_retired, cap_retired;
};

int catalog_init(struct catalog *cat);

/* Publishes e (owned by the catalogue from now on, even on failure) as its
 * id's snapshot; the one it replaces stays readable until catalog_free.
 * -ERANGE for an id outside 1..CATALOG_MAX_EVENTS-1, -ENOMEM. */
int catalog_put(struct catalog *cat, struct event_info *e);

/* The event's current snapshot, whatever its state; NULL for none. */
const struct event_info *catalog_get(const struct catalog *cat, uint32_t id);

/* As catalog_get, but a DRAFT is no event: what every buyer-facing path
 * (REST, streams, holds, orders) sees. */
const struct event_info *catalog_find(const struct catalog *cat, uint32_t id);

/* Iterates in id order: start with *cursor = 0; NULL at the end.
 * catalog_next skips drafts, catalog_next_any does not. */
const struct event_info *catalog_next(const struct catalog *cat, uint32_t *cursor);
const struct event_info *catalog_next_any(const struct catalog *cat, uint32_t *cursor);

/* A deep copy (seats, JSON texts) to change and put; NULL on no memory. */
struct event_info *event_info_dup(const struct event_info *e);
void event_info_free(struct event_info *e);

/* The packed hold policy and closed bit of the events map's entry
 * (bpf/ticket_maps.h) for e at now_ms (Unix): closed when not PUBLISHED
 * or outside the sale window. */
uint32_t event_door_flags(const struct event_info *e, int64_t now_ms);

/* Loads every event and seat. Returns 0 or negative errno with err set. */
int catalog_load(struct catalog *cat, struct db_pool *db, uint32_t max_seats,
		 char *err, size_t errlen);

/* Loads one event (any state) with its seats into a new snapshot.
 * 0, -ENOENT, or negative errno with err set. */
int catalog_load_event(struct db_pool *db, uint32_t id, struct event_info **out,
		       char *err, size_t errlen);

/* catalog_version.version: grows with every change of any event. */
int catalog_read_version(struct db_pool *db, uint64_t *version);
/* Calls fn for every event's id and revision. */
int catalog_read_revisions(struct db_pool *db,
			   void (*fn)(void *ctx, uint32_t id, uint64_t revision),
			   void *ctx);

/* Inserts the demo events (3 x 10 x 10, prices by row) when the events
 * table is empty. Sets *created to the number of events inserted. */
int catalog_seed_demo(struct db_pool *db, int *created, char *err,
		      size_t errlen);

void catalog_free(struct catalog *cat);

#endif
