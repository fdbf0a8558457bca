/* Read-only views of the seat table: a seat's status as clients see it,
 * per-event counts, and seat-word expiries in wall-clock time. */
#ifndef TICKETD_SEAT_VIEW_H
#define TICKETD_SEAT_VIEW_H

#include <stdint.h>

struct ticketd;
struct event_info;

enum seat_status { SEAT_AVAILABLE = 0, SEAT_HELD, SEAT_SOLD };

struct seat_counts {
	uint32_t available, held, sold;
};

const char *seat_status_name(enum seat_status s);

/* The status a seat map shows for seat sid of e with status st: "BLOCKED"
 * for a kill seat (its word is SOLD without a sale), else st's name. */
const char *seat_view_status_name(const struct event_info *e, uint32_t sid,
				  enum seat_status st);

/* The contract's status of a seat-word state (TKT_SEAT_*): ORDERED shows
 * HELD (off sale, not sold). */
enum seat_status seat_status_of_state(uint32_t state);

/* Status of seat sid of event e now (an expired hold shows AVAILABLE; a seat
 * in a pending order shows HELD). */
enum seat_status seat_view_status(const struct ticketd *app,
				  const struct event_info *e, uint32_t sid);

struct seat_counts seat_view_counts(const struct ticketd *app,
				    const struct event_info *e);

/* Wall-clock Unix ms now, and the matching seat-word clock in *mono_ms,
 * from one fixed offset so a word always shows the same expiresAt. */
uint64_t ticketd_unix_ms_at(uint32_t *mono_ms);

#endif
