/* The one change path: a single thread consumes every seat-word change
 * (XDP ring buffer and ticketd's own doors, via edge_poll_changes), stamps it
 * with its event's next version, updates the published seat map, and hands
 * it to the sinks registered with seat_stream_add_sink or
 * seat_stream_add_batch_sink (the Redis journal, the SSE hub, metrics), in
 * registration order, after the event's lock is released.
 *
 * Changes are published in batches: the records one poll of the change
 * stream delivers (at most SEAT_STREAM_BATCH) are versioned under one hold
 * of each event's lock, then handed to every sink at once, in the order
 * they came (each event's versions ascending within and across batches).
 * A batch sink gets the whole batch in one call; a per-change sink gets its
 * changes one by one, in the same order.
 * Versions of an event therefore strictly increase without gaps within a
 * run, in one order that every reader sees; each run starts above every
 * earlier one (a new epoch, seats/stream_epoch.h), so none is reused.
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

#include "bpf/ticket_maps.h"
#include "userspace/ticketd/seats/seat_view.h"

struct catalog;
struct edge;
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

/* A consumer of published changes, called on the stream's thread with no
 * lock held; it must not block (queue the work and return). */
typedef void (*seat_sink_fn)(void *ctx, const struct event_info *e,
			     const struct seat_event *ev,
			     const struct tkt_change *rec);

/* One change of a batch, as every sink sees it. */
struct seat_change {
	const struct event_info *event;
	struct seat_event ev;
	struct tkt_change rec; /* the change record it was made from */
};

/* A consumer of whole batches: ch[0..n) in publication order, on the
 * stream's thread with no lock held; it must not block. */
typedef void (*seat_batch_sink_fn)(void *ctx, const struct seat_change *ch,
				   uint32_t n);

#define SEAT_STREAM_MAX_SINKS 4
/* Records versioned and handed to the sinks together, at most. */
#define SEAT_STREAM_BATCH 1024

struct seat_stream {
	const struct catalog *catalog;
	struct edge *edge;
	struct event_stream *events; /* parallel to catalog->events */
	uint32_t n_events;
	struct {
		seat_sink_fn fn;          /* per change, or */
		seat_batch_sink_fn batch; /* per batch */
		void *ctx;
	} sinks[SEAT_STREAM_MAX_SINKS];
	int n_sinks;
	/* The batch being gathered (stream thread only): records not yet
	 * versioned, then the published changes. */
	struct seat_change *batch;
	uint32_t n_batch;
	pthread_t thread;
	atomic_bool stop;
	/* delivered: changes published; batches: batches handed to the sinks */
	atomic_uint_least64_t delivered, unknown_event, batches;
};

/* Builds the published map from the seat table (edge_seats(edge)) as it is
 * now, with each event's version starting at start_versions[i] (NULL: 0).
 * Call before the edge's doors open and before seat_stream_start. */
int seat_stream_init(struct seat_stream *s, const struct catalog *catalog,
		     struct edge *edge, const uint64_t *start_versions,
		     uint32_t ring_cap);
/* Registers a sink (before seat_stream_start); -ENOSPC past
 * SEAT_STREAM_MAX_SINKS. */
int seat_stream_add_sink(struct seat_stream *s, seat_sink_fn fn, void *ctx);
int seat_stream_add_batch_sink(struct seat_stream *s, seat_batch_sink_fn fn,
			       void *ctx);
int seat_stream_start(struct seat_stream *s);
void seat_stream_stop(struct seat_stream *s);
void seat_stream_free(struct seat_stream *s);

/* What a reader sees of one event while seat_stream_with_event holds its
 * lock: no change is published in between. */
struct seat_stream_view {
	const struct event_info *event;
	uint64_t version;        /* changes 1..version are published */
	uint64_t oldest_replay;  /* oldest version still in the replay ring
				  * (version + 1 when the ring is empty) */
	const uint8_t *status;   /* published status per seat, at version */
	const struct event_stream *es;
};

/* Calls fn(ctx, view) with the event's lock held; returns -ENOENT for an
 * unknown event, else 0. fn must be quick and may take only locks that
 * come after the event lock (docs/threads.md). */
int seat_stream_with_event(struct seat_stream *s, uint32_t event_id,
			   void (*fn)(void *ctx, const struct seat_stream_view *v),
			   void *ctx);

/* Inside fn: copies the published changes with versions from..from+n-1
 * (all within oldest_replay..version) into out. */
void seat_stream_view_replay(const struct seat_stream_view *v, uint64_t from,
			     uint64_t n, struct seat_event *out);

/* Moves the event's version up to version (never down) and empties its
 * replay ring: for an event this node takes over from another (issue #16),
 * whose versions must continue above the other node's. 0 or -ENOENT. */
int seat_stream_rebase(struct seat_stream *s, uint32_t event_id, uint64_t version);

/* The event's version published so far (0 for an unknown event). */
uint64_t seat_stream_version(struct seat_stream *s, uint32_t event_id);

#endif
