/* 503 OVERLOADED answers and their metrics (see overload.h). */
#include "userspace/ticketd/rest/overload.h"

#include <stdio.h>
#include <string.h>

#include "api/http.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/commerce/payment_client.h"
#include "userspace/ticketd/ticketd.h"

const char *const api_door_names[DOOR_N] = {
	"other", "reads", "sessions", "holds", "orders", "payments", "streams", "room"};
const char *const overload_reason_names[OVERLOAD_N] = {
	"inflight", "saga_queue", "payment_queue", "outbox_backlog", "deadline"};

int api_route_door(void *app, const struct route *rt)
{
	const char *p = rt->pattern;

	(void)app;
	if (!strcmp(p, "/api/orders") && !strcmp(rt->method, "POST"))
		return DOOR_ORDERS;
	if (!strcmp(p, "/api/payments/authorize"))
		return DOOR_PAYMENTS;
	if (!strncmp(p, "/api/reservations", 17))
		return DOOR_HOLDS;
	if (!strcmp(p, "/api/sessions"))
		return DOOR_SESSIONS;
	/* a stream is one long request: it must not hold a reads place */
	if (!strcmp(p, "/api/events/{id}/seats/stream") ||
	    !strcmp(p, "/api/events/{id}/room/stream") ||
	    !strcmp(p, "/api/events/{id}/waitlist/stream"))
		return DOOR_STREAMS;
	/* joining and leaving hold and release seats */
	if (!strcmp(p, "/api/events/{id}/waitlist") && strcmp(rt->method, "GET"))
		return DOOR_HOLDS;
	if (!strcmp(p, "/api/events/{id}/room"))
		return DOOR_ROOM;
	/* reads, and the tickets of an order (each answer signs tickets or
	 * draws a QR image: work a client must not repeat without a cap) */
	if (!strcmp(rt->method, "GET") &&
	    (!strncmp(p, "/api/events", 11) || !strncmp(p, "/api/orders/{id}", 16)))
		return DOOR_READS;
	return DOOR_OTHER;
}

double overload_purchase_fill(struct ticketd *app)
{
	static const enum api_door purchase[] = {DOOR_ORDERS, DOOR_PAYMENTS};
	double fill = 0;

	for (size_t i = 0; i < sizeof(purchase) / sizeof(purchase[0]); i++) {
		const struct http_gate *g = app->http ? http_server_door(app->http, purchase[i]) : NULL;
		double f;

		if (!g || g->max <= 0)
			continue;
		f = (double)atomic_load(&g->inflight) / (double)g->max;
		if (f > fill)
			fill = f;
	}
	return fill;
}

void api_overloaded(struct http_req *req, struct http_resp *resp,
		    enum api_door door, enum overload_reason why)
{
	struct ticketd *app = req->app;

	atomic_fetch_add(&app->overload.rejected[door][why], 1);
	http_overloaded(resp, req, (unsigned)app->cfg.overload_retry_after_seconds,
			api_door_names[door], overload_reason_names[why]);
}

void api_overloaded_deferred(struct ticketd *app, struct http_deferred *d,
			     enum api_door door, enum overload_reason why)
{
	struct http_resp resp = {0};
	struct http_req req = {.app = app};

	snprintf(req.trace_id, sizeof(req.trace_id), "%s", http_deferred_trace_id(d));
	api_overloaded(&req, &resp, door, why);
	http_deferred_finish(d, &resp);
}

int api_deferred_too_old(struct ticketd *app, struct http_deferred *d)
{
	return app->cfg.http_request_budget_ms > 0 &&
	       http_deferred_age(d) * 1000.0 > (double)app->cfg.http_request_budget_ms;
}

void overload_observe(struct overload *o, double seconds)
{
	uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6) : 0;
	uint64_t cur = atomic_load(&o->max_us);

	if (seconds > OVERLOAD_SLOW_SECONDS)
		atomic_fetch_add(&o->slow, 1);
	while (us > cur && !atomic_compare_exchange_weak(&o->max_us, &cur, us))
		;
}

int overload_render_metrics(struct ticketd *app, char **buf, size_t *len,
			    size_t *cap)
{
	int rc = metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_overload_rejected_total Requests refused at once with 503"
		" OVERLOADED because a bounded queue or cap was full, by door and reason.\n"
		"# TYPE ticketd_overload_rejected_total counter\n");

	for (int d = 0; d < DOOR_N; d++) {
		const struct http_gate *g = http_server_door(app->http, d);

		for (int r = 0; r < OVERLOAD_N; r++) {
			uint64_t n = atomic_load(&app->overload.rejected[d][r]);

			if (r == OVERLOAD_INFLIGHT && g)
				n += atomic_load(&g->rejected);
			rc |= metrics_appendf(
				buf, len, cap,
				"ticketd_overload_rejected_total{door=\"%s\",reason=\"%s\"} %llu\n",
				api_door_names[d], overload_reason_names[r],
				(unsigned long long)n);
		}
	}
	rc |= metrics_appendf(buf, len, cap,
			      "# HELP ticketd_http_inflight Requests inside each door now"
			      " (deferred answers included).\n"
			      "# TYPE ticketd_http_inflight gauge\n");
	for (int d = 0; d < DOOR_N; d++) {
		const struct http_gate *g = http_server_door(app->http, d);

		rc |= metrics_appendf(buf, len, cap, "ticketd_http_inflight{door=\"%s\"} %d\n",
				      api_door_names[d], g ? atomic_load(&g->inflight) : 0);
	}
	rc |= metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_http_requests_over_2s_total Answered requests (streams"
		" excluded) that spent more than 2 s inside ticketd.\n"
		"# TYPE ticketd_http_requests_over_2s_total counter\n"
		"ticketd_http_requests_over_2s_total %llu\n"
		"# HELP ticketd_http_request_seconds_max Longest time an answered request"
		" (streams excluded) spent inside ticketd since start.\n"
		"# TYPE ticketd_http_request_seconds_max gauge\n"
		"ticketd_http_request_seconds_max %.6f\n",
		(unsigned long long)atomic_load(&app->overload.slow),
		(double)atomic_load(&app->overload.max_us) / 1e6);
	rc |= metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_saga_queue_jobs Jobs waiting for a saga worker (new work"
		" refused above saga_queue_max).\n"
		"# TYPE ticketd_saga_queue_jobs gauge\n"
		"ticketd_saga_queue_jobs %d\n"
		"# HELP ticketd_saga_workers_busy Saga workers running a job now.\n"
		"# TYPE ticketd_saga_workers_busy gauge\n"
		"ticketd_saga_workers_busy %d\n"
		"# HELP ticketd_payment_queue_jobs Authorizations and refunds at the payment"
		" client (new authorizations refused above payment_queue_max).\n"
		"# TYPE ticketd_payment_queue_jobs gauge\n"
		"ticketd_payment_queue_jobs %d\n",
		saga_queued(&app->saga), saga_busy(&app->saga),
		payment_client_pending(app->payments));
	return rc;
}
