#include "userspace/seat_view.h"

#include <time.h>

#include "userspace/ticketd.h"

/* Until bpf/seat_word.h lands this decodes the agreed layout directly:
 * state in bits 63..62, expiry (CLOCK_MONOTONIC ms mod 2^32) in 31..0. */
static uint32_t now_ms32(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

const char *seat_status_name(enum seat_status s)
{
	static const char *const names[] = {"AVAILABLE", "HELD", "SOLD"};

	return names[s];
}

static enum seat_status word_status(uint64_t w, uint32_t now)
{
	unsigned state = (unsigned)(w >> 62);

	if (state == 3)
		return SEAT_SOLD;
	if (state == 0 || (int32_t)(now - (uint32_t)w) >= 0)
		return SEAT_AVAILABLE;
	return SEAT_HELD;
}

enum seat_status seat_view_status(const struct ticketd *app,
				  const struct event_info *e, uint32_t sid)
{
	uint64_t w = __atomic_load_n(&app->seats[e->seat_base + sid], __ATOMIC_ACQUIRE);

	return word_status(w, now_ms32());
}

struct seat_counts seat_view_counts(const struct ticketd *app,
				    const struct event_info *e)
{
	struct seat_counts c = {0};
	uint32_t now = now_ms32();

	for (uint32_t s = 0; s < e->n_seats; s++) {
		uint64_t w = __atomic_load_n(&app->seats[e->seat_base + s], __ATOMIC_RELAXED);

		switch (word_status(w, now)) {
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
