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
};

struct payment_result {
	enum payment_outcome outcome;
	char payment_id[48]; /* the gateway's, or ours for FAILED */
	int attempts;
};

/* Called once per submitted authorization, on the client's thread. */
typedef void (*payment_done_fn)(void *arg, const struct payment_result *r);

struct payment_client;

struct payment_client_opts {
	const char *base_url;  /* http://127.0.0.1:8084 */
	int timeout_ms;        /* per attempt */
	int max_attempts;      /* >= 1 */
	int retry_backoff_ms;  /* before the 2nd attempt; doubles */
};

int payment_client_start(struct payment_client **out,
			 const struct payment_client_opts *opts);

/* Queues an authorization; done(arg, ...) is called exactly once, also when
 * the client stops first (then with PAYMENT_FAILED). simulate is NULL or
 * "approve"/"decline" (forwarded in development mode only). */
int payment_client_submit(struct payment_client *pc, const char *order_id,
			  uint64_t amount, const char *simulate,
			  payment_done_fn done, void *arg);

/* Fails what is still pending (calling every done), then stops; later
 * submits fail at once (done is called inline). */
void payment_client_stop(struct payment_client *pc);
/* Frees a stopped client (after nothing can submit any more). */
void payment_client_free(struct payment_client *pc);

#endif
