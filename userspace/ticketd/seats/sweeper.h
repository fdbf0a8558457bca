/* The sweeper: turns lapsed holds and orders AVAILABLE through the same
 * seat rules (op EXPIRE), so each expiry becomes one change record that the
 * stream versions, journals and announces. Runs every sweep_ms, which keeps
 * "AVAILABLE within 1 s after expiresAt" with room to spare. */
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
};

int sweeper_start(struct sweeper *sw, struct ticketd *app, unsigned sweep_ms);
void sweeper_stop(struct sweeper *sw);

#endif
