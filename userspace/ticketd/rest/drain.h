/* Draining a node before it goes down (POST/DELETE/GET /admin/drain,
 * routes_admin_drain.c; docs/api.md, "Draining"): new holds are refused
 * (REST 503 DRAINING, the UDP door closed: XDP detached, the socket door
 * stopped), /readyz answers 503 with reason "draining", and everything
 * already taken keeps going: orders, payments, releases, expiries. */
#ifndef TICKETD_DRAIN_H
#define TICKETD_DRAIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ticketd;
struct http_req;
struct http_resp;

struct drain {
	/* Guards the UDP doors while they change (app->udp, the XDP attach,
	 * app->hold_path) against the health thread's look at app->udp,
	 * and since_unix_ms. */
	pthread_mutex_t lock;
	atomic_bool on;
	uint64_t since_unix_ms; /* when draining began (0: not draining) */
	bool doors_closed;      /* the UDP door was closed by the drain */
};

void drain_init(struct drain *d);
void drain_destroy(struct drain *d);

static inline bool drain_on(struct drain *d)
{
	return atomic_load(&d->on);
}

/* app->hold_path, read under the lock that drain's undo writes it under
 * (it may change from xdp to socket when XDP cannot be attached again). */
const char *drain_hold_path(struct ticketd *app);

/* While draining: sets 503 DRAINING with Retry-After and returns true. */
bool drain_refuse_hold(struct http_req *req, struct http_resp *resp);

/* ticketd_draining and ticketd_drain_ordered_seats for /metrics. */
int drain_render_metrics(struct ticketd *app, char **buf, size_t *len, size_t *cap);

#endif
