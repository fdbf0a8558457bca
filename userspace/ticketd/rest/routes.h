/* ticketd's REST API (docs/api.md): the route table and the helpers its
 * handlers share. Handlers get the daemon as req->app. */
#ifndef TICKETD_ROUTES_H
#define TICKETD_ROUTES_H

#include "api/http.h"

struct ticketd;

static inline struct ticketd *rest_app(const struct http_req *req)
{
	return req->app;
}

void route_list_events(struct http_req *req, struct http_resp *resp);
void route_get_event(struct http_req *req, struct http_resp *resp);
void route_get_seats(struct http_req *req, struct http_resp *resp);
void route_seat_stream(struct http_req *req, struct http_resp *resp);
void route_create_session(struct http_req *req, struct http_resp *resp);
void route_create_reservation(struct http_req *req, struct http_resp *resp);
void route_best_reservation(struct http_req *req, struct http_resp *resp);
void route_list_reservations(struct http_req *req, struct http_resp *resp);
void route_extend_reservation(struct http_req *req, struct http_resp *resp);
void route_delete_reservation(struct http_req *req, struct http_resp *resp);
void route_create_order(struct http_req *req, struct http_resp *resp);
void route_get_order(struct http_req *req, struct http_resp *resp);
void route_authorize_payment(struct http_req *req, struct http_resp *resp);
void route_index(struct http_req *req, struct http_resp *resp);
void route_asset(struct http_req *req, struct http_resp *resp);
void route_healthz(struct http_req *req, struct http_resp *resp);
void route_readyz(struct http_req *req, struct http_resp *resp);
void route_metrics(struct http_req *req, struct http_resp *resp);
void route_room_join(struct http_req *req, struct http_resp *resp);
void route_room_poll(struct http_req *req, struct http_resp *resp);
void route_room_stream(struct http_req *req, struct http_resp *resp);
void route_waitlist_join(struct http_req *req, struct http_resp *resp);
void route_waitlist_get(struct http_req *req, struct http_resp *resp);
void route_waitlist_leave(struct http_req *req, struct http_resp *resp);
void route_waitlist_stream(struct http_req *req, struct http_resp *resp);
void route_admin_room_get(struct http_req *req, struct http_resp *resp);
void route_admin_room_put(struct http_req *req, struct http_resp *resp);
void route_admin_events_list(struct http_req *req, struct http_resp *resp);
void route_admin_events_create(struct http_req *req, struct http_resp *resp);
void route_admin_events_patch(struct http_req *req, struct http_resp *resp);
void route_admin_events_publish(struct http_req *req, struct http_resp *resp);
void route_admin_events_cancel(struct http_req *req, struct http_resp *resp);
void route_admin_events_blocked(struct http_req *req, struct http_resp *resp);
void route_admin_audit(struct http_req *req, struct http_resp *resp);
void route_admin_drain_get(struct http_req *req, struct http_resp *resp);
void route_admin_drain_start(struct http_req *req, struct http_resp *resp);
void route_admin_drain_stop(struct http_req *req, struct http_resp *resp);
void route_order_tickets(struct http_req *req, struct http_resp *resp);
void route_order_ticket_image(struct http_req *req, struct http_resp *resp);
void route_ticket_key(struct http_req *req, struct http_resp *resp);
void route_checkin(struct http_req *req, struct http_resp *resp);
void route_checkin_batch(struct http_req *req, struct http_resp *resp);
void route_shards(struct http_req *req, struct http_resp *resp);

/* The HTTP server's route_guard (routes_shards.c): in multi-node mode, a
 * request naming an event another node serves is answered 307 WRONG_NODE
 * (Location: the owner), or 503 EVENT_MOVING while nobody does. */
bool api_route_guard(void *app, const struct route *rt, struct http_req *req,
		     struct http_resp *resp);

/* The admin endpoints' gate (admin_auth.c): true for a loopback client
 * with the admin key as Bearer token; otherwise the 403/401 is set. */
bool api_admin_allowed(struct http_req *req, struct http_resp *resp);

/* The seat map's gate (routes_room.c): true when event_id has no active
 * waiting room or the request's session (Authorization, or the token
 * query argument) is admitted; otherwise the answer (403 QUEUE_REQUIRED,
 * or 401 for a bad token) is set. */
bool api_room_gate(struct http_req *req, struct http_resp *resp, uint32_t event_id);

/* The live catalogue's gate for a new hold (sale_gate.c, #17): true when
 * the event does not exist (the caller answers that) or sells now;
 * otherwise 403 SALE_NOT_OPEN is set (a DRAFT is no event; a CANCELLED one
 * or one outside its sale window). secs (when not NULL: the body gave no
 * holdSeconds) becomes the event's own default hold, if it has one. */
bool api_sale_gate(struct http_req *req, struct http_resp *resp, uint32_t event_id,
		   json_int_t *secs);

struct session;
struct holds_outcome;

/* The {id} path parameter of an event's route (event_param.c): 400
 * VALIDATION_FAILED when it is not a number, 404 EVENT_NOT_FOUND when the
 * live catalogue has no such published event. */
bool api_event_param(struct http_req *req, struct http_resp *resp, uint32_t *id);

/* A Unix time in ms as an RFC 3339 JSON string, null for 0 (event_param.c). */
json_t *api_time_or_null(int64_t ms);

/* A stream's session (routes_room.c): the Authorization header, or the
 * token query argument (EventSource cannot send headers); on failure the
 * 401 answer is already set. */
bool api_stream_session(struct http_req *req, struct http_resp *resp,
			struct session *s);

/* Checks the Bearer token; on failure the 401 answer is already set. */
bool api_authenticate(struct http_req *req, struct http_resp *resp,
		      struct session *s);

/* 503 SERVICE_BUSY with Retry-After: 1: no database connection came free
 * within db_wait_ms; nothing changed. */
void api_service_busy(struct http_req *req, struct http_resp *resp);

/* Every route, for http_server_start. */
extern const struct route api_routes[];
extern const size_t api_n_routes;

#endif
