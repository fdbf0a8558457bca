/* Gateway answers gathered for settling together (saga_batcher in
 * userspace/ticketd/commerce/saga.c): a taker is asked for only while fewer
 * than max_takers are queued, a taker takes at most a batch, oldest first,
 * and whenever answers are gathered some taker is still queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "userspace/ticketd/commerce/saga.h"

static void one_answer_gets_a_taker_of_its_own(void **state)
{
	struct saga_batcher b;
	struct saga_job a = {0}, *got[8];
	bool again = true;

	(void)state;
	saga_batcher_init(&b, 2);
	assert_true(saga_batcher_add(&b, &a));
	assert_int_equal(saga_batcher_take(&b, got, 8, &again), 1);
	assert_ptr_equal(got[0], &a);
	assert_false(again);
	assert_int_equal(b.takers, 0);
	assert_int_equal(b.n, 0);
}

static void answers_gather_behind_busy_takers(void **state)
{
	struct saga_batcher b;
	struct saga_job jobs[20] = {0}, *got[8];
	int asked = 0, taken = 0;
	bool again;

	(void)state;
	saga_batcher_init(&b, 2);
	for (int i = 0; i < 20; i++)
		asked += saga_batcher_add(&b, &jobs[i]);
	assert_int_equal(asked, 2); /* two takers queued, the rest gathered */
	/* the first taker takes a batch, oldest first, and is queued again */
	assert_int_equal(saga_batcher_take(&b, got, 8, &again), 8);
	for (int i = 0; i < 8; i++)
		assert_ptr_equal(got[i], &jobs[i]);
	assert_true(again);
	taken += 8;
	/* the takers (re-queued while answers are left) drain the rest */
	for (int round = 0; round < 10 && b.n; round++) {
		taken += saga_batcher_take(&b, got, 8, &again);
		assert_true(again == (b.n > 0));
	}
	assert_int_equal(taken, 20);
	assert_int_equal(b.takers, 1); /* the other queued taker finds nothing */
	assert_int_equal(saga_batcher_take(&b, got, 8, &again), 0);
	assert_false(again);
	assert_int_equal(b.takers, 0);
	/* and the next answer asks for a taker again */
	assert_true(saga_batcher_add(&b, &jobs[0]));
}

static void gathered_answers_always_have_a_queued_taker(void **state)
{
	struct saga_batcher b;
	struct saga_job jobs[64] = {0}, *got[8];
	unsigned seed = 7;
	int queued = 0, next = 0;

	(void)state;
	saga_batcher_init(&b, 3);
	/* random adds and takes: whenever answers wait, a taker is queued */
	for (int step = 0; step < 2000; step++) {
		seed = seed * 1103515245u + 12345u;
		if ((seed >> 16) % 2 && b.n < 60) {
			queued += saga_batcher_add(&b, &jobs[next++ % 64]);
		} else if (queued > 0) {
			bool again;

			saga_batcher_take(&b, got, 1 + (int)((seed >> 20) % 8), &again);
			if (!again)
				queued--;
		}
		assert_int_equal(b.takers, queued);
		assert_true(b.takers <= 3);
		if (b.n > 0)
			assert_true(b.takers >= 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_answer_gets_a_taker_of_its_own),
		cmocka_unit_test(answers_gather_behind_busy_takers),
		cmocka_unit_test(gathered_answers_always_have_a_queued_taker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
