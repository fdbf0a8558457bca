#include "userspace/ticketd/seats/seat_view.h"

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/ticketd/ticketd.h"

const char *seat_status_name(enum seat_status s)
{
	static const char *const names[] = {"AVAILABLE", "HELD", "SOLD"};

	return names[s];
}

const char *seat_view_status_name(const struct event_info *e, uint32_t sid,
				  enum seat_status st)
{
	if (st == SEAT_SOLD && sid < e->n_seats && (e->seats[sid].flags & SEAT_BLOCKED))
		return "BLOCKED";
	return seat_status_name(st > SEAT_SOLD ? SEAT_AVAILABLE : st);
}

enum seat_status seat_status_of_state(uint32_t state)
{
	switch (state) {
	case TKT_SEAT_SOLD:
		return SEAT_SOLD;
	case TKT_SEAT_HELD:
	case TKT_SEAT_ORDERED:
		return SEAT_HELD;
	default:
		return SEAT_AVAILABLE;
	}
}

/* A lapsed hold or order already shows AVAILABLE. */
static enum seat_status word_status(__u64 w, __u32 now_ms)
{
	return seat_status_of_state(tkt_sw_effective_state(w, now_ms));
}

enum seat_status seat_view_status(const struct ticketd *app,
				  const struct event_info *e, uint32_t sid)
{
	return word_status(tkt_load64(&app->seats[e->seat_base + sid]),
			   tkt_ms32(tkt_mono_ns()));
}

struct seat_counts seat_view_counts(const struct ticketd *app,
				    const struct event_info *e)
{
	struct seat_counts c = {0};
	__u32 now = tkt_ms32(tkt_mono_ns());

	for (uint32_t s = 0; s < e->n_seats; s++) {
		switch (word_status(tkt_load64(&app->seats[e->seat_base + s]), now)) {
		case SEAT_AVAILABLE:
			c.available++;
			break;
		case SEAT_HELD:
			c.held++;
			break;
		case SEAT_SOLD:
			c.sold++;
			break;
		}
	}
	return c;
}

uint64_t ticketd_unix_ms_at(uint32_t *mono_ms)
{
	/* Two clock reads: this runs for every journalled change. */
	uint64_t mono_ns = tkt_mono_ns();
	uint64_t offset_ms = (tkt_unix_ns() - mono_ns) / 1000000ull;

	*mono_ms = tkt_ms32(mono_ns);
	return mono_ns / 1000000ull + offset_ms;
}

