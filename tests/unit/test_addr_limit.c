/* The per-address limit table alone (userspace/lib/addr_limit.h): keys,
 * the GCRA bucket, open counts, eviction in fixed memory, and threads racing
 * on one table. Links libtkt.a only. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/un.h>

#include "userspace/lib/addr_limit.h"

#define SEC 1000000000ull

static struct addr_key v4(uint32_t host_order)
{
	struct addr_key k = {0};
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(host_order)};

	assert_int_equal(addr_key_from_sockaddr((struct sockaddr *)&in, &k), 0);
	return k;
}

static struct addr_key v6(const char *text)
{
	struct addr_key k = {0};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

	assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
	assert_int_equal(addr_key_from_sockaddr((struct sockaddr *)&in6, &k), 0);
	return k;
}

static void ipv6_is_keyed_by_its_64_and_mapped_ipv4_as_ipv4(void **state)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	struct addr_key k;

	(void)state;
	assert_true(v6("2001:db8:1:2::1").v == v6("2001:db8:1:2:ffff:1:2:3").v);
	assert_true(v6("2001:db8:1:2::1").v != v6("2001:db8:1:3::1").v);
	assert_true(v6("::ffff:127.0.0.1").v == v4(0x7f000001).v);
	assert_true(v4(0x7f000001).v != v4(0x7f000002).v);
	assert_int_equal(addr_key_from_sockaddr((struct sockaddr *)&un, &k),
			 -EAFNOSUPPORT);
	assert_int_equal(addr_key_from_sockaddr(NULL, &k), -EAFNOSUPPORT);
}

static void burst_then_rate_then_refill(void **state)
{
	struct addr_limit *l = addr_limit_new(1024, 2.0, 5); /* 2/s, burst 5 */
	struct addr_key a = v4(0x0a000001), b = v4(0x0a000002);
	uint64_t t = 1000 * SEC, retry = 0;

	(void)state;
	assert_non_null(l);
	for (int i = 0; i < 5; i++)
		assert_int_equal(addr_limit_take(l, &a, t, &retry), ADDR_LIMIT_OK);
	assert_int_equal(addr_limit_take(l, &a, t, &retry), ADDR_LIMIT_OVER);
	assert_int_equal(retry, SEC / 2); /* one token every half second */
	/* another address has its own bucket */
	assert_int_equal(addr_limit_take(l, &b, t, NULL), ADDR_LIMIT_OK);
	/* a refused take costs nothing: still half a second */
	assert_int_equal(addr_limit_take(l, &a, t + SEC / 4, &retry), ADDR_LIMIT_OVER);
	assert_int_equal(retry, SEC / 4);
	assert_int_equal(addr_limit_take(l, &a, t + SEC / 2, NULL), ADDR_LIMIT_OK);
	assert_int_equal(addr_limit_take(l, &a, t + SEC / 2, NULL), ADDR_LIMIT_OVER);
	/* idle long enough: the whole burst again, no more */
	t += 10 * SEC;
	for (int i = 0; i < 5; i++)
		assert_int_equal(addr_limit_take(l, &a, t, NULL), ADDR_LIMIT_OK);
	assert_int_equal(addr_limit_take(l, &a, t, NULL), ADDR_LIMIT_OVER);
	addr_limit_free(l);
}

static void open_count_caps_and_release_frees_a_place(void **state)
{
	struct addr_limit *l = addr_limit_new(1024, 1.0, 1);
	struct addr_key a = v4(0x0a000001), b = v4(0x0a000002);

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(addr_limit_acquire(l, &a, 3, 0), ADDR_LIMIT_OK);
	assert_int_equal(addr_limit_acquire(l, &a, 3, 0), ADDR_LIMIT_OVER);
	assert_int_equal(addr_limit_acquire(l, &b, 3, 0), ADDR_LIMIT_OK);
	assert_int_equal(addr_limit_open(l, &a), 3);
	addr_limit_release(l, &a);
	assert_int_equal(addr_limit_open(l, &a), 2);
	assert_int_equal(addr_limit_acquire(l, &a, 3, 0), ADDR_LIMIT_OK);
	/* releasing what was never acquired changes nothing */
	addr_limit_release(l, &(struct addr_key){.v = 42});
	assert_int_equal(addr_limit_open(l, &(struct addr_key){.v = 42}), 0);
	addr_limit_free(l);
}

/* One set of 16 ways: a flood of distinct addresses never grows the table
 * and is never refused while it is full of idle or merely rate-limited
 * entries. */
static void a_full_table_evicts_and_never_grows(void **state)
{
	struct addr_limit *l = addr_limit_new(ADDR_LIMIT_WAYS, 1.0, 3);
	uint64_t t = 5 * SEC;

	(void)state;
	for (uint32_t i = 0; i < 100000; i++) {
		struct addr_key k = v4(0x0b000000 + i);

		assert_int_equal(addr_limit_take(l, &k, t + i, NULL), ADDR_LIMIT_OK);
	}
	assert_int_equal(addr_limit_tracked(l), ADDR_LIMIT_WAYS);
	for (uint32_t i = 0; i < 100000; i++) {
		struct addr_key k = v4(0x0c000000 + i);

		assert_int_equal(addr_limit_acquire(l, &k, 1, t), ADDR_LIMIT_OK);
		addr_limit_release(l, &k);
	}
	assert_int_equal(addr_limit_tracked(l), ADDR_LIMIT_WAYS);
	addr_limit_free(l);
}

/* Eviction takes an idle entry first, so a client that is over its rate
 * keeps its state while newcomers come and go. */
static void eviction_keeps_a_limited_client_over_idle_ones(void **state)
{
	struct addr_limit *l = addr_limit_new(ADDR_LIMIT_WAYS, 1.0, 10);
	struct addr_key hog = v4(0x0a0000ff);
	uint64_t t = 100 * SEC, end = t + 5 * (SEC + SEC / 10);
	int more = 0;

	(void)state;
	while (addr_limit_take(l, &hog, t, NULL) == ADDR_LIMIT_OK)
		;
	/* rounds of newcomers 1.1 s apart, each taking one token: the last
	 * round is idle again when the next comes, and always closer to idle
	 * than the hog */
	for (uint32_t i = 0; i < 5; i++) {
		for (uint32_t j = 0; j < ADDR_LIMIT_WAYS; j++) {
			struct addr_key k = v4(0x0d000000 + i * 100 + j);

			assert_int_equal(addr_limit_take(l, &k, t + i * (SEC + SEC / 10), NULL),
					 ADDR_LIMIT_OK);
		}
	}
	/* 5.5 s after draining its burst of 10 at 1/s the hog has 5 tokens
	 * back, not a fresh burst of 10 */
	while (addr_limit_take(l, &hog, end, NULL) == ADDR_LIMIT_OK)
		more++;
	assert_int_equal(more, 5);
	addr_limit_free(l);
}

/* A set whose every entry holds something open refuses a new address; one
 * release makes room. */
static void only_a_set_full_of_open_entries_refuses(void **state)
{
	struct addr_limit *l = addr_limit_new(ADDR_LIMIT_WAYS, 1.0, 3);
	struct addr_key k, extra = v4(0x0e0000ff);

	(void)state;
	for (uint32_t i = 0; i < ADDR_LIMIT_WAYS; i++) {
		k = v4(0x0e000000 + i);
		assert_int_equal(addr_limit_acquire(l, &k, 1, 0), ADDR_LIMIT_OK);
	}
	assert_int_equal(addr_limit_acquire(l, &extra, 1, 0), ADDR_LIMIT_FULL);
	assert_int_equal(addr_limit_take(l, &extra, 0, NULL), ADDR_LIMIT_FULL);
	k = v4(0x0e000003);
	addr_limit_release(l, &k);
	assert_int_equal(addr_limit_acquire(l, &extra, 1, 0), ADDR_LIMIT_OK);
	for (uint32_t i = 0; i < ADDR_LIMIT_WAYS; i++) {
		k = v4(0x0e000000 + i);
		assert_int_equal(addr_limit_open(l, &k), i == 3 ? 0 : 1);
	}
	addr_limit_free(l);
}

/* ---- threads ---- */

#define THREADS 4
#define ROUNDS 50000

struct racer {
	struct addr_limit *l;
	int id;
	unsigned taken;
	unsigned over_seen;
};

/* Every thread takes from one bucket at a frozen clock: exactly the burst
 * succeeds in total, however the takes interleave. */
static void *take_frozen(void *arg)
{
	struct racer *r = arg;
	struct addr_key k = {.v = 0xffff7f000001ull};

	for (int i = 0; i < ROUNDS; i++)
		r->taken += addr_limit_take(r->l, &k, SEC, NULL) == ADDR_LIMIT_OK;
	return NULL;
}

static void racing_takes_grant_exactly_the_burst(void **state)
{
	struct addr_limit *l = addr_limit_new(4096, 1.0, 777);
	struct racer r[THREADS];
	pthread_t th[THREADS];
	unsigned total = 0;

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct racer){.l = l, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, take_frozen, &r[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		total += r[i].taken;
	}
	assert_int_equal(total, 777);
	addr_limit_free(l);
}

/* Threads acquire and release on a few shared addresses (and churn many
 * others through a small table): no count is lost or doubled, so every
 * address ends with nothing open, and no address ever exceeded its cap. */
static void *acquire_release(void *arg)
{
	struct racer *r = arg;

	for (int i = 0; i < ROUNDS; i++) {
		struct addr_key shared = {.v = 0xffff0a000000ull + (uint64_t)(i % 4)};
		struct addr_key churn = {.v = 0xffff0b000000ull +
					      (uint64_t)r->id * ROUNDS + (uint64_t)i};

		if (addr_limit_acquire(r->l, &shared, 3, (uint64_t)i) == ADDR_LIMIT_OK) {
			if (addr_limit_open(r->l, &shared) > 3)
				r->over_seen++;
			addr_limit_release(r->l, &shared);
		}
		(void)addr_limit_take(r->l, &churn, (uint64_t)i * 1000, NULL);
	}
	return NULL;
}

static void racing_acquires_and_releases_balance(void **state)
{
	struct addr_limit *l = addr_limit_new(64, 1000.0, 2);
	struct racer r[THREADS];
	pthread_t th[THREADS];

	(void)state;
	for (int i = 0; i < THREADS; i++) {
		r[i] = (struct racer){.l = l, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, acquire_release, &r[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].over_seen, 0);
	}
	for (uint64_t a = 0; a < 4; a++)
		assert_int_equal(addr_limit_open(l, &(struct addr_key){.v = 0xffff0a000000ull + a}),
				 0);
	assert_true(addr_limit_tracked(l) <= 64);
	addr_limit_free(l);
}

static void bad_arguments_make_no_table(void **state)
{
	(void)state;
	assert_null(addr_limit_new(0, 1.0, 1));
	assert_null(addr_limit_new(16, 0.0, 1));
	assert_null(addr_limit_new(16, 1.0, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ipv6_is_keyed_by_its_64_and_mapped_ipv4_as_ipv4),
		cmocka_unit_test(burst_then_rate_then_refill),
		cmocka_unit_test(open_count_caps_and_release_frees_a_place),
		cmocka_unit_test(a_full_table_evicts_and_never_grows),
		cmocka_unit_test(eviction_keeps_a_limited_client_over_idle_ones),
		cmocka_unit_test(only_a_set_full_of_open_entries_refuses),
		cmocka_unit_test(racing_takes_grant_exactly_the_burst),
		cmocka_unit_test(racing_acquires_and_releases_balance),
		cmocka_unit_test(bad_arguments_make_no_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
