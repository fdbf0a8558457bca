/* paymentd's decision logic and idempotency ledger (userspace/paymentd/payment_sim.c),
 * without HTTP. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/paymentd/payment_sim.h"

#define DRAWS 100000

static const struct pay_sim_config defaults = {
	.delay_min_ms = 50,
	.delay_max_ms = 300,
	.approve_ratio = 0.8,
	.fail_ratio = 0.0,
	.timeout_ratio = 0.0,
	.timeout_hang_ms = 10000,
};

/* Binomial tolerance: 5 standard deviations of a fraction over `n` draws. */
/* Field by field: the struct has padding. */
static void assert_same_decision(const struct pay_decision *a,
				 const struct pay_decision *b)
{
	assert_int_equal(a->fault, b->fault);
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->delay_ms, b->delay_ms);
	assert_int_equal(a->payment_id, b->payment_id);
}

static double tolerance(double p, int n)
{
	return 5.0 * sqrt(p * (1.0 - p) / n) + 1e-9;
}

static void approve_ratio_is_honoured_over_many_draws(void **state)
{
	static const double ratios[] = {0.0, 0.25, 0.8, 1.0};

	(void)state;
	for (size_t r = 0; r < sizeof(ratios) / sizeof(ratios[0]); r++) {
		struct pay_sim_config cfg = defaults;
		struct pay_rng rng;
		int approved = 0;

		cfg.approve_ratio = ratios[r];
		pay_rng_seed(&rng, 42);
		for (int i = 0; i < DRAWS; i++) {
			struct pay_decision d;

			pay_decide(&cfg, &rng, PAY_SIMULATE_NONE, &d);
			assert_int_equal(d.fault, PAY_FAULT_NONE);
			approved += d.status == PAY_APPROVED;
		}
		assert_true(fabs((double)approved / DRAWS - ratios[r]) <=
			    tolerance(ratios[r], DRAWS));
	}
}

static void approve_ratio_holds_across_per_order_streams(void **state)
{
	/* What paymentd does: one stream per (seed, orderId, attempt). */
	struct pay_sim_config cfg = defaults;
	int approved = 0;

	(void)state;
	for (int i = 0; i < DRAWS; i++) {
		char id[32];
		struct pay_rng rng;
		struct pay_decision d;
		int n = snprintf(id, sizeof(id), "ord-%d", i);

		pay_rng_seed(&rng, pay_stream_seed(7, id, (size_t)n, 0));
		pay_decide(&cfg, &rng, PAY_SIMULATE_NONE, &d);
		approved += d.status == PAY_APPROVED;
	}
	assert_true(fabs((double)approved / DRAWS - 0.8) <= tolerance(0.8, DRAWS));
}

static void delay_stays_within_range_and_covers_it(void **state)
{
	struct pay_sim_config cfg = defaults;
	struct pay_rng rng;
	uint32_t lo = UINT32_MAX, hi = 0;
	double sum = 0;

	(void)state;
	pay_rng_seed(&rng, 1);
	for (int i = 0; i < DRAWS; i++) {
		struct pay_decision d;

		pay_decide(&cfg, &rng, PAY_SIMULATE_NONE, &d);
		assert_in_range(d.delay_ms, cfg.delay_min_ms, cfg.delay_max_ms);
		lo = d.delay_ms < lo ? d.delay_ms : lo;
		hi = d.delay_ms > hi ? d.delay_ms : hi;
		sum += d.delay_ms;
	}
	assert_int_equal(lo, 50); /* both ends are reachable */
	assert_int_equal(hi, 300);
	assert_true(fabs(sum / DRAWS - 175.0) < 2.0); /* uniform */
}

static void fixed_delay_when_min_equals_max(void **state)
{
	struct pay_sim_config cfg = defaults;
	struct pay_rng rng;

	(void)state;
	cfg.delay_min_ms = cfg.delay_max_ms = 0;
	pay_rng_seed(&rng, 3);
	for (int i = 0; i < 1000; i++) {
		struct pay_decision d;

		pay_decide(&cfg, &rng, PAY_SIMULATE_NONE, &d);
		assert_int_equal(d.delay_ms, 0);
	}
}

static void same_seed_gives_same_decisions(void **state)
{
	struct pay_rng a, b, c;
	int differ = 0;

	(void)state;
	pay_rng_seed(&a, 99);
	pay_rng_seed(&b, 99);
	pay_rng_seed(&c, 100);
	for (int i = 0; i < 1000; i++) {
		struct pay_decision da, db, dc;

		pay_decide(&defaults, &a, PAY_SIMULATE_NONE, &da);
		pay_decide(&defaults, &b, PAY_SIMULATE_NONE, &db);
		pay_decide(&defaults, &c, PAY_SIMULATE_NONE, &dc);
		assert_same_decision(&da, &db);
		differ += da.payment_id != dc.payment_id;
	}
	assert_int_equal(differ, 1000);
}

static void simulate_overrides_ratios(void **state)
{
	struct pay_sim_config cfg = defaults;
	struct pay_rng rng;

	(void)state;
	/* Ratios that would always give the opposite answer. */
	cfg.approve_ratio = 0.0;
	cfg.fail_ratio = 1.0;
	pay_rng_seed(&rng, 5);
	for (int i = 0; i < 1000; i++) {
		struct pay_decision d;

		pay_decide(&cfg, &rng, PAY_SIMULATE_APPROVE, &d);
		assert_int_equal(d.fault, PAY_FAULT_NONE);
		assert_int_equal(d.status, PAY_APPROVED);
		assert_in_range(d.delay_ms, cfg.delay_min_ms, cfg.delay_max_ms);
	}
	cfg.approve_ratio = 1.0;
	for (int i = 0; i < 1000; i++) {
		struct pay_decision d;

		pay_decide(&cfg, &rng, PAY_SIMULATE_DECLINE, &d);
		assert_int_equal(d.fault, PAY_FAULT_NONE);
		assert_int_equal(d.status, PAY_DECLINED);
	}
	cfg.fail_ratio = 0.0;
	for (int i = 0; i < 1000; i++) {
		struct pay_decision d;

		pay_decide(&cfg, &rng, PAY_SIMULATE_FAIL, &d);
		assert_int_equal(d.fault, PAY_FAULT_GATEWAY_ERROR);
		pay_decide(&cfg, &rng, PAY_SIMULATE_TIMEOUT, &d);
		assert_int_equal(d.fault, PAY_FAULT_TIMEOUT);
		assert_int_equal(d.delay_ms, cfg.timeout_hang_ms);
	}
}

static void simulate_does_not_shift_the_stream(void **state)
{
	/* A forced outcome takes as many draws as a free one, so the next
	 * decision of the stream is the same either way. */
	struct pay_rng a, b;
	struct pay_decision da, db;

	(void)state;
	pay_rng_seed(&a, 11);
	pay_rng_seed(&b, 11);
	pay_decide(&defaults, &a, PAY_SIMULATE_NONE, &da);
	pay_decide(&defaults, &b, PAY_SIMULATE_DECLINE, &db);
	assert_int_equal(da.payment_id, db.payment_id);
	pay_decide(&defaults, &a, PAY_SIMULATE_NONE, &da);
	pay_decide(&defaults, &b, PAY_SIMULATE_NONE, &db);
	assert_same_decision(&da, &db);
}

static void simulate_names_parse_and_unknown_ones_fail(void **state)
{
	enum pay_simulate s;

	(void)state;
	assert_int_equal(pay_simulate_parse("approve", &s), 0);
	assert_int_equal(s, PAY_SIMULATE_APPROVE);
	assert_int_equal(pay_simulate_parse("decline", &s), 0);
	assert_int_equal(s, PAY_SIMULATE_DECLINE);
	assert_int_equal(pay_simulate_parse("fail", &s), 0);
	assert_int_equal(s, PAY_SIMULATE_FAIL);
	assert_int_equal(pay_simulate_parse("timeout", &s), 0);
	assert_int_equal(s, PAY_SIMULATE_TIMEOUT);
	assert_int_equal(pay_simulate_parse("APPROVE", &s), -1);
	assert_int_equal(pay_simulate_parse("", &s), -1);
	assert_int_equal(pay_simulate_parse("approved", &s), -1);
}

static void failure_and_timeout_injection_follow_their_ratios(void **state)
{
	struct pay_sim_config cfg = defaults;
	struct pay_rng rng;
	int fails = 0, timeouts = 0, approved = 0, answered = 0;

	(void)state;
	cfg.fail_ratio = 0.1;
	cfg.timeout_ratio = 0.05;
	cfg.timeout_hang_ms = 1234;
	pay_rng_seed(&rng, 2024);
	for (int i = 0; i < DRAWS; i++) {
		struct pay_decision d;

		pay_decide(&cfg, &rng, PAY_SIMULATE_NONE, &d);
		if (d.fault == PAY_FAULT_GATEWAY_ERROR) {
			fails++;
			continue;
		}
		if (d.fault == PAY_FAULT_TIMEOUT) {
			timeouts++;
			assert_int_equal(d.delay_ms, 1234);
		}
		answered++;
		approved += d.status == PAY_APPROVED;
	}
	assert_true(fabs((double)fails / DRAWS - 0.1) <= tolerance(0.1, DRAWS));
	assert_true(fabs((double)timeouts / DRAWS - 0.05) <= tolerance(0.05, DRAWS));
	/* The approval ratio applies to the answered ones. */
	assert_true(fabs((double)approved / answered - 0.8) <=
		    tolerance(0.8, answered));
}

static void fail_ratio_one_always_fails(void **state)
{
	struct pay_sim_config cfg = defaults;
	struct pay_rng rng;

	(void)state;
	cfg.fail_ratio = 1.0;
	pay_rng_seed(&rng, 8);
	for (int i = 0; i < 10000; i++) {
		struct pay_decision d;

		pay_decide(&cfg, &rng, PAY_SIMULATE_NONE, &d);
		assert_int_equal(d.fault, PAY_FAULT_GATEWAY_ERROR);
	}
}

static void config_check_rejects_bad_settings(void **state)
{
	struct pay_sim_config cfg = defaults;
	char err[128];

	(void)state;
	assert_int_equal(pay_sim_config_check(&cfg, err, sizeof(err)), 0);
	cfg.delay_min_ms = 400;
	assert_int_equal(pay_sim_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg = defaults;
	cfg.approve_ratio = 1.5;
	assert_int_equal(pay_sim_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg = defaults;
	cfg.approve_ratio = NAN;
	assert_int_equal(pay_sim_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg = defaults;
	cfg.fail_ratio = 0.7;
	cfg.timeout_ratio = 0.4;
	assert_int_equal(pay_sim_config_check(&cfg, err, sizeof(err)), -EINVAL);
	cfg.timeout_ratio = 0.3;
	assert_int_equal(pay_sim_config_check(&cfg, err, sizeof(err)), 0);
}

/* ---- ledger ------------------------------------------------------------ */

static struct pay_request request(const char *id, int64_t amount,
				  enum pay_simulate sim)
{
	struct pay_request r = {
		.order_id = id,
		.order_id_len = strlen(id),
		.amount = amount,
		.currency = "EUR",
		.simulate = sim,
	};
	return r;
}

static void ledger_repeats_the_same_decision_at_once(void **state)
{
	struct pay_ledger *l;
	struct pay_result first, again;
	struct pay_request r = request("order-1", 4200, PAY_SIMULATE_NONE);

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 16), 0);
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &first), 0);
	assert_false(first.replay);
	assert_in_range(first.decision.delay_ms, 50, 300);
	assert_int_equal(first.amount, 4200);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &again), 0);
		assert_true(again.replay);
		assert_int_equal(again.decision.payment_id, first.decision.payment_id);
		assert_int_equal(again.decision.status, first.decision.status);
		assert_int_equal(again.decision.delay_ms, 0);
		assert_int_equal(again.decision.fault, PAY_FAULT_NONE);
	}
	assert_int_equal(pay_ledger_count(l), 1);
	pay_ledger_destroy(l);
}

static void refund_of_an_approved_order_returns_its_charge_once(void **state)
{
	struct pay_ledger *l;
	struct pay_result auth;
	struct pay_refund_result first, again;
	struct pay_request r = request("order-r", 4200, PAY_SIMULATE_APPROVE);

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 16), 0);
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &auth), 0);
	/* Not the charged amount: refused, nothing changes. */
	assert_int_equal(pay_ledger_refund(l, &defaults, 1, "order-r", 7, 4100, &first),
			 -ERANGE);
	assert_int_equal(pay_ledger_refund(l, &defaults, 1, "order-r", 7, 4200, &first), 0);
	assert_false(first.replay);
	assert_int_equal(first.status, PAY_REFUNDED);
	assert_int_equal(first.amount, 4200);
	assert_int_not_equal(first.refund_id, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pay_ledger_refund(l, &defaults, 1, "order-r", 7, 4200, &again), 0);
		assert_true(again.replay);
		assert_int_equal(again.status, PAY_REFUNDED);
		assert_int_equal(again.refund_id, first.refund_id);
	}
	pay_ledger_destroy(l);
}

static void refund_of_an_unknown_order_voids_it_so_it_is_never_charged(void **state)
{
	struct pay_ledger *l;
	struct pay_result auth;
	struct pay_refund_result res;
	struct pay_request r = request("order-v", 900, PAY_SIMULATE_APPROVE);

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 16), 0);
	assert_int_equal(pay_ledger_refund(l, &defaults, 1, "order-v", 7, 900, &res), 0);
	assert_int_equal(res.status, PAY_NOT_CHARGED);
	assert_int_equal(res.amount, 0);
	/* A late authorization (even one forcing approval) is declined. */
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &auth), 0);
	assert_true(auth.replay);
	assert_int_equal(auth.decision.status, PAY_DECLINED);
	pay_ledger_destroy(l);
}

static void refund_gateway_errors_change_nothing_and_follow_their_ratio(void **state)
{
	struct pay_sim_config cfg = defaults;
	struct pay_ledger *l;
	struct pay_result auth;
	struct pay_refund_result res;
	struct pay_request r = request("order-f", 500, PAY_SIMULATE_APPROVE);

	(void)state;
	cfg.refund_fail_ratio = 1.0;
	assert_int_equal(pay_ledger_create(&l, 16), 0);
	assert_int_equal(pay_ledger_authorize(l, &cfg, 1, &r, &auth), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pay_ledger_refund(l, &cfg, 1, "order-f", 7, 500, &res), -EAGAIN);
	cfg.refund_fail_ratio = 0.0;
	assert_int_equal(pay_ledger_refund(l, &cfg, 1, "order-f", 7, 500, &res), 0);
	assert_false(res.replay);
	assert_int_equal(res.status, PAY_REFUNDED);
	assert_int_equal(pay_ledger_refund(l, &cfg, 1, "", 0, 500, &res), -EINVAL);
	pay_ledger_destroy(l);
}

static void ledger_replay_ignores_a_later_simulate_and_amount(void **state)
{
	struct pay_ledger *l;
	struct pay_result first, again;
	struct pay_request r = request("order-2", 100, PAY_SIMULATE_DECLINE);

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 16), 0);
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &first), 0);
	assert_int_equal(first.decision.status, PAY_DECLINED);
	r = request("order-2", 999, PAY_SIMULATE_APPROVE);
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &again), 0);
	assert_true(again.replay);
	assert_int_equal(again.decision.status, PAY_DECLINED);
	assert_int_equal(again.amount, 100);
	pay_ledger_destroy(l);
}

static void ledger_decisions_are_reproducible_per_order(void **state)
{
	/* Two ledgers with one seed, orders seen in opposite orders: each order
	 * gets the same decision in both. */
	struct pay_ledger *a, *b;
	char ids[200][16];
	struct pay_result ra[200], rb;

	(void)state;
	assert_int_equal(pay_ledger_create(&a, 1000), 0);
	assert_int_equal(pay_ledger_create(&b, 1000), 0);
	for (int i = 0; i < 200; i++) {
		struct pay_request r;

		snprintf(ids[i], sizeof(ids[i]), "o%d", i);
		r = request(ids[i], 1, PAY_SIMULATE_NONE);
		assert_int_equal(pay_ledger_authorize(a, &defaults, 77, &r, &ra[i]), 0);
	}
	for (int i = 199; i >= 0; i--) {
		struct pay_request r = request(ids[i], 1, PAY_SIMULATE_NONE);

		assert_int_equal(pay_ledger_authorize(b, &defaults, 77, &r, &rb), 0);
		assert_false(rb.replay);
		assert_same_decision(&rb.decision, &ra[i].decision);
	}
	pay_ledger_destroy(a);
	pay_ledger_destroy(b);
}

static void ledger_gateway_error_is_not_recorded_and_retry_draws_again(void **state)
{
	struct pay_sim_config cfg = defaults;
	struct pay_ledger *l;
	struct pay_result res, again;
	struct pay_request r = request("order-3", 10, PAY_SIMULATE_FAIL);

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 16), 0);
	assert_int_equal(pay_ledger_authorize(l, &cfg, 1, &r, &res), 0);
	assert_int_equal(res.decision.fault, PAY_FAULT_GATEWAY_ERROR);
	assert_false(res.replay);
	/* The retry is a new attempt with a new payment id, then recorded. */
	r.simulate = PAY_SIMULATE_NONE;
	assert_int_equal(pay_ledger_authorize(l, &cfg, 1, &r, &res), 0);
	assert_false(res.replay);
	assert_int_equal(res.decision.fault, PAY_FAULT_NONE);
	assert_int_equal(pay_ledger_authorize(l, &cfg, 1, &r, &again), 0);
	assert_true(again.replay);
	assert_int_equal(again.decision.payment_id, res.decision.payment_id);
	pay_ledger_destroy(l);
}

static void ledger_timeout_decision_is_recorded_for_the_retry(void **state)
{
	struct pay_ledger *l;
	struct pay_result res, again;
	struct pay_request r = request("order-4", 10, PAY_SIMULATE_TIMEOUT);

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 16), 0);
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), 0);
	assert_int_equal(res.decision.fault, PAY_FAULT_TIMEOUT);
	assert_int_equal(res.decision.delay_ms, defaults.timeout_hang_ms);
	/* The caller gave up and retries: it gets the answer now. */
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &again), 0);
	assert_true(again.replay);
	assert_int_equal(again.decision.delay_ms, 0);
	assert_int_equal(again.decision.payment_id, res.decision.payment_id);
	assert_int_equal(again.decision.status, res.decision.status);
	pay_ledger_destroy(l);
}

static void ledger_forgets_the_oldest_order_when_full(void **state)
{
	struct pay_ledger *l;
	struct pay_result res;
	char id[16];

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 3), 0);
	for (int i = 0; i < 5; i++) {
		struct pay_request r;

		snprintf(id, sizeof(id), "o%d", i);
		r = request(id, 1, PAY_SIMULATE_NONE);
		assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), 0);
		assert_false(res.replay);
	}
	assert_int_equal(pay_ledger_count(l), 3);
	for (int i = 2; i < 5; i++) { /* the last three are remembered */
		struct pay_request r;

		snprintf(id, sizeof(id), "o%d", i);
		r = request(id, 1, PAY_SIMULATE_NONE);
		assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), 0);
		assert_true(res.replay);
	}
	{
		struct pay_request r = request("o0", 1, PAY_SIMULATE_NONE);

		assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), 0);
		assert_false(res.replay); /* forgotten: decided again */
	}
	assert_int_equal(pay_ledger_count(l), 3);
	pay_ledger_destroy(l);
}

static void ledger_survives_many_evictions(void **state)
{
	/* Far more orders than slots, each looked up again right away: the
	 * bucket chains stay consistent through eviction. */
	struct pay_ledger *l;
	char id[32];

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 100), 0);
	for (int i = 0; i < 20000; i++) {
		struct pay_request r;
		struct pay_result a, b;

		snprintf(id, sizeof(id), "order-%d", i);
		r = request(id, i, PAY_SIMULATE_NONE);
		assert_int_equal(pay_ledger_authorize(l, &defaults, 5, &r, &a), 0);
		assert_false(a.replay);
		assert_int_equal(pay_ledger_authorize(l, &defaults, 5, &r, &b), 0);
		assert_true(b.replay);
		assert_int_equal(a.decision.payment_id, b.decision.payment_id);
	}
	assert_int_equal(pay_ledger_count(l), 100);
	pay_ledger_destroy(l);
}

static void ledger_rejects_bad_order_ids(void **state)
{
	struct pay_ledger *l;
	struct pay_result res;
	char longid[PAY_ORDER_ID_MAX + 2];
	struct pay_request r = request("", 1, PAY_SIMULATE_NONE);

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 4), 0);
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), -EINVAL);
	memset(longid, 'x', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	r = request(longid, 1, PAY_SIMULATE_NONE);
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), -EINVAL);
	r.order_id_len = PAY_ORDER_ID_MAX; /* exactly the limit is fine */
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), 0);
	r = request("a\0b", 1, PAY_SIMULATE_NONE);
	r.order_id_len = 3;
	assert_int_equal(pay_ledger_authorize(l, &defaults, 1, &r, &res), -EINVAL);
	assert_int_equal(pay_ledger_count(l), 1);
	assert_int_equal(pay_ledger_create(&l, 0), -EINVAL); /* l untouched */
	pay_ledger_destroy(l);
}

struct race_arg {
	struct pay_ledger *l;
	struct pay_result res[50];
};

static void *race_worker(void *p)
{
	struct race_arg *a = p;

	for (int i = 0; i < 50; i++) {
		char id[16];
		struct pay_request r;

		snprintf(id, sizeof(id), "race-%d", i);
		r = request(id, 1, PAY_SIMULATE_NONE);
		if (pay_ledger_authorize(a->l, &defaults, 9, &r, &a->res[i]))
			return p;
	}
	return NULL;
}

static void concurrent_requests_for_one_order_agree(void **state)
{
	struct race_arg args[4];
	pthread_t th[4];
	struct pay_ledger *l;

	(void)state;
	assert_int_equal(pay_ledger_create(&l, 1000), 0);
	for (int t = 0; t < 4; t++) {
		args[t].l = l;
		assert_int_equal(pthread_create(&th[t], NULL, race_worker, &args[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		void *ret;

		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
	}
	for (int i = 0; i < 50; i++) {
		int fresh = 0;

		for (int t = 0; t < 4; t++) {
			fresh += !args[t].res[i].replay;
			assert_int_equal(args[t].res[i].decision.payment_id,
					 args[0].res[i].decision.payment_id);
			assert_int_equal(args[t].res[i].decision.status,
					 args[0].res[i].decision.status);
		}
		assert_int_equal(fresh, 1); /* exactly one decided, three replayed */
	}
	assert_int_equal(pay_ledger_count(l), 50);
	pay_ledger_destroy(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(approve_ratio_is_honoured_over_many_draws),
		cmocka_unit_test(approve_ratio_holds_across_per_order_streams),
		cmocka_unit_test(delay_stays_within_range_and_covers_it),
		cmocka_unit_test(fixed_delay_when_min_equals_max),
		cmocka_unit_test(same_seed_gives_same_decisions),
		cmocka_unit_test(simulate_overrides_ratios),
		cmocka_unit_test(simulate_does_not_shift_the_stream),
		cmocka_unit_test(simulate_names_parse_and_unknown_ones_fail),
		cmocka_unit_test(failure_and_timeout_injection_follow_their_ratios),
		cmocka_unit_test(fail_ratio_one_always_fails),
		cmocka_unit_test(config_check_rejects_bad_settings),
		cmocka_unit_test(ledger_repeats_the_same_decision_at_once),
		cmocka_unit_test(ledger_replay_ignores_a_later_simulate_and_amount),
		cmocka_unit_test(refund_of_an_approved_order_returns_its_charge_once),
		cmocka_unit_test(refund_of_an_unknown_order_voids_it_so_it_is_never_charged),
		cmocka_unit_test(refund_gateway_errors_change_nothing_and_follow_their_ratio),
		cmocka_unit_test(ledger_decisions_are_reproducible_per_order),
		cmocka_unit_test(ledger_gateway_error_is_not_recorded_and_retry_draws_again),
		cmocka_unit_test(ledger_timeout_decision_is_recorded_for_the_retry),
		cmocka_unit_test(ledger_forgets_the_oldest_order_when_full),
		cmocka_unit_test(ledger_survives_many_evictions),
		cmocka_unit_test(ledger_rejects_bad_order_ids),
		cmocka_unit_test(concurrent_requests_for_one_order_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
