/* The bounded queues behind the REST doors (issue #12): the saga job queue
 * refuses new work when full but always takes recorded decisions; the
 * payment client grants at most max_pending places to new
 * authorizations, and gives each back when its job ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "userspace/ticketd/commerce/payment_client.h"
#include "userspace/ticketd/commerce/saga.h"
#include "api/http.h"
#include "userspace/ticketd/rest/overload.h"

static void full_saga_queue_refuses_new_work(void **state)
{
	struct saga_queue q;
	struct saga_job jobs[4];

	(void)state;
	saga_queue_init(&q, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(saga_queue_push(&q, &jobs[i], true), 0);
	assert_int_equal(saga_queue_push(&q, &jobs[3], true), -EAGAIN);
	assert_int_equal(q.n, 3);
	assert_ptr_equal(saga_queue_pop(&q), &jobs[0]);
	assert_int_equal(saga_queue_push(&q, &jobs[3], true), 0);
	assert_int_equal(q.n, 3);
}

static void recorded_decisions_are_queued_past_the_bound(void **state)
{
	struct saga_queue q;
	struct saga_job jobs[5];

	(void)state;
	saga_queue_init(&q, 2);
	assert_int_equal(saga_queue_push(&q, &jobs[0], true), 0);
	assert_int_equal(saga_queue_push(&q, &jobs[1], true), 0);
	/* a decision already made is never refused: it would be lost */
	assert_int_equal(saga_queue_push(&q, &jobs[2], false), 0);
	assert_int_equal(saga_queue_push(&q, &jobs[3], false), 0);
	assert_int_equal(saga_queue_push(&q, &jobs[4], true), -EAGAIN);
	assert_int_equal(q.n, 4);
	for (int i = 0; i < 4; i++) /* first in, first out */
		assert_ptr_equal(saga_queue_pop(&q), &jobs[i]);
	assert_null(saga_queue_pop(&q));
	assert_int_equal(q.n, 0);
	assert_null(q.tail);
}

/* Gateway answers gathered for settling together wait for a worker as
 * much as queued jobs do: new work is refused when both together reach
 * the bound (else batching would let the backlog grow past it). */
static void gathered_answers_count_toward_the_bound(void **state)
{
	struct saga_queue q;
	struct saga_batcher b;
	struct saga_job jobs[6];

	(void)state;
	saga_queue_init(&q, 3);
	saga_batcher_init(&b, 1);
	q.gathered = &b;
	assert_int_equal(saga_queue_push(&q, &jobs[0], true), 0);
	assert_true(saga_batcher_add(&b, &jobs[1]));
	assert_false(saga_batcher_add(&b, &jobs[2]));
	assert_int_equal(saga_queue_push(&q, &jobs[3], true), -EAGAIN);
	/* decisions are still queued */
	assert_int_equal(saga_queue_push(&q, &jobs[4], false), 0);
	{
		struct saga_job *got[8];
		bool again;

		assert_int_equal(saga_batcher_take(&b, got, 8, &again), 2);
		assert_false(again);
	}
	/* the answers taken, there is room again */
	assert_int_equal(q.n, 2);
	assert_int_equal(saga_queue_push(&q, &jobs[5], true), 0);
}

static void saga_queue_bound_is_at_least_one(void **state)
{
	struct saga_queue q;
	struct saga_job job;

	(void)state;
	saga_queue_init(&q, 0);
	assert_int_equal(saga_queue_push(&q, &job, true), 0);
	assert_int_equal(saga_queue_push(&q, &job, true), -EAGAIN);
}

static atomic_int done_calls;

static void count_done(void *arg, const struct payment_result *r)
{
	(void)arg;
	(void)r;
	atomic_fetch_add(&done_calls, 1);
}

static int wait_pending(struct payment_client *pc, int want)
{
	for (int i = 0; i < 500 && payment_client_pending(pc) != want; i++)
		usleep(10000); /* at most 5 s */
	return payment_client_pending(pc);
}

static void payment_places_are_bounded_and_given_back(void **state)
{
	/* port 1 on loopback: every attempt is refused at once */
	struct payment_client_opts o = {.base_url = "http://127.0.0.1:1",
					.timeout_ms = 500,
					.max_attempts = 1,
					.retry_backoff_ms = 10,
					.max_pending = 2};
	struct payment_client *pc;

	(void)state;
	assert_int_equal(payment_client_start(&pc, &o), 0);
	assert_int_equal(payment_client_reserve(pc), 0);
	assert_int_equal(payment_client_reserve(pc), 0);
	assert_int_equal(payment_client_reserve(pc), -EAGAIN);
	assert_int_equal(payment_client_pending(pc), 2);
	payment_client_unreserve(pc);
	assert_int_equal(payment_client_pending(pc), 1);
	/* a reserved job keeps its place until done, then frees it */
	assert_int_equal(payment_client_submit_reserved(pc, "ord_a", 100, NULL, count_done,
							NULL),
			 0);
	assert_int_equal(payment_client_reserve(pc), 0);
	assert_int_equal(payment_client_reserve(pc), -EAGAIN);
	payment_client_unreserve(pc);
	assert_int_equal(wait_pending(pc, 0), 0);
	assert_int_equal(atomic_load(&done_calls), 1);
	/* recorded work (resumed authorizations, refunds) is never refused,
	 * even past the bound, and counts while it runs */
	assert_int_equal(payment_client_reserve(pc), 0);
	assert_int_equal(payment_client_reserve(pc), 0);
	assert_int_equal(payment_client_submit(pc, "ord_b", 100, NULL, count_done, NULL), 0);
	assert_int_equal(payment_client_refund(pc, "ord_c", 100, count_done, NULL), 0);
	assert_int_equal(payment_client_reserve(pc), -EAGAIN);
	payment_client_unreserve(pc);
	payment_client_unreserve(pc);
	assert_int_equal(wait_pending(pc, 0), 0);
	assert_int_equal(atomic_load(&done_calls), 3);
	payment_client_free(pc);
}

/* Every route with work behind it sits behind a door whose in-flight cap
 * an operator can set: an order's tickets (signed, QR images drawn per
 * request) are reads, best available is a hold. */
static void routes_go_through_their_doors(void **state)
{
	static const struct {
		struct route rt;
		int door;
	} cases[] = {
		{{"GET", "/api/orders/{id}/tickets", NULL}, DOOR_READS},
		{{"GET", "/api/orders/{id}/tickets/{file}", NULL}, DOOR_READS},
		{{"GET", "/api/orders/{id}", NULL}, DOOR_READS},
		{{"POST", "/api/reservations/best", NULL}, DOOR_HOLDS},
		{{"POST", "/api/orders", NULL}, DOOR_ORDERS},
		{{"GET", "/api/events/{id}/seats/stream", NULL}, DOOR_STREAMS},
		/* the waiting list: joining and leaving hold and release seats;
		 * its stream is one long request */
		{{"POST", "/api/events/{id}/waitlist", NULL}, DOOR_HOLDS},
		{{"DELETE", "/api/events/{id}/waitlist", NULL}, DOOR_HOLDS},
		{{"GET", "/api/events/{id}/waitlist", NULL}, DOOR_READS},
		{{"GET", "/api/events/{id}/waitlist/stream", NULL}, DOOR_STREAMS},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(api_route_door(NULL, &cases[i].rt), cases[i].door);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes_go_through_their_doors),
		cmocka_unit_test(full_saga_queue_refuses_new_work),
		cmocka_unit_test(recorded_decisions_are_queued_past_the_bound),
		cmocka_unit_test(gathered_answers_count_toward_the_bound),
		cmocka_unit_test(saga_queue_bound_is_at_least_one),
		cmocka_unit_test(payment_places_are_bounded_and_given_back),
	};
	return cmocka_run_group_tests_name("overload_bounds", tests, NULL, NULL);
}
