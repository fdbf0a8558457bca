/* The edge's seat-table API (see edge.h): open and close, config, the
 * event mirror, hold counts, seat ops and the sweep, the door ops that run
 * bpf/hold_door.h's rules on the edge, the producer side of the change
 * stream, stats. The seat words and hold counts live in a backend,
 * edge_bpf.c or edge_shm.c; the consumer is edge_reorder.c; struct edge is
 * in edge_internal.h.
 *
 * Guarantees: every seat change from userspace runs tkt_door_apply or
 * tkt_door_serve over edge_door_ops, the rules XDP runs, and reserves its
 * change record before its CAS; the config and event mirrors never
 * disagree with the BPF maps (each written under the mirror's lock, map
 * first).
 *
 * Locks:
 *   cfg_lock  guards cfg (the config mirror); readers copy it out. The BPF
 *             config map is written under it too.
 *   ev_lock   guards the event mirror ev[]; the BPF events map is written
 *             under it too, so map and mirror never disagree. In the shm
 *             backend edge_set_event rebuilds hold counts under it, taking
 *             hc_lock (edge_shm.c): ev_lock -> hc_lock is the edge's one
 *             nesting.
 * The producer side of the change queue (change_queue.h), the rate-limit
 * table rl[] (CAS) and the counters ustats[] (atomic adds) take no lock. */
#include "userspace/lib/edge_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/addr_limit.h"
#include "userspace/lib/clock.h"

static int edge_get_event(struct edge *e, uint32_t event_id, struct tkt_event *out);
static struct tkt_change *edge_change_reserve(struct edge *e);
static void edge_change_submit(struct edge *e, struct tkt_change *rec);
static void edge_change_discard(struct edge *e, struct tkt_change *rec);

#define EV_SLOTS (TKT_MAX_EVENTS * 2u)
#define RL_SLOTS TKT_RL_BUCKETS
#define QUEUE_DEFAULT (1u << 16)

struct ev_slot {
	uint32_t id;
	uint8_t used;    /* slot taken by id (never freed: probe chains) */
	uint8_t present; /* event currently declared */
	uint8_t counted; /* shm: hold counts rebuilt from words */
	uint8_t pad;
	struct tkt_event ev;
};

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

static int backend_count(struct edge *e, uint32_t slot, uint32_t event,
			 int32_t delta, uint32_t limit)
{
	if (e->backend == EDGE_BACKEND_BPF)
		return edge_bpf_count(e, slot, event, delta, limit);
	return edge_shm_count(e, slot, event, delta, limit);
}

/* One count operation, both backends: delta +1 refuses at limit
 * (LIMIT_EXCEEDED), -1 is a release floored at 0, other deltas add without
 * limit. A key that finds no room runs the collector at once and tries
 * again (entries with a non-zero count can never fill the map: see
 * TKT_MAX_HOLD_KEYS). Returns a TKT_* status (RATE_LIMITED when there is
 * still no room), or a negative errno when the kernel could not be asked. */
static int count_op(struct edge *e, uint32_t slot, uint32_t event,
		    int32_t delta, uint32_t limit)
{
	int rc = backend_count(e, slot, event, delta, limit);

	if (rc == TKT_COUNT_FULL) {
		(void)edge_counts_collect(e, NULL, NULL);
		rc = backend_count(e, slot, event, delta, limit);
	}
	return rc == TKT_COUNT_FULL ? TKT_RATE_LIMITED : rc;
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

/* Userspace per-source limit: the XDP door's bucket array, same hash and
 * seed (tkt_rl_bucket), so both doors limit a source alike. */
static int op_rate_ok(void *impl, const struct tkt_peer *p, __u64 now)
{
	struct edge *e = impl;
	struct tkt_config cfg;

	if (edge_get_config(e, &cfg) < 0 || !cfg.rl_rate)
		return 1;
	return tkt_gcra_take(&e->rl[tkt_rl_bucket(cfg.rl_seed, p)], now,
			     cfg.rl_rate, cfg.rl_burst);
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

/* ---- for the backends ---- */

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

int edge_map_seats(struct edge *e, int fd)
{
	void *mem = mmap(NULL, EDGE_SEATS_BYTES, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0);

	if (mem == MAP_FAILED)
		return -errno;
	e->seats = mem;
	return 0;
}

int edge_map_shared(int fd, size_t bytes, void **out)
{
	void *mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (mem == MAP_FAILED)
		return -errno;
	*out = mem;
	return 0;
}

int edge_replay_reset(struct edge *e, uint32_t slot)
{
	if (!slot || slot > TKT_SLOT_MAX)
		return -EINVAL;
	if (!e->replay)
		return -ENODEV;
	__atomic_store_n(&e->replay[slot], 0, __ATOMIC_SEQ_CST);
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

/* ---- open / close ---- */

static void close_backend(struct edge *e)
{
	if (e->seats) {
		munmap(e->seats, EDGE_SEATS_BYTES);
		e->seats = NULL;
	}
	if (e->replay) {
		munmap(e->replay, EDGE_REPLAY_BYTES);
		e->replay = NULL;
	}
	if (e->origins) {
		munmap(e->origins, EDGE_ORIGINS_BYTES);
		e->origins = NULL;
	}
	if (e->since) {
		munmap(e->since, EDGE_SINCE_BYTES);
		e->since = NULL;
	}
	if (e->admits) {
		munmap(e->admits, EDGE_ADMITS_BYTES);
		e->admits = NULL;
	}
	e->counts_fresh = false;
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
	pthread_rwlock_init(&e->cfg_lock, NULL);
	pthread_rwlock_init(&e->ev_lock, NULL);
	err = edge_reorder_init(e);

	e->ev = calloc(EV_SLOTS, sizeof(*e->ev));
	e->rl = calloc(RL_SLOTS, sizeof(*e->rl));
	if (err || !e->ev || !e->rl) {
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
	edge_reorder_start(e);
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
	edge_reorder_free(e);
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

/* ---- identity ---- */

uint64_t edge_layout_mix(uint64_t fp, uint32_t event_id, uint32_t base,
			 uint32_t nseats)
{
	uint32_t v[3] = {event_id, base, nseats};

	for (int i = 0; i < 3; i++) {
		fp ^= v[i];
		fp *= 0x100000001b3ull; /* FNV-1a prime, over 32-bit pieces */
		fp ^= fp >> 29;
	}
	return fp;
}

int edge_boot_id(char out[TKT_META_ID_MAX])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, out, TKT_META_ID_MAX - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
	return out[0] ? 0 : -EIO;
}

static void copy_id(char dst[TKT_META_ID_MAX], const char *src)
{
	size_t n = strnlen(src, TKT_META_ID_MAX - 1);

	memset(dst, 0, TKT_META_ID_MAX);
	memcpy(dst, src, n);
}

int edge_meta_compare(const struct tkt_table_meta *have,
		      const struct edge_identity *want, const char *boot_id,
		      const char **reason, char *why, size_t whylen)
{
	char a[TKT_META_ID_MAX], b[TKT_META_ID_MAX];
	const char *r = NULL;

	if (have->magic != TKT_META_MAGIC || have->version != TKT_META_VERSION) {
		r = "no identity";
		snprintf(why, whylen, "the table has no identity (older pins or seat "
			 "file, or a rebuild that did not finish)");
	} else {
		copy_id(a, have->db_id);
		copy_id(b, want->db_id);
		if (strcmp(a, b)) {
			r = "database";
			snprintf(why, whylen, "the table was built for database %s, this "
				 "is database %s", a, b);
		} else if (have->layout != want->layout) {
			r = "layout";
			snprintf(why, whylen, "the table was built for another event "
				 "layout (%016llx, now %016llx)",
				 (unsigned long long)have->layout,
				 (unsigned long long)want->layout);
		} else if (boot_id && boot_id[0]) {
			copy_id(a, have->boot_id);
			copy_id(b, boot_id);
			if (strcmp(a, b)) {
				r = "boot";
				snprintf(why, whylen, "the table was written before a reboot "
					 "(boot %s, now %s): its expiries are "
					 "meaningless", a, b);
			}
		}
	}
	if (reason)
		*reason = r;
	if (!r && whylen)
		why[0] = 0;
	return r ? 1 : 0;
}

static int meta_read(struct edge *e, struct tkt_table_meta *m)
{
	return e->backend == EDGE_BACKEND_BPF ? edge_bpf_meta_read(e, m)
					      : edge_shm_meta_read(e, m);
}

static int meta_write(struct edge *e, const struct tkt_table_meta *m)
{
	return e->backend == EDGE_BACKEND_BPF ? edge_bpf_meta_write(e, m)
					      : edge_shm_meta_write(e, m);
}

int edge_identity_check(struct edge *e, const struct edge_identity *want,
			const char **reason, char *why, size_t whylen)
{
	struct tkt_table_meta m;
	char boot[TKT_META_ID_MAX] = "";
	int err = meta_read(e, &m);

	if (err)
		return err;
	/* BPF maps do not outlive a boot; the seat file may. */
	if (e->backend == EDGE_BACKEND_SHM && (err = edge_boot_id(boot)))
		return err;
	return edge_meta_compare(&m, want, boot, reason, why, whylen);
}

int edge_reset(struct edge *e)
{
	struct tkt_table_meta none = {0};
	int err = meta_write(e, &none);

	if (err)
		return err;
	err = e->backend == EDGE_BACKEND_BPF ? edge_bpf_reset(e) : edge_shm_reset(e);
	if (err)
		return err;
	pthread_rwlock_wrlock(&e->ev_lock);
	memset(e->ev, 0, EV_SLOTS * sizeof(*e->ev));
	e->ev_used = 0;
	pthread_rwlock_unlock(&e->ev_lock);
	__atomic_store_n(&e->counts_entries, 0, __ATOMIC_RELAXED);
	e->counts_fresh = true;
	e->reused = false;
	edge_reorder_start(e);
	return 0;
}

int edge_identity_write(struct edge *e, const struct edge_identity *id)
{
	struct tkt_table_meta m;
	int err;

	if (!id || !id->db_id[0])
		return -EINVAL;
	err = meta_read(e, &m); /* keeps the clean mark of the shm file */
	if (err)
		return err;
	m.magic = TKT_META_MAGIC;
	m.version = TKT_META_VERSION;
	m.layout = id->layout;
	copy_id(m.db_id, id->db_id);
	if (edge_boot_id(m.boot_id))
		memset(m.boot_id, 0, sizeof(m.boot_id));
	return meta_write(e, &m);
}

bool edge_closed_cleanly(const struct edge *e)
{
	return !e->unclean;
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
		c.unix_offset_ns = tkt_unix_offset_ns();
	pthread_rwlock_wrlock(&e->cfg_lock);
	/* the rate-limit hash key: kept across config changes (a new one
	 * would move every source to another bucket), drawn the first time */
	if (!c.rl_seed)
		c.rl_seed = e->cfg.rl_seed;
	while (!c.rl_seed) {
		if (getrandom(&c.rl_seed, sizeof(c.rl_seed), 0) !=
		    (ssize_t)sizeof(c.rl_seed)) {
			pthread_rwlock_unlock(&e->cfg_lock);
			return errno ? -errno : -EIO;
		}
	}
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

/* Counts the event's HELD and ORDERED words by holder (and the holder's
 * origin) into a count table that did not come from the previous run (the
 * words did). Called under ev_lock, before any door serves the event.
 * 0, -ENOSPC when the table is full, or a negative errno. */
static int rebuild_counts(struct edge *e, uint32_t event_id,
			  const struct tkt_event *ev)
{
	uint32_t i;

	for (i = 0; i < ev->nseats; i++) {
		uint64_t w = tkt_load64(&e->seats[ev->base + i]);
		uint32_t h = tkt_sw_holder(w), o;
		int rc;

		if (!tkt_sw_claimed(w) || !h)
			continue;
		/* TKT_COUNT_MAX: a take that no limit refuses */
		rc = count_op(e, h, event_id, 1, TKT_COUNT_MAX);
		o = e->origins ? tkt_load32(&e->origins[h]) & TKT_ORIGIN_HASH_MASK
			       : 0;
		if (rc == TKT_OK && o)
			rc = count_op(e, TKT_COUNT_ORIGIN_BIT | o, event_id, 1,
				      TKT_COUNT_MAX);
		if (rc < 0)
			return rc;
		if (rc != TKT_OK)
			return -ENOSPC;
	}
	return 0;
}

int edge_set_event(struct edge *e, uint32_t event_id, uint32_t base,
		   uint32_t nseats, bool owned)
{
	struct tkt_event ev = {.base = base, .nseats = nseats, .owned = owned};
	struct ev_slot *s;
	int err = 0;

	/* event ids index the XDP door's events array; the socket door
	 * refuses the same ids so both answer alike */
	if (event_id >= TKT_MAX_EVENTS || base >= TKT_MAX_SEATS ||
	    nseats > TKT_MAX_SEATS - base)
		return -ERANGE;
	pthread_rwlock_wrlock(&e->ev_lock);
	s = ev_find(e, event_id, true);
	if (!s) {
		err = -ENOSPC;
		goto out;
	}
	/* a re-declaration keeps the room (edge_set_event_room's word) and
	 * the event's policy (edge_set_event_policy's) */
	if (s->present)
		ev.flags = s->ev.flags;
	if (e->backend == EDGE_BACKEND_BPF) {
		err = edge_bpf_write_event(e, event_id, &ev);
		if (err)
			goto out;
	}
	s->ev = ev;
	s->present = 1;
	if (e->counts_fresh && !s->counted) {
		err = rebuild_counts(e, event_id, &ev);
		s->counted = 1;
	}
out:
	pthread_rwlock_unlock(&e->ev_lock);
	return err;
}

/* Changes a declared event's entry with change(ev, arg) under ev_lock,
 * writing it to the events map first (BPF backend): -ENOENT when the event
 * is not declared, or the map write's error (nothing changed then). */
static int update_event(struct edge *e, uint32_t event_id,
			void (*change)(struct tkt_event *ev, const void *arg), const void *arg)
{
	struct ev_slot *s;
	struct tkt_event ev;
	int err = 0;

	pthread_rwlock_wrlock(&e->ev_lock);
	s = ev_find(e, event_id, false);
	if (!s || !s->present) {
		err = -ENOENT;
		goto out;
	}
	ev = s->ev;
	change(&ev, arg);
	if (e->backend == EDGE_BACKEND_BPF)
		err = edge_bpf_write_event(e, event_id, &ev);
	if (!err)
		s->ev = ev;
out:
	pthread_rwlock_unlock(&e->ev_lock);
	return err;
}

static void change_room(struct tkt_event *ev, const void *arg)
{
	bool room = *(const bool *)arg;

	ev->flags = room ? ev->flags | TKT_EVENT_ROOM : ev->flags & ~TKT_EVENT_ROOM;
}

int edge_set_event_room(struct edge *e, uint32_t event_id, bool room)
{
	return update_event(e, event_id, change_room, &room);
}

static void change_policy(struct tkt_event *ev, const void *arg)
{
	uint32_t flags = *(const uint32_t *)arg;

	ev->flags = (ev->flags & TKT_EVENT_ROOM) | (flags & ~TKT_EVENT_ROOM);
}

int edge_set_event_policy(struct edge *e, uint32_t event_id, uint32_t flags)
{
	return update_event(e, event_id, change_policy, &flags);
}

struct owned_arg {
	uint32_t owned, ip;
	uint16_t port;
};

static void change_owned(struct tkt_event *ev, const void *arg)
{
	const struct owned_arg *o = arg;

	ev->owned = o->owned;
	tkt_event_set_owner(ev, o->ip, o->port);
}

int edge_set_event_owned(struct edge *e, uint32_t event_id, uint32_t owned,
			 uint32_t owner_ip, uint16_t owner_port)
{
	struct owned_arg o = {owned, owner_ip, owner_port};

	return update_event(e, event_id, change_owned, &o);
}

int edge_event_owned(struct edge *e, uint32_t event_id)
{
	struct tkt_event ev;
	int err = edge_get_event(e, event_id, &ev);

	return err ? err : (int)ev.owned;
}

int edge_event_clear(struct edge *e, uint32_t event_id, uint32_t *cleared)
{
	struct tkt_event ev;
	uint32_t n = 0;
	int err = edge_get_event(e, event_id, &ev);

	if (err)
		return err;
	for (uint32_t i = 0; i < ev.nseats; i++) {
		__u64 *w = &e->seats[ev.base + i];

		for (;;) {
			__u64 old = tkt_load64(w), nw;
			uint32_t h = tkt_sw_holder(old), o;
			struct tkt_change *rec;

			if (tkt_sw_state(old) == TKT_SEAT_AVAILABLE)
				break;
			rec = edge_change_reserve(e);
			if (!rec)
				return -ENOBUFS;
			nw = tkt_sw_bump(old, TKT_SEAT_AVAILABLE, 0, 0);
			if (!__atomic_compare_exchange_n(w, &old, nw, false, __ATOMIC_SEQ_CST,
							 __ATOMIC_SEQ_CST)) {
				edge_change_discard(e, rec);
				continue;
			}
			if (tkt_sw_claimed(old) && h) {
				(void)count_op(e, h, event_id, -1, 0);
				o = e->origins ? tkt_load32(&e->origins[h]) & TKT_ORIGIN_HASH_MASK
					       : 0;
				if (o)
					(void)count_op(e, TKT_COUNT_ORIGIN_BIT | o, event_id, -1, 0);
			}
			rec->mono_ns = tkt_mono_ns();
			rec->old_word = old;
			rec->new_word = nw;
			rec->event_id = event_id;
			rec->seat_id = i;
			rec->seat_index = ev.base + i;
			rec->op = TKT_SEAT_EXPIRE;
			rec->source = TKT_SRC_SHARD;
			rec->reserved[0] = 0;
			rec->reserved[1] = 0;
			edge_change_submit(e, rec);
			n++;
			break;
		}
	}
	if (cleared)
		*cleared = n;
	return 0;
}

static int edge_get_event(struct edge *e, uint32_t event_id, struct tkt_event *out)
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

int edge_origin_count_get(struct edge *e, uint32_t slot, uint32_t event_id,
			  uint32_t *count)
{
	uint32_t o;

	if (!slot || slot > TKT_SLOT_MAX || !count)
		return -EINVAL;
	o = e->origins ? tkt_load32(&e->origins[slot]) & TKT_ORIGIN_HASH_MASK : 0;
	*count = 0;
	if (!o)
		return 0;
	if (e->backend == EDGE_BACKEND_BPF)
		return edge_bpf_hold_count(e, TKT_COUNT_ORIGIN_BIT | o, event_id,
					   count);
	edge_shm_hold_count(e, TKT_COUNT_ORIGIN_BIT | o, event_id, count);
	return 0;
}

int edge_counts_collect(struct edge *e, uint32_t *entries, uint32_t *retired)
{
	uint32_t seen = 0, n = 0;
	int err = 0;

	if (e->backend == EDGE_BACKEND_BPF)
		err = edge_bpf_collect(e, &seen, &n);
	else
		edge_shm_collect(e, &seen, &n);
	if (err)
		return err;
	seen = e->backend == EDGE_BACKEND_BPF ? seen - n : seen;
	__atomic_store_n(&e->counts_entries, seen, __ATOMIC_RELAXED);
	if (entries)
		*entries = seen;
	if (retired)
		*retired = n;
	return 0;
}

/* ---- session origins ---- */

uint32_t edge_origin_hash(const struct tkt_token_key *key,
			  const struct sockaddr *origin)
{
	/* The hash key is derived from the token key, so it is as secret as
	 * the tokens: nobody can pick an address that lands in a victim's
	 * bucket. */
	struct tkt_token_key k = {
		.k0 = tkt_siphash24_u64(key, 0x6f726967696e2d30ull), /* "origin-0" */
		.k1 = tkt_siphash24_u64(key, 0x6f726967696e2d31ull), /* "origin-1" */
	};
	struct addr_key a;
	uint64_t h;
	uint32_t v;

	/* IPv4 (mapped or not) by its address, IPv6 by its /64: the same key
	 * the HTTP per-address limits use */
	if (addr_key_from_sockaddr(origin, &a))
		return 0;
	h = tkt_siphash24_u64(&k, a.v);
	v = (uint32_t)(h ^ h >> 32) & TKT_ORIGIN_HASH_MASK;
	return v ? v : 1;
}

int edge_slot_claim(struct edge *e, uint32_t slot, const struct sockaddr *origin)
{
	struct tkt_config cfg;
	uint32_t i, o;
	int err = 0;

	if (!slot || slot > TKT_SLOT_MAX)
		return -EINVAL;
	edge_get_config(e, &cfg);
	o = edge_origin_hash(&cfg.key, origin);
	/* A slot that still counts a seat somewhere keeps its origin: the
	 * door gives an origin's count back by the slot's current origin, so
	 * changing it under a live claim would move that count. */
	pthread_rwlock_rdlock(&e->ev_lock);
	for (i = 0; i < EV_SLOTS && !err; i++) {
		uint32_t n = 0;

		if (!e->ev[i].used || !e->ev[i].present)
			continue;
		if (edge_hold_count_get(e, slot, e->ev[i].id, &n) == 0 && n)
			err = -EBUSY;
	}
	pthread_rwlock_unlock(&e->ev_lock);
	if (err)
		return err;
	if (e->origins)
		__atomic_store_n(&e->origins[slot], o, __ATOMIC_RELEASE);
	/* the new session's first event gets the slot's own count word */
	if (e->backend == EDGE_BACKEND_BPF)
		edge_bpf_slot_count_free(e, slot);
	/* a new session is admitted nowhere until the room says so */
	(void)edge_admit_clear(e, slot);
	return 0;
}

/* ---- waiting-room admissions ---- */

int edge_admit(struct edge *e, uint32_t slot, uint32_t event_id, uint32_t ttl_ms)
{
	if (!slot || slot > TKT_SLOT_MAX || !ttl_ms || ttl_ms > TKT_ADMIT_TTL_MAX_MS)
		return -EINVAL;
	if (!e->admits)
		return -ENODEV;
	__atomic_store_n(&e->admits[slot], tkt_admit_word(event_id, tkt_mono_ns(), ttl_ms),
			 __ATOMIC_RELEASE);
	return 0;
}

int edge_admit_clear(struct edge *e, uint32_t slot)
{
	if (!slot || slot > TKT_SLOT_MAX)
		return -EINVAL;
	if (!e->admits)
		return -ENODEV;
	__atomic_store_n(&e->admits[slot], 0, __ATOMIC_RELEASE);
	return 0;
}

int edge_admit_get(struct edge *e, uint32_t slot, uint32_t *event_id,
		   uint32_t *left_ms)
{
	uint64_t now, w, left_ns;
	uint32_t ev;

	if (!slot || slot > TKT_SLOT_MAX)
		return -EINVAL;
	if (!e->admits)
		return -ENODEV;
	w = __atomic_load_n(&e->admits[slot], __ATOMIC_ACQUIRE);
	now = tkt_mono_ns();
	ev = (uint32_t)(w >> 32);
	if (!tkt_admit_live(w, ev, now))
		return -ENOENT;
	/* ticks left to the expiry tick, less what of this tick has passed */
	left_ns = ((uint64_t)((uint32_t)w - tkt_admit_tick(now)) << TKT_ADMIT_SHIFT) -
		  (now & ((1ull << TKT_ADMIT_SHIFT) - 1));
	if (event_id)
		*event_id = ev;
	if (left_ms) {
		uint64_t ms = (left_ns + TKT_NS_PER_MS - 1) / TKT_NS_PER_MS;

		*left_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	}
	return 0;
}

bool edge_may_hold(struct edge *e, uint32_t slot, uint32_t event_id)
{
	struct ev_slot *s;
	bool room;

	pthread_rwlock_rdlock(&e->ev_lock);
	s = ev_find(e, event_id, false);
	room = s && s->present && (s->ev.flags & TKT_EVENT_ROOM);
	pthread_rwlock_unlock(&e->ev_lock);
	if (!room)
		return true;
	if (!slot || slot > TKT_SLOT_MAX || !e->admits)
		return false;
	return tkt_admit_live(__atomic_load_n(&e->admits[slot], __ATOMIC_ACQUIRE),
			      event_id, tkt_mono_ns());
}

/* ---- seat ops ---- */

void edge_door(struct edge *e, enum tkt_change_source source,
	       const struct tkt_config *cfg, struct tkt_door *door)
{
	door->seats = e->seats;
	door->replay = e->replay;
	door->origins = e->origins;
	door->since = e->since;
	door->admits = e->admits;
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
	if (expired)
		*expired = 0;
	/* another node's event (or one being rebuilt): its words are not
	 * served here, and every EXPIRE would be refused anyway */
	if (ev.owned != TKT_OWNED_YES)
		return 0;
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

static struct tkt_change *edge_change_reserve(struct edge *e)
{
	return change_queue_reserve(&e->q);
}

static void edge_change_submit(struct edge *e, struct tkt_change *rec)
{
	change_queue_submit(rec);
}

static void edge_change_discard(struct edge *e, struct tkt_change *rec)
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

/* ---- map fill ---- */

const char *edge_map_name(enum edge_map_id m)
{
	static const char *const names[EDGE_MAP_N] = {"events", "counts",
						      "ratelimit"};

	return (unsigned)m < EDGE_MAP_N ? names[m] : NULL;
}

int edge_map_fill(struct edge *e, struct edge_map_fill *out)
{
	uint32_t n = 0, max = RL_SLOTS;
	int err = 0;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&e->ev_lock);
	out->entries[EDGE_MAP_EVENTS] = e->ev_used;
	pthread_rwlock_unlock(&e->ev_lock);
	out->max_entries[EDGE_MAP_EVENTS] = TKT_MAX_EVENTS;
	out->entries[EDGE_MAP_COUNTS] =
		__atomic_load_n(&e->counts_entries, __ATOMIC_RELAXED);
	out->max_entries[EDGE_MAP_COUNTS] = TKT_MAX_HOLD_KEYS;
	if (e->backend == EDGE_BACKEND_BPF) {
		err = edge_bpf_ratelimit_fill(e, &n, &max);
	} else {
		for (uint32_t i = 0; i < RL_SLOTS; i++)
			n += __atomic_load_n(&e->rl[i], __ATOMIC_RELAXED) != 0;
	}
	out->entries[EDGE_MAP_RATELIMIT] = n;
	out->max_entries[EDGE_MAP_RATELIMIT] = max;
	return err;
}

int edge_ring_state(struct edge *e, uint64_t *unread, uint64_t *size)
{
	if (e->backend != EDGE_BACKEND_BPF)
		return -EOPNOTSUPP;
	return edge_bpf_ring_state(e, unread, size);
}
