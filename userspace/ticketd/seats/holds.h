/* Holds made by browsers (the REST door): the same seat words and the same
 * transition rules as the UDP doors, through edge_seat_apply. Multi-seat
 * holds are all-or-nothing. */
#ifndef TICKETD_HOLDS_H
#define TICKETD_HOLDS_H

#include <stdint.h>

struct ticketd;

#define HOLDS_MAX_SEATS 8

enum holds_result {
	HOLDS_OK = 0,
	HOLDS_NO_EVENT,      /* 404 EVENT_NOT_FOUND */
	HOLDS_NO_SEAT,       /* 422 VALIDATION_FAILED */
	HOLDS_UNAVAILABLE,   /* 409 SEAT_UNAVAILABLE, blockers listed */
	HOLDS_SOLD,          /* 422 SEAT_SOLD, sold seats listed */
	HOLDS_LIMIT,         /* 422 HOLD_LIMIT_EXCEEDED */
	HOLDS_LIMIT_ORIGIN,  /* 422 HOLD_LIMIT_EXCEEDED: the per-address limit */
	HOLDS_EXPIRED,       /* 410 RESERVATION_EXPIRED: nobody holds it */
	HOLDS_NOT_HOLDER,    /* 403 NOT_HOLDER: someone else holds it */
	HOLDS_IN_ORDER,      /* 409 SEAT_IN_ORDER: in the caller's pending order */
	HOLDS_BUSY,          /* 503: the change stream is full; retry */
	HOLDS_NOT_ADMITTED,  /* 403 NOT_ADMITTED: the event has a waiting room */
};

struct holds_outcome {
	enum holds_result result;
	uint32_t seats[HOLDS_MAX_SEATS]; /* blockers, for UNAVAILABLE and SOLD */
	int n_seats;
	int64_t expires_unix_ms; /* for OK */
	uint32_t limit;          /* for LIMIT: the event's seats per session */
};

/* Holds every seat for secs seconds for the session slot, or none. Seat ids
 * must already be distinct and 1..HOLDS_MAX_SEATS of them. */
void holds_reserve(struct ticketd *app, uint32_t slot, uint32_t event_id,
		   const uint32_t *seat_ids, int n, uint32_t secs,
		   struct holds_outcome *out);

/* Sets the caller's hold to expire secs from now. */
void holds_extend(struct ticketd *app, uint32_t slot, uint32_t event_id,
		  uint32_t seat_id, uint32_t secs, struct holds_outcome *out);

/* Gives the caller's hold back. */
void holds_release(struct ticketd *app, uint32_t slot, uint32_t event_id,
		   uint32_t seat_id, struct holds_outcome *out);

struct holds_entry {
	uint32_t event_id, seat_id;
	int64_t expires_unix_ms;
};

/* The slot's live holds (not seats in orders) from either door, in event
 * and seat order; returns how many were written (at most max). */
int holds_list(struct ticketd *app, uint32_t slot, struct holds_entry *out,
	       int max);

#endif
