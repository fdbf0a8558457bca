/* The sweeper: turns lapsed holds and orders AVAILABLE through the same
 * seat rules (op EXPIRE), so each expiry becomes one change record that the
 * stream versions, journals and announces. Runs every sweep_ms, which keeps
 * "AVAILABLE within 1 s after expiresAt" with room to spare. It also runs
 * the count collector (edge_counts_collect), which deletes hold-count
 * entries left at 0, so the count map keeps room for sessions that hold
 * nothing yet: the collector walks every bucket of the map whatever its
 * fill (tens of ms of CPU), so it runs once a second only while the map
 * may need it (sweeper_collect_due) and every SWEEPER_COLLECT_IDLE_NS
 * otherwise. Every FILL_NS (5 s) it samples the fill
 * of the edge's maps with a limit (edge_map_fill: counting the rate-limit
 * map takes a few ms, too much for every scrape), which /metrics shows. */
#ifndef TICKETD_SWEEPER_H
#define TICKETD_SWEEPER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "userspace/lib/edge.h"

struct ticketd;

struct sweeper {
	struct ticketd *app;
	pthread_t thread;
	atomic_bool stop;
	unsigned sweep_ms;
	atomic_uint_least64_t expired;
	atomic_uint_least64_t counts_retired; /* entries the collector deleted */
	/* the last map-fill sample (sweeper_fill), each field atomic; taken_ns
	 * (CLOCK_MONOTONIC) 0 until the first sample */
	atomic_uint_least64_t fill_entries[EDGE_MAP_N];
	atomic_uint_least64_t fill_max[EDGE_MAP_N];
	atomic_uint_least64_t fill_taken_ns;
};

/* The collector's schedule. It is looked at once a second (the cadence it
 * keeps while the map may need it) and runs when:
 *   - its last pass left at least SWEEPER_COLLECT_BUSY entries (a map
 *     holding many sessions' counts fills fastest), or
 *   - RATE_LIMITED answers grew since the last look: that is how both doors
 *     answer a take that found no room in the map (as well as for rate
 *     limits and lost CAS races; a collect is then harmless), or
 *   - SWEEPER_COLLECT_IDLE_NS passed since the last pass.
 * Growing from the busy mark to full takes millions of new (slot or
 * origin, event) keys, and a map found full is collected within a second,
 * as before; a userspace take that finds no room collects at once
 * (edge.c). */
#define SWEEPER_COLLECT_BUSY (TKT_MAX_HOLD_KEYS / 8)
#define SWEEPER_COLLECT_IDLE_NS (5000ull * 1000 * 1000)

struct sweeper_collect {
	uint64_t last_ns;      /* monotonic time of the last pass, 0: none yet */
	uint32_t entries;      /* what the last pass left */
	uint64_t rate_limited; /* RATE_LIMITED answers (both doors) at the last look */
};

/* Whether the collector should run now (now_ns monotonic; rate_limited:
 * RATE_LIMITED answers of both doors so far, UINT64_MAX when they could
 * not be read). Notes rate_limited in c for the next look. */
bool sweeper_collect_due(struct sweeper_collect *c, uint64_t now_ns,
			 uint64_t rate_limited);

int sweeper_start(struct sweeper *sw, struct ticketd *app, unsigned sweep_ms);
void sweeper_stop(struct sweeper *sw);

/* The last map-fill sample: 0, or -EAGAIN when none was taken yet. */
int sweeper_fill(struct sweeper *sw, struct edge_map_fill *out,
		 uint64_t *taken_ns);

#endif
