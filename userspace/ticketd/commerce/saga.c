#include "userspace/ticketd/commerce/saga.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/log.h"
#include "userspace/lib/trace.h"
#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/commerce/payment_client.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/messaging/inbox.h"
#include "userspace/ticketd/messaging/outbox.h"
#include "userspace/ticketd/messaging/outbox_relay.h"
#include "userspace/ticketd/seats/recovery.h"
#include "userspace/ticketd/ticketd.h"

#define PAYMENTS_TOPIC "ticketing.payments"
#define ORDERS_TOPIC "ticketing.orders"
#define SEATS_TOPIC "ticketing.seats"
#define SAGA_CONSUMER "ticketd-saga"
#define DEADLINE_POLL_MS 200
#define REFUND_POLL_MS 250
#define REFUND_BATCH 32
#define RESUME_BATCH 1000
#define REQUEST_PRUNE_MS 1000  /* decided payment_requests rows cleared this often */
#define REQUEST_PRUNE_BATCH 2000

enum saga_sell saga_sell_seat(const struct saga_seat_ops *ops, uint32_t event_id,
			      uint32_t seat_id, int *sell_status)
{
	int st = ops->sell(ops->ctx, event_id, seat_id);

	*sell_status = st;
	if (st == TKT_OK || st == TKT_SOLD)
		return SAGA_SELL_OK;
	return ops->restore_sold(ops->ctx, event_id, seat_id) == 0 ? SAGA_SELL_REPAIRED
								  : SAGA_SELL_UNREPAIRED;
}

void saga_unsold_init(struct saga_unsold_list *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->n = 0;
	l->overflow = false;
}

void saga_unsold_add(struct saga_unsold_list *l, const struct saga_unsold *u)
{
	pthread_mutex_lock(&l->lock);
	if (l->n < SAGA_UNSOLD_MAX)
		l->items[l->n++] = *u;
	else
		l->overflow = true;
	pthread_mutex_unlock(&l->lock);
}

uint32_t saga_unsold_count(struct saga_unsold_list *l)
{
	uint32_t n;

	pthread_mutex_lock(&l->lock);
	n = l->n;
	pthread_mutex_unlock(&l->lock);
	return n;
}

/* Under the lock: a round is at most SAGA_UNSOLD_MAX seat operations of
 * about a microsecond, and adds are rare. */
uint32_t saga_unsold_retry(struct saga_unsold_list *l,
			   enum saga_sell (*sell)(void *ctx, const struct saga_unsold *u),
			   void *ctx, uint32_t *sold)
{
	uint32_t kept = 0, n;

	*sold = 0;
	pthread_mutex_lock(&l->lock);
	for (uint32_t i = 0; i < l->n; i++) {
		if (sell(ctx, &l->items[i]) == SAGA_SELL_UNREPAIRED)
			l->items[kept++] = l->items[i];
		else
			(*sold)++;
	}
	n = l->n = kept;
	pthread_mutex_unlock(&l->lock);
	return n;
}

struct seat_ops_ctx {
	struct ticketd *app;
	uint32_t slot;
};

static int sell_word(void *ctx, uint32_t event_id, uint32_t seat_id)
{
	struct seat_ops_ctx *c = ctx;

	return ticketd_seat_op(c->app, TKT_SRC_SAGA, TKT_SEAT_SELL, c->slot, event_id, seat_id,
			       0, NULL);
}

static int restore_sold_word(void *ctx, uint32_t event_id, uint32_t seat_id)
{
	struct seat_ops_ctx *c = ctx;

	return recovery_restore_sold(c->app, event_id, seat_id);
}

/* Seat words follow a committed outcome. The ORDERED words stay live for
 * order_settle_margin_seconds beyond the deadline, so SELL normally finds
 * them; if it does not (the commit took longer, or the word was lost), the
 * database has the sale: the word is repaired to SOLD and counted. */
static void apply_outcome(struct ticketd *app, const struct order *o,
			  bool sold)
{
	struct seat_ops_ctx ctx = {.app = app, .slot = o->slot};
	const struct saga_seat_ops ops = {.sell = sell_word, .restore_sold = restore_sold_word,
					  .ctx = &ctx};

	/* multi-node: another node's event; its owner changes its words
	 * (and rebuilds them from MariaDB when it takes the event over) */
	if (!shards_serves(&app->shards, o->event_id)) {
		log_msg(LOG_INFO, NULL, "order %s: event %u is served by another node; its "
			"seat words are that node's to change", o->id, o->event_id);
		return;
	}
	for (int i = 0; i < o->n_seats; i++) {
		int st;

		if (!sold) {
			ticketd_seat_op(app, TKT_SRC_SAGA, TKT_SEAT_CANCEL, o->slot, o->event_id,
					o->seats[i], 0, NULL);
			continue;
		}
		switch (saga_sell_seat(&ops, o->event_id, o->seats[i], &st)) {
		case SAGA_SELL_OK:
			break;
		case SAGA_SELL_REPAIRED:
			atomic_fetch_add(&app->saga.sell_repairs, 1);
			log_msg(LOG_WARN, NULL,
				"order %s: seat %u of event %u was not ORDERED at SELL (%d);"
				" repaired to SOLD from the database", o->id, o->seats[i],
				o->event_id, st);
			break;
		case SAGA_SELL_UNREPAIRED:
			atomic_fetch_add(&app->saga.sell_repair_failures, 1);
			saga_unsold_add(&app->saga.unsold,
					&(struct saga_unsold){.slot = o->slot,
							      .event_id = o->event_id,
							      .seat_id = o->seats[i]});
			log_msg(LOG_WARN, NULL,
				"order %s: seat %u of event %u could not be marked SOLD yet"
				" (%d); retried until it is (sold_seats keeps it from a"
				" second sale meanwhile)", o->id, o->seats[i], o->event_id, st);
			break;
		}
	}
}

/* Are all of the order's seat words still ORDERED for it (live)? */
static bool seats_still_ordered(struct ticketd *app, const struct order *o)
{
	const struct event_info *e = catalog_find(&app->catalog, o->event_id);
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());

	if (!e)
		return false;
	for (int i = 0; i < o->n_seats; i++) {
		if (o->seats[i] >= e->n_seats)
			return false;
		if (tkt_sw_claimed_by(tkt_load64(&app->seats[e->seat_base + o->seats[i]]),
				      o->slot, now_ms) != TKT_SEAT_ORDERED)
			return false;
	}
	return true;
}

/* A payment whose order ends CANCELLED is refunded: APPROVED (charged),
 * FAILED (the gateway may have charged on an attempt that timed out). */
static bool charge_possible(const char *status)
{
	return !strcmp(status, "APPROVED") || !strcmp(status, "FAILED");
}

/* Owes a refund inside the caller's transaction; the refund loop sends it. */
static int owe_refund(struct ticketd *app, MYSQL *c, const char *payment_id,
		      const char *order_id)
{
	int rc = payment_store_owe_refund(c, payment_id);

	if (rc == 1) {
		atomic_fetch_add(&app->saga.refunds_owed, 1);
		log_msg(LOG_INFO, NULL, "order %s: cancelled with payment %s; refund owed",
			order_id, payment_id);
	}
	return rc < 0 ? rc : 0;
}

static int64_t unix_ms(void)
{
	uint32_t mono;

	return (int64_t)ticketd_unix_ms_at(&mono);
}

/* What end_locked did inside the caller's transaction. lead (set by the
 * caller, may be NULL) is an outbox row of the caller's that goes into the
 * same multi-row INSERT as the order's own rows, ahead of them, when the
 * order ends here; lead_done says whether it did (if not, the caller
 * appends it alone). */
struct ending {
	bool ended;   /* this transaction ended the order */
	bool approve; /* ... CONFIRMED (false: CANCELLED) */
	const struct outbox_msg *lead;
	bool lead_done;
};

/* Ends a PENDING order in one transaction on c (already started): its
 * outbox rows (e->lead first, when set, then the order's and, confirmed,
 * the seats' row) in one statement. Returns 1 when this call ended it, 0
 * when it was no longer PENDING, <0 on error (the caller rolls back). */
static int end_order(struct ticketd *app, MYSQL *c, struct order *o,
		     bool approve, const char *reason, struct ending *e)
{
	struct outbox_msg msgs[3];
	char *payload;
	int rc, n = 0;

	if (approve) {
		rc = order_store_insert_sold(c, o);
		if (rc == -EEXIST) /* the database refuses a second sale */
			return -EEXIST;
		if (rc)
			return rc;
	}
	rc = order_store_finish(c, o->id, approve ? "CONFIRMED" : "CANCELLED",
				approve ? NULL : reason);
	if (rc <= 0)
		return rc;
	snprintf(o->status, sizeof(o->status), "%s", approve ? "CONFIRMED" : "CANCELLED");
	snprintf(o->reason, sizeof(o->reason), "%s", approve ? "" : reason);
	payload = order_event_json(approve ? "OrderConfirmed" : "OrderCancelled", o);
	if (!payload)
		return -ENOMEM;
	if (e->lead)
		msgs[n++] = *e->lead;
	msgs[n++] = (struct outbox_msg){ORDERS_TOPIC, o->id, payload};
	if (approve)
		msgs[n++] = (struct outbox_msg){SEATS_TOPIC, o->id, payload};
	rc = outbox_append_many(c, msgs, n);
	free(payload);
	if (rc)
		return rc;
	e->lead_done = e->lead != NULL;
	return 1;
}

const char *const saga_reject_names[SAGA_REJECT_N] = {
	[SAGA_REJECT_MALFORMED] = "malformed",
	[SAGA_REJECT_UNKNOWN_PAYMENT] = "unknown_payment",
	[SAGA_REJECT_OTHER_ORDER] = "other_order",
	[SAGA_REJECT_STATUS] = "status_differs",
	[SAGA_REJECT_AMOUNT] = "amount_differs",
};

/* A decision that does not match what we recorded changes nothing: it is
 * logged with the reason and counted. */
static void reject(struct ticketd *app, const struct payment_decision *d,
		   enum saga_reject why)
{
	atomic_fetch_add(&app->saga.rejected[why], 1);
	log_json(LOG_WARN, NULL, "saga: dropped a payment decision",
		 json_pack("{s:s?, s:s?, s:s?, s:I, s:s}", "orderId", d->order_id,
			   "paymentId", d->payment_id, "status", d->status, "amount",
			   (json_int_t)d->amount, "reason", saga_reject_names[why]));
}

/* Compares a decision with the payment recorded under its id (rec, or
 * rc -ENOENT when none). SAGA_REJECT_N when it matches. */
static enum saga_reject compare_recorded(const struct payment_decision *d,
					 const struct payment_record *rec, int rc, int *err)
{
	*err = 0;
	if (rc == -ENOENT)
		return SAGA_REJECT_UNKNOWN_PAYMENT;
	if (rc) {
		*err = rc;
		return SAGA_REJECT_N;
	}
	if (strcmp(rec->order_id, d->order_id))
		return SAGA_REJECT_OTHER_ORDER;
	if (strcmp(rec->status, d->status))
		return SAGA_REJECT_STATUS;
	if (rec->amount != d->amount)
		return SAGA_REJECT_AMOUNT;
	return SAGA_REJECT_N;
}

/* compare_recorded against the payments row (inside the caller's
 * transaction). */
static enum saga_reject check_recorded(MYSQL *c, const struct payment_decision *d,
				       int *err)
{
	struct payment_record rec;
	int rc = payment_store_get_by_id(c, d->payment_id, &rec);

	return compare_recorded(d, &rec, rc, err);
}

/* Ends the order o, read FOR UPDATE in c's open transaction, as approve
 * and reason say, given the payment recorded for it (pay, NULL when none).
 * On the deadline path (deadline true) a recorded APPROVED payment that was
 * never applied confirms the order if its seats are still its own; a late
 * approval cancels it; a seat sold already cancels it (SEAT_ALREADY_SOLD:
 * the failed multi-row INSERT is undone alone, the transaction goes on).
 * Whenever the order ends (or has ended) CANCELLED behind a payment that
 * may have charged, a refund is owed in the same transaction. 0, or <0
 * (the caller rolls back). */
static int end_locked(struct ticketd *app, MYSQL *c, struct order *o, bool approve,
		      const char *reason, const struct payment_record *pay, bool deadline,
		      struct ending *e)
{
	int rc;

	e->ended = e->approve = false;
	if (strcmp(o->status, "PENDING")) {
		/* Ended already (the deadline won): a charge behind a
		 * cancelled order goes back. */
		if (pay && !strcmp(o->status, "CANCELLED") && charge_possible(pay->status))
			return owe_refund(app, c, pay->id, o->id);
		return 0;
	}
	if (deadline && pay && !strcmp(pay->status, "APPROVED") &&
	    seats_still_ordered(app, o)) {
		/* Approved and recorded, never applied: the sale stands. */
		approve = true;
		reason = NULL;
	} else if (approve && unix_ms() > o->deadline_ms) {
		approve = false; /* a late approval: cancelled and refunded */
		reason = "PAYMENT_DEADLINE";
	}
	rc = end_order(app, c, o, approve, reason, e);
	if (rc == -EEXIST) {
		/* A seat is sold already: compensate instead of confirming. */
		log_msg(LOG_ERROR, NULL, "order %s: a seat is already sold; cancelling", o->id);
		approve = false;
		rc = end_order(app, c, o, false, "SEAT_ALREADY_SOLD", e);
	}
	if (rc < 0)
		return rc;
	if (rc == 1 && !approve && pay && charge_possible(pay->status)) {
		int r2 = owe_refund(app, c, pay->id, o->id);

		if (r2 < 0)
			return r2;
	}
	e->ended = rc == 1;
	e->approve = approve;
	return 0;
}

/* After the commit of an ending: the seat words follow, counted, logged. */
static void ended(struct ticketd *app, const struct order *o, const struct ending *e)
{
	if (!e->ended)
		return;
	apply_outcome(app, o, e->approve);
	atomic_fetch_add(e->approve ? &app->saga.confirmed : &app->saga.cancelled, 1);
	if (!e->approve && !strcmp(o->reason, "PAYMENT_DEADLINE"))
		atomic_fetch_add(&app->saga.deadline_missed, 1);
	log_json(LOG_INFO, NULL, "order ended",
		 json_pack("{s:s, s:s, s:s}", "orderId", o->id, "status", o->status,
			   "reason", o->reason));
}

/* Runs end_locked in its own transaction, then moves the seat words. d is
 * the payment decision being applied (NULL for the deadline path, which
 * claims no inbox id): it must match the recorded payment and the order's
 * amount, or nothing changes. */
static int finish_order(struct ticketd *app, const char *order_id, bool approve,
			const char *reason, const struct payment_decision *d,
			bool deadline)
{
	MYSQL *c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);
	enum saga_reject why = SAGA_REJECT_N;
	struct payment_record pay;
	struct ending e = {0};
	struct order o;
	int rc;
	TRACE_SCOPE(ts, approve ? "saga.confirm" : "saga.compensate"); /* #15 */

	trace_span_attr(ts.span, "order.id", order_id);
	if (!c)
		return -EBUSY; /* retried: the deadline loop, the consumer */
	if (d) {
		/* One read first: the usual decision here is the Kafka copy
		 * of one already applied (its claim committed), dropped or
		 * counted without a transaction. */
		bool claimed;
		char mid0[64];

		snprintf(mid0, sizeof(mid0), "payment:%s", order_id);
		rc = payment_store_get_claimed(c, d->payment_id, SAGA_CONSUMER, mid0, &pay,
					       &claimed);
		if (rc == -ECONNRESET) { /* lent without a ping: one more try */
			db_put(&app->db, c);
			c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);
			if (!c)
				return -EBUSY;
			rc = payment_store_get_claimed(c, d->payment_id, SAGA_CONSUMER, mid0,
						       &pay, &claimed);
		}
		why = compare_recorded(d, &pay, rc, &rc);
		if (rc) {
			db_put(&app->db, c);
			return rc;
		}
		if (why != SAGA_REJECT_N) {
			db_put(&app->db, c);
			reject(app, d, why);
			return 0;
		}
		if (claimed) {
			atomic_fetch_add(&app->saga.duplicates, 1);
			db_put(&app->db, c);
			return 0;
		}
	}
	if ((rc = db_begin(&app->db, &c))) {
		db_put(&app->db, c);
		return rc;
	}
	if (d) {
		char mid[64];

		why = check_recorded(c, d, &rc);
		if (rc)
			goto rollback;
		if (why != SAGA_REJECT_N)
			goto drop;
		/* One decision per order: both paths claim the same inbox id. */
		snprintf(mid, sizeof(mid), "payment:%s", order_id);
		rc = inbox_claim(c, SAGA_CONSUMER, mid);
		if (rc == 0) {
			atomic_fetch_add(&app->saga.duplicates, 1);
			mysql_query(c, "ROLLBACK");
			db_put(&app->db, c);
			return 0;
		}
		if (rc < 0)
			goto rollback;
	}
	rc = order_store_get(c, order_id, true, &o);
	if (rc == -ENOENT) { /* not ours to end; still consumed */
		mysql_commit(c);
		db_put(&app->db, c);
		return 0;
	}
	if (rc)
		goto rollback;
	if (d && o.amount != d->amount) { /* the payment does not cover the order */
		why = SAGA_REJECT_AMOUNT;
		goto drop;
	}
	rc = payment_store_get_by_order(c, order_id, &pay);
	if (rc && rc != -ENOENT)
		goto rollback;
	rc = end_locked(app, c, &o, approve, reason, rc == 0 ? &pay : NULL, deadline, &e);
	if (rc < 0 || mysql_commit(c))
		goto rollback;
	db_put(&app->db, c);
	order_cache_put(&app->order_cache, &o); /* kept only when ended */
	ended(app, &o, &e);
	return 0;
drop:
	mysql_query(c, "ROLLBACK"); /* the inbox claim goes too */
	db_put(&app->db, c);
	reject(app, d, why);
	return 0;
rollback:
	mysql_query(c, "ROLLBACK");
	db_put(&app->db, c);
	return rc < 0 ? rc : -EIO;
}

int saga_apply_decision(struct ticketd *app, const struct payment_decision *d)
{
	if (!d->order_id || !d->payment_id || !d->status || !*d->order_id ||
	    strlen(d->order_id) > ORDER_ID_LEN || !*d->payment_id ||
	    strlen(d->payment_id) > PAYMENT_ID_LEN) {
		reject(app, d, SAGA_REJECT_MALFORMED);
		return 0;
	}
	if (!strcmp(d->status, "APPROVED"))
		return finish_order(app, d->order_id, true, NULL, d, false);
	if (!strcmp(d->status, "DECLINED"))
		return finish_order(app, d->order_id, false, "PAYMENT_DECLINED", d, false);
	if (!strcmp(d->status, "FAILED"))
		return finish_order(app, d->order_id, false, "PAYMENT_FAILED", d, false);
	reject(app, d, SAGA_REJECT_STATUS);
	return 0;
}

/* Reads one payment message into d (its strings point into *root, which
 * the caller frees). false, counted and logged, when it is malformed. */
static bool parse_payment(struct ticketd *app, const struct kafka_message *m, json_t **root,
			  struct payment_decision *d)
{
	json_t *amount;

	*root = json_loadb(m->payload, m->payload ? m->payload_len : 0, 0, NULL);
	amount = json_object_get(*root, "amount");
	*d = (struct payment_decision){
		.order_id = json_string_value(json_object_get(*root, "orderId")),
		.payment_id = json_string_value(json_object_get(*root, "paymentId")),
		.status = json_string_value(json_object_get(*root, "status")),
	};
	if (!d->order_id || !d->payment_id || !d->status || !json_is_integer(amount) ||
	    json_integer_value(amount) < 0) {
		log_msg(LOG_WARN, NULL, "saga: skipping malformed payment message at %s/%d/%lld",
			m->topic, m->partition, (long long)m->offset);
		atomic_fetch_add(&app->saga.rejected[SAGA_REJECT_MALFORMED], 1);
		return false;
	}
	d->amount = (uint64_t)json_integer_value(amount);
	return true;
}

/* Kafka batch handler: payment decisions, each applied only if it matches
 * the payment we recorded (anyone who can produce to the topic can send
 * one). The usual message is the copy of a decision settle_at_once applied
 * already, its claim "payment:<order>" committed with it: one read per 16
 * messages finds those (dropped as duplicates, or rejected when they do
 * not match the record) without a transaction. The others (the settle
 * transaction failed, or a decision recorded elsewhere) are applied one by
 * one (saga_apply_decision: their own claim and transaction). A failure
 * has the whole batch handed again; what was applied is then found
 * claimed. */
static int on_payments(void *arg, const struct kafka_message *ms, int n)
{
	struct ticketd *app = arg;
	json_t **roots = calloc((size_t)n, sizeof(*roots));
	struct payment_decision *ds = calloc((size_t)n, sizeof(*ds));
	struct payment_record *recs = calloc((size_t)n, sizeof(*recs));
	const char **ids = calloc((size_t)n, sizeof(*ids));
	bool *ok = calloc((size_t)n, sizeof(*ok)), *found = calloc((size_t)n, sizeof(*found));
	bool *claimed = calloc((size_t)n, sizeof(*claimed));
	int *at = calloc((size_t)n, sizeof(*at));
	int k = 0, rc = 0;
	MYSQL *c = NULL;

	if (!roots || !ds || !recs || !ids || !ok || !found || !claimed || !at) {
		rc = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		ok[i] = parse_payment(app, &ms[i], &roots[i], &ds[i]);
		/* Ids too long for the tables and unknown statuses:
		 * saga_apply_decision rejects them, before any lookup. */
		if (ok[i] && strlen(ds[i].order_id) <= ORDER_ID_LEN && *ds[i].order_id &&
		    *ds[i].payment_id && strlen(ds[i].payment_id) <= PAYMENT_ID_LEN &&
		    (!strcmp(ds[i].status, "APPROVED") || !strcmp(ds[i].status, "DECLINED") ||
		     !strcmp(ds[i].status, "FAILED"))) {
			at[k] = i;
			ids[k++] = ds[i].payment_id;
		}
	}
	if (k) {
		c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);
		if (!c) {
			rc = -EBUSY;
			goto out;
		}
		rc = payment_store_get_claimed_many(c, ids, k, SAGA_CONSUMER, "payment:", recs,
						    found, claimed);
		if (rc == -ECONNRESET) { /* lent without a ping: one more try */
			db_put(&app->db, c);
			c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);
			if (!c) {
				rc = -EBUSY;
				goto out;
			}
			rc = payment_store_get_claimed_many(c, ids, k, SAGA_CONSUMER, "payment:",
							    recs, found, claimed);
		}
		db_put(&app->db, c);
		if (rc)
			goto out;
	}
	for (int j = 0, i = 0; i < n; i++) {
		const struct payment_decision *d = &ds[i];
		enum saga_reject why;
		int err;

		if (!ok[i])
			continue;
		if (j < k && at[j] == i) {
			why = compare_recorded(d, &recs[j], found[j] ? 0 : -ENOENT, &err);
			if (why != SAGA_REJECT_N) {
				reject(app, d, why);
				j++;
				continue;
			}
			if (claimed[j++]) {
				atomic_fetch_add(&app->saga.duplicates, 1);
				continue;
			}
		}
		rc = saga_apply_decision(app, d);
		if (rc)
			goto out;
	}
out:
	for (int i = 0; roots && i < n; i++)
		json_decref(roots[i]);
	free(roots);
	free(ds);
	free(recs);
	free(ids);
	free(ok);
	free(found);
	free(claimed);
	free(at);
	return rc;
}

static void *refund_loop(void *arg);
static void resume_payments(struct saga *sg);

static enum saga_sell retry_sell(void *ctx, const struct saga_unsold *u)
{
	struct seat_ops_ctx c = {.app = ctx, .slot = u->slot};
	const struct saga_seat_ops ops = {.sell = sell_word, .restore_sold = restore_sold_word,
					  .ctx = &c};
	int st;

	return saga_sell_seat(&ops, u->event_id, u->seat_id, &st);
}

/* Sold seats whose word is not SOLD yet (apply_outcome): one more try
 * each; after an overflow of the list, a pass over all of sold_seats. */
static void retry_unsold(struct saga *sg)
{
	struct saga_unsold_list *l = &sg->unsold;
	uint32_t sold, left;
	bool overflow;

	left = saga_unsold_retry(l, retry_sell, sg->app, &sold);
	if (sold) {
		atomic_fetch_add(&sg->unsold_resolved, sold);
		log_msg(LOG_INFO, NULL, "saga: %u seats of confirmed orders marked SOLD on a "
			"retry, %u left", sold, left);
	}
	pthread_mutex_lock(&l->lock);
	overflow = l->overflow;
	l->overflow = false;
	pthread_mutex_unlock(&l->lock);
	if (overflow) {
		struct recovery_report rep = {0};
		char err[256];

		if (recovery_sync_sold(sg->app, &rep, err, sizeof(err)) || rep.skipped) {
			pthread_mutex_lock(&l->lock);
			l->overflow = true; /* again next round */
			pthread_mutex_unlock(&l->lock);
		}
	}
}

int saga_cancel_order(struct ticketd *app, const char *order_id, const char *reason)
{
	return finish_order(app, order_id, false, reason, NULL, true);
}

static void *deadline_loop(void *arg)
{
	struct saga *sg = arg;
	char ids[64][ORDER_ID_LEN + 1];
	int64_t next_prune_ms = 0;

	while (!atomic_load(&sg->stop)) {
		MYSQL *c = db_get_timed(&sg->app->db, DB_WORKER_WAIT_MS);
		int n = c ? order_store_due(c, ids, 64) : 0;

		if (c && tkt_mono_ms() >= next_prune_ms) {
			int pruned = payment_requests_prune(c, REQUEST_PRUNE_BATCH);

			/* a full batch: more may be left, again next poll */
			next_prune_ms = tkt_mono_ms() +
					(pruned == REQUEST_PRUNE_BATCH ? 0 : REQUEST_PRUNE_MS);
			if (pruned > 0)
				atomic_fetch_add(&sg->requests_pruned, (uint64_t)pruned);
		}
		db_put(&sg->app->db, c); /* none: tried again next poll */
		for (int i = 0; i < n; i++)
			finish_order(sg->app, ids[i], false, "PAYMENT_DEADLINE", NULL, true);
		retry_unsold(sg);
		struct timespec ts = {0, DEADLINE_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void saga_batcher_init(struct saga_batcher *b, int max_takers)
{
	pthread_mutex_init(&b->lock, NULL);
	b->head = b->tail = NULL;
	atomic_store(&b->n, 0);
	b->takers = 0;
	b->max_takers = max_takers > 0 ? max_takers : 1;
}

bool saga_batcher_add(struct saga_batcher *b, struct saga_job *job)
{
	bool need;

	job->next = NULL;
	pthread_mutex_lock(&b->lock);
	if (b->tail)
		b->tail->next = job;
	else
		b->head = job;
	b->tail = job;
	b->n++;
	need = b->takers < b->max_takers;
	if (need)
		b->takers++;
	pthread_mutex_unlock(&b->lock);
	return need;
}

int saga_batcher_take(struct saga_batcher *b, struct saga_job **out, int max, bool *again)
{
	int k = 0;

	pthread_mutex_lock(&b->lock);
	while (k < max && b->head) {
		out[k] = b->head;
		b->head = b->head->next;
		out[k++]->next = NULL;
		b->n--;
	}
	if (!b->head)
		b->tail = NULL;
	*again = b->n > 0; /* this taker stays counted: queued again */
	if (!*again)
		b->takers--;
	pthread_mutex_unlock(&b->lock);
	return k;
}

void saga_queue_init(struct saga_queue *q, int max)
{
	q->head = q->tail = NULL;
	q->n = 0;
	q->max = max > 0 ? max : 1;
	q->gathered = NULL;
}

int saga_queue_push(struct saga_queue *q, struct saga_job *job, bool bounded)
{
	if (bounded &&
	    q->n + (q->gathered ? atomic_load(&q->gathered->n) : 0) >= q->max)
		return -EAGAIN;
	job->next = NULL;
	if (q->tail)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
	q->n++;
	return 0;
}

struct saga_job *saga_queue_pop(struct saga_queue *q)
{
	struct saga_job *job = q->head;

	if (!job)
		return NULL;
	q->head = job->next;
	if (!q->head)
		q->tail = NULL;
	q->n--;
	job->next = NULL;
	return job;
}

static void *worker_loop(void *arg)
{
	struct saga *sg = arg;

	for (;;) {
		struct saga_job *job;

		pthread_mutex_lock(&sg->lock);
		while (!sg->q.head && !sg->stopping)
			pthread_cond_wait(&sg->cond, &sg->lock);
		job = saga_queue_pop(&sg->q);
		if (job)
			sg->busy++;
		pthread_mutex_unlock(&sg->lock);
		if (!job)
			return NULL; /* stopping and drained */
		trace_current_set(&job->trace, NULL); /* #15: job may free itself */
		job->run(job);
		trace_current_set(NULL, NULL);
		pthread_mutex_lock(&sg->lock);
		sg->busy--;
		/* Only saga_quiesce waits for busy to fall (idle workers wait
		 * for jobs, which submit signals): waking every idle worker
		 * after every job cost each of them a context switch. */
		if (sg->stopping && !sg->busy && !sg->q.head)
			pthread_cond_broadcast(&sg->cond);
		pthread_mutex_unlock(&sg->lock);
	}
}

static int submit(struct saga *sg, struct saga_job *job, bool bounded)
{
	int rc;

	trace_current_get(&job->trace); /* #15: the worker continues this trace */
	pthread_mutex_lock(&sg->lock);
	if (sg->stopping || !sg->n_workers) {
		pthread_mutex_unlock(&sg->lock);
		job->run(job);
		return 0;
	}
	rc = saga_queue_push(&sg->q, job, bounded);
	if (!rc)
		pthread_cond_signal(&sg->cond);
	pthread_mutex_unlock(&sg->lock);
	if (rc)
		atomic_fetch_add(&sg->queue_refused, 1);
	return rc;
}

void saga_submit(struct saga *sg, struct saga_job *job)
{
	submit(sg, job, false);
}

int saga_try_submit(struct saga *sg, struct saga_job *job)
{
	return submit(sg, job, true);
}

int saga_queued(struct saga *sg)
{
	int n;

	if (!sg->app)
		return 0;
	pthread_mutex_lock(&sg->lock);
	n = sg->q.n + atomic_load(&sg->settle.n); /* answers gathered wait too */
	pthread_mutex_unlock(&sg->lock);
	return n;
}

int saga_busy(struct saga *sg)
{
	int n;

	if (!sg->app)
		return 0;
	pthread_mutex_lock(&sg->lock);
	n = sg->busy;
	pthread_mutex_unlock(&sg->lock);
	return n;
}

int saga_start(struct saga *sg, struct ticketd *app, char *err, size_t errlen)
{
	struct kafka_consumer_opts o;
	int rc;

	sg->app = app;
	pthread_mutex_init(&sg->lock, NULL);
	saga_unsold_init(&sg->unsold);
	saga_queue_init(&sg->q, app->cfg.saga_queue_max);
	saga_batcher_init(&sg->settle, SAGA_WORKERS);
	sg->q.gathered = &sg->settle;
	pthread_cond_init(&sg->cond, NULL);
	for (sg->n_workers = 0; sg->n_workers < SAGA_WORKERS; sg->n_workers++)
		if (pthread_create(&sg->workers[sg->n_workers], NULL, worker_loop, sg)) {
			snprintf(err, errlen, "cannot start the saga workers");
			return -EAGAIN;
		}
	kafka_consumer_default_opts(&o);
	o.group_id = SAGA_CONSUMER;
	o.topics[0] = PAYMENTS_TOPIC;
	o.topics[1] = NULL;
	o.batch_handler = on_payments;
	o.batch_max = 64;
	o.arg = app;
	o.client_id = "ticketd-saga";
	snprintf(sg->instance_id, sizeof(sg->instance_id), "saga-%s", app->cfg.node_id);
	o.instance_id = sg->instance_id;
	rc = kafka_consumer_start(&sg->consumer, app->cfg.kafka_bootstrap, &o, err, errlen);
	if (rc)
		return rc;
	sg->consumer_on = true;
	atomic_store(&sg->stop, false);
	if (pthread_create(&sg->deadline_thread, NULL, deadline_loop, sg)) {
		snprintf(err, errlen, "cannot start the deadline thread");
		return -EAGAIN;
	}
	sg->deadline_on = true;
	if (pthread_create(&sg->refund_thread, NULL, refund_loop, sg)) {
		snprintf(err, errlen, "cannot start the refund thread");
		return -EAGAIN;
	}
	sg->refund_on = true;
	resume_payments(sg);
	return 0;
}

void saga_quiesce(struct saga *sg)
{
	if (!sg->app)
		return;
	pthread_mutex_lock(&sg->lock);
	sg->stopping = true;
	pthread_cond_broadcast(&sg->cond);
	while (sg->q.head || sg->busy)
		pthread_cond_wait(&sg->cond, &sg->lock);
	pthread_mutex_unlock(&sg->lock);
}

void saga_stop(struct saga *sg)
{
	if (!sg->app)
		return;
	saga_quiesce(sg);
	for (int i = 0; i < sg->n_workers; i++)
		pthread_join(sg->workers[i], NULL);
	sg->n_workers = 0;
	atomic_store(&sg->stop, true);
	if (sg->deadline_on)
		pthread_join(sg->deadline_thread, NULL);
	sg->deadline_on = false;
	if (sg->refund_on)
		pthread_join(sg->refund_thread, NULL);
	sg->refund_on = false;
	if (sg->consumer_on)
		kafka_consumer_stop(&sg->consumer);
	sg->consumer_on = false;
}

/* The PaymentDecided event (ticketing.payments), or NULL without memory. */
static char *payment_event_json(const char *order_id, const char *payment_id,
				const char *status, uint64_t amount, int attempts)
{
	json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:I, s:i}", "type", "PaymentDecided",
			       "orderId", order_id, "paymentId", payment_id, "status",
			       status, "amount", (json_int_t)amount, "attempts", attempts);
	char *payload = ev ? json_dumps(ev, JSON_COMPACT) : NULL;

	json_decref(ev);
	return payload;
}

int saga_record_payment(struct ticketd *app, const char *order_id,
			const char *payment_id, const char *status,
			uint64_t amount, int attempts, char *recorded_id, size_t id_len,
			char *recorded_status, size_t st_len)
{
	MYSQL *c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);
	char *payload = NULL;
	int rc;

	if (!c)
		return -EBUSY;
	if ((rc = db_begin(&app->db, &c))) {
		db_put(&app->db, c);
		return rc;
	}
	rc = payment_store_insert(c, payment_id, order_id, status, amount, attempts);
	if (!rc)
		rc = payment_request_delete(c, order_id);
	if (rc == -EEXIST) {
		mysql_query(c, "ROLLBACK");
		rc = payment_store_get(c, order_id, recorded_id, id_len, recorded_status,
				       st_len);
		db_put(&app->db, c);
		return rc ? rc : -EEXIST;
	}
	payload = payment_event_json(order_id, payment_id, status, amount, attempts);
	if (rc || !payload || outbox_append(c, PAYMENTS_TOPIC, order_id, payload) ||
	    mysql_commit(c)) {
		mysql_query(c, "ROLLBACK");
		db_put(&app->db, c);
		free(payload);
		return rc ? rc : -EIO;
	}
	db_put(&app->db, c);
	free(payload);
	snprintf(recorded_id, id_len, "%s", payment_id);
	snprintf(recorded_status, st_len, "%s", status);
	return 0;
}

/* ---- refunds ----------------------------------------------------------- */

struct refund_job {
	struct saga_job job; /* first */
	struct ticketd *app;
	char payment_id[PAYMENT_ID_LEN + 1];
	char order_id[ORDER_ID_LEN + 1];
	struct payment_result result;
};

/* On a saga worker: an acknowledged refund is recorded DONE. */
static void refund_record(struct saga_job *job)
{
	struct refund_job *j = (struct refund_job *)job;
	MYSQL *c = db_get_timed(&j->app->db, DB_WORKER_WAIT_MS);
	int rc = -EBUSY;

	if (c) {
		rc = payment_store_refund_done(c, j->payment_id, j->result.refund_status);
		db_put(&j->app->db, c);
	}
	if (rc == 1) {
		atomic_fetch_add(&j->app->saga.refunds_done, 1);
		log_json(LOG_INFO, NULL, "refund acknowledged",
			 json_pack("{s:s, s:s, s:s}", "orderId", j->order_id, "paymentId",
				   j->payment_id, "result", j->result.refund_status));
	} else if (rc < 0) {
		/* Still PENDING: sent again after its backoff (the gateway
		 * answers a repeat the same way). */
		log_msg(LOG_WARN, NULL, "refund of %s: recording the acknowledgement failed (%d)",
			j->order_id, rc);
	}
	free(j);
}

/* On the payment client's thread: never waits on MariaDB. */
static void on_refunded(void *arg, const struct payment_result *r)
{
	struct refund_job *j = arg;

	if (r->outcome != PAYMENT_REFUNDED) {
		/* Not acknowledged: the row stays PENDING and is due again
		 * after the backoff set when it was sent. */
		if (r->outcome == PAYMENT_FAILED)
			atomic_fetch_add(&j->app->saga.refund_failures, 1);
		free(j);
		return;
	}
	j->result = *r;
	j->job.run = refund_record;
	saga_submit(&j->app->saga, &j->job);
}

static uint32_t refund_backoff_ms(const struct ticketd *app, unsigned attempts)
{
	uint64_t ms = (uint64_t)app->cfg.refund_backoff_ms << (attempts < 20 ? attempts : 20);
	/* never before the attempt in flight has timed out */
	uint64_t floor_ms = (uint64_t)app->cfg.payment_timeout_ms + 500;

	if (ms > (uint64_t)app->cfg.refund_backoff_max_ms)
		ms = (uint64_t)app->cfg.refund_backoff_max_ms;
	return (uint32_t)(ms < floor_ms ? floor_ms : ms);
}

/* Sends every owed refund that is due, each after counting the attempt and
 * setting the next one in the database: a refund owed survives a stop and
 * a crash, and is sent until the gateway acknowledges it. */
static void send_due_refunds(struct saga *sg)
{
	struct ticketd *app = sg->app;
	struct refund_due due[REFUND_BATCH];
	MYSQL *c = db_get_timed(&app->db, DB_WORKER_WAIT_MS);
	int n;

	if (!c)
		return; /* next round */
	n = payment_store_refunds_due(c, due, REFUND_BATCH);
	for (int i = 0; i < n && !atomic_load(&sg->stop); i++) {
		struct refund_job *j;

		if (payment_store_refund_attempt(c, due[i].payment_id,
						 refund_backoff_ms(app, due[i].attempts)) != 1)
			continue;
		j = calloc(1, sizeof(*j));
		if (!j)
			break;
		j->app = app;
		snprintf(j->payment_id, sizeof(j->payment_id), "%s", due[i].payment_id);
		snprintf(j->order_id, sizeof(j->order_id), "%s", due[i].order_id);
		atomic_fetch_add(&sg->refunds_sent, 1);
		if (payment_client_refund(app->payments, due[i].order_id, due[i].amount,
					  on_refunded, j))
			free(j);
	}
	db_put(&app->db, c);
}

static void *refund_loop(void *arg)
{
	struct saga *sg = arg;

	while (!atomic_load(&sg->stop)) {
		struct timespec ts = {0, REFUND_POLL_MS * 1000000L};

		send_due_refunds(sg);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* ---- payments: record, apply, answer, resume -------------------------- */

int saga_claim_payment(struct ticketd *app, const char *order_id, const char *session_id,
		       uint64_t *amount)
{
	int rc = -ECONNRESET;

	for (int attempt = 0; attempt < 2 && rc == -ECONNRESET; attempt++) {
		MYSQL *c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);

		if (!c)
			return -EBUSY;
		rc = payment_request_claim(c, order_id, session_id, amount);
		db_put(&app->db, c);
	}
	return rc;
}

int saga_outcome(struct ticketd *app, const char *order_id, struct saga_outcome *out)
{
	MYSQL *c = db_get_timed(&app->db, DB_WORKER_WAIT_MS);
	struct payment_record pay;
	struct order o;
	int rc;

	if (!c)
		return -EBUSY;
	rc = order_store_get(c, order_id, false, &o);
	if (!rc) {
		snprintf(out->order_status, sizeof(out->order_status), "%s", o.status);
		snprintf(out->reason, sizeof(out->reason), "%s", o.reason);
		rc = payment_store_get_by_order(c, order_id, &pay);
		if (!rc) {
			snprintf(out->payment_id, sizeof(out->payment_id), "%s", pay.id);
			snprintf(out->payment_status, sizeof(out->payment_status), "%s", pay.status);
			snprintf(out->refund_status, sizeof(out->refund_status), "%s",
				 pay.refund_status);
		} else if (rc == -ENOENT) {
			out->payment_id[0] = out->payment_status[0] = out->refund_status[0] = '\0';
			rc = 0;
		}
	}
	db_put(&app->db, c);
	return rc;
}

/* Records a gateway decision and applies it in one transaction: the order
 * row locked first (as every path that ends an order does), the payments
 * row, the request row gone, the PaymentDecided outbox row, the inbox claim
 * "payment:<order>" (so the event's Kafka copy finds it applied), and the
 * order's end with its own outbox rows (end_locked). No other transaction
 * can hold that claim meanwhile: the Kafka copy exists only once this one
 * has committed. -EEXIST (nothing done) when a decision is recorded for the
 * order already, another negative errno when the transaction failed: the
 * caller then takes the slower path (record, apply, read). On 0, out holds
 * what the order came to. */
static int settle_at_once(struct ticketd *app, const char *order_id,
			  const char *payment_id,
			  const char *status, uint64_t amount, int attempts,
			  struct saga_outcome *out)
{
	MYSQL *c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);
	struct payment_record pay = {0};
	const char *reason = NULL;
	bool approve = !strcmp(status, "APPROVED");
	char *payload = NULL, mid[64];
	struct outbox_msg lead;
	struct ending e = {0};
	struct order o;
	int rc;
	TRACE_SCOPE(ts, approve ? "saga.confirm" : "saga.compensate"); /* #15 */

	trace_span_attr(ts.span, "order.id", order_id);

	if (!c)
		return -EBUSY;
	if ((rc = db_begin(&app->db, &c))) {
		db_put(&app->db, c);
		return rc;
	}
	rc = order_store_get(c, order_id, true, &o);
	if (rc)
		goto rollback; /* -ENOENT too: a payment needs its order */
	rc = payment_store_insert(c, payment_id, order_id, status, amount, attempts);
	if (rc)
		goto rollback; /* -EEXIST: decided already */
	/* The request row stays: decided now, it is skipped at a start and
	 * deleted in bulk by the deadline loop (payment_requests_prune). */
	payload = payment_event_json(order_id, payment_id, status, amount, attempts);
	if (!payload) {
		rc = -ENOMEM;
		goto rollback;
	}
	/* The PaymentDecided row goes with the order's rows when the order
	 * ends here (one INSERT), else alone before the commit. */
	lead = (struct outbox_msg){PAYMENTS_TOPIC, order_id, payload};
	e.lead = &lead;
	snprintf(pay.id, sizeof(pay.id), "%s", payment_id);
	snprintf(pay.order_id, sizeof(pay.order_id), "%s", order_id);
	snprintf(pay.status, sizeof(pay.status), "%s", status);
	pay.amount = amount;
	if (o.amount == amount) {
		snprintf(mid, sizeof(mid), "payment:%s", order_id);
		rc = inbox_claim(c, SAGA_CONSUMER, mid);
		if (rc < 0)
			goto rollback;
		if (!approve)
			reason = !strcmp(status, "DECLINED") ? "PAYMENT_DECLINED" : "PAYMENT_FAILED";
		if (rc == 1)
			rc = end_locked(app, c, &o, approve, reason, &pay, false, &e);
		if (rc < 0)
			goto rollback;
	} else {
		/* Not the order's amount: recorded, and the decision dropped as
		 * saga_apply_decision drops it; the deadline ends the order. */
		reject(app, &(struct payment_decision){.order_id = order_id,
						       .payment_id = payment_id,
						       .status = status, .amount = amount},
		       SAGA_REJECT_AMOUNT);
	}
	if (!e.lead_done && (rc = outbox_append(c, PAYMENTS_TOPIC, order_id, payload)))
		goto rollback;
	if (mysql_commit(c)) {
		rc = -EIO;
		goto rollback;
	}
	db_put(&app->db, c);
	free(payload);
	order_cache_put(&app->order_cache, &o); /* kept only when ended */
	ended(app, &o, &e);
	snprintf(out->order_status, sizeof(out->order_status), "%s", o.status);
	snprintf(out->reason, sizeof(out->reason), "%s", o.reason);
	snprintf(out->payment_id, sizeof(out->payment_id), "%s", payment_id);
	snprintf(out->payment_status, sizeof(out->payment_status), "%s", status);
	/* A cancelled order behind a possible charge owes its refund now
	 * (owed by this transaction, or before it: refunds start PENDING). */
	out->refund_status[0] = '\0';
	if (!strcmp(o.status, "CANCELLED") && charge_possible(status))
		snprintf(out->refund_status, sizeof(out->refund_status), "PENDING");
	return 0;
rollback:
	mysql_query(c, "ROLLBACK");
	db_put(&app->db, c);
	free(payload);
	return rc < 0 ? rc : -EIO;
}

int saga_settle_payment(struct ticketd *app, const char *order_id, uint64_t amount,
			const struct payment_result *r, struct saga_outcome *out)
{
	static const char *const names[] = {"APPROVED", "DECLINED", "FAILED"};
	char pid[48], st[16];
	int rc;

	memset(out, 0, sizeof(*out));
	if (r->outcome > PAYMENT_FAILED)
		return -EAGAIN; /* no decision: the request stays recorded */
	rc = settle_at_once(app, order_id, r->payment_id, names[r->outcome], amount,
			    r->attempts, out);
	if (!rc)
		return 0;
	/* A decision is recorded already (-EEXIST: a repeat of the
	 * authorization), or the one transaction failed (a lock wait, a
	 * deadlock, a commit whose outcome is unknown): record on its own,
	 * or read what is recorded, apply it if it is not yet (the Kafka
	 * copy of the event will find it done), and answer what the order
	 * came to. */
	memset(out, 0, sizeof(*out));
	rc = saga_record_payment(app, order_id, r->payment_id, names[r->outcome], amount,
				 r->attempts, pid, sizeof(pid), st, sizeof(st));
	if (rc && rc != -EEXIST)
		return rc;
	/* A failure here is retried by the Kafka copy and the deadline loop. */
	saga_apply_decision(app, &(struct payment_decision){.order_id = order_id,
							    .payment_id = pid,
							    .status = st,
							    .amount = amount});
	rc = saga_outcome(app, order_id, out);
	if (rc) { /* the decision is recorded; its outcome could not be read */
		snprintf(out->payment_id, sizeof(out->payment_id), "%s", pid);
		snprintf(out->payment_status, sizeof(out->payment_status), "%s", st);
		snprintf(out->order_status, sizeof(out->order_status), "PENDING");
	}
	return 0;
}

/* The orders of items[0..n) that one plain transaction can settle: found
 * PENDING, of the answer's amount, an APPROVED before the deadline or a
 * DECLINED, each order once. pick[] gets their indexes; returns how many. */
static int settle_eligible(const struct saga_settle_item *items, int n,
			   const struct order *o, const bool *found, int *pick)
{
	int64_t now = unix_ms();
	int k = 0;

	for (int i = 0; i < n; i++) {
		const struct payment_result *r = items[i].r;
		bool dup = false;

		for (int j = 0; j < i && !dup; j++)
			dup = !strcmp(items[i].order_id, items[j].order_id);
		if (dup || !found[i] || strcmp(o[i].status, "PENDING") ||
		    o[i].amount != items[i].amount || !r->payment_id[0] ||
		    strlen(r->payment_id) > PAYMENT_ID_LEN ||
		    (r->outcome != PAYMENT_APPROVED && r->outcome != PAYMENT_DECLINED) ||
		    (r->outcome == PAYMENT_APPROVED && now > o[i].deadline_ms))
			continue;
		pick[k++] = i;
	}
	return k;
}

/* The one transaction of saga_settle_many for the eligible items; done[i]
 * set for each it settled (out filled). Returns how many (0: it did not
 * commit, nothing of it stays). */
static int settle_batch(struct ticketd *app, struct saga_settle_item *items, int n,
			bool *done)
{
	const char *ids[SAGA_SETTLE_BATCH], *pids[SAGA_SETTLE_BATCH];
	const char *mids_p[SAGA_SETTLE_BATCH];
	char mids[SAGA_SETTLE_BATCH][64];
	char *pay_json[SAGA_SETTLE_BATCH] = {0}, *ord_json[SAGA_SETTLE_BATCH] = {0};
	struct order o[SAGA_SETTLE_BATCH], lo[SAGA_SETTLE_BATCH];
	bool found[SAGA_SETTLE_BATCH], approve[SAGA_SETTLE_BATCH], claimed[SAGA_SETTLE_BATCH];
	struct db_arg args[DB_ROWS_MAX_PARAMS];
	struct outbox_msg msgs[3 * SAGA_SETTLE_BATCH];
	int pick[SAGA_SETTLE_BATCH], k = 0, m = 0, rows = 0;
	MYSQL *c;
	TRACE_SCOPE(ts, "saga.settle_batch"); /* #15 */

	trace_span_attr_int(ts.span, "orders", n);
	c = db_get_tx(&app->db, DB_WORKER_WAIT_MS);
	if (!c)
		return 0;
	if (db_begin(&app->db, &c)) {
		db_put(&app->db, c);
		return 0;
	}
	for (int i = 0; i < n; i++)
		ids[i] = items[i].order_id;
	if (order_store_lock_many(c, ids, n, lo, found))
		goto rollback;
	k = settle_eligible(items, n, lo, found, pick);
	if (k < 2) /* one alone goes the usual way */
		goto rollback;
	for (int j = 0; j < k; j++) {
		const struct saga_settle_item *it = &items[pick[j]];

		o[j] = lo[pick[j]];
		ids[j] = it->order_id;
		pids[j] = it->r->payment_id;
		approve[j] = it->r->outcome == PAYMENT_APPROVED;
		_Static_assert(SAGA_SETTLE_BATCH <= ORDER_LOCK_MANY, "one lock statement");
		_Static_assert(5 * SAGA_SETTLE_BATCH <= DB_ROWS_MAX_PARAMS, "one payments INSERT");
		snprintf(mids[j], sizeof(mids[j]), "payment:%s", it->order_id);
		mids_p[j] = mids[j];
		args[5 * j] = (struct db_arg){.s = pids[j]};
		args[5 * j + 1] = (struct db_arg){.s = it->order_id};
		args[5 * j + 2] = (struct db_arg){.s = approve[j] ? "APPROVED" : "DECLINED"};
		args[5 * j + 3] = (struct db_arg){.u = it->amount};
		args[5 * j + 4] = (struct db_arg){.u = (uint64_t)it->r->attempts};
	}
	/* The payments (a decision recorded already fails it: -EEXIST). */
	if (db_insert_rows(c,
			   "INSERT INTO payments (id, order_id, status, amount, attempts,"
			   " decided_at) VALUES ",
			   "(?, ?, ?, ?, ?, NOW(3))", "sssuu", args, k, NULL) < 0)
		goto rollback;
	/* The claims the Kafka copies will find. */
	if (inbox_claim_many(c, SAGA_CONSUMER, mids_p, k, claimed) != k)
		goto rollback;
	/* The sold seats, DB_ROWS_MAX_PARAMS / 3 rows per statement (a seat
	 * sold already fails it: that order goes the usual way). */
	for (int j = 0; j <= k; j++) {
		bool flush = j == k || rows + o[j].n_seats > DB_ROWS_MAX_PARAMS / 3;

		if (flush && rows) {
			if (db_insert_rows(c, "INSERT INTO sold_seats (event_id, seat_id, order_id) VALUES ",
					   "(?, ?, ?)", "uus", args, rows, NULL) < 0)
				goto rollback;
			rows = 0;
		}
		if (j == k || !approve[j])
			continue;
		for (int s = 0; s < o[j].n_seats; s++, rows++) {
			args[3 * rows] = (struct db_arg){.u = o[j].event_id};
			args[3 * rows + 1] = (struct db_arg){.u = o[j].seats[s]};
			args[3 * rows + 2] = (struct db_arg){.s = o[j].id};
		}
	}
	if (order_store_finish_many(c, ids, approve, k) != k)
		goto rollback;
	for (int j = 0; j < k; j++) {
		const struct saga_settle_item *it = &items[pick[j]];

		snprintf(o[j].status, sizeof(o[j].status), "%s",
			 approve[j] ? "CONFIRMED" : "CANCELLED");
		snprintf(o[j].reason, sizeof(o[j].reason), "%s",
			 approve[j] ? "" : "PAYMENT_DECLINED");
		pay_json[j] = payment_event_json(it->order_id, pids[j],
						 approve[j] ? "APPROVED" : "DECLINED", it->amount,
						 it->r->attempts);
		ord_json[j] = order_event_json(approve[j] ? "OrderConfirmed" : "OrderCancelled",
					       &o[j]);
		if (!pay_json[j] || !ord_json[j])
			goto rollback;
		msgs[m++] = (struct outbox_msg){PAYMENTS_TOPIC, it->order_id, pay_json[j]};
		msgs[m++] = (struct outbox_msg){ORDERS_TOPIC, it->order_id, ord_json[j]};
		if (approve[j])
			msgs[m++] = (struct outbox_msg){SEATS_TOPIC, it->order_id, ord_json[j]};
	}
	if (outbox_append_many(c, msgs, m) || mysql_commit(c))
		goto rollback;
	db_put(&app->db, c);
	for (int j = 0; j < k; j++) {
		struct saga_settle_item *it = &items[pick[j]];
		const struct ending e = {.ended = true, .approve = approve[j]};

		order_cache_put(&app->order_cache, &o[j]);
		ended(app, &o[j], &e);
		snprintf(it->out.order_status, sizeof(it->out.order_status), "%s", o[j].status);
		snprintf(it->out.reason, sizeof(it->out.reason), "%s", o[j].reason);
		snprintf(it->out.payment_id, sizeof(it->out.payment_id), "%s", pids[j]);
		snprintf(it->out.payment_status, sizeof(it->out.payment_status), "%s",
			 approve[j] ? "APPROVED" : "DECLINED");
		it->out.refund_status[0] = '\0'; /* neither may have charged behind a cancel */
		it->rc = 0;
		done[pick[j]] = true;
		free(pay_json[j]);
		free(ord_json[j]);
	}
	return k;
rollback:
	mysql_query(c, "ROLLBACK");
	db_put(&app->db, c);
	for (int j = 0; j < k; j++) {
		free(pay_json[j]);
		free(ord_json[j]);
	}
	return 0;
}

void saga_settle_many(struct ticketd *app, struct saga_settle_item *items, int n)
{
	bool done[SAGA_SETTLE_BATCH] = {0};
	int k = 0;

	if (n > SAGA_SETTLE_BATCH)
		n = SAGA_SETTLE_BATCH;
	for (int i = 0; i < n; i++) {
		memset(&items[i].out, 0, sizeof(items[i].out));
		items[i].rc = -EAGAIN;
	}
	if (n > 1) {
		if (items[0].trace) /* #15: the batch's span under the first */
			trace_current_set(items[0].trace, NULL);
		k = settle_batch(app, items, n, done);
	}
	if (k) {
		atomic_fetch_add(&app->saga.settle_batches, 1);
		atomic_fetch_add(&app->saga.settled_batched, (uint64_t)k);
	}
	for (int i = 0; i < n; i++) {
		if (done[i])
			continue;
		if (items[i].trace) /* #15: each continues its own trace */
			trace_current_set(items[i].trace, NULL);
		items[i].rc = saga_settle_payment(app, items[i].order_id, items[i].amount,
						  items[i].r, &items[i].out);
	}
}

struct resume_job {
	struct saga_job job; /* first */
	struct ticketd *app;
	struct payment_request req;
	struct payment_result result;
};

static void resume_record(struct saga_job *job)
{
	struct resume_job *j = (struct resume_job *)job;
	struct saga_outcome out;
	int rc = saga_settle_payment(j->app, j->req.order_id, j->req.amount, &j->result, &out);

	if (!rc)
		log_json(LOG_INFO, NULL, "resumed payment settled",
			 json_pack("{s:s, s:s, s:s, s:s}", "orderId", j->req.order_id,
				   "payment", out.payment_status, "order", out.order_status,
				   "refund", out.refund_status));
	free(j);
}

static void on_resumed(void *arg, const struct payment_result *r)
{
	struct resume_job *j = arg;

	if (r->outcome > PAYMENT_FAILED) { /* stopped again: next start */
		free(j);
		return;
	}
	j->result = *r;
	j->job.run = resume_record;
	saga_submit(&j->app->saga, &j->job);
}

/* Asks the gateway again for every authorization left undecided (a
 * graceful stop with a retry pending, or a crash): the gateway answers an
 * order idempotently, and the decision is recorded and applied as usual
 * (cancelled meanwhile: refunded). */
static void resume_payments(struct saga *sg)
{
	struct ticketd *app = sg->app;
	struct payment_request *reqs = calloc(RESUME_BATCH, sizeof(*reqs));
	MYSQL *c;
	int n;

	if (!reqs)
		return;
	c = db_get_timed(&app->db, DB_WORKER_WAIT_MS);
	if (!c) {
		log_msg(LOG_WARN, NULL, "saga: no database connection; undecided payments "
			"are asked again at the next start");
		free(reqs);
		return;
	}
	n = payment_requests_open(c, reqs, RESUME_BATCH);
	db_put(&app->db, c);
	for (int i = 0; i < n; i++) {
		struct resume_job *j = calloc(1, sizeof(*j));

		if (!j)
			break;
		j->app = app;
		j->req = reqs[i];
		atomic_fetch_add(&sg->payments_resumed, 1);
		if (payment_client_submit(app->payments, reqs[i].order_id, reqs[i].amount,
					  NULL, on_resumed, j))
			free(j);
	}
	if (n > 0)
		log_msg(LOG_INFO, NULL, "saga: asking the gateway again for %d undecided payments", n);
	free(reqs);
}

struct reconcile_ctx {
	struct ticketd *app;
	int64_t only_event; /* -1: every event */
	bool fresh;
	int64_t now_unix_ms;
	int fixed;
};

/* One row: order id, status, slot, event, seat, deadline (unix ms). */
static int reconcile_row(void *ctx, int n, char **v)
{
	struct reconcile_ctx *rc = ctx;
	uint32_t slot = (uint32_t)strtoul(v[2], NULL, 10);
	uint32_t event_id = (uint32_t)strtoul(v[3], NULL, 10);
	uint32_t seat_id = (uint32_t)strtoul(v[4], NULL, 10);
	int64_t deadline = strtoll(v[5], NULL, 10);
	int st;

	(void)n;
	if (rc->only_event >= 0 && event_id != (uint64_t)rc->only_event)
		return 0;
	if (!strcmp(v[1], "CONFIRMED")) {
		st = ticketd_seat_op(rc->app, TKT_SRC_SAGA, TKT_SEAT_SELL, slot, event_id, seat_id, 0, NULL);
		/* The word lapsed while the daemon was down: sold is sold. */
		if (st != TKT_OK && st != TKT_SOLD &&
		    recovery_restore_sold(rc->app, event_id, seat_id) == 0)
			st = TKT_OK;
	} else if (!strcmp(v[1], "CANCELLED")) {
		st = ticketd_seat_op(rc->app, TKT_SRC_SAGA, TKT_SEAT_CANCEL, slot, event_id, seat_id, 0, NULL);
	} else if (rc->fresh && deadline > rc->now_unix_ms) {
		/* A PENDING order on a rebuilt table: its seats are ORDERED
		 * again until the same deadline, each in one CAS. */
		uint32_t ttl = (uint32_t)(deadline - rc->now_unix_ms) +
			       (uint32_t)rc->app->cfg.order_settle_margin_seconds * 1000u;

		st = ticketd_seat_op(rc->app, TKT_SRC_SAGA, TKT_SEAT_RESTORE_ORDERED, slot,
				     event_id, seat_id, ttl, NULL);
	} else {
		return 0;
	}
	if (st == TKT_OK)
		rc->fixed++;
	return 0;
}

static int reconcile(struct ticketd *app, bool fresh_table, int64_t only_event)
{
	struct reconcile_ctx ctx = {.app = app, .fresh = fresh_table,
				    .only_event = only_event,
				    .now_unix_ms = unix_ms()};
	MYSQL *c = db_get_timed(&app->db, DB_WORKER_WAIT_MS);
	long long n = !c ? -ECONNRESET : db_select(
		c,
		"SELECT o.id, o.status, o.slot, os.event_id, os.seat_id,"
		" CAST(UNIX_TIMESTAMP(o.payment_deadline) * 1000 AS SIGNED)"
		" FROM orders o JOIN order_seats os ON os.order_id = o.id"
		" WHERE o.slot > 0 AND (o.status = 'PENDING'"
		"   OR o.updated_at > NOW(3) - INTERVAL 1 DAY)",
		reconcile_row, &ctx, "");

	db_put(&app->db, c);
	if (n < 0)
		return (int)n;
	if (ctx.fixed)
		log_msg(LOG_INFO, NULL, "saga: reconciled %d seat words with their orders",
			ctx.fixed);
	return 0;
}

int saga_reconcile(struct ticketd *app, bool fresh_table)
{
	return reconcile(app, fresh_table, -1);
}

int saga_reconcile_event(struct ticketd *app, uint32_t event_id)
{
	return reconcile(app, true, event_id);
}
