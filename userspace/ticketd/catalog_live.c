#include "userspace/ticketd/catalog_live.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf/seat_word.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/edge_setup.h"
#include "userspace/ticketd/ticketd.h"

#define TICK_MS 250

static bool blocked(const struct event_info *e, uint32_t s)
{
	return e && e->state != EVENT_DRAFT && (e->seats[s].flags & (SEAT_BLOCKED | SEAT_GAP));
}

/* The table's identity follows the layout: a restart then reuses it. */
static void write_identity(struct ticketd *app)
{
	const struct event_info *e;
	uint64_t layout = EDGE_LAYOUT_INIT;

	for (uint32_t cur = 0; (e = catalog_next(&app->catalog, &cur));)
		layout = edge_layout_mix(layout, e->id, e->seat_base, e->n_seats);
	app->table_id.layout = layout;
	edge_setup_identify(app);
}

static int set_flags(struct ticketd *app, uint32_t id, uint32_t flags)
{
	int rc = edge_set_event_policy(app->edge, id, flags);

	if (!rc)
		app->live.door_flags[id] = flags;
	return rc;
}

/* Kill seats' words: a newly blocked seat SOLD (if nobody holds it: the
 * admin request checked; a seat another node's buyer held meanwhile is
 * logged and left), a newly unblocked one AVAILABLE. */
static void apply_blocks(struct ticketd *app, const struct event_info *old,
			 const struct event_info *e)
{
	bool same_grid = old && old->n_seats == e->n_seats && old->seat_base == e->seat_base;

	/* multi-node: another node serves it; its words here are stale and
	 * a takeover applies the kill seats again (catalog_live_apply_blocks) */
	if (edge_event_owned(app->edge, e->id) == (int)TKT_OWNED_NO)
		return;
	for (uint32_t s = 0; s < e->n_seats; s++) {
		bool want = blocked(e, s), had = same_grid && blocked(old, s);
		int st;

		if (want == had)
			continue;
		st = ticketd_seat_op(app, TKT_SRC_SAGA,
				     want ? TKT_SEAT_RESTORE_SOLD : TKT_SEAT_UNBLOCK,
				     SESSION_SLOT_SYSTEM, e->id, s, 0, NULL);
		if (st != TKT_OK && st != TKT_SOLD)
			log_msg(LOG_WARN, NULL, "event %u seat %u: cannot %s it (status %d)",
				e->id, s, want ? "block" : "unblock", st);
	}
}

void catalog_live_apply_blocks(struct ticketd *app, uint32_t id)
{
	const struct event_info *e;

	pthread_mutex_lock(&app->live.lock);
	e = catalog_find(&app->catalog, id);
	if (e)
		apply_blocks(app, NULL, e);
	pthread_mutex_unlock(&app->live.lock);
}

void catalog_live_release_holds(struct ticketd *app, const struct event_info *e)
{
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());

	for (uint32_t s = 0; s < e->n_seats; s++) {
		uint64_t w = tkt_load64(&app->seats[e->seat_base + s]);

		if (tkt_sw_state(w) == TKT_SEAT_HELD && !tkt_sw_lapsed(w, now_ms))
			ticketd_seat_op(app, TKT_SRC_SAGA, TKT_SEAT_RELEASE, tkt_sw_holder(w),
					e->id, s, 0, NULL);
	}
}

int catalog_live_publish(struct ticketd *app, struct event_info *e)
{
	struct catalog_live *cl = &app->live;
	const struct event_info *old;
	uint32_t id = e->id, flags;
	bool fresh, cancelled;
	int rc = 0;

	pthread_mutex_lock(&cl->lock);
	old = catalog_get(&app->catalog, id);
	fresh = e->state != EVENT_DRAFT && (!old || old->state == EVENT_DRAFT);
	cancelled = e->state == EVENT_CANCELLED && (!old || old->state != EVENT_CANCELLED);
	flags = event_door_flags(e, (int64_t)tkt_unix_ms());
	if (fresh) {
		/* declared closed: nothing sells until its kill seats are SOLD;
		 * multi-node: not served until the group gives it to us
		 * (shards/ownership.c takes it over, kill seats included) */
		rc = edge_set_event(app->edge, id, e->seat_base, e->n_seats,
				    !app->cfg.shards_on);
		if (!rc)
			rc = set_flags(app, id, flags | TKT_EVENT_CLOSED);
	}
	if (old && old->state != EVENT_DRAFT && !fresh)
		(void)set_flags(app, id, app->live.door_flags[id] | (flags & TKT_EVENT_CLOSED));
	if (catalog_put(&app->catalog, e)) {
		rc = -ENOMEM;
		goto out;
	}
	/* e stays readable until catalog_free */
	if (e->state != EVENT_DRAFT) {
		apply_blocks(app, fresh ? NULL : old, e);
		if (set_flags(app, id, flags) && !rc)
			rc = -EIO;
		if (fresh)
			write_identity(app);
		if (cancelled)
			catalog_live_release_holds(app, e);
	}
	atomic_fetch_add(&cl->reloads, 1);
out:
	pthread_mutex_unlock(&cl->lock);
	if (rc)
		log_msg(LOG_WARN, NULL, "event %u: the edge did not follow its change: %s", id,
			strerror(-rc));
	return rc;
}

int catalog_live_block(struct ticketd *app, const struct event_info *e,
		       const uint32_t *ids, int n, uint32_t *failed)
{
	struct event_info *pre = event_info_dup(e);
	int done = 0, rc = 0;

	if (!pre)
		return -ENOMEM;
	for (int i = 0; i < n; i++)
		pre->seats[ids[i]].flags |= SEAT_BLOCKED;
	pthread_mutex_lock(&app->live.lock);
	/* the map and the stream say BLOCKED from the change on */
	if (catalog_put(&app->catalog, pre)) {
		pthread_mutex_unlock(&app->live.lock);
		return -ENOMEM;
	}
	for (; done < n; done++) {
		if (e->seats[ids[done]].flags & SEAT_BLOCKED)
			continue;
		if (ticketd_seat_op(app, TKT_SRC_SAGA, TKT_SEAT_RESTORE_SOLD, SESSION_SLOT_SYSTEM,
				    e->id, ids[done], 0, NULL) != TKT_OK) {
			*failed = ids[done];
			rc = -EBUSY;
			break;
		}
	}
	pthread_mutex_unlock(&app->live.lock);
	if (rc)
		catalog_live_block_undo(app, e, ids, done);
	return rc;
}

void catalog_live_block_undo(struct ticketd *app, const struct event_info *e,
			     const uint32_t *ids, int n)
{
	struct event_info *orig = event_info_dup(e);

	pthread_mutex_lock(&app->live.lock);
	for (int i = 0; i < n; i++)
		if (!(e->seats[ids[i]].flags & SEAT_BLOCKED))
			ticketd_seat_op(app, TKT_SRC_SAGA, TKT_SEAT_UNBLOCK, SESSION_SLOT_SYSTEM,
					e->id, ids[i], 0, NULL);
	if (orig)
		catalog_put(&app->catalog, orig);
	pthread_mutex_unlock(&app->live.lock);
}

int catalog_live_reload(struct ticketd *app, uint32_t id)
{
	struct event_info *e;
	char err[256];
	int rc = catalog_load_event(&app->db, id, &e, err, sizeof(err));

	if (rc) {
		if (rc != -ENOENT)
			log_msg(LOG_WARN, NULL, "event %u: %s", id, err);
		return rc;
	}
	if (e->seat_base > TKT_MAX_SEATS || e->n_seats > TKT_MAX_SEATS - e->seat_base) {
		log_msg(LOG_WARN, NULL, "event %u does not fit the seat table", id);
		event_info_free(e);
		return -ENOSPC;
	}
	return catalog_live_publish(app, e);
}

struct refresh_ctx {
	struct ticketd *app;
	int failed;
};

static void on_revision(void *ctx, uint32_t id, uint64_t revision)
{
	struct refresh_ctx *r = ctx;
	const struct event_info *e = catalog_get(&r->app->catalog, id);

	if (id && id < CATALOG_MAX_EVENTS && (!e || e->revision != revision)) {
		int rc = catalog_live_reload(r->app, id);

		/* gone meanwhile or too large: nothing to retry */
		r->failed += rc && rc != -ENOENT && rc != -ENOSPC;
	}
}

/* Every event whose revision differs from its snapshot's, reloaded; the
 * version is taken as seen only when every reload worked, so a failed one
 * is tried again next period. */
static void refresh(struct ticketd *app)
{
	struct refresh_ctx r = {.app = app};
	uint64_t v;

	if (catalog_read_version(&app->db, &v)) {
		atomic_fetch_add(&app->live.refresh_errors, 1);
		return;
	}
	if (v == app->live.version)
		return;
	if (catalog_read_revisions(&app->db, on_revision, &r) || r.failed)
		atomic_fetch_add(&app->live.refresh_errors, 1);
	else
		app->live.version = v;
}

/* Sale windows: an event opens and closes at their edges (to the tick). */
static void follow_windows(struct ticketd *app)
{
	int64_t now = (int64_t)tkt_unix_ms();
	const struct event_info *e;

	pthread_mutex_lock(&app->live.lock);
	for (uint32_t cur = 0; (e = catalog_next(&app->catalog, &cur));) {
		uint32_t f = event_door_flags(e, now);

		if (f != app->live.door_flags[e->id])
			(void)set_flags(app, e->id, f);
	}
	pthread_mutex_unlock(&app->live.lock);
}

static void *live_loop(void *arg)
{
	struct ticketd *app = arg;
	int64_t last = 0;

	while (!atomic_load(&app->live.stop)) {
		struct timespec ts = {0, TICK_MS * 1000000L};
		int64_t now = (int64_t)tkt_mono_ms();

		if (now - last >= app->cfg.catalog_refresh_ms) {
			last = now;
			refresh(app);
		}
		follow_windows(app);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int catalog_live_render_metrics(struct ticketd *app, char **buf, size_t *len, size_t *cap)
{
	uint32_t n[3] = {0}, cur = 0;
	const struct event_info *e;

	while ((e = catalog_next_any(&app->catalog, &cur)))
		n[e->state < 3 ? e->state : 0]++;
	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_catalog_events Events in the catalogue by state (#17).\n"
		"# TYPE ticketd_catalog_events gauge\n"
		"ticketd_catalog_events{state=\"published\"} %u\n"
		"ticketd_catalog_events{state=\"draft\"} %u\n"
		"ticketd_catalog_events{state=\"cancelled\"} %u\n"
		"# HELP ticketd_catalog_reloads_total Event snapshots published since start.\n"
		"# TYPE ticketd_catalog_reloads_total counter\n"
		"ticketd_catalog_reloads_total %llu\n"
		"# HELP ticketd_catalog_refresh_errors_total Catalogue checks that failed (retried).\n"
		"# TYPE ticketd_catalog_refresh_errors_total counter\n"
		"ticketd_catalog_refresh_errors_total %llu\n",
		n[EVENT_PUBLISHED], n[EVENT_DRAFT], n[EVENT_CANCELLED],
		(unsigned long long)atomic_load(&app->live.reloads),
		(unsigned long long)atomic_load(&app->live.refresh_errors));
}

int catalog_live_start(struct ticketd *app, char *err, size_t errlen)
{
	struct catalog_live *cl = &app->live;
	int64_t now = (int64_t)tkt_unix_ms();
	const struct event_info *e;

	pthread_mutex_init(&cl->lock, NULL);
	cl->door_flags = calloc(CATALOG_MAX_EVENTS, sizeof(*cl->door_flags));
	if (!cl->door_flags) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (catalog_read_version(&app->db, &cl->version))
		cl->version = 0; /* the first refresh reads everything */
	for (uint32_t cur = 0; (e = catalog_next(&app->catalog, &cur));) {
		apply_blocks(app, NULL, e);
		(void)set_flags(app, e->id, event_door_flags(e, now));
	}
	if (pthread_create(&cl->thread, NULL, live_loop, app)) {
		snprintf(err, errlen, "cannot start the catalogue refresher");
		return -EAGAIN;
	}
	cl->thread_on = true;
	return 0;
}

void catalog_live_stop(struct ticketd *app)
{
	struct catalog_live *cl = &app->live;

	if (cl->thread_on) {
		atomic_store(&cl->stop, true);
		pthread_join(cl->thread, NULL);
		cl->thread_on = false;
	}
	free(cl->door_flags);
	cl->door_flags = NULL;
	pthread_mutex_destroy(&cl->lock);
}
