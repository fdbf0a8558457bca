/* The shared worker thread (userspace/lib/worker.c): a kick ends a wait
 * early and is remembered when it comes first, a deadline ends a wait
 * without one, stop ends a sleeping thread at once. Real threads; every
 * wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/worker.h"

struct probe {
	struct worker w;
	atomic_int kicked;
};

/* Sleeps in 10-second waits until stopped, counting kicks. */
static void *sleeper(void *arg)
{
	struct probe *p = arg;

	while (!worker_stopping(&p->w))
		if (worker_wait_until(&p->w, tkt_mono_ms() + 10000))
			atomic_fetch_add(&p->kicked, 1);
	return NULL;
}

static void *idle(void *arg)
{
	(void)arg;
	return NULL;
}

static void kick_wakes_the_thread_and_stop_ends_it_at_once(void **state)
{
	struct probe p = {0};
	int64_t t0;

	(void)state;
	assert_int_equal(worker_start(&p.w, sleeper, &p), 0);
	worker_kick(&p.w);
	t0 = tkt_mono_ms();
	while (atomic_load(&p.kicked) < 1 && tkt_mono_ms() - t0 < 5000)
		;
	assert_int_equal(atomic_load(&p.kicked), 1);
	t0 = tkt_mono_ms();
	worker_stop(&p.w);
	assert_true(tkt_mono_ms() - t0 < 2000);
	assert_false(p.w.started);
	worker_stop(&p.w); /* twice is fine */
}

static void a_wait_ends_at_its_deadline_or_at_an_earlier_kick(void **state)
{
	struct worker w;
	int64_t t0;

	(void)state;
	assert_int_equal(worker_start(&w, idle, NULL), 0);
	t0 = tkt_mono_ms();
	assert_false(worker_wait_until(&w, t0 + 50));
	assert_true(tkt_mono_ms() - t0 >= 45);
	worker_kick(&w); /* before the wait: remembered */
	t0 = tkt_mono_ms();
	assert_true(worker_wait_until(&w, t0 + 5000));
	assert_true(tkt_mono_ms() - t0 < 1000);
	assert_false(worker_wait_until(&w, tkt_mono_ms() + 10)); /* consumed */
	worker_stop(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kick_wakes_the_thread_and_stop_ends_it_at_once),
		cmocka_unit_test(a_wait_ends_at_its_deadline_or_at_an_earlier_kick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
