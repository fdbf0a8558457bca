#include "userspace/ticketd/seats/best_hold.h"

#include <stdlib.h>
#include <string.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/ticketd/seats/best.h"
#include "userspace/ticketd/ticketd.h"

static bool listed(const uint16_t *ids, int n, uint16_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return !n;
}

/* Free = AVAILABLE to every transition now (a lapsed hold counts as free;
 * the caller's own holds do not: best available adds new seats; a kill
 * seat or a gap is SOLD), and of the categories and sections asked for. */
static void read_map(struct ticketd *app, const struct event_info *e,
		     const struct best_filter *f, uint8_t *map, uint8_t *accessible)
{
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());

	for (uint32_t s = 0; s < e->n_seats; s++) {
		uint64_t w = tkt_load64(&app->seats[e->seat_base + s]);
		const struct seat_info *si = &e->seats[s];

		map[s] = tkt_sw_effective_state(w, now_ms) == TKT_SEAT_AVAILABLE &&
			 !(si->flags & (SEAT_BLOCKED | SEAT_GAP)) &&
			 listed(f->categories, f->n_categories, si->category) &&
			 listed(f->sections, f->n_sections, si->section);
		accessible[s] = map[s] && (si->flags & SEAT_ACCESSIBLE);
	}
}

void best_hold(struct ticketd *app, uint32_t slot, uint32_t event_id,
	       int count, uint32_t secs, const struct best_filter *f,
	       struct best_hold_outcome *out)
{
	const struct event_info *e = catalog_find(&app->catalog, event_id);
	uint32_t lost[BEST_HOLD_ATTEMPTS * HOLDS_MAX_SEATS];
	int n_lost = 0;
	uint8_t *map;

	memset(out, 0, sizeof(*out));
	out->result = BEST_HOLD_REFUSED;
	if (!e) {
		out->holds.result = HOLDS_NO_EVENT;
		return;
	}
	/* refused sessions learn nothing about the seats, as for holds */
	if (!edge_may_hold(app->edge, slot, event_id)) {
		out->holds.result = HOLDS_NOT_ADMITTED;
		return;
	}
	if (!e->n_seats || (uint32_t)e->rows * e->cols != e->n_seats) {
		out->result = BEST_HOLD_NOT_ENOUGH;
		return;
	}
	map = malloc(2 * (size_t)e->n_seats);
	if (!map) {
		out->result = BEST_HOLD_NO_MEMORY;
		return;
	}
	out->result = BEST_HOLD_CONFLICT;
	for (int a = 0; a < BEST_HOLD_ATTEMPTS; a++) {
		bool together;

		out->attempts = a + 1;
		read_map(app, e, f, map, map + e->n_seats);
		/* a seat that just beat us may read free again (its CAS is
		 * still landing): keep it out of this request's choices */
		for (int i = 0; i < n_lost; i++)
			map[lost[i]] = 0;
		if ((f->accessible ? best_pick_accessible(e->rows, e->cols, map, map + e->n_seats,
							  count, out->seats, &together)
				   : best_pick(e->rows, e->cols, map, count, out->seats,
					       &together)) != BEST_OK) {
			out->result = BEST_HOLD_NOT_ENOUGH;
			break;
		}
		holds_reserve(app, slot, event_id, out->seats, count, secs,
			      &out->holds);
		if (out->holds.result == HOLDS_OK) {
			out->result = BEST_HOLD_OK;
			out->n_seats = count;
			out->together = together;
			break;
		}
		if (out->holds.result != HOLDS_UNAVAILABLE &&
		    out->holds.result != HOLDS_SOLD) {
			out->result = BEST_HOLD_REFUSED;
			break;
		}
		for (int i = 0; i < out->holds.n_seats &&
				n_lost < (int)(sizeof(lost) / sizeof(lost[0])); i++)
			if (out->holds.seats[i] < e->n_seats)
				lost[n_lost++] = out->holds.seats[i];
	}
	free(map);
}
