/* The event catalogue: events and their seats (labels, prices), loaded from
 * MariaDB at start and read-only afterwards, so request threads share it
 * without locks. Each event owns a contiguous range of the seat table
 * starting at seat_base. */
#ifndef TICKETD_CATALOG_H
#define TICKETD_CATALOG_H

#include <stddef.h>
#include <stdint.h>

struct db_pool;

struct seat_info {
	char label[16];
	uint32_t price; /* minor currency unit */
	uint16_t r, c;
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
};

struct catalog {
	struct event_info *events; /* sorted by id */
	uint32_t n_events;
	uint32_t seats_used; /* seat table words taken by all events */
};

/* Loads every event and seat. Returns 0 or negative errno with err set. */
int catalog_load(struct catalog *cat, struct db_pool *db, uint32_t max_seats,
		 char *err, size_t errlen);

/* Inserts the demo events (3 x 10 x 10, prices by row) when the events
 * table is empty. Sets *created to the number of events inserted. */
int catalog_seed_demo(struct db_pool *db, int *created, char *err,
		      size_t errlen);

const struct event_info *catalog_find(const struct catalog *cat, uint32_t id);

void catalog_free(struct catalog *cat);

#endif
