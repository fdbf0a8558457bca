/* The shm backend of the edge, for when BPF maps cannot be had (or are not
 * wanted): the TKT_MAX_SEATS seat words in a file, <dir>/seats (default
 * /dev/shm/ticket), mmapped shared, and the hold counts in a table in this
 * process.
 *
 * Guarantees: the seat file is reused, never re-created empty, and a file
 * of another size is left alone (-EINVAL); it is flocked, one process per
 * seat table. Hold counts do not outlive the process: they are rebuilt
 * from the words the first time an event is declared
 * (edge_shm_rebuild_counts from edge_set_event), and follow the kernel's
 * hold_count rules (+1 refused at the limit, -1 floored at 0, a full table
 * refuses new keys).
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
	pthread_mutex_t hc_lock;
	struct hc_slot *hc; /* HC_SLOTS, open addressing */
	uint32_t hc_used;
};

/* ---- open / close ---- */

/* <dir>/replay: the v2 replay windows, EDGE_REPLAY_BYTES (sparse), kept
 * across restarts like the seats (a restart must not reopen old request
 * ids). Covered by the seat file's lock. */
static int map_replay_file(struct edge *e, const char *dir)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, err = 0, n;

	n = snprintf(path, sizeof(path), "%s/replay", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (st.st_size == 0 &&
		 ftruncate(fd, (off_t)EDGE_REPLAY_BYTES) < 0)
		err = -errno;
	else if (st.st_size != 0 && (size_t)st.st_size != EDGE_REPLAY_BYTES)
		err = -EINVAL;
	if (!err)
		err = edge_map_replay(e, fd);
	close(fd); /* the mapping stays */
	return err;
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
	err = map_replay_file(e, dir);
	if (err)
		return err;
	m->hc = calloc(HC_SLOTS, sizeof(*m->hc));
	return m->hc ? 0 : -ENOMEM;
}

void edge_shm_close(struct edge *e)
{
	struct edge_shm *m = e->shm;

	if (!m)
		return;
	if (m->seat_fd >= 0)
		close(m->seat_fd);
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

int edge_shm_count(struct edge *e, uint32_t slot, uint32_t event_id,
		   int32_t delta, uint32_t limit)
{
	struct edge_shm *m = e->shm;
	struct hc_slot *s;
	int rc = TKT_OK;

	pthread_mutex_lock(&m->hc_lock);
	s = hc_find(m, slot, event_id, delta > 0);
	if (!s) {
		rc = delta > 0 ? TKT_RATE_LIMITED : TKT_OK;
		pthread_mutex_unlock(&m->hc_lock);
		return rc;
	}
	if (delta == 1 && s->count >= limit)
		rc = TKT_LIMIT_EXCEEDED;
	else if (delta > 0 && s->count > UINT32_MAX - (uint32_t)delta)
		s->count = UINT32_MAX;
	else if (delta < 0 && (uint32_t)-(int64_t)delta > s->count)
		s->count = 0;
	else
		s->count += (uint32_t)delta;
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

int edge_shm_rebuild_counts(struct edge *e, uint32_t event_id,
			    const struct tkt_event *ev)
{
	uint32_t i;

	for (i = 0; i < ev->nseats; i++) {
		uint64_t w = tkt_load64(&e->seats[ev->base + i]);
		uint32_t st = tkt_sw_state(w);

		if ((st != TKT_SEAT_HELD && st != TKT_SEAT_ORDERED) ||
		    !tkt_sw_holder(w))
			continue;
		/* a limit of UINT32_MAX makes +1 an unconditional add */
		if (edge_shm_count(e, tkt_sw_holder(w), event_id, 1,
				   UINT32_MAX) != TKT_OK)
			return -ENOSPC; /* the table is full */
	}
	return 0;
}
