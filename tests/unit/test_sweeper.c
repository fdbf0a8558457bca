/* The count collector's schedule (userspace/ticketd/seats/sweeper.c,
 * sweeper_collect_due): a walk of the whole count map costs tens of ms, so
 * it runs once a second only while the map may need it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "userspace/ticketd/seats/sweeper.h"

#define S (1000ull * 1000 * 1000)

static void first_look_collects(void **state)
{
	struct sweeper_collect c = {0};

	(void)state;
	assert_true(sweeper_collect_due(&c, 1 * S, 0));
}

static void a_quiet_small_map_waits_for_the_idle_interval(void **state)
{
	struct sweeper_collect c = {.last_ns = 10 * S, .entries = 200, .rate_limited = 7};

	(void)state;
	for (uint64_t t = 11; t < 10 + SWEEPER_COLLECT_IDLE_NS / S; t++)
		assert_false(sweeper_collect_due(&c, t * S, 7));
	assert_true(sweeper_collect_due(&c, 10 * S + SWEEPER_COLLECT_IDLE_NS, 7));
}

static void a_busy_map_is_collected_every_look(void **state)
{
	struct sweeper_collect c = {.last_ns = 10 * S, .entries = SWEEPER_COLLECT_BUSY};

	(void)state;
	assert_true(sweeper_collect_due(&c, 11 * S, 0));
	c.entries = SWEEPER_COLLECT_BUSY - 1;
	assert_false(sweeper_collect_due(&c, 11 * S, 0));
}

/* RATE_LIMITED is how a take that found no room is answered: a growth
 * collects at the next look, once; unreadable counters collect too. */
static void rate_limited_answers_collect_at_the_next_look(void **state)
{
	struct sweeper_collect c = {.last_ns = 10 * S, .entries = 5, .rate_limited = 3};

	(void)state;
	assert_true(sweeper_collect_due(&c, 11 * S, 4));
	assert_int_equal(c.rate_limited, 4);
	assert_false(sweeper_collect_due(&c, 12 * S, 4));
	assert_true(sweeper_collect_due(&c, 13 * S, UINT64_MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_look_collects),
		cmocka_unit_test(a_quiet_small_map_waits_for_the_idle_interval),
		cmocka_unit_test(a_busy_map_is_collected_every_look),
		cmocka_unit_test(rate_limited_answers_collect_at_the_next_look),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
