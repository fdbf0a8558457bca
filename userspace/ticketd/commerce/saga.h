/* The order saga. A payment decision is recorded (payments row + outbox
 * event on ticketing.payments, one transaction); the saga consumes that
 * event from Kafka, de-duplicated through the inbox, and ends the order:
 *
 *   APPROVED, before the deadline -> sold_seats rows (the primary key
 *       refuses a second sale), order CONFIRMED, outbox event, one
 *       transaction; then the seat words ORDERED -> SOLD.
 *   DECLINED, FAILED (gateway kept failing), or the deadline passed ->
 *       order CANCELLED with a reason, outbox event; seat words released.
 *
 * The decision is applied twice over, idempotently: at once by the thread
 * that got the gateway's answer, in the same transaction that records it
 * (saga_settle_payment: one commit, so an order ends within milliseconds
 * and does not depend on Kafka being up), and again when the event comes
 * back from Kafka (which covers a decision recorded by another path, e.g.
 * an older daemon that recorded and applied in two steps). Both claim the
 * inbox id "payment:<orderId>", so exactly one of them acts; the Kafka copy
 * of an applied one is recognised by one read, without a transaction.
 *
 * A deadline thread ends PENDING orders whose deadline has passed, so no
 * order stays PENDING, even if no payment ever comes: it confirms one whose
 * APPROVED payment is recorded (never applied) while its seat words are
 * still its own, and cancels the rest. An order cancelled behind a payment
 * that may have charged (APPROVED late, FAILED) owes a refund in the same
 * transaction; a refund thread sends owed refunds to the gateway until it
 * acknowledges (state in payments, so it survives restarts). An
 * authorization is recorded (payment_requests) before the gateway is
 * asked; one left undecided by a stop or a crash is asked again at start. The conditional
 * PENDING -> X update makes exactly one of confirm and cancel win. At start
 * the saga reconciles seat words with orders that ended while the daemon was
 * down (or between commit and word update). */
#ifndef TICKETD_SAGA_H
#define TICKETD_SAGA_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "userspace/lib/traceparent.h"
#include "userspace/ticketd/messaging/kafka_consumer.h"

struct ticketd;
struct order;
struct payment_result;

#define SAGA_WORKERS 6

/* A unit of saga work run on the saga's workers (recording and applying a
 * payment decision): many in parallel so MariaDB can group their commits. */
struct saga_job {
	struct saga_job *next;
	void (*run)(struct saga_job *job);
	struct traceparent trace; /* the submitter's context (#15 tracing) */
};

/* The saga workers' job queue (a FIFO; its lock is saga.lock). Bounded
 * for new work: a push with bounded set is refused (-EAGAIN) once n
 * reaches max, so a new order or authorization is answered 503 OVERLOADED
 * at once instead of waiting behind seconds of work. Work that carries a
 * decision already made (a gateway answer to record, a refund
 * acknowledged) is pushed unbounded: refusing it would lose it. Those are
 * bounded upstream (payment_queue_max authorizations at the gateway, the
 * refund thread's batches). */
struct saga_batcher;
struct saga_queue {
	struct saga_job *head, *tail;
	int n;   /* jobs queued */
	int max; /* bound for new work (>= 1) */
	/* Gateway answers gathered for settling (saga.settle) wait for a
	 * worker too: they count toward max (NULL: none). */
	const struct saga_batcher *gathered;
};

void saga_queue_init(struct saga_queue *q, int max);
/* Appends job; -EAGAIN (nothing queued) when bounded and full (the jobs
 * queued plus the answers gathered reach max). */
int saga_queue_push(struct saga_queue *q, struct saga_job *job, bool bounded);
/* Takes the oldest job, or NULL. */
struct saga_job *saga_queue_pop(struct saga_queue *q);

/* Gateway answers waiting to be settled together (saga_settle_many): the
 * payment client adds each answer's job here, and a "taker" job on the
 * saga queue takes whatever has gathered, up to a batch. While workers
 * are free every answer gets a taker of its own at once (a batch of one,
 * no wait added); when they are busy the answers gather behind the queued
 * takers (at most max_takers), so a busy saga settles several orders per
 * transaction. Thread-safe. */
struct saga_batcher {
	pthread_mutex_t lock;
	struct saga_job *head, *tail;
	atomic_int n;      /* jobs gathered (changed under lock, read anywhere) */
	int takers;        /* takers queued, not yet taken */
	int max_takers;
};

void saga_batcher_init(struct saga_batcher *b, int max_takers);
/* Adds job. True when the caller must queue a new taker (the number of
 * queued takers was below max_takers and now counts it). */
bool saga_batcher_add(struct saga_batcher *b, struct saga_job *job);
/* For a taker: moves up to max gathered jobs (oldest first) into out and
 * returns how many. *again is true when jobs are left: the caller queues
 * its taker once more (still counted); false when it is no longer counted.
 * Whenever jobs are gathered, at least one taker is queued. */
int saga_batcher_take(struct saga_batcher *b, struct saga_job **out, int max, bool *again);

/* Why a payment decision read from ticketing.payments was dropped. */
enum saga_reject {
	SAGA_REJECT_MALFORMED,       /* a field missing or out of range */
	SAGA_REJECT_UNKNOWN_PAYMENT, /* no payment recorded under that id */
	SAGA_REJECT_OTHER_ORDER,     /* the payment is another order's */
	SAGA_REJECT_STATUS,          /* not the recorded status */
	SAGA_REJECT_AMOUNT,          /* not the recorded or the order's amount */
	SAGA_REJECT_N
};
extern const char *const saga_reject_names[SAGA_REJECT_N];

/* A payment decision as PaymentDecided carries it. */
struct payment_decision {
	const char *order_id, *payment_id, *status;
	uint64_t amount;
};

/* Seats of CONFIRMED orders whose word could not be made SOLD yet (the
 * change queue was full, or another session held the seat live): the
 * deadline thread retries them every round until they are SOLD. Bounded:
 * an entry that does not fit sets overflow, and the thread then runs a
 * pass over all of sold_seats instead. A crash loses the list;
 * saga_reconcile at the next start covers it. Meanwhile sold_seats keeps
 * the seat from a second sale. */
#define SAGA_UNSOLD_MAX 4096
struct saga_unsold {
	uint32_t slot, event_id, seat_id;
};
struct saga_unsold_list {
	pthread_mutex_t lock;
	uint32_t n;
	bool overflow;
	struct saga_unsold items[SAGA_UNSOLD_MAX];
};

struct saga {
	struct ticketd *app;
	pthread_t workers[SAGA_WORKERS];
	int n_workers;
	pthread_mutex_t lock; /* guards q, busy, stopping */
	pthread_cond_t cond;
	struct saga_queue q;
	int busy;      /* jobs being run by workers */
	bool stopping; /* no more queueing: saga_submit runs jobs inline */
	struct kafka_consumer consumer;
	char instance_id[160];
	bool consumer_on;
	pthread_t deadline_thread, refund_thread;
	atomic_bool stop;
	bool deadline_on, refund_on;
	atomic_uint_least64_t confirmed, cancelled, duplicates;
	/* orders cancelled for their payment deadline (PAYMENT_DEADLINE, a
	 * late approval included) */
	atomic_uint_least64_t deadline_missed;
	/* refunds owed (order cancelled behind a possible charge), sent to
	 * the gateway (attempts), acknowledged, and attempts it failed */
	atomic_uint_least64_t refunds_owed, refunds_sent, refunds_done, refund_failures;
	/* SELL found a word not ORDERED after CONFIRMED: repaired to SOLD from
	 * the database, or not (seat held live by another session) */
	atomic_uint_least64_t sell_repairs, sell_repair_failures;
	struct saga_unsold_list unsold;        /* those failures, retried */
	atomic_uint_least64_t unsold_resolved; /* ... and later made SOLD */
	atomic_uint_least64_t payments_resumed; /* undecided at start, asked again */
	atomic_uint_least64_t requests_pruned;  /* decided payment_requests rows deleted */
	struct saga_batcher settle;             /* gateway answers to settle */
	/* transactions that settled two or more orders, and those orders */
	atomic_uint_least64_t settle_batches, settled_batched;
	atomic_uint_least64_t rejected[SAGA_REJECT_N];
	atomic_uint_least64_t queue_refused; /* saga_try_submit found it full */
};

int saga_start(struct saga *sg, struct ticketd *app, char *err, size_t errlen);

/* Runs job->run(job) on a saga worker (inline once saga_quiesce began).
 * Always queues: for work that carries a decision already made. */
void saga_submit(struct saga *sg, struct saga_job *job);
/* The same for new work (a new order, a new authorization): -EAGAIN, and
 * job not run, when saga_queue_max jobs are queued already. */
int saga_try_submit(struct saga *sg, struct saga_job *job);
/* Jobs queued now (not those running). */
int saga_queued(struct saga *sg);
/* Saga workers running a job now. */
int saga_busy(struct saga *sg);

/* Waits until every queued job has run; later jobs run inline. Called at
 * shutdown before the HTTP server stops, so no deferred answer is left. */
void saga_quiesce(struct saga *sg);
void saga_stop(struct saga *sg);

/* Re-applies finished orders' outcomes to their seat words, and (on a fresh
 * table) restores PENDING orders' seats as ORDERED. */
int saga_reconcile(struct ticketd *app, bool fresh_table);
/* The same for one event a node takes over (multi-node, issue #16), as on
 * a rebuilt table: its orders' seats are made SOLD, free or ORDERED again. */
int saga_reconcile_event(struct ticketd *app, uint32_t event_id);

/* Ends a PENDING order as its deadline would (CANCELLED with reason, its
 * seats released; CONFIRMED instead when an APPROVED payment is recorded):
 * how a cancelled event's pending orders end. 0, or a negative errno to
 * retry. */
int saga_cancel_order(struct ticketd *app, const char *order_id, const char *reason);

/* Ends the order as a decision says (APPROVED, DECLINED or FAILED) if the
 * decision matches the payment recorded under its id (same order, status
 * and amount, and the amount is the order's); otherwise drops it (logged,
 * counted in rejected[]) and changes nothing. A no-op if already applied.
 * 0, or a negative errno to retry. */
int saga_apply_decision(struct ticketd *app, const struct payment_decision *d);

/* How one seat of a CONFIRMED order reached SOLD: SELL found it ORDERED
 * (or SOLD already); or it did not (the word lapsed: the commit outlasted
 * the settle margin, or the word was lost) and the word was repaired to
 * SOLD from the database (recovery_restore_sold); or that failed too (a
 * live hold of another session sits on it; sold_seats still refuses a
 * second sale). */
enum saga_sell { SAGA_SELL_OK, SAGA_SELL_REPAIRED, SAGA_SELL_UNREPAIRED };

/* The seat-word operations saga_sell_seat uses (the daemon's, or a fake). */
struct saga_seat_ops {
	int (*sell)(void *ctx, uint32_t event_id, uint32_t seat_id); /* TKT_* */
	int (*restore_sold)(void *ctx, uint32_t event_id, uint32_t seat_id); /* 0 or <0 */
	void *ctx;
};

enum saga_sell saga_sell_seat(const struct saga_seat_ops *ops, uint32_t event_id,
			      uint32_t seat_id, int *sell_status);

void saga_unsold_init(struct saga_unsold_list *l);
void saga_unsold_add(struct saga_unsold_list *l, const struct saga_unsold *u);
uint32_t saga_unsold_count(struct saga_unsold_list *l);
/* Calls sell on every entry and keeps those it answers SAGA_SELL_UNREPAIRED;
 * *sold counts the others. Returns how many are left. */
uint32_t saga_unsold_retry(struct saga_unsold_list *l,
			   enum saga_sell (*sell)(void *ctx, const struct saga_unsold *u),
			   void *ctx, uint32_t *sold);

/* What an order came to after a payment: order status (PENDING,
 * CONFIRMED, CANCELLED) and reason, the recorded payment (id, status) and
 * its refund ("", PENDING, DONE). */
struct saga_outcome {
	char order_status[16], reason[65];
	char payment_id[48], payment_status[16], refund_status[8];
};

/* Records that an authorization of session_id's order order_id is being
 * asked of the gateway (before asking; an undecided one is asked again at
 * the next start), in one statement together with the order's checks
 * (payment_request_claim): 1 recorded (*amount the order's), 0 nothing
 * recorded (read the order to tell why), -EBUSY no connection, another
 * negative errno on failure. On a saga worker. */
int saga_claim_payment(struct ticketd *app, const char *order_id, const char *session_id,
		       uint64_t *amount);

/* Records the gateway's answer r for an order, applies it, and reads what
 * the order came to into out. -EAGAIN when r is no decision
 * (PAYMENT_UNKNOWN: the request stays recorded), another negative errno
 * when recording failed. On a saga worker. */
int saga_settle_payment(struct ticketd *app, const char *order_id, uint64_t amount,
			const struct payment_result *r, struct saga_outcome *out);

/* Orders settled in one transaction at most (saga_settle_many). */
#define SAGA_SETTLE_BATCH 8

/* One gateway answer to settle (saga_settle_many). */
struct saga_settle_item {
	const char *order_id;
	uint64_t amount;
	const struct payment_result *r;
	const struct traceparent *trace; /* #15: its context (NULL: none) */
	struct saga_outcome out; /* what the order came to */
	int rc;                  /* as saga_settle_payment's */
};

/* saga_settle_payment for items[0..n) (n <= SAGA_SETTLE_BATCH). Those a
 * plain ending covers (the order PENDING and of the answer's amount, an
 * APPROVED before the deadline or a DECLINED) are settled in one
 * transaction: the orders locked in id order, one multi-row INSERT each
 * for payments, inbox claims, sold seats and outbox rows, one UPDATE of
 * the orders. The others, and all of them when that transaction fails
 * (a seat sold meanwhile, a decision recorded already, a deadlock), go
 * through saga_settle_payment one by one. On a saga worker. */
void saga_settle_many(struct ticketd *app, struct saga_settle_item *items, int n);

/* The order's status and its payment as recorded now. */
int saga_outcome(struct ticketd *app, const char *order_id, struct saga_outcome *out);

/* Records a gateway decision for an order (payments row + outbox event).
 * If a decision is already recorded, returns it instead (-EEXIST is not an
 * error: *status and payment_id then hold the recorded one). */
int saga_record_payment(struct ticketd *app, const char *order_id,
			const char *payment_id, const char *status,
			uint64_t amount, int attempts, char *recorded_id, size_t id_len,
			char *recorded_status, size_t st_len);

#endif
