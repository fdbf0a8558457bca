/* The sweeper: turns lapsed holds and orders AVAILABLE through the same
 * seat rules (op EXPIRE), so each expiry becomes one change record that the
 * stream versions, journals and announces. Runs every sweep_ms, which keeps
 * "AVAILABLE within 1 s after expiresAt" with room to spare. About once a
 * second it also runs the count collector (edge_counts_collect), which
 * deletes hold-count entries left at 0, so the count map keeps room for
 * sessions that hold nothing yet. Every FILL_NS (5 s) it samples the fill
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

int sweeper_start(struct sweeper *sw, struct ticketd *app, unsigned sweep_ms);
void sweeper_stop(struct sweeper *sw);

/* The last map-fill sample: 0, or -EAGAIN when none was taken yet. */
int sweeper_fill(struct sweeper *sw, struct edge_map_fill *out,
		 uint64_t *taken_ns);

#endif
