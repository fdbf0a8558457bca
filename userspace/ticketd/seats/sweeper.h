/* The sweeper: turns lapsed holds and orders AVAILABLE through the same
 * seat rules (op EXPIRE), so each expiry becomes one change record that the
 * stream versions, journals and announces. Runs every sweep_ms, which keeps
 * "AVAILABLE within 1 s after expiresAt" with room to spare. About once a
 * second it also runs the count collector (edge_counts_collect), which
 * deletes hold-count entries left at 0, so the count map keeps room for
 * sessions that hold nothing yet. */
#ifndef TICKETD_SWEEPER_H
#define TICKETD_SWEEPER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct ticketd;

struct sweeper {
	struct ticketd *app;
	pthread_t thread;
	atomic_bool stop;
	unsigned sweep_ms;
	atomic_uint_least64_t expired;
	atomic_uint_least64_t counts_retired; /* entries the collector deleted */
};

int sweeper_start(struct sweeper *sw, struct ticketd *app, unsigned sweep_ms);
void sweeper_stop(struct sweeper *sw);

#endif
