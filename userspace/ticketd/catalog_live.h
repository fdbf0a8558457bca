/* The live catalogue (#17): a changed event goes into the running daemon
 * without a restart. catalog_live_publish puts a new snapshot of one event
 * into the catalogue (commerce/catalog.h), the events map (declared the
 * first time the event is not a DRAFT, its closed bit and hold policy
 * kept current), and the seat words of its kill seats (blocked: SOLD
 * without a sale; unblocked: AVAILABLE again). A thread of its own checks
 * catalog_version every catalog_refresh_ms and publishes every event whose
 * revision changed (another node's admin change), and opens and closes
 * events at their sale window's edges. Neither holds a lock a hold takes:
 * the hold paths read snapshots and the events map only. */
#ifndef TICKETD_CATALOG_LIVE_H
#define TICKETD_CATALOG_LIVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/ticketd/commerce/catalog.h"

struct ticketd;

struct catalog_live {
	/* Serialises publishers (admin requests, the refresher); never
	 * taken on a hold path. */
	pthread_mutex_t lock;
	uint32_t *door_flags; /* by event id: the flags last written */
	uint64_t version;     /* catalog_version last seen */
	pthread_t thread;
	bool thread_on;
	atomic_bool stop;
	atomic_uint_least64_t reloads, refresh_errors;
};

/* Publishes e (owned from now on) into the running daemon. 0 or a
 * negative errno (the catalogue has e even then; the events map or a seat
 * word could not follow, logged). */
int catalog_live_publish(struct ticketd *app, struct event_info *e);

/* Blocks seats ids[0..n) of the published event e in this daemon, all or
 * none: a snapshot that calls them BLOCKED first, then each free seat's
 * word made SOLD (RESTORE_SOLD: a held, ordered or sold seat refuses).
 * 0, or -EBUSY with *failed the seat that refused (nothing blocked), or
 * -ENOMEM. The database's flags are the caller's to write next. */
int catalog_live_block(struct ticketd *app, const struct event_info *e,
		       const uint32_t *ids, int n, uint32_t *failed);
/* Takes back catalog_live_block of ids[0..n) (e is the snapshot before). */
void catalog_live_block_undo(struct ticketd *app, const struct event_info *e,
			     const uint32_t *ids, int n);

/* Reloads event id from the database and publishes it. */
int catalog_live_reload(struct ticketd *app, uint32_t id);

/* Makes the kill seats of event id SOLD words again: a node that takes
 * the event over (shards/ownership.c) rebuilt its words from sold_seats
 * and the journal, where kill seats are not. */
void catalog_live_apply_blocks(struct ticketd *app, uint32_t id);

/* Releases every live hold of an event (a cancelled one). */
void catalog_live_release_holds(struct ticketd *app, const struct event_info *e);

/* At start, after recovery and before the doors open: kill seats' words
 * made SOLD, every event's policy written; then the refresher thread. */
/* ticketd_catalog_events{state}, ticketd_catalog_reloads_total and
 * ticketd_catalog_refresh_errors_total (metrics_appendf). */
int catalog_live_render_metrics(struct ticketd *app, char **buf, size_t *len, size_t *cap);

int catalog_live_start(struct ticketd *app, char *err, size_t errlen);
void catalog_live_stop(struct ticketd *app);

#endif
