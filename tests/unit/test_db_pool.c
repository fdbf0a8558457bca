/* The pool's timed get: a saturated pool answers "none" within the wait
 * (so an HTTP thread can answer 503 at once), never blocks for good. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "userspace/lib/clock.h"
#include "userspace/ticketd/db/db.h"

/* A pool with one connection, lent out: db_pool_open's lock and condition
 * (CLOCK_MONOTONIC) without a server. */
static void saturated_pool(struct db_pool *pool, MYSQL **one, int *idx)
{
	pthread_condattr_t attr;

	memset(pool, 0, sizeof(*pool));
	pthread_mutex_init(&pool->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->cond, &attr);
	pthread_condattr_destroy(&attr);
	pool->conns = one;
	pool->free_idx = idx;
	pool->n_conns = 1;
	pool->n_free = 0;
}

static void saturated_pool_gives_up_after_the_wait(void **state)
{
	struct db_pool pool;
	MYSQL *one[1] = {NULL};
	int idx[1];
	int64_t t0, waited;

	(void)state;
	saturated_pool(&pool, one, idx);
	t0 = tkt_mono_ms();
	assert_null(db_get_timed(&pool, 80));
	waited = tkt_mono_ms() - t0;
	assert_true(waited >= 79);
	assert_true(waited < 2000);
}

static void saturated_pool_with_no_wait_answers_at_once(void **state)
{
	struct db_pool pool;
	MYSQL *one[1] = {NULL};
	int idx[1];
	int64_t t0;

	(void)state;
	saturated_pool(&pool, one, idx);
	t0 = tkt_mono_ms();
	assert_null(db_get_timed(&pool, 0));
	assert_true(tkt_mono_ms() - t0 < 50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(saturated_pool_gives_up_after_the_wait),
		cmocka_unit_test(saturated_pool_with_no_wait_answers_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
