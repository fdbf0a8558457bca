/* The shm backend of the edge, for when BPF maps cannot be had (or are not
 * wanted): the TKT_MAX_SEATS seat words in a file, <dir>/seats (default
 * /dev/shm/ticket), mmapped shared, and the hold counts in a table in this
 * process.
 *
 * Guarantees: the seat file is reused, never re-created empty, and a file
 * of another size is left alone (-EINVAL); it is flocked, one process per
 * seat table. <dir>/slot_origin, <dir>/seat_since and <dir>/admits are the
 * twins of the BPF maps of those names (files, so they survive a restart as pins do).
 * <dir>/meta holds the table's identity (struct tkt_table_meta) with the
 * boot id and the clean-shutdown mark: cleared at open, set again by an
 * orderly edge_close, so a start can tell a kill on this boot (words and
 * monotonic expiries still right) from a reboot (the caller treats the
 * file as fresh).
 * Hold counts (per slot and per origin) do not outlive the process: they
 * are rebuilt from the words the first time an event is declared
 * (edge_set_event), and follow the kernel's hold_count rules (+1 refused at
 * the limit, -1 floored at 0, a full table refuses new keys). An entry
 * whose count reaches 0 is removed at once, under hc_lock (so no retire
 * protocol is needed here), with backward-shift deletion so probe chains
 * stay whole: the table holds only live counts.
 *
 * Locks: hc_lock guards the hold-count table (hc[], hc_used). It is taken
 * inside edge.c's ev_lock when edge_set_event rebuilds counts, the edge's
 * one nesting (ev_lock -> hc_lock), and on its own everywhere else. */
#include "userspace/lib/edge_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HC_SLOTS (TKT_MAX_HOLD_KEYS * 2u)

struct hc_slot {
	uint32_t slot; /* 0 = free */
	uint32_t event_id;
	uint32_t count;
};

struct edge_shm {
	int seat_fd; /* the seat file, flocked */
	int origin_fd, since_fd; /* guarded by the seat file's flock */
	int meta_fd, replay_fd, admits_fd;
	struct tkt_table_meta *meta; /* <dir>/meta, mmapped */
	bool opened; /* edge_shm_open finished: close marks the file clean */
	pthread_mutex_t hc_lock;
	struct hc_slot *hc; /* HC_SLOTS, open addressing */
	uint32_t hc_used;
};

/* ---- open / close ---- */

/* Opens (creating, zero-filled) <dir>/<name> of bytes and maps it. A file
 * of another size is left alone (-EINVAL). */
static int open_twin(const char *dir, const char *name, size_t bytes,
		     int *fd, void **out)
{
	char path[PATH_MAX];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0)
		return -errno;
	if (fstat(*fd, &st) < 0)
		return -errno;
	if (st.st_size == 0 && ftruncate(*fd, (off_t)bytes) < 0)
		return -errno;
	if (st.st_size != 0 && (size_t)st.st_size != bytes)
		return -EINVAL;
	return edge_map_shared(*fd, bytes, out);
}

int edge_shm_open(struct edge *e, const char *dir)
{
	char path[PATH_MAX];
	struct edge_shm *m;
	struct stat st;
	int err, n;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->seat_fd = -1;
	m->origin_fd = -1;
	m->since_fd = -1;
	m->meta_fd = -1;
	m->replay_fd = -1;
	m->admits_fd = -1;
	pthread_mutex_init(&m->hc_lock, NULL);
	e->shm = m;

	err = edge_mkdir_p(dir, 0700);
	if (err)
		return err;
	n = snprintf(path, sizeof(path), "%s/seats", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	m->seat_fd = edge_lock_path(path, O_RDWR | O_CREAT);
	if (m->seat_fd < 0)
		return m->seat_fd;
	if (fstat(m->seat_fd, &st) < 0)
		return -errno;
	if (st.st_size == 0) {
		if (ftruncate(m->seat_fd, (off_t)EDGE_SEATS_BYTES) < 0)
			return -errno;
		e->reused = false;
	} else if ((size_t)st.st_size == EDGE_SEATS_BYTES) {
		e->reused = true;
	} else {
		return -EINVAL; /* not our file, or another layout: keep it */
	}
	err = edge_map_seats(e, m->seat_fd);
	if (err)
		return err;
	/* <dir>/replay: the v2 replay windows (sparse), kept across restarts
	 * like the seats (a restart must not reopen old request ids). */
	err = open_twin(dir, "replay", EDGE_REPLAY_BYTES, &m->replay_fd,
			(void **)&e->replay);
	if (err)
		return err;
	err = open_twin(dir, "slot_origin", EDGE_ORIGINS_BYTES, &m->origin_fd,
			(void **)&e->origins);
	if (err)
		return err;
	err = open_twin(dir, "seat_since", EDGE_SINCE_BYTES, &m->since_fd,
			(void **)&e->since);
	if (err)
		return err;
	/* <dir>/admits: waiting-room admissions per slot (sparse); a seat
	 * file from before the room gets an empty one */
	err = open_twin(dir, "admits", EDGE_ADMITS_BYTES, &m->admits_fd,
			(void **)&e->admits);
	if (err)
		return err;
	/* <dir>/meta: the identity the words were built for, the boot it
	 * was written in and the clean-shutdown mark (bpf/ticket_maps.h) */
	err = open_twin(dir, "meta", sizeof(struct tkt_table_meta), &m->meta_fd,
			(void **)&m->meta);
	if (err)
		return err;
	e->unclean = e->reused && !tkt_load32(&m->meta->clean);
	__atomic_store_n(&m->meta->clean, 0, __ATOMIC_SEQ_CST);
	(void)msync(m->meta, sizeof(*m->meta), MS_SYNC);
	e->counts_fresh = true;
	m->hc = calloc(HC_SLOTS, sizeof(*m->hc));
	if (!m->hc)
		return -ENOMEM;
	m->opened = true;
	return 0;
}

int edge_shm_meta_read(struct edge *e, struct tkt_table_meta *out)
{
	memcpy(out, e->shm->meta, sizeof(*out));
	return 0;
}

int edge_shm_meta_write(struct edge *e, const struct tkt_table_meta *m)
{
	struct tkt_table_meta *d = e->shm->meta;
	uint32_t clean = tkt_load32(&d->clean);

	/* magic last: a record is whole before it counts */
	__atomic_store_n(&d->magic, 0, __ATOMIC_SEQ_CST);
	memcpy((char *)d + sizeof(d->magic), (const char *)m + sizeof(m->magic),
	       sizeof(*d) - sizeof(d->magic));
	d->clean = clean;
	__atomic_store_n(&d->magic, m->magic, __ATOMIC_SEQ_CST);
	if (msync(d, sizeof(*d), MS_SYNC) < 0)
		return -errno;
	return 0;
}

/* Zeroes a mapped file: a punched hole reads as zeroes through the
 * mapping and gives the memory back; memset where holes are not had. */
static int zero_file(int fd, void *mem, size_t bytes)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      (off_t)bytes) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOSYS)
		return -errno;
	memset(mem, 0, bytes);
	return 0;
}

int edge_shm_reset(struct edge *e)
{
	struct edge_shm *m = e->shm;
	int err = zero_file(m->seat_fd, e->seats, EDGE_SEATS_BYTES);

	if (!err)
		err = zero_file(m->replay_fd, e->replay, EDGE_REPLAY_BYTES);
	if (!err)
		err = zero_file(m->origin_fd, e->origins, EDGE_ORIGINS_BYTES);
	if (!err)
		err = zero_file(m->since_fd, e->since, EDGE_SINCE_BYTES);
	if (!err)
		err = zero_file(m->admits_fd, e->admits, EDGE_ADMITS_BYTES);
	if (err)
		return err;
	pthread_mutex_lock(&m->hc_lock);
	memset(m->hc, 0, HC_SLOTS * sizeof(*m->hc));
	m->hc_used = 0;
	pthread_mutex_unlock(&m->hc_lock);
	return 0;
}

void edge_shm_close(struct edge *e)
{
	struct edge_shm *m = e->shm;

	if (!m)
		return;
	if (m->seat_fd >= 0)
		close(m->seat_fd);
	if (m->origin_fd >= 0)
		close(m->origin_fd);
	if (m->since_fd >= 0)
		close(m->since_fd);
	if (m->meta) {
		/* an orderly close: the next process may trust the words
		 * without wondering whether this one died mid-change */
		if (m->opened) {
			__atomic_store_n(&m->meta->clean, 1, __ATOMIC_SEQ_CST);
			(void)msync(m->meta, sizeof(*m->meta), MS_SYNC);
		}
		munmap(m->meta, sizeof(*m->meta));
	}
	if (m->meta_fd >= 0)
		close(m->meta_fd);
	if (m->replay_fd >= 0)
		close(m->replay_fd);
	if (m->admits_fd >= 0)
		close(m->admits_fd);
	free(m->hc);
	pthread_mutex_destroy(&m->hc_lock);
	free(m);
	e->shm = NULL;
}

/* ---- hold counts (under hc_lock) ---- */

static struct hc_slot *hc_find(struct edge_shm *m, uint32_t slot,
			       uint32_t event, bool insert)
{
	uint32_t i, h = edge_hash32((uint64_t)slot << 32 | event);

	for (i = 0; i < HC_SLOTS; i++) {
		struct hc_slot *s = &m->hc[(h + i) & (HC_SLOTS - 1)];

		if (s->slot == slot && s->event_id == event)
			return s;
		if (!s->slot) {
			if (!insert || m->hc_used >= TKT_MAX_HOLD_KEYS)
				return NULL;
			s->slot = slot;
			s->event_id = event;
			s->count = 0;
			m->hc_used++;
			return s;
		}
	}
	return NULL;
}

/* Removes s with backward-shift deletion: every later entry of the run
 * whose home is not between the hole and itself moves into the hole, so
 * lookups never stop early at a freed slot. */
static void hc_remove(struct edge_shm *m, struct hc_slot *s)
{
	uint32_t hole = (uint32_t)(s - m->hc), j = hole;

	for (;;) {
		struct hc_slot *t;
		uint32_t home;

		j = (j + 1) & (HC_SLOTS - 1);
		t = &m->hc[j];
		if (!t->slot)
			break;
		home = edge_hash32((uint64_t)t->slot << 32 | t->event_id) &
		       (HC_SLOTS - 1);
		/* t may stay if its home lies cyclically in (hole, j] */
		if (((j - home) & (HC_SLOTS - 1)) < ((j - hole) & (HC_SLOTS - 1)))
			continue;
		m->hc[hole] = *t;
		hole = j;
	}
	memset(&m->hc[hole], 0, sizeof(m->hc[hole]));
	m->hc_used--;
}

int edge_shm_count(struct edge *e, uint32_t slot, uint32_t event_id,
		   int32_t delta, uint32_t limit)
{
	struct edge_shm *m = e->shm;
	struct hc_slot *s;
	int rc = TKT_OK;

	pthread_mutex_lock(&m->hc_lock);
	s = hc_find(m, slot, event_id, delta > 0);
	if (!s) {
		rc = delta > 0 ? TKT_COUNT_FULL : TKT_OK;
		pthread_mutex_unlock(&m->hc_lock);
		return rc;
	}
	if (delta == 1 && s->count >= limit)
		rc = TKT_LIMIT_EXCEEDED;
	else if (delta > 0 && s->count > TKT_COUNT_MAX - (uint32_t)delta)
		s->count = TKT_COUNT_MAX;
	else if (delta < 0 && (uint32_t)-(int64_t)delta > s->count)
		s->count = 0;
	else
		s->count += (uint32_t)delta;
	if (s->count == 0)
		hc_remove(m, s); /* also a refused take that made the entry */
	pthread_mutex_unlock(&m->hc_lock);
	return rc;
}

void edge_shm_hold_count(struct edge *e, uint32_t slot, uint32_t event_id,
			 uint32_t *count)
{
	struct edge_shm *m = e->shm;
	struct hc_slot *s;

	pthread_mutex_lock(&m->hc_lock);
	s = hc_find(m, slot, event_id, false);
	*count = s ? s->count : 0;
	pthread_mutex_unlock(&m->hc_lock);
}

void edge_shm_collect(struct edge *e, uint32_t *seen, uint32_t *retired)
{
	struct edge_shm *m = e->shm;
	uint32_t i, n = 0;

	pthread_mutex_lock(&m->hc_lock);
	/* entries reach 0 only transiently (removed by edge_shm_count), but
	 * a sweep keeps the promise if that ever changes; a removal may
	 * shift a later entry into i, so i is looked at again */
	for (i = 0; i < HC_SLOTS; i++) {
		while (m->hc[i].slot && m->hc[i].count == 0) {
			hc_remove(m, &m->hc[i]);
			n++;
		}
	}
	*seen = m->hc_used;
	pthread_mutex_unlock(&m->hc_lock);
	*retired = n;
}
