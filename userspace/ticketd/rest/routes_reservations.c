/* POST/GET /api/reservations, extend and delete of one hold. */
#include <stdio.h>
#include <string.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/rest/parse.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/room/room_service.h"
#include "userspace/ticketd/seats/best_hold.h"
#include "userspace/ticketd/seats/holds.h"
#include "userspace/ticketd/ticketd.h"

bool api_authenticate(struct http_req *req, struct http_resp *resp,
		      struct session *s)
{
	switch (sessions_check_bearer(&rest_app(req)->token_key,
				      http_header(req, "Authorization"), s)) {
	case SESSION_AUTH_OK:
		/* any request of an admitted visitor keeps its place */
		rooms_touch(rest_app(req)->rooms, s);
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

		int limit = o->limit ? (int)o->limit : rest_app(req)->cfg.hold_limit;

		snprintf(msg, sizeof(msg),
			 "a session may hold at most %d seats per event", limit);
		http_error(resp, req, 422, "HOLD_LIMIT_EXCEEDED", msg,
			   json_pack("{s:i}", "limit", limit));
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
		resp->retry_after = 1;
		http_error(resp, req, 503, "BUSY",
			   "the seat table is busy; retry in a moment", NULL);
		return;
	}
}

void route_create_reservation(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	struct holds_outcome o;
	uint32_t event_id, ids[HOLDS_MAX_SEATS];
	json_int_t secs = rest_app(req)->cfg.hold_default_seconds;
	json_t *body;
	char expires[32];
	bool own_secs;
	int n;

	if (drain_refuse_hold(req, resp) || !api_authenticate(req, resp, &s))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	n = api_parse_event_and_seats(req, resp, body, &event_id, ids);
	if (n > 0 && !api_parse_hold_seconds(req, resp, body, &secs))
		n = -1;
	own_secs = json_object_get(body, "holdSeconds") != NULL;
	json_decref(body);
	if (n < 0 || !api_sale_gate(req, resp, event_id, own_secs ? NULL : &secs))
		return;
	holds_reserve(req->app, s.slot, event_id, ids, n, (uint32_t)secs, &o);
	if (o.result == HOLDS_NOT_ADMITTED) {
		char room[64];

		snprintf(room, sizeof(room), "/api/events/%u/room", event_id);
		http_error(resp, req, 403, "NOT_ADMITTED",
			   "this event has a waiting room; join it first "
			   "(POST /api/events/{id}/room)",
			   json_pack("{s:s}", "room", room));
		return;
	}
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

/* An optional list of 1..BEST_FILTER_MAX ids (1..65535) of the best
 * body; false with msg set. */
static bool parse_ids(json_t *body, const char *key, uint16_t *ids, int *n,
		      const char **msg)
{
	json_t *arr = json_object_get(body, key), *v;
	size_t i;

	*n = 0;
	if (!arr)
		return true;
	if (!json_is_array(arr) || !json_array_size(arr) ||
	    json_array_size(arr) > BEST_FILTER_MAX) {
		*msg = "must be an array of 1 to 64 ids";
		return false;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535) {
			*msg = "must hold ids from 1 to 65535";
			return false;
		}
		ids[(*n)++] = (uint16_t)json_integer_value(v);
	}
	return true;
}

/* The body of POST /api/reservations/best: eventId, count (1..8), the
 * optional accessible (a boolean: the first seat accessible, #17),
 * categories and sections (ids to choose among, #17) and holdSeconds. */
static bool parse_best(struct http_req *req, struct http_resp *resp,
		       json_t *body, uint32_t *event_id, int *count,
		       json_int_t *secs, struct best_filter *f)
{
	json_t *v = json_object_get(body, "eventId"), *acc;
	const char *field = NULL, *msg = NULL;
	char text[96];

	memset(f, 0, sizeof(*f));
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX) {
		field = "eventId";
		msg = "eventId must be a non-negative integer";
	} else if (v = json_object_get(body, "count"), !json_is_integer(v) ||
		   json_integer_value(v) < 1 ||
		   json_integer_value(v) > HOLDS_MAX_SEATS) {
		field = "count";
		msg = "count must be an integer from 1 to 8";
	} else if ((acc = json_object_get(body, "accessible")) &&
		   !json_is_boolean(acc)) {
		field = "accessible";
		msg = "accessible must be a boolean";
	} else if (!parse_ids(body, "categories", f->categories, &f->n_categories, &msg)) {
		field = "categories";
	} else if (!parse_ids(body, "sections", f->sections, &f->n_sections, &msg)) {
		field = "sections";
	}
	if (field) {
		if (strcmp(field, "categories") && strcmp(field, "sections"))
			snprintf(text, sizeof(text), "%s", msg);
		else
			snprintf(text, sizeof(text), "%s %s", field, msg);
		http_error(resp, req, 422, "VALIDATION_FAILED", text,
			   json_pack("{s:s}", "field", field));
		return false;
	}
	f->accessible = json_is_true(json_object_get(body, "accessible"));
	*event_id = (uint32_t)json_integer_value(json_object_get(body, "eventId"));
	*count = (int)json_integer_value(v);
	return api_parse_hold_seconds(req, resp, body, secs);
}

/* As POST /api/reservations answers a session outside the waiting room. */
static void not_admitted(struct http_req *req, struct http_resp *resp,
			 uint32_t event_id)
{
	char room[64];

	snprintf(room, sizeof(room), "/api/events/%u/room", event_id);
	http_error(resp, req, 403, "NOT_ADMITTED",
		   "this event has a waiting room; join it first "
		   "(POST /api/events/{id}/room)",
		   json_pack("{s:s}", "room", room));
}

void route_best_reservation(struct http_req *req, struct http_resp *resp)
{
	struct session s;
	struct best_hold_outcome o;
	struct best_filter filter;
	uint32_t event_id;
	json_int_t secs = rest_app(req)->cfg.hold_default_seconds;
	json_t *body;
	char expires[32];
	int count;
	bool ok, own_secs;

	if (drain_refuse_hold(req, resp) || !api_authenticate(req, resp, &s))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	ok = parse_best(req, resp, body, &event_id, &count, &secs, &filter);
	own_secs = json_object_get(body, "holdSeconds") != NULL;
	json_decref(body);
	if (!ok || !api_sale_gate(req, resp, event_id, own_secs ? NULL : &secs))
		return;
	best_hold(req->app, s.slot, event_id, count, (uint32_t)secs, &filter, &o);
	switch (o.result) {
	case BEST_HOLD_OK:
		break;
	case BEST_HOLD_NOT_ENOUGH:
		http_error(resp, req, 409, "NOT_ENOUGH_SEATS",
			   "the event has fewer free seats than count; nothing was held",
			   json_pack("{s:i}", "count", count));
		return;
	case BEST_HOLD_CONFLICT:
		resp->retry_after = 1;
		http_error(resp, req, 409, "CONFLICT_RETRY",
			   "other buyers took the chosen seats on every attempt; "
			   "nothing was held, retry",
			   json_pack("{s:i}", "attempts", o.attempts));
		return;
	case BEST_HOLD_NO_MEMORY:
		resp->retry_after = 1;
		http_error(resp, req, 503, "BUSY",
			   "no memory for the seat map; retry in a moment", NULL);
		return;
	default:
		if (o.holds.result == HOLDS_NOT_ADMITTED)
			not_admitted(req, resp, event_id);
		else
			api_holds_error(req, resp, &o.holds);
		return;
	}
	tkt_format_rfc3339_ms(o.holds.expires_unix_ms, expires, sizeof(expires));
	http_json(resp, 201,
		  json_pack("{s:I, s:o, s:s, s:I, s:b}", "eventId",
			    (json_int_t)event_id, "seatIds",
			    seat_list_json(o.seats, o.n_seats), "expiresAt",
			    expires, "holdSeconds", secs, "together", o.together));
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
	    !api_parse_path_seat(req, resp, &event_id, &seat_id))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	ok = api_parse_extend_seconds(req, resp, body, &secs);
	json_decref(body);
	if (!ok)
		return;
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
	    !api_parse_path_seat(req, resp, &event_id, &seat_id))
		return;
	holds_release(req->app, s.slot, event_id, seat_id, &o);
	if (o.result != HOLDS_OK) {
		api_holds_error(req, resp, &o);
		return;
	}
	http_text(resp, 204, "application/json", "", 0);
}
