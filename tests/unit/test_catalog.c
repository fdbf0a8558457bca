/* The live catalogue's snapshots (userspace/ticketd/commerce/catalog.c):
 * published by id, drafts hidden from buyers, a replaced snapshot still
 * readable, and the events map's flags an event asks for. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/ticket_maps.h"
#include "userspace/ticketd/commerce/catalog.h"

static struct event_info *ev(uint32_t id, uint8_t state, uint32_t base, uint32_t n)
{
	struct event_info *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	e->id = id;
	e->state = state;
	e->seat_base = base;
	e->n_seats = n;
	e->seats = calloc(n ? n : 1, sizeof(*e->seats));
	assert_non_null(e->seats);
	return e;
}

static void drafts_are_hidden_and_iteration_follows_ids(void **state)
{
	struct catalog cat;
	const struct event_info *e;
	uint32_t cur = 0, seen[4], n = 0;

	(void)state;
	assert_int_equal(catalog_init(&cat), 0);
	assert_int_equal(catalog_put(&cat, ev(9, EVENT_PUBLISHED, 100, 50)), 0);
	assert_int_equal(catalog_put(&cat, ev(3, EVENT_DRAFT, 150, 10)), 0);
	assert_int_equal(catalog_put(&cat, ev(5, EVENT_CANCELLED, 0, 100)), 0);
	assert_int_equal(catalog_put(&cat, ev(0, EVENT_PUBLISHED, 0, 1)), -ERANGE);
	assert_int_equal(catalog_put(&cat, ev(CATALOG_MAX_EVENTS, EVENT_PUBLISHED, 0, 1)), -ERANGE);
	assert_null(catalog_find(&cat, 3));
	assert_non_null(catalog_get(&cat, 3));
	assert_non_null(catalog_find(&cat, 5));
	assert_null(catalog_find(&cat, 4));
	while ((e = catalog_next(&cat, &cur)))
		seen[n++] = e->id;
	assert_int_equal(n, 2);
	assert_int_equal(seen[0], 5);
	assert_int_equal(seen[1], 9);
	cur = n = 0;
	while ((e = catalog_next_any(&cat, &cur)))
		n++;
	assert_int_equal(n, 3);
	assert_int_equal(cat.n_events, 3);
	assert_int_equal(cat.seats_used, 160);
	catalog_free(&cat);
}

static void a_replaced_snapshot_stays_readable(void **state)
{
	struct catalog cat;
	const struct event_info *old, *now;
	struct event_info *next;

	(void)state;
	assert_int_equal(catalog_init(&cat), 0);
	assert_int_equal(catalog_put(&cat, ev(7, EVENT_PUBLISHED, 0, 4)), 0);
	old = catalog_find(&cat, 7);
	next = event_info_dup(old);
	assert_non_null(next);
	next->seats[2].flags |= SEAT_BLOCKED;
	strcpy(next->name, "renamed");
	assert_int_equal(catalog_put(&cat, next), 0);
	now = catalog_find(&cat, 7);
	assert_ptr_not_equal(old, now);
	assert_string_equal(now->name, "renamed");
	/* the reader that found the old one may still use it */
	assert_int_equal(old->seats[2].flags, 0);
	assert_int_equal(old->n_seats, 4);
	assert_int_equal(cat.n_events, 1);
	catalog_free(&cat);
}

static void door_flags_close_outside_the_window_and_carry_the_policy(void **state)
{
	struct event_info *e = ev(1, EVENT_PUBLISHED, 0, 1);

	(void)state;
	e->hold_limit = 4;
	e->hold_seconds = 60;
	e->max_hold_seconds = 900;
	assert_int_equal(event_door_flags(e, 1000), tkt_event_policy(4, 60, 900));
	e->sale_starts_ms = 2000;
	e->sale_ends_ms = 3000;
	assert_true(event_door_flags(e, 1999) & TKT_EVENT_CLOSED);
	assert_false(event_door_flags(e, 2000) & TKT_EVENT_CLOSED);
	assert_true(event_door_flags(e, 3000) & TKT_EVENT_CLOSED);
	e->state = EVENT_CANCELLED;
	assert_true(event_door_flags(e, 2500) & TKT_EVENT_CLOSED);
	assert_false(event_door_flags(e, 2500) & TKT_EVENT_ROOM);
	event_info_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(drafts_are_hidden_and_iteration_follows_ids),
		cmocka_unit_test(a_replaced_snapshot_stays_readable),
		cmocka_unit_test(door_flags_close_outside_the_window_and_carry_the_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
