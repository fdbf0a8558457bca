/* POST/GET /api/reservations, extend and delete of one hold. */
#include <stdio.h>
#include <string.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/seats/holds.h"
#include "userspace/ticketd/ticketd.h"

#define HOLD_SECONDS_MIN 5
#define HOLD_SECONDS_MAX 600

bool api_authenticate(struct http_req *req, struct http_resp *resp,
		      struct session *s)
{
	switch (sessions_check_bearer(&rest_app(req)->token_key,
				      http_header(req, "Authorization"), s)) {
	case SESSION_AUTH_OK:
		return true;
	case SESSION_AUTH_MISSING:
		http_error(resp, req, 401, "UNAUTHORIZED",
			   "Authorization: Bearer <token> is required", NULL);
		return false;
	case SESSION_AUTH_EXPIRED:
		http_error(resp, req, 401, "UNAUTHORIZED",
			   "the session has expired; create a new one", NULL);
		return false;
	default:
		http_error(resp, req, 401, "UNAUTHORIZED", "the token is not valid",
			   NULL);
		return false;
	}
}

/* A JSON integer within [min, max]; booleans, reals and strings are not. */
static bool json_int_in(const json_t *v, json_int_t min, json_int_t max,
			json_int_t *out)
{
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return *out >= min && *out <= max;
}

static void validation_error(struct http_req *req, struct http_resp *resp,
			     const char *field, const char *message)
{
	http_error(resp, req, 422, "VALIDATION_FAILED", message,
		   json_pack("{s:s}", "field", field));
}

static json_t *seat_list_json(const uint32_t *seats, int n)
{
	json_t *a = json_array();

	for (int i = 0; a && i < n; i++)
		json_array_append_new(a, json_integer(seats[i]));
	return a;
}

/* Answers a domain refusal with the contract's status and code. */
static void api_holds_error(struct http_req *req, struct http_resp *resp,
		     const struct holds_outcome *o)
{
	switch (o->result) {
	case HOLDS_NO_EVENT:
		http_error(resp, req, 404, "EVENT_NOT_FOUND", "no such event", NULL);
		return;
	case HOLDS_NO_SEAT:
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "a seat id does not exist in this event", NULL);
		return;
	case HOLDS_UNAVAILABLE:
		http_error(resp, req, 409, "SEAT_UNAVAILABLE",
			   "some seats are held by someone else; nothing was held",
			   json_pack("{s:o}", "seatIds", seat_list_json(o->seats, o->n_seats)));
		return;
	case HOLDS_SOLD:
		http_error(resp, req, 422, "SEAT_SOLD", "some seats are already sold",
			   json_pack("{s:o}", "seatIds", seat_list_json(o->seats, o->n_seats)));
		return;
	case HOLDS_LIMIT: {
		char msg[96];

		snprintf(msg, sizeof(msg),
			 "a session may hold at most %d seats per event",
			 rest_app(req)->cfg.hold_limit);
		http_error(resp, req, 422, "HOLD_LIMIT_EXCEEDED", msg,
			   json_pack("{s:i}", "limit", rest_app(req)->cfg.hold_limit));
		return;
	}
	case HOLDS_LIMIT_ORIGIN: {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "sessions from one client address may hold at most %d seats per event",
			 rest_app(req)->cfg.origin_hold_limit);
		http_error(resp, req, 422, "HOLD_LIMIT_EXCEEDED", msg,
			   json_pack("{s:i, s:s}", "limit",
				     rest_app(req)->cfg.origin_hold_limit, "scope",
				     "address"));
		return;
	}
	case HOLDS_EXPIRED:
		http_error(resp, req, 410, "RESERVATION_EXPIRED",
			   "nobody holds this seat (never held, released or lapsed)", NULL);
		return;
	case HOLDS_NOT_HOLDER:
		http_error(resp, req, 403, "NOT_HOLDER",
			   "this seat is held by another session", NULL);
		return;
	case HOLDS_IN_ORDER:
		http_error(resp, req, 409, "SEAT_IN_ORDER",
			   "this seat is in your pending order", NULL);
		return;
	case HOLDS_BUSY:
	default:
		resp->extra_header_name = "Retry-After";
		resp->extra_header_value = "1";
		http_error(resp, req, 503, "BUSY",
			   "the seat table is busy; retry in a moment", NULL);
		return;
	}
}

/* Parses "seatIds" (1..8 distinct integers) or a single "seatId". */
static int parse_seat_ids(struct http_req *req, struct http_resp *resp,
			  json_t *body, uint32_t *ids)
{
	json_t *list = json_object_get(body, "seatIds");
	json_t *one = json_object_get(body, "seatId");
	json_int_t v;
	size_t i, n;

	if (list && one) {
		validation_error(req, resp, "seatIds", "give seatIds or seatId, not both");
		return -1;
	}
	if (one) {
		if (!json_int_in(one, 0, UINT32_MAX, &v)) {
			validation_error(req, resp, "seatId",
					 "seatId must be a non-negative integer");
			return -1;
		}
		ids[0] = (uint32_t)v;
		return 1;
	}
	if (!json_is_array(list)) {
		validation_error(req, resp, "seatIds",
				 "seatIds must be an array of 1 to 8 seat ids");
		return -1;
	}
	n = json_array_size(list);
	if (n < 1 || n > HOLDS_MAX_SEATS) {
		validation_error(req, resp, "seatIds",
				 "seatIds must hold 1 to 8 seat ids");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!json_int_in(json_array_get(list, i), 0, UINT32_MAX, &v)) {
			validation_error(req, resp, "seatIds",
					 "every seat id must be a non-negative integer");
			return -1;
		}
		ids[i] = (uint32_t)v;
		for (size_t k = 0; k < i; k++)
			if (ids[k] == ids[i]) {
				validation_error(req, resp, "seatIds",
						 "seat ids must be distinct");
				return -1;
			}
	}
	return (int)n;
}

int api_parse_event_and_seats(struct http_req *req, struct http_resp *resp,
			      json_t *body, uint32_t *event_id, uint32_t *ids)
{
	json_int_t v;

	if (!json_int_in(json_object_get(body, "eventId"), 0, UINT32_MAX, &v)) {
		validation_error(req, resp, "eventId",
				 "eventId must be a non-negative integer");
		return -1;
	}
	*event_id = (uint32_t)v;
	return parse_seat_ids(req, resp, body, ids);
}

void route_create_reservation(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	struct holds_outcome o;
	uint32_t event_id, ids[HOLDS_MAX_SEATS];
	json_int_t secs = rest_app(req)->cfg.hold_default_seconds;
	json_t *body, *hs;
	char expires[32];
	int n;

	if (!api_authenticate(req, resp, &s))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	n = api_parse_event_and_seats(req, resp, body, &event_id, ids);
	hs = json_object_get(body, "holdSeconds");
	if (n > 0 && hs && !json_int_in(hs, HOLD_SECONDS_MIN, HOLD_SECONDS_MAX, &secs)) {
		validation_error(req, resp, "holdSeconds",
				 "holdSeconds must be an integer from 5 to 600");
		n = -1;
	}
	json_decref(body);
	if (n < 0)
		return;
	holds_reserve(req->app, s.slot, event_id, ids, n, (uint32_t)secs, &o);
	if (o.result != HOLDS_OK) {
		api_holds_error(req, resp, &o);
		return;
	}
	tkt_format_rfc3339_ms(o.expires_unix_ms, expires, sizeof(expires));
	http_json(resp, 201,
		  json_pack("{s:I, s:o, s:s, s:I}", "eventId", (json_int_t)event_id,
			    "seatIds", seat_list_json(ids, n), "expiresAt", expires,
			    "holdSeconds", secs));
}

void route_list_reservations(struct http_req *req, struct http_resp *resp)
{
	struct holds_entry entries[1024];
	struct session s;
	json_t *list;
	int n;

	if (!api_authenticate(req, resp, &s))
		return;
	n = holds_list(req->app, s.slot, entries, 1024);
	list = json_array();
	for (int i = 0; list && i < n; i++) {
		char expires[32];

		tkt_format_rfc3339_ms(entries[i].expires_unix_ms, expires, sizeof(expires));
		json_array_append_new(list,
				      json_pack("{s:I, s:I, s:s}", "eventId",
						(json_int_t)entries[i].event_id, "seatId",
						(json_int_t)entries[i].seat_id, "expiresAt",
						expires));
	}
	http_json(resp, 200, list);
}

/* {eventId}/{seatId} path parameters. */
static bool path_seat(struct http_req *req, struct http_resp *resp,
		      uint32_t *event_id, uint32_t *seat_id)
{
	if (http_parse_u32(req->params[0], event_id)) {
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "event id must be a non-negative integer", NULL);
		return false;
	}
	if (http_parse_u32(req->params[1], seat_id)) {
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "seat id must be a non-negative integer", NULL);
		return false;
	}
	return true;
}

void route_extend_reservation(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	struct holds_outcome o;
	uint32_t event_id, seat_id;
	json_int_t secs = 0;
	json_t *body;
	char expires[32];
	bool ok;

	if (!api_authenticate(req, resp, &s) ||
	    !path_seat(req, resp, &event_id, &seat_id))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	ok = json_int_in(json_object_get(body, "seconds"), HOLD_SECONDS_MIN,
			 HOLD_SECONDS_MAX, &secs);
	json_decref(body);
	if (!ok) {
		validation_error(req, resp, "seconds",
				 "seconds must be an integer from 5 to 600");
		return;
	}
	holds_extend(req->app, s.slot, event_id, seat_id, (uint32_t)secs, &o);
	if (o.result != HOLDS_OK) {
		api_holds_error(req, resp, &o);
		return;
	}
	tkt_format_rfc3339_ms(o.expires_unix_ms, expires, sizeof(expires));
	http_json(resp, 200,
		  json_pack("{s:I, s:I, s:s}", "eventId", (json_int_t)event_id,
			    "seatId", (json_int_t)seat_id, "expiresAt", expires));
}

void route_delete_reservation(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	struct holds_outcome o;
	uint32_t event_id, seat_id;

	if (!api_authenticate(req, resp, &s) ||
	    !path_seat(req, resp, &event_id, &seat_id))
		return;
	holds_release(req->app, s.slot, event_id, seat_id, &o);
	if (o.result != HOLDS_OK) {
		api_holds_error(req, resp, &o);
		return;
	}
	http_text(resp, 204, "application/json", "", 0);
}
