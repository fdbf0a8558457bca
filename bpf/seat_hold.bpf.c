// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* xdp_seat_hold: the UDP hold protocol (v1 and v2) served from XDP.
 *
 * Ethernet -> IPv4 (no options, no fragments) or IPv6 (UDP directly after
 * the fixed header) -> UDP to the configured port; everything else passes
 * untouched. The request is copied to the stack and served by
 * tkt_door_serve() (bpf/hold_door.h), the code the socket door runs too; the
 * 32-byte reply is written over the request and sent back out of the same
 * interface with XDP_TX.
 *
 * Also here: xdp_pass (for the host-side veth peer, which must run an XDP
 * program for XDP_TX frames to arrive), hold_count, a syscall program
 * through which ticketd changes hold counts with the same atomics, and
 * change_flush, which writes a quiet CPU's batch of change records to the
 * ring. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/hold_door.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Seat words of every event, TKT_MAX_SEATS u64s; ticketd mmaps it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TKT_MAX_SEATS);
} seats SEC(".maps");

/* Event id (0..TKT_MAX_EVENTS-1, the index) -> struct tkt_event (base
 * index, seat count, owned here?); nseats 0 = no such event. An array: one
 * bounds check and an add instead of hashing the id (was a hash; ticketd
 * replaces an old pin, bpf/README.md). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct tkt_event);
	__uint(max_entries, TKT_MAX_EVENTS);
} events SEC(".maps");

/* One struct tkt_config at key 0: token key, clocks, port, limits. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct tkt_config);
	__uint(max_entries, 1);
} config SEC(".maps");

/* {slot, event} -> seats that slot has HELD or ORDERED in that event, and
 * {ORIGIN_BIT | origin hash, event} -> the same for every slot of that
 * origin. Entries at 0 are retired and deleted by count_collect (ticketd
 * runs it every 1-5 s; bpf/hold_door.h), so it shrinks. Replaces "hold_counts" (never shrank; its pin is removed). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct tkt_hold_key);
	__type(value, __u32);
	__uint(max_entries, TKT_MAX_HOLD_KEYS);
} counts SEC(".maps");

/* Session slot -> the count of one event of that slot's, kept out of
 * counts (bpf/ticket_maps.h, above TKT_SLOT_COUNT_ENTRIES): a take of
 * the slot's first event is one array load and one CAS instead of a hash
 * lookup in counts' 64 MiB of buckets. ticketd mmaps it (reads a count,
 * frees the word of a slot given to a new session, zeroes it on reset). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TKT_SLOT_COUNT_ENTRIES);
} slot_counts SEC(".maps");

/* The two u32 arrays below are stored as u64 pairs: an ARRAY map rounds
 * each value up to 8 bytes, and ticketd mmaps them as plain u32 arrays
 * (entry i at byte 4 * i), so entry i is half (i & 1) of element i / 2. */

/* Session slot -> keyed hash of the client address that created it (31
 * bits, 0 = unknown: not counted per origin). Written by ticketd. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, (TKT_SLOT_MAX + 1) / 2);
} slot_origin SEC(".maps");

/* Seat index -> monotonic ms (mod 2^32) at which its current hold
 * started: the base of the hold lifetime cap. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TKT_MAX_SEATS / 2);
} seat_since SEC(".maps");

/* Bucket (tkt_rl_bucket: keyed hash of the source address) -> GCRA
 * theoretical arrival time (ns), the per-source limit; 0 = never used.
 * Was an LRU hash keyed by the address (ticketd removes an old pin). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TKT_RL_BUCKETS);
} ratelimit SEC(".maps");

/* Per-CPU counters, indexed by enum tkt_stat (replies by status first).
 * TKT_STAT_SLOTS entries, more than there are counters, so adding one does
 * not change the pinned definition (it was "stats", TKT_STAT_COUNT long).
 * Renamed from "door_stats" when status 10 (NOT_ADMITTED) moved the
 * indices after the statuses: a reused pin would mislabel its counts. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TKT_STAT_SLOTS);
} door_counters SEC(".maps");

/* v2 replay window per holder slot (bpf/ticket_maps.h); ticketd mmaps it
 * to zero a slot's word when the slot gets a new session. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TKT_REPLAY_ENTRIES);
} replay SEC(".maps");

/* Holder slot -> its admission through a waiting room (event id, expiry;
 * bpf/ticket_maps.h). Written by ticketd through the mmap, one store. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, TKT_ADMIT_ENTRIES);
} admits SEC(".maps");

/* struct tkt_change per successful seat change, for ticketd to consume. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TKT_CHANGES_BYTES);
} changes SEC(".maps");

/* This CPU's batch of change records not yet in the ring (struct
 * tkt_change_batch, bpf/ticket_maps.h): the XDP program fills it, and
 * writes it to the ring when full or old; change_flush writes it for a
 * CPU that went quiet. Pinned like the rest: changes a batch holds when
 * ticketd stops reach the ring through the next daemon's flush. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct tkt_change_batch);
	__uint(max_entries, 1);
} change_batch SEC(".maps");

/* The table's identity (struct tkt_table_meta at key 0): written and read
 * by ticketd only, never by the programs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct tkt_table_meta);
	__uint(max_entries, 1);
} table_meta SEC(".maps");

/* ---- the door hooks of bpf/hold_door.h, over the maps above ---- */

/* The GCRA interval of the configured rate, cached: rate << 32 |
 * TKT_NS_PER_SEC / rate (the interval fits 32 bits), recomputed when the
 * rate changes, so the division is not paid per packet. */
__u64 rl_interval;

struct tkt_door {
	const struct tkt_config *cfg;
	/* The one bpf_ktime_get_ns() of this decision: a clock read costs
	 * about 30 ns here (a tenth of the program), so the change record is
	 * stamped with the reading the request was served at instead of a
	 * second one after the CAS. */
	__u64 now_ns;
	/* Set by tkt_door_change_reserve: the half of this CPU's change
	 * batch the reserved record is in, and its busy flag */
	struct tkt_change_half *half;
	__u32 *busy;
};

TKT_INLINE const struct tkt_config *tkt_door_config(struct tkt_door *d)
{
	return d->cfg;
}

TKT_INLINE int tkt_door_event(struct tkt_door *d, __u32 event_id,
			      struct tkt_event *ev)
{
	struct tkt_event *e;

	if (event_id >= TKT_MAX_EVENTS)
		return -1; /* out of the table's range: NO_SUCH_SEAT */
	e = bpf_map_lookup_elem(&events, &event_id);
	if (!e)
		return -1;
	*ev = *e;
	return 0;
}

TKT_INLINE __u64 *tkt_door_seat(struct tkt_door *d, __u32 index)
{
	return bpf_map_lookup_elem(&seats, &index);
}

/* One unit of the count of {slot, event} (slot may be an origin key): the
 * entry is created at 0 on first use (losing the creation race to another
 * CPU is fine: both then find the same entry); a retired entry is looked up
 * again (see the retire protocol in bpf/hold_door.h). TKT_OK,
 * TKT_LIMIT_EXCEEDED, TKT_RATE_LIMITED, or TKT_COUNT_FULL (no room).
 * Global (not static): the verifier checks it once, not once per path of
 * its callers, which keeps xdp_seat_hold under the verifier's budget. */
__noinline int count_take(__u32 slot, __u32 event_id, __u32 limit)
{
	struct tkt_hold_key k = {.slot = slot, .event_id = event_id};
	__u32 zero = 0, *p;
	__u64 *w;
	int i, rc;

	/* a session slot's own word first (origin keys are hashes: counts) */
	w = bpf_map_lookup_elem(&slot_counts, &slot);
	if (w) {
		rc = tkt_slot_count_take(w, event_id, limit);
		if (rc != TKT_COUNT_ELSEWHERE)
			return rc;
	}
	for (i = 0; i < 3; i++) {
		p = bpf_map_lookup_elem(&counts, &k);
		if (!p) {
			bpf_map_update_elem(&counts, &k, &zero, BPF_NOEXIST);
			p = bpf_map_lookup_elem(&counts, &k);
			if (!p)
				return TKT_COUNT_FULL;
		}
		rc = tkt_count_take(p, limit);
		if (rc != TKT_COUNT_GONE)
			return rc;
	}
	return TKT_RATE_LIMITED;
}

/* Gives one unit back; an entry at 0 stays for count_collect to retire
 * and delete (tkt_count_drop: no delete and re-insert per hold/release). */
__noinline int count_give(__u32 slot, __u32 event_id)
{
	struct tkt_hold_key k = {.slot = slot, .event_id = event_id};
	__u64 *w = bpf_map_lookup_elem(&slot_counts, &slot);
	__u32 *p;

	if (w && tkt_slot_count_give(w, event_id) == TKT_OK)
		return 0;
	p = bpf_map_lookup_elem(&counts, &k);
	if (p)
		tkt_count_drop(p);
	return 0;
}

/* The count of {slot, event} wherever it lives (0 if none). */
static __always_inline __u32 count_get(__u32 slot, __u32 event_id)
{
	struct tkt_hold_key k = {.slot = slot, .event_id = event_id};
	__u64 *w = bpf_map_lookup_elem(&slot_counts, &slot);
	__u32 count = 0, *p;

	if (w && tkt_slot_count_get(tkt_load64(w), event_id, &count))
		return count;
	p = bpf_map_lookup_elem(&counts, &k);
	if (p) {
		count = *(volatile __u32 *)p;
		if (count == TKT_COUNT_DEAD)
			count = 0;
	}
	return count;
}

TKT_INLINE int tkt_door_count_reserve(struct tkt_door *d, __u32 slot,
				      __u32 event_id, __u32 limit)
{
	int rc = count_take(slot, event_id, limit);

	return rc == TKT_COUNT_FULL ? TKT_RATE_LIMITED : rc;
}

TKT_INLINE void tkt_door_count_release(struct tkt_door *d, __u32 slot,
				       __u32 event_id)
{
	count_give(slot, event_id);
}

/* Entry i of a u32 array stored as u64 pairs (see slot_origin). */
static __always_inline __u32 *u32_entry(void *map, __u32 i)
{
	__u32 k = i >> 1;
	__u32 *p = bpf_map_lookup_elem(map, &k);

	return p ? p + (i & 1) : p;
}

TKT_INLINE __u32 tkt_door_origin(struct tkt_door *d, __u32 slot)
{
	__u32 *p = u32_entry(&slot_origin, slot);

	return p ? *(volatile __u32 *)p : 0;
}

TKT_INLINE void tkt_door_since_set(struct tkt_door *d, __u32 index, __u32 ms)
{
	__u32 *p = u32_entry(&seat_since, index);

	if (p)
		*(volatile __u32 *)p = ms;
}

TKT_INLINE int tkt_door_since_get(struct tkt_door *d, __u32 index, __u32 *ms)
{
	__u32 *p = u32_entry(&seat_since, index);

	if (!p)
		return -1;
	*ms = *(volatile __u32 *)p;
	return 0;
}

#define barrier() asm volatile("" ::: "memory")

/* Writes a half's changes to the ring as one record (no wakeup: ticketd
 * polls the ring, and a wakeup would cost more than the rest of the
 * program). 0 (also for an empty half), or <0 when the ring has no room:
 * the half is then kept whole, for the next try, and nothing is lost. */
static __always_inline int half_flush(struct tkt_change_half *h)
{
	__u32 n = *(volatile __u32 *)&h->n;

	if (n == 0 || n > TKT_CHANGE_BATCH)
		return 0;
	if (bpf_ringbuf_output(&changes, h->rec,
			       n * sizeof(struct tkt_change), BPF_RB_NO_WAKEUP))
		return -1;
	*(volatile __u32 *)&h->n = 0;
	return 0;
}

/* A record is the next slot of this CPU's current half (busy set until
 * submit or discard). NULL when the half is full and the ring cannot take
 * it (nothing is lost: the caller answers RATE_LIMITED and counts it). */
TKT_INLINE struct tkt_change *tkt_door_change_reserve(struct tkt_door *d)
{
	__u32 k = 0, n;
	struct tkt_change_batch *b = bpf_map_lookup_elem(&change_batch, &k);
	struct tkt_change_half *h;

	if (!b)
		return (struct tkt_change *)0; /* cannot happen */
	*(volatile __u32 *)&b->busy = 1;
	barrier();
	h = &b->half[*(volatile __u32 *)&b->cur & 1];
	n = *(volatile __u32 *)&h->n;
	if (n >= TKT_CHANGE_BATCH) {
		/* full: its last write found the ring full */
		if (half_flush(h) < 0) {
			barrier();
			*(volatile __u32 *)&b->busy = 0;
			return (struct tkt_change *)0;
		}
	}
	/* read again (0 after a write-out) and masked, so both ways
	 * leave the verifier one and the same state */
	n = *(volatile __u32 *)&h->n & (TKT_CHANGE_BATCH - 1);
	d->half = h;
	d->busy = &b->busy;
	return &h->rec[n];
}

/* Commits the slot; the half goes to the ring when that fills it or when
 * its first change is TKT_CHANGE_BATCH_AGE_NS old. A ring with no room
 * keeps it for the next reserve, or change_flush, to retry. */
TKT_INLINE void tkt_door_change_submit(struct tkt_door *d,
				       struct tkt_change *rec)
{
	struct tkt_change_half *h = d->half;
	__u32 n;

	barrier(); /* the record's fields are written before it counts */
	n = *(volatile __u32 *)&h->n + 1;
	if (n == 1)
		h->first_ns = d->now_ns;
	*(volatile __u32 *)&h->n = n;
	if (n >= TKT_CHANGE_BATCH ||
	    d->now_ns - h->first_ns >= TKT_CHANGE_BATCH_AGE_NS)
		half_flush(h);
	barrier();
	*(volatile __u32 *)d->busy = 0;
}

/* A slot left unused is simply not counted. */
TKT_INLINE void tkt_door_change_discard(struct tkt_door *d,
					struct tkt_change *rec)
{
	barrier();
	*(volatile __u32 *)d->busy = 0;
}

TKT_INLINE int tkt_door_rate_ok(struct tkt_door *d, const struct tkt_peer *p,
				__u64 now_ns)
{
	__u32 rate = d->cfg->rl_rate, b;
	__u64 *tat, iv = rl_interval;

	if (!rate)
		return 1;
	/* rate << 32 | interval, one word so no CPU reads a torn pair */
	if ((__u32)(iv >> 32) != rate) {
		iv = (__u64)rate << 32 | tkt_gcra_interval(rate);
		rl_interval = iv;
	}
	b = tkt_rl_bucket(d->cfg->rl_seed, p);
	tat = bpf_map_lookup_elem(&ratelimit, &b);
	if (!tat)
		return 1; /* cannot happen: b < TKT_RL_BUCKETS */
	return tkt_gcra_take_iv(tat, now_ns, (__u32)iv, d->cfg->rl_burst);
}

TKT_INLINE void tkt_door_stat(struct tkt_door *d, __u32 index)
{
	__u64 *v = bpf_map_lookup_elem(&door_counters, &index);

	if (v)
		*v += 1; /* per-CPU: no atomics needed */
}

TKT_INLINE __u64 tkt_door_now_ns(struct tkt_door *d)
{
	return d->now_ns;
}

TKT_INLINE __u8 tkt_door_source(struct tkt_door *d)
{
	return TKT_SRC_XDP;
}

TKT_INLINE __u64 *tkt_door_replay(struct tkt_door *d, __u32 slot)
{
	return bpf_map_lookup_elem(&replay, &slot);
}

TKT_INLINE __u64 tkt_door_admit(struct tkt_door *d, __u32 slot)
{
	__u64 *w = bpf_map_lookup_elem(&admits, &slot);

	return w ? *(volatile __u64 *)w : 0;
}

/* ---- parsing: one helper per header, each bounds-checks once ---- */

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

struct cursor {
	void *pos;
};

/* Returns the EtherType (network order) or -1. */
static __always_inline int parse_eth(struct cursor *c, void *end,
				     struct ethhdr **eth)
{
	struct ethhdr *h = c->pos;

	if ((void *)(h + 1) > end)
		return -1;
	c->pos = h + 1;
	*eth = h;
	return h->h_proto;
}

/* Returns the L4 protocol, or -1 for what we do not serve: options (rare,
 * and echoing them into a reply makes no sense) and fragments (the request
 * is not all here). Both go to the stack. */
static __always_inline int parse_ipv4(struct cursor *c, void *end,
				      struct iphdr **out)
{
	struct iphdr *ip = c->pos;

	if ((void *)(ip + 1) > end)
		return -1;
	if (ip->version != 4 || ip->ihl != 5)
		return -1;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return -1;
	c->pos = ip + 1;
	*out = ip;
	return ip->protocol;
}

/* Returns the next header; extension headers are not followed, so a
 * request behind one passes to the stack. */
static __always_inline int parse_ipv6(struct cursor *c, void *end,
				      struct ipv6hdr **out)
{
	struct ipv6hdr *ip6 = c->pos;

	if ((void *)(ip6 + 1) > end)
		return -1;
	if (ip6->version != 6)
		return -1;
	c->pos = ip6 + 1;
	*out = ip6;
	return ip6->nexthdr;
}

/* Returns the destination port (network order) or -1. */
static __always_inline int parse_udp(struct cursor *c, void *end,
				     struct udphdr **out)
{
	struct udphdr *u = c->pos;

	if ((void *)(u + 1) > end)
		return -1;
	c->pos = u + 1;
	*out = u;
	return u->dest;
}

/* ---- the reply ---- */

static __always_inline __u16 csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __always_inline void stat_inc(__u32 index)
{
	tkt_door_stat((struct tkt_door *)0, index);
}

static __always_inline void swap_macs(struct ethhdr *eth)
{
	__u8 tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

/* The wire structs are packed (alignment 1), so clang copies and reads
 * them a byte at a time unless it knows better. The program keeps its
 * request and reply in these 8-byte aligned copies and moves them between
 * packet and stack in 8-byte words: the reads of fields and the token's
 * little-endian loads then become word loads (about 150 byte loads and
 * stores fewer per request; x86 allows the unaligned packet accesses). */
union req_buf {
	struct tkt_req r;
	__u64 w[sizeof(struct tkt_req) / 8];
};

union reply_buf {
	struct tkt_reply r;
	__u64 w[sizeof(struct tkt_reply) / 8];
};

_Static_assert(sizeof(union req_buf) == sizeof(struct tkt_req), "req words");
_Static_assert(sizeof(union reply_buf) == sizeof(struct tkt_reply),
	       "reply words");

/* One's complement sum of the 32-byte reply as 16-bit words (folded to 32
 * bits; byte order as loaded, like every sum here): summed as 32-bit words
 * into 64 bits, which folds to the same 16-bit sum. */
static __always_inline __u32 reply_sum(const union reply_buf *rep)
{
	__u64 sum = 0;
	int i;

#pragma unroll
	for (i = 0; i < (int)(sizeof(rep->w) / sizeof(rep->w[0])); i++)
		sum += (rep->w[i] & 0xffffffffull) + (rep->w[i] >> 32);
	sum = (sum & 0xffffffffull) + (sum >> 32);
	sum = (sum & 0xffffffffull) + (sum >> 32);
	return (__u32)(sum & 0xffff) + (__u32)(sum >> 16);
}

/* Writes the reply after the UDP header, one 8-byte word at a time. */
static __always_inline void put_reply(struct udphdr *udp,
				      const union reply_buf *rep)
{
	__u64 *dst = (__u64 *)(udp + 1);
	int i;

#pragma unroll
	for (i = 0; i < (int)(sizeof(rep->w) / sizeof(rep->w[0])); i++)
		dst[i] = rep->w[i];
}

/* The UDP header's part of its checksum (check itself is 0 here). */
static __always_inline __u32 udp_hdr_sum(const struct udphdr *udp)
{
	return (__u32)udp->source + udp->dest + udp->len;
}

#define REPLY_UDP_LEN (sizeof(struct udphdr) + sizeof(struct tkt_reply))

/* Makes the frame exactly hdr + 32 bytes, hdr bytes of headers (Ethernet,
 * IP, UDP) kept in front. Only full 40-byte requests are answered, so this
 * always shrinks the frame (Ethernet padding included). */
static __always_inline int fit_reply(struct xdp_md *ctx, const int hdr)
{
	int len = (int)(ctx->data_end - ctx->data);
	int want = hdr + (int)sizeof(struct tkt_reply);

	if (want > len)
		return -1;
	return bpf_xdp_adjust_tail(ctx, want - len) ? -1 : 0;
}

static __always_inline int reply_v4(struct xdp_md *ctx,
				    const union reply_buf *rep)
{
	const int l4 = sizeof(struct ethhdr) + sizeof(struct iphdr);
	void *data, *end;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 sum = 0, addr;
	__u16 port, *w;
	int i;

	if (fit_reply(ctx, l4 + sizeof(struct udphdr)))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + l4 + REPLY_UDP_LEN > end)
		return -1;
	eth = data;
	ip = data + sizeof(*eth);
	udp = data + l4;

	swap_macs(eth);
	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	ip->tot_len = bpf_htons(sizeof(struct iphdr) + REPLY_UDP_LEN);
	ip->ttl = 64;
	ip->check = 0;
	w = (__u16 *)ip;
#pragma unroll
	for (i = 0; i < (int)sizeof(struct iphdr) / 2; i++)
		sum += w[i];
	ip->check = csum_fold(sum);

	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons(REPLY_UDP_LEN);
	udp->check = 0;
	put_reply(udp, rep);

	/* pseudo-header: addresses, protocol, UDP length */
	sum = (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) +
	      (ip->daddr >> 16) + bpf_htons(IPPROTO_UDP) +
	      bpf_htons(REPLY_UDP_LEN);
	sum += udp_hdr_sum(udp) + reply_sum(rep);
	udp->check = csum_fold(sum) ?: 0xffff;
	return 0;
}

static __always_inline int reply_v6(struct xdp_md *ctx,
				    const union reply_buf *rep)
{
	const int l4 = sizeof(struct ethhdr) + sizeof(struct ipv6hdr);
	struct in6_addr addr;
	void *data, *end;
	struct ethhdr *eth;
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	__u32 sum = 0;
	__u16 port, *w;
	int i;

	if (fit_reply(ctx, l4 + sizeof(struct udphdr)))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + l4 + REPLY_UDP_LEN > end)
		return -1;
	eth = data;
	ip6 = data + sizeof(*eth);
	udp = data + l4;

	swap_macs(eth);
	addr = ip6->saddr;
	ip6->saddr = ip6->daddr;
	ip6->daddr = addr;
	ip6->payload_len = bpf_htons(REPLY_UDP_LEN);
	ip6->hop_limit = 64;

	port = udp->source;
	udp->source = udp->dest;
	udp->dest = port;
	udp->len = bpf_htons(REPLY_UDP_LEN);
	udp->check = 0;
	put_reply(udp, rep);

	/* pseudo-header (RFC 8200 8.1); the checksum is mandatory in IPv6 */
	w = (__u16 *)&ip6->saddr;
#pragma unroll
	for (i = 0; i < 16; i++) /* saddr and daddr, adjacent */
		sum += w[i];
	sum += bpf_htons(REPLY_UDP_LEN) + bpf_htons(IPPROTO_UDP);
	sum += udp_hdr_sum(udp) + reply_sum(rep);
	udp->check = csum_fold(sum) ?: 0xffff;
	return 0;
}

static __always_inline int pass(void)
{
	stat_inc(TKT_STAT_PASSED);
	return XDP_PASS;
}

static __always_inline int drop_malformed(void)
{
	stat_inc(TKT_STAT_MALFORMED_DROPPED);
	return XDP_DROP;
}

SEC("xdp")
int xdp_seat_hold(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = {.pos = data};
	struct ipv6hdr *ip6 = (struct ipv6hdr *)0;
	struct iphdr *ip4 = (struct iphdr *)0;
	struct tkt_peer peer = {};
	union req_buf req = {};
	union reply_buf rep;
	const __u64 *src;
	struct tkt_door d;
	struct ethhdr *eth;
	struct udphdr *udp;
	__u32 key = 0, ulen, plen;
	void *payload;
	int proto, rc, i;

	d.cfg = bpf_map_lookup_elem(&config, &key);
	if (!d.cfg || !d.cfg->udp_port)
		return pass(); /* door closed until ticketd configures it */

	proto = parse_eth(&c, end, &eth);
	if (proto == bpf_htons(ETH_P_IP)) {
		if (parse_ipv4(&c, end, &ip4) != IPPROTO_UDP)
			return pass();
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		if (parse_ipv6(&c, end, &ip6) != IPPROTO_UDP)
			return pass();
	} else {
		return pass();
	}
	if (parse_udp(&c, end, &udp) < 0 ||
	    udp->dest != bpf_htons((__u16)d.cfg->udp_port))
		return pass();

	/* Ours from here on: never handed to the stack. The UDP length decides
	 * the datagram's size (Ethernet may pad short frames); it must fit in
	 * the IP packet, which must fit in the frame. */
	ulen = bpf_ntohs(udp->len);
	if (ip4) {
		__u32 tot = bpf_ntohs(ip4->tot_len);

		if (tot < sizeof(*ip4) + sizeof(*udp) ||
		    ulen > tot - sizeof(*ip4) ||
		    (void *)ip4 + tot > end)
			return drop_malformed();
		peer.addr[10] = 0xff;
		peer.addr[11] = 0xff;
		__builtin_memcpy(&peer.addr[12], &ip4->saddr, 4);
	} else if (ip6) {
		__u32 pl = bpf_ntohs(ip6->payload_len);

		if (ulen > pl || (void *)(ip6 + 1) + pl > end)
			return drop_malformed();
		__builtin_memcpy(peer.addr, &ip6->saddr, 16);
	}
	/* only exactly one request is answerable: nothing else is read */
	if (ulen != sizeof(*udp) + sizeof(req.r))
		return drop_malformed();
	plen = sizeof(req.r);
	payload = c.pos;
	if (payload + sizeof(req.r) > end)
		return drop_malformed();
	/* never answer what is not one host (reflection to a group, or to a
	 * port that cannot be a client's) */
	if ((eth->h_source[0] & 1) || !tkt_source_ok(&peer, udp->source)) {
		stat_inc(TKT_STAT_SOURCE_DROPPED);
		return XDP_DROP;
	}
	src = payload;
#pragma unroll
	for (i = 0; i < (int)(sizeof(req.w) / sizeof(req.w[0])); i++)
		req.w[i] = src[i];

	d.now_ns = bpf_ktime_get_ns();
	if (tkt_door_serve(&d, &peer, &req.r, plen, d.now_ns, &rep.r) ==
	    TKT_DOOR_DROP)
		return XDP_DROP;

	rc = ip4 ? reply_v4(ctx, &rep) : reply_v6(ctx, &rep);
	if (rc < 0) {
		stat_inc(TKT_STAT_DROPPED);
		return XDP_DROP;
	}
	return XDP_TX;
}

/* For the host side of a veth pair: frames sent with XDP_TX by the peer are
 * dropped unless this side runs an XDP program too. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* ticketd's way to change a count atomically with the XDP program: run
 * through BPF_PROG_TEST_RUN with struct tkt_count_args as context. delta +1
 * is a limited take, -1 a give; any other delta is an unlimited add (for
 * rebuilding counts from the words), floored at 0. */
SEC("syscall")
int hold_count(struct tkt_count_args *a)
{
	struct tkt_hold_key k = {.slot = a->slot, .event_id = a->event_id};
	__u32 limit = a->limit, count;
	__s32 delta = a->delta, result = TKT_OK;
	int i;

	if (delta == 1) {
		result = count_take(k.slot, k.event_id, limit);
	} else if (delta == -1) {
		count_give(k.slot, k.event_id);
	} else if (delta > 0) {
		result = TKT_RATE_LIMITED;
		for (i = 0; i < delta && i < 1024; i++) {
			result = count_take(k.slot, k.event_id, TKT_COUNT_MAX);
			if (result != TKT_OK)
				break;
		}
	} else {
		for (i = 0; i < -delta && i < 1024; i++)
			count_give(k.slot, k.event_id);
	}
	count = count_get(k.slot, k.event_id);
	/* Written once each at the end: the verifier refuses stores through
	 * a ctx pointer that the compiler has offset into a register. */
	a->result = result;
	a->count = count;
	return 0;
}

struct bpf_map;

struct collect_ctx {
	__u32 seen;
	__u32 retired;
};

static long collect_one(struct bpf_map *map, struct tkt_hold_key *k,
			__u32 *v, struct collect_ctx *c)
{
	c->seen++;
	if (tkt_count_retire(v)) {
		bpf_map_delete_elem(map, k);
		c->retired++;
	}
	return 0;
}

/* The collector: retires and deletes every entry of counts at 0 (left by
 * a take that was refused after creating its entry, or by a rebuild).
 * ticketd's sweeper runs it periodically and when an insert finds no
 * room. Context: struct tkt_collect_args (out). */
SEC("syscall")
int count_collect(struct tkt_collect_args *a)
{
	struct collect_ctx c = {};

	bpf_for_each_map_elem(&counts, collect_one, &c, 0);
	a->seen = c.seen;
	a->retired = c.retired;
	return 0;
}

/* The flush for a CPU that went quiet: writes this CPU's change batch to
 * the ring. ticketd runs it with BPF_PROG_TEST_RUN on each CPU whose batch
 * is not empty (BPF_F_TEST_RUN_ON_CPU), about once a millisecond; one
 * flush at a time. On another CPU than the caller's it runs from an IPI
 * with interrupts off (net/bpf/test_run.c: smp_call_function_single), so
 * the XDP program cannot start under it, but it may have interrupted one
 * between reserve and submit: busy then says so and it does nothing. On
 * the caller's own CPU it runs with preemption off (get_cpu), and the XDP
 * softirq may interrupt it at any instruction; it never finds busy set
 * then (process context does not run inside a softirq), and the XDP
 * program only touches half[cur]: a half is written out only once cur
 * points away from it. So neither ever waits for the other. Only this CPU
 * touches its entry: no atomics, only program order (barrier).
 *
 * First a half a full ring left behind (not cur), then the current one
 * (after switching cur to the empty half). Returns TKT_FLUSH_*. */
SEC("raw_tp")
int change_flush(void *ctx)
{
	__u32 k = 0, c;
	struct tkt_change_batch *b = bpf_map_lookup_elem(&change_batch, &k);
	struct tkt_change_half *h;
	int rc = TKT_FLUSH_EMPTY;

	if (!b)
		return TKT_FLUSH_EMPTY;
	if (*(volatile __u32 *)&b->busy)
		return TKT_FLUSH_BUSY;
	c = *(volatile __u32 *)&b->cur & 1;
	h = &b->half[c ^ 1];
	if (*(volatile __u32 *)&h->n) {
		/* left behind by a full ring: not cur, no XDP writes it */
		if (half_flush(h) < 0)
			return TKT_FLUSH_FULL;
		rc = TKT_FLUSH_DONE;
	}
	h = &b->half[c];
	if (!*(volatile __u32 *)&h->n)
		return rc;
	/* from here the XDP program fills the other (empty) half */
	*(volatile __u32 *)&b->cur = c ^ 1;
	barrier();
	if (half_flush(h) < 0)
		return TKT_FLUSH_FULL;
	return TKT_FLUSH_DONE;
}
