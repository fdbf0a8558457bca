/* The waiting-list core (userspace/ticketd/waitlist/waitlist.c) over a
 * fake seat table: join order and positions, joining twice, the bound,
 * offers to the head waiter, partial offers that grow, lapsed and ordered
 * offers, waiters passed over when their hold is refused, expired
 * sessions, leaving with an offer, restore from storage, and positions
 * staying right across compaction of 10,000 waiters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/ticketd/waitlist/waitlist.h"

#define T0 1900000000000LL
#define EV 3
#define SEATS 16
#define OFFER_S 120

/* The fake seat table: who holds each seat, until when, or who ordered it. */
struct fake {
	uint32_t holder[SEATS];
	int64_t until[SEATS];
	bool ordered[SEATS];
	int64_t now;
	uint32_t refuse_slot; /* holds for this slot are refused (limit) */
	int holds, releases, changes[8];
};

static enum wl_hold f_hold(void *ctx, uint32_t slot, uint32_t ev, uint32_t seat,
			   uint32_t secs, int64_t *exp)
{
	struct fake *f = ctx;

	assert_int_equal(ev, EV);
	f->holds++;
	if (slot == f->refuse_slot)
		return WL_HOLD_REFUSED;
	if (f->ordered[seat] || (f->holder[seat] && f->until[seat] > f->now))
		return WL_HOLD_TAKEN;
	f->holder[seat] = slot;
	f->until[seat] = f->now + (int64_t)secs * 1000;
	*exp = f->until[seat];
	return WL_HOLD_OK;
}

static enum wl_claim f_claim(void *ctx, uint32_t slot, uint32_t ev, uint32_t seat)
{
	struct fake *f = ctx;

	(void)ev;
	if (f->holder[seat] != slot)
		return WL_CLAIM_GONE;
	if (f->ordered[seat])
		return WL_CLAIM_ORDERED;
	return f->until[seat] > f->now ? WL_CLAIM_HELD : WL_CLAIM_GONE;
}

static void f_release(void *ctx, uint32_t slot, uint32_t ev, uint32_t seat)
{
	struct fake *f = ctx;

	(void)ev;
	if (f->holder[seat] == slot) {
		f->holder[seat] = 0;
		f->releases++;
	}
}

static void f_changed(void *ctx, uint32_t ev, const struct wl_entry *e, enum wl_change why)
{
	struct fake *f = ctx;

	(void)ev;
	(void)e;
	f->changes[why]++;
}

static struct fake F;
static struct wl_ops OPS = {f_hold, f_claim, f_release, f_changed, &F};

static void sid_of(uint32_t n, uint8_t sid[WL_SID_LEN])
{
	memset(sid, 0, WL_SID_LEN);
	memcpy(sid, &n, sizeof(n));
	sid[WL_SID_LEN - 1] = 0xA5;
}

static int setup(void **state)
{
	struct wl_queue *q = calloc(1, sizeof(*q));

	memset(&F, 0, sizeof(F));
	F.now = T0;
	wl_queue_init(q, EV, 100000);
	*state = q;
	return 0;
}

static int teardown(void **state)
{
	wl_queue_free(*state);
	free(*state);
	return 0;
}

/* slot = n, session valid for an hour */
static const struct wl_entry *join(struct wl_queue *q, uint32_t n, uint8_t count,
				   enum wl_result want)
{
	const struct wl_entry *e;
	uint8_t sid[WL_SID_LEN];

	sid_of(n, sid);
	assert_int_equal(wl_join(q, sid, n, F.now + 3600000, count, F.now, &OPS, &e), want);
	return e;
}

static uint32_t position(struct wl_queue *q, uint32_t n)
{
	uint8_t sid[WL_SID_LEN];
	uint32_t pos = 0;

	sid_of(n, sid);
	return wl_find(q, sid, &pos) ? pos : 0;
}

static void joins_get_positions_in_order(void **state)
{
	struct wl_queue *q = *state;

	for (uint32_t n = 1; n <= 5; n++)
		join(q, n, 1, WL_OK);
	for (uint32_t n = 1; n <= 5; n++)
		assert_int_equal(position(q, n), n);
	assert_int_equal(position(q, 99), 0);
	assert_int_equal(F.changes[WL_JOINED], 5);
}

static void joining_twice_returns_the_entry(void **state)
{
	struct wl_queue *q = *state;
	const struct wl_entry *a = join(q, 1, 2, WL_OK);
	const struct wl_entry *b = join(q, 1, 4, WL_EXISTS);

	assert_ptr_equal(a, b);
	assert_int_equal(b->count, 2); /* the first join's count stays */
	assert_int_equal(q->live, 1);
}

static void full_list_refuses_newcomers(void **state)
{
	struct wl_queue *q = *state;

	q->max = 3;
	for (uint32_t n = 1; n <= 3; n++)
		join(q, n, 1, WL_OK);
	join(q, 4, 1, WL_FULL);
	join(q, 2, 1, WL_EXISTS);
}

static void leaving_moves_the_rest_up(void **state)
{
	struct wl_queue *q = *state;
	uint8_t sid[WL_SID_LEN];

	for (uint32_t n = 1; n <= 4; n++)
		join(q, n, 1, WL_OK);
	sid_of(2, sid);
	assert_int_equal(wl_leave(q, sid, &OPS), WL_OK);
	assert_int_equal(wl_leave(q, sid, &OPS), WL_NOT_FOUND);
	assert_int_equal(position(q, 1), 1);
	assert_int_equal(position(q, 2), 0);
	assert_int_equal(position(q, 3), 2);
	assert_int_equal(position(q, 4), 3);
}

static void free_seat_goes_to_the_head_waiter(void **state)
{
	struct wl_queue *q = *state;
	const struct wl_entry *e;

	join(q, 11, 1, WL_OK);
	join(q, 12, 1, WL_OK);
	e = wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	assert_non_null(e);
	assert_int_equal(e->slot, 11);
	assert_int_equal(e->n_offer, 1);
	assert_int_equal(e->offer[0], 5);
	assert_int_equal(e->offer_expires_ms, T0 + OFFER_S * 1000);
	assert_int_equal(F.holder[5], 11);
	assert_int_equal(q->n_offers, 1);
	assert_int_equal(F.changes[WL_OFFERED], 1);
	/* the next seat goes to the next waiter: the first has its count */
	e = wl_seat_free(q, 6, F.now, OFFER_S, &OPS);
	assert_non_null(e);
	assert_int_equal(e->slot, 12);
}

static void seat_nobody_waits_for_stays_free(void **state)
{
	struct wl_queue *q = *state;

	assert_null(wl_seat_free(q, 5, F.now, OFFER_S, &OPS));
	assert_int_equal(F.holds, 0);
	assert_int_equal(F.holder[5], 0);
}

static void partial_offer_grows_to_the_count_with_one_expiry(void **state)
{
	struct wl_queue *q = *state;
	const struct wl_entry *e;

	join(q, 11, 3, WL_OK);
	join(q, 12, 1, WL_OK);
	e = wl_seat_free(q, 1, F.now, OFFER_S, &OPS);
	assert_int_equal(e->n_offer, 1);
	F.now += 30500; /* 89.5 s left: the second hold gets 90 s */
	e = wl_seat_free(q, 2, F.now, OFFER_S, &OPS);
	assert_int_equal(e->slot, 11);
	assert_int_equal(e->n_offer, 2);
	assert_int_equal(F.until[2], F.now + 90000);
	assert_int_equal(e->offer_expires_ms, T0 + OFFER_S * 1000);
	assert_int_equal(F.changes[WL_GREW], 1);
	e = wl_seat_free(q, 3, F.now, OFFER_S, &OPS);
	assert_int_equal(e->slot, 11);
	assert_int_equal(e->n_offer, 3);
	e = wl_seat_free(q, 4, F.now, OFFER_S, &OPS);
	assert_int_equal(e->slot, 12);
	assert_int_equal(F.changes[WL_OFFERED], 2);
}

static void lapsed_offer_leaves_and_its_seat_goes_to_the_next(void **state)
{
	struct wl_queue *q = *state;
	const struct wl_entry *e;

	join(q, 11, 1, WL_OK);
	join(q, 12, 1, WL_OK);
	wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	F.now += OFFER_S * 1000 + 1; /* the hold lapsed; the sweeper frees it */
	e = wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	assert_non_null(e);
	assert_int_equal(e->slot, 12);
	assert_int_equal(F.changes[WL_LAPSED], 1);
	assert_int_equal(position(q, 11), 0);
	assert_int_equal(position(q, 12), 1);
	assert_int_equal(q->n_offers, 1);
}

static void ordered_offer_leaves_the_list(void **state)
{
	struct wl_queue *q = *state;

	join(q, 11, 2, WL_OK);
	wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	F.ordered[5] = true;
	assert_int_equal(wl_check_offers(q, F.now, &OPS), 1);
	assert_int_equal(F.changes[WL_ORDERED], 1);
	assert_int_equal(q->live, 0);
	assert_int_equal(q->n_offers, 0);
}

static void offer_given_back_in_part_shrinks(void **state)
{
	struct wl_queue *q = *state;
	uint8_t sid[WL_SID_LEN];
	const struct wl_entry *e;

	join(q, 11, 2, WL_OK);
	wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	wl_seat_free(q, 6, F.now, OFFER_S, &OPS);
	F.holder[5] = 0; /* the waiter released one seat */
	assert_int_equal(wl_check_offers(q, F.now, &OPS), 0);
	sid_of(11, sid);
	e = wl_find(q, sid, NULL);
	assert_int_equal(e->n_offer, 1);
	assert_int_equal(e->offer[0], 6);
	assert_int_equal(F.changes[WL_SHRANK], 1);
}

static void refused_waiter_is_passed_over(void **state)
{
	struct wl_queue *q = *state;
	const struct wl_entry *e;

	join(q, 11, 1, WL_OK);
	join(q, 12, 1, WL_OK);
	F.refuse_slot = 11; /* at its hold limit */
	e = wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	assert_int_equal(e->slot, 12);
	assert_int_equal(position(q, 11), 1); /* keeps its place */
}

static void at_most_try_max_refusals_then_the_seat_stays_free(void **state)
{
	struct wl_queue *q = *state;

	for (uint32_t n = 0; n < WL_TRY_MAX + 2; n++)
		join(q, 11, 1, n ? WL_EXISTS : WL_OK);
	/* every waiter shares slot 11 here only to be refused */
	for (uint32_t n = 1; n <= WL_TRY_MAX + 2; n++) {
		uint8_t sid[WL_SID_LEN];
		const struct wl_entry *e;

		sid_of(100 + n, sid);
		assert_int_equal(wl_join(q, sid, 11, F.now + 3600000, 1, F.now, &OPS, &e), WL_OK);
	}
	F.refuse_slot = 11;
	assert_null(wl_seat_free(q, 5, F.now, OFFER_S, &OPS));
	assert_int_equal(F.holds, WL_TRY_MAX);
}

static void seat_taken_by_another_buyer_is_not_offered(void **state)
{
	struct wl_queue *q = *state;

	join(q, 11, 1, WL_OK);
	F.holder[5] = 99;
	F.until[5] = F.now + 1000;
	assert_null(wl_seat_free(q, 5, F.now, OFFER_S, &OPS));
	assert_int_equal(F.holds, 1);
	assert_int_equal(position(q, 11), 1);
}

static void expired_session_is_dropped_not_given_seats(void **state)
{
	struct wl_queue *q = *state;
	const struct wl_entry *e;
	uint8_t sid[WL_SID_LEN];

	sid_of(11, sid);
	assert_int_equal(wl_join(q, sid, 11, F.now + 1000, 1, F.now, &OPS, &e), WL_OK);
	join(q, 12, 1, WL_OK);
	F.now += 2000;
	e = wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	assert_int_equal(e->slot, 12);
	assert_int_equal(F.changes[WL_EXPIRED], 1);
	assert_int_equal(F.holder[5], 12);
}

static void leaving_with_an_offer_releases_its_seats(void **state)
{
	struct wl_queue *q = *state;
	uint8_t sid[WL_SID_LEN];

	join(q, 11, 2, WL_OK);
	wl_seat_free(q, 5, F.now, OFFER_S, &OPS);
	wl_seat_free(q, 6, F.now, OFFER_S, &OPS);
	sid_of(11, sid);
	assert_int_equal(wl_leave(q, sid, &OPS), WL_OK);
	assert_int_equal(F.releases, 2);
	assert_int_equal(F.holder[5], 0);
	assert_int_equal(q->n_offers, 0);
	assert_int_equal(F.changes[WL_LEFT], 1);
}

static void restore_puts_entries_back_in_join_order(void **state)
{
	struct wl_queue *q = *state;
	struct wl_entry e;
	const uint64_t seqs[] = {7, 3, 9, 5};

	for (int i = 0; i < 4; i++) {
		memset(&e, 0, sizeof(e));
		sid_of((uint32_t)seqs[i], e.sid);
		e.slot = (uint32_t)seqs[i];
		e.count = 1;
		e.seq = seqs[i];
		e.session_expires_ms = F.now + 3600000;
		if (seqs[i] == 3) { /* restored with a live offer */
			e.n_offer = 1;
			e.offer[0] = 2;
			e.offer_expires_ms = F.now + 5000;
			F.holder[2] = 3;
			F.until[2] = F.now + 5000;
		}
		assert_int_equal(wl_restore(q, &e), WL_OK);
	}
	wl_restore_done(q);
	assert_int_equal(position(q, 3), 1);
	assert_int_equal(position(q, 5), 2);
	assert_int_equal(position(q, 7), 3);
	assert_int_equal(position(q, 9), 4);
	assert_int_equal(q->n_offers, 1);
	/* a new join comes after every restored one */
	assert_int_equal(join(q, 50, 1, WL_OK)->seq, 10);
	assert_int_equal(position(q, 50), 5);
}

static void positions_stay_right_across_compaction(void **state)
{
	struct wl_queue *q = *state;
	uint8_t sid[WL_SID_LEN];
	uint32_t n = 10000, pos = 0;

	for (uint32_t i = 1; i <= n; i++)
		join(q, i, 1, WL_OK);
	for (uint32_t i = 1; i <= n; i += 2) { /* every odd one leaves */
		sid_of(i, sid);
		assert_int_equal(wl_leave(q, sid, &OPS), WL_OK);
	}
	for (uint32_t i = n + 1; i <= n + 6000; i++) /* forces compaction */
		join(q, i, 1, WL_OK);
	for (uint32_t i = 2; i <= n; i += 2) {
		sid_of(i, sid);
		assert_non_null(wl_find(q, sid, &pos));
		assert_int_equal(pos, i / 2);
	}
	sid_of(n + 6000, sid);
	assert_non_null(wl_find(q, sid, &pos));
	assert_int_equal(pos, n / 2 + 6000);
	assert_int_equal(q->live, n / 2 + 6000);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(joins_get_positions_in_order),
		T(joining_twice_returns_the_entry),
		T(full_list_refuses_newcomers),
		T(leaving_moves_the_rest_up),
		T(free_seat_goes_to_the_head_waiter),
		T(seat_nobody_waits_for_stays_free),
		T(partial_offer_grows_to_the_count_with_one_expiry),
		T(lapsed_offer_leaves_and_its_seat_goes_to_the_next),
		T(ordered_offer_leaves_the_list),
		T(offer_given_back_in_part_shrinks),
		T(refused_waiter_is_passed_over),
		T(at_most_try_max_refusals_then_the_seat_stays_free),
		T(seat_taken_by_another_buyer_is_not_offered),
		T(expired_session_is_dropped_not_given_seats),
		T(leaving_with_an_offer_releases_its_seats),
		T(restore_puts_entries_back_in_join_order),
		T(positions_stay_right_across_compaction),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
