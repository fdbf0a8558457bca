/* A SELL that fails after the order is CONFIRMED is repaired from the
 * database (saga_sell_seat in userspace/ticketd/commerce/saga.c), with fake
 * seat-word operations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bpf/ticket_wire.h"
#include "userspace/ticketd/commerce/saga.h"

struct fake {
	int sell_status;   /* what SELL answers */
	int restore_rc;    /* what the repair answers */
	int sells, restores;
	uint32_t restored_event, restored_seat;
};

static int fake_sell(void *ctx, uint32_t event_id, uint32_t seat_id)
{
	struct fake *f = ctx;

	(void)event_id;
	(void)seat_id;
	f->sells++;
	return f->sell_status;
}

static int fake_restore(void *ctx, uint32_t event_id, uint32_t seat_id)
{
	struct fake *f = ctx;

	f->restores++;
	f->restored_event = event_id;
	f->restored_seat = seat_id;
	return f->restore_rc;
}

static enum saga_sell run(struct fake *f)
{
	struct saga_seat_ops ops = {.sell = fake_sell, .restore_sold = fake_restore, .ctx = f};
	int st;

	return saga_sell_seat(&ops, 7, 42, &st);
}

static void ordered_seat_is_sold_without_a_repair(void **state)
{
	struct fake f = {.sell_status = TKT_OK};

	(void)state;
	assert_int_equal(run(&f), SAGA_SELL_OK);
	assert_int_equal(f.sells, 1);
	assert_int_equal(f.restores, 0);
}

static void seat_sold_already_needs_no_repair(void **state)
{
	struct fake f = {.sell_status = TKT_SOLD};

	(void)state;
	assert_int_equal(run(&f), SAGA_SELL_OK);
	assert_int_equal(f.restores, 0);
}

static void lapsed_word_is_repaired_to_sold_from_the_database(void **state)
{
	static const int statuses[] = {TKT_NOT_HOLDER, TKT_TAKEN};

	(void)state;
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		struct fake f = {.sell_status = statuses[i], .restore_rc = 0};

		assert_int_equal(run(&f), SAGA_SELL_REPAIRED);
		assert_int_equal(f.restores, 1);
		assert_int_equal(f.restored_event, 7);
		assert_int_equal(f.restored_seat, 42);
	}
}

static void failed_repair_is_reported_not_hidden(void **state)
{
	struct fake f = {.sell_status = TKT_TAKEN, .restore_rc = -5};

	(void)state;
	assert_int_equal(run(&f), SAGA_SELL_UNREPAIRED);
	assert_int_equal(f.restores, 1);
}

/* A seat whose SELL the full change queue refused stays on the retry list
 * until a retry sells it; the others leave it at once. */
struct queue {
	int refusals_left[8]; /* per seat id: RATE_LIMITED answers before OK */
	int sells;
};

static enum saga_sell queue_sell(void *ctx, const struct saga_unsold *u)
{
	struct queue *q = ctx;

	q->sells++;
	assert_int_equal(u->event_id, 7);
	assert_int_equal(u->slot, 100 + u->seat_id);
	if (q->refusals_left[u->seat_id] > 0) {
		q->refusals_left[u->seat_id]--;
		return SAGA_SELL_UNREPAIRED;
	}
	return SAGA_SELL_OK;
}

static void refused_sell_is_retried_until_sold(void **state)
{
	static struct saga_unsold_list l;
	struct queue q = {.refusals_left = {0, 2, 0, 1}};
	uint32_t sold;

	(void)state;
	saga_unsold_init(&l);
	for (uint32_t seat = 0; seat < 4; seat++)
		saga_unsold_add(&l, &(struct saga_unsold){.slot = 100 + seat, .event_id = 7,
							  .seat_id = seat});
	assert_int_equal(saga_unsold_count(&l), 4);
	assert_int_equal(saga_unsold_retry(&l, queue_sell, &q, &sold), 2);
	assert_int_equal(sold, 2);
	assert_int_equal(saga_unsold_retry(&l, queue_sell, &q, &sold), 1);
	assert_int_equal(sold, 1);
	assert_int_equal(l.items[0].seat_id, 1);
	assert_int_equal(saga_unsold_retry(&l, queue_sell, &q, &sold), 0);
	assert_int_equal(sold, 1);
	assert_int_equal(q.sells, 4 + 2 + 1);
	assert_int_equal(saga_unsold_retry(&l, queue_sell, &q, &sold), 0);
	assert_int_equal(q.sells, 7);
	assert_false(l.overflow);
}

static void full_retry_list_asks_for_a_full_pass(void **state)
{
	static struct saga_unsold_list l;

	(void)state;
	saga_unsold_init(&l);
	for (uint32_t i = 0; i < SAGA_UNSOLD_MAX; i++)
		saga_unsold_add(&l, &(struct saga_unsold){.seat_id = i});
	assert_false(l.overflow);
	saga_unsold_add(&l, &(struct saga_unsold){.seat_id = SAGA_UNSOLD_MAX});
	assert_true(l.overflow);
	assert_int_equal(saga_unsold_count(&l), SAGA_UNSOLD_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ordered_seat_is_sold_without_a_repair),
		cmocka_unit_test(seat_sold_already_needs_no_repair),
		cmocka_unit_test(lapsed_word_is_repaired_to_sold_from_the_database),
		cmocka_unit_test(failed_repair_is_reported_not_hidden),
		cmocka_unit_test(refused_sell_is_retried_until_sold),
		cmocka_unit_test(full_retry_list_asks_for_a_full_pass),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
