/* Tickets and check-in (docs/tickets.md):
 *   GET  /api/tickets/key                  the public key scanners verify with
 *   GET  /api/orders/{id}/tickets          the buyer's signed tickets (JSON)
 *   GET  /api/orders/{id}/tickets/{seat}.png|.svg   one ticket's QR code
 *   POST /api/checkin                      a scanner lets a ticket in, once
 *   POST /api/checkin/batch                offline scans uploaded later
 * Tickets are signed on demand (commerce/tickets.h): nothing is written at
 * confirmation. Check-in needs the scanner key (Bearer), not a session. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/checkins.h"
#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/commerce/tickets.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/seats/seat_view.h"
#include "userspace/ticketd/ticketd.h"

#define CHECKIN_BATCH_MAX 200 /* scans in one upload */
#define QR_PNG_SCALE 6        /* pixels per module */

void route_ticket_key(struct http_req *req, struct http_resp *resp)
{
	const struct ticket_service *ts = rest_app(req)->tickets;

	http_json(resp, 200,
		  json_pack("{s:s, s:s, s:s}", "alg", "Ed25519", "format", "v1", "publicKey",
			    ts->pk_b64));
}

/* The caller's CONFIRMED order, or false with the answer set. */
static bool confirmed_order(struct http_req *req, struct http_resp *resp, struct order *o)
{
	struct session s;
	int rc = -ENOENT;

	if (!api_authenticate(req, resp, &s))
		return false;
	if (strlen(req->params[0]) <= ORDER_ID_LEN)
		rc = orders_get(rest_app(req), &s, req->params[0], o);
	if (rc == -EBUSY) {
		api_service_busy(req, resp);
		return false;
	}
	if (rc) {
		http_error(resp, req, 404, "ORDER_NOT_FOUND", "no such order", NULL);
		return false;
	}
	if (strcmp(o->status, "CONFIRMED")) {
		http_error(resp, req, 409, "ORDER_NOT_CONFIRMED",
			   "tickets exist once the order is CONFIRMED",
			   json_pack("{s:s}", "status", o->status));
		return false;
	}
	return true;
}

static const char *seat_label(struct ticketd *app, uint32_t event_id, uint32_t seat_id)
{
	const struct event_info *e = catalog_find(&app->catalog, event_id);

	return e && seat_id < e->n_seats ? e->seats[seat_id].label : "";
}

void route_order_tickets(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	json_t *list = json_array();
	struct order o;

	if (!confirmed_order(req, resp, &o)) {
		json_decref(list);
		return;
	}
	for (int i = 0; list && i < o.n_seats; i++) {
		char text[TICKET_TEXT_MAX], png[96], svg[96];

		if (ticket_sign(&app->tickets->keys, o.event_id, o.seats[i], o.id,
				(uint32_t)i + 1, text, sizeof(text)) < 0) {
			json_decref(list);
			http_error(resp, req, 500, "INTERNAL", "cannot sign the ticket", NULL);
			return;
		}
		snprintf(png, sizeof(png), "/api/orders/%s/tickets/%u.png", o.id, o.seats[i]);
		snprintf(svg, sizeof(svg), "/api/orders/%s/tickets/%u.svg", o.id, o.seats[i]);
		json_array_append_new(
			list, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s}", "seatId",
					(json_int_t)o.seats[i], "seatLabel",
					seat_label(app, o.event_id, o.seats[i]), "serial",
					(json_int_t)i + 1, "ticket", text, "png", png, "svg", svg));
	}
	http_json(resp, 200,
		  json_pack("{s:s, s:I, s:o}", "orderId", o.id, "eventId",
			    (json_int_t)o.event_id, "tickets", list));
}

/* "<seat>.png" or "<seat>.svg" */
static bool parse_image_name(const char *name, uint32_t *seat, bool *png)
{
	const char *dot = strrchr(name, '.');
	char num[12];
	size_t n;

	if (!dot || (strcmp(dot, ".png") && strcmp(dot, ".svg")))
		return false;
	n = (size_t)(dot - name);
	if (n == 0 || n >= sizeof(num))
		return false;
	memcpy(num, name, n);
	num[n] = '\0';
	*png = !strcmp(dot, ".png");
	return http_parse_u32(num, seat) == 0;
}

void route_order_ticket_image(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	char text[TICKET_TEXT_MAX];
	struct order o;
	uint32_t seat;
	bool png;
	int i, rc;

	struct session s;

	/* the token first, as on every Bearer route */
	if (!api_authenticate(req, resp, &s))
		return;
	if (!parse_image_name(req->params[1], &seat, &png)) {
		http_error(resp, req, 404, "NOT_FOUND",
			   "ask for <seatId>.png or <seatId>.svg", NULL);
		return;
	}
	if (!confirmed_order(req, resp, &o))
		return;
	for (i = 0; i < o.n_seats && o.seats[i] != seat; i++)
		;
	if (i == o.n_seats) {
		http_error(resp, req, 404, "TICKET_NOT_FOUND", "that seat is not in this order",
			   NULL);
		return;
	}
	if (ticket_sign(&app->tickets->keys, o.event_id, seat, o.id, (uint32_t)i + 1, text,
			sizeof(text)) < 0) {
		http_error(resp, req, 500, "INTERNAL", "cannot sign the ticket", NULL);
		return;
	}
	free(resp->body);
	resp->body = NULL;
	if (png) {
		uint8_t *data = NULL;
		size_t len = 0;

		rc = ticket_qr_png(text, QR_PNG_SCALE, &data, &len);
		resp->body = (char *)data;
		resp->body_len = len;
		resp->content_type = "image/png";
	} else {
		rc = ticket_qr_svg(text, &resp->body, &resp->body_len);
		resp->content_type = "image/svg+xml";
	}
	if (rc) {
		http_error(resp, req, 500, "INTERNAL", "cannot draw the QR code", NULL);
		return;
	}
	resp->status = 200;
}

/* ---- check-in ---- */

static bool scanner_allowed(struct http_req *req, struct http_resp *resp)
{
	const char *auth = http_header(req, "Authorization");

	if (!auth) {
		http_error(resp, req, 401, "UNAUTHORIZED",
			   "Authorization: Bearer <scanner key> is required (state_dir/scanner.key)",
			   NULL);
		return false;
	}
	if (!ticket_service_scanner_ok(rest_app(req)->tickets, auth)) {
		http_error(resp, req, 403, "FORBIDDEN", "wrong scanner key", NULL);
		return false;
	}
	return true;
}

static const char *scanner_of(json_t *obj)
{
	json_t *v = json_object_get(obj, "scanner");

	if (!v)
		return "scanner";
	return json_is_string(v) && ticket_scanner_id_ok(json_string_value(v))
		       ? json_string_value(v)
		       : NULL;
}

static json_t *iso(int64_t ms)
{
	char buf[40];

	tkt_format_rfc3339_ms(ms, buf, sizeof(buf));
	return json_string(buf);
}

/* What one scan came to, for the answer (both routes). */
static json_t *scan_json(const struct checkin_scan *scan, enum checkin_result r,
			 const struct checkin_outcome *out, struct ticketd *app)
{
	static const char *const names[] = {
		[CHECKIN_ACCEPTED] = "accepted", [CHECKIN_REPLAYED] = "accepted",
		[CHECKIN_DUPLICATE] = "duplicate", [CHECKIN_INVALID] = "invalid",
		[CHECKIN_VOID] = "void", [CHECKIN_ERROR] = "error",
	};
	json_t *o = json_pack("{s:s}", "result", names[r]);

	if (!o)
		return NULL;
	if (r == CHECKIN_INVALID || r == CHECKIN_VOID || r == CHECKIN_ERROR) {
		json_object_set_new(o, "message",
				    json_string(r == CHECKIN_ERROR ? "the database failed; retry"
								   : out->why));
		if (r == CHECKIN_VOID)
			json_object_set_new(o, "orderStatus", json_string(out->order_status));
		return o;
	}
	json_object_set_new(o, "orderId", json_string(out->t.order_id));
	json_object_set_new(o, "eventId", json_integer(out->t.event_id));
	json_object_set_new(o, "seatId", json_integer(out->t.seat_id));
	json_object_set_new(o, "seatLabel",
			    json_string(seat_label(app, out->t.event_id, out->t.seat_id)));
	if (r == CHECKIN_REPLAYED)
		json_object_set_new(o, "replayed", json_true());
	json_object_set_new(o, "scanner", json_string(scan->scanner));
	json_object_set_new(o, "scannedAt", iso(scan->scanned_at_ms));
	if (r == CHECKIN_DUPLICATE)
		json_object_set_new(o, "firstScan",
				    json_pack("{s:s, s:o}", "scanner", out->first_scanner,
					      "scannedAt", iso(out->first_scanned_ms)));
	return o;
}

void route_checkin(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	struct checkin_outcome out;
	struct checkin_scan scan;
	enum checkin_result r;
	uint32_t mono;
	json_t *body, *ticket;

	if (!scanner_allowed(req, resp))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	ticket = json_object_get(body, "ticket");
	scan.scanner = scanner_of(body);
	if (!json_is_string(ticket) || !scan.scanner) {
		json_decref(body);
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "body: {\"ticket\":\"v1...\", \"scanner\":\"<1-64 of A-Za-z0-9_.:->\"}",
			   NULL);
		return;
	}
	scan.ticket = json_string_value(ticket);
	scan.len = json_string_length(ticket);
	scan.scanned_at_ms = ticketd_unix_ms_at(&mono);
	if (checkins_record_pooled(&app->db, app->cfg.db_wait_ms, app->tickets, &scan, &r, &out)) {
		json_decref(body);
		api_service_busy(req, resp);
		return;
	}
	switch (r) {
	case CHECKIN_ACCEPTED:
		http_json(resp, 200, scan_json(&scan, r, &out, app));
		break;
	case CHECKIN_REPLAYED: /* same scanner, same millisecond: still a second scan */
	case CHECKIN_DUPLICATE:
		http_error(resp, req, 409, "ALREADY_USED", "this ticket has already been scanned",
			   json_pack("{s:s, s:o, s:I}", "scanner", out.first_scanner,
				     "scannedAt", iso(out.first_scanned_ms), "seatId",
				     (json_int_t)out.t.seat_id));
		break;
	case CHECKIN_INVALID:
		http_error(resp, req, 422, "TICKET_INVALID", out.why, NULL);
		break;
	case CHECKIN_VOID:
		http_error(resp, req, 409, "TICKET_VOID", out.why,
			   json_pack("{s:s}", "orderStatus", out.order_status));
		break;
	default:
		resp->retry_after = 1;
		http_error(resp, req, 503, "UNAVAILABLE", "the check-in could not be stored; retry",
			   NULL);
		break;
	}
	json_decref(body);
}

/* One entry of a batch: {"ticket","scannedAt","scanner"}; false when it is
 * not well formed (then it is reported invalid, the others still count). */
static bool batch_scan(json_t *e, struct checkin_scan *scan)
{
	json_t *ticket = json_object_get(e, "ticket"), *at = json_object_get(e, "scannedAt");

	if (!json_is_object(e) || !json_is_string(ticket) || !json_is_string(at))
		return false;
	scan->scanner = scanner_of(e);
	scan->ticket = json_string_value(ticket);
	scan->len = json_string_length(ticket);
	return scan->scanner && !checkins_parse_time(json_string_value(at), &scan->scanned_at_ms);
}

void route_checkin_batch(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	int counts[CHECKIN_ERROR + 1] = {0};
	json_t *body, *scans, *results;
	size_t i;

	if (!scanner_allowed(req, resp))
		return;
	body = http_body_object(req, resp, false);
	if (!body)
		return;
	scans = json_object_get(body, "scans");
	if (!json_is_array(scans) || json_array_size(scans) < 1 ||
	    json_array_size(scans) > CHECKIN_BATCH_MAX) {
		json_decref(body);
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "body: {\"scans\":[{\"ticket\",\"scannedAt\",\"scanner\"}, ...]}, 1 to "
			   "200 scans",
			   NULL);
		return;
	}
	results = json_array();
	for (i = 0; results && i < json_array_size(scans); i++) {
		struct checkin_outcome out = {0};
		struct checkin_scan scan = {0};
		enum checkin_result r = CHECKIN_INVALID;
		json_t *one;

		out.why = "each scan needs ticket, scannedAt (RFC 3339 UTC) and a valid scanner";
		if (batch_scan(json_array_get(scans, i), &scan) && checkins_record_pooled(&app->db, app->cfg.db_wait_ms, app->tickets, &scan, &r, &out)) {
			r = CHECKIN_ERROR;
			out.err = -EBUSY;
		}
		counts[r == CHECKIN_REPLAYED ? CHECKIN_ACCEPTED : r]++;
		one = scan_json(&scan, r, &out, app);
		if (one)
			json_object_set_new(one, "index", json_integer((json_int_t)i));
		json_array_append_new(results, one);
	}
	json_decref(body);
	http_json(resp, 200,
		  json_pack("{s:i, s:i, s:i, s:i, s:i, s:o}", "accepted",
			    counts[CHECKIN_ACCEPTED], "duplicate", counts[CHECKIN_DUPLICATE],
			    "invalid", counts[CHECKIN_INVALID], "void", counts[CHECKIN_VOID],
			    "error", counts[CHECKIN_ERROR], "results", results));
}
