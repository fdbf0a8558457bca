#include "userspace/ticketd/seats/holds.h"

#include <time.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/ticketd/ticketd.h"

static void set_expiry(struct holds_outcome *out, uint64_t word)
{
	uint32_t now_ms;
	uint64_t now_unix_ms = ticketd_unix_ms_at(&now_ms);

	out->expires_unix_ms = (int64_t)tkt_sw_expiry_unix_ms(word, now_ms, now_unix_ms);
}

/* Reads the seats first so a request that cannot succeed changes nothing
 * (no hold-then-rollback flicker on the stream in the common case). Each
 * seat is judged by the HOLD rule itself (tkt_seat_transition on the word as
 * read), not by a copy of it. */
static enum holds_result precheck(struct ticketd *app, uint32_t slot,
				  const struct event_info *e,
				  const uint32_t *seat_ids, int n, uint32_t ttl_ms,
				  struct holds_outcome *out, int *new_seats)
{
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());
	int n_taken = 0, n_sold = 0;
	uint32_t taken[HOLDS_MAX_SEATS], sold[HOLDS_MAX_SEATS];

	*new_seats = 0;
	for (int i = 0; i < n; i++) {
		uint64_t w = tkt_load64(&app->seats[e->seat_base + seat_ids[i]]);
		struct tkt_seat_change c;

		tkt_seat_transition(w, TKT_SEAT_HOLD, slot, now_ms, ttl_ms, &c);
		if (c.status == TKT_SOLD)
			sold[n_sold++] = seat_ids[i];
		else if (c.status == TKT_TAKEN)
			taken[n_taken++] = seat_ids[i];
		else if (c.seen_state == TKT_SEAT_AVAILABLE)
			(*new_seats)++;
	}
	if (n_sold) {
		for (int i = 0; i < n_sold; i++)
			out->seats[i] = sold[i];
		out->n_seats = n_sold;
		return HOLDS_SOLD;
	}
	if (n_taken) {
		for (int i = 0; i < n_taken; i++)
			out->seats[i] = taken[i];
		out->n_seats = n_taken;
		return HOLDS_UNAVAILABLE;
	}
	return HOLDS_OK;
}

static enum holds_result result_of_status(const struct tkt_seat_res *res)
{
	switch (res->status) {
	case TKT_OK:
		return HOLDS_OK;
	case TKT_TAKEN:
		return HOLDS_UNAVAILABLE;
	case TKT_SOLD:
		return HOLDS_SOLD;
	case TKT_LIMIT_EXCEEDED:
		return res->origin_limited ? HOLDS_LIMIT_ORIGIN : HOLDS_LIMIT;
	case TKT_NO_SUCH_SEAT:
	case TKT_WRONG_NODE:
		return HOLDS_NO_SEAT;
	case TKT_NOT_ADMITTED:
		return HOLDS_NOT_ADMITTED;
	default:
		return HOLDS_BUSY;
	}
}

void holds_reserve(struct ticketd *app, uint32_t slot, uint32_t event_id,
		   const uint32_t *seat_ids, int n, uint32_t secs,
		   struct holds_outcome *out)
{
	const struct event_info *e = catalog_find(&app->catalog, event_id);
	uint32_t count = 0, limit = (uint32_t)app->cfg.hold_limit;
	uint32_t olimit = (uint32_t)app->cfg.origin_hold_limit;
	uint32_t newly[HOLDS_MAX_SEATS];
	uint64_t last_word = 0;
	int n_new = 0, new_seats = 0;

	out->n_seats = 0;
	out->expires_unix_ms = 0;
	if (!e) {
		out->result = HOLDS_NO_EVENT;
		return;
	}
	for (int i = 0; i < n; i++)
		if (seat_ids[i] >= e->n_seats) {
			out->result = HOLDS_NO_SEAT;
			return;
		}
	/* refused sessions learn nothing about the seats */
	if (!edge_may_hold(app->edge, slot, event_id)) {
		out->result = HOLDS_NOT_ADMITTED;
		return;
	}
	out->result = precheck(app, slot, e, seat_ids, n, secs * 1000u, out,
			       &new_seats);
	if (out->result != HOLDS_OK)
		return;
	edge_hold_count_get(app->edge, slot, event_id, &count);
	if (count + (uint32_t)new_seats > limit) {
		out->result = HOLDS_LIMIT;
		return;
	}
	count = 0;
	edge_origin_count_get(app->edge, slot, event_id, &count);
	if (olimit && count + (uint32_t)new_seats > olimit) {
		out->result = HOLDS_LIMIT_ORIGIN;
		return;
	}
	for (int i = 0; i < n; i++) {
		struct tkt_seat_res res;

		ticketd_seat_op(app, TKT_SRC_REST, TKT_SEAT_HOLD, slot, event_id, seat_ids[i], secs * 1000u,
		      &res);
		if (res.status == TKT_OK) {
			if (res.seen_state == TKT_SEAT_AVAILABLE)
				newly[n_new++] = seat_ids[i];
			last_word = res.word;
			continue;
		}
		/* Lost a race after the precheck: give back what this request
		 * took, so the answer is all-or-nothing. */
		for (int k = 0; k < n_new; k++) {
			struct tkt_seat_res undo;

			ticketd_seat_op(app, TKT_SRC_REST, TKT_SEAT_RELEASE, slot, event_id, newly[k], 0, &undo);
		}
		out->result = result_of_status(&res);
		out->seats[0] = seat_ids[i];
		out->n_seats = 1;
		return;
	}
	out->result = HOLDS_OK;
	set_expiry(out, last_word);
}

/* Maps a refused holder-only op to the contract's answer by who has the
 * seat now. */
static enum holds_result refusal(uint32_t slot, const struct tkt_seat_res *res)
{
	if (res->status == TKT_RATE_LIMITED)
		return HOLDS_BUSY;
	/* the word as the op saw it, at the instant it saw it */
	if (tkt_sw_claimed_by(res->word, slot, tkt_ms32(res->now_ns)) ==
	    TKT_SEAT_ORDERED)
		return HOLDS_IN_ORDER;
	switch (res->seen_state) {
	case TKT_SEAT_SOLD:
		return HOLDS_SOLD;
	case TKT_SEAT_ORDERED:
	case TKT_SEAT_HELD:
		return HOLDS_NOT_HOLDER;
	default:
		return HOLDS_EXPIRED;
	}
}

static void holder_op(struct ticketd *app, uint32_t op, uint32_t slot,
		      uint32_t event_id, uint32_t seat_id, uint32_t secs,
		      struct holds_outcome *out)
{
	const struct event_info *e = catalog_find(&app->catalog, event_id);
	struct tkt_seat_res res;

	out->n_seats = 0;
	out->expires_unix_ms = 0;
	if (!e) {
		out->result = HOLDS_NO_EVENT;
		return;
	}
	if (seat_id >= e->n_seats) {
		out->result = HOLDS_NO_SEAT;
		return;
	}
	ticketd_seat_op(app, TKT_SRC_REST, op, slot, event_id, seat_id, secs * 1000u, &res);
	if (res.status != TKT_OK) {
		out->result = refusal(slot, &res);
		return;
	}
	out->result = HOLDS_OK;
	if (op == TKT_SEAT_EXTEND)
		set_expiry(out, res.word);
}

void holds_extend(struct ticketd *app, uint32_t slot, uint32_t event_id,
		  uint32_t seat_id, uint32_t secs, struct holds_outcome *out)
{
	holder_op(app, TKT_SEAT_EXTEND, slot, event_id, seat_id, secs, out);
}

void holds_release(struct ticketd *app, uint32_t slot, uint32_t event_id,
		   uint32_t seat_id, struct holds_outcome *out)
{
	holder_op(app, TKT_SEAT_RELEASE, slot, event_id, seat_id, 0, out);
}

int holds_list(struct ticketd *app, uint32_t slot, struct holds_entry *out,
	       int max)
{
	uint32_t now_ms;
	uint64_t now_unix_ms = ticketd_unix_ms_at(&now_ms);
	int n = 0;

	for (uint32_t i = 0; i < app->catalog.n_events && n < max; i++) {
		const struct event_info *e = &app->catalog.events[i];

		/* multi-node: the words of an event served elsewhere are
		 * stale (cleared when it is taken over again) */
		if (edge_event_owned(app->edge, e->id) != (int)TKT_OWNED_YES)
			continue;
		for (uint32_t s = 0; s < e->n_seats && n < max; s++) {
			uint64_t w = tkt_load64(&app->seats[e->seat_base + s]);

			if (tkt_sw_claimed_by(w, slot, now_ms) != TKT_SEAT_HELD)
				continue;
			out[n].event_id = e->id;
			out[n].seat_id = s;
			out[n].expires_unix_ms = (int64_t)tkt_sw_expiry_unix_ms(
				w, now_ms, now_unix_ms);
			n++;
		}
	}
	return n;
}
