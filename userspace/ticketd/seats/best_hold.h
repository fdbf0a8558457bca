/* Best available, held: reads an event's seat words into a free-seat map,
 * asks best_pick (seats/best.c) for seats and holds them through
 * holds_reserve, the normal hold path (same CAS rules, hold limits and
 * waiting-room admission). A seat lost to a concurrent buyer between the
 * read and the CAS makes holds_reserve give back what it took; the map is
 * read again and the next choice tried, at most BEST_HOLD_ATTEMPTS times. */
#ifndef TICKETD_BEST_HOLD_H
#define TICKETD_BEST_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "userspace/ticketd/seats/holds.h"

struct ticketd;

#define BEST_HOLD_ATTEMPTS 8

enum best_hold_result {
	BEST_HOLD_OK = 0,
	BEST_HOLD_REFUSED,     /* holds.result says why (as POST /api/reservations) */
	BEST_HOLD_NOT_ENOUGH,  /* 409 NOT_ENOUGH_SEATS: fewer free seats than count */
	BEST_HOLD_CONFLICT,    /* 409 CONFLICT_RETRY: races lost every attempt */
	BEST_HOLD_NO_MEMORY,   /* 503 */
};

struct best_hold_outcome {
	enum best_hold_result result;
	struct holds_outcome holds; /* expiry on OK; the refusal on REFUSED */
	uint32_t seats[HOLDS_MAX_SEATS]; /* ascending, on OK */
	int n_seats;
	bool together;
	int attempts;
};

/* Holds count (1..HOLDS_MAX_SEATS) best available seats of event_id for
 * the session slot for secs seconds, or nothing. */
/* What the buyer asks for beyond count (#17): only seats of these
 * categories / sections (none listed: any), the first seat accessible. */
#define BEST_FILTER_MAX 64
struct best_filter {
	uint16_t categories[BEST_FILTER_MAX];
	int n_categories;
	uint16_t sections[BEST_FILTER_MAX];
	int n_sections;
	bool accessible;
};

void best_hold(struct ticketd *app, uint32_t slot, uint32_t event_id,
	       int count, uint32_t secs, const struct best_filter *f,
	       struct best_hold_outcome *out);

#endif
