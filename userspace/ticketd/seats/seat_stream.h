/* The one change path: a single thread consumes every seat-word change
 * (XDP ring buffer and ticketd's own doors, via edge_poll_changes), stamps it
 * with its event's next version, updates the published seat map, and hands
 * it to the Redis journal and the SSE hub. Versions of an event therefore
 * strictly increase without gaps, in one order that every reader sees.
 *
 * The published map is what SSE shows: a snapshot and its version are read
 * together under the event's lock, so a snapshot at version v contains
 * exactly the changes 1..v. REST reads the seat table itself (a hold from
 * either door shows at once) and reports the version published so far. */
#ifndef TICKETD_SEAT_STREAM_H
#define TICKETD_SEAT_STREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "userspace/ticketd/seats/seat_view.h"

struct ticketd;
struct tkt_change;
struct event_info;

/* One published change, as SSE sends it. */
struct seat_event {
	uint64_t version;
	uint32_t seat_id;
	uint8_t status; /* enum seat_status */
};

struct event_stream {
	pthread_mutex_t lock; /* guards everything below */
	const struct event_info *event;
	uint64_t version;
	uint8_t *status; /* published status per seat */
	struct seat_counts counts;
	/* Replay ring of the last `ring_cap` changes (SSE Last-Event-ID). */
	struct seat_event *ring;
	uint32_t ring_cap, ring_len, ring_head;
};

struct seat_stream {
	struct ticketd *app;
	struct event_stream *events; /* parallel to app->catalog.events */
	uint32_t n_events;
	pthread_t thread;
	atomic_bool stop;
	atomic_uint_least64_t delivered, unknown_event;
};

/* Builds the published map from the seat table as it is now, with each
 * event's version starting at start_versions[i] (NULL: 0). Call before the
 * edge's doors open and before seat_stream_start. */
int seat_stream_init(struct seat_stream *s, struct ticketd *app,
		     const uint64_t *start_versions, uint32_t ring_cap);
int seat_stream_start(struct seat_stream *s);
void seat_stream_stop(struct seat_stream *s);
void seat_stream_free(struct seat_stream *s);

struct event_stream *seat_stream_event(struct seat_stream *s, uint32_t event_id);

/* The event's version published so far (0 for an unknown event). */
uint64_t seat_stream_version(struct seat_stream *s, uint32_t event_id);

/* Applies one change record (the consumer thread; exposed for tests). */
int seat_stream_apply(struct seat_stream *s, const struct tkt_change *rec);

#endif
