/* The pool's timed get: a saturated pool answers "none" within the wait
 * (so an HTTP thread can answer 503 at once), never blocks for good; the
 * connector never reconnects by itself; a dead connection is replaced when
 * next taken, and an unreachable server costs a bounded wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

static void connections_never_reconnect_by_themselves(void **state)
{
	MYSQL *conn = db_conn_init();
	my_bool reconnect = 1;

	(void)state;
	assert_non_null(conn);
	assert_int_equal(mysql_get_option(conn, MYSQL_OPT_RECONNECT, &reconnect), 0);
	assert_int_equal(reconnect, 0);
	mysql_close(conn);
}

/* A loopback port nobody listens on (bound, then closed). */
static unsigned closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void unreachable_server_answers_null_fast_and_keeps_the_slot(void **state)
{
	struct db_pool pool;
	MYSQL *one[1] = {NULL}; /* a slot waiting to be (re)connected */
	int idx[1];
	int64_t t0;

	(void)state;
	saturated_pool(&pool, one, idx);
	pool.n_free = 1;
	idx[0] = 0;
	snprintf(pool.host, sizeof(pool.host), "127.0.0.1");
	snprintf(pool.user, sizeof(pool.user), "nobody");
	pool.port = closed_port();
	t0 = tkt_mono_ms();
	assert_null(db_get_timed(&pool, 1000));
	assert_true(tkt_mono_ms() - t0 < 2000);
	assert_int_equal(pool.n_free, 1); /* the slot is back, still empty */
	assert_null(pool.conns[0]);
	assert_int_equal(atomic_load(&pool.connect_errors), DB_RECONNECT_TRIES);
	/* Within the hold-off the next borrower does not try again. */
	t0 = tkt_mono_ms();
	assert_null(db_get_timed(&pool, 1000));
	assert_true(tkt_mono_ms() - t0 < 50);
	assert_int_equal(atomic_load(&pool.connect_errors), DB_RECONNECT_TRIES);
	assert_int_equal(pool.n_free, 1);
}

static void dead_connection_is_dropped_when_returned(void **state)
{
	struct db_pool pool;
	MYSQL *one[1];
	int idx[1];

	(void)state;
	saturated_pool(&pool, one, idx);
	one[0] = db_conn_init(); /* never connected: as good as lost */
	assert_non_null(one[0]);
	assert_int_not_equal(mysql_ping(one[0]), 0);
	assert_true(db_conn_lost(mysql_errno(one[0])));
	db_put(&pool, one[0]);
	assert_int_equal(pool.n_free, 1);
	assert_null(pool.conns[0]); /* replaced when next taken */
}

/* A connection that died in the pool is caught by db_begin's START
 * TRANSACTION and replaced in its slot; when the server cannot be reached
 * the borrower gets -ECONNRESET and NULL, and the slot is back in the pool
 * (so db_put(NULL) after it is right). */
static void begin_on_a_dead_connection_replaces_it_once(void **state)
{
	struct db_pool pool;
	MYSQL *one[1];
	int idx[1];
	MYSQL *conn;

	(void)state;
	saturated_pool(&pool, one, idx);
	snprintf(pool.host, sizeof(pool.host), "127.0.0.1");
	snprintf(pool.user, sizeof(pool.user), "nobody");
	pool.port = closed_port();
	one[0] = conn = db_conn_init(); /* lent out, never connected: as good as dead */
	assert_non_null(conn);
	assert_int_equal(db_begin(&pool, &conn), -ECONNRESET);
	assert_null(conn);
	assert_int_equal(pool.n_free, 1);
	assert_null(pool.conns[0]);
	assert_int_equal(atomic_load(&pool.connect_errors), DB_RECONNECT_TRIES);
	db_put(&pool, conn);
	assert_int_equal(pool.n_free, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(connections_never_reconnect_by_themselves),
		cmocka_unit_test(unreachable_server_answers_null_fast_and_keeps_the_slot),
		cmocka_unit_test(dead_connection_is_dropped_when_returned),
		cmocka_unit_test(begin_on_a_dead_connection_replaces_it_once),
		cmocka_unit_test(saturated_pool_gives_up_after_the_wait),
		cmocka_unit_test(saturated_pool_with_no_wait_answers_at_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
