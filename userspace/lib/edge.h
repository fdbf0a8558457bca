/* ticketd's handle on the edge: the seat table it shares with the XDP
 * program, the maps around it, and the stream of seat changes.
 *
 * Two backends behind one API:
 *   bpf  the BPF object (bpf/seat_hold.bpf.c) with its maps pinned under a
 *        bpffs directory (default /sys/fs/bpf/ticket); the seat array is
 *        mmapped, so userspace and XDP CAS the same words.
 *   shm  no BPF: the seat words live in a file mmapped from a directory
 *        (default /dev/shm/ticket), with slot_origin and seat_since beside
 *        it; hold counts in a table in this process.
 *        Used when BPF maps cannot be created, or on request (--hold-path
 *        socket); the UDP protocol is then served by udp_door.c alone.
 * In both, state survives a daemon restart: pins and the seat file are
 * reused, never re-created empty.
 * Both carry the table's identity (struct tkt_table_meta: database,
 * event layout, boot), which the caller checks at start: a table that
 * differs is cleared by edge_reset, never served (see "identity" below).
 *
 * Every seat change from userspace goes through edge_seat_apply() (or a
 * door from edge_door()), which runs the shared rules of bpf/hold_door.h.
 *
 * Threads: every function may be called from any thread, except
 * edge_poll_changes (one consumer at a time; a second gets -EBUSY) and
 * edge_close. Errors are negative errno values. */
#ifndef TICKET_EDGE_H
#define TICKET_EDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bpf/hold_door.h"
#include "bpf/seat_word.h"
#include "bpf/ticket_maps.h"

struct edge;

enum edge_backend {
	EDGE_BACKEND_AUTO = 0, /* bpf if the maps can be created, else shm */
	EDGE_BACKEND_BPF = 1,
	EDGE_BACKEND_SHM = 2,
};

enum edge_xdp_mode {
	EDGE_XDP_NONE = 0,
	EDGE_XDP_NATIVE = 1,  /* driver mode */
	EDGE_XDP_GENERIC = 2, /* skb mode: the fallback */
};

#define EDGE_SHM_DIR_DEFAULT "/dev/shm/ticket"

struct edge_opts {
	const char *pin_dir; /* bpf: NULL = TKT_PIN_DIR_DEFAULT */
	const char *shm_dir; /* shm: NULL = EDGE_SHM_DIR_DEFAULT */
	enum edge_backend backend;
	/* Capacity of the userspace change queue (records from REST, socket,
	 * sweeper, saga doors), rounded up to a power of two; 0 = 65536. */
	unsigned int queue_capacity;
};

/* Opens the edge: reuses pinned maps (or the seat file) when present, else
 * creates and pins them; mmaps the seat array. The new edge's config is the
 * pinned one (all zero when new: UDP door closed). */
int edge_open(const struct edge_opts *opts, struct edge **out);

/* Detaches XDP, unmaps, frees. Pins and the seat file stay. NULL is fine. */
void edge_close(struct edge *e);

enum edge_backend edge_backend(const struct edge *e);

/* True when the seat table came from a previous run (pins or seat file
 * existed), false when it was created empty by this edge_open. */
bool edge_reused(const struct edge *e);

/* ---- identity (struct tkt_table_meta in bpf/ticket_maps.h) ----
 * A table is only right for the database and event layout it was built
 * for: the caller compares them at start (edge_identity_check), clears a
 * table that differs (edge_reset) and rebuilds it, and writes the identity
 * once the rebuild succeeded (edge_identity_write). */
struct edge_identity {
	char db_id[TKT_META_ID_MAX]; /* NUL-terminated, not empty */
	uint64_t layout;             /* edge_layout_mix over every event */
};

/* The layout fingerprint: start from EDGE_LAYOUT_INIT and mix in every
 * event (id, base, seat count) in catalogue order. */
#define EDGE_LAYOUT_INIT 0x6a09e667f3bcc908ull
uint64_t edge_layout_mix(uint64_t fp, uint32_t event_id, uint32_t base,
			 uint32_t nseats);

/* This boot's id (/proc/sys/kernel/random/boot_id, 36 characters) into
 * out; 0 or a negative errno. */
int edge_boot_id(char out[TKT_META_ID_MAX]);

/* Compares a stored meta record with want and this boot: 0 when the table
 * is right for them, else 1 with the first difference in why ("no
 * identity", "database", "layout", "boot"; *reason gets that word, may be
 * NULL). boot_id NULL or "" skips the boot check. */
int edge_meta_compare(const struct tkt_table_meta *have,
		      const struct edge_identity *want, const char *boot_id,
		      const char **reason, char *why, size_t whylen);

/* The table's meta record compared with want (edge_meta_compare, with this
 * boot's id in the shm backend, whose file outlives a reboot): 0 same, 1
 * differs (why and *reason filled), or a negative errno. */
int edge_identity_check(struct edge *e, const struct edge_identity *want,
			const char **reason, char *why, size_t whylen);

/* Makes the table fresh: first the meta record is cleared (a crash during
 * the rebuild leaves no identity behind), then every seat word, replay
 * window, slot origin, hold start, admission, hold count, declared event
 * (with its room flag) and (bpf)
 * change record still in the ring buffer. edge_reused is false after it.
 * Only before any door serves and before edge_poll_changes is first
 * called (no other thread may use the edge). 0 or a negative errno. */
int edge_reset(struct edge *e);

/* Stores id (and this boot's id) as the table's identity. Call once the
 * table has been rebuilt for it. 0 or a negative errno. */
int edge_identity_write(struct edge *e, const struct edge_identity *id);

/* shm: whether the previous process closed the seat file in order (false
 * after a kill -9 or a crash; the words are still right on the same boot).
 * True in the bpf backend and for a table created empty. */
bool edge_closed_cleanly(const struct edge *e);

/* The TKT_MAX_SEATS seat words (shared with the kernel or the seat file).
 * Read them with atomic loads (edge_seat_read); change them only through
 * edge_seat_apply or an edge_door. */
uint64_t *edge_seats(struct edge *e);
/* Atomic load of the word at index (0 past the end). */
uint64_t edge_seat_read(struct edge *e, uint32_t index);

/* Installs the config (token key, UDP port, defaults, rate limit). A zero
 * unix_offset_ns is replaced by the current CLOCK_REALTIME -
 * CLOCK_MONOTONIC. */
int edge_set_config(struct edge *e, const struct tkt_config *cfg);
int edge_get_config(struct edge *e, struct tkt_config *out);

/* Declares where an event's seats live and whether this node owns it.
 * base + nseats <= TKT_MAX_SEATS and event_id < TKT_MAX_EVENTS (the index
 * of the XDP door's events array), else -ERANGE; an event with nseats 0
 * answers as an unknown one (NO_SUCH_SEAT). In the shm backend the first declaration
 * of an event in a process also rebuilds its hold counts from the words.
 * Re-declaring an event keeps its room flag (edge_set_event_room). */
int edge_set_event(struct edge *e, uint32_t event_id, uint32_t base,
		   uint32_t nseats, bool owned);

/* ---- ownership (issue #16, multi-node) ----
 * Sets a declared event's owned state (TKT_OWNED_NO, _REBUILD, _YES) and
 * the owner's IPv4 address and UDP port (network order, 0 when unknown),
 * which every door puts into a WRONG_NODE reply. One write of the events
 * entry: doors see the new state with their next request. 0, -ENOENT when
 * the event is not declared, or a negative errno. */
int edge_set_event_owned(struct edge *e, uint32_t event_id, uint32_t owned,
			 uint32_t owner_ip, uint16_t owner_port);
/* The event's owned state (>= 0), or -ENOENT. */
int edge_event_owned(struct edge *e, uint32_t event_id);
/* Makes every word of the event AVAILABLE (counts given back), one change
 * record each with source TKT_SRC_SHARD: for an event this node does not
 * own (TKT_OWNED_NO or _REBUILD), before it is rebuilt. *cleared (may be
 * NULL) gets how many words changed. 0, -ENOENT, or -ENOBUFS when the
 * change queue is full (call again). */
int edge_event_clear(struct edge *e, uint32_t event_id, uint32_t *cleared);

/* ---- waiting rooms and admissions (issue #12) ----
 * An event with a room (TKT_EVENT_ROOM in its events entry) takes a HOLD,
 * from every door (XDP, socket, REST through edge_seat_apply), only from a
 * slot with a live admission to that event; others get TKT_NOT_ADMITTED
 * and nothing changes. RELEASE, EXTEND and QUERY are not asked: a session
 * keeps the holds it made, whose lifetime hold_lifetime_max_secs caps.
 * One admission per slot, for one event at a time (the "admits" word,
 * bpf/ticket_maps.h); a slot given to a new session starts with none
 * (edge_slot_claim clears it).
 *
 * Order at start: declare the events (edge_set_event), then set every
 * event's room, on and off alike (edge_set_event_room): the bpf backend's
 * pins keep the flag across a restart, the shm backend does not, and
 * edge_reset drops it with the events. */

/* Sets or clears the room flag of a declared event. 0, or -ENOENT when
 * the event is not declared, or a negative errno from the events map. */
int edge_set_event_room(struct edge *e, uint32_t event_id, bool room);

/* Admits slot (1..TKT_SLOT_MAX) to event_id for ttl_ms (1..
 * TKT_ADMIT_TTL_MAX_MS) from now, replacing any admission the slot had
 * (to this event: a refresh; to another: that one ends). One atomic store,
 * any thread. The admission may last up to one tick (16.8 ms) longer than
 * ttl_ms, never shorter. 0, -EINVAL, or -ENODEV without the words. */
int edge_admit(struct edge *e, uint32_t slot, uint32_t event_id, uint32_t ttl_ms);

/* Ends slot's admission, if any. 0, -EINVAL, -ENODEV. */
int edge_admit_clear(struct edge *e, uint32_t slot);

/* slot's live admission: the event (*event_id) and the ms left, rounded
 * up (*left_ms, >= 1); either pointer may be NULL. 0, -ENOENT when it has
 * none (never admitted, cleared or expired), -EINVAL, -ENODEV. */
int edge_admit_get(struct edge *e, uint32_t slot, uint32_t *event_id,
		   uint32_t *left_ms);

/* True when a HOLD by slot on event_id would pass the admission check:
 * the event has no room (or is not declared), or slot has a live admission
 * to it. For doors that judge a request before its seat ops (REST answers
 * NOT_ADMITTED before it says whether the seats are free); the seat op
 * checks again, atomically with the change. */
bool edge_may_hold(struct edge *e, uint32_t slot, uint32_t event_id);

/* Hold count (seats a session slot has HELD or ORDERED in an event, both
 * doors), for inspection: edge_seat_apply keeps the counts right by
 * itself. */
int edge_hold_count_get(struct edge *e, uint32_t slot, uint32_t event_id,
			uint32_t *count);
/* The count of slot's origin in an event (0 when slot's origin is
 * unknown): seats every session of that origin has HELD or ORDERED. */
int edge_origin_count_get(struct edge *e, uint32_t slot, uint32_t event_id,
			  uint32_t *count);

/* The collector: deletes every count entry at 0 (retire protocol in
 * bpf/hold_door.h), so the count map holds only live counts. *entries
 * (may be NULL) gets the entries left, *retired (may be NULL) how many
 * went. The sweeper runs it periodically; a count op that finds the map
 * full runs it at once. */
int edge_counts_collect(struct edge *e, uint32_t *entries, uint32_t *retired);

/* Records the origin of a session slot that was just minted: a keyed hash
 * (key derived from the token key in the config) of the client address
 * that created it, IPv4 by its address, IPv6 by its /64 (IPv4-mapped
 * addresses count as IPv4). Seats of all slots with one origin count
 * towards origin_hold_limit per event. NULL or another family records
 * "unknown" (not counted). On success it also clears the slot's
 * waiting-room admission (edge_admit_clear): a new session is admitted
 * nowhere. Returns 0, -EINVAL for a bad slot, or -EBUSY
 * when the slot still has a non-zero count in some declared event (a
 * recycled slot must not inherit seats or admissions; nothing is recorded
 * then). Call after edge_set_config and before the token is handed out. */
int edge_slot_claim(struct edge *e, uint32_t slot, const struct sockaddr *origin);
/* The 31-bit origin hash edge_slot_claim records (never 0 for an address). */
uint32_t edge_origin_hash(const struct tkt_token_key *key,
			  const struct sockaddr *origin);

/* Runs one seat op with every rule of the seat table (see tkt_door_apply
 * in bpf/hold_door.h) and puts its change record in the stream, stamped
 * with source. res->status is a TKT_* status. Returns 0, or a negative
 * errno only for misuse (bad op). */
int edge_seat_apply(struct edge *e, enum tkt_change_source source,
		    const struct tkt_seat_req *rq, struct tkt_seat_res *res);

/* The sweeper's pass over one event it serves (owned TKT_OWNED_YES;
 * others are skipped): every HELD or ORDERED word whose
 * expiry has been reached becomes AVAILABLE (op EXPIRE, source SWEEPER,
 * one change record each, holder's count given back). Stores how many it
 * turned in *expired (may be NULL). A word that changes under it is left to
 * the next pass. */
int edge_sweep(struct edge *e, uint32_t event_id, uint32_t *expired);

/* Zeroes the v2 replay window of a holder slot (1..TKT_SLOT_MAX), so a
 * slot given to a new session accepts request ids from 1 again. Call it
 * whenever a slot is (re)assigned, before its token is handed out. 0,
 * -EINVAL for a bad slot, -ENODEV when the windows are not mapped. */
int edge_replay_reset(struct edge *e, uint32_t slot);

/* Fills a door for serving protocol requests with tkt_door_serve() (the
 * socket door). cfg must stay valid and unchanged while the door is used;
 * take it from edge_get_config. */
void edge_door(struct edge *e, enum tkt_change_source source,
	       const struct tkt_config *cfg, struct tkt_door *door);

/* Attaches xdp_seat_hold to iface as a BPF link (detached when ticketd's
 * descriptor closes, even on a crash; an interface already running another
 * XDP program is refused with -EBUSY), in driver mode or, if
 * that fails, in generic mode. With netns (a name under /run/netns), iface
 * is looked up and attached inside that namespace (the calling thread
 * enters it and returns). With peer_iface, xdp_pass is attached to that
 * interface in the caller's namespace (the host end of a veth pair, which
 * drops XDP_TX frames otherwise). Bpf backend only (-EOPNOTSUPP). */
int edge_attach_xdp(struct edge *e, const char *iface, const char *netns,
		    const char *peer_iface);
enum edge_xdp_mode edge_xdp_mode(const struct edge *e);
int edge_detach_xdp(struct edge *e);

/* The loaded xdp_seat_hold program (for bpf_prog_test_run_opts in tests and
 * benchmarks), or -EOPNOTSUPP in the shm backend. */
int edge_xdp_prog_fd(const struct edge *e);

/* Delivers change records from the XDP ring buffer and the userspace queue
 * to cb, one consumer for both, records of one seat in the order the word
 * changed (old_word of each record is new_word of the one before, by the
 * word's counter, counted from the words as they were at edge_open). A
 * record whose predecessor has not arrived yet waits for it, at most
 * 750 ms (then it is delivered anyway and counted in stream_late). Waits up to timeout_ms for the first record (0: just drain,
 * <0: until one arrives). Returns the number delivered, or a negative
 * errno; a negative return from cb stops the poll and is returned (that
 * record counts as delivered). */
typedef int (*edge_change_cb)(void *ctx, const struct tkt_change *rec);
int edge_poll_changes(struct edge *e, edge_change_cb cb, void *ctx,
		      int timeout_ms);

/* Puts a copy of rec into the userspace change stream as if a door had made
 * that change (-ENOBUFS when the queue is full): for tests of the
 * consumer. Doors change words only through edge_seat_apply, which
 * reserves a record before its CAS and submits or discards it after. */
int edge_emit_change(struct edge *e, const struct tkt_change *rec);

/* Counters by enum tkt_stat: xdp summed over CPUs (zero in shm), user from
 * the userspace doors. */
struct edge_stats {
	uint64_t xdp[TKT_STAT_COUNT];
	uint64_t user[TKT_STAT_COUNT];
	/* change records delivered out of word order because their
	 * predecessor did not come within the wait (a producer stalled or
	 * died between CAS and submit) or there was no room to wait */
	uint64_t stream_late;
};
int edge_stats(struct edge *e, struct edge_stats *out);

/* ---- fill of the maps with a limit (/metrics, issue #14) ---- */
enum edge_map_id {
	EDGE_MAP_EVENTS = 0, /* declared events; max TKT_MAX_EVENTS */
	EDGE_MAP_COUNTS,     /* hold-count entries; max TKT_MAX_HOLD_KEYS */
	EDGE_MAP_RATELIMIT,  /* per-source rate-limit state (see below) */
	EDGE_MAP_N,
};
/* "events", "counts", "ratelimit": the pin names in the bpf backend. */
const char *edge_map_name(enum edge_map_id m);

struct edge_map_fill {
	uint64_t entries[EDGE_MAP_N];
	uint64_t max_entries[EDGE_MAP_N];
};
/* Fills out, in both backends:
 *   events     the event mirror (exact, no syscall);
 *   counts     the entries edge_counts_collect left at its last run (the
 *              sweeper runs it once a second; 0 before the first run): the
 *              collector visits every entry anyway, so this costs nothing;
 *   ratelimit  the buckets in use (non-zero words) of TKT_RL_BUCKETS:
 *              bpf: the XDP door's array, read now by batched lookups (a
 *              few ms); shm: the socket door's twin. Sources hash into
 *              buckets (tkt_rl_bucket) and may share one.
 * Because of the ratelimit count, call it from a background thread every
 * few seconds, not on every scrape. 0 or a negative errno. */
int edge_map_fill(struct edge *e, struct edge_map_fill *out);

/* The XDP change ring buffer: its data size and the bytes ticketd has not
 * consumed yet. Cheap (two loads through a read-only mapping made for the
 * call). -EOPNOTSUPP in the shm backend, which has no ring buffer. */
int edge_ring_state(struct edge *e, uint64_t *unread, uint64_t *size);

#endif /* TICKET_EDGE_H */
