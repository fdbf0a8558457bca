/* Private to the edge: struct edge and what one of its files offers the
 * others. Include it only from userspace/lib/edge*.c; everything else uses
 * edge.h.
 *
 *   edge.c          the seat-table API: open and close, config, events,
 *                   hold counts, seat ops, the sweep, stats, the door ops
 *   edge_bpf.c      bpf backend: skeleton, pins, maps, ring buffer, XDP
 *   edge_shm.c      shm backend: the seat file, its lock, hold counts
 *   edge_reorder.c  the consumer: edge_poll_changes, the per-seat reorder
 *
 * Each backend's own state sits behind its pointer (e->bpf or e->shm, the
 * other one is NULL) and is known to its file alone. */
#ifndef TICKET_EDGE_INTERNAL_H
#define TICKET_EDGE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "userspace/lib/change_queue.h"
#include "userspace/lib/edge.h"

/* The seat array, in both backends. */
#define EDGE_SEATS_BYTES ((size_t)TKT_MAX_SEATS * sizeof(uint64_t))
/* The v2 replay windows (TKT_REPLAY_ENTRIES words), in both backends. */
#define EDGE_REPLAY_BYTES ((size_t)TKT_REPLAY_ENTRIES * sizeof(uint64_t))
/* slot_origin and seat_since, in both backends. */
#define EDGE_ORIGINS_BYTES ((size_t)(TKT_SLOT_MAX + 1) * sizeof(uint32_t))
#define EDGE_SINCE_BYTES ((size_t)TKT_MAX_SEATS * sizeof(uint32_t))
/* The admission words (TKT_ADMIT_ENTRIES), in both backends. */
#define EDGE_ADMITS_BYTES ((size_t)TKT_ADMIT_ENTRIES * sizeof(uint64_t))

struct edge_bpf;
struct edge_shm;
struct ev_slot;
struct pend;

struct edge {
	enum edge_backend backend;
	bool reused;  /* set by the backend's open */
	bool unclean; /* shm: the previous process did not close in order */
	__u64 *seats; /* mmapped by the backend, EDGE_SEATS_BYTES */
	__u64 *replay; /* mmapped by the backend, EDGE_REPLAY_BYTES */
	__u32 *origins; /* slot -> origin hash, EDGE_ORIGINS_BYTES, mmapped */
	__u32 *since;   /* seat -> hold start ms, EDGE_SINCE_BYTES, mmapped */
	__u64 *admits;  /* slot -> admission word, EDGE_ADMITS_BYTES, mmapped */
	/* The counts do not come from the previous run (a new count map
	 * beside reused seats, or the shm backend's table): each event's
	 * counts are rebuilt from the words when it is first declared. */
	bool counts_fresh;

	/* the backend: one of the two is set */
	struct edge_bpf *bpf; /* edge_bpf.c */
	struct edge_shm *shm; /* edge_shm.c */

	/* edge.c; the locks are described at the top of edge.c */
	pthread_rwlock_t cfg_lock;
	struct tkt_config cfg; /* mirror of the config map (bpf) */

	pthread_rwlock_t ev_lock;
	struct ev_slot *ev; /* mirror of the events map (bpf) */
	uint32_t ev_used;

	/* producers: edge.c (the door ops, edge_emit_change); consumer:
	 * edge_reorder.c */
	struct change_queue q;
	__u64 *rl; /* RL_SLOTS GCRA words, indexed by a hash of the peer */
	uint64_t ustats[TKT_STAT_COUNT];
	/* entries left by the last edge_counts_collect (edge_map_fill);
	 * atomic: the collector and the reader run on different threads */
	uint32_t counts_entries;

	/* the consumer (edge_reorder.c), under poll_lock */
	pthread_mutex_t poll_lock;
	__u64 *last;        /* per seat: new_word of the last delivered record */
	uint64_t t_open;    /* records stamped before this are backlog */
	struct pend *pend;  /* PEND_SLOTS */
	size_t npend;
	uint64_t next_flush_ns;
	uint64_t late; /* delivered out of word order (see edge_stats) */
	bool busy;     /* the last nap brought BUSY_RECORDS or more */
	edge_change_cb cb;
	void *cb_ctx;
	int cb_err;
	int delivered;
};

/* The hash of every open-addressing table of the edge. */
static inline uint32_t edge_hash32(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (uint32_t)x;
}

/* ---- edge.c, for the backends ---- */

/* mkdir -p; 0 or a negative errno. */
int edge_mkdir_p(const char *path, mode_t mode);
/* Opens path (flags | O_CLOEXEC, mode 0600 if created) and takes an
 * exclusive flock on it without waiting: the fd, -EBUSY when another
 * process holds it, or a negative errno. */
int edge_lock_path(const char *path, int flags);
/* mmaps the seat array shared from fd (the seats map or the seat file)
 * into e->seats; edge_close unmaps it. 0 or a negative errno. */
int edge_map_seats(struct edge *e, int fd);
/* mmaps bytes shared from fd into *out (replay, slot_origin, seat_since,
 * admits);
 * edge_close unmaps them. 0 or a negative errno. */
int edge_map_shared(int fd, size_t bytes, void **out);
/* Puts an event found in the pinned events map into the mirror, while
 * edge_open runs (no lock). 0, or -ENOSPC when the mirror is full. */
int edge_mirror_event(struct edge *e, uint32_t event_id,
		      const struct tkt_event *ev);

/* ---- edge_bpf.c ---- */

/* Mounts bpffs if needed, locks pin_dir, loads the skeleton reusing or
 * creating the pins, maps the seats (edge_map_seats), opens the ring buffer and reads the
 * config and events maps into e->cfg and the event mirror. Sets e->bpf
 * (left for edge_bpf_close on error) and e->reused. */
int edge_bpf_open(struct edge *e, const char *pin_dir);
/* Frees what edge_bpf_open made but the seat mapping (edge.c unmaps it
 * first); maps stay pinned. No-op without e->bpf. XDP must be detached
 * first (edge_detach_xdp). */
void edge_bpf_close(struct edge *e);
/* One hold-count operation by the kernel's hold_count program, so
 * userspace and XDP count under the same rules: delta +1 refuses at limit
 * (TKT_LIMIT_EXCEEDED), -1 is a release floored at 0. Returns a TKT_*
 * status, or a negative errno when the kernel could not be asked. */
int edge_bpf_count(struct edge *e, uint32_t slot, uint32_t event_id,
		   int32_t delta, uint32_t limit);
/* The pinned count (0 when there is none), or a negative errno. */
int edge_bpf_hold_count(struct edge *e, uint32_t slot, uint32_t event_id,
			uint32_t *count);
/* Frees the slot_counts word of a slot that counts nothing there (its
 * event stays otherwise): the slot's next first event gets the word. For
 * a slot given to a new session (edge_slot_claim). */
void edge_bpf_slot_count_free(struct edge *e, uint32_t slot);
/* Runs the count_collect program: entries at 0 retired and deleted. */
int edge_bpf_collect(struct edge *e, uint32_t *seen, uint32_t *retired);
/* Writes the config map / one entry of the events map: 0 or -errno. */
int edge_bpf_write_config(struct edge *e, const struct tkt_config *cfg);
int edge_bpf_write_event(struct edge *e, uint32_t event_id,
			 const struct tkt_event *ev);
/* Reads / writes the table_meta map (key 0). 0 or -errno. */
int edge_bpf_meta_read(struct edge *e, struct tkt_table_meta *out);
int edge_bpf_meta_write(struct edge *e, const struct tkt_table_meta *m);
/* Zeroes the mmapped arrays (seats, replay, slot_origin, seat_since,
 * admits, slot_counts),
 * empties the counts and events maps and drops the change records left in
 * the ring buffer (edge_reset). 0 or -errno. */
int edge_bpf_reset(struct edge *e);
/* Adds the XDP counters, summed over CPUs, into xdp[TKT_STAT_COUNT]. */
int edge_bpf_stats(struct edge *e, uint64_t *xdp);
/* Buckets in use of the ratelimit array and its size (edge_map_fill). */
int edge_bpf_ratelimit_fill(struct edge *e, uint32_t *entries, uint32_t *max);
/* The change ring buffer's size and unread bytes (edge_ring_state). */
int edge_bpf_ring_state(struct edge *e, uint64_t *unread, uint64_t *size);
/* Hands what the ring buffer holds to edge_reorder_record (consumer only):
 * the number of records, 0 in the shm backend, or a negative error (the
 * callback's among them). */
int edge_bpf_consume(struct edge *e);
/* Writes the change batches of the XDP program that hold changes to the
 * ring, running change_flush on each such CPU (consumer only: one flush at
 * a time). Does nothing within 1 ms of its last look (1 s after a
 * failure) unless force. The number of CPUs written out, 0 in the shm
 * backend, or -errno. */
int edge_bpf_flush(struct edge *e, bool force);

/* ---- edge_shm.c ---- */

/* Locks <dir>/seats (created if missing), maps it (edge_map_seats) and
 * makes the hold-count table; maps <dir>/meta, notes whether the last
 * process closed in order (e->unclean) and clears the clean mark while
 * this one runs (edge_shm_close sets it again). Sets e->shm (left for edge_shm_close on error) and e->reused. */
int edge_shm_open(struct edge *e, const char *dir);
/* Closes the seat file (it stays) and frees the table, once edge.c has
 * unmapped the seats. No-op without e->shm. */
void edge_shm_close(struct edge *e);
/* Reads / writes <dir>/meta (the seat file's identity; clean is kept as
 * the process sets it). 0 or -errno. */
int edge_shm_meta_read(struct edge *e, struct tkt_table_meta *out);
int edge_shm_meta_write(struct edge *e, const struct tkt_table_meta *m);
/* Zeroes the seat, replay, slot_origin, seat_since and admits files (punching
 * holes, so sparse files stay sparse) and empties the hold-count table
 * (edge_reset). 0 or -errno. */
int edge_shm_reset(struct edge *e);
/* The same operation as edge_bpf_count on the process's table; returns a
 * TKT_* status (TKT_COUNT_FULL when the table has no room for a key). */
int edge_shm_count(struct edge *e, uint32_t slot, uint32_t event_id,
		   int32_t delta, uint32_t limit);
/* Removes entries at 0 (there are none unless a take was refused after
 * making one); the number of entries in *seen. */
void edge_shm_collect(struct edge *e, uint32_t *seen, uint32_t *retired);
void edge_shm_hold_count(struct edge *e, uint32_t slot, uint32_t event_id,
			 uint32_t *count);

/* ---- edge_reorder.c ---- */

/* Inits poll_lock and allocates the consumer's tables: 0 or -ENOMEM (then
 * edge_reorder_free). */
int edge_reorder_init(struct edge *e);
/* Starts every seat's chain from its live word, and counts records stamped
 * before now as backlog; at the end of edge_open, once the seats are
 * mapped. */
void edge_reorder_start(struct edge *e);
void edge_reorder_free(struct edge *e);
/* Takes one record from the ring buffer, under poll_lock: delivered with
 * every record waiting for it, or kept to wait for its predecessor.
 * Returns the callback's error, if any. */
int edge_reorder_record(struct edge *e, const struct tkt_change *rec);

#endif /* TICKET_EDGE_INTERNAL_H */
