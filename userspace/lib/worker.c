#include "userspace/lib/worker.h"

#include <errno.h>
#include <time.h>

int worker_start(struct worker *w, void *(*fn)(void *), void *arg)
{
	pthread_condattr_t ca;
	int rc;

	w->started = false;
	w->stopping = false;
	w->kicked = false;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&w->thread, NULL, fn, arg);
	if (rc) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		return -rc;
	}
	w->started = true;
	return 0;
}

void worker_stop(struct worker *w)
{
	if (!w->started)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->started = false;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

bool worker_stopping(struct worker *w)
{
	bool s;

	pthread_mutex_lock(&w->lock);
	s = w->stopping;
	pthread_mutex_unlock(&w->lock);
	return s;
}

void worker_kick(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->kicked = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

bool worker_wait_until(struct worker *w, int64_t deadline_ms)
{
	struct timespec ts = {.tv_sec = deadline_ms / 1000,
			      .tv_nsec = (deadline_ms % 1000) * 1000000};
	bool kicked;

	pthread_mutex_lock(&w->lock);
	while (!w->kicked && !w->stopping)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
			break;
	kicked = w->kicked;
	w->kicked = false;
	pthread_mutex_unlock(&w->lock);
	return kicked;
}
