#include "userspace/sweeper.h"

#include <errno.h>
#include <time.h>

#include "bpf/seat_word.h"
#include "userspace/edge.h"
#include "userspace/ticketd.h"

int sweeper_pass(struct ticketd *app, uint64_t *busy)
{
	uint32_t now_ms = tkt_ms32(ticketd_now_ns());
	int n = 0;

	for (uint32_t i = 0; i < app->catalog.n_events; i++) {
		const struct event_info *e = &app->catalog.events[i];

		for (uint32_t s = 0; s < e->n_seats; s++) {
			uint64_t w = tkt_load64(&app->seats[e->seat_base + s]);
			uint32_t st = tkt_sw_state(w);
			struct tkt_seat_req rq = {.event_id = e->id, .seat_id = s,
						  .op = TKT_SEAT_EXPIRE};
			struct tkt_seat_res res;

			if ((st != TKT_SEAT_HELD && st != TKT_SEAT_ORDERED) ||
			    !tkt_ms_reached(now_ms, tkt_sw_expiry(w)))
				continue;
			if (edge_seat_apply(app->edge, TKT_SRC_SWEEPER, &rq, &res))
				continue;
			if (res.status == TKT_OK && res.changed)
				n++;
			else if (res.status == TKT_RATE_LIMITED && busy)
				(*busy)++; /* stream full: next pass retries */
		}
	}
	return n;
}

static void *sweeper_loop(void *arg)
{
	struct sweeper *sw = arg;
	struct timespec pause = {.tv_sec = sw->sweep_ms / 1000,
				 .tv_nsec = (long)(sw->sweep_ms % 1000) * 1000000L};

	while (!atomic_load(&sw->stop)) {
		uint64_t busy = 0;
		int n = sweeper_pass(sw->app, &busy);

		atomic_fetch_add(&sw->expired, (uint64_t)n);
		atomic_fetch_add(&sw->busy, busy);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

int sweeper_start(struct sweeper *sw, struct ticketd *app, unsigned sweep_ms)
{
	sw->app = app;
	sw->sweep_ms = sweep_ms ? sweep_ms : 100;
	atomic_store(&sw->stop, false);
	return -pthread_create(&sw->thread, NULL, sweeper_loop, sw);
}

void sweeper_stop(struct sweeper *sw)
{
	if (!sw->app)
		return;
	atomic_store(&sw->stop, true);
	pthread_join(sw->thread, NULL);
	sw->app = NULL;
}
