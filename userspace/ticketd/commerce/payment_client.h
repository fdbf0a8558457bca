/* ticketd's client of the card gateway (paymentd): one thread drives every
 * authorization concurrently with libcurl's multi interface, each with a
 * timeout and bounded retries, and reports the outcome through a callback.
 * No HTTP worker thread ever waits on the gateway. */
#ifndef TICKETD_PAYMENT_CLIENT_H
#define TICKETD_PAYMENT_CLIENT_H

#include <stdint.h>

enum payment_outcome {
	PAYMENT_APPROVED = 0,
	PAYMENT_DECLINED = 1,
	PAYMENT_FAILED = 2, /* the gateway kept failing or timing out */
	/* The client stopped before the gateway answered (or before a retry):
	 * the gateway may have decided. Not a decision: the caller leaves the
	 * request recorded and asks again later. */
	PAYMENT_UNKNOWN = 3,
	PAYMENT_REFUNDED = 4, /* a refund acknowledged; see refund_status */
};

struct payment_result {
	enum payment_outcome outcome;
	char payment_id[48]; /* the gateway's, or ours for FAILED */
	int attempts;
	char refund_status[16]; /* REFUNDED or NOT_CHARGED (refunds only) */
};

/* Called once per submitted authorization, on the client's thread. */
typedef void (*payment_done_fn)(void *arg, const struct payment_result *r);

struct payment_client;

struct payment_client_opts {
	const char *base_url;  /* http://127.0.0.1:8084 */
	int timeout_ms;        /* per attempt */
	int max_attempts;      /* >= 1 */
	int retry_backoff_ms;  /* before the 2nd attempt; doubles */
	/* Jobs at the gateway at once (queued, in flight, backing off) that
	 * payment_client_reserve grants places among (0: no bound). */
	int max_pending;
};

int payment_client_start(struct payment_client **out,
			 const struct payment_client_opts *opts);

/* Queues an authorization; done(arg, ...) is called exactly once, also when
 * the client stops first (then with PAYMENT_FAILED). Never refused for
 * load: for authorizations already recorded (asked again at start); new
 * ones take a place with payment_client_reserve first. simulate is NULL or
 * "approve"/"decline" (forwarded in development mode only). */
int payment_client_submit(struct payment_client *pc, const char *order_id,
			  uint64_t amount, const char *simulate,
			  payment_done_fn done, void *arg);

/* Takes one of max_pending places for a new authorization, before
 * anything about it is recorded: -EAGAIN when every place is taken (the
 * caller answers 503 OVERLOADED; nothing was done). Hand the place to
 * payment_client_submit_reserved, or back with payment_client_unreserve. */
int payment_client_reserve(struct payment_client *pc);
void payment_client_unreserve(struct payment_client *pc);
/* payment_client_submit on a place taken by payment_client_reserve (the
 * place is freed when done is called, or at once on an error return). */
int payment_client_submit_reserved(struct payment_client *pc, const char *order_id,
				   uint64_t amount, const char *simulate,
				   payment_done_fn done, void *arg);
/* Jobs at the gateway now (reserved places included). */
int payment_client_pending(struct payment_client *pc);

/* Queues one refund (void) of an order's charge: POST /v1/refund, one
 * attempt (the caller retries with its own backoff). done gets
 * PAYMENT_REFUNDED when the gateway acknowledged it, PAYMENT_FAILED when it
 * did not, PAYMENT_UNKNOWN when the client stopped first. */
int payment_client_refund(struct payment_client *pc, const char *order_id,
			  uint64_t amount, payment_done_fn done, void *arg);

/* Ends what is still pending with PAYMENT_UNKNOWN (calling every done:
 * nothing is declared FAILED without an answer), then stops; later submits
 * end at once the same way (done is called inline). */
void payment_client_stop(struct payment_client *pc);
/* Frees a stopped client (after nothing can submit any more). */
void payment_client_free(struct payment_client *pc);

#endif
