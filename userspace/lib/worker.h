/* A background thread that sleeps until it is kicked, a deadline passes or
 * it is asked to stop: the start/stop/kick/wait plumbing that the outbox
 * relay, the Kafka consumer and their kin share.
 *
 * The lock guards the three flags (and nothing of the owner's); the
 * condition uses CLOCK_MONOTONIC, the clock of tkt_mono_ms. A kick that
 * comes while the thread is busy is remembered and ends its next wait. */
#ifndef TKT_LIB_WORKER_H
#define TKT_LIB_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct worker {
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards stopping and kicked */
	pthread_cond_t cond;
	bool stopping, kicked;
};

/* Starts fn(arg) on a new thread. Returns 0 or -errno (nothing left
 * running, nothing to stop). */
int worker_start(struct worker *w, void *(*fn)(void *), void *arg);

/* Asks the thread to stop, wakes it and joins it. Safe on a worker that
 * never started or already stopped. */
void worker_stop(struct worker *w);

/* True once worker_stop was called (any thread). */
bool worker_stopping(struct worker *w);

/* Ends the thread's current or next wait (any thread). */
void worker_kick(struct worker *w);

/* The thread's sleep: returns when kicked (the kick is consumed), when
 * stopping, or at deadline_ms (tkt_mono_ms time), whichever comes first.
 * Returns true if kicked. */
bool worker_wait_until(struct worker *w, int64_t deadline_ms);

#endif
