#include "userspace/ticketd/seats/sweeper.h"

#include <errno.h>
#include <time.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/ticketd/ticketd.h"

/* How often the count collector's schedule is looked at
 * (sweeper_collect_due). Entries at 0 stay until it runs (a give leaves
 * its entry for reuse), and the map has room for 2 x TKT_MAX_SEATS such
 * entries beyond every live count, so once a second is plenty. */
#define COLLECT_NS (1000ull * 1000 * 1000)
/* How often the map fill is sampled for /metrics (see sweeper.h). */
#define FILL_NS (5000ull * 1000 * 1000)

/* One pass over every event's seats; returns how many it expired. */
static int sweeper_pass(struct ticketd *app)
{
	int n = 0;

	const struct event_info *e;
	uint32_t cur = 0;

	while ((e = catalog_next(&app->catalog, &cur))) {
		uint32_t expired = 0;

		/* edge_sweep reads cheaply and EXPIREs through the shared rules;
		 * a seat it could not change now is retried next pass. */
		if (!edge_sweep(app->edge, e->id, &expired))
			n += (int)expired;
	}
	return n;
}

bool sweeper_collect_due(struct sweeper_collect *c, uint64_t now_ns,
			 uint64_t rate_limited)
{
	bool refused = rate_limited == UINT64_MAX || rate_limited != c->rate_limited;

	c->rate_limited = rate_limited;
	return !c->last_ns || refused || c->entries >= SWEEPER_COLLECT_BUSY ||
	       now_ns - c->last_ns >= SWEEPER_COLLECT_IDLE_NS;
}

/* RATE_LIMITED answers of both doors so far; UINT64_MAX when unknown. */
static uint64_t rate_limited_answers(struct edge *e)
{
	struct edge_stats st;

	if (edge_stats(e, &st))
		return UINT64_MAX;
	return st.xdp[TKT_RATE_LIMITED] + st.user[TKT_RATE_LIMITED];
}

static void sample_fill(struct sweeper *sw)
{
	struct edge_map_fill f;

	if (edge_map_fill(sw->app->edge, &f))
		return; /* keep the previous sample; its age shows */
	for (int m = 0; m < EDGE_MAP_N; m++) {
		atomic_store(&sw->fill_entries[m], f.entries[m]);
		atomic_store(&sw->fill_max[m], f.max_entries[m]);
	}
	atomic_store(&sw->fill_taken_ns, tkt_mono_ns());
}

int sweeper_fill(struct sweeper *sw, struct edge_map_fill *out,
		 uint64_t *taken_ns)
{
	*taken_ns = atomic_load(&sw->fill_taken_ns);
	if (!*taken_ns)
		return -EAGAIN;
	for (int m = 0; m < EDGE_MAP_N; m++) {
		out->entries[m] = atomic_load(&sw->fill_entries[m]);
		out->max_entries[m] = atomic_load(&sw->fill_max[m]);
	}
	return 0;
}

static void *sweeper_loop(void *arg)
{
	struct sweeper *sw = arg;
	struct timespec pause = {.tv_sec = sw->sweep_ms / 1000,
				 .tv_nsec = (long)(sw->sweep_ms % 1000) * 1000000L};

	uint64_t next_collect = 0, next_fill = 0;
	struct sweeper_collect collect = {0};

	while (!atomic_load(&sw->stop)) {
		int n = sweeper_pass(sw->app);
		uint64_t now = tkt_mono_ns();

		atomic_fetch_add(&sw->expired, (uint64_t)n);
		if (now >= next_collect) {
			uint32_t retired = 0, entries = 0;

			if (sweeper_collect_due(&collect, now,
						rate_limited_answers(sw->app->edge)) &&
			    !edge_counts_collect(sw->app->edge, &entries, &retired)) {
				atomic_fetch_add(&sw->counts_retired, retired);
				collect.last_ns = now;
				collect.entries = entries;
			}
			next_collect = now + COLLECT_NS;
		}
		/* after a collect, so the first sample has the count entries */
		if (now >= next_fill) {
			sample_fill(sw);
			next_fill = now + FILL_NS;
		}
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
