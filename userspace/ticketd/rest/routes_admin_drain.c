/* GET/POST/DELETE /admin/drain (drain.h): loopback only, Bearer admin key,
 * as the room's admin endpoints. POST starts draining (idempotent), DELETE
 * ends it and opens the UDP door again, GET shows the state and what is
 * still in flight, which `ticketctl drain --wait` polls. */
#include <errno.h>
#include <string.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/edge_setup.h"
#include "userspace/ticketd/rest/drain.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

/* Seconds a refused client is asked to wait: long enough for a load
 * balancer to have moved it to another node. */
#define DRAIN_RETRY_AFTER 5

void drain_init(struct drain *d)
{
	pthread_mutex_init(&d->lock, NULL);
	atomic_init(&d->on, false);
	d->since_unix_ms = 0;
	d->doors_closed = false;
}

void drain_destroy(struct drain *d)
{
	pthread_mutex_destroy(&d->lock);
}

const char *drain_hold_path(struct ticketd *app)
{
	const char *path;

	pthread_mutex_lock(&app->drain.lock);
	path = app->hold_path;
	pthread_mutex_unlock(&app->drain.lock);
	return path;
}

bool drain_refuse_hold(struct http_req *req, struct http_resp *resp)
{
	if (!drain_on(&rest_app(req)->drain))
		return false;
	http_error(resp, req, 503, "DRAINING",
		   "this node is draining: it takes no new holds; retry on another node",
		   NULL);
	resp->retry_after = DRAIN_RETRY_AFTER;
	return true;
}

/* Seats in a pending order (ORDERED, deadline not passed): an order is in
 * flight on this node while any is. */
static uint32_t ordered_seats(const struct ticketd *app)
{
	__u32 now = tkt_ms32(tkt_mono_ns());
	uint32_t n = 0;

	if (!app->seats)
		return 0;
	const struct event_info *e;

	for (uint32_t cur = 0; (e = catalog_next(&app->catalog, &cur));) {
		for (uint32_t s = 0; s < e->n_seats; s++) {
			__u64 w = tkt_load64(&app->seats[e->seat_base + s]);

			n += tkt_sw_state(w) == TKT_SEAT_ORDERED && !tkt_sw_lapsed(w, now);
		}
	}
	return n;
}

int drain_render_metrics(struct ticketd *app, char **buf, size_t *len, size_t *cap)
{
	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_draining 1 while the node drains (POST /admin/drain):"
		" no new holds, not ready.\n"
		"# TYPE ticketd_draining gauge\n"
		"ticketd_draining %d\n"
		"# HELP ticketd_ordered_seats Seats in pending orders (payment not"
		" decided yet): orders in flight on this node.\n"
		"# TYPE ticketd_ordered_seats gauge\n"
		"ticketd_ordered_seats %u\n",
		(int)drain_on(&app->drain), ordered_seats(app));
}

static void answer_state(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	struct drain *d = &app->drain;
	uint32_t ordered = ordered_seats(app), unsold = saga_unsold_count(&app->saga.unsold);
	int queued = saga_queued(&app->saga);
	char since[40] = "";
	bool on, closed;
	const char *door;

	pthread_mutex_lock(&d->lock);
	on = drain_on(d);
	closed = d->doors_closed;
	door = app->hold_path;
	if (d->since_unix_ms)
		tkt_format_rfc3339_ms(d->since_unix_ms, since, sizeof(since));
	pthread_mutex_unlock(&d->lock);
	http_json(resp, 200,
		  json_pack("{s:b, s:s?, s:s, s:{s:i, s:i, s:i}, s:b}", "draining", on,
			    "since", since[0] ? since : NULL, "udpDoor",
			    closed ? "closed" : door, "inFlight", "orderedSeats",
			    (int)ordered, "sagaQueued", queued, "unsoldSeats", (int)unsold,
			    "idle", ordered == 0 && queued == 0 && unsold == 0));
}

void route_admin_drain_get(struct http_req *req, struct http_resp *resp)
{
	if (api_admin_allowed(req, resp))
		answer_state(req, resp);
}

void route_admin_drain_start(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	struct drain *d = &app->drain;

	if (!api_admin_allowed(req, resp))
		return;
	pthread_mutex_lock(&d->lock);
	if (!drain_on(d)) {
		uint32_t mono;

		/* Refuse REST holds first, then close the UDP door. */
		d->since_unix_ms = ticketd_unix_ms_at(&mono);
		atomic_store(&d->on, true);
		edge_setup_close_doors(app);
		d->doors_closed = true;
		log_msg(LOG_WARN, NULL, "draining: new holds refused, UDP door closed, "
			"not ready; orders in flight finish");
	}
	pthread_mutex_unlock(&d->lock);
	answer_state(req, resp);
}

void route_admin_drain_stop(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = rest_app(req);
	struct drain *d = &app->drain;
	char err[256] = "";
	int rc = 0;

	if (!api_admin_allowed(req, resp))
		return;
	pthread_mutex_lock(&d->lock);
	if (d->doors_closed) {
		rc = edge_setup_doors(app, err, sizeof(err));
		if (!rc)
			d->doors_closed = false;
	}
	if (!rc) {
		if (drain_on(d))
			log_msg(LOG_WARN, NULL, "drain ended: taking holds again (UDP: %s)",
				app->hold_path);
		d->since_unix_ms = 0;
		atomic_store(&d->on, false);
	}
	pthread_mutex_unlock(&d->lock);
	if (rc) {
		/* Still draining: nothing half-open. */
		log_msg(LOG_ERROR, NULL, "drain: cannot open the UDP door again: %s", err);
		http_error(resp, req, 503, "UNAVAILABLE", err[0] ? err : strerror(-rc), NULL);
		return;
	}
	answer_state(req, resp);
}
