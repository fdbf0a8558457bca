/* Structs of the edge's maps, seen by the XDP program and by ticketd.
 *
 * Every map is pinned under /sys/fs/bpf/ticket/ (see bpf/README.md) and
 * reused by a restarted daemon, so these layouts are an on-disk format too:
 * changing one makes the reuse of existing pins fail with a parameter
 * mismatch instead of silently reading garbage. Add fields only where there
 * is reserved room, or bump the map's name. */
#ifndef TICKET_MAPS_H
#define TICKET_MAPS_H

#include <linux/types.h>

#include "bpf/session_token.h"
#include "bpf/ticket_wire.h"

#define TKT_PIN_DIR_DEFAULT "/sys/fs/bpf/ticket"

/* Event ids the edge serves: 0..TKT_MAX_EVENTS-1, the index of the
 * "events" array. edge_set_event refuses a larger id (-ERANGE, so ticketd
 * does not start with such an event), and a request for one answers
 * NO_SUCH_SEAT in both doors. */
#define TKT_MAX_EVENTS 4096
/* Entries of the "counts" map: (slot, event) and (origin, event) pairs.
 * An entry with a non-zero count needs a HELD or ORDERED seat word of that
 * event, so at most TKT_MAX_SEATS entries of each kind are non-zero; the
 * rest of the room is headroom for entries at zero between two collections
 * (see the retire protocol above tkt_count_take in bpf/hold_door.h). */
#define TKT_MAX_HOLD_KEYS (4u * TKT_MAX_SEATS)
/* A count word that was retired: its entry is being deleted. A door that
 * still holds a pointer to it treats it as gone (takes look the key up
 * again, gives ignore it). Never a real count: limits stay below it. */
#define TKT_COUNT_DEAD 0xffffffffu
/* The largest count a take may reach: "no limit". */
#define TKT_COUNT_MAX (TKT_COUNT_DEAD - 1)
/* Internal answers of the count primitives (never on the wire): the word
 * was retired under us (look the key up again), and no room for a key. */
#define TKT_COUNT_GONE (-1)
#define TKT_COUNT_FULL (-3)
/* The slot's own word ("slot_counts") counts another event: the count of
 * this (slot, event) pair lives in "counts". */
#define TKT_COUNT_ELSEWHERE (-4)
/* Counts keyed by a session's origin (the keyed hash of the client address
 * that created it, slot_origin) set this bit in tkt_hold_key.slot; session
 * slots are 22 bits, so the two kinds never meet. */
#define TKT_COUNT_ORIGIN_BIT 0x80000000u
#define TKT_ORIGIN_HASH_MASK 0x7fffffffu
/* Buckets of the per-source rate limit ("ratelimit" array, and the socket
 * door's twin): a source uses bucket tkt_rl_bucket(seed, source). */
#define TKT_RL_BUCKETS (1u << 16)
/* Power of two, as the ring buffer requires: ~200k records of backlog. */
#define TKT_CHANGES_BYTES (8u << 20)

#define TKT_HOLD_LIMIT_DEFAULT 8
#define TKT_NS_PER_SEC 1000000000ull
#define TKT_NS_PER_MS 1000000ull

/* Config map, key 0. Written by ticketd; the XDP program only reads it.
 * While udp_port is 0 the program passes every packet (door closed), so a
 * freshly created map with all zeroes is safe. */
struct tkt_config {
	struct tkt_token_key key; /* SipHash key of session tokens */
	/* CLOCK_REALTIME - CLOCK_MONOTONIC in ns: turns bpf_ktime_get_ns()
	 * into wall time for token expiry and for reply expiries. ticketd
	 * measures it when it installs the config at start; a later step of
	 * the wall clock is followed only at the next start. */
	__u64 unix_offset_ns;
	__u32 udp_port;          /* host byte order; 0 = door closed */
	__u32 hold_secs_default; /* for hold seconds 0 on the wire; 0 = 120 */
	__u32 hold_limit;        /* per session per event; 0 = 8 */
	/* Per-source token bucket (GCRA): rl_rate requests per second with
	 * bursts of rl_burst; rl_rate 0 disables the limit. */
	__u32 rl_rate;
	__u32 rl_burst;
	__u32 flags; /* TKT_CFG_*; was reserved[0] */
	/* Seats all sessions minted from one origin (client address, IPv6 by
	 * its /64) may hold or order per event, both doors; 0 = no limit. */
	__u32 origin_hold_limit;
	/* A hold's total lifetime from the moment it started, extensions and
	 * refreshes included, seconds; 0 = no cap. */
	__u32 hold_lifetime_max_secs;
	/* Key of the hash that picks a source's rate-limit bucket
	 * (tkt_rl_bucket); edge_set_config draws one when it is 0. Was
	 * reserved_tail[2]: same size, pins stay compatible. */
	__u64 rl_seed;
};

/* tkt_config.flags. All zero is the old behaviour (v1 served). */
#define TKT_CFG_NO_V1 (1u << 0) /* v1 requests answered MALFORMED (v2 only) */

_Static_assert(sizeof(struct tkt_config) == 64, "config is 64 bytes");

/* Events map: event id -> where its seats live. Absent (in the array: an
 * entry with nseats 0, never declared) -> NO_SUCH_SEAT;
 * present but owned == 0 -> WRONG_NODE (the shard map gives the event to
 * another node; the entry stays so the answer is precise). */
struct tkt_event {
	__u32 base;   /* index of seat 0 in the seats array */
	__u32 nseats; /* seat ids are 0..nseats-1 */
	__u32 owned; /* TKT_OWNED_* */
	__u32 flags; /* TKT_EVENT_*; was reserved (0: no flag set) */
	/* The owner when owned is not TKT_OWNED_YES (issue #16): its IPv4
	 * address and UDP port, network byte order, as the bytes a
	 * WRONG_NODE reply carries at offsets 24..29; 0 when unknown. Added
	 * in 24-byte entries: ticketd drops an "events" pin of the older
	 * 16-byte size (the entries are declared again at every start). */
	__u32 owner_ip;
	__u16 owner_port;
	__u16 owner_pad;
};

_Static_assert(sizeof(struct tkt_event) == 24, "events entry is 24 bytes");

TKT_INLINE void tkt_event_set_owner(struct tkt_event *ev, __u32 ip_be,
				    __u16 port_be)
{
	ev->owner_ip = ip_be;
	ev->owner_port = port_be;
	ev->owner_pad = 0;
}

/* tkt_event.owned. Multi-node (issue #16): an event another node owns is
 * TKT_OWNED_NO; while this node takes it over (its words rebuilt from
 * MariaDB and the journal) it is TKT_OWNED_REBUILD, which every door
 * answers WRONG_NODE except the daemon's own restore ops (source
 * TKT_SRC_SAGA); then TKT_OWNED_YES. */
#define TKT_OWNED_NO 0u
#define TKT_OWNED_YES 1u
#define TKT_OWNED_REBUILD 2u

/* tkt_event.flags. */
/* The event has a waiting room: a HOLD needs the holder slot's live
 * admission to this event ("admits" below), else NOT_ADMITTED. */
#define TKT_EVENT_ROOM (1u << 0)
/* The event sells nothing now (outside its sale window, or cancelled): a
 * HOLD is refused NOT_ADMITTED with nothing changed; RELEASE, EXTEND and
 * QUERY go on as before. */
#define TKT_EVENT_CLOSED (1u << 1)
/* The event's own hold policy, 0 in a field = the config's value:
 *   bits 2..7    hold limit per session (1..63)
 *   bits 8..17   hold seconds for hold seconds 0 on the wire (5..600)
 *   bits 18..31  hold lifetime cap, seconds (1..16383) */
#define TKT_EVENT_LIMIT_SHIFT 2
#define TKT_EVENT_LIMIT_MAX 63u
#define TKT_EVENT_SECS_SHIFT 8
#define TKT_EVENT_SECS_MAX 1023u
#define TKT_EVENT_LIFE_SHIFT 18
#define TKT_EVENT_LIFE_MAX 16383u
#define TKT_EVENT_POLICY_MASK (~(TKT_EVENT_ROOM | TKT_EVENT_CLOSED))

TKT_INLINE __u32 tkt_event_policy(__u32 hold_limit, __u32 hold_secs,
				  __u32 life_secs)
{
	return (hold_limit & TKT_EVENT_LIMIT_MAX) << TKT_EVENT_LIMIT_SHIFT |
	       (hold_secs & TKT_EVENT_SECS_MAX) << TKT_EVENT_SECS_SHIFT |
	       (life_secs & TKT_EVENT_LIFE_MAX) << TKT_EVENT_LIFE_SHIFT;
}

/* Admits map ("admits" pin, <dir>/admits in shm): one __u64 per holder
 * slot, index 0..TKT_SLOT_MAX, the slot's admission through an event's
 * waiting room, written by ticketd with one atomic store, read by the
 * doors with one load:
 *   bits 63..32  event id it admits to
 *   bits 31..0   expiry: CLOCK_MONOTONIC in ticks of 2^TKT_ADMIT_SHIFT ns
 *                (16.78 ms), mod 2^32, rounded up
 * 0 = no admission (an all-zero word for event 0 is written one tick
 * later, as 1). Live while (__s32)(expiry - now_tick) > 0: the ticks make
 * a wrap (2^31 ticks, 417 days) longer than any session (session_ttl is
 * at most a year), so a stale word cannot come back to life within its
 * session, and a slot given to a new session is cleared (edge_slot_claim).
 * An admission may outlive its ttl by less than one tick, never fall
 * short of it. See tkt_admit_word / tkt_admit_live in bpf/hold_door.h. */
#define TKT_ADMIT_ENTRIES (TKT_SLOT_MAX + 1)
#define TKT_ADMIT_SHIFT 24
/* Longest admission edge_admit accepts, ms (about 24.8 days). */
#define TKT_ADMIT_TTL_MAX_MS 0x7fffffffu

/* Count map key: seats a session slot has HELD or ORDERED in one event,
 * counted across both doors (value: __u32). The invariant is
 * count(slot, event) == number of HELD/ORDERED words (lapsed or not) of that
 * event whose holder is slot. With TKT_COUNT_ORIGIN_BIT in slot, the key
 * counts the same for every slot whose slot_origin is slot's low 31 bits.
 * An absent key is a count of 0. */
struct tkt_hold_key {
	__u32 slot;
	__u32 event_id;
};

/* "slot_counts": one __u64 per session slot (index 0..TKT_SLOT_MAX), the
 * count of one (slot, event) pair kept out of the "counts" hash: event id
 * + 1 in the high 32 bits (0 = no event yet), the count in the low 32.
 * The first event a slot counts a seat in takes the word, and the word
 * keeps that event (at any count, 0 included) until the slot is given to
 * a new session with nothing counted (edge_slot_claim) or the table is
 * reset; the pair's count is then always in the word, never in "counts",
 * and every other event of the slot is counted in "counts" as before. So
 * a pair's count has exactly one home, chosen by the word's event, and a
 * take is one array load and one CAS instead of a hash lookup. */
#define TKT_SLOT_COUNT_ENTRIES (TKT_SLOT_MAX + 1)

/* A request's source address; IPv4 as ::ffff:a.b.c.d. Its rate-limit
 * bucket is a __u64 theoretical arrival time in monotonic ns (GCRA), one
 * word so it can be updated with a single CAS from any CPU. */
struct tkt_peer {
	__u8 addr[16];
};

/* Replay map (v2): one __u64 per holder slot, index 0..TKT_SLOT_MAX: the
 * highest request id accepted from that slot (high 32 bits) and a bitmap
 * of the 32 ids below it (bit k = id - 1 - k seen). One CAS per request.
 * Zeroed when a slot is given to a new session (edge_replay_reset). */
#define TKT_REPLAY_ENTRIES (TKT_SLOT_MAX + 1)
#define TKT_REPLAY_WINDOW 32

enum tkt_change_source {
	TKT_SRC_XDP = 1,
	TKT_SRC_SOCKET = 2,
	TKT_SRC_REST = 3,
	TKT_SRC_SWEEPER = 4,
	TKT_SRC_SAGA = 5,
	/* ownership moved (issue #16): the words of an event this node does
	 * not own are cleared; its journal belongs to the owner, so the
	 * journal sink skips these records */
	TKT_SRC_SHARD = 6,
};

/* One record per successful seat-word change, in the "changes" ring buffer
 * (XDP, in batches: below) or ticketd's userspace queue (other doors). old_word -> new_word is
 * exactly the CAS that happened; the counters in them let the consumer put
 * records of one seat back in causal order (see edge_poll_changes). */
struct tkt_change {
	/* CLOCK_MONOTONIC: taken right after the CAS by ticketd's doors; the
	 * XDP program reuses the reading its request was served at (one
	 * clock read per decision), at most a few hundred ns earlier. */
	__u64 mono_ns;
	__u64 old_word;
	__u64 new_word;
	__u32 event_id;
	__u32 seat_id;
	__u32 seat_index; /* base + seat_id: position in the seats array */
	__u8 op;          /* enum tkt_seat_op */
	__u8 source;      /* enum tkt_change_source */
	__u8 reserved[2];
};

_Static_assert(sizeof(struct tkt_change) == 40, "change record is 40 bytes");

/* The XDP program hands its change records to the ring in batches (issue
 * #14): each CPU collects up to TKT_CHANGE_BATCH of them in its entry of
 * the per-CPU "change_batch" map and writes them to the ring as one record
 * when the batch is full, or at the first change TKT_CHANGE_BATCH_AGE_NS
 * or more after the batch's first (by the packet clock); ticketd runs the
 * change_flush program on every CPU whose batch is not empty about once a
 * millisecond, so a CPU that goes quiet does not keep its changes.
 *
 * A ring record is n (1..TKT_CHANGE_BATCH) struct tkt_change back to back
 * and nothing else: its size says n (tkt_change_record_count). Records
 * are internal to the program and ticketd, never on the wire.
 *
 * Each CPU's entry has two halves. The XDP program only ever touches
 * half[cur]: it reserves the slot rec[n] (busy set), and its submit
 * commits it (n + 1) and writes the half to the ring when full or old.
 * change_flush writes out the other half if a full ring left it there,
 * then switches cur and writes out the half it left. Run from an IPI on
 * that CPU it may have interrupted the XDP program: then it finds busy
 * and does nothing (ticketd tries at its next tick). Run on its caller's
 * own CPU the XDP program may interrupt it: it then finds cur either not
 * yet switched (its changes go out with the half the flush writes) or
 * switched (they go into the half the flush does not touch), so the XDP
 * program never waits and never falls back. Only one flush may run at a
 * time (ticketd's consumer, under its poll lock). See change_flush in
 * bpf/seat_hold.bpf.c. */
#define TKT_CHANGE_BATCH 16u
#define TKT_CHANGE_BATCH_AGE_NS (1 * TKT_NS_PER_MS)

struct tkt_change_half {
	__u32 n;        /* changes in rec[0..n), not yet in the ring */
	__u32 pad;
	__u64 first_ns; /* the packet clock of rec[0] */
	struct tkt_change rec[TKT_CHANGE_BATCH];
};

struct tkt_change_batch {
	__u32 cur;  /* the half the XDP program fills (0 or 1) */
	__u32 busy; /* 1 while the XDP program is in half[cur] */
	struct tkt_change_half half[2];
};

_Static_assert(sizeof(struct tkt_change_batch) == 8 + 2 * (16 + 40 * 16),
	       "change batch layout");

/* Changes in a ring record of size bytes, or -1 when the size is not that
 * of 1..TKT_CHANGE_BATCH changes. */
TKT_INLINE int tkt_change_record_count(__u64 size)
{
	if (size == 0 || size % sizeof(struct tkt_change) != 0 ||
	    size / sizeof(struct tkt_change) > TKT_CHANGE_BATCH)
		return -1;
	return (int)(size / sizeof(struct tkt_change));
}

/* change_flush's return value (the test run's retval). */
#define TKT_FLUSH_EMPTY 0 /* nothing was waiting */
#define TKT_FLUSH_DONE 1  /* the batch went to the ring */
#define TKT_FLUSH_BUSY 2  /* the XDP program was in it: try again later */
#define TKT_FLUSH_FULL 3  /* the ring had no room: the changes are kept */

/* Per-CPU counters in the stats map (and ticketd's own for the socket
 * door). Indices 0..TKT_STATUS_COUNT-1 count replies by status. */
enum tkt_stat {
	TKT_STAT_DROPPED = TKT_STATUS_COUNT, /* could not build a reply */
	TKT_STAT_PASSED,                     /* not ours: XDP_PASS */
	TKT_STAT_MALFORMED_DROPPED,          /* not 40 bytes, bad magic, bad UDP */
	TKT_STAT_RINGBUF_FULL,               /* answered RATE_LIMITED for it */
	TKT_STAT_UNSENDABLE,     /* socket door: reply refused by sendmmsg */
	TKT_STAT_SOURCE_DROPPED, /* source port 0 or non-unicast source */
	TKT_STAT_RATE_DROPPED,   /* over the per-source limit: no reply */
	TKT_STAT_REPLAY_DROPPED, /* v2: request id seen or older than window */
	TKT_STAT_COUNT,
};

/* Entries of the stats map: room for new counters without changing the
 * pinned map's definition. */
#define TKT_STAT_SLOTS 32
_Static_assert(TKT_STAT_COUNT <= TKT_STAT_SLOTS, "stats map too small");

/* The seat table's identity ("table_meta" map key 0 in the bpf backend,
 * the file <dir>/meta in the shm one): what the words were built for.
 * ticketd compares it with its database at start and treats a table that
 * differs, or has none (magic 0: older pins, or a rebuild that never
 * finished), as a fresh node (userspace/ticketd/edge_setup.c). The XDP
 * program never reads it. */
#define TKT_META_MAGIC 0x4d544b54u /* "TKTM" */
#define TKT_META_VERSION 1u
#define TKT_META_ID_MAX 40 /* a UUID (36 characters) and its NUL */
struct tkt_table_meta {
	__u32 magic;   /* TKT_META_MAGIC once written; 0 = none */
	__u32 version; /* TKT_META_VERSION */
	__u64 layout;  /* fingerprint of the event layout (edge_layout_mix) */
	char db_id[TKT_META_ID_MAX];   /* the database's identity */
	char boot_id[TKT_META_ID_MAX]; /* kernel boot id when written */
	/* shm: 1 after an orderly close, 0 while a process has it open */
	__u32 clean;
	__u32 reserved[7];
};

_Static_assert(sizeof(struct tkt_table_meta) == 128, "meta is 128 bytes");

/* Argument block of the "hold_count" syscall program: lets ticketd change a
 * count with the same kernel atomics the XDP program uses (a map update
 * from userspace would overwrite a concurrent XDP increment). */
struct tkt_count_args {
	__u32 slot;
	__u32 event_id;
	__u32 limit; /* for delta +1: refuse at this count */
	__s32 delta; /* +1 reserve (limited), -1 release, or any (unlimited add) */
	__s32 result; /* out: TKT_OK, TKT_LIMIT_EXCEEDED, TKT_RATE_LIMITED,
			 TKT_COUNT_FULL (no room for a new key) */
	__u32 count;  /* out: the count after the operation */
};

/* Out block of the "count_collect" syscall program. */
struct tkt_collect_args {
	__u32 seen;    /* entries visited */
	__u32 retired; /* entries at 0 retired and deleted */
};

#endif /* TICKET_MAPS_H */
