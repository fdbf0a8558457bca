/* The waiting list of a sold-out event (docs/api.md, "Waiting list"):
 * POST/GET/DELETE /api/events/{id}/waitlist and its stream (SSE). The
 * lists themselves: userspace/ticketd/waitlist/. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/rest/client_limits.h"
#include "userspace/ticketd/rest/parked_stream.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"
#include "userspace/ticketd/waitlist/waitlist_service.h"

#define WAITLIST_SNDBUF 16384

static void waitlist_error(struct http_req *req, struct http_resp *resp,
			   enum waitlist_result r, uint32_t event_id)
{
	char msg[128];

	switch (r) {
	case WLS_OK:
	case WLS_EXISTS:
		return;
	case WLS_NO_EVENT:
		snprintf(msg, sizeof(msg), "event %u does not exist", event_id);
		http_error(resp, req, 404, "EVENT_NOT_FOUND", msg, NULL);
		return;
	case WLS_SEATS_AVAILABLE:
		snprintf(msg, sizeof(msg), "/api/events/%u/seats", event_id);
		http_error(resp, req, 409, "SEATS_AVAILABLE",
			   "this event still has free seats; hold them instead",
			   json_pack("{s:s}", "seats", msg));
		return;
	case WLS_FULL:
		http_error(resp, req, 503, "WAITLIST_FULL",
			   "the waiting list of this event is full", NULL);
		resp->retry_after = 60;
		return;
	case WLS_NOT_FOUND:
		http_error(resp, req, 404, "NOT_ON_WAITLIST",
			   "this session is not on the waiting list; join it with POST", NULL);
		return;
	case WLS_TOO_MANY_STREAMS:
		http_error(resp, req, 503, "TOO_MANY_STREAMS",
			   "this server already serves its limit of waiting-list streams; "
			   "poll GET /api/events/{id}/waitlist instead", NULL);
		resp->retry_after = 5;
		return;
	case WLS_CLOSED:
		http_error(resp, req, 503, "UNAVAILABLE", "the server is shutting down", NULL);
		return;
	case WLS_NOMEM:
		http_error(resp, req, 503, "UNAVAILABLE", "the waiting list cannot take this now",
			   NULL);
		resp->retry_after = 1;
		return;
	}
}

static json_t *offer_json(const struct waitlist_view *v)
{
	json_t *seats;

	if (!v->n_offer)
		return json_null();
	seats = json_array();
	for (uint8_t i = 0; seats && i < v->n_offer; i++)
		json_array_append_new(seats, json_integer(v->offer[i]));
	return json_pack("{s:o, s:o}", "seatIds", seats, "expiresAt", api_time_or_null(v->offer_expires_ms));
}

static json_t *position_json(const struct waitlist_view *v)
{
	return v->position ? json_integer(v->position) : json_null();
}

void route_waitlist_join(struct http_req *req, struct http_resp *resp)
{
	struct waitlist_view v;
	struct session s;
	json_t *body, *val;
	const char *k;
	enum waitlist_result r;
	uint32_t id;
	json_int_t count = 1;

	if (!api_event_param(req, resp, &id) || !api_authenticate(req, resp, &s))
		return;
	if (!(body = http_body_object(req, resp, true)))
		return;
	json_object_foreach(body, k, val) {
		if (!strcmp(k, "count") && json_is_integer(val) && json_integer_value(val) >= 1 &&
		    json_integer_value(val) <= WL_COUNT_MAX) {
			count = json_integer_value(val);
			continue;
		}
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   strcmp(k, "count") ? "the body may only hold \"count\""
					      : "count must be an integer 1 to 4",
			   json_pack("{s:s}", "field", k));
		json_decref(body);
		return;
	}
	json_decref(body);
	r = waitlist_join(rest_app(req)->waitlist, id, &s, (uint8_t)count, &v);
	if (r != WLS_OK && r != WLS_EXISTS) {
		waitlist_error(req, resp, r, id);
		return;
	}
	http_json(resp, r == WLS_OK ? 201 : 200,
		  json_pack("{s:I, s:o, s:i, s:o, s:o}", "eventId", (json_int_t)id, "position",
			    position_json(&v), "count", (int)v.count, "joinedAt",
			    api_time_or_null(v.joined_ms), "offer", offer_json(&v)));
}

void route_waitlist_get(struct http_req *req, struct http_resp *resp)
{
	struct waitlist_view v;
	struct session s;
	enum waitlist_result r;
	uint32_t id;

	if (!api_event_param(req, resp, &id) || !api_authenticate(req, resp, &s))
		return;
	r = waitlist_get(rest_app(req)->waitlist, id, &s, &v);
	if (r) {
		waitlist_error(req, resp, r, id);
		return;
	}
	http_json(resp, 200,
		  json_pack("{s:I, s:o, s:i, s:o, s:o}", "eventId", (json_int_t)id, "position",
			    position_json(&v), "count", (int)v.count, "joinedAt",
			    api_time_or_null(v.joined_ms), "offer", offer_json(&v)));
}

void route_waitlist_leave(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	enum waitlist_result r;
	uint32_t id;

	if (!api_event_param(req, resp, &id) || !api_authenticate(req, resp, &s))
		return;
	r = waitlist_leave(rest_app(req)->waitlist, id, &s);
	if (r) {
		waitlist_error(req, resp, r, id);
		return;
	}
	http_text(resp, 204, "application/json", "", 0);
}

/* ---- the stream ---- */

static const struct waitlist_conn_ops mhd_waitlist_ops = {
	.suspend = http_conn_suspend,
	.resume = http_conn_resume,
};

static ssize_t waitlist_read(void *st, char *buf, size_t max)
{
	return waitlist_stream_read(st, buf, max);
}

static void waitlist_release(void *st)
{
	waitlist_stream_release(st);
}

void route_waitlist_stream(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = req->app;
	struct parked_stream *ps;
	struct waitlist_stream *st;
	struct session s;
	enum waitlist_result r;
	uint32_t id;

	if (!api_event_param(req, resp, &id) || !api_stream_session(req, resp, &s))
		return;
	ps = parked_stream_begin(req, resp, waitlist_read, waitlist_release);
	if (!ps)
		return;
	r = waitlist_stream_open(app->waitlist, id, &s, &mhd_waitlist_ops, req->conn, &st);
	if (r) {
		parked_stream_abort(ps);
		waitlist_error(req, resp, r, id);
		return;
	}
	ps->st = st;
	/* frames go out at least every 15 s: a vanished peer is found */
	parked_stream_answer(req, resp, ps, 30000, WAITLIST_SNDBUF);
}
