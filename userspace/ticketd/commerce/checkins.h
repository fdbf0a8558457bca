/* Check-in (docs/tickets.md): a scanned ticket is verified (signature,
 * then its order in MariaDB) and recorded in ticket_checkins, whose primary
 * key (order_id, seat_id) lets exactly one scan of a ticket in, however
 * many scanners race or upload offline scans later. */
#ifndef TICKETD_CHECKINS_H
#define TICKETD_CHECKINS_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/ticketd/commerce/tickets.h"

struct ticketd;

enum checkin_result {
	CHECKIN_ACCEPTED = 0, /* this scan let the ticket in */
	CHECKIN_REPLAYED,     /* the same scan (scanner, time) uploaded again */
	CHECKIN_DUPLICATE,    /* another scan was first: see first_* */
	CHECKIN_INVALID,      /* malformed, bad signature, or not one of ours */
	CHECKIN_VOID,         /* signed, but its order is not CONFIRMED */
	CHECKIN_ERROR,        /* the database failed (-ECONNRESET: retry) */
};

struct checkin_scan {
	const char *ticket;
	size_t len;
	const char *scanner;   /* ticket_scanner_id_ok */
	int64_t scanned_at_ms; /* the scanner's clock, Unix ms */
};

struct checkin_outcome {
	struct ticket t;         /* parsed, when the text was well formed */
	const char *why;         /* for CHECKIN_INVALID and CHECKIN_VOID */
	char order_status[16];   /* for CHECKIN_VOID */
	char first_scanner[65];  /* for CHECKIN_DUPLICATE / REPLAYED */
	int64_t first_scanned_ms;
	int err;                 /* for CHECKIN_ERROR: negative errno */
};

/* Verifies and records one scan on c (autocommit). */
enum checkin_result checkins_record(const struct ticket_service *ts, MYSQL *c,
				    const struct checkin_scan *scan,
				    struct checkin_outcome *out);

/* checkins_record on a connection from pool (waiting at most wait_ms),
 * tried again once on a connection that turned out dead. 0 with *r set,
 * or -EBUSY when no connection came free. */
struct db_pool;
int checkins_record_pooled(struct db_pool *pool, int wait_ms, const struct ticket_service *ts,
			   const struct checkin_scan *scan, enum checkin_result *r,
			   struct checkin_outcome *out);

/* Parses "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (RFC 3339 in UTC, a real date)
 * into Unix ms; 0 or -EINVAL. */
int checkins_parse_time(const char *s, int64_t *ms);

#endif
