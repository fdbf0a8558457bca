/* The admin API of the live catalogue (#17, docs/api.md "Admin: events"):
 * GET/POST /admin/events, PATCH /admin/events/{id}, POST .../publish and
 * .../cancel, PUT .../blocked, GET /admin/audit. Loopback only with the
 * admin key (admin_auth.c). Each change is one transaction under the
 * catalogue's row lock with its audit row (commerce/catalog_admin.c); once
 * committed, the event is
 * reloaded and published into this daemon (catalog_live.c), and other
 * nodes follow within catalog_refresh_ms. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/log.h"
#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/catalog_live.h"
#include "userspace/ticketd/commerce/catalog_admin.h"
#include "userspace/ticketd/commerce/event_layout.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

#define BLOCK_MAX_SEATS 1000 /* seat ids per PUT .../blocked */
#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 1000

static const char *state_name(uint8_t st)
{
	return st == EVENT_DRAFT ? "DRAFT" : st == EVENT_CANCELLED ? "CANCELLED" : "PUBLISHED";
}

static json_t *time_or_null(int64_t ms)
{
	char t[32];

	if (!ms || tkt_format_rfc3339_ms(ms, t, sizeof(t)))
		return json_null();
	return json_string(t);
}

static json_t *u16_or_null(uint16_t v)
{
	return v ? json_integer(v) : json_null();
}

static json_t *array_text(const char *text)
{
	json_t *a = text ? json_loads(text, 0, NULL) : NULL;

	return json_is_array(a) ? a : (json_decref(a), json_array());
}

/* An event with its admin fields. */
static json_t *admin_event_json(const struct event_info *e)
{
	char starts[32];
	uint32_t seats = 0, blocked = 0;

	for (uint32_t s = 0; s < e->n_seats; s++) {
		seats += !(e->seats[s].flags & SEAT_GAP);
		blocked += (e->seats[s].flags & (SEAT_GAP | SEAT_BLOCKED)) == SEAT_BLOCKED;
	}
	tkt_format_rfc3339_ms(e->starts_at_ms, starts, sizeof(starts));
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:i, s:i, "
			 "s:I, s:I, s:o, s:o, s:I}",
			 "id", (json_int_t)e->id, "name", e->name, "venue", e->venue,
			 "startsAt", starts, "saleStartsAt", time_or_null(e->sale_starts_ms),
			 "saleEndsAt", time_or_null(e->sale_ends_ms), "state",
			 state_name(e->state), "holdLimit", u16_or_null(e->hold_limit),
			 "holdSeconds", u16_or_null(e->hold_seconds), "maxHoldSeconds",
			 u16_or_null(e->max_hold_seconds), "rows", (int)e->rows, "cols",
			 (int)e->cols, "seats", (json_int_t)seats, "blockedSeats",
			 (json_int_t)blocked, "categories", array_text(e->categories_json),
			 "sections", array_text(e->sections_json), "revision",
			 (json_int_t)e->revision);
}

/* Who asks: the admin key's fingerprint (first 16 hex digits of its
 * SHA-256) and the client address. */
struct actor {
	char key[17];
	char client[INET6_ADDRSTRLEN + 8];
};

static void actor_of(struct http_req *req, struct actor *a)
{
	const char *auth = http_header(req, "Authorization");
	const struct sockaddr *sa = http_client_addr(req);
	unsigned char md[SHA256_DIGEST_LENGTH];

	snprintf(a->key, sizeof(a->key), "unknown");
	if (auth && strlen(auth) > 7) {
		SHA256((const unsigned char *)auth + 7, strlen(auth) - 7, md);
		hex_encode(md, 8, a->key);
	}
	snprintf(a->client, sizeof(a->client), "unknown");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a->client,
			  sizeof(a->client));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a->client,
			  sizeof(a->client));
}

/* The request body as the audit row keeps it (at most 64 KiB: the body
 * limit). */
static char *body_text(const struct http_req *req)
{
	char *s = malloc(req->body_len + 1);

	if (s) {
		if (req->body_len)
			memcpy(s, req->body, req->body_len);
		s[req->body_len] = 0;
	}
	return s;
}

static void validation_error(struct http_req *req, struct http_resp *resp,
			     const struct spec_error *err)
{
	http_error(resp, req, 422, "VALIDATION_FAILED", err->message,
		   json_pack("{s:s}", "field", err->field));
}

/* Answers a refusal of the catalogue's transaction; false when ADMIN_OK. */
static bool refused(struct http_req *req, struct http_resp *resp, enum admin_result r)
{
	switch (r) {
	case ADMIN_OK:
		return false;
	case ADMIN_BUSY:
		api_service_busy(req, resp);
		break;
	case ADMIN_NO_IDS:
		http_error(resp, req, 409, "CATALOG_FULL",
			   "no event id is left (at most 4095 events)", NULL);
		break;
	case ADMIN_NO_SEATS:
		http_error(resp, req, 409, "CATALOG_FULL",
			   "the seat table has no room left for this event", NULL);
		break;
	case ADMIN_SOLD:
	case ADMIN_DB:
	default:
		resp->retry_after = 1;
		http_error(resp, req, 503, "UNAVAILABLE", "the database failed; nothing changed",
			   NULL);
		break;
	}
	return true;
}

/* The audit row's who and what of this request; free body after. */
struct audit_who {
	struct actor a;
	char *body;
	struct admin_actor who;
};

static void who_of(struct http_req *req, struct audit_who *w)
{
	actor_of(req, &w->a);
	w->body = req->body_len ? body_text(req) : NULL;
	w->who = (struct admin_actor){.key = w->a.key, .client = w->a.client,
				      .request = w->body};
}

/* Reloads the event into this daemon and answers it with status. */
static void answer_event(struct http_req *req, struct http_resp *resp, int status,
			 uint32_t id, json_t *extra)
{
	struct ticketd *app = rest_app(req);
	const struct event_info *e;
	json_t *body;

	catalog_live_reload(app, id);
	e = catalog_get(&app->catalog, id);
	if (!e) {
		json_decref(extra);
		http_error(resp, req, 503, "UNAVAILABLE",
			   "the change is saved but could not be read back; retry the read",
			   NULL);
		return;
	}
	body = admin_event_json(e);
	if (extra)
		json_object_update(body, extra);
	json_decref(extra);
	http_json(resp, status, body);
}

/* The {id} of an admin path, any state; NULL with the answer set. */
static const struct event_info *admin_event(struct http_req *req, struct http_resp *resp)
{
	const struct event_info *e;
	uint32_t id;

	if (http_parse_u32(req->params[0], &id)) {
		http_error(resp, req, 400, "VALIDATION_FAILED",
			   "event id must be a non-negative integer",
			   json_pack("{s:s}", "id", req->params[0]));
		return NULL;
	}
	e = catalog_get(&rest_app(req)->catalog, id);
	if (!e)
		http_error(resp, req, 404, "EVENT_NOT_FOUND", "no such event", NULL);
	return e;
}

void route_admin_events_list(struct http_req *req, struct http_resp *resp)
{
	const struct event_info *e;
	json_t *list;

	if (!api_admin_allowed(req, resp))
		return;
	list = json_array();
	for (uint32_t cur = 0; list && (e = catalog_next_any(&rest_app(req)->catalog, &cur));)
		json_array_append_new(list, admin_event_json(e));
	http_json(resp, 200, list);
}

void route_admin_events_create(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	struct event_spec spec;
	struct spec_error err;
	struct event_info *e;
	struct audit_who w;
	enum admin_result res;
	json_t *body;
	int rc;

	if (!api_admin_allowed(req, resp) || !(body = http_body_object(req, resp, false)))
		return;
	rc = event_spec_parse(body, true, &spec, &err);
	json_decref(body);
	e = calloc(1, sizeof(*e));
	if (!rc && !e)
		rc = -ENOMEM;
	if (!rc)
		rc = event_spec_apply(&spec, e, &err);
	event_spec_free(&spec);
	if (rc) {
		event_info_free(e);
		if (rc == -EINVAL)
			validation_error(req, resp, &err);
		else
			http_error(resp, req, 503, "BUSY", "out of memory; retry", NULL);
		return;
	}
	who_of(req, &w);
	res = admin_create_event(&app->db, app->cfg.db_wait_ms, e, TKT_MAX_SEATS, &w.who);
	free(w.body);
	if (!refused(req, resp, res))
		answer_event(req, resp, 201, e->id, NULL);
	event_info_free(e);
}

void route_admin_events_patch(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	const struct event_info *cur;
	struct event_spec spec;
	struct spec_error err;
	struct event_info *e = NULL;
	struct audit_who w;
	enum admin_result res;
	uint32_t old_n;
	json_t *body;
	int rc;

	if (!api_admin_allowed(req, resp) || !(cur = admin_event(req, resp)) ||
	    !(body = http_body_object(req, resp, false)))
		return;
	rc = event_spec_parse(body, false, &spec, &err);
	json_decref(body);
	if (!rc && (spec.have & SPEC_LAYOUT) && cur->state != EVENT_DRAFT) {
		event_spec_free(&spec);
		http_error(resp, req, 409, "EVENT_NOT_DRAFT",
			   "the seat map changes only while the event is a DRAFT",
			   json_pack("{s:s}", "state", state_name(cur->state)));
		return;
	}
	if (!rc)
		rc = (e = event_info_dup(cur)) ? event_spec_apply(&spec, e, &err) : -ENOMEM;
	old_n = cur->n_seats;
	if (rc) {
		event_spec_free(&spec);
		event_info_free(e);
		if (rc == -EINVAL)
			validation_error(req, resp, &err);
		else
			http_error(resp, req, 503, "BUSY", "out of memory; retry", NULL);
		return;
	}
	who_of(req, &w);
	res = admin_update_event(&app->db, app->cfg.db_wait_ms, e, spec.have & SPEC_LAYOUT, old_n,
				 TKT_MAX_SEATS, &w.who);
	free(w.body);
	event_spec_free(&spec);
	if (!refused(req, resp, res))
		answer_event(req, resp, 200, e->id, NULL);
	event_info_free(e);
}

void route_admin_events_publish(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	const struct event_info *e;
	struct audit_who w;
	enum admin_result res;

	if (!api_admin_allowed(req, resp) || !(e = admin_event(req, resp)))
		return;
	if (e->state != EVENT_DRAFT) {
		http_error(resp, req, 409, "EVENT_NOT_DRAFT", "only a DRAFT is published",
			   json_pack("{s:s}", "state", state_name(e->state)));
		return;
	}
	who_of(req, &w);
	res = admin_set_state(&app->db, app->cfg.db_wait_ms, e->id, EVENT_PUBLISHED, "publish",
			      "200 PUBLISHED", &w.who);
	free(w.body);
	if (!refused(req, resp, res))
		answer_event(req, resp, 200, e->id, NULL);
}

void route_admin_events_cancel(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	const struct event_info *e;
	char (*ids)[48] = NULL;
	int n = 0, ended = 0;
	struct audit_who w;
	enum admin_result res;
	uint32_t id;

	if (!api_admin_allowed(req, resp) || !(e = admin_event(req, resp)))
		return;
	if (e->state == EVENT_CANCELLED) {
		http_error(resp, req, 409, "EVENT_CANCELLED", "the event is cancelled already",
			   NULL);
		return;
	}
	id = e->id;
	who_of(req, &w);
	res = admin_set_state(&app->db, app->cfg.db_wait_ms, id, EVENT_CANCELLED, "cancel",
			      "200 CANCELLED", &w.who);
	free(w.body);
	if (refused(req, resp, res))
		return;
	/* closed to holds and live holds released (catalog_live_publish),
	 * then the pending orders end as their deadline would end them */
	catalog_live_reload(app, id);
	ids = calloc(1000, sizeof(*ids));
	if (ids)
		n = admin_pending_orders(&app->db, id, ids, 1000);
	for (int i = 0; i < n; i++)
		ended += !saga_cancel_order(app, ids[i], "EVENT_CANCELLED");
	free(ids);
	answer_event(req, resp, 200, id, json_pack("{s:i}", "ordersCancelled", ended));
}

/* The body of PUT .../blocked: seatIds (1..BLOCK_MAX_SEATS distinct seats
 * of e, no gaps) and blocked. n, or -1 with the answer set. */
static int parse_blocked(struct http_req *req, struct http_resp *resp,
			 const struct event_info *e, uint32_t *ids, bool *blocked)
{
	json_t *body = http_body_object(req, resp, false), *arr, *v;
	const char *msg = NULL, *field = "seatIds";
	size_t i;
	int n = 0;

	if (!body)
		return -1;
	arr = json_object_get(body, "seatIds");
	v = json_object_get(body, "blocked");
	if (!json_is_boolean(v)) {
		field = "blocked";
		msg = "blocked must be true or false";
	} else if (!json_is_array(arr) || !json_array_size(arr) ||
		   json_array_size(arr) > BLOCK_MAX_SEATS) {
		msg = "seatIds must be an array of 1 to 1000 seat ids";
	}
	*blocked = json_is_true(v);
	json_array_foreach(msg ? NULL : arr, i, v) {
		json_int_t s = json_is_integer(v) ? json_integer_value(v) : -1;

		if (s < 0 || s >= e->n_seats || (e->seats[s].flags & SEAT_GAP)) {
			msg = "a seat id does not exist in this event";
			break;
		}
		for (int k = 0; k < n && !msg; k++)
			if (ids[k] == (uint32_t)s)
				msg = "seatIds must be distinct";
		ids[n++] = (uint32_t)s;
	}
	json_decref(body);
	if (msg) {
		http_error(resp, req, 422, "VALIDATION_FAILED", msg,
			   json_pack("{s:s}", "field", field));
		return -1;
	}
	return n;
}

void route_admin_events_blocked(struct http_req *req, struct http_resp *resp)
{
	const struct event_info *e;
	struct ticketd *app = rest_app(req);
	uint32_t ids[BLOCK_MAX_SEATS], first = 0;
	bool blocked, taken = false;
	struct audit_who w;
	enum admin_result res;
	int n, rc;

	if (!api_admin_allowed(req, resp) || !(e = admin_event(req, resp)) ||
	    (n = parse_blocked(req, resp, e, ids, &blocked)) < 0)
		return;
	/* Blocking takes the words first (free seats only, all or none), so
	 * no buyer can hold a seat the map calls BLOCKED. */
	if (blocked && e->state != EVENT_DRAFT) {
		rc = catalog_live_block(app, e, ids, n, &first);
		if (rc == -EBUSY) {
			http_error(resp, req, 409, "SEAT_UNAVAILABLE",
				   "a seat is held, in an order or sold; nothing was blocked",
				   json_pack("{s:[I]}", "seatIds", (json_int_t)first));
			return;
		}
		if (rc) {
			http_error(resp, req, 503, "BUSY", "out of memory; retry", NULL);
			return;
		}
		taken = true;
	}
	who_of(req, &w);
	res = admin_set_blocked(&app->db, app->cfg.db_wait_ms, e, ids, (size_t)n, blocked, &w.who,
				&first);
	free(w.body);
	if (res == ADMIN_SOLD) {
		http_error(resp, req, 409, "SEAT_UNAVAILABLE", "a seat is sold; nothing changed",
			   json_pack("{s:[I]}", "seatIds", (json_int_t)first));
	} else if (!refused(req, resp, res)) {
		answer_event(req, resp, 200, e->id, json_pack("{s:b}", "blocked", blocked));
		return;
	}
	if (taken)
		catalog_live_block_undo(app, e, ids, n);
}

void route_admin_audit(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	const char *ev = http_query(req, "eventId"), *lim = http_query(req, "limit");
	uint32_t event_id = 0, limit = AUDIT_LIMIT_DEFAULT;
	enum admin_result res;
	json_t *list;

	if (!api_admin_allowed(req, resp))
		return;
	if ((ev && *ev && http_parse_u32(ev, &event_id)) ||
	    (lim && (http_parse_u32(lim, &limit) || !limit || limit > AUDIT_LIMIT_MAX))) {
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "eventId must be an event id and limit 1..1000",
			   json_pack("{s:s}", "field", ev && http_parse_u32(ev, &event_id) ? "eventId" : "limit"));
		return;
	}
	list = json_array();
	res = list ? admin_audit(&app->db, app->cfg.db_wait_ms, event_id, limit, list) : ADMIN_DB;
	if (refused(req, resp, res)) {
		json_decref(list);
		return;
	}
	http_json(resp, 200, list);
}
