/* Check-in: verification and the ticket_checkins table (checkins.h). */
#include "userspace/ticketd/commerce/checkins.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/db/db.h"

static int first_row(void *ctx, int n, char **v)
{
	struct checkin_outcome *out = ctx;

	if (n < 2 || !v[0] || !v[1])
		return -EIO;
	snprintf(out->first_scanner, sizeof(out->first_scanner), "%s", v[0]);
	out->first_scanned_ms = strtoll(v[1], NULL, 10);
	return 0;
}

/* The ticket is signed by this node: is it one seat of that order, at its
 * place, and is the order CONFIRMED? */
static enum checkin_result check_order(MYSQL *c, struct checkin_outcome *out)
{
	const struct ticket *t = &out->t;
	struct order o;
	int rc = order_store_get(c, t->order_id, false, &o);

	if (rc == -ENOENT) {
		out->why = "no such order";
		return CHECKIN_INVALID;
	}
	if (rc) {
		out->err = rc;
		return CHECKIN_ERROR;
	}
	if (o.event_id != t->event_id || t->serial > (uint32_t)o.n_seats ||
	    o.seats[t->serial - 1] != t->seat_id) {
		out->why = "the ticket does not match its order";
		return CHECKIN_INVALID;
	}
	if (strcmp(o.status, "CONFIRMED")) {
		snprintf(out->order_status, sizeof(out->order_status), "%s", o.status);
		out->why = "the order was cancelled or refunded";
		return CHECKIN_VOID;
	}
	return CHECKIN_ACCEPTED;
}

enum checkin_result checkins_record(const struct ticket_service *ts, MYSQL *c,
				    const struct checkin_scan *scan,
				    struct checkin_outcome *out)
{
	enum checkin_result r;
	long long n;

	memset(out, 0, sizeof(*out));
	switch (ticket_verify(ts->keys.pk, scan->ticket, scan->len, &out->t)) {
	case TICKET_OK:
		break;
	case TICKET_BAD_SIGNATURE:
		out->why = "the signature does not verify";
		return CHECKIN_INVALID;
	default:
		out->why = "not a v1 ticket";
		return CHECKIN_INVALID;
	}
	r = check_order(c, out);
	if (r != CHECKIN_ACCEPTED)
		return r;
	n = db_exec(c,
		    "INSERT INTO ticket_checkins (order_id, seat_id, event_id, serial,"
		    " scanner_id, scanned_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
		    "suuusi", out->t.order_id, (uint64_t)out->t.seat_id,
		    (uint64_t)out->t.event_id, (uint64_t)out->t.serial, scan->scanner,
		    scan->scanned_at_ms);
	if (n == 1) {
		snprintf(out->first_scanner, sizeof(out->first_scanner), "%s", scan->scanner);
		out->first_scanned_ms = scan->scanned_at_ms;
		return CHECKIN_ACCEPTED;
	}
	if (n != -EEXIST) {
		out->err = n < 0 ? (int)n : -EIO;
		return CHECKIN_ERROR;
	}
	/* Lost the race (or a second scan): the winner's row is committed. */
	n = db_select(c,
		      "SELECT scanner_id, scanned_at_ms FROM ticket_checkins"
		      " WHERE order_id = ? AND seat_id = ?",
		      first_row, out, "su", out->t.order_id, (uint64_t)out->t.seat_id);
	if (n != 1) {
		out->err = n < 0 ? (int)n : -EIO;
		return CHECKIN_ERROR;
	}
	if (!strcmp(out->first_scanner, scan->scanner) &&
	    out->first_scanned_ms == scan->scanned_at_ms)
		return CHECKIN_REPLAYED;
	return CHECKIN_DUPLICATE;
}

int checkins_parse_time(const char *s, int64_t *ms)
{
	size_t n = strlen(s);

	if (!n || s[n - 1] != 'Z' || tkt_parse_rfc3339_ms(s, ms))
		return -EINVAL;
	return 0;
}

int checkins_record_pooled(struct db_pool *pool, int wait_ms, const struct ticket_service *ts,
			   const struct checkin_scan *scan, enum checkin_result *r,
			   struct checkin_outcome *out)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		MYSQL *c = db_get_tx(pool, wait_ms);

		if (!c)
			return -EBUSY;
		*r = checkins_record(ts, c, scan, out);
		db_put(pool, c);
		if (*r != CHECKIN_ERROR || out->err != -ECONNRESET)
			return 0;
	}
	return 0;
}
