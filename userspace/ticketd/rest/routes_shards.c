/* Multi-node (issue #16): GET /api/shards, and the guard that sends a
 * request about an event this node does not serve to the node that does
 * (307 WRONG_NODE with Location), or asks it to come back (503
 * EVENT_MOVING) while the event moves. */
#include <stdio.h>
#include <string.h>

#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

/* The event a route names: its {id} / {eventId} path segment, or the
 * eventId of the JSON body of the routes that take one. false when the
 * route names none (or the body has none: the handler answers that). */
static bool named_event(const struct route *rt, struct http_req *req, uint32_t *event_id)
{
	const char *p = rt->pattern;

	if (!strncmp(p, "/api/events/{id}", 16) || !strncmp(p, "/admin/events/{id}", 18) ||
	    !strncmp(p, "/api/reservations/{eventId}", 27))
		return req->n_params > 0 && http_parse_u32(req->params[0], event_id) == 0;
	if (!strcmp(rt->method, "POST") && !strcmp(p, "/api/payments/authorize")) {
		/* the order's event: its owner's saga changes the words */
		json_t *body = req->body ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
		const char *id = json_string_value(json_object_get(body, "orderId"));
		bool ok = id && !shards_order_event(&rest_app(req)->shards, id, event_id);

		json_decref(body);
		return ok;
	}
	if (!strcmp(rt->method, "POST") &&
	    (!strcmp(p, "/api/reservations") || !strcmp(p, "/api/reservations/best") ||
	     !strcmp(p, "/api/orders"))) {
		json_t *body = req->body ? json_loadb(req->body, req->body_len, 0, NULL) : NULL;
		json_t *v = json_object_get(body, "eventId");
		bool ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
			  json_integer_value(v) <= (json_int_t)UINT32_MAX;

		if (ok)
			*event_id = (uint32_t)json_integer_value(v);
		json_decref(body);
		return ok;
	}
	return false;
}

bool api_route_guard(void *ctx, const struct route *rt, struct http_req *req,
		     struct http_resp *resp)
{
	struct ticketd *app = ctx;
	struct shard_owner owner;
	uint32_t event_id;
	char msg[160], query[384];

	if (!app->shards.on || !named_event(rt, req, &event_id))
		return true;
	switch (shards_where(&app->shards, event_id, &owner)) {
	case SHARD_HERE:
		return true;
	case SHARD_ELSEWHERE:
		snprintf(msg, sizeof(msg), "event %u is served by node %s", event_id,
			 owner.node);
		http_error(resp, req, 307, "WRONG_NODE", msg,
			   json_pack("{s:s, s:s, s:s}", "node", owner.node, "http", owner.http,
				     "udp", owner.udp));
		if (!http_query_string(req, query, sizeof(query)))
			query[0] = '\0';
		if ((size_t)snprintf(resp->location, sizeof(resp->location), "http://%s%s%s",
				     owner.http, req->url, query) >= sizeof(resp->location))
			resp->location[0] = '\0';
		return false;
	case SHARD_MOVING:
	default:
		snprintf(msg, sizeof(msg),
			 "event %u is moving between nodes; try again in a second", event_id);
		http_error(resp, req, 503, "EVENT_MOVING", msg, NULL);
		resp->retry_after = 1;
		return false;
	}
}

void route_shards(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);

	http_json(resp, 200, shards_json(&app->shards));
}
