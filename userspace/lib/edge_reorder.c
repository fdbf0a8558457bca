/* The consumer of the change stream: edge_poll_changes, which delivers the
 * records of the XDP ring buffer (edge_bpf.c) and of the userspace change
 * queue (change_queue.c) to one callback, each seat's records in the order
 * its word changed.
 *
 * Records of one seat can arrive out of order: the XDP program keeps each
 * CPU's changes in a batch that reaches the ring when full, about 1 ms
 * old, or written out by edge_bpf_flush (called here at most once a
 * millisecond, at once by a poll that does not wait), so another CPU's
 * later change of that seat can come first; the userspace queue is a
 * second stream; and a producer
 * preempted between its CAS and its submit holds its record back while the
 * other stream runs on. Each record carries the exact CAS (old_word ->
 * new_word), so they chain: a record is next when its old_word is the
 * new_word last delivered for that seat. Anything else waits for its
 * predecessor, for at most PEND_WAIT_NS (only a producer that died between
 * CAS and submit can make it wait that long).
 *
 * Whole words, not just the 8-bit counter, are compared: a held word also
 * carries its holder and its expiry in ms, so a word does not come back
 * after 256 changes the way a counter does (the XDP door can re-hold one
 * seat 256 times in a few ms while a userspace producer sits preempted).
 * Only an AVAILABLE word (no holder, no expiry) can recur, after exactly 256
 * changes of that seat during one stall.
 *
 * The chains start from the live words when the edge opens; records stamped
 * before that (a backlog left by a previous daemon, already reflected in the
 * words) are delivered as they come.
 *
 * Locks: poll_lock is held by the one consumer for the whole of a poll (a
 * second caller gets -EBUSY, it never waits) and guards all the consumer's
 * state: last[], pend[], npend, next_flush_ns, the callback and its
 * result, the ring buffer's consumer side and the change queue's consumer
 * side (change_queue_take). The callback runs under it. late is written
 * under it and read atomically by edge_stats from any thread. */
#include "userspace/lib/edge_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "userspace/lib/clock.h"

/* Records waiting for their predecessor: an open-addressing table keyed by
 * (seat, old word), at most 3/4 full. */
#define PEND_SLOTS (1u << 16)
#define PEND_MAX (PEND_SLOTS / 4 * 3)
/* How long a record may wait for its predecessor before it is delivered
 * anyway; inside the 1 s the contract gives a change to reach SSE. Only a
 * stalled producer makes anything wait, and its own record is late by the
 * stall already. */
#define PEND_WAIT_NS (750 * TKT_NS_PER_MS)
/* The consumer's nap when the stream is empty, and the records a poll
 * brings that make it busy (edge_poll_changes). */
#define NAP_NS (1 * TKT_NS_PER_MS)
#define BUSY_RECORDS 128

struct pend {
	uint32_t used;
	uint32_t pad;
	uint64_t since_ns;
	struct tkt_change rec;
};

int edge_reorder_init(struct edge *e)
{
	pthread_mutex_init(&e->poll_lock, NULL);
	e->last = calloc(TKT_MAX_SEATS, sizeof(*e->last));
	e->pend = calloc(PEND_SLOTS, sizeof(*e->pend));
	return e->last && e->pend ? 0 : -ENOMEM;
}

void edge_reorder_free(struct edge *e)
{
	free(e->last);
	e->last = NULL;
	free(e->pend);
	e->pend = NULL;
	pthread_mutex_destroy(&e->poll_lock);
}

void edge_reorder_start(struct edge *e)
{
	uint32_t i;

	e->t_open = tkt_mono_ns();
	for (i = 0; i < TKT_MAX_SEATS; i++)
		e->last[i] = tkt_load64(&e->seats[i]);
}

static uint32_t pend_key(uint32_t idx, __u64 old_word)
{
	return edge_hash32(old_word ^ edge_hash32(idx)) & (PEND_SLOTS - 1);
}

static struct pend *pend_find(struct edge *e, uint32_t idx, __u64 old_word)
{
	uint32_t i = pend_key(idx, old_word);

	while (e->pend[i].used) {
		struct pend *p = &e->pend[i];

		if (p->rec.seat_index == idx && p->rec.old_word == old_word)
			return p;
		i = (i + 1) & (PEND_SLOTS - 1);
	}
	return NULL;
}

/* Removes a waiting record, shifting later ones of its probe run back so
 * lookups never stop early (linear probing without tombstones). */
static void pend_remove(struct edge *e, struct pend *p)
{
	uint32_t i = (uint32_t)(p - e->pend), j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & (PEND_SLOTS - 1);
		if (!e->pend[j].used)
			break;
		home = pend_key(e->pend[j].rec.seat_index,
				e->pend[j].rec.old_word);
		/* j may move to i unless its home lies cyclically in (i, j] */
		if ((i <= j) ? (home <= i || home > j) : (home <= i && home > j)) {
			e->pend[i] = e->pend[j];
			i = j;
		}
	}
	e->pend[i].used = 0;
	e->npend--;
}

static int pend_add(struct edge *e, const struct tkt_change *rec)
{
	uint32_t i = pend_key(rec->seat_index, rec->old_word);

	if (e->npend >= PEND_MAX)
		return -ENOSPC;
	while (e->pend[i].used)
		i = (i + 1) & (PEND_SLOTS - 1);
	e->pend[i].used = 1;
	e->pend[i].since_ns = tkt_mono_ns();
	e->pend[i].rec = *rec;
	e->npend++;
	return 0;
}

static void call_cb(struct edge *e, const struct tkt_change *rec)
{
	int rc;

	e->delivered++;
	rc = e->cb(e->cb_ctx, rec);
	if (rc < 0 && !e->cb_err)
		e->cb_err = rc;
}

/* Delivers rec as the seat's next change, then every waiting record that
 * follows it. */
static void deliver_chain(struct edge *e, const struct tkt_change *rec)
{
	struct tkt_change r = *rec;
	struct pend *p;

	for (;;) {
		e->last[r.seat_index] = r.new_word;
		call_cb(e, &r);
		if (!e->npend || e->cb_err)
			return;
		p = pend_find(e, r.seat_index, r.new_word);
		if (!p)
			return;
		r = p->rec;
		pend_remove(e, p);
	}
}

static void process(struct edge *e, const struct tkt_change *rec)
{
	uint32_t idx = rec->seat_index;

	if (idx >= TKT_MAX_SEATS || rec->mono_ns < e->t_open) {
		call_cb(e, rec); /* no seat to order by, or backlog */
		return;
	}
	if (rec->old_word == e->last[idx]) {
		deliver_chain(e, rec);
		return;
	}
	if (pend_add(e, rec) < 0) {
		/* cannot wait: order lost, not data */
		__atomic_fetch_add(&e->late, 1, __ATOMIC_RELAXED);
		call_cb(e, rec);
	}
}

int edge_reorder_record(struct edge *e, const struct tkt_change *rec)
{
	process(e, rec);
	return e->cb_err;
}

/* A record still waiting after PEND_WAIT_NS will not see its predecessor
 * (its producer died between CAS and submit): deliver it, oldest first,
 * and follow the seat from there. */
static void flush_stale_pending(struct edge *e)
{
	uint64_t now = tkt_mono_ns();
	uint32_t i;

	if (!e->npend || now < e->next_flush_ns)
		return;
	e->next_flush_ns = now + PEND_WAIT_NS / 4;
	while (e->npend && !e->cb_err) {
		struct pend *oldest = NULL;
		struct tkt_change rec;

		for (i = 0; i < PEND_SLOTS; i++)
			if (e->pend[i].used &&
			    now - e->pend[i].since_ns >= PEND_WAIT_NS &&
			    (!oldest || e->pend[i].since_ns < oldest->since_ns))
				oldest = &e->pend[i];
		if (!oldest)
			return;
		rec = oldest->rec;
		__atomic_fetch_add(&e->late, 1, __ATOMIC_RELAXED);
		pend_remove(e, oldest);
		deliver_chain(e, &rec);
	}
}

/* force: write out the XDP program's change batches now, not at most
 * once a millisecond (a poll that does not wait must see every change
 * made before it). */
static int drain_once(struct edge *e, bool force)
{
	struct tkt_change rec;
	int before = e->delivered, rc, progress = 1, flush_err;

	/* a flush that failed (retried in a second) must not stop the
	 * ring and the queue from being consumed: its error is returned
	 * only if this drain brings nothing */
	flush_err = edge_bpf_flush(e, force);
	while (progress && !e->cb_err) {
		progress = 0;
		rc = edge_bpf_consume(e);
		if (rc < 0 && !e->cb_err)
			return rc;
		if (rc > 0)
			progress = 1;
		while (!e->cb_err &&
		       (rc = change_queue_take(&e->q, &rec)) >= 0) {
			progress = 1;
			if (rc == 1)
				process(e, &rec);
		}
	}
	if (!e->cb_err)
		flush_stale_pending(e);
	if (e->cb_err)
		return e->cb_err;
	if (flush_err < 0 && e->delivered == before)
		return flush_err;
	return e->delivered - before;
}

int edge_poll_changes(struct edge *e, edge_change_cb cb, void *ctx,
		      int timeout_ms)
{
	uint64_t wait_ns =
		(uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * TKT_NS_PER_MS;
	uint64_t deadline = tkt_mono_ns() + wait_ns;
	bool napped = false;
	int n;

	if (!cb)
		return -EINVAL;
	if (pthread_mutex_trylock(&e->poll_lock) != 0)
		return -EBUSY;
	e->cb = cb;
	e->cb_ctx = ctx;
	e->cb_err = 0;
	e->delivered = 0;
	for (;;) {
		/* polled, not woken: producers submit without wakeups. A
		 * busy stream (the last nap brought BUSY_RECORDS or more)
		 * naps twice as long: half the wake-ups and hand-offs to
		 * the sinks, each with twice the records, still far inside
		 * the 1 s a change has to reach SSE. */
		struct timespec nap = {0, e->busy ? 2 * NAP_NS : NAP_NS};

		n = drain_once(e, timeout_ms == 0);
		if (n != 0 || timeout_ms == 0 ||
		    (timeout_ms > 0 && tkt_mono_ns() >= deadline))
			break;
		nanosleep(&nap, NULL);
		napped = true;
	}
	/* records found at once (they came while the caller handled the
	 * last ones) say nothing about the rate */
	if (napped && n >= 0)
		e->busy = n >= BUSY_RECORDS;
	pthread_mutex_unlock(&e->poll_lock);
	return n;
}
