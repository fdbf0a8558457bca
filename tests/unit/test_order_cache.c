/* The copies of ended orders (userspace/ticketd/commerce/order_cache.c):
 * only CONFIRMED and CANCELLED orders are kept, a lookup finds exactly the
 * order asked for, a newer order in the same slot replaces an older one,
 * and a cache never initialised keeps nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/ticketd/commerce/order_cache.h"

static struct order make(const char *id, const char *status)
{
	struct order o;

	memset(&o, 0, sizeof(o));
	snprintf(o.id, sizeof(o.id), "%s", id);
	snprintf(o.session_id, sizeof(o.session_id), "0123456789abcdef");
	snprintf(o.status, sizeof(o.status), "%s", status);
	if (!strcmp(status, "CANCELLED"))
		snprintf(o.reason, sizeof(o.reason), "PAYMENT_DECLINED");
	o.event_id = 7;
	o.amount = 4200;
	o.n_seats = 2;
	o.seats[0] = 3;
	o.seats[1] = 17;
	return o;
}

static void ended_orders_are_found_as_kept(void **state)
{
	struct order_cache c;
	struct order a = make("ord_a", "CONFIRMED"), b = make("ord_b", "CANCELLED"), got;

	(void)state;
	assert_int_equal(order_cache_init(&c, 1024), 0);
	order_cache_put(&c, &a);
	order_cache_put(&c, &b);
	assert_true(order_cache_get(&c, "ord_a", &got));
	assert_memory_equal(&got, &a, sizeof(a));
	assert_true(order_cache_get(&c, "ord_b", &got));
	assert_string_equal(got.status, "CANCELLED");
	assert_string_equal(got.reason, "PAYMENT_DECLINED");
	assert_int_equal(got.n_seats, 2);
	assert_false(order_cache_get(&c, "ord_c", &got));
	assert_int_equal(atomic_load(&c.hits), 2);
	assert_int_equal(atomic_load(&c.misses), 1);
	assert_int_equal(atomic_load(&c.stored), 2);
	order_cache_free(&c);
}

static void pending_orders_are_never_kept(void **state)
{
	struct order_cache c;
	struct order p = make("ord_p", "PENDING"), got;

	(void)state;
	assert_int_equal(order_cache_init(&c, 64), 0);
	order_cache_put(&c, &p);
	assert_false(order_cache_get(&c, "ord_p", &got));
	assert_int_equal(atomic_load(&c.stored), 0);
	order_cache_free(&c);
}

/* 64 slots, 1000 orders: every slot is reused; each lookup answers its
 * own order or nothing, never another one. */
static void a_reused_slot_never_answers_another_order(void **state)
{
	struct order_cache c;
	char id[32];
	int found = 0;

	(void)state;
	assert_int_equal(order_cache_init(&c, 64), 0);
	for (int i = 0; i < 1000; i++) {
		struct order o;

		snprintf(id, sizeof(id), "ord_%d", i);
		o = make(id, i % 2 ? "CONFIRMED" : "CANCELLED");
		order_cache_put(&c, &o);
	}
	for (int i = 0; i < 1000; i++) {
		struct order got;

		snprintf(id, sizeof(id), "ord_%d", i);
		if (order_cache_get(&c, id, &got)) {
			assert_string_equal(got.id, id);
			found++;
		}
	}
	assert_true(found > 0);
	assert_true(found <= 64);
	/* the last one stored is always there */
	{
		struct order got;

		assert_true(order_cache_get(&c, "ord_999", &got));
	}
	order_cache_free(&c);
}

static void an_uninitialised_cache_keeps_nothing(void **state)
{
	struct order_cache c;
	struct order a = make("ord_a", "CONFIRMED"), got;

	(void)state;
	assert_int_equal(order_cache_init(&c, 0), 0);
	order_cache_put(&c, &a);
	assert_false(order_cache_get(&c, "ord_a", &got));
	order_cache_free(&c);
}

static void final_statuses(void **state)
{
	(void)state;
	assert_true(order_cache_final("CONFIRMED"));
	assert_true(order_cache_final("CANCELLED"));
	assert_false(order_cache_final("PENDING"));
	assert_false(order_cache_final(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ended_orders_are_found_as_kept),
		cmocka_unit_test(pending_orders_are_never_kept),
		cmocka_unit_test(a_reused_slot_never_answers_another_order),
		cmocka_unit_test(an_uninitialised_cache_keeps_nothing),
		cmocka_unit_test(final_statuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
