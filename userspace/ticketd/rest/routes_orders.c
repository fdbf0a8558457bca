/* POST /api/orders, GET /api/orders/{id}, POST /api/payments/authorize */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/log.h"
#include "userspace/lib/trace.h"
#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/commerce/payment_client.h"
#include "userspace/ticketd/commerce/saga.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/rest/parse.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

static json_t *order_json(const struct order *o)
{
	json_t *seats = json_array(), *body;
	char created[32], deadline[32];

	for (int i = 0; seats && i < o->n_seats; i++)
		json_array_append_new(seats, json_integer(o->seats[i]));
	tkt_format_rfc3339_ms(o->created_ms, created, sizeof(created));
	tkt_format_rfc3339_ms(o->deadline_ms, deadline, sizeof(deadline));
	body = json_pack("{s:s, s:s, s:I, s:o, s:I, s:s, s:s}", "orderId", o->id,
			 "status", o->status, "eventId", (json_int_t)o->event_id,
			 "seatIds", seats, "amount", (json_int_t)o->amount, "createdAt",
			 created, "paymentDeadline", deadline);
	if (body && !strcmp(o->status, "CANCELLED"))
		json_object_set_new(body, "reason", json_string(o->reason));
	return body;
}

/* The contract's answer to one orders_create outcome. */
static void answer_order(struct http_req *req, struct http_resp *resp,
			 enum orders_result result, const struct order *o,
			 const uint32_t *not_held, int n_not_held)
{
	json_t *list;

	switch (result) {
	case ORDERS_CREATED:
	case ORDERS_REPLAYED:
		http_json(resp, 201, order_json(o));
		return;
	case ORDERS_NO_EVENT:
		http_error(resp, req, 404, "EVENT_NOT_FOUND", "no such event", NULL);
		return;
	case ORDERS_NO_SEAT:
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "a seat id does not exist in this event", NULL);
		return;
	case ORDERS_NOT_HELD:
		list = json_array();
		for (int i = 0; list && i < n_not_held; i++)
			json_array_append_new(list, json_integer(not_held[i]));
		http_error(resp, req, 409, "SEAT_NOT_HELD",
			   "an order takes only seats you hold; nothing was ordered",
			   json_pack("{s:o}", "seatIds", list));
		return;
	case ORDERS_KEY_REUSED:
		http_error(resp, req, 422, "IDEMPOTENCY_KEY_REUSED",
			   "this Idempotency-Key was used for a different request", NULL);
		return;
	default:
		resp->retry_after = 1;
		http_error(resp, req, 503, "UNAVAILABLE",
			   "the order could not be stored; nothing was ordered, retry", NULL);
		return;
	}
}

/* One order being created on a saga worker, its request suspended: the
 * HTTP threads never wait on MariaDB's commits. */
struct order_job {
	struct saga_job job; /* first */
	struct ticketd *app;
	struct http_deferred *d;
	struct session s;
	char key[65];
	uint32_t event_id, ids[HOLDS_MAX_SEATS];
	int n;
};

static void create_and_answer(struct saga_job *job)
{
	struct order_job *j = (struct order_job *)job;
	uint32_t not_held[HOLDS_MAX_SEATS];
	struct http_resp resp = {0};
	struct http_req req = {.app = j->app};
	struct order o;
	int n_not_held = 0;
	enum orders_result r;

	if (api_deferred_too_old(j->app, j->d)) {
		/* Queued past its budget: the client has waited long enough;
		 * refuse before any database work. */
		api_overloaded_deferred(j->app, j->d, DOOR_ORDERS, OVERLOAD_DEADLINE);
		free(j);
		return;
	}
	r = orders_create(j->app, &j->s, j->key, j->event_id, j->ids, j->n, &o, not_held,
			  &n_not_held);
	snprintf(req.trace_id, sizeof(req.trace_id), "%s", http_deferred_trace_id(j->d));
	answer_order(&req, &resp, r, &o, not_held, n_not_held);
	http_deferred_finish(j->d, &resp);
	free(j);
}

static void start_order(void *arg, struct http_deferred *d)
{
	struct order_job *j = arg;

	j->d = d;
	j->job.run = create_and_answer;
	if (saga_try_submit(&j->app->saga, &j->job)) {
		api_overloaded_deferred(j->app, d, DOOR_ORDERS, OVERLOAD_SAGA_QUEUE);
		free(j);
	}
}

/* Unsent outbox rows past outbox_backlog_max (Kafka away or slow): a new
 * order would only add to them. The count is the relay's, refreshed every
 * second (-1: not known yet, not refused). */
static bool outbox_too_full(const struct ticketd *app)
{
	int64_t backlog = atomic_load(&app->relay.backlog);

	return app->cfg.outbox_backlog_max > 0 && backlog >= app->cfg.outbox_backlog_max;
}

void route_create_order(struct http_req *req, struct http_resp *resp)
{
	const char *key = http_header(req, "Idempotency-Key");
	struct order_job *j;
	json_t *body;

	j = calloc(1, sizeof(*j));
	if (!j) {
		http_error(resp, req, 503, "UNAVAILABLE", "out of memory", NULL);
		return;
	}
	if (!api_authenticate(req, resp, &j->s))
		goto refuse;
	if (!api_parse_idempotency_key(req, resp, key))
		goto refuse;
	body = http_body_object(req, resp, false);
	if (!body)
		goto refuse;
	j->n = api_parse_event_and_seats(req, resp, body, &j->event_id, j->ids);
	json_decref(body);
	if (j->n < 0)
		goto refuse;
	j->app = req->app;
	if (outbox_too_full(j->app)) {
		api_overloaded(req, resp, DOOR_ORDERS, OVERLOAD_OUTBOX_BACKLOG);
		goto refuse;
	}
	snprintf(j->key, sizeof(j->key), "%s", key);
	http_defer(resp, start_order, j);
	return;
refuse:
	free(j);
}

void route_get_order(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	struct order o;
	int rc = -ENOENT;

	if (!api_authenticate(req, resp, &s))
		return;
	if (strlen(req->params[0]) <= ORDER_ID_LEN)
		rc = orders_get(req->app, &s, req->params[0], &o);
	if (rc == -EBUSY) {
		api_service_busy(req, resp);
		return;
	}
	if (rc) {
		http_error(resp, req, 404, "ORDER_NOT_FOUND", "no such order", NULL);
		return;
	}
	http_json(resp, 200, order_json(&o));
}

/* One authorization in flight: from the suspended request to its answer. */
struct pay_job {
	struct saga_job job; /* first: recording runs on a saga worker */
	struct payment_result result;
	struct ticketd *app;
	struct http_deferred *d;
	char order_id[ORDER_ID_LEN + 1];
	char session_id[sizeof(((struct session *)0)->id_hex)];
	uint64_t amount;
	char simulate[16];
	bool reserved; /* holds a payment client place (payment_client_reserve) */
};

/* The answer is what the order came to, never just what the gateway said:
 * APPROVED only when the order is CONFIRMED; a cancelled order (declined,
 * gateway failed, late approval, seat sold meanwhile) answers DECLINED with
 * the order's reason and, when the gateway may have charged, the refund's
 * state; an order not ended yet answers 202 PENDING. */
static json_t *payment_answer_json(const char *order_id, const struct saga_outcome *out,
			    int *status)
{
	json_t *body;

	*status = 200;
	if (!strcmp(out->order_status, "CONFIRMED")) {
		body = json_pack("{s:s, s:s, s:s, s:s}", "orderId", order_id, "paymentId",
				 out->payment_id, "status", "APPROVED", "orderStatus",
				 "CONFIRMED");
	} else if (!strcmp(out->order_status, "CANCELLED")) {
		const char *reason = out->reason[0] ? out->reason : "CANCELLED";

		if (!strcmp(out->payment_status, "FAILED"))
			reason = "PAYMENT_GATEWAY_FAILED";
		body = json_pack("{s:s, s:s, s:s, s:s, s:s}", "orderId", order_id, "paymentId",
				 out->payment_id, "status", "DECLINED", "orderStatus",
				 "CANCELLED", "reason", reason);
		if (body && out->refund_status[0])
			json_object_set_new(body, "refund", json_string(out->refund_status));
	} else {
		*status = 202;
		body = json_pack("{s:s, s:s, s:s}", "orderId", order_id, "status", "PENDING",
				 "orderStatus", "PENDING");
		if (body && out->payment_id[0])
			json_object_set_new(body, "paymentId", json_string(out->payment_id));
	}
	return body;
}

static void pay_finish(struct pay_job *j, struct http_resp *resp)
{
	if (j->reserved)
		payment_client_unreserve(j->app->payments);
	http_deferred_finish(j->d, resp);
	free(j);
}

/* Refused before anything was recorded: gives the gateway place back. */
static void pay_overloaded(struct pay_job *j, enum overload_reason why)
{
	if (j->reserved)
		payment_client_unreserve(j->app->payments);
	api_overloaded_deferred(j->app, j->d, DOOR_PAYMENTS, why);
	free(j);
}

static void pay_unavailable(struct pay_job *j, const char *what)
{
	struct http_resp resp = {0};
	struct http_req req = {0};

	snprintf(req.trace_id, sizeof(req.trace_id), "%s", http_deferred_trace_id(j->d));
	log_msg(LOG_ERROR, req.trace_id, "%s of %s failed", what, j->order_id);
	resp.retry_after = 1;
	http_error(&resp, &req, 503, "UNAVAILABLE",
		   "the payment could not be recorded; nothing was charged, retry", NULL);
	pay_finish(j, &resp);
}

/* Answers the client with what the order came to (rc and out as
 * saga_settle_payment left them). */
static void answer_settled(struct pay_job *j, int rc, struct saga_outcome *outp)
{
	struct http_resp resp = {0};
	struct saga_outcome out = *outp;
	json_t *body;
	int status;

	if (rc == -EAGAIN) {
		/* Stopping before the gateway answered: the request stays
		 * recorded and is asked again at the next start. */
		memset(&out, 0, sizeof(out));
		snprintf(out.order_status, sizeof(out.order_status), "PENDING");
	} else if (rc) {
		/* The decision is not recorded; the request row is, so the
		 * gateway is asked again at the next start. */
		memset(&out, 0, sizeof(out));
		snprintf(out.order_status, sizeof(out.order_status), "PENDING");
		log_msg(LOG_ERROR, http_deferred_trace_id(j->d),
			"recording payment of %s failed (%d); left pending", j->order_id, rc);
	}
	body = payment_answer_json(j->order_id, &out, &status);
	http_json(&resp, status, body);
	pay_finish(j, &resp);
}

/* On a saga worker: record the decision, apply it, answer the client with
 * what the order came to. */
static void record_and_answer(struct saga_job *job)
{
	struct pay_job *j = (struct pay_job *)job;
	struct saga_outcome out;
	int rc = saga_settle_payment(j->app, j->order_id, j->amount, &j->result, &out);

	answer_settled(j, rc, &out);
}

/* A taker of gathered gateway answers (saga.settle): settles up to
 * SAGA_SETTLE_BATCH of them together, then answers each client. */
struct settle_taker {
	struct saga_job job; /* first */
	struct ticketd *app;
};

static void settle_gathered(struct saga_job *job)
{
	struct ticketd *app = ((struct settle_taker *)job)->app;
	struct saga_job *got[SAGA_SETTLE_BATCH];
	struct saga_settle_item items[SAGA_SETTLE_BATCH];
	bool again;
	int n = saga_batcher_take(&app->saga.settle, got, SAGA_SETTLE_BATCH, &again);

	if (again) /* more gathered: another worker may take them meanwhile */
		saga_submit(&app->saga, job);
	else
		free(job);
	for (int i = 0; i < n; i++) {
		struct pay_job *j = (struct pay_job *)got[i];

		items[i] = (struct saga_settle_item){.order_id = j->order_id,
						     .amount = j->amount, .r = &j->result,
						     .trace = &j->job.trace};
	}
	if (n)
		saga_settle_many(app, items, n);
	for (int i = 0; i < n; i++)
		answer_settled((struct pay_job *)got[i], items[i].rc, &items[i].out);
}

/* On the payment client's thread: hand the decision to the saga's workers,
 * so the one gateway thread never waits on MariaDB. It joins the answers
 * gathered for settling together (saga_batcher); a taker is queued when
 * fewer than one per worker are. */
static void on_paid(void *arg, const struct payment_result *r)
{
	struct pay_job *j = arg;
	struct settle_taker *t = calloc(1, sizeof(*t));

	j->result = *r;
	if (!t) { /* alone, as before batching */
		j->job.run = record_and_answer;
		saga_submit(&j->app->saga, &j->job);
		return;
	}
	t->app = j->app;
	t->job.run = settle_gathered;
	trace_current_get(&j->job.trace); /* #15: its settling continues this */
	if (saga_batcher_add(&j->app->saga.settle, &j->job))
		saga_submit(&t->app->saga, &t->job);
	else
		free(t);
}

/* Nothing was recorded by the claim: the order is someone else's or
 * missing (404), not PENDING (409), decided already (202), or PENDING
 * with its request row there already (an authorize again while the first
 * is asked: the gateway is asked again, as the contract allows). Returns
 * true when the job goes on to the gateway (j->amount set). */
static bool pay_read_why(struct pay_job *j)
{
	struct http_resp resp = {0};
	struct http_req req = {.app = j->app};
	struct session s = {0};
	struct order o;
	char pid[48], st[16];
	int rc;

	snprintf(req.trace_id, sizeof(req.trace_id), "%s", http_deferred_trace_id(j->d));
	snprintf(s.id_hex, sizeof(s.id_hex), "%s", j->session_id);
	rc = orders_get_with_payment(j->app, &s, j->order_id, &o, pid, sizeof(pid), st,
				     sizeof(st));
	if (rc == -EBUSY) {
		api_service_busy(&req, &resp);
	} else if (rc) {
		http_error(&resp, &req, 404, "ORDER_NOT_FOUND", "no such order", NULL);
	} else if (strcmp(o.status, "PENDING")) {
		http_error(&resp, &req, 409, "ORDER_NOT_PENDING", "the order is not pending",
			   json_pack("{s:s}", "status", o.status));
	} else if (pid[0]) { /* decided already; the saga is ending the order */
		struct saga_outcome out = {.order_status = "PENDING"};
		int status;

		snprintf(out.payment_id, sizeof(out.payment_id), "%s", pid);
		http_json(&resp, 202, payment_answer_json(o.id, &out, &status));
	} else {
		j->amount = o.amount;
		return true;
	}
	pay_finish(j, &resp);
	return false;
}

/* On a saga worker: record the request before the gateway is asked, so an
 * authorization is never lost by a stop or a crash, then ask. The order's
 * checks (the session's, PENDING, not decided) and the request row are one
 * statement (saga_claim_payment); the order is read only when that
 * recorded nothing, to answer why. */
static void request_payment(struct saga_job *job)
{
	struct pay_job *j = (struct pay_job *)job;
	struct payment_result unknown = {.outcome = PAYMENT_UNKNOWN};
	int rc;

	if (api_deferred_too_old(j->app, j->d)) {
		pay_overloaded(j, OVERLOAD_DEADLINE);
		return;
	}
	rc = saga_claim_payment(j->app, j->order_id, j->session_id, &j->amount);
	if (rc == -EBUSY) {
		struct http_resp resp = {0};
		struct http_req req = {.app = j->app};

		snprintf(req.trace_id, sizeof(req.trace_id), "%s", http_deferred_trace_id(j->d));
		api_service_busy(&req, &resp);
		pay_finish(j, &resp);
		return;
	}
	if (rc < 0) {
		pay_unavailable(j, "recording the payment request");
		return;
	}
	if (rc == 0 && !pay_read_why(j))
		return;
	/* The place goes with the job: the client frees it when it calls
	 * on_paid (or at once on an error return). */
	j->reserved = false;
	rc = payment_client_submit_reserved(j->app->payments, j->order_id, j->amount,
					    j->simulate[0] ? j->simulate : NULL, on_paid, j);
	if (rc)
		on_paid(j, &unknown);
}

static void start_payment(void *arg, struct http_deferred *d)
{
	struct pay_job *j = arg;

	j->d = d;
	j->job.run = request_payment;
	if (saga_try_submit(&j->app->saga, &j->job))
		pay_overloaded(j, OVERLOAD_SAGA_QUEUE);
}

/* No database work on the HTTP thread: an ended order is answered from
 * ticketd's memory (order_cache), everything else on a saga worker
 * (request_payment). */
void route_authorize_payment(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	struct order o;
	struct pay_job *j;
	const char *order_id, *simulate;
	json_t *body;

	if (!api_authenticate(req, resp, &s))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	if (!api_parse_payment(req, resp, body, rest_app(req)->cfg.dev_mode,
			       &order_id, &simulate)) {
		json_decref(body);
		return;
	}
	if (order_cache_get(&rest_app(req)->order_cache, order_id, &o)) {
		json_decref(body);
		if (strcmp(o.session_id, s.id_hex))
			http_error(resp, req, 404, "ORDER_NOT_FOUND", "no such order", NULL);
		else
			http_error(resp, req, 409, "ORDER_NOT_PENDING",
				   "the order is not pending",
				   json_pack("{s:s}", "status", o.status));
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		json_decref(body);
		http_error(resp, req, 503, "UNAVAILABLE", "out of memory", NULL);
		return;
	}
	j->app = req->app;
	if (payment_client_reserve(j->app->payments)) {
		/* Every gateway place is taken: refuse before recording. */
		json_decref(body);
		free(j);
		api_overloaded(req, resp, DOOR_PAYMENTS, OVERLOAD_PAYMENT_QUEUE);
		return;
	}
	j->reserved = true;
	snprintf(j->order_id, sizeof(j->order_id), "%s", order_id);
	snprintf(j->session_id, sizeof(j->session_id), "%s", s.id_hex);
	if (simulate)
		snprintf(j->simulate, sizeof(j->simulate), "%s", simulate);
	json_decref(body);
	http_defer(resp, start_payment, j);
}
