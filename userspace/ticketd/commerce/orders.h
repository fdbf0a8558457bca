/* Orders: held seats become an order in one MariaDB transaction (order,
 * its seats, an outbox row) while their seat words move HELD -> ORDERED
 * with the payment deadline plus order_settle_margin_seconds as expiry (so
 * a confirmation committed at the deadline still finds them), so a hold
 * cannot lapse under a
 * pending order. Idempotency keys belong to a session; the unique key
 * (session_id, idempotency_key) serialises concurrent identical requests. */
#ifndef TICKETD_ORDERS_H
#define TICKETD_ORDERS_H

#include <mysql.h>
#include <stdbool.h>
#include <stdint.h>

#include "userspace/ticketd/seats/holds.h"

struct ticketd;
struct session;

#define ORDER_ID_LEN 40
#define PAYMENT_ID_LEN 40 /* payments.id column */

struct order {
	char id[ORDER_ID_LEN + 1];
	char session_id[17];
	uint32_t slot;
	uint32_t event_id;
	char status[16]; /* PENDING, CONFIRMED, CANCELLED */
	char reason[65]; /* for CANCELLED */
	uint64_t amount;
	int64_t created_ms, deadline_ms;
	char request_hash[65];
	uint32_t seats[HOLDS_MAX_SEATS];
	int n_seats;
};

enum orders_result {
	ORDERS_CREATED = 0, /* 201, new */
	ORDERS_REPLAYED,    /* 201, the same key and body again */
	ORDERS_NO_EVENT,    /* 404 */
	ORDERS_NO_SEAT,     /* 422 VALIDATION_FAILED */
	ORDERS_NOT_HELD,    /* 409 SEAT_NOT_HELD, seats listed */
	ORDERS_KEY_REUSED,  /* 422 IDEMPOTENCY_KEY_REUSED */
	ORDERS_UNAVAILABLE, /* 503: the database failed */
};

enum orders_result orders_create(struct ticketd *app, const struct session *s,
				 const char *idempotency_key, uint32_t event_id,
				 const uint32_t *seat_ids, int n,
				 struct order *out, uint32_t *not_held,
				 int *n_not_held);

/* The caller's order, or -ENOENT (also for another session's order), or
 * -EBUSY when no database connection came free within db_wait_ms (these
 * run on HTTP threads). */
int orders_get(struct ticketd *app, const struct session *s,
	       const char *order_id, struct order *out);

/* orders_get and, in the same statement, the payment recorded for the
 * order: its id and status ("APPROVED"/"DECLINED"/"FAILED"), both "" when
 * none is recorded yet. */
int orders_get_with_payment(struct ticketd *app, const struct session *s,
			    const char *order_id, struct order *out, char *payment_id,
			    size_t pid_len, char *status, size_t st_len);

/* Data access (order_store.c). */
int order_store_insert(MYSQL *c, const struct order *o, const char *key);
int order_store_insert_seats(MYSQL *c, const struct order *o,
			     const uint32_t *prices);
int order_store_find_by_key(MYSQL *c, const char *session_id, const char *key,
			    struct order *out);
int order_store_get(MYSQL *c, const char *order_id, bool for_update,
		    struct order *out);
/* order_store_get (no lock) and the order's payment id and status ("" when
 * none) in one statement. */
int order_store_get_with_payment(MYSQL *c, const char *order_id, struct order *out,
				 char *payment_id, size_t pid_len, char *status,
				 size_t st_len);
/* PENDING -> status; returns 1 if this call made the change, 0 if the order
 * was no longer PENDING. */
int order_store_finish(MYSQL *c, const char *order_id, const char *status,
		       const char *reason);
/* Orders per order_store_lock_many / order_store_finish_many call. */
#define ORDER_LOCK_MANY 8
/* Reads and locks (FOR UPDATE, in id order) up to ORDER_LOCK_MANY orders
 * in one statement: found[i] says whether ids[i] exists (out[i] filled).
 * 0 or a negative errno. */
int order_store_lock_many(MYSQL *c, const char *const *ids, int n, struct order *out,
			  bool *found);
/* PENDING -> CONFIRMED (approve[i]) or CANCELLED PAYMENT_DECLINED for up to
 * ORDER_LOCK_MANY distinct orders in one statement: how many changed, or a
 * negative errno. */
int order_store_finish_many(MYSQL *c, const char *const *ids, const bool *approve, int n);
/* sold_seats rows for every seat; -EEXIST when a seat is already sold. */
int order_store_insert_sold(MYSQL *c, const struct order *o);
/* PENDING orders whose deadline has passed (ids), at most max. */
int order_store_due(MYSQL *c, char (*ids)[ORDER_ID_LEN + 1], int max);

/* A recorded gateway decision (payments row). */
struct payment_record {
	char id[PAYMENT_ID_LEN + 1];
	char order_id[ORDER_ID_LEN + 1];
	char status[16]; /* APPROVED, DECLINED, FAILED */
	uint64_t amount; /* what the gateway was asked to charge, minor units */
	char refund_status[8]; /* "", PENDING or DONE */
};

int payment_store_insert(MYSQL *c, const char *payment_id,
			 const char *order_id, const char *status,
			 uint64_t amount, int attempts);
/* The payment recorded under payment_id: 0, -ENOENT, or a negative errno. */
int payment_store_get_by_id(MYSQL *c, const char *payment_id,
			    struct payment_record *out);
/* payment_store_get_by_id, and in the same read whether consumer has
 * claimed message_id in the inbox (committed claims only): the cheap
 * duplicate check before a transaction. */
int payment_store_get_claimed(MYSQL *c, const char *payment_id, const char *consumer,
			      const char *message_id, struct payment_record *out,
			      bool *claimed);
/* payment_store_get_claimed for n payment ids in one read per 16: for
 * each, found[i] (out[i] filled) and whether consumer has claimed
 * "<claim_prefix><the recorded order id>". 0 or a negative errno. */
int payment_store_get_claimed_many(MYSQL *c, const char *const *payment_ids, int n,
				   const char *consumer, const char *claim_prefix,
				   struct payment_record *out, bool *found, bool *claimed);
int payment_store_get(MYSQL *c, const char *order_id, char *payment_id,
		      size_t pid_len, char *status, size_t st_len);

/* The payment recorded for an order: 0, -ENOENT, or a negative errno. */
int payment_store_get_by_order(MYSQL *c, const char *order_id,
			       struct payment_record *out);
/* Owes a refund for a payment (refund_status NULL -> PENDING, due now).
 * 1 when this call owed it, 0 when already owed or done. */
int payment_store_owe_refund(MYSQL *c, const char *payment_id);

/* An owed refund, as the refund loop sends it. */
struct refund_due {
	char payment_id[PAYMENT_ID_LEN + 1];
	char order_id[ORDER_ID_LEN + 1];
	uint64_t amount;
	unsigned attempts; /* sent so far */
};

/* Owed refunds whose next attempt is due, at most max. */
int payment_store_refunds_due(MYSQL *c, struct refund_due *out, int max);
/* Counts one attempt and sets the next one after backoff_ms (the attempt
 * in flight keeps the row until then). 1 when still owed, 0 otherwise. */
int payment_store_refund_attempt(MYSQL *c, const char *payment_id,
				 uint32_t backoff_ms);
/* PENDING -> DONE with the gateway's answer (REFUNDED or NOT_CHARGED). */
int payment_store_refund_done(MYSQL *c, const char *payment_id,
			      const char *result);

/* An authorization asked of the gateway, not yet decided (a
 * payment_requests row). */
int payment_request_delete(MYSQL *c, const char *order_id);
/* Records the request of session_id's order order_id in one statement, only
 * when the order is PENDING, the session's and without a recorded
 * decision: 1 (recorded, *amount the order's amount), 0 (nothing recorded:
 * no such order of the session, not PENDING, decided already, or the
 * request row there already; the caller reads the order to tell which),
 * or a negative errno. */
int payment_request_claim(MYSQL *c, const char *order_id, const char *session_id,
			  uint64_t *amount);
/* Deletes up to max request rows whose decision is recorded (a payments
 * row for the order): the settle transaction leaves its request row behind
 * (payment_requests_open skips it), and this clears them in bulk. One
 * consistent read, then deletes by primary key only (no range locks in the
 * way of new requests). The number deleted, or a negative errno. */
int payment_requests_prune(MYSQL *c, int max);
struct payment_request {
	char order_id[ORDER_ID_LEN + 1];
	uint64_t amount;
};
/* Requests with no decision recorded yet, at most max. */
int payment_requests_open(MYSQL *c, struct payment_request *out, int max);

/* JSON payload of an order event for the outbox. */
char *order_event_json(const char *type, const struct order *o);

#endif
