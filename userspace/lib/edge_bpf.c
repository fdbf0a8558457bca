/* The bpf backend of the edge: the BPF object (bpf/seat_hold.bpf.c) loaded
 * from its skeleton with every map pinned under a bpffs directory, the
 * seat array mmapped from its map (userspace and XDP CAS the same words),
 * hold counts kept by the kernel's hold_count program (one set of rules for
 * both doors), the config and events maps behind edge.c's mirrors, the
 * ring buffer of XDP change records, and XDP attach and detach as BPF
 * links (the kernel detaches a link when its last descriptor closes, so a
 * killed ticketd leaves no program answering on the interface).
 *
 * Guarantees: pins are reused, never re-created empty (libbpf refuses a
 * pin whose definition differs, and edge_open then fails rather than
 * forget live holds); the pin directory is flocked, one process per seat
 * table; closing detaches XDP and leaves every map pinned.
 *
 * Locks: none of its own. The config and events maps are written under
 * edge.c's cfg_lock and ev_lock, so map and mirror never disagree; the
 * ring buffer is consumed only under poll_lock (edge_reorder_record's
 * caller); hold counts are atomic in the kernel. The XDP attachments
 * (att_main, att_peer, xdp_mode) have no lock: attach and detach come from
 * the thread that sets the edge up and tears it down. */
#include "userspace/lib/edge_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include "bpf/seat_hold.skel.h"
#include "userspace/lib/change_record.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge_peek.h"
#include "userspace/lib/private_dir.h"

struct xdp_att {
	int link_fd; /* 0: not attached (descriptor 0 is stdin, never a link) */
	int ifindex;
	bool native;
};

/* How often the consumer writes out the change batches of CPUs that went
 * quiet (edge_bpf_flush): a change waits at most about this long, plus the
 * consumer's nap, before it is in the ring. */
#define FLUSH_EVERY_NS (1 * TKT_NS_PER_MS)
#define FLUSH_RETRY_NS (1000 * TKT_NS_PER_MS)

struct edge_bpf {
	struct seat_hold *skel;
	struct ring_buffer *rb;
	int ncpus;
	/* the consumer's (poll_lock): every CPU's change batch as last
	 * read, and when edge_bpf_flush looks next */
	struct tkt_change_batch *batches;
	uint64_t next_flush_ns;
	int lock_fd; /* flock on the pin directory: one process per table */
	struct xdp_att att_main, att_peer;
	enum edge_xdp_mode xdp_mode;
	/* slot_counts, mmapped: TKT_SLOT_COUNT_ENTRIES words */
	__u64 *slot_counts;
};

#define SLOT_COUNTS_BYTES ((size_t)TKT_SLOT_COUNT_ENTRIES * sizeof(__u64))

/* ---- open / close ---- */

/* A pin directory must sit on bpffs; mount it at /sys/fs/bpf if nothing
 * is there yet (a fresh machine), as `ip` would. */
static int ensure_bpffs(const char *pin_dir)
{
	struct statfs st;

	if (strncmp(pin_dir, "/sys/fs/bpf", 11) != 0)
		return 0;
	if (statfs("/sys/fs/bpf", &st) < 0)
		return -errno;
	if (st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -errno;
	return 0;
}

static int load_mirrors_from_maps(struct edge *e)
{
	int ev_fd = bpf_map__fd(e->bpf->skel->maps.events);
	__u32 key = 0;
	int err;

	if (bpf_map_lookup_elem(bpf_map__fd(e->bpf->skel->maps.config), &key,
				&e->cfg) < 0)
		return -errno;

	/* an array indexed by event id: entries never declared are zeroes */
	for (key = 0; key < TKT_MAX_EVENTS; key++) {
		struct tkt_event ev;

		if (bpf_map_lookup_elem(ev_fd, &key, &ev) < 0)
			return -errno;
		if (!ev.nseats)
			continue;
		err = edge_mirror_event(e, key, &ev);
		if (err)
			return err;
	}
	return 0;
}

static int ring_change(void *ctx, const struct tkt_change *rec)
{
	return edge_reorder_record(ctx, rec);
}

/* One ring record: the changes of one batch of the XDP program, in the
 * order it made them. A record of a size no batch has cannot come from
 * the program; it is skipped (as one shorter than a change always was). */
static int ring_cb(void *ctx, void *data, size_t size)
{
	int rc = change_record_split(data, size, ring_change, ctx);

	return rc == -EBADMSG ? 0 : rc;
}

static const char *const retired_pins[] = {"hold_counts", "stats",
					   "door_stats"};

/* Pins whose map type (or value size) changed while the name stayed: what they hold is
 * rebuilt at every start (events: declared again from the database) or
 * may be forgotten (ratelimit: rate history), so a pin of the old type is
 * removed before the load instead of failing it. Never the seat words. */
static const struct {
	const char *name;
	enum bpf_map_type type; /* the type it has now */
	__u32 value_size;       /* and its value size (0: not checked) */
} retyped_pins[] = {
	/* was a hash; 16-byte entries before the owner (issue #16) */
	{"events", BPF_MAP_TYPE_ARRAY, sizeof(struct tkt_event)},
	{"ratelimit", BPF_MAP_TYPE_ARRAY, 0}, /* was an LRU hash */
};

static int drop_retyped_pins(const char *pin_dir)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(retyped_pins) / sizeof(retyped_pins[0]); i++) {
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		int fd, n, err = 0;

		n = snprintf(path, sizeof(path), "%s/%s", pin_dir,
			     retyped_pins[i].name);
		if (n < 0 || (size_t)n >= sizeof(path))
			return -ENAMETOOLONG;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
			err = -errno;
		close(fd);
		if (err)
			return err;
		if ((info.type != retyped_pins[i].type ||
		     (retyped_pins[i].value_size &&
		      info.value_size != retyped_pins[i].value_size)) &&
		    unlink(path) < 0)
			return -errno;
	}
	return 0;
}

/* A pair's count lives in "counts" or in its slot's "slot_counts" word,
 * never both (bpf/ticket_maps.h), so the two maps only make sense together:
 * when one of them is pinned without the other (pins made before
 * slot_counts, whose counts are all in "counts"), the one left is removed
 * and both start empty, and the counts are rebuilt from the seat words
 * (counts_fresh). */
static int pair_count_pins(const char *pin_dir)
{
	char a[PATH_MAX], b[PATH_MAX];
	int n, m, has_a, has_b;

	n = snprintf(a, sizeof(a), "%s/counts", pin_dir);
	m = snprintf(b, sizeof(b), "%s/slot_counts", pin_dir);
	if (n < 0 || (size_t)n >= sizeof(a) || m < 0 || (size_t)m >= sizeof(b))
		return -ENAMETOOLONG;
	has_a = access(a, F_OK) == 0;
	has_b = access(b, F_OK) == 0;
	if (has_a && !has_b && unlink(a) < 0)
		return -errno;
	if (has_b && !has_a && unlink(b) < 0)
		return -errno;
	return 0;
}

int edge_bpf_open(struct edge *e, const char *pin_dir)
{
	char path[PATH_MAX];
	struct edge_bpf *b;
	struct bpf_map *m;
	int err, n;

	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->lock_fd = -1;
	e->bpf = b;

	err = ensure_bpffs(pin_dir);
	if (err)
		return err;
	err = edge_mkdir_p(pin_dir, 0700);
	if (err)
		return err;
	b->lock_fd = edge_lock_path(pin_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	if (b->lock_fd < 0)
		return b->lock_fd;
	/* Ours alone: another owner, or anyone who can write in it, could
	 * swap the pinned maps. */
	err = private_dir_check_fd(b->lock_fd, pin_dir, NULL, 0);
	if (err)
		return err;

	err = drop_retyped_pins(pin_dir);
	if (!err)
		err = pair_count_pins(pin_dir);
	if (err)
		return err;
	b->skel = seat_hold__open();
	if (!b->skel)
		return errno ? -errno : -EINVAL;
	bpf_object__for_each_map(m, b->skel->obj)
	{
		/* .bss (the XDP door's rate interval cache) is private to
		 * each load: nothing in it outlives the program */
		if (bpf_map__is_internal(m))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", pin_dir,
			     bpf_map__name(m));
		if (n < 0 || (size_t)n >= sizeof(path))
			return -ENAMETOOLONG;
		/* libbpf reuses an existing pin (and refuses one whose
		 * definition differs) or creates the map and pins it */
		err = bpf_map__set_pin_path(m, path);
		if (err)
			return err;
	}
	n = snprintf(path, sizeof(path), "%s/seats", pin_dir);
	e->reused = access(path, F_OK) == 0;
	n = snprintf(path, sizeof(path), "%s/counts", pin_dir);
	e->counts_fresh = access(path, F_OK) != 0;

	err = seat_hold__load(b->skel);
	if (err)
		return err;
	err = edge_map_seats(e, bpf_map__fd(b->skel->maps.seats));
	if (err)
		return err;
	err = edge_map_shared(bpf_map__fd(b->skel->maps.replay),
			      EDGE_REPLAY_BYTES, (void **)&e->replay);
	if (err)
		return err;
	err = edge_map_shared(bpf_map__fd(b->skel->maps.slot_origin),
			      EDGE_ORIGINS_BYTES, (void **)&e->origins);
	if (!err)
		err = edge_map_shared(bpf_map__fd(b->skel->maps.seat_since),
				      EDGE_SINCE_BYTES, (void **)&e->since);
	/* pins made before the waiting room have no "admits": libbpf
	 * created it (empty: nobody admitted) and pinned it at load */
	if (!err)
		err = edge_map_shared(bpf_map__fd(b->skel->maps.admits),
				      EDGE_ADMITS_BYTES, (void **)&e->admits);
	if (!err)
		err = edge_map_shared(bpf_map__fd(b->skel->maps.slot_counts),
				      SLOT_COUNTS_BYTES, (void **)&b->slot_counts);
	if (err)
		return err;
	/* Pins of maps that newer ones replaced only hold memory now:
	 * "hold_counts" (never shrank; "counts" is rebuilt from the words,
	 * counts_fresh), "stats" (grew into "door_stats") and "door_stats"
	 * (its indices past the statuses moved when NOT_ADMITTED came:
	 * "door_counters" starts from zero rather than mislabel them). */
	for (size_t i = 0; i < sizeof(retired_pins) / sizeof(retired_pins[0]); i++) {
		n = snprintf(path, sizeof(path), "%s/%s", pin_dir, retired_pins[i]);
		if (n > 0 && (size_t)n < sizeof(path))
			(void)unlink(path);
	}

	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.changes), ring_cb,
				 e, NULL);
	if (!b->rb)
		return errno ? -errno : -ENOMEM;
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0)
		return b->ncpus ? b->ncpus : -EINVAL;
	b->batches = calloc((size_t)b->ncpus, sizeof(*b->batches));
	if (!b->batches)
		return -ENOMEM;
	return load_mirrors_from_maps(e);
}

void edge_bpf_close(struct edge *e)
{
	struct edge_bpf *b = e->bpf;

	if (!b)
		return;
	if (b->rb)
		ring_buffer__free(b->rb);
	if (b->slot_counts)
		munmap(b->slot_counts, SLOT_COUNTS_BYTES);
	if (b->skel)
		seat_hold__destroy(b->skel); /* maps stay pinned */
	if (b->lock_fd >= 0)
		close(b->lock_fd);
	free(b->batches);
	free(b);
	e->bpf = NULL;
}

int edge_xdp_prog_fd(const struct edge *e)
{
	if (e->backend != EDGE_BACKEND_BPF)
		return -EOPNOTSUPP;
	return bpf_program__fd(e->bpf->skel->progs.xdp_seat_hold);
}

/* ---- maps ---- */

int edge_bpf_count(struct edge *e, uint32_t slot, uint32_t event_id,
		   int32_t delta, uint32_t limit)
{
	struct tkt_count_args a = {
		.slot = slot,
		.event_id = event_id,
		.limit = limit,
		.delta = delta,
	};
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a,
		    .ctx_size_in = sizeof(a));
	int err = bpf_prog_test_run_opts(
		bpf_program__fd(e->bpf->skel->progs.hold_count), &o);

	if (err)
		return -errno;
	return a.result;
}

int edge_bpf_hold_count(struct edge *e, uint32_t slot, uint32_t event_id,
			uint32_t *count)
{
	struct tkt_hold_key k = {.slot = slot, .event_id = event_id};

	if (slot < TKT_SLOT_COUNT_ENTRIES &&
	    tkt_slot_count_get(tkt_load64(&e->bpf->slot_counts[slot]), event_id,
			       count))
		return 0;
	if (bpf_map_lookup_elem(bpf_map__fd(e->bpf->skel->maps.counts), &k,
				count) < 0) {
		if (errno != ENOENT)
			return -errno;
		*count = 0;
	}
	if (*count == TKT_COUNT_DEAD) /* being deleted */
		*count = 0;
	return 0;
}

void edge_bpf_slot_count_free(struct edge *e, uint32_t slot)
{
	__u64 *w, old;

	if (slot >= TKT_SLOT_COUNT_ENTRIES)
		return;
	w = &e->bpf->slot_counts[slot];
	old = tkt_load64(w);
	/* only a word that counts nothing: a count must stay where it is */
	if (old && !(__u32)old)
		(void)tkt_cas64(w, old, 0);
}

int edge_bpf_collect(struct edge *e, uint32_t *seen, uint32_t *retired)
{
	struct tkt_collect_args a = {0};
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &a,
		    .ctx_size_in = sizeof(a));

	if (bpf_prog_test_run_opts(
		    bpf_program__fd(e->bpf->skel->progs.count_collect), &o))
		return -errno;
	*seen = a.seen;
	*retired = a.retired;
	return 0;
}

int edge_bpf_write_config(struct edge *e, const struct tkt_config *cfg)
{
	__u32 key = 0;

	if (bpf_map_update_elem(bpf_map__fd(e->bpf->skel->maps.config), &key,
				cfg, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int edge_bpf_write_event(struct edge *e, uint32_t event_id,
			 const struct tkt_event *ev)
{
	if (bpf_map_update_elem(bpf_map__fd(e->bpf->skel->maps.events),
				&event_id, ev, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int edge_bpf_meta_read(struct edge *e, struct tkt_table_meta *out)
{
	__u32 key = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(e->bpf->skel->maps.table_meta), &key,
				out) < 0)
		return -errno;
	return 0;
}

int edge_bpf_meta_write(struct edge *e, const struct tkt_table_meta *m)
{
	__u32 key = 0;

	if (bpf_map_update_elem(bpf_map__fd(e->bpf->skel->maps.table_meta), &key,
				m, BPF_ANY) < 0)
		return -errno;
	return 0;
}

static int drop_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

/* Deletes every key of a hash map; at most limit rounds. */
static int empty_hash(int fd, size_t key_size, uint32_t limit)
{
	unsigned char key[64];

	if (key_size > sizeof(key))
		return -EINVAL;
	for (uint32_t i = 0; i < limit; i++) {
		if (bpf_map_get_next_key(fd, NULL, key) < 0)
			return errno == ENOENT ? 0 : -errno;
		if (bpf_map_delete_elem(fd, key) < 0 && errno != ENOENT)
			return -errno;
	}
	return -EAGAIN;
}

int edge_bpf_reset(struct edge *e)
{
	struct seat_hold *k = e->bpf->skel;
	struct ring_buffer *rb;
	int err;

	/* preallocated arrays: writing zeroes costs no memory */
	memset(e->seats, 0, EDGE_SEATS_BYTES);
	memset(e->replay, 0, EDGE_REPLAY_BYTES);
	memset(e->origins, 0, EDGE_ORIGINS_BYTES);
	memset(e->since, 0, EDGE_SINCE_BYTES);
	memset(e->admits, 0, EDGE_ADMITS_BYTES);
	memset(e->bpf->slot_counts, 0, SLOT_COUNTS_BYTES);
	err = empty_hash(bpf_map__fd(k->maps.counts), sizeof(struct tkt_hold_key),
			 2 * TKT_MAX_HOLD_KEYS);
	for (__u32 id = 0; !err && id < TKT_MAX_EVENTS; id++) {
		static const struct tkt_event none;

		if (bpf_map_update_elem(bpf_map__fd(k->maps.events), &id, &none,
					BPF_ANY) < 0)
			err = -errno;
	}
	if (err)
		return err;
	/* records of the old words must not reach the stream: drop the
	 * changes waiting in the per-CPU batches, then drain the ring into a
	 * callback that drops them */
	memset(e->bpf->batches, 0,
	       (size_t)e->bpf->ncpus * sizeof(*e->bpf->batches));
	{
		__u32 zero = 0;

		if (bpf_map_update_elem(bpf_map__fd(k->maps.change_batch), &zero,
					e->bpf->batches, BPF_ANY) < 0)
			return -errno;
	}

	rb = ring_buffer__new(bpf_map__fd(k->maps.changes), drop_record, NULL, NULL);
	if (!rb)
		return errno ? -errno : -ENOMEM;
	err = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	return err < 0 ? err : 0;
}

int edge_bpf_stats(struct edge *e, uint64_t *xdp)
{
	uint64_t *vals = calloc((size_t)e->bpf->ncpus, sizeof(uint64_t));
	int fd = bpf_map__fd(e->bpf->skel->maps.door_counters), c, err = 0;
	__u32 i;

	if (!vals)
		return -ENOMEM;
	for (i = 0; i < TKT_STAT_COUNT && !err; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals) < 0) {
			err = -errno;
			break;
		}
		for (c = 0; c < e->bpf->ncpus; c++)
			xdp[i] += vals[c];
	}
	free(vals);
	return err;
}

int edge_bpf_ratelimit_fill(struct edge *e, uint32_t *entries, uint32_t *max)
{
	int fd = bpf_map__fd(e->bpf->skel->maps.ratelimit);

	*max = bpf_map__max_entries(e->bpf->skel->maps.ratelimit);
	return peek_count_entries(fd, entries);
}

int edge_bpf_ring_state(struct edge *e, uint64_t *unread, uint64_t *size)
{
	struct peek_ring r;
	int err = peek_ring(bpf_map__fd(e->bpf->skel->maps.changes), &r);

	*unread = r.unread;
	*size = r.size;
	return err;
}

int edge_bpf_consume(struct edge *e)
{
	return e->bpf ? ring_buffer__consume(e->bpf->rb) : 0;
}

int edge_bpf_flush(struct edge *e, bool force)
{
	struct edge_bpf *b = e->bpf;
	int fd, prog, c, done = 0;
	uint64_t now;
	__u32 zero = 0;

	if (!b)
		return 0;
	now = tkt_mono_ns();
	if (!force && now < b->next_flush_ns)
		return 0;
	/* after a failure, the next look in a second: the caller reports
	 * each failure, and the ring is consumed meanwhile all the same */
	b->next_flush_ns = now + FLUSH_RETRY_NS;
	/* one read of every CPU's batch; a CPU seen empty is left alone
	 * (what it gets after this read waits for the next tick) */
	fd = bpf_map__fd(b->skel->maps.change_batch);
	if (bpf_map_lookup_elem(fd, &zero, b->batches) < 0)
		return -errno;
	prog = bpf_program__fd(b->skel->progs.change_flush);
	for (c = 0; c < b->ncpus; c++) {
		const struct tkt_change_batch *cb = &b->batches[c];
		LIBBPF_OPTS(bpf_test_run_opts, o,
			    .flags = BPF_F_TEST_RUN_ON_CPU, .cpu = (__u32)c);

		if (!cb->half[0].n && !cb->half[1].n)
			continue;
		if (bpf_prog_test_run_opts(prog, &o) < 0) {
			if (errno == ENXIO)
				continue; /* offline: nothing runs there */
			return -errno;
		}
		/* BUSY (the XDP program was in it) and FULL (no room in
		 * the ring) keep the changes for the next tick */
		if (o.retval == TKT_FLUSH_DONE)
			done++;
	}
	b->next_flush_ns = now + FLUSH_EVERY_NS;
	return done;
}

/* ---- XDP attach ---- */

static int netns_enter(const char *name, int *saved)
{
	char path[PATH_MAX];
	int fd, err = 0;

	*saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (*saved < 0)
		return -errno;
	if (snprintf(path, sizeof(path), "/run/netns/%s", name) >=
	    (int)sizeof(path)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto fail;
	}
	if (setns(fd, CLONE_NEWNET) < 0)
		err = -errno;
	close(fd);
	if (!err)
		return 0;
fail:
	close(*saved);
	*saved = -1;
	return err;
}

static int netns_leave(int saved)
{
	int err = 0;

	if (saved < 0)
		return 0;
	if (setns(saved, CLONE_NEWNET) < 0)
		err = -errno;
	close(saved);
	return err;
}

/* Attaches one program, native first, generic if the driver refuses. */
/* Attaches prog_fd to iface as a BPF link, in driver mode or, if that
 * fails, in generic mode. A link needs CAP_NET_ADMIN and CAP_BPF (no
 * dispatcher, no lookup by id), and it refuses an interface that already
 * runs an XDP program (EBUSY) instead of replacing it. */
static int attach_one(int prog_fd, const char *iface, struct xdp_att *att)
{
	LIBBPF_OPTS(bpf_link_create_opts, native, .flags = XDP_FLAGS_DRV_MODE);
	LIBBPF_OPTS(bpf_link_create_opts, generic, .flags = XDP_FLAGS_SKB_MODE);
	int fd;

	att->ifindex = (int)if_nametoindex(iface);
	if (!att->ifindex)
		return -errno;
	att->native = true;
	fd = bpf_link_create(prog_fd, att->ifindex, BPF_XDP, &native);
	if (fd < 0 && fd != -EBUSY) {
		att->native = false;
		fd = bpf_link_create(prog_fd, att->ifindex, BPF_XDP, &generic);
	}
	if (fd < 0)
		return fd;
	att->link_fd = fd;
	return 0;
}

/* Closing the link detaches the program wherever the interface lives: no
 * namespace to enter, no capability needed. */
static int detach_one(struct xdp_att *att)
{
	int err = 0;

	if (!att->link_fd)
		return 0;
	if (close(att->link_fd) < 0)
		err = -errno;
	memset(att, 0, sizeof(*att));
	return err;
}

int edge_attach_xdp(struct edge *e, const char *iface, const char *netns,
		    const char *peer_iface)
{
	struct edge_bpf *b = e->bpf;
	int saved = -1, err, err2;

	if (e->backend != EDGE_BACKEND_BPF)
		return -EOPNOTSUPP;
	if (!iface || b->att_main.link_fd)
		return b->att_main.link_fd ? -EALREADY : -EINVAL;
	if (netns && strlen(netns) > NAME_MAX)
		return -ENAMETOOLONG;

	if (netns) {
		err = netns_enter(netns, &saved);
		if (err)
			return err;
	}
	err = attach_one(bpf_program__fd(b->skel->progs.xdp_seat_hold), iface,
			 &b->att_main);
	err2 = netns_leave(saved);
	if (!err && err2) {
		/* attached but this thread is stuck in the wrong namespace:
		 * nothing sensible can follow */
		return err2;
	}
	if (err)
		return err;

	if (peer_iface) {
		err = attach_one(bpf_program__fd(b->skel->progs.xdp_pass),
				 peer_iface, &b->att_peer);
		if (err) {
			detach_one(&b->att_main);
			return err;
		}
	}
	b->xdp_mode = b->att_main.native ? EDGE_XDP_NATIVE : EDGE_XDP_GENERIC;
	return 0;
}

enum edge_xdp_mode edge_xdp_mode(const struct edge *e)
{
	return e->bpf ? e->bpf->xdp_mode : EDGE_XDP_NONE;
}

int edge_detach_xdp(struct edge *e)
{
	struct edge_bpf *b = e->bpf;
	int err, err2;

	if (!b)
		return 0;
	err = detach_one(&b->att_peer);
	err2 = detach_one(&b->att_main);
	b->xdp_mode = EDGE_XDP_NONE;
	return err ? err : err2;
}
