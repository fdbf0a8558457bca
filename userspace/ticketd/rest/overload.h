/* Fast refusal when a door is saturated (issue #12): the REST doors, the
 * reasons a request can be shed, and the one answer for all of them, 503
 * OVERLOADED with Retry-After (api/http.h http_overloaded). Every bounded
 * queue on the request path refuses new work instead of growing:
 *
 *   inflight        the door's in-flight cap (api/, http_inflight_*)
 *   saga_queue      the saga job queue (saga_queue_max)
 *   payment_queue   authorizations at the gateway (payment_queue_max)
 *   outbox_backlog  unsent outbox rows (outbox_backlog_max)
 *   deadline        a deferred request that already waited longer than
 *                   http_request_budget_ms before its work could start
 *
 * Counted per door and reason for /metrics
 * (ticketd_overload_rejected_total). */
#ifndef TICKETD_OVERLOAD_H
#define TICKETD_OVERLOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;
struct http_resp;
struct http_deferred;
struct ticketd;

/* The REST doors, each with its own in-flight cap; index into the HTTP
 * server's doors (api_route_door maps each route; routes it does not
 * know are DOOR_OTHER). */
enum api_door {
	DOOR_OTHER,
	DOOR_READS,    /* events, seats, orders read */
	DOOR_SESSIONS, /* POST /api/sessions */
	DOOR_HOLDS,    /* /api/reservations */
	DOOR_ORDERS,   /* POST /api/orders */
	DOOR_PAYMENTS, /* POST /api/payments/authorize */
	DOOR_STREAMS,  /* seat and room streams (their own caps: sse_max_clients,
			* room_max_streams) */
	DOOR_ROOM,     /* joining and polling a waiting room (room_max_visitors) */
	DOOR_N
};
extern const char *const api_door_names[DOOR_N];

struct route;
/* http_server_opts.route_door: the door of a route of api_routes. */
int api_route_door(void *app, const struct route *rt);

enum overload_reason {
	OVERLOAD_INFLIGHT,
	OVERLOAD_SAGA_QUEUE,
	OVERLOAD_PAYMENT_QUEUE,
	OVERLOAD_OUTBOX_BACKLOG,
	OVERLOAD_DEADLINE,
	OVERLOAD_N
};
extern const char *const overload_reason_names[OVERLOAD_N];

/* A request slower than this inside ticketd counts in
 * ticketd_http_requests_over_2s_total. */
#define OVERLOAD_SLOW_SECONDS 2.0

struct overload {
	/* [door][reason]; OVERLOAD_INFLIGHT is read from the HTTP server's
	 * gates instead */
	atomic_uint_least64_t rejected[DOOR_N][OVERLOAD_N];
	atomic_uint_least64_t slow;   /* answered requests over 2 s, streams excluded */
	atomic_uint_least64_t max_us; /* longest answered request, streams excluded */
};

/* Sets 503 OVERLOADED (Retry-After: overload_retry_after_seconds) and
 * counts it. */
void api_overloaded(struct http_req *req, struct http_resp *resp,
		    enum api_door door, enum overload_reason why);
/* The same answer on a deferred request, from any thread; finishes d. */
void api_overloaded_deferred(struct ticketd *app, struct http_deferred *d,
			     enum api_door door, enum overload_reason why);
/* Has a deferred request already used up http_request_budget_ms? */
int api_deferred_too_old(struct ticketd *app, struct http_deferred *d);

/* How full the purchase doors are now: the larger of in-flight orders and
 * in-flight authorizations over their caps (0 for an uncapped door). The
 * waiting room's automatic rate reads it (main.c hands it to rooms_start). */
double overload_purchase_fill(struct ticketd *app);

/* Records one answered request's time inside ticketd (not streams). */
void overload_observe(struct overload *o, double seconds);

/* /metrics: rejections per door and reason, in-flight per door, requests
 * over 2 s and the longest one. 0 or -ENOMEM. */
int overload_render_metrics(struct ticketd *app, char **buf, size_t *len,
			    size_t *cap);

#endif
