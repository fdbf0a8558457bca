/* Serving the UDP hold protocol (v1) against the seat table: the one copy of
 * the rules, compiled into the XDP program and into ticketd (socket door,
 * REST door, sweeper, saga).
 *
 * A "door" is whatever reaches the seat table: the XDP program with its BPF
 * maps, or ticketd with the mmapped array (or shm) and its own queue. The
 * logic here is written against a small set of hooks that the including
 * file provides, so the same code compiles into both without function
 * pointers in BPF:
 *
 *   struct tkt_door;                         opaque to this file
 *   const struct tkt_config *tkt_door_config(struct tkt_door *);
 *   int  tkt_door_event(struct tkt_door *, __u32 event_id, struct tkt_event *);
 *                                            0 found, <0 absent (an entry
 *                                            with nseats 0 counts as absent)
 *   __u64 *tkt_door_seat(struct tkt_door *, __u32 index);   NULL if none
 *   int  tkt_door_count_reserve(struct tkt_door *, __u32 slot, __u32 event,
 *                               __u32 limit);   TKT_OK / TKT_LIMIT_EXCEEDED
 *                                               / TKT_RATE_LIMITED (no room)
 *   void tkt_door_count_release(struct tkt_door *, __u32 slot, __u32 event);
 *                                  (slot may carry TKT_COUNT_ORIGIN_BIT: the
 *                                  origin's count, same rules)
 *   __u32 tkt_door_origin(struct tkt_door *, __u32 slot);  slot_origin, 0 =
 *                                               unknown (not counted)
 *   void tkt_door_since_set(struct tkt_door *, __u32 index, __u32 ms);
 *   int  tkt_door_since_get(struct tkt_door *, __u32 index, __u32 *ms);
 *                                               seat_since; <0 if none
 *   struct tkt_change *tkt_door_change_reserve(struct tkt_door *);  NULL=full
 *   void tkt_door_change_submit(struct tkt_door *, struct tkt_change *);
 *   void tkt_door_change_discard(struct tkt_door *, struct tkt_change *);
 *   int  tkt_door_rate_ok(struct tkt_door *, const struct tkt_peer *,
 *                         __u64 now_ns);
 *   void tkt_door_stat(struct tkt_door *, __u32 index);
 *   __u64 *tkt_door_replay(struct tkt_door *, __u32 slot);  v2 window word,
 *                                            NULL if none (then v2 drops)
 *   __u64 tkt_door_admit(struct tkt_door *, __u32 slot);  the slot's
 *                                            admission word, 0 if none
 *   __u64 tkt_door_now_ns(struct tkt_door *);       CLOCK_MONOTONIC
 *
 * The BPF object defines them over its maps (bpf/seat_hold.bpf.c); in
 * userspace this header defines them as calls through struct tkt_door_ops
 * (implemented by userspace/lib/edge.c for both of its backends).
 *
 * Packet parsing and the in-place reply stay in the BPF program; sockets stay
 * in userspace/lib/udp_door.c. Everything between "here are the request bytes"
 * and "here are the reply bytes" is below. */
#ifndef TICKET_HOLD_DOOR_H
#define TICKET_HOLD_DOOR_H

#include <linux/types.h>

#include "bpf/seat_word.h"
#include "bpf/session_token.h"
#include "bpf/ticket_maps.h"
#include "bpf/ticket_wire.h"

struct tkt_door;

#if !defined(__bpf__)
/* Userspace doors: the hooks go through a table so edge.c can offer two
 * backends (BPF maps or plain shared memory) behind one door type. */
struct tkt_door_ops {
	int (*event)(void *impl, __u32 event_id, struct tkt_event *ev);
	int (*count_reserve)(void *impl, __u32 slot, __u32 event_id,
			     __u32 limit);
	void (*count_release)(void *impl, __u32 slot, __u32 event_id);
	struct tkt_change *(*change_reserve)(void *impl);
	void (*change_submit)(void *impl, struct tkt_change *rec);
	void (*change_discard)(void *impl, struct tkt_change *rec);
	int (*rate_ok)(void *impl, const struct tkt_peer *peer, __u64 now_ns);
	void (*stat)(void *impl, __u32 index);
	__u64 (*now_ns)(void *impl);
};

/* A door as ticketd uses it. cfg points at a snapshot the owner keeps
 * stable while requests are served (udp_door refreshes it between
 * batches). */
struct tkt_door {
	__u64 *seats; /* TKT_MAX_SEATS words, mmapped */
	__u64 *replay; /* TKT_REPLAY_ENTRIES words (v2), or NULL */
	__u32 *origins; /* TKT_SLOT_MAX + 1 origin hashes, or NULL (none) */
	__u32 *since;   /* TKT_MAX_SEATS hold start times, or NULL (no cap) */
	/* TKT_ADMIT_ENTRIES admission words, or NULL (then nobody is
	 * admitted: a HOLD on an event with a room is refused) */
	__u64 *admits;
	const struct tkt_config *cfg;
	const struct tkt_door_ops *ops;
	void *impl;
	__u8 source; /* enum tkt_change_source stamped on records */
};

TKT_INLINE const struct tkt_config *tkt_door_config(struct tkt_door *d)
{
	return d->cfg;
}

TKT_INLINE int tkt_door_event(struct tkt_door *d, __u32 event_id,
			      struct tkt_event *ev)
{
	return d->ops->event(d->impl, event_id, ev);
}

TKT_INLINE __u64 *tkt_door_seat(struct tkt_door *d, __u32 index)
{
	return index < TKT_MAX_SEATS ? &d->seats[index] : (__u64 *)0;
}

TKT_INLINE int tkt_door_count_reserve(struct tkt_door *d, __u32 slot,
				      __u32 event_id, __u32 limit)
{
	return d->ops->count_reserve(d->impl, slot, event_id, limit);
}

TKT_INLINE void tkt_door_count_release(struct tkt_door *d, __u32 slot,
				       __u32 event_id)
{
	d->ops->count_release(d->impl, slot, event_id);
}

TKT_INLINE __u32 tkt_door_origin(struct tkt_door *d, __u32 slot)
{
	if (!d->origins || slot > TKT_SLOT_MAX)
		return 0;
	return __atomic_load_n(&d->origins[slot], __ATOMIC_RELAXED);
}

TKT_INLINE void tkt_door_since_set(struct tkt_door *d, __u32 index, __u32 ms)
{
	if (d->since && index < TKT_MAX_SEATS)
		__atomic_store_n(&d->since[index], ms, __ATOMIC_RELEASE);
}

TKT_INLINE int tkt_door_since_get(struct tkt_door *d, __u32 index, __u32 *ms)
{
	if (!d->since || index >= TKT_MAX_SEATS)
		return -1;
	*ms = __atomic_load_n(&d->since[index], __ATOMIC_ACQUIRE);
	return 0;
}

TKT_INLINE struct tkt_change *tkt_door_change_reserve(struct tkt_door *d)
{
	return d->ops->change_reserve(d->impl);
}

TKT_INLINE void tkt_door_change_submit(struct tkt_door *d,
				       struct tkt_change *rec)
{
	d->ops->change_submit(d->impl, rec);
}

TKT_INLINE void tkt_door_change_discard(struct tkt_door *d,
					struct tkt_change *rec)
{
	d->ops->change_discard(d->impl, rec);
}

TKT_INLINE int tkt_door_rate_ok(struct tkt_door *d, const struct tkt_peer *p,
				__u64 now_ns)
{
	return d->ops->rate_ok ? d->ops->rate_ok(d->impl, p, now_ns) : 1;
}

TKT_INLINE void tkt_door_stat(struct tkt_door *d, __u32 index)
{
	if (d->ops->stat)
		d->ops->stat(d->impl, index);
}

TKT_INLINE __u64 tkt_door_now_ns(struct tkt_door *d)
{
	return d->ops->now_ns(d->impl);
}

TKT_INLINE __u64 *tkt_door_replay(struct tkt_door *d, __u32 slot)
{
	return d->replay && slot < TKT_REPLAY_ENTRIES ? &d->replay[slot]
						      : (__u64 *)0;
}

TKT_INLINE __u8 tkt_door_source(struct tkt_door *d)
{
	return d->source;
}

TKT_INLINE __u64 tkt_door_admit(struct tkt_door *d, __u32 slot)
{
	if (!d->admits || slot >= TKT_ADMIT_ENTRIES)
		return 0;
	return __atomic_load_n(&d->admits[slot], __ATOMIC_ACQUIRE);
}
#else
/* BPF: the includer defines struct tkt_door and these. */
TKT_INLINE const struct tkt_config *tkt_door_config(struct tkt_door *d);
TKT_INLINE int tkt_door_event(struct tkt_door *d, __u32 event_id,
			      struct tkt_event *ev);
TKT_INLINE __u64 *tkt_door_seat(struct tkt_door *d, __u32 index);
TKT_INLINE int tkt_door_count_reserve(struct tkt_door *d, __u32 slot,
				      __u32 event_id, __u32 limit);
TKT_INLINE void tkt_door_count_release(struct tkt_door *d, __u32 slot,
				       __u32 event_id);
TKT_INLINE __u32 tkt_door_origin(struct tkt_door *d, __u32 slot);
TKT_INLINE void tkt_door_since_set(struct tkt_door *d, __u32 index, __u32 ms);
TKT_INLINE int tkt_door_since_get(struct tkt_door *d, __u32 index, __u32 *ms);
TKT_INLINE struct tkt_change *tkt_door_change_reserve(struct tkt_door *d);
TKT_INLINE void tkt_door_change_submit(struct tkt_door *d,
				       struct tkt_change *rec);
TKT_INLINE void tkt_door_change_discard(struct tkt_door *d,
					struct tkt_change *rec);
TKT_INLINE int tkt_door_rate_ok(struct tkt_door *d, const struct tkt_peer *p,
				__u64 now_ns);
TKT_INLINE void tkt_door_stat(struct tkt_door *d, __u32 index);
TKT_INLINE __u64 tkt_door_now_ns(struct tkt_door *d);
TKT_INLINE __u8 tkt_door_source(struct tkt_door *d);
TKT_INLINE __u64 *tkt_door_replay(struct tkt_door *d, __u32 slot);
TKT_INLINE __u64 tkt_door_admit(struct tkt_door *d, __u32 slot);
#endif

/* ---- byte order (wire is big-endian; both targets are little-endian) ---- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define tkt_be16(x) __builtin_bswap16(x)
#define tkt_be32(x) __builtin_bswap32(x)
#define tkt_be64(x) __builtin_bswap64(x)
#else
#define tkt_be16(x) (x)
#define tkt_be32(x) (x)
#define tkt_be64(x) (x)
#endif

/* ---- counters shared by both doors: plain words, CAS only ---- */

/* Count entries shrink. A count word lives in a map entry (BPF hash) or in
 * ticketd's table; the entry of a key whose count is 0 is deleted, so the
 * map holds only live counts plus whatever reached 0 since the last
 * collection. Deleting a hash entry while another CPU may be about to
 * increment it would lose that increment, so an entry is first retired
 * with a CAS to TKT_COUNT_DEAD, then deleted:
 *   - the one who wins the CAS to DEAD (a give taking the last unit, 1 ->
 *     DEAD, or the collector, 0 -> DEAD) is the only one to delete it (the
 *     XDP door's gives use tkt_count_drop, which stops at 0, so there only
 *     the collector retires);
 *   - a take that reads DEAD answers TKT_COUNT_GONE and its caller looks
 *     the key up again (a fresh entry at 0 is created once the dead one is
 *     gone; until then the NOEXIST insert fails and the lookup finds the
 *     dead one again: bounded retries, then RATE_LIMITED);
 *   - a give that reads DEAD does nothing (it cannot happen for a count
 *     somebody holds: a held unit keeps the word >= 1).
 * No increment is lost: a word is DEAD only when it was 0 (or 1 given
 * back), and no CAS from DEAD succeeds. BPF frees a deleted hash element
 * only after an RCU grace period, so a door that still has a pointer reads
 * DEAD, never freed memory, and cannot resurrect it. While the dead entry
 * exists no second entry with its key can be inserted (NOEXIST), so the
 * delete that follows removes exactly the retired entry. */

/* Takes one unit of a count unless it is at limit (limit < TKT_COUNT_DEAD).
 * A bounded CAS loop keeps it exact under concurrency without locks.
 * TKT_COUNT_GONE: the word was retired, look the key up again. */
TKT_INLINE int tkt_count_take(__u32 *cnt, __u32 limit)
{
	int i;

	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u32 c = tkt_load32(cnt);

		if (c == TKT_COUNT_DEAD)
			return TKT_COUNT_GONE;
		if (c >= limit)
			return TKT_LIMIT_EXCEEDED;
		if (tkt_cas32(cnt, c, c + 1))
			return TKT_OK;
	}
	return TKT_RATE_LIMITED;
}

/* Gives one unit back; never below zero (a count of 0 means the books were
 * rebuilt after this hold was made, and underflow would lock the session out
 * for good). Returns 1 when it gave the last unit: the word is now DEAD and
 * the caller must delete its entry (or, for a word that is no map entry,
 * store 0). */
TKT_INLINE int tkt_count_give(__u32 *cnt)
{
	int i;

	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u32 c = tkt_load32(cnt);

		if (c == 0 || c == TKT_COUNT_DEAD)
			return 0;
		if (c == 1) {
			if (tkt_cas32(cnt, 1, TKT_COUNT_DEAD))
				return 1;
		} else if (tkt_cas32(cnt, c, c - 1)) {
			return 0;
		}
	}
	return 0;
}

/* Gives one unit back, floored at 0, and leaves the word at 0 for the
 * collector (tkt_count_retire) instead of retiring it: the XDP door's
 * give. A session that holds and releases again and again then reuses its
 * entry (lookup, CAS) instead of deleting it at every release and
 * inserting it again at the next hold (a hash insert allocates and a
 * delete waits for RCU; ~30 ns a decision). The entry lingers at 0 until
 * the next collection (ticketd runs it every second while the map is
 * busy or a take found it full, every 5 s otherwise), which TKT_MAX_HOLD_KEYS leaves room for;
 * counts stay exact, as the retire protocol above only ever needed a word
 * at 0 to be retired by exactly one CAS. */
TKT_INLINE void tkt_count_drop(__u32 *cnt)
{
	int i;

	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u32 c = tkt_load32(cnt);

		if (c == 0 || c == TKT_COUNT_DEAD)
			return;
		if (tkt_cas32(cnt, c, c - 1))
			return;
	}
}

/* The collector's half: retires a word at 0. Returns 1 when it did; the
 * caller must then delete the entry. */
TKT_INLINE int tkt_count_retire(__u32 *cnt)
{
	return tkt_cas32(cnt, 0, TKT_COUNT_DEAD);
}

/* The slot_counts word (bpf/ticket_maps.h) of one session slot: the
 * count of (slot, event_id) if the word counts event_id, or the word is
 * still free and takes event_id now. TKT_OK, TKT_LIMIT_EXCEEDED,
 * TKT_RATE_LIMITED (every CAS lost), or TKT_COUNT_ELSEWHERE: the word
 * counts another event, count the pair in the counts hash. */
TKT_INLINE int tkt_slot_count_take(__u64 *w, __u32 event_id, __u32 limit)
{
	__u32 tag = event_id + 1;
	int i;

	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u64 old = tkt_load64(w);
		__u32 t = (__u32)(old >> 32), c = (__u32)old;

		if (t && t != tag)
			return TKT_COUNT_ELSEWHERE;
		if (c >= limit)
			return TKT_LIMIT_EXCEEDED;
		if (tkt_cas64(w, old, (__u64)tag << 32 | (c + 1)))
			return TKT_OK;
	}
	return TKT_RATE_LIMITED;
}

/* Gives one unit of (slot, event_id) back to the slot's word, floored at
 * 0; the word keeps its event. TKT_OK, or TKT_COUNT_ELSEWHERE when the
 * word does not count event_id (give to the counts hash instead). */
TKT_INLINE int tkt_slot_count_give(__u64 *w, __u32 event_id)
{
	__u32 tag = event_id + 1;
	int i;

	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u64 old = tkt_load64(w);
		__u32 c = (__u32)old;

		if ((__u32)(old >> 32) != tag)
			return TKT_COUNT_ELSEWHERE;
		if (c == 0)
			return TKT_OK;
		if (tkt_cas64(w, old, old - 1))
			return TKT_OK;
	}
	return TKT_OK;
}

/* The count of (slot, event_id) in the word: 1 and *count when the word
 * counts event_id, else 0 (the count is in the counts hash). */
TKT_INLINE int tkt_slot_count_get(__u64 word, __u32 event_id, __u32 *count)
{
	if ((__u32)(word >> 32) != event_id + 1)
		return 0;
	*count = (__u32)word;
	return 1;
}

/* Generic cell rate algorithm: *tat is the theoretical arrival time of the
 * next request. A request is allowed while it would not push tat more than
 * burst intervals ahead of now. One word, one CAS, exact integer math. */
TKT_INLINE int tkt_gcra_take_iv(__u64 *tat, __u64 now_ns, __u64 interval,
				__u32 burst)
{
	__u64 tau = interval * (burst ? burst : 1);
	int i;

	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u64 old = tkt_load64(tat);
		__u64 t = (__s64)(old - now_ns) > 0 ? old : now_ns;

		if (t + interval - now_ns > tau)
			return 0;
		if (tkt_cas64(tat, old, t + interval))
			return 1;
	}
	return 0;
}

/* The interval between requests at rate per second (rate > 0): a
 * division the XDP door does once per rate, not once per packet. */
TKT_INLINE __u64 tkt_gcra_interval(__u32 rate)
{
	return TKT_NS_PER_SEC / rate;
}

TKT_INLINE int tkt_gcra_take(__u64 *tat, __u64 now_ns, __u32 rate,
			     __u32 burst)
{
	if (rate == 0)
		return 1;
	return tkt_gcra_take_iv(tat, now_ns, tkt_gcra_interval(rate), burst);
}

/* The rate-limit bucket of a source: a keyed hash of its 16 address bytes
 * (IPv4 as ::ffff:a.b.c.d, IPv6 whole) into TKT_RL_BUCKETS, the same in
 * both doors. Fixed memory and one array load instead of an LRU hash (no
 * insert, no eviction). Two sources in one bucket share one budget:
 * that errs towards limiting, never towards letting a flood through. The
 * trade-off against spoofed sources: a flood from many (spoofed)
 * addresses lands in many buckets and may share a legitimate source's,
 * eating its budget (1 in 65536 per flooding address, and only while the
 * flood lasts), where the LRU map instead evicted sources and gave them a
 * fresh burst. The seed (tkt_config.rl_seed, drawn at random by ticketd)
 * keeps anyone from choosing addresses that land on a victim's bucket: a
 * multiply-xor mix, not a cryptographic MAC, so a source that observes
 * its own limit for long enough could learn which of its addresses
 * collide with each other, not with a victim it cannot observe. */
TKT_INLINE __u32 tkt_rl_bucket(__u64 seed, const struct tkt_peer *p)
{
	__u64 a, b, h;

	__builtin_memcpy(&a, p->addr, 8);
	__builtin_memcpy(&b, p->addr + 8, 8);
	h = (a ^ seed) * 0x9e3779b97f4a7c15ull;
	h ^= (b + (seed >> 32 | seed << 32)) * 0xc2b2ae3d27d4eb4full;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (__u32)(h >> 48) & (TKT_RL_BUCKETS - 1);
}

/* Replay window of v2 request ids, one word per session slot: highest id
 * accepted (high 32 bits) and a bitmap of the TKT_REPLAY_WINDOW ids below
 * it (bit k: id hi - 1 - k seen). Takes id, or refuses it: already seen,
 * older than the window, or the CAS kept losing (a refusal is safe: the
 * client asks again with a new id). Id 0 is never accepted (a zeroed word
 * reads as "0 seen"): ids start at 1. */
#define TKT_REPLAY_OK 0
#define TKT_REPLAY_SEEN (-1) /* this id was accepted before */
#define TKT_REPLAY_OLD (-2)  /* more than 32 below the highest */
#define TKT_REPLAY_BUSY (-3) /* every CAS attempt lost */

TKT_INLINE int tkt_replay_take(__u64 *w, __u32 id)
{
	int i;

	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u64 old = tkt_load64(w), nw;
		__u32 hi = (__u32)(old >> 32), bits = (__u32)old;

		if (id > hi) {
			/* slide: bit 0 of (bits << 1 | 1) is hi itself */
			__u32 d = id - hi;
			__u64 b = ((__u64)bits << 1) | 1;

			nw = (__u64)id << 32 |
			     (d - 1 > TKT_REPLAY_WINDOW ? 0
							: (__u32)(b << (d - 1)));
		} else {
			__u32 k = hi - id; /* 1..: bit k - 1 */

			if (k == 0)
				return TKT_REPLAY_SEEN;
			if (k > TKT_REPLAY_WINDOW)
				return TKT_REPLAY_OLD;
			if (bits & (1u << (k - 1)))
				return TKT_REPLAY_SEEN;
			nw = old | (1u << (k - 1));
		}
		if (tkt_cas64(w, old, nw))
			return TKT_REPLAY_OK;
	}
	return TKT_REPLAY_BUSY;
}

/* ---- admissions (the "admits" word, bpf/ticket_maps.h) ---- */

/* The monotonic clock in admission ticks (2^TKT_ADMIT_SHIFT ns), mod 2^32:
 * a shift, no division, on the XDP path. */
TKT_INLINE __u32 tkt_admit_tick(__u64 now_ns)
{
	return (__u32)(now_ns >> TKT_ADMIT_SHIFT);
}

/* The word admitting to event_id for ttl_ms from now_ns: expiry rounded up
 * to the next tick, so an admission never ends early; never 0 (0 is "none"). */
TKT_INLINE __u64 tkt_admit_word(__u32 event_id, __u64 now_ns, __u32 ttl_ms)
{
	__u64 end = now_ns + (__u64)ttl_ms * TKT_NS_PER_MS;
	__u32 t = (__u32)((end + (1ull << TKT_ADMIT_SHIFT) - 1) >>
			  TKT_ADMIT_SHIFT);
	__u64 w = (__u64)event_id << 32 | t;

	return w ? w : 1;
}

/* 1 when word is a live admission to event_id at now_ns. */
TKT_INLINE int tkt_admit_live(__u64 w, __u32 event_id, __u64 now_ns)
{
	return w && (__u32)(w >> 32) == event_id &&
	       (__s32)((__u32)w - tkt_admit_tick(now_ns)) > 0;
}

/* ---- one operation on one seat ---- */

struct tkt_seat_req {
	__u32 event_id;
	__u32 seat_id;
	__u32 slot;   /* caller's holder slot (0 for QUERY/EXPIRE) */
	__u32 ttl_ms; /* HOLD, EXTEND, ORDER */
	__u32 op;     /* enum tkt_seat_op */
	/* 1: ttl_ms is the config's default (hold seconds 0 on the wire),
	 * which the event's own default replaces */
	__u32 ttl_default;
};

struct tkt_seat_res {
	__u64 word;  /* the word after the op (or as seen, if unchanged) */
	__u64 now_ns;
	__u32 index; /* seat's position in the array, if it exists */
	__u8 status; /* enum tkt_status */
	__u8 changed;
	__u8 seen_state; /* effective state before the op */
	/* With status LIMIT_EXCEEDED: 1 when the origin's limit refused
	 * (origin_hold_limit), 0 when the session's own (hold_limit). */
	__u8 origin_limited;
	/* With status WRONG_NODE: the owner from the events entry (network
	 * order, 0 when unknown), for the reply (tkt_door_serve). */
	__u32 owner_ip;
	__u16 owner_port;
};

/* The count key of slot's origin, 0 when its origin is unknown. */
TKT_INLINE __u32 tkt_door_origin_key(struct tkt_door *d, __u32 slot)
{
	__u32 o = tkt_door_origin(d, slot) & TKT_ORIGIN_HASH_MASK;

	return o ? TKT_COUNT_ORIGIN_BIT | o : 0;
}

/* The counts a gain for slot reserves: slot's own and, when slot's origin
 * is known, its origin's (olimit 0 = counted, never refused). *okey gets
 * the origin key reserved, 0 if none; *by_origin is set when the origin's
 * limit refused. On refusal nothing stays reserved. */
TKT_INLINE int tkt_door_gain_reserve(struct tkt_door *d, __u32 slot,
				     __u32 event_id, __u32 limit,
				     __u32 olimit, __u32 *okey,
				     __u8 *by_origin)
{
	__u32 k = tkt_door_origin_key(d, slot);
	int rc = tkt_door_count_reserve(d, slot, event_id, limit);

	*okey = 0;
	if (rc != TKT_OK || !k)
		return rc;
	rc = tkt_door_count_reserve(d, k, event_id,
				    olimit ? olimit : TKT_COUNT_MAX);
	if (rc != TKT_OK) {
		tkt_door_count_release(d, slot, event_id);
		*by_origin = rc == TKT_LIMIT_EXCEEDED;
		return rc;
	}
	*okey = k;
	return TKT_OK;
}

/* Gives back what a gain reserved, or what a claim of slot counted. */
TKT_INLINE void tkt_door_gain_release(struct tkt_door *d, __u32 slot,
				      __u32 event_id, __u32 okey)
{
	tkt_door_count_release(d, slot, event_id);
	if (okey)
		tkt_door_count_release(d, okey, event_id);
}

/* The hold lifetime cap (hold_lifetime_max_secs) on a refresh: an EXTEND,
 * or a HOLD of the caller's own live hold, may not push the expiry past
 * the hold's start (seat_since) + cap. Returns the ttl to use, or 0 when
 * the cap is already reached: the refresh then changes nothing and
 * answers OK with the hold's current expiry (the hold runs out then; a
 * client sees expiresAt not move). A new hold's ttl is cut to the cap
 * before the transition, so since + cap >= expiry holds from the start.
 *
 * seat_since is written right after the CAS that starts a hold, so a
 * refresh racing that hold's own since write (same session, same seat,
 * within nanoseconds) reads the previous hold's start. That is harmless:
 * it either finds the cap reached and grants nothing (the new hold keeps
 * the expiry it was just given), or it is not clamped and grants at most
 * now + ttl <= now + cap, i.e. the cap counted from an instant a few
 * nanoseconds after the true start. The next refresh reads the new since. */
TKT_INLINE __u32 tkt_door_cap_ttl(struct tkt_door *d, __u32 index,
				  __u32 now_ms, __u32 ttl_ms, __u32 cap_ms)
{
	__u32 since, end;

	if (tkt_door_since_get(d, index, &since) < 0)
		return ttl_ms;
	end = since + cap_ms;
	if (tkt_ms_reached(now_ms, end))
		return 0;
	if ((__s32)(end - (now_ms + ttl_ms)) < 0)
		return end - now_ms;
	return ttl_ms;
}

/* v when v != 0 and use is 1, else dflt; no branch (v < 2^31). */
TKT_INLINE __u32 tkt_pick(__u32 v, __u32 dflt, __u32 use)
{
	__u32 m = 0u - ((((v | (0u - v)) >> 31) & use) & 1u);

	return (v & m) | (dflt & ~m);
}

/* Applies one op to one seat with every rule of the seat table: event
 * lookup (absent -> NO_SUCH_SEAT, not owned -> WRONG_NODE), the waiting
 * room (a HOLD on an event with TKT_EVENT_ROOM by a slot without a live
 * admission to that event -> NOT_ADMITTED, nothing changed, no record;
 * only HOLD asks: RELEASE and EXTEND of one's own hold, QUERY and the
 * daemon's ops go on as before, and an event without the flag costs one
 * test of the flags already read), the transition,
 * the hold limits (the session's and its origin's counts are reserved
 * before the CAS and given back if the CAS loses), the hold lifetime cap
 * (tkt_door_cap_ttl), one change record reserved before the CAS (no room ->
 * RATE_LIMITED, seat untouched) and submitted only if the CAS wins, the
 * previous holder's counts given back after a won CAS, and the start time
 * of a hold it starts (seat_since). This is the only code that writes seat
 * words. */
/* now_ms is tkt_ms32(now_ns), derived once by the caller (a division). */
TKT_INLINE void tkt_door_apply_at(struct tkt_door *d,
				  const struct tkt_seat_req *rq, __u64 now_ns,
				  __u32 now_ms, struct tkt_seat_res *res)
{
	const struct tkt_config *cfg = tkt_door_config(d);
	struct tkt_seat_change c = {};
	struct tkt_change *rec = (struct tkt_change *)0;
	struct tkt_event ev = {};
	__u32 limit = cfg->hold_limit ? cfg->hold_limit : TKT_HOLD_LIMIT_DEFAULT;
	__u32 olimit = cfg->origin_hold_limit;
	__u32 cap_ms = cfg->hold_lifetime_max_secs * 1000u;
	__u32 counted = 0; /* slot we hold a reserved count for */
	__u32 okey = 0;    /* and the origin key reserved with it */
	__u32 ttl = rq->ttl_ms;
	int refresh = rq->op == TKT_SEAT_HOLD || rq->op == TKT_SEAT_EXTEND;
	__u64 *w;
	int won = 0, i;

	res->word = 0;
	res->now_ns = now_ns;
	res->index = 0;
	res->changed = 0;
	res->seen_state = 0;
	res->origin_limited = 0;
	res->owner_ip = 0;
	res->owner_port = 0;

	/* An event without seats is no event: the XDP door's events array
	 * has an entry of zeroes for every id never declared, and both doors
	 * must answer alike. */
	if (tkt_door_event(d, rq->event_id, &ev) < 0 || !ev.nseats) {
		res->status = TKT_NO_SUCH_SEAT;
		return;
	}
	if (ev.owned != TKT_OWNED_YES &&
	    !(ev.owned == TKT_OWNED_REBUILD &&
	      tkt_door_source(d) == TKT_SRC_SAGA)) {
		res->status = TKT_WRONG_NODE;
		res->owner_ip = ev.owner_ip;
		res->owner_port = ev.owner_port;
		return;
	}
	if (rq->seat_id >= ev.nseats || ev.base >= TKT_MAX_SEATS ||
	    rq->seat_id >= TKT_MAX_SEATS - ev.base) {
		res->status = TKT_NO_SUCH_SEAT;
		return;
	}
	res->index = ev.base + rq->seat_id;
	w = tkt_door_seat(d, res->index);
	if (!w) {
		res->status = TKT_NO_SUCH_SEAT;
		return;
	}
	if ((ev.flags & TKT_EVENT_ROOM) && rq->op == TKT_SEAT_HOLD &&
	    !tkt_admit_live(tkt_door_admit(d, rq->slot), rq->event_id, now_ns)) {
		res->status = TKT_NOT_ADMITTED;
		return;
	}
	if ((ev.flags & TKT_EVENT_CLOSED) && rq->op == TKT_SEAT_HOLD) {
		res->status = TKT_NOT_ADMITTED;
		return;
	}
	/* The event's own hold policy replaces the config's where it has a
	 * field, chosen without a branch (tkt_pick): a branch here would
	 * double the verifier's walk of everything below. */
	limit = tkt_pick((ev.flags >> TKT_EVENT_LIMIT_SHIFT) & TKT_EVENT_LIMIT_MAX, limit, 1);
	cap_ms = tkt_pick(((ev.flags >> TKT_EVENT_LIFE_SHIFT) & TKT_EVENT_LIFE_MAX) * 1000u,
			  cap_ms, 1);
	ttl = tkt_pick(((ev.flags >> TKT_EVENT_SECS_SHIFT) & TKT_EVENT_SECS_MAX) * 1000u, ttl,
		       rq->ttl_default & (__u32)refresh & 1u);
	if (refresh && cap_ms && ttl > cap_ms)
		ttl = cap_ms;

	res->status = TKT_RATE_LIMITED; /* if every CAS attempt loses */
	for (i = 0; i < TKT_CAS_RETRIES; i++) {
		__u64 old = tkt_load64(w);

		tkt_seat_transition(old, rq->op, rq->slot, now_ms, ttl, &c);
		if (c.changed && refresh && cap_ms &&
		    c.seen_state == TKT_SEAT_HELD) {
			/* the caller's own live hold: a refresh */
			__u32 t = tkt_door_cap_ttl(d, res->index, now_ms, ttl,
						   cap_ms);

			if (!t)
				tkt_seat_nochange(&c, old, TKT_OK);
			else if (t != ttl)
				tkt_seat_transition(old, rq->op, rq->slot,
						    now_ms, t, &c);
		}
		res->word = c.old_word;
		res->seen_state = c.seen_state;
		if (!c.changed) {
			res->status = c.status;
			break;
		}
		if (counted && counted != c.gain_slot) {
			tkt_door_gain_release(d, counted, rq->event_id, okey);
			counted = 0;
		}
		if (c.gain_slot && !counted) {
			int rc = tkt_door_gain_reserve(
				d, c.gain_slot, rq->event_id, limit, olimit,
				&okey, &res->origin_limited);
			if (rc != TKT_OK) {
				res->status = (__u8)rc;
				break;
			}
			counted = c.gain_slot;
		}
		if (!rec) {
			rec = tkt_door_change_reserve(d);
			if (!rec) {
				tkt_door_stat(d, TKT_STAT_RINGBUF_FULL);
				res->status = TKT_RATE_LIMITED;
				break;
			}
		}
		if (tkt_seat_cas(w, &c)) {
			won = 1;
			break;
		}
	}

	if (won) {
		/* slot_origin of a slot does not change while it has a
		 * count (edge_slot_claim), so this is the key its gain
		 * reserved */
		if (c.lose_slot)
			tkt_door_gain_release(d, c.lose_slot, rq->event_id,
					      tkt_door_origin_key(d, c.lose_slot));
		if (c.seen_state == TKT_SEAT_AVAILABLE &&
		    tkt_sw_claimed(c.new_word))
			tkt_door_since_set(d, res->index, now_ms);
		if (rec) {
			rec->mono_ns = tkt_door_now_ns(d);
			rec->old_word = c.old_word;
			rec->new_word = c.new_word;
			rec->event_id = rq->event_id;
			rec->seat_id = rq->seat_id;
			rec->seat_index = res->index;
			rec->op = (__u8)rq->op;
			rec->source = tkt_door_source(d);
			rec->reserved[0] = 0;
			rec->reserved[1] = 0;
			tkt_door_change_submit(d, rec);
		}
		res->word = c.new_word;
		res->status = TKT_OK;
		res->changed = 1;
		return;
	}
	if (rec)
		tkt_door_change_discard(d, rec);
	if (counted)
		tkt_door_gain_release(d, counted, rq->event_id, okey);
}

TKT_INLINE void tkt_door_apply(struct tkt_door *d, const struct tkt_seat_req *rq,
			       __u64 now_ns, struct tkt_seat_res *res)
{
	tkt_door_apply_at(d, rq, now_ns, tkt_ms32(now_ns), res);
}

/* ---- the UDP protocol ---- */

/* Verdict of a datagram before any state is looked at. */
#define TKT_REQ_DROP (-1) /* not 40 bytes or wrong magic: no answer at all */

/* The source a reply would go to must be one host: never port 0, nor an
 * unspecified, multicast or broadcast address (IPv4 0.0.0.0/8, 224.0.0.0/4,
 * 240.0.0.0/4 with 255.255.255.255; IPv6 :: and ff00::/8). A datagram from
 * anything else is dropped before it costs anything, and not answered: a
 * reply there is reflection. peer holds IPv4 as ::ffff:a.b.c.d; sport is
 * the UDP source port in network byte order. Returns 1 when answerable. */
TKT_INLINE int tkt_source_ok(const struct tkt_peer *peer, __u16 sport)
{
	const __u8 *a = peer->addr;
	__u8 any = 0;
	int i;

	if (sport == 0)
		return 0;
	for (i = 0; i < 10; i++)
		any |= a[i];
	if (!any && a[10] == 0xff && a[11] == 0xff) /* IPv4 */
		return a[12] != 0 && a[12] < 224;
	if (a[0] == 0xff) /* IPv6 multicast */
		return 0;
	any |= a[10] | a[11] | a[12] | a[13] | a[14] | a[15];
	return any != 0; /* :: */
}

/* Hold seconds of a request of either version (the field moved). */
TKT_INLINE __u32 tkt_req_secs(const struct tkt_req *req)
{
	if (req->version == TKT_VERSION_2)
		return tkt_be16(((const struct tkt_req_v2 *)req)->hold_secs);
	return tkt_be16(req->hold_secs);
}

/* Checks a request of len bytes. The length and magic are checked first:
 * anything else gets no answer (so a reply is never larger than its
 * request). Versions 1 and 2 are both well-formed here; whether v1 is
 * served is the door's setting (tkt_door_serve). req must be readable for
 * 40 bytes. Returns TKT_REQ_DROP, TKT_MALFORMED or TKT_OK. */
TKT_INLINE int tkt_req_check(const struct tkt_req *req, __u32 len)
{
	const __u8 *pad = req->pad;
	__u32 op, secs;
	int i;

	if (len != sizeof(struct tkt_req) || tkt_be16(req->magic) != TKT_MAGIC)
		return TKT_REQ_DROP;
	if (req->version == TKT_VERSION_2)
		pad = ((const struct tkt_req_v2 *)req)->pad;
	else if (req->version != TKT_VERSION)
		return TKT_MALFORMED;
	op = req->op;
	if (!tkt_seat_op_on_wire(op))
		return TKT_MALFORMED;
	for (i = 0; i < 6; i++)
		if (pad[i])
			return TKT_MALFORMED;
	secs = tkt_req_secs(req);
	if ((op == TKT_OP_HOLD || op == TKT_OP_EXTEND) && secs != 0 &&
	    (secs < TKT_HOLD_SECS_MIN || secs > TKT_HOLD_SECS_MAX))
		return TKT_MALFORMED;
	return TKT_OK;
}

/* Reply header echoed from the request's first 16 bytes. The version is
 * the request's when we speak it, else our newest, so a client speaking
 * another version learns which one we speak. */
TKT_INLINE void tkt_reply_init(struct tkt_reply *rep, const struct tkt_req *req,
			       __u8 status)
{
	rep->magic = tkt_be16(TKT_MAGIC);
	rep->version = req->version == TKT_VERSION ? TKT_VERSION : TKT_VERSION_2;
	rep->op = req->op | TKT_REPLY_OP_BIT;
	rep->req_id = req->req_id;
	rep->event_id = req->event_id;
	rep->seat_id = req->seat_id;
	rep->status = status;
	rep->zero[0] = 0;
	rep->zero[1] = 0;
	rep->zero[2] = 0;
	rep->counter = 0;
	rep->expiry_ms = 0;
}

#define TKT_DOOR_DROP 0
#define TKT_DOOR_REPLY 1

/* Serves one request, in this order: drop what is not a request (length,
 * magic); drop what is over the source's rate limit (no reply of any
 * status goes to a flooding source: any reply to a spoofed one is
 * reflection); then validation (MALFORMED; also v1 while the config says
 * TKT_CFG_NO_V1), credentials (v1: the token; v2: session id and MAC;
 * expired or forged -> BAD_CREDENTIAL), for v2 the replay window (a
 * request id seen before or older than the window is dropped) and
 * tkt_door_apply. The source itself (tkt_source_ok) is
 * checked by the caller, which knows the port. Fills the 32-byte reply and
 * returns TKT_DOOR_REPLY, or TKT_DOOR_DROP for a datagram that gets no
 * answer. Counts every outcome in the door's stats. req must be readable
 * for 40 bytes (zero-padded past len). */
TKT_INLINE int tkt_door_serve(struct tkt_door *d, const struct tkt_peer *peer,
			      const struct tkt_req *req, __u32 len,
			      __u64 now_ns, struct tkt_reply *rep)
{
	const struct tkt_config *cfg = tkt_door_config(d);
	struct tkt_seat_req sr = {};
	struct tkt_seat_res res = {};
	/* every unit of time this request needs, derived once from the one
	 * clock reading: two divisions a request */
	__u64 now_unix_ms = (now_ns + cfg->unix_offset_ns) / TKT_NS_PER_MS;
	__u32 now_ms = tkt_ms32(now_ns);
	__u32 secs, slot = 0;
	int v = tkt_req_check(req, len);

	if (v == TKT_REQ_DROP) {
		tkt_door_stat(d, TKT_STAT_MALFORMED_DROPPED);
		return TKT_DOOR_DROP;
	}
	if (!tkt_door_rate_ok(d, peer, now_ns)) {
		tkt_door_stat(d, TKT_STAT_RATE_DROPPED);
		return TKT_DOOR_DROP;
	}
	tkt_reply_init(rep, req, TKT_MALFORMED);
	if (v != TKT_OK)
		goto out;
	if (req->version == TKT_VERSION && (cfg->flags & TKT_CFG_NO_V1)) {
		rep->version = TKT_VERSION_2; /* what we speak */
		goto out;
	}

	rep->status = TKT_BAD_CREDENTIAL;
	if (req->version == TKT_VERSION_2) {
		__u64 *win;

		if (tkt_v2_check_ms(&cfg->key, (const __u8 *)req, now_unix_ms,
				    &slot) != TKT_TOKEN_VALID)
			goto out;
		/* only a genuine request moves the window */
		win = tkt_door_replay(d, slot);
		if (!win || tkt_replay_take(win, tkt_be32(req->req_id)) !=
				    TKT_REPLAY_OK) {
			tkt_door_stat(d, TKT_STAT_REPLAY_DROPPED);
			return TKT_DOOR_DROP;
		}
	} else if (tkt_token_check_ms(&cfg->key, req->token, now_unix_ms,
				      &slot) != TKT_TOKEN_VALID) {
		goto out;
	}

	secs = tkt_req_secs(req);
	if (!secs)
		secs = cfg->hold_secs_default ? cfg->hold_secs_default
					      : TKT_HOLD_SECS_DEFAULT;
	sr.event_id = tkt_be32(req->event_id);
	sr.seat_id = tkt_be32(req->seat_id);
	sr.slot = slot;
	sr.ttl_ms = secs * 1000u;
	sr.ttl_default = !tkt_req_secs(req);
	sr.op = req->op;
	tkt_door_apply_at(d, &sr, now_ns, now_ms, &res);

	rep->status = res.status;
	switch (res.status) {
	case TKT_OK:
	case TKT_TAKEN:
	case TKT_SOLD:
	case TKT_NOT_HOLDER:
	case TKT_LIMIT_EXCEEDED:
		/* the seat exists: show its counter and live expiry */
		rep->counter = tkt_be32(tkt_sw_counter(res.word));
		rep->expiry_ms = tkt_be64(
			tkt_sw_expiry_unix_ms(res.word, now_ms, now_unix_ms));
		break;
	case TKT_WRONG_NODE: {
		/* the owner, so the client can go straight there: IPv4 at
		 * 24..27, UDP port at 28..29 (both network order), counter
		 * and bytes 30..31 zero; all zero when the owner is unknown */
		__u8 *x = (__u8 *)&rep->expiry_ms;

		__builtin_memcpy(x, &res.owner_ip, 4);
		__builtin_memcpy(x + 4, &res.owner_port, 2);
		break;
	}
	default:
		break;
	}
out:
	tkt_door_stat(d, rep->status);
	return TKT_DOOR_REPLY;
}

#endif /* TICKET_HOLD_DOOR_H */
