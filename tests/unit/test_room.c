/* The waiting room core (userspace/ticketd/room/room.c) on a fake clock,
 * and its queue tickets (room_ticket.c): the pre-queue draw, first come
 * first served after the start, the rate and the active cap, idle
 * timeouts, and tickets bound to their session and event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/ticketd/room/room.h"
#include "userspace/ticketd/room/room_auto.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/room/room_ticket.h"

#define T0 1900000000000LL /* a fixed wall-clock start, ms */
#define EV 7

/* A fake edge recording the admission marks. */
struct fake_edge {
	int admits, clears, set_on, set_off;
	uint32_t last_slot, last_event, last_ttl;
};

static int fake_set_room(void *ctx, uint32_t e, bool on)
{
	struct fake_edge *f = ctx;

	(void)e;
	if (on)
		f->set_on++;
	else
		f->set_off++;
	return 0;
}

static int fake_admit(void *ctx, uint32_t slot, uint32_t e, uint32_t ttl)
{
	struct fake_edge *f = ctx;

	f->admits++;
	f->last_slot = slot;
	f->last_event = e;
	f->last_ttl = ttl;
	return 0;
}

static int fake_clear(void *ctx, uint32_t slot)
{
	struct fake_edge *f = ctx;

	f->clears++;
	f->last_slot = slot;
	return 0;
}

static struct fake_edge edge;

static struct room *new_room(uint32_t rate, uint32_t active_max, int64_t starts_at)
{
	struct room_edge_ops ops = {fake_set_room, fake_admit, fake_clear, &edge};
	struct room_settings s = {
		.enabled = true,
		.starts_at_ms = starts_at,
		.rate_per_s = rate,
		.active_max = active_max,
		.idle_seconds = 30,
		.admit_seconds = 600,
	};
	struct room *r;

	memset(&edge, 0, sizeof(edge));
	r = room_new(EV, &ops, 100000, 42);
	assert_non_null(r);
	room_configure(r, &s, T0);
	return r;
}

/* Ticks every 100 ms from *now until until (exclusive). */
static void run_until(struct room *r, int64_t *now, int64_t until)
{
	while (*now < until) {
		*now += 100;
		room_tick(r, *now);
	}
}

static uint64_t sid(int i)
{
	return ((uint64_t)(i + 1) << 32) | 0x1234; /* never 0 */
}

static enum room_state visit(struct room *r, int i, int64_t now, struct room_view *v)
{
	assert_int_equal(room_visit(r, sid(i), (uint32_t)i + 1, NULL, true, now, v), ROOM_OK);
	return v->state;
}

static void room_off_answers_open(void **state)
{
	struct room_edge_ops ops = {fake_set_room, fake_admit, fake_clear, &edge};
	struct room *r = room_new(EV, &ops, 10, 1);
	struct room_view v;

	(void)state;
	assert_int_equal(room_visit(r, sid(0), 1, NULL, true, T0, &v), ROOM_OK);
	assert_int_equal(v.state, ROOM_OPEN);
	assert_true(room_admitted(r, sid(0), T0));
	room_free(r);
}

static void prequeue_draw_is_a_permutation_not_join_order(void **state)
{
	enum { N = 200 };
	struct room *r = new_room(1000, 100000, T0 + 10000);
	struct room_view v;
	bool seen[N + 1] = {0};
	int in_order = 0;
	int64_t now = T0;

	(void)state;
	for (int i = 0; i < N; i++) {
		assert_int_equal(visit(r, i, now, &v), ROOM_WAITING);
		assert_true(v.prequeue);
		assert_int_equal(v.seq, 0);
	}
	run_until(r, &now, T0 + 10000);
	for (int i = 0; i < N; i++) {
		assert_int_equal(room_visit(r, sid(i), (uint32_t)i + 1, NULL, false, now, &v),
				 ROOM_OK);
		assert_false(v.prequeue);
		assert_in_range(v.seq, 1, N);
		assert_false(seen[v.seq]);
		seen[v.seq] = true;
		in_order += v.seq == (uint64_t)i + 1;
	}
	assert_true(in_order < N / 4); /* shuffled, not join order */
	/* a visitor after the start comes after every pre-queued one */
	visit(r, N, now, &v);
	assert_int_equal(v.seq, N + 1);
	room_free(r);
}

static void after_the_start_first_come_first_served(void **state)
{
	struct room *r = new_room(1, 1000, 0);
	struct room_view v;
	int64_t now = T0;

	(void)state;
	for (int i = 0; i < 5; i++) {
		visit(r, i, now, &v);
		assert_int_equal(v.seq, (uint64_t)i + 1);
		assert_int_equal(v.position, (uint64_t)i + 1);
	}
	/* one a second: visitor 0 after 1 s, 1 after 2 s, ... */
	for (int k = 0; k < 5; k++) {
		run_until(r, &now, T0 + (k + 1) * 1000);
		for (int i = 0; i < 5; i++)
			assert_int_equal(visit(r, i, now, &v),
					 i <= k ? ROOM_ADMITTED : ROOM_WAITING);
	}
	room_free(r);
}

static void rate_lets_that_many_through_per_second(void **state)
{
	struct room *r = new_room(10, 100000, 0);
	struct room_view v;
	struct room_stats st;
	int64_t now = T0;
	int admitted = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		visit(r, i, now, &v);
	run_until(r, &now, T0 + 3000);
	for (int i = 0; i < 100; i++)
		admitted += visit(r, i, now, &v) == ROOM_ADMITTED;
	assert_in_range(admitted, 29, 31);
	room_get_stats(r, &st);
	assert_int_equal(st.active, (uint32_t)admitted);
	assert_int_equal(edge.admits, admitted);
	room_free(r);
}

#define assert_near(x, want) assert_true((x) > (want) - 1e-6 && (x) < (want) + 1e-6)

/* A braked fixed rate lets rate x brake through; released, the set rate. */
static void brake_slows_a_fixed_rate(void **state)
{
	struct room *r = new_room(10, 100000, 0);
	struct room_view v;
	int64_t now = T0;
	int admitted = 0;

	(void)state;
	room_set_brake(r, 0.5);
	for (int i = 0; i < 100; i++)
		visit(r, i, now, &v);
	assert_true(v.rate > 4.99 && v.rate < 5.01);
	run_until(r, &now, T0 + 4000);
	for (int i = 0; i < 100; i++)
		admitted += visit(r, i, now, &v) == ROOM_ADMITTED;
	assert_in_range(admitted, 19, 21);
	room_set_brake(r, 0.0); /* out of range: ignored */
	room_set_brake(r, 1.5);
	room_set_brake(r, 1.0);
	run_until(r, &now, T0 + 6000);
	admitted = 0;
	for (int i = 0; i < 100; i++)
		admitted += visit(r, i, now, &v) == ROOM_ADMITTED;
	assert_in_range(admitted, 39, 41);
	room_free(r);
}

/* The automatic rate doubles until the first congestion, but never past
 * 4 x max(served, min) + min: idle, it does not run away. */
static void auto_rate_slow_start_is_bounded_by_what_is_served(void **state)
{
	struct room_auto a;

	(void)state;
	room_auto_init(&a, 5);
	room_auto_step(&a, false, false, 0, 0, 5, 500);
	assert_near(a.rate, 10.0);
	for (int i = 0; i < 10; i++)
		room_auto_step(&a, false, false, 0, 0, 5, 500);
	assert_near(a.rate, 25.0); /* nobody buys: 4 x min + min at most */
	room_auto_step(&a, false, false, 10, 0, 5, 500);
	assert_near(a.rate, 45.0); /* 4 x 10 + 5 */
	for (double served = 10; served < 300; served *= 2)
		room_auto_step(&a, false, false, served, 0, 5, 500);
	assert_true(a.slow_start);
	assert_true(a.rate >= 300 && a.rate <= 500);
	room_auto_step(&a, false, false, 1000, 0, 5, 500);
	room_auto_step(&a, false, false, 1000, 0, 5, 500);
	assert_near(a.rate, 500.0); /* the max */
	assert_near(a.brake, 1.0);
}

/* Congested, the rate falls by 30 % a second but not below 0.9 x what
 * the purchase path served: it settles at the measured capacity instead
 * of collapsing; then grows by 10 % a second (after the slow start). */
static void auto_rate_settles_under_the_served_rate(void **state)
{
	struct room_auto a;

	(void)state;
	room_auto_init(&a, 5);
	a.rate = 400;
	room_auto_step(&a, true, true, 200, 0, 5, 500);
	assert_near(a.rate, 280.0);
	assert_false(a.slow_start);
	room_auto_step(&a, true, true, 200, 0, 5, 500);
	assert_near(a.rate, 196.0);
	room_auto_step(&a, true, true, 200, 0, 5, 500);
	assert_near(a.rate, 180.0); /* the floor: 0.9 x 200 */
	for (int i = 0; i < 20; i++)
		room_auto_step(&a, true, true, 200, 0, 5, 500);
	assert_near(a.rate, 180.0);
	room_auto_step(&a, true, true, 0, 0, 5, 500); /* a second with nothing served */
	assert_near(a.rate, 126.0);
	room_auto_step(&a, false, false, 126, 0, 5, 500);
	assert_near(a.rate, 138.6); /* + 10 % */
	for (int i = 0; i < 100; i++)
		room_auto_step(&a, true, true, 0, 0, 5, 500);
	assert_near(a.rate, 5.0); /* the min */
}

/* The brake of the fixed rates: congested, it goes down to 0.9 x served /
 * the fixed rates (30 % a second at most); not congested it releases by
 * 25 % a second up to 1; no fixed room: 1. */
static void brake_follows_the_served_rate(void **state)
{
	struct room_auto a;

	(void)state;
	room_auto_init(&a, 5);
	room_auto_step(&a, true, true, 200, 400, 5, 500);
	assert_near(a.brake, 0.7);
	room_auto_step(&a, true, true, 200, 400, 5, 500);
	assert_near(a.brake, 0.49);
	room_auto_step(&a, true, true, 200, 400, 5, 500);
	assert_near(a.brake, 0.45); /* 180 / 400 */
	room_auto_step(&a, true, true, 0, 400, 5, 500);
	room_auto_step(&a, true, true, 0, 400, 5, 500);
	room_auto_step(&a, true, true, 0, 400, 5, 500);
	assert_true(a.brake > 0.15 && a.brake < 0.16);
	for (int i = 0; i < 10; i++)
		room_auto_step(&a, true, true, 0, 400, 5, 500);
	assert_near(a.brake, 0.0125); /* min / fixed */
	for (int i = 0; i < 30; i++)
		room_auto_step(&a, false, false, 0, 400, 5, 500);
	assert_near(a.brake, 1.0);
	room_auto_step(&a, true, true, 10, 400, 5, 500);
	room_auto_step(&a, true, true, 10, 0, 5, 500);
	assert_near(a.brake, 1.0); /* no fixed room on */
	room_auto_step(&a, true, false, 10, 400, 5, 500);
	assert_near(a.brake, 1.0); /* doors half full but quick: no brake */
	room_auto_step(&a, true, true, 100, 400, 5, 500);
	assert_near(a.brake, 0.7);
}

/* The controller's input: latency and 503s of the purchase routes only; a
 * full room door's 503 says nothing of the purchase path. */
static void load_snapshot_counts_only_its_routes(void **state)
{
	static const char *const purchase[] = {"/api/orders", "/api/payments/authorize"};
	struct metrics m;
	struct metrics_load l;

	(void)state;
	metrics_init(&m);
	metrics_observe_http(&m, "/api/events/{id}/room", "GET", 503, 0.001);
	metrics_observe_http(&m, "/api/events/{id}/room", "GET", 200, 0.001);
	metrics_observe_http(&m, "/api/orders", "POST", 201, 0.01);
	metrics_observe_http(&m, "/api/payments/authorize", "POST", 503, 0.001);
	metrics_load_snapshot(&m, purchase, 2, 503, &l);
	assert_int_equal(l.overloaded, 1);
	{
		uint64_t n = 0;

		for (int i = 0; i <= METRICS_N_BUCKETS; i++)
			n += l.buckets[i];
		assert_int_equal(n, 2);
	}
	metrics_destroy(&m);
}

static void active_cap_is_never_exceeded(void **state)
{
	struct room *r = new_room(1000, 3, 0);
	struct room_view v;
	struct room_stats st;
	int64_t now = T0;
	int admitted = 0;

	(void)state;
	for (int i = 0; i < 10; i++)
		visit(r, i, now, &v);
	run_until(r, &now, T0 + 2000);
	for (int i = 0; i < 10; i++)
		admitted += visit(r, i, now, &v) == ROOM_ADMITTED;
	assert_int_equal(admitted, 3);
	room_get_stats(r, &st);
	assert_int_equal(st.active, 3);
	/* the others stay waiting, ready for the next free place */
	assert_int_equal(visit(r, 9, now, &v), ROOM_WAITING);
	assert_int_equal(v.position, 0);
	room_free(r);
}

static void idle_admitted_visitor_frees_its_place(void **state)
{
	struct room *r = new_room(1000, 1, 0);
	struct room_view v;
	struct room_stats st;
	int64_t now = T0;

	(void)state;
	visit(r, 0, now, &v);
	visit(r, 1, now, &v);
	run_until(r, &now, T0 + 500);
	assert_int_equal(visit(r, 0, now, &v), ROOM_ADMITTED);
	assert_int_equal(visit(r, 1, now, &v), ROOM_WAITING);
	/* 1 keeps polling; 0 goes quiet for idle_seconds (30) */
	for (int s = 1; s <= 31; s++) {
		run_until(r, &now, T0 + 500 + s * 1000);
		room_visit(r, sid(1), 2, NULL, false, now, &v);
	}
	assert_int_equal(v.state, ROOM_ADMITTED);
	assert_true(edge.clears >= 1);
	room_get_stats(r, &st);
	assert_int_equal(st.active, 1);
	assert_int_equal(st.expired_total, 1);
	/* 0 comes back: the end of the queue */
	assert_int_equal(visit(r, 0, now, &v), ROOM_WAITING);
	assert_int_equal(v.seq, 3);
	room_free(r);
}

static void activity_keeps_an_admitted_visitor(void **state)
{
	struct room *r = new_room(1000, 1, 0);
	struct room_view v;
	int64_t now = T0;

	(void)state;
	visit(r, 0, now, &v);
	run_until(r, &now, T0 + 500);
	assert_int_equal(visit(r, 0, now, &v), ROOM_ADMITTED);
	for (int s = 1; s <= 60; s++) {
		run_until(r, &now, T0 + 500 + s * 1000);
		if (s % 10 == 0)
			assert_true(room_admitted(r, sid(0), now));
	}
	assert_true(room_admitted(r, sid(0), now));
	room_free(r);
}

static void nothing_passes_before_the_start(void **state)
{
	struct room *r = new_room(1000, 1000, T0 + 5000);
	struct room_view v;
	int64_t now = T0;

	(void)state;
	visit(r, 0, now, &v);
	run_until(r, &now, T0 + 4900);
	assert_int_equal(visit(r, 0, now, &v), ROOM_WAITING);
	assert_true(v.prequeue);
	assert_true(v.wait_seconds >= 1);
	run_until(r, &now, T0 + 5500);
	assert_int_equal(visit(r, 0, now, &v), ROOM_ADMITTED);
	room_free(r);
}

static void unknown_session_without_ticket_is_not_in_queue(void **state)
{
	struct room *r = new_room(10, 10, 0);
	struct room_view v;

	(void)state;
	assert_int_equal(room_visit(r, sid(0), 1, NULL, false, T0, &v), ROOM_NOT_IN_QUEUE);
	room_free(r);
}

static void rejoin_with_ticket_keeps_seq(void **state)
{
	struct room *r = new_room(1, 10, 0), *again;
	struct room_view v;
	struct room_progress p;
	struct room_claim c;

	(void)state;
	for (int i = 0; i < 5; i++)
		visit(r, i, T0, &v);
	c.seq = v.seq;
	c.issued_ms = v.issued_ms;
	assert_int_equal(c.seq, 5);
	room_get_progress(r, &p);
	/* a restart: a new room with the saved progress */
	again = new_room(1, 10, 0);
	room_set_progress(again, &p);
	assert_int_equal(room_visit(again, sid(4), 5, &c, false, T0 + 10, &v), ROOM_OK);
	assert_int_equal(v.seq, 5);
	assert_int_equal(v.position, 5);
	/* a newcomer still comes after it */
	visit(again, 9, T0 + 20, &v);
	assert_int_equal(v.seq, 6);
	room_free(r);
	room_free(again);
}

static void full_room_refuses_newcomers(void **state)
{
	struct room_edge_ops ops = {0};
	struct room *r = room_new(EV, &ops, 3, 1);
	struct room_settings s = {true, 0, 10, 10, 30, 600};
	struct room_view v;

	(void)state;
	room_configure(r, &s, T0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(room_visit(r, sid(i), 1, NULL, true, T0, &v), ROOM_OK);
	assert_int_equal(room_visit(r, sid(3), 1, NULL, true, T0, &v), ROOM_FULL);
	/* one already in is still answered */
	assert_int_equal(room_visit(r, sid(1), 1, NULL, true, T0, &v), ROOM_OK);
	room_free(r);
}

static void turning_on_and_off_tells_the_edge(void **state)
{
	struct room *r = new_room(10, 10, 0);
	struct room_settings s;

	(void)state;
	assert_int_equal(edge.set_on, 1);
	room_get_settings(r, &s);
	s.enabled = false;
	room_configure(r, &s, T0);
	assert_int_equal(edge.set_off, 1);
	room_configure(r, &s, T0);
	assert_int_equal(edge.set_off, 1);
	room_free(r);
}

/* ---- tickets ---- */

static const uint8_t key[ROOM_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t sid_a[ROOM_SID_LEN] = {0, 0, 0, 1, 0x60, 0, 0, 0};
static const uint8_t sid_b[ROOM_SID_LEN] = {0, 0, 0, 2, 0x60, 0, 0, 0};

static void ticket_round_trips_for_its_session(void **state)
{
	char t[ROOM_TICKET_MAX];
	struct room_claim c;

	(void)state;
	room_ticket_format(key, EV, 12345, T0, sid_a, t);
	assert_int_equal(strncmp(t, "v1.7.12345.1900000000000.", 25), 0);
	assert_int_equal(room_ticket_check(key, t, EV, sid_a, T0, &c), ROOM_TICKET_OK);
	assert_int_equal(c.seq, 12345);
	assert_int_equal(c.issued_ms, T0);
}

static void ticket_of_another_session_is_refused(void **state)
{
	char t[ROOM_TICKET_MAX];
	struct room_claim c;

	(void)state;
	room_ticket_format(key, EV, 1, T0, sid_a, t);
	assert_int_equal(room_ticket_check(key, t, EV, sid_b, T0, &c), ROOM_TICKET_FORGED);
}

static void ticket_of_another_event_is_refused(void **state)
{
	char t[ROOM_TICKET_MAX];
	struct room_claim c;

	(void)state;
	room_ticket_format(key, EV, 1, T0, sid_a, t);
	assert_int_equal(room_ticket_check(key, t, EV + 1, sid_a, T0, &c),
			 ROOM_TICKET_OTHER_EVENT);
}

static void forged_ticket_is_refused(void **state)
{
	char t[ROOM_TICKET_MAX], *p;
	struct room_claim c;
	uint8_t other[ROOM_KEY_LEN] = {9};

	(void)state;
	room_ticket_format(key, EV, 100, T0, sid_a, t);
	/* a better seq with the same MAC */
	p = strstr(t, ".100.");
	p[1] = '0';
	p[2] = '9';
	p[3] = '9';
	memmove(p + 1, p + 2, strlen(p + 2) + 1); /* ".99." */
	assert_int_equal(room_ticket_check(key, t, EV, sid_a, T0, &c), ROOM_TICKET_FORGED);
	/* a ticket signed with another key */
	room_ticket_format(other, EV, 1, T0, sid_a, t);
	assert_int_equal(room_ticket_check(key, t, EV, sid_a, T0, &c), ROOM_TICKET_FORGED);
}

static void malformed_tickets_are_refused(void **state)
{
	static const char *const bad[] = {
		"", "v1", "v1.", "v2.7.1.1.00", "v1.7.1.1",
		"v1.07.1.1900000000000.0000000000000000000000000000000000000000000000000000000000000000",
		"v1.7.1.1900000000000.000000000000000000000000000000000000000000000000000000000000000",
		"v1.7.1.1900000000000.00000000000000000000000000000000000000000000000000000000000000000",
		"v1.7.1.1900000000000.000000000000000000000000000000000000000000000000000000000000000G",
		"v1.7.1.1900000000000.000000000000000000000000000000000000000000000000000000000000000A",
		"v1.4294967296.1.1.0000000000000000000000000000000000000000000000000000000000000000",
		"v1.7.18446744073709551616.1.0000000000000000000000000000000000000000000000000000000000000000",
		"v1.7.-1.1.0000000000000000000000000000000000000000000000000000000000000000",
		"v1.7.1.9223372036854775808.0000000000000000000000000000000000000000000000000000000000000000",
		" v1.7.1.1.0000000000000000000000000000000000000000000000000000000000000000",
		"v1.7.1.1.0000000000000000000000000000000000000000000000000000000000000000 ",
	};
	struct room_ticket t;
	struct room_claim c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(room_ticket_parse(bad[i], &t), -1);
		assert_int_equal(room_ticket_check(key, bad[i], EV, sid_a, T0, &c),
				 ROOM_TICKET_MALFORMED);
	}
	assert_int_equal(room_ticket_parse(NULL, &t), -1);
}

static void ticket_from_the_future_is_refused(void **state)
{
	char t[ROOM_TICKET_MAX];
	struct room_claim c;

	(void)state;
	room_ticket_format(key, EV, 1, T0 + 3600000, sid_a, t);
	assert_int_equal(room_ticket_check(key, t, EV, sid_a, T0, &c), ROOM_TICKET_FUTURE);
}

static void settings_outside_limits_are_refused(void **state)
{
	struct room_settings s = {true, 0, 10, 10, 30, 600};

	(void)state;
	assert_null(room_settings_check(&s));
	s.active_max = 0;
	assert_non_null(room_settings_check(&s));
	s.active_max = 10;
	s.idle_seconds = 1;
	assert_non_null(room_settings_check(&s));
	s.idle_seconds = 30;
	s.admit_seconds = 1;
	assert_non_null(room_settings_check(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(room_off_answers_open),
		cmocka_unit_test(prequeue_draw_is_a_permutation_not_join_order),
		cmocka_unit_test(after_the_start_first_come_first_served),
		cmocka_unit_test(rate_lets_that_many_through_per_second),
		cmocka_unit_test(brake_slows_a_fixed_rate),
		cmocka_unit_test(auto_rate_slow_start_is_bounded_by_what_is_served),
		cmocka_unit_test(auto_rate_settles_under_the_served_rate),
		cmocka_unit_test(brake_follows_the_served_rate),
		cmocka_unit_test(load_snapshot_counts_only_its_routes),
		cmocka_unit_test(active_cap_is_never_exceeded),
		cmocka_unit_test(idle_admitted_visitor_frees_its_place),
		cmocka_unit_test(activity_keeps_an_admitted_visitor),
		cmocka_unit_test(nothing_passes_before_the_start),
		cmocka_unit_test(unknown_session_without_ticket_is_not_in_queue),
		cmocka_unit_test(rejoin_with_ticket_keeps_seq),
		cmocka_unit_test(full_room_refuses_newcomers),
		cmocka_unit_test(turning_on_and_off_tells_the_edge),
		cmocka_unit_test(ticket_round_trips_for_its_session),
		cmocka_unit_test(ticket_of_another_session_is_refused),
		cmocka_unit_test(ticket_of_another_event_is_refused),
		cmocka_unit_test(forged_ticket_is_refused),
		cmocka_unit_test(malformed_tickets_are_refused),
		cmocka_unit_test(ticket_from_the_future_is_refused),
		cmocka_unit_test(settings_outside_limits_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
