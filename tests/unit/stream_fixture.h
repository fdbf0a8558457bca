/* Shared by the seat change stream and SSE hub tests: a two-event catalogue
 * over a shm edge in a temporary directory (no BPF, no privileges), and
 * writer threads that hold and release overlapping seats through
 * edge_seat_apply, as the daemon's doors do. Header-only: each test is one
 * file. */
#ifndef TICKET_TEST_STREAM_FIXTURE_H
#define TICKET_TEST_STREAM_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/seat_word.h"
#include "tests/edge_fixture.h"
#include "userspace/lib/edge.h"
#include "userspace/ticketd/commerce/catalog.h"

#define FX_EVENTS 2
#define FX_SEATS_MAX 40 /* seats of the larger event */
#define FX_TTL_MS 60000 /* no hold lapses while a test runs */
#define FX_SLOTS 2      /* holder slots per writer */

/* Sorted by id, as catalog_find wants; seats contiguous from 0. */
static const uint32_t fx_event_id[FX_EVENTS] = {3, 9};
static const uint16_t fx_rows[FX_EVENTS] = {4, 3}, fx_cols[FX_EVENTS] = {10, 8};

struct fx {
	char dir[64];
	struct edge *edge;
	struct catalog cat;
	struct event_info ev[FX_EVENTS];
};

/* The edge (queue_capacity records in its userspace change queue) and the
 * catalogue of its events. 0 or -1. */
static inline int fx_open(struct fx *f, unsigned queue_capacity)
{
	struct edge_opts o = {.backend = EDGE_BACKEND_SHM,
			      .queue_capacity = queue_capacity};
	struct tkt_config cfg = {.key = {.k0 = 0x0123456789abcdefull, .k1 = 42},
				 .hold_limit = 1000};
	uint32_t base = 0;

	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/test-stream-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	o.shm_dir = f->dir;
	if (edge_open(&o, &f->edge) || edge_reused(f->edge) ||
	    edge_set_config(f->edge, &cfg))
		return -1;
	for (int i = 0; i < FX_EVENTS; i++) {
		struct event_info *e = &f->ev[i];

		e->id = fx_event_id[i];
		snprintf(e->name, sizeof(e->name), "event %u", e->id);
		e->rows = fx_rows[i];
		e->cols = fx_cols[i];
		e->n_seats = (uint32_t)e->rows * e->cols;
		e->seat_base = base;
		e->seats = calloc(e->n_seats, sizeof(*e->seats));
		if (!e->seats)
			return -1;
		for (uint32_t s = 0; s < e->n_seats; s++) {
			e->seats[s].r = (uint16_t)(s / e->cols);
			e->seats[s].c = (uint16_t)(s % e->cols);
			e->seats[s].price = 1000 + 100 * e->seats[s].r;
			snprintf(e->seats[s].label, sizeof(e->seats[s].label), "R%uC%u",
				 e->seats[s].r + 1u, e->seats[s].c + 1u);
		}
		if (edge_set_event(f->edge, e->id, base, e->n_seats, true))
			return -1;
		base += e->n_seats;
	}
	/* the fixture's own events, never freed by the catalogue */
	if (catalog_init(&f->cat))
		return -1;
	for (int i = 0; i < FX_EVENTS; i++)
		atomic_store(&f->cat.by_id[f->ev[i].id], &f->ev[i]);
	f->cat.max_id = fx_event_id[FX_EVENTS - 1];
	f->cat.n_events = FX_EVENTS;
	f->cat.seats_used = base;
	return 0;
}

/* Per-event values (by fixture index) as the by-id array seat_stream_init
 * takes. */
static inline const uint64_t *fx_by_id(const uint64_t v[FX_EVENTS])
{
	static uint64_t out[CATALOG_MAX_EVENTS];

	memset(out, 0, sizeof(out));
	for (int i = 0; i < FX_EVENTS; i++)
		out[fx_event_id[i]] = v[i];
	return out;
}

/* The fixture's index (0..FX_EVENTS-1) of an event. */
static inline long fx_index(const struct event_info *e)
{
	for (long i = 0; i < FX_EVENTS; i++)
		if (fx_event_id[i] == e->id)
			return i;
	return -1;
}

static inline void fx_close(struct fx *f)
{
	edge_close(f->edge);
	f->edge = NULL;
	for (int i = 0; i < FX_EVENTS; i++)
		free(f->ev[i].seats);
	free(f->cat.by_id);
	f->cat.by_id = NULL;
	edge_fx_remove_dir(f->dir);
}

/* Holds writers while closed (fx_gate_set), without spinning. */
struct fx_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool closed;
};

static inline void fx_gate_set(struct fx_gate *g, bool closed)
{
	pthread_mutex_lock(&g->lock);
	atomic_store(&g->closed, closed);
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static inline void fx_gate_pass(struct fx_gate *g)
{
	if (!atomic_load(&g->closed))
		return;
	pthread_mutex_lock(&g->lock);
	while (atomic_load(&g->closed))
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

/* One writer: HOLD of a random seat of either event, or RELEASE of one it
 * held lately, with one of its own slots; every writer over the same
 * seats, so that CASes collide. Runs max_ops ops, or fewer once *stop is
 * set (stop may be NULL); passes *gate (may be NULL) before each op, and
 * naps pace_ns after each change (0: never; load shaping, not
 * synchronisation). The counts are its own; read them after the join. */
#define FX_RECENT 8

struct fx_writer {
	struct fx *f;
	pthread_t th;
	uint32_t id, rng;
	uint64_t max_ops;
	atomic_bool *stop;
	struct fx_gate *gate;
	long pace_ns;
	struct tkt_seat_req recent[FX_RECENT]; /* its last holds */
	/* out */
	uint64_t ops, changed[FX_EVENTS], refused;
	int errors;
};

static inline uint32_t fx_rand(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static inline void *fx_writer_loop(void *arg)
{
	struct fx_writer *w = arg;

	for (w->ops = 0; w->ops < w->max_ops; w->ops++) {
		uint32_t r = fx_rand(&w->rng), ei = r & 1;
		const struct event_info *e = &w->f->ev[ei];
		struct tkt_seat_req rq = {
			.event_id = e->id,
			.seat_id = (r >> 1) % e->n_seats,
			.slot = 100 + w->id * FX_SLOTS + (r >> 16) % FX_SLOTS,
			.ttl_ms = FX_TTL_MS,
			.op = TKT_SEAT_HOLD,
		};
		struct tkt_seat_res res;

		if (w->gate)
			fx_gate_pass(w->gate);
		if (w->stop && atomic_load(w->stop))
			break;
		if ((r >> 20) & 1 && w->recent[(r >> 21) % FX_RECENT].event_id) {
			rq = w->recent[(r >> 21) % FX_RECENT];
			rq.op = TKT_SEAT_RELEASE;
			ei = rq.event_id == w->f->ev[0].id ? 0 : 1;
		}
		if (edge_seat_apply(w->f->edge, TKT_SRC_REST, &rq, &res))
			w->errors++;
		if (res.changed)
			w->changed[ei]++;
		else if (res.status == TKT_RATE_LIMITED)
			w->refused++; /* change queue full: nothing changed */
		if (res.changed && rq.op == TKT_SEAT_HOLD)
			w->recent[(r >> 24) % FX_RECENT] = rq;
		if (res.changed && w->pace_ns) {
			struct timespec ts = {0, w->pace_ns};

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

#endif
