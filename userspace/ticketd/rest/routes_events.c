/* GET /api/events, /api/events/{id}, /api/events/{id}/seats */
#include <stdio.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/seats/seat_view.h"
#include "userspace/ticketd/ticketd.h"

static json_t *event_json(const struct ticketd *app, const struct event_info *e)
{
	struct seat_counts c;
	char starts[32];

	/* multi-node: an event served elsewhere, as its owner counted it */
	if (!shards_counts((struct shards *)&app->shards, e->id, &c.available, &c.held, &c.sold))
		c = seat_view_counts(app, e);

	tkt_format_rfc3339_ms(e->starts_at_ms, starts, sizeof(starts));
	return json_pack("{s:I, s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:I}", "id",
			 (json_int_t)e->id, "name", e->name, "venue", e->venue,
			 "startsAt", starts, "rows", (int)e->rows, "cols",
			 (int)e->cols, "available", (json_int_t)c.available, "held",
			 (json_int_t)c.held, "sold", (json_int_t)c.sold);
}

void route_list_events(struct http_req *req, struct http_resp *resp)
{
	const struct catalog *cat = &rest_app(req)->catalog;
	json_t *list = json_array();

	for (uint32_t i = 0; list && i < cat->n_events; i++)
		json_array_append_new(list, event_json(req->app, &cat->events[i]));
	http_json(resp, 200, list);
}

/* Resolves the {id} parameter or sets the 400/404 answer. */
static const struct event_info *find_event(struct http_req *req,
					   struct http_resp *resp)
{
	const struct event_info *e;
	uint32_t id;

	if (http_parse_u32(req->params[0], &id)) {
		http_error(resp, req, 400, "VALIDATION_FAILED",
			   "event id must be a non-negative integer",
			   json_pack("{s:s}", "id", req->params[0]));
		return NULL;
	}
	e = catalog_find(&rest_app(req)->catalog, id);
	if (!e) {
		char msg[64];

		snprintf(msg, sizeof(msg), "event %u does not exist", id);
		http_error(resp, req, 404, "EVENT_NOT_FOUND", msg, NULL);
	}
	return e;
}

void route_get_event(struct http_req *req, struct http_resp *resp)
{
	const struct event_info *e = find_event(req, resp);

	if (e)
		http_json(resp, 200, event_json(req->app, e));
}

void route_get_seats(struct http_req *req, struct http_resp *resp)
{
	const struct event_info *e = find_event(req, resp);
	uint64_t version;
	json_t *seats;

	if (!e || !api_room_gate(req, resp, e->id))
		return;
	/* The version first: the map read after it may already hold changes
	 * the stream announces next, never miss one it announced. */
	version = seat_stream_version(&rest_app(req)->stream, e->id);
	seats = json_array();
	for (uint32_t s = 0; seats && s < e->n_seats; s++) {
		const struct seat_info *si = &e->seats[s];

		json_array_append_new(
			seats,
			json_pack("{s:I, s:i, s:i, s:s, s:I, s:s}", "id", (json_int_t)s,
				  "r", (int)si->r, "c", (int)si->c, "label", si->label,
				  "price", (json_int_t)si->price, "status",
				  seat_status_name(seat_view_status(req->app, e, s))));
	}
	http_json(resp, 200,
		  json_pack("{s:I, s:i, s:i, s:I, s:o}", "eventId", (json_int_t)e->id,
			    "rows", (int)e->rows, "cols", (int)e->cols, "version",
			    (json_int_t)version, "seats", seats));
}
