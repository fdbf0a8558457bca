/* The userspace change queue alone (userspace/lib/change_queue.h): order,
 * a full queue, discarded and unsubmitted reservations, and producers on
 * real threads against one consumer. Links libtkt.a only. */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "userspace/lib/change_queue.h"
#include "userspace/lib/clock.h"

static void put(struct change_queue *q, uint32_t seat_id)
{
	struct tkt_change *rec = change_queue_reserve(q);

	assert_non_null(rec);
	memset(rec, 0, sizeof(*rec));
	rec->seat_id = seat_id;
	change_queue_submit(rec);
}

static void records_come_out_in_reservation_order(void **state)
{
	struct change_queue q;
	struct tkt_change out;
	uint32_t i, round;

	(void)state;
	assert_int_equal(change_queue_init(&q, 4), 0);
	assert_int_equal(change_queue_take(&q, &out), -1);
	/* several laps round the cells */
	for (round = 0; round < 10; round++) {
		for (i = 0; i < 3; i++)
			put(&q, round * 3 + i);
		for (i = 0; i < 3; i++) {
			assert_int_equal(change_queue_take(&q, &out), 1);
			assert_int_equal(out.seat_id, round * 3 + i);
		}
		assert_int_equal(change_queue_take(&q, &out), -1);
	}
	change_queue_free(&q);
}

static void a_full_queue_refuses_until_the_consumer_takes(void **state)
{
	struct change_queue q;
	struct tkt_change out;
	uint32_t i;

	(void)state;
	/* 5 is rounded up to 8 */
	assert_int_equal(change_queue_init(&q, 5), 0);
	for (i = 0; i < 8; i++)
		put(&q, i);
	assert_null(change_queue_reserve(&q));
	assert_null(change_queue_reserve(&q));

	assert_int_equal(change_queue_take(&q, &out), 1);
	assert_int_equal(out.seat_id, 0);
	put(&q, 8);
	assert_null(change_queue_reserve(&q));
	for (i = 1; i <= 8; i++) {
		assert_int_equal(change_queue_take(&q, &out), 1);
		assert_int_equal(out.seat_id, i);
	}
	assert_int_equal(change_queue_take(&q, &out), -1);
	change_queue_free(&q);
}

static void take_skips_discards_and_waits_for_submits(void **state)
{
	struct change_queue q;
	struct tkt_change out, *a, *b, *c;

	(void)state;
	assert_int_equal(change_queue_init(&q, 8), 0);
	a = change_queue_reserve(&q);
	b = change_queue_reserve(&q);
	c = change_queue_reserve(&q);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	a->seat_id = 1;
	b->seat_id = 2;
	c->seat_id = 3;

	/* a later record does not overtake an unsubmitted earlier one */
	change_queue_submit(c);
	change_queue_discard(b);
	assert_int_equal(change_queue_take(&q, &out), -1);

	change_queue_submit(a);
	assert_int_equal(change_queue_take(&q, &out), 1);
	assert_int_equal(out.seat_id, 1);
	out.seat_id = 99;
	assert_int_equal(change_queue_take(&q, &out), 0); /* b, discarded */
	assert_int_equal(out.seat_id, 99);                /* left alone */
	assert_int_equal(change_queue_take(&q, &out), 1);
	assert_int_equal(out.seat_id, 3);
	assert_int_equal(change_queue_take(&q, &out), -1);

	/* a discarded cell is reusable like any other */
	put(&q, 4);
	assert_int_equal(change_queue_take(&q, &out), 1);
	assert_int_equal(out.seat_id, 4);
	change_queue_free(&q);
}

/* ---- producers on threads ---- */

#define PRODUCERS 4
#define PER_PRODUCER 20000u
#define DISCARD_EVERY 7u /* seat ids n with n % 7 == 3 are discarded */
#define STALL_NS (10 * 1000000000ull)

struct producer {
	struct change_queue *q;
	uint32_t id;
};

static int discarded(uint32_t n)
{
	return n % DISCARD_EVERY == 3;
}

static void *produce(void *arg)
{
	struct producer *p = arg;
	uint64_t start = tkt_mono_ns();
	uint32_t n;

	for (n = 0; n < PER_PRODUCER; n++) {
		struct tkt_change *rec;

		while (!(rec = change_queue_reserve(p->q))) {
			if (tkt_mono_ns() - start > STALL_NS)
				return (void *)1; /* the consumer stopped */
			sched_yield();
		}
		memset(rec, 0, sizeof(*rec));
		rec->event_id = p->id;
		rec->seat_id = n;
		if (discarded(n))
			change_queue_discard(rec);
		else
			change_queue_submit(rec);
	}
	return NULL;
}

static void producers_on_threads_keep_their_own_order(void **state)
{
	struct change_queue q;
	struct producer prod[PRODUCERS];
	pthread_t th[PRODUCERS];
	uint32_t next[PRODUCERS] = {0}, expect_records = 0, expect_discards = 0;
	uint32_t records = 0, discards = 0, out_of_order = 0, i, n;
	uint64_t last_progress;
	int rc;

	(void)state;
	for (n = 0; n < PER_PRODUCER; n++) {
		if (discarded(n))
			expect_discards += PRODUCERS;
		else
			expect_records += PRODUCERS;
	}
	/* small, so that producers find it full and wrap many times */
	assert_int_equal(change_queue_init(&q, 64), 0);
	for (i = 0; i < PRODUCERS; i++) {
		prod[i].q = &q;
		prod[i].id = i;
		rc = pthread_create(&th[i], NULL, produce, &prod[i]);
		assert_int_equal(rc, 0);
	}

	last_progress = tkt_mono_ns();
	while (records + discards < expect_records + expect_discards) {
		struct tkt_change out;

		rc = change_queue_take(&q, &out);
		if (rc < 0) {
			if (tkt_mono_ns() - last_progress > STALL_NS)
				break; /* lost a record: fail below */
			sched_yield();
			continue;
		}
		last_progress = tkt_mono_ns();
		if (rc == 0) {
			discards++;
			continue;
		}
		records++;
		/* each producer's records in its own order, discards skipped;
		 * counted, not asserted, so that the producers are joined
		 * before the test fails */
		if (out.event_id >= PRODUCERS) {
			out_of_order++;
			continue;
		}
		while (discarded(next[out.event_id]))
			next[out.event_id]++;
		if (out.seat_id != next[out.event_id])
			out_of_order++;
		next[out.event_id] = out.seat_id + 1;
	}

	for (i = 0; i < PRODUCERS; i++) {
		void *ret;

		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(out_of_order, 0);
	assert_int_equal(records, expect_records);
	assert_int_equal(discards, expect_discards);
	assert_int_equal(change_queue_take(&q, &(struct tkt_change){0}), -1);
	change_queue_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(records_come_out_in_reservation_order),
		cmocka_unit_test(a_full_queue_refuses_until_the_consumer_takes),
		cmocka_unit_test(take_skips_discards_and_waits_for_submits),
		cmocka_unit_test(producers_on_threads_keep_their_own_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
