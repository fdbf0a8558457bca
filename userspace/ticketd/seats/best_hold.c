#include "userspace/ticketd/seats/best_hold.h"

#include <stdlib.h>
#include <string.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/ticketd/seats/best.h"
#include "userspace/ticketd/ticketd.h"

/* Free = AVAILABLE to every transition now (a lapsed hold counts as free;
 * the caller's own holds do not: best available adds new seats). */
static void read_map(struct ticketd *app, const struct event_info *e,
		     uint8_t *map)
{
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());

	for (uint32_t s = 0; s < e->n_seats; s++) {
		uint64_t w = tkt_load64(&app->seats[e->seat_base + s]);

		map[s] = tkt_sw_effective_state(w, now_ms) == TKT_SEAT_AVAILABLE;
	}
}

void best_hold(struct ticketd *app, uint32_t slot, uint32_t event_id,
	       int count, uint32_t secs, struct best_hold_outcome *out)
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
	map = malloc(e->n_seats);
	if (!map) {
		out->result = BEST_HOLD_NO_MEMORY;
		return;
	}
	out->result = BEST_HOLD_CONFLICT;
	for (int a = 0; a < BEST_HOLD_ATTEMPTS; a++) {
		bool together;

		out->attempts = a + 1;
		read_map(app, e, map);
		/* a seat that just beat us may read free again (its CAS is
		 * still landing): keep it out of this request's choices */
		for (int i = 0; i < n_lost; i++)
			map[lost[i]] = 0;
		if (best_pick(e->rows, e->cols, map, count, out->seats,
			      &together) != BEST_OK) {
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
