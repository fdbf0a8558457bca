/* The waiting room's REST side (docs/api.md, "Waiting room"):
 * POST/GET /api/events/{id}/room, GET /api/events/{id}/room/stream (SSE),
 * the seat map's gate (403 QUEUE_REQUIRED), and the admin endpoints
 * GET/PUT /admin/events/{id}/room (loopback only, Bearer admin key). The
 * room itself: userspace/ticketd/room/. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/rest/client_limits.h"
#include "userspace/ticketd/rest/parked_stream.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/room/room_service.h"
#include "userspace/ticketd/ticketd.h"

#define ROOM_SNDBUF 16384

/* Answers a refusal of the room service. */
static void room_error(struct http_req *req, struct http_resp *resp,
		       enum rooms_result r, uint32_t event_id)
{
	char msg[96];

	switch (r) {
	case ROOMS_OK:
		return;
	case ROOMS_NO_EVENT:
		snprintf(msg, sizeof(msg), "event %u does not exist", event_id);
		http_error(resp, req, 404, "EVENT_NOT_FOUND", msg, NULL);
		return;
	case ROOMS_TICKET_MALFORMED:
		http_error(resp, req, 400, "VALIDATION_FAILED",
			   "ticket is not a queue ticket (v1.<event>.<seq>.<ms>.<mac>)", NULL);
		return;
	case ROOMS_TICKET_INVALID:
		http_error(resp, req, 403, "QUEUE_TICKET_INVALID",
			   "this queue ticket belongs to another session or event, or was "
			   "altered; join without it", NULL);
		return;
	case ROOMS_NOT_IN_QUEUE:
		snprintf(msg, sizeof(msg), "/api/events/%u/room", event_id);
		http_error(resp, req, 404, "NOT_IN_QUEUE",
			   "this session is not in the waiting room; join it with POST",
			   json_pack("{s:s}", "room", msg));
		return;
	case ROOMS_FULL:
		http_error(resp, req, 503, "ROOM_FULL",
			   "the waiting room is full; try again shortly", NULL);
		resp->retry_after = 5;
		return;
	case ROOMS_TOO_MANY_STREAMS:
		http_error(resp, req, 503, "TOO_MANY_STREAMS",
			   "this server already serves its limit of room streams; poll "
			   "GET /api/events/{id}/room instead", NULL);
		resp->retry_after = 5;
		return;
	case ROOMS_DB_BUSY:
		api_service_busy(req, resp);
		return;
	case ROOMS_CLOSED:
		http_error(resp, req, 503, "UNAVAILABLE", "the server is shutting down", NULL);
		return;
	case ROOMS_DB_ERROR:
	case ROOMS_NOMEM:
		http_error(resp, req, 503, "UNAVAILABLE", "the room could not be changed now",
			   NULL);
		resp->retry_after = 1;
		return;
	}
}

static void answer_view(struct http_resp *resp, uint32_t event_id,
			const struct rooms_answer *a)
{
	const struct room_view *v = &a->view;

	switch (v->state) {
	case ROOM_OPEN:
		http_json(resp, 200, json_pack("{s:I, s:s}", "eventId", (json_int_t)event_id,
					       "state", "open"));
		return;
	case ROOM_ADMITTED:
		http_json(resp, 200,
			  json_pack("{s:I, s:s, s:s, s:o}", "eventId", (json_int_t)event_id,
				    "state", "admitted", "ticket", a->ticket, "admittedUntil",
				    api_time_or_null(v->admitted_until_ms)));
		return;
	case ROOM_WAITING:
		http_json(resp, 200,
			  json_pack("{s:I, s:s, s:s, s:I, s:i, s:o, s:f, s:b}", "eventId",
				    (json_int_t)event_id, "state", "waiting", "ticket", a->ticket,
				    "position", (json_int_t)v->position, "estimatedWaitSeconds",
				    (int)v->wait_seconds, "startsAt", api_time_or_null(v->starts_at_ms),
				    "rate", v->rate, "prequeue", v->prequeue));
		return;
	}
}

void route_room_join(struct http_req *req, struct http_resp *resp)
{
	struct rooms_answer a;
	struct session s;
	const char *ticket = NULL, *k;
	json_t *body, *v;
	enum rooms_result r;
	uint32_t id;

	if (!api_event_param(req, resp, &id) || !api_authenticate(req, resp, &s))
		return;
	if (!(body = http_body_object(req, resp, true)))
		return;
	json_object_foreach(body, k, v) {
		if (strcmp(k, "ticket") || !(json_is_string(v) || json_is_null(v))) {
			http_error(resp, req, 422, "VALIDATION_FAILED",
				   "the body may only hold \"ticket\" (a string)",
				   json_pack("{s:s}", "field", k));
			json_decref(body);
			return;
		}
		ticket = json_string_value(v);
	}
	r = rooms_visit(rest_app(req)->rooms, id, &s, ticket, true, &a);
	json_decref(body);
	if (r)
		room_error(req, resp, r, id);
	else
		answer_view(resp, id, &a);
}

void route_room_poll(struct http_req *req, struct http_resp *resp)
{
	struct rooms_answer a;
	struct session s;
	enum rooms_result r;
	uint32_t id;

	if (!api_event_param(req, resp, &id) || !api_authenticate(req, resp, &s))
		return;
	r = rooms_visit(rest_app(req)->rooms, id, &s, http_query(req, "ticket"), false, &a);
	if (r)
		room_error(req, resp, r, id);
	else
		answer_view(resp, id, &a);
}

bool api_stream_session(struct http_req *req, struct http_resp *resp,
			   struct session *s)
{
	const char *tok = http_query(req, "token");
	char header[64];

	if (http_header(req, "Authorization") || !tok)
		return api_authenticate(req, resp, s);
	if (strlen(tok) > 40) {
		http_error(resp, req, 401, "UNAUTHORIZED", "the token is not valid", NULL);
		return false;
	}
	snprintf(header, sizeof(header), "Bearer %s", tok);
	if (sessions_check_bearer(&rest_app(req)->token_key, header, s) == SESSION_AUTH_OK) {
		rooms_touch(rest_app(req)->rooms, s);
		return true;
	}
	http_error(resp, req, 401, "UNAUTHORIZED", "the token is not valid or has expired",
		   NULL);
	return false;
}

/* ---- the room stream ---- */

static const struct room_conn_ops mhd_room_ops = {
	.suspend = http_conn_suspend,
	.resume = http_conn_resume,
};

static ssize_t room_read(void *st, char *buf, size_t max)
{
	return room_stream_read(st, buf, max);
}

static void room_release(void *st)
{
	room_stream_release(st);
}

void route_room_stream(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = req->app;
	struct parked_stream *ps;
	struct room_stream *st;
	struct session s;
	enum rooms_result r;
	uint32_t id;

	if (!api_event_param(req, resp, &id) || !api_stream_session(req, resp, &s))
		return;
	ps = parked_stream_begin(req, resp, room_read, room_release);
	if (!ps)
		return;
	r = rooms_stream_open(app->rooms, id, &s, http_query(req, "ticket"), &mhd_room_ops,
			      req->conn, &st);
	if (r) {
		parked_stream_abort(ps);
		room_error(req, resp, r, id);
		return;
	}
	ps->st = st;
	/* frames go out every second: a peer that vanished is found within a
	 * few */
	parked_stream_answer(req, resp, ps, 10000, ROOM_SNDBUF);
}

/* ---- the seat map's gate ---- */

bool api_room_gate(struct http_req *req, struct http_resp *resp, uint32_t event_id)
{
	struct ticketd *app = req->app;
	struct session s;
	bool have = false;
	char room[64];

	if (rooms_gate(app->rooms, event_id, NULL))
		return true; /* no active room */
	if (http_header(req, "Authorization") || http_query(req, "token")) {
		if (!api_stream_session(req, resp, &s))
			return false;
		have = true;
	}
	if (have && rooms_gate(app->rooms, event_id, &s))
		return true;
	snprintf(room, sizeof(room), "/api/events/%u/room", event_id);
	http_error(resp, req, 403, "QUEUE_REQUIRED",
		   "this event has a waiting room; join it and wait for your turn",
		   json_pack("{s:s}", "room", room));
	return false;
}

/* ---- admin ---- */

static void answer_admin(struct http_req *req, struct http_resp *resp, uint32_t id)
{
	struct room_settings set;
	struct room_stats st;
	enum rooms_result r = rooms_get(rest_app(req)->rooms, id, &set, &st);

	if (r) {
		room_error(req, resp, r, id);
		return;
	}
	http_json(resp, 200,
		  json_pack("{s:I, s:b, s:o, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I,"
			    " s:I, s:I, s:f, s:I, s:I}}",
			    "eventId", (json_int_t)id, "enabled", set.enabled, "startsAt",
			    api_time_or_null(set.starts_at_ms), "ratePerSecond",
			    (json_int_t)set.rate_per_s, "activeMax", (json_int_t)set.active_max,
			    "idleSeconds", (json_int_t)set.idle_seconds, "admitSeconds",
			    (json_int_t)set.admit_seconds, "status", "queueLength",
			    (json_int_t)st.waiting, "prequeue", (json_int_t)st.prequeue,
			    "active", (json_int_t)st.active, "admittedTotal",
			    (json_int_t)st.admitted_total, "expiredTotal",
			    (json_int_t)st.expired_total, "serving", (json_int_t)st.serving,
			    "nextSeq", (json_int_t)st.next_seq, "rate", st.rate,
			    "estimatedWaitSeconds", (json_int_t)st.wait_seconds, "visitors",
			    (json_int_t)st.visitors));
}

void route_admin_room_get(struct http_req *req, struct http_resp *resp)
{
	uint32_t id;

	if (api_admin_allowed(req, resp) && api_event_param(req, resp, &id))
		answer_admin(req, resp, id);
}

/* One unsigned field of the PUT body within lo..hi; "auto" as 0 when
 * auto_ok. */
static bool put_u32(struct http_req *req, struct http_resp *resp, const char *name,
		    json_t *v, uint32_t lo, uint32_t hi, bool auto_ok, uint32_t *out)
{
	char msg[96];

	if (auto_ok && json_is_string(v) && !strcmp(json_string_value(v), "auto")) {
		*out = 0;
		return true;
	}
	if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) {
		*out = (uint32_t)json_integer_value(v);
		return true;
	}
	snprintf(msg, sizeof(msg), "%s must be an integer %u to %u%s", name, lo, hi,
		 auto_ok ? " or \"auto\"" : "");
	http_error(resp, req, 422, "VALIDATION_FAILED", msg, json_pack("{s:s}", "field", name));
	return false;
}

void route_admin_room_put(struct http_req *req, struct http_resp *resp)
{
	struct room_settings set;
	struct room_stats st;
	const char *k, *err;
	json_t *body, *v;
	enum rooms_result r;
	uint32_t id;
	bool ok = true;

	if (!api_admin_allowed(req, resp) || !api_event_param(req, resp, &id))
		return;
	if (!(body = http_body_object(req, resp, false)))
		return;
	(void)rooms_get(rest_app(req)->rooms, id, &set, &st);
	/* camelCase as everywhere in the API; the table's column names are
	 * accepted too */
	json_object_foreach(body, k, v) {
		if (!ok)
			break;
		if (!strcmp(k, "enabled")) {
			if (!(ok = json_is_boolean(v)))
				http_error(resp, req, 422, "VALIDATION_FAILED",
					   "enabled must be true or false",
					   json_pack("{s:s}", "field", k));
			else
				set.enabled = json_is_true(v);
		} else if (!strcmp(k, "startsAt") || !strcmp(k, "starts_at")) {
			int64_t ms = 0;

			if (!(ok = json_is_null(v) ||
				   (json_is_string(v) && !tkt_parse_rfc3339_ms(json_string_value(v), &ms))))
				http_error(resp, req, 422, "VALIDATION_FAILED",
					   "startsAt must be null or an ISO 8601 time with a zone "
					   "(2030-01-01T20:00:00Z)", json_pack("{s:s}", "field", k));
			else
				set.starts_at_ms = ms;
		} else if (!strcmp(k, "ratePerSecond") || !strcmp(k, "rate_per_s") ||
			   !strcmp(k, "rate")) {
			ok = put_u32(req, resp, k, v, 0, ROOM_RATE_MAX, true, &set.rate_per_s);
		} else if (!strcmp(k, "activeMax") || !strcmp(k, "active_max")) {
			ok = put_u32(req, resp, k, v, 1, ROOM_ACTIVE_MAX_MAX, false, &set.active_max);
		} else if (!strcmp(k, "idleSeconds") || !strcmp(k, "idle_seconds")) {
			ok = put_u32(req, resp, k, v, ROOM_IDLE_MIN, ROOM_IDLE_MAX, false,
				     &set.idle_seconds);
		} else if (!strcmp(k, "admitSeconds") || !strcmp(k, "admit_seconds")) {
			ok = put_u32(req, resp, k, v, ROOM_ADMIT_MIN, ROOM_ADMIT_MAX, false,
				     &set.admit_seconds);
		} else if (strcmp(k, "eventId")) {
			ok = false;
			http_error(resp, req, 422, "VALIDATION_FAILED", "unknown field",
				   json_pack("{s:s}", "field", k));
		}
	}
	json_decref(body);
	if (!ok)
		return;
	if ((err = room_settings_check(&set))) {
		http_error(resp, req, 422, "VALIDATION_FAILED", err, NULL);
		return;
	}
	r = rooms_put(rest_app(req)->rooms, id, &set);
	if (r)
		room_error(req, resp, r, id);
	else
		answer_admin(req, resp, id);
}
