/* paymentd's decision logic, apart from HTTP: given the settings and a
 * random source, decide how long an authorization takes, whether it is
 * approved or declined, and whether a failure is injected; and remember the
 * decision per order so a repeated request gets the same answer.
 *
 * Reproducibility: the random stream of one authorization attempt is derived
 * from (seed, orderId, attempt number), so with a fixed seed an order gets
 * the same decision whatever the arrival order of concurrent requests and
 * across restarts. */
#ifndef PAYMENT_SIM_H
#define PAYMENT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest orderId paymentd accepts, bytes. */
#define PAY_ORDER_ID_MAX 128
/* Currency: three ASCII letters, upper case (ISO 4217 style). */
#define PAY_CURRENCY_LEN 3

struct pay_sim_config {
	uint32_t delay_min_ms;    /* simulated processing time, inclusive */
	uint32_t delay_max_ms;
	double approve_ratio;     /* of the authorizations that are answered */
	double fail_ratio;        /* answered 503 GATEWAY_ERROR */
	double timeout_ratio;     /* hang timeout_hang_ms, then answer */
	uint32_t timeout_hang_ms;
	double refund_fail_ratio; /* refunds answered 503 GATEWAY_ERROR */
};

/* Checks ranges: delays min <= max, ratios in 0..1, fail + timeout <= 1.
 * Returns 0, or -EINVAL with a reason in err. */
int pay_sim_config_check(const struct pay_sim_config *cfg, char *err,
			 size_t errlen);

/* xoshiro256** seeded through splitmix64: small, fast, good enough for a
 * simulation, and identical on every platform. Not for secrets. */
struct pay_rng {
	uint64_t s[4];
};

void pay_rng_seed(struct pay_rng *rng, uint64_t seed);
uint64_t pay_rng_next(struct pay_rng *rng);
/* Uniform in [0, 1). */
double pay_rng_unit(struct pay_rng *rng);

/* The stream seed of attempt number `attempt` (0 = first) of one order. */
uint64_t pay_stream_seed(uint64_t seed, const char *order_id, size_t len,
			 uint32_t attempt);

/* The "simulate" request field; it forces the outcome of a new decision
 * (it never changes an order already decided). */
enum pay_simulate {
	PAY_SIMULATE_NONE = 0,
	PAY_SIMULATE_APPROVE,
	PAY_SIMULATE_DECLINE,
	PAY_SIMULATE_FAIL,
	PAY_SIMULATE_TIMEOUT,
};

/* Parses "approve" | "decline" | "fail" | "timeout"; -1 for anything else. */
int pay_simulate_parse(const char *s, enum pay_simulate *out);

enum pay_status { PAY_APPROVED = 0, PAY_DECLINED = 1 };

enum pay_fault {
	PAY_FAULT_NONE = 0,
	PAY_FAULT_GATEWAY_ERROR, /* answer 503; nothing is recorded */
	PAY_FAULT_TIMEOUT,       /* hang timeout_hang_ms, then answer status */
};

struct pay_decision {
	enum pay_fault fault;
	enum pay_status status; /* meaningless for PAY_FAULT_GATEWAY_ERROR */
	uint32_t delay_ms;      /* wait before answering */
	uint64_t payment_id;    /* never 0 */
};

/* One decision. Always takes the same number of draws from rng, so a forced
 * outcome does not shift later decisions of the same stream. */
void pay_decide(const struct pay_sim_config *cfg, struct pay_rng *rng,
		enum pay_simulate simulate, struct pay_decision *out);

const char *pay_status_name(enum pay_status status); /* "APPROVED" ... */

/* The idempotency ledger: the last `capacity` orders seen, oldest forgotten
 * first. In memory only: a restart forgets every order (callers record
 * outcomes themselves). Thread-safe; one mutex inside guards it all. */
struct pay_ledger;

struct pay_request {
	const char *order_id; /* 1..PAY_ORDER_ID_MAX bytes, no NUL inside */
	size_t order_id_len;
	int64_t amount;
	char currency[PAY_CURRENCY_LEN + 1];
	enum pay_simulate simulate;
};

struct pay_result {
	bool replay; /* answered from the ledger: reply now, no delay */
	struct pay_decision decision;
	int64_t amount; /* as first authorized (a replay keeps the original) */
	char currency[PAY_CURRENCY_LEN + 1];
};

/* capacity >= 1. Returns 0 or -ENOMEM / -EINVAL. */
int pay_ledger_create(struct pay_ledger **out, size_t capacity);
void pay_ledger_destroy(struct pay_ledger *ledger);

/* Answers one authorization: the recorded decision when the order has one,
 * otherwise a new decision drawn from pay_stream_seed(seed, orderId,
 * attempt), recorded unless it is an injected gateway error (a retry after
 * a 503 gets a fresh draw). Lookup, decision and record happen under the
 * ledger's lock, so concurrent requests for one order agree.
 * Returns 0, -EINVAL for a bad order id, -ENOMEM. */
int pay_ledger_authorize(struct pay_ledger *ledger,
			 const struct pay_sim_config *cfg, uint64_t seed,
			 const struct pay_request *req, struct pay_result *out);

/* What a refund (void) of an order's charge found. */
enum pay_refund_status {
	PAY_REFUNDED = 0,    /* the order was charged: the charge is returned */
	PAY_NOT_CHARGED = 1, /* declined, never authorized or forgotten: nothing
			      * to return; the order can no longer be charged */
};

struct pay_refund_result {
	bool replay; /* refunded (or voided) before: the same answer again */
	enum pay_refund_status status;
	int64_t amount;      /* returned (0 when nothing was charged) */
	uint64_t refund_id;  /* never 0 */
};

/* Refunds (voids) one order's charge, once: a repeat answers the first
 * result with replay set. An order the ledger does not know (never
 * authorized, evicted, or paymentd restarted) is voided: recorded as
 * DECLINED, so a late authorization of it is declined, never charged.
 * amount must equal the authorized amount of a charged order.
 * Returns 0; -EAGAIN for an injected gateway error (refund_fail_ratio,
 * nothing changed: retry); -ERANGE for an amount that is not the charged
 * one (nothing changed); -EINVAL for a bad order id; -ENOMEM. */
int pay_ledger_refund(struct pay_ledger *ledger, const struct pay_sim_config *cfg,
		      uint64_t seed, const char *order_id, size_t order_id_len,
		      int64_t amount, struct pay_refund_result *out);

const char *pay_refund_status_name(enum pay_refund_status status);

/* Orders currently remembered (decided or with failed attempts). */
size_t pay_ledger_count(struct pay_ledger *ledger);

#endif /* PAYMENT_SIM_H */
