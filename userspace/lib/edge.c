/* The edge: seat table, maps, change stream (see edge.h). The backends
 * are in edge_bpf.c and edge_shm.c.
 *
 * Ownership and locks (see also the comment on struct edge):
 *   cfg_lock  guards cfg (the config mirror); readers copy it out.
 *   ev_lock   guards the event mirror ev[]; the BPF events map is written
 *             under it too, so map and mirror never disagree.
 *   hc_lock   guards the shm backend's hold-count table (edge_shm.c).
 *   poll_lock held by the single consumer for the whole of a poll; guards
 *             last[], pend[] and the ring buffer consumer side.
 * No function takes two of these at once, so there is no lock order. The
 * change queue (change_queue.h) and the rate-limit table are lock-free
 * (CAS). */
#include "userspace/lib/edge_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/clock.h"

#define EV_SLOTS (TKT_MAX_EVENTS * 2u)
#define RL_SLOTS (1u << 16)
#define QUEUE_DEFAULT (1u << 16)
/* Records waiting for their predecessor: an open-addressing table keyed by
 * (seat, old word), at most 3/4 full. */
#define PEND_SLOTS (1u << 16)
#define PEND_MAX (PEND_SLOTS / 4 * 3)
/* How long a record may wait for its predecessor before it is delivered
 * anyway; inside the 1 s the contract gives a change to reach SSE. Only a
 * stalled producer makes anything wait, and its own record is late by the
 * stall already. */
#define PEND_WAIT_NS (750 * TKT_NS_PER_MS)

struct ev_slot {
	uint32_t id;
	uint8_t used;    /* slot taken by id (never freed: probe chains) */
	uint8_t present; /* event currently declared */
	uint8_t counted; /* shm: hold counts rebuilt from words */
	uint8_t pad;
	struct tkt_event ev;
};

struct pend {
	uint32_t used;
	uint32_t pad;
	uint64_t since_ns;
	struct tkt_change rec;
};

static uint64_t unix_offset_ns(void)
{
	struct timespec r, m1, m2;
	uint64_t mono, real;

	/* bracket the realtime read to halve the error */
	clock_gettime(CLOCK_MONOTONIC, &m1);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	mono = (tkt_timespec_ns(&m1) + tkt_timespec_ns(&m2)) / 2;
	real = tkt_timespec_ns(&r);
	return real - mono;
}

/* ---- event mirror ---- */

static struct ev_slot *ev_find(struct edge *e, uint32_t id, bool insert)
{
	uint32_t i, h = edge_hash32(id);

	for (i = 0; i < EV_SLOTS; i++) {
		struct ev_slot *s = &e->ev[(h + i) & (EV_SLOTS - 1)];

		if (s->used && s->id == id)
			return s;
		if (!s->used) {
			if (!insert || e->ev_used >= TKT_MAX_EVENTS)
				return NULL;
			s->used = 1;
			s->id = id;
			e->ev_used++;
			return s;
		}
	}
	return NULL;
}

int edge_mirror_event(struct edge *e, uint32_t event_id,
		      const struct tkt_event *ev)
{
	struct ev_slot *s = ev_find(e, event_id, true);

	if (!s)
		return -ENOSPC;
	s->present = 1;
	s->ev = *ev;
	return 0;
}

/* One count operation, both backends: delta +1 refuses at limit
 * (LIMIT_EXCEEDED), -1 is a release floored at 0. Returns a TKT_* status,
 * or a negative errno when the kernel could not be asked. */
static int count_op(struct edge *e, uint32_t slot, uint32_t event,
		    int32_t delta, uint32_t limit)
{
	if (e->backend == EDGE_BACKEND_BPF)
		return edge_bpf_count(e, slot, event, delta, limit);
	return edge_shm_count(e, slot, event, delta, limit);
}

/* ---- door ops (struct tkt_door_ops over an edge) ---- */

static int op_event(void *impl, __u32 event_id, struct tkt_event *ev)
{
	return edge_get_event(impl, event_id, ev);
}

static int op_count_reserve(void *impl, __u32 slot, __u32 event_id,
			    __u32 limit)
{
	int rc = count_op(impl, slot, event_id, 1, limit);

	return rc < 0 ? TKT_RATE_LIMITED : rc;
}

static void op_count_release(void *impl, __u32 slot, __u32 event_id)
{
	/* A failed release can only be the kernel refusing the syscall; the
	 * count then stays one too high until rebuilt, which errs on the
	 * side of refusing holds, never of overselling. */
	(void)count_op(impl, slot, event_id, -1, 0);
}

static struct tkt_change *op_change_reserve(void *impl)
{
	return edge_change_reserve(impl);
}

static void op_change_submit(void *impl, struct tkt_change *rec)
{
	edge_change_submit(impl, rec);
}

static void op_change_discard(void *impl, struct tkt_change *rec)
{
	edge_change_discard(impl, rec);
}

/* Userspace per-source limit: a fixed table of GCRA words indexed by a
 * hash of the address. Two sources sharing a word share a budget; with
 * 65536 words that is rare and errs towards limiting, never towards
 * letting a flood through. */
static int op_rate_ok(void *impl, const struct tkt_peer *p, __u64 now)
{
	struct edge *e = impl;
	struct tkt_config cfg;
	uint64_t a, b;

	if (edge_get_config(e, &cfg) < 0 || !cfg.rl_rate)
		return 1;
	memcpy(&a, p->addr, 8);
	memcpy(&b, p->addr + 8, 8);
	return tkt_gcra_take(&e->rl[edge_hash32(a ^ edge_hash32(b)) & (RL_SLOTS - 1)],
			     now, cfg.rl_rate, cfg.rl_burst);
}

static void op_stat(void *impl, __u32 index)
{
	struct edge *e = impl;

	if (index < TKT_STAT_COUNT)
		__atomic_fetch_add(&e->ustats[index], 1, __ATOMIC_RELAXED);
}

static __u64 op_now_ns(void *impl)
{
	return tkt_mono_ns();
}

static const struct tkt_door_ops edge_door_ops = {
	.event = op_event,
	.count_reserve = op_count_reserve,
	.count_release = op_count_release,
	.change_reserve = op_change_reserve,
	.change_submit = op_change_submit,
	.change_discard = op_change_discard,
	.rate_ok = op_rate_ok,
	.stat = op_stat,
	.now_ns = op_now_ns,
};

/* ---- open / close ---- */

int edge_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		buf[i] = path[i];
	}
	return 0;
}

int edge_lock_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void seed_order(struct edge *e);

static void close_backend(struct edge *e)
{
	edge_bpf_close(e);
	edge_shm_close(e);
	e->reused = false;
}

int edge_open(const struct edge_opts *opts, struct edge **out)
{
	static const struct edge_opts defaults;
	struct edge *e;
	int err;

	if (!out)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->poll_lock, NULL);
	pthread_rwlock_init(&e->cfg_lock, NULL);
	pthread_rwlock_init(&e->ev_lock, NULL);

	e->ev = calloc(EV_SLOTS, sizeof(*e->ev));
	e->rl = calloc(RL_SLOTS, sizeof(*e->rl));
	e->last = calloc(TKT_MAX_SEATS, sizeof(*e->last));
	e->pend = calloc(PEND_SLOTS, sizeof(*e->pend));
	if (!e->ev || !e->rl || !e->last || !e->pend) {
		err = -ENOMEM;
		goto fail;
	}
	err = change_queue_init(&e->q, opts->queue_capacity
					       ? opts->queue_capacity
					       : QUEUE_DEFAULT);
	if (err)
		goto fail;

	err = -EINVAL;
	if (opts->backend == EDGE_BACKEND_BPF ||
	    opts->backend == EDGE_BACKEND_AUTO) {
		e->backend = EDGE_BACKEND_BPF;
		err = edge_bpf_open(e, opts->pin_dir ? opts->pin_dir
						     : TKT_PIN_DIR_DEFAULT);
		/* Fall back only where BPF is unavailable. Pinned seats that
		 * fail to load (another definition, say) hold live state: an
		 * empty shm table in their place would forget every hold. */
		if (err && opts->backend == EDGE_BACKEND_AUTO &&
		    err != -EBUSY && !e->reused) {
			close_backend(e);
			memset(e->ev, 0, EV_SLOTS * sizeof(*e->ev));
			e->ev_used = 0;
			memset(&e->cfg, 0, sizeof(e->cfg));
			e->backend = EDGE_BACKEND_SHM;
			err = 1; /* fall through to shm */
		}
	}
	if (opts->backend == EDGE_BACKEND_SHM || err == 1) {
		e->backend = EDGE_BACKEND_SHM;
		err = edge_shm_open(e, opts->shm_dir ? opts->shm_dir
						     : EDGE_SHM_DIR_DEFAULT);
	}
	if (err)
		goto fail;
	seed_order(e);
	*out = e;
	return 0;
fail:
	edge_close(e);
	return err;
}

void edge_close(struct edge *e)
{
	if (!e)
		return;
	(void)edge_detach_xdp(e);
	close_backend(e);
	change_queue_free(&e->q);
	free(e->ev);
	free(e->rl);
	free(e->last);
	free(e->pend);
	pthread_mutex_destroy(&e->poll_lock);
	pthread_rwlock_destroy(&e->cfg_lock);
	pthread_rwlock_destroy(&e->ev_lock);
	free(e);
}

enum edge_backend edge_backend(const struct edge *e)
{
	return e->backend;
}

bool edge_reused(const struct edge *e)
{
	return e->reused;
}

uint64_t *edge_seats(struct edge *e)
{
	return (uint64_t *)e->seats;
}

uint64_t edge_seat_read(struct edge *e, uint32_t index)
{
	return index < TKT_MAX_SEATS ? tkt_load64(&e->seats[index]) : 0;
}

/* ---- config ---- */

int edge_set_config(struct edge *e, const struct tkt_config *cfg)
{
	struct tkt_config c;
	int err = 0;

	if (!cfg || cfg->udp_port > 65535 ||
	    (cfg->hold_secs_default &&
	     (cfg->hold_secs_default < TKT_HOLD_SECS_MIN ||
	      cfg->hold_secs_default > TKT_HOLD_SECS_MAX)))
		return -EINVAL;
	c = *cfg;
	if (!c.unix_offset_ns)
		c.unix_offset_ns = unix_offset_ns();
	pthread_rwlock_wrlock(&e->cfg_lock);
	if (e->backend == EDGE_BACKEND_BPF)
		err = edge_bpf_write_config(e, &c);
	if (!err)
		e->cfg = c;
	pthread_rwlock_unlock(&e->cfg_lock);
	return err;
}

int edge_get_config(struct edge *e, struct tkt_config *out)
{
	pthread_rwlock_rdlock(&e->cfg_lock);
	*out = e->cfg;
	pthread_rwlock_unlock(&e->cfg_lock);
	return 0;
}

/* ---- events ---- */

int edge_set_event(struct edge *e, uint32_t event_id, uint32_t base,
		   uint32_t nseats, bool owned)
{
	struct tkt_event ev = {.base = base, .nseats = nseats, .owned = owned};
	struct ev_slot *s;
	int err = 0;

	if (base >= TKT_MAX_SEATS || nseats > TKT_MAX_SEATS - base)
		return -ERANGE;
	pthread_rwlock_wrlock(&e->ev_lock);
	s = ev_find(e, event_id, true);
	if (!s) {
		err = -ENOSPC;
		goto out;
	}
	if (e->backend == EDGE_BACKEND_BPF) {
		err = edge_bpf_write_event(e, event_id, &ev);
		if (err)
			goto out;
	}
	s->ev = ev;
	s->present = 1;
	if (e->backend == EDGE_BACKEND_SHM && !s->counted) {
		err = edge_shm_rebuild_counts(e, event_id, &ev);
		s->counted = 1;
	}
out:
	pthread_rwlock_unlock(&e->ev_lock);
	return err;
}

int edge_get_event(struct edge *e, uint32_t event_id, struct tkt_event *out)
{
	struct ev_slot *s;
	int err = -ENOENT;

	pthread_rwlock_rdlock(&e->ev_lock);
	s = ev_find(e, event_id, false);
	if (s && s->present) {
		*out = s->ev;
		err = 0;
	}
	pthread_rwlock_unlock(&e->ev_lock);
	return err;
}

/* ---- hold counts ---- */

int edge_hold_count_get(struct edge *e, uint32_t slot, uint32_t event_id,
			uint32_t *count)
{
	if (!slot || slot > TKT_SLOT_MAX || !count)
		return -EINVAL;
	if (e->backend == EDGE_BACKEND_BPF)
		return edge_bpf_hold_count(e, slot, event_id, count);
	edge_shm_hold_count(e, slot, event_id, count);
	return 0;
}

/* ---- seat ops ---- */

void edge_door(struct edge *e, enum tkt_change_source source,
	       const struct tkt_config *cfg, struct tkt_door *door)
{
	door->seats = e->seats;
	door->cfg = cfg;
	door->ops = &edge_door_ops;
	door->impl = e;
	door->source = (__u8)source;
}

int edge_seat_apply(struct edge *e, enum tkt_change_source source,
		    const struct tkt_seat_req *rq, struct tkt_seat_res *res)
{
	struct tkt_config cfg;
	struct tkt_door d;

	if (!rq || !res || rq->op < TKT_SEAT_HOLD || rq->op > TKT_SEAT_OP_MAX)
		return -EINVAL;
	edge_get_config(e, &cfg);
	edge_door(e, source, &cfg, &d);
	tkt_door_apply(&d, rq, tkt_mono_ns(), res);
	return 0;
}

int edge_sweep(struct edge *e, uint32_t event_id, uint32_t *expired)
{
	struct tkt_seat_req rq = {.event_id = event_id, .op = TKT_SEAT_EXPIRE};
	struct tkt_seat_res res;
	struct tkt_event ev;
	uint32_t i, n = 0, now_ms;
	int err = edge_get_event(e, event_id, &ev);

	if (err)
		return err;
	now_ms = tkt_ms32(tkt_mono_ns());
	for (i = 0; i < ev.nseats; i++) {
		uint64_t w = tkt_load64(&e->seats[ev.base + i]);
		uint32_t st = tkt_sw_state(w);

		/* cheap read first; the CAS path re-checks everything */
		if ((st != TKT_SEAT_HELD && st != TKT_SEAT_ORDERED) ||
		    !tkt_ms_reached(now_ms, tkt_sw_expiry(w)))
			continue;
		rq.seat_id = i;
		err = edge_seat_apply(e, TKT_SRC_SWEEPER, &rq, &res);
		if (err)
			return err;
		if (res.changed)
			n++;
	}
	if (expired)
		*expired = n;
	return 0;
}

/* ---- change records ---- */

struct tkt_change *edge_change_reserve(struct edge *e)
{
	return change_queue_reserve(&e->q);
}

void edge_change_submit(struct edge *e, struct tkt_change *rec)
{
	change_queue_submit(rec);
}

void edge_change_discard(struct edge *e, struct tkt_change *rec)
{
	change_queue_discard(rec);
}

int edge_emit_change(struct edge *e, const struct tkt_change *rec)
{
	struct tkt_change *r = edge_change_reserve(e);

	if (!r)
		return -ENOBUFS;
	*r = *rec;
	if (!r->mono_ns)
		r->mono_ns = tkt_mono_ns();
	edge_change_submit(e, r);
	return 0;
}

/* ---- the consumer ----
 *
 * Records of one seat can arrive out of order: XDP reserves its ring slot
 * before the CAS, so two CPUs can CAS in the opposite order of their
 * reservations; the userspace queue is a second stream; and a producer
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
 * words) are delivered as they come. */

static void seed_order(struct edge *e)
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

static int drain_once(struct edge *e)
{
	struct tkt_change rec;
	int before = e->delivered, rc, progress = 1;

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
	return e->delivered - before;
}

int edge_poll_changes(struct edge *e, edge_change_cb cb, void *ctx,
		      int timeout_ms)
{
	uint64_t deadline = tkt_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms
								 : 0) *
						  TKT_NS_PER_MS;
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
		/* polled, not woken: producers submit without wakeups */
		struct timespec nap = {0, 1000000};

		n = drain_once(e);
		if (n != 0 || timeout_ms == 0 ||
		    (timeout_ms > 0 && tkt_mono_ns() >= deadline))
			break;
		nanosleep(&nap, NULL);
	}
	pthread_mutex_unlock(&e->poll_lock);
	return n;
}

/* ---- stats ---- */

int edge_stats(struct edge *e, struct edge_stats *out)
{
	__u32 i;

	memset(out, 0, sizeof(*out));
	out->stream_late = __atomic_load_n(&e->late, __ATOMIC_RELAXED);
	for (i = 0; i < TKT_STAT_COUNT; i++)
		out->user[i] = __atomic_load_n(&e->ustats[i], __ATOMIC_RELAXED);
	if (e->backend != EDGE_BACKEND_BPF)
		return 0;
	return edge_bpf_stats(e, out->xdp);
}
