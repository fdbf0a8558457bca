#include "userspace/ticketd/seats/seat_stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/log.h"
#include "userspace/ticketd/commerce/catalog.h"

static void count_add(struct seat_counts *c, uint8_t st, int delta)
{
	uint32_t *slot = st == SEAT_SOLD ? &c->sold : st == SEAT_HELD ? &c->held
								 : &c->available;
	*slot = (uint32_t)((int64_t)*slot + delta);
}

/* Builds one event's published map from the seat table as it is now. */
static struct event_stream *event_stream_new(struct seat_stream *s,
					     const struct event_info *e,
					     uint64_t version)
{
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());
	__u64 *seats = (__u64 *)edge_seats(s->edge);
	struct event_stream *es = calloc(1, sizeof(*es));

	if (!es)
		return NULL;
	pthread_mutex_init(&es->lock, NULL);
	es->event = e;
	es->version = version;
	es->status = calloc(e->n_seats ? e->n_seats : 1, 1);
	es->ring = calloc(s->ring_cap, sizeof(*es->ring));
	es->ring_cap = s->ring_cap;
	if (!es->status || !es->ring) {
		free(es->status);
		free(es->ring);
		pthread_mutex_destroy(&es->lock);
		free(es);
		return NULL;
	}
	for (uint32_t sid = 0; sid < e->n_seats; sid++) {
		uint64_t w = tkt_load64(&seats[e->seat_base + sid]);

		es->status[sid] = (uint8_t)seat_status_of_state(tkt_sw_effective_state(w, now_ms));
		count_add(&es->counts, es->status[sid], 1);
	}
	return es;
}

int seat_stream_init(struct seat_stream *s, const struct catalog *cat,
		     struct edge *edge, const uint64_t *start_versions,
		     uint32_t ring_cap)
{
	const struct event_info *e;
	uint32_t cur = 0;

	memset(s, 0, sizeof(*s));
	s->batch = calloc(SEAT_STREAM_BATCH, sizeof(*s->batch));
	if (!s->batch)
		return -ENOMEM;
	s->catalog = cat;
	s->edge = edge;
	s->ring_cap = ring_cap;
	pthread_mutex_init(&s->create_lock, NULL);
	s->events = calloc(CATALOG_MAX_EVENTS, sizeof(*s->events));
	if (!s->events) {
		seat_stream_free(s);
		return -ENOMEM;
	}
	while ((e = catalog_next(cat, &cur))) {
		struct event_stream *es =
			event_stream_new(s, e, start_versions ? start_versions[e->id] : 0);

		if (!es) {
			seat_stream_free(s);
			return -ENOMEM;
		}
		atomic_store(&s->events[e->id], es);
	}
	return 0;
}

void seat_stream_set_first_version(struct seat_stream *s, uint64_t version)
{
	s->first_version = version;
}

void seat_stream_free(struct seat_stream *s)
{
	for (uint32_t i = 0; s->events && i < CATALOG_MAX_EVENTS; i++) {
		struct event_stream *es = atomic_load(&s->events[i]);

		if (!es)
			continue;
		free(es->status);
		free(es->ring);
		pthread_mutex_destroy(&es->lock);
		free(es);
	}
	free(s->events);
	s->events = NULL;
	free(s->batch);
	s->batch = NULL;
	s->n_batch = 0;
	pthread_mutex_destroy(&s->create_lock);
}

int seat_stream_add_sink(struct seat_stream *s, seat_sink_fn fn, void *ctx)
{
	if (s->n_sinks >= SEAT_STREAM_MAX_SINKS)
		return -ENOSPC;
	s->sinks[s->n_sinks].fn = fn;
	s->sinks[s->n_sinks].batch = NULL;
	s->sinks[s->n_sinks].ctx = ctx;
	s->n_sinks++;
	return 0;
}

int seat_stream_add_batch_sink(struct seat_stream *s, seat_batch_sink_fn fn,
			       void *ctx)
{
	if (s->n_sinks >= SEAT_STREAM_MAX_SINKS)
		return -ENOSPC;
	s->sinks[s->n_sinks].fn = NULL;
	s->sinks[s->n_sinks].batch = fn;
	s->sinks[s->n_sinks].ctx = ctx;
	s->n_sinks++;
	return 0;
}

/* The event's stream, made at first need for an event published after
 * start (its seats are all free then: a new range of the table). */
static struct event_stream *seat_stream_event(struct seat_stream *s,
					      uint32_t event_id)
{
	const struct event_info *e = catalog_find(s->catalog, event_id);
	struct event_stream *es;

	if (!e)
		return NULL;
	es = atomic_load_explicit(&s->events[e->id], memory_order_acquire);
	if (es)
		return es;
	pthread_mutex_lock(&s->create_lock);
	es = atomic_load(&s->events[e->id]);
	if (!es) {
		es = event_stream_new(s, e, s->first_version);
		if (es)
			atomic_store_explicit(&s->events[e->id], es, memory_order_release);
	}
	pthread_mutex_unlock(&s->create_lock);
	return es;
}

int seat_stream_with_event(struct seat_stream *s, uint32_t event_id,
			   void (*fn)(void *ctx, const struct seat_stream_view *v),
			   void *ctx)
{
	struct event_stream *es = seat_stream_event(s, event_id);
	struct seat_stream_view v;

	if (!es)
		return -ENOENT;
	pthread_mutex_lock(&es->lock);
	v.event = es->event;
	v.version = es->version;
	v.oldest_replay = es->version - es->ring_len + 1;
	v.status = es->status;
	v.es = es;
	fn(ctx, &v);
	pthread_mutex_unlock(&es->lock);
	return 0;
}

void seat_stream_view_replay(const struct seat_stream_view *v, uint64_t from,
			     uint64_t n, struct seat_event *out)
{
	const struct event_stream *es = v->es;

	for (uint64_t i = 0; i < n; i++) {
		/* version x sits version - x slots behind the newest */
		uint64_t back = v->version - (from + i);
		uint32_t idx = (uint32_t)((es->ring_head + es->ring_cap - 1 -
					   back % es->ring_cap) % es->ring_cap);

		out[i] = es->ring[idx];
	}
}

uint64_t seat_stream_version(struct seat_stream *s, uint32_t event_id)
{
	struct event_stream *es = seat_stream_event(s, event_id);
	uint64_t v;

	if (!es)
		return 0;
	pthread_mutex_lock(&es->lock);
	v = es->version;
	pthread_mutex_unlock(&es->lock);
	return v;
}

int seat_stream_rebase(struct seat_stream *s, uint32_t event_id, uint64_t version)
{
	struct event_stream *es = seat_stream_event(s, event_id);

	if (!es)
		return -ENOENT;
	pthread_mutex_lock(&es->lock);
	if (version > es->version) {
		es->version = version;
		/* versions below it are of another run or node: a client
		 * asking for them gets a snapshot */
		es->ring_len = 0;
		es->ring_head = 0;
	}
	pthread_mutex_unlock(&es->lock);
	return 0;
}

/* Versions the gathered batch: each run of one event's records under one
 * hold of that event's lock (published map, counts, replay ring), then
 * hands the whole batch to every sink, after the locks are released. */
static void seat_stream_flush(struct seat_stream *s)
{
	struct event_stream *es = NULL;
	uint32_t n = s->n_batch;

	if (!n)
		return;
	for (uint32_t i = 0; i < n; i++) {
		struct seat_change *ch = &s->batch[i];
		/* a run of one event's changes looks its stream up once */
		struct event_stream *next = i && ch->event == s->batch[i - 1].event
						    ? es
						    : seat_stream_event(s, ch->event->id);
		uint32_t seat = ch->rec.seat_id;
		/* The record's raw state, not its state "now": a hold
		 * published late must not look lapsed; a lapse is announced
		 * by the sweeper's record. */
		uint8_t st = (uint8_t)seat_status_of_state(tkt_sw_state(ch->rec.new_word));

		if (next != es) {
			if (es)
				pthread_mutex_unlock(&es->lock);
			es = next;
			pthread_mutex_lock(&es->lock);
		}
		count_add(&es->counts, es->status[seat], -1);
		es->status[seat] = st;
		count_add(&es->counts, st, 1);
		ch->ev.version = ++es->version;
		ch->ev.seat_id = seat;
		ch->ev.status = st;
		es->ring[es->ring_head] = ch->ev;
		es->ring_head = es->ring_head + 1 == es->ring_cap ? 0 : es->ring_head + 1;
		if (es->ring_len < es->ring_cap)
			es->ring_len++;
	}
	pthread_mutex_unlock(&es->lock);
	atomic_fetch_add(&s->delivered, n);
	atomic_fetch_add(&s->batches, 1);
	for (int k = 0; k < s->n_sinks; k++) {
		if (s->sinks[k].batch) {
			s->sinks[k].batch(s->sinks[k].ctx, s->batch, n);
			continue;
		}
		for (uint32_t i = 0; i < n; i++)
			s->sinks[k].fn(s->sinks[k].ctx, s->batch[i].event, &s->batch[i].ev,
				       &s->batch[i].rec);
	}
	s->n_batch = 0;
}

/* Gathers one change record into the batch (published when the poll that
 * delivers it returns, or at once when the batch is full). */
static int on_change(void *ctx, const struct tkt_change *rec)
{
	struct seat_stream *s = ctx;
	const struct event_info *e;
	struct seat_change *ch;

	/* the batch's previous change was of the same event: its catalogue
	 * entry and stream are known good for the batch's lifetime */
	if (s->n_batch && s->batch[s->n_batch - 1].event->id == rec->event_id)
		e = s->batch[s->n_batch - 1].event;
	else if ((e = catalog_find(s->catalog, rec->event_id)) && !seat_stream_event(s, e->id))
		e = NULL;
	if (!e || rec->seat_id >= e->n_seats) {
		atomic_fetch_add(&s->unknown_event, 1);
		return 0;
	}
	ch = &s->batch[s->n_batch++];
	ch->event = e;
	ch->rec = *rec;
	if (s->n_batch == SEAT_STREAM_BATCH)
		seat_stream_flush(s);
	return 0;
}

static void *stream_loop(void *arg)
{
	struct seat_stream *s = arg;

	while (!atomic_load(&s->stop)) {
		int n = edge_poll_changes(s->edge, on_change, s, 50);

		seat_stream_flush(s);
		if (n < 0 && n != -EINTR) {
			log_msg(LOG_ERROR, NULL, "seat change stream: poll failed (%d)", n);
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	/* Whatever is still queued is published before we stop. */
	edge_poll_changes(s->edge, on_change, s, 0);
	seat_stream_flush(s);
	return NULL;
}

int seat_stream_start(struct seat_stream *s)
{
	return -pthread_create(&s->thread, NULL, stream_loop, s);
}

void seat_stream_stop(struct seat_stream *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
}
