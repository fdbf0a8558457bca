/* The seat word: one u64 per seat, the single source of truth for holds.
 *
 * The XDP program and ticketd both include this header, so the transition
 * rules exist exactly once (the BPF build leaves the daemon-only ops out:
 * the XDP program serves the wire ops alone). Everything here is a pure
 * function of its arguments except tkt_cas64/tkt_cas32/tkt_load64, the only
 * atomic operations on shared memory. No code may write a seat word except
 * through tkt_cas64 driven by tkt_door_apply() (bpf/hold_door.h), which is
 * what keeps hold counts and change records in step with the words.
 *
 * Layout (bit 63 first):
 *   63..62 state    0 AVAILABLE, 1 HELD, 2 ORDERED, 3 SOLD
 *   61..54 counter  +1 on every change, wraps; lets a reader detect that a
 *                   word changed between two looks (and orders change records)
 *   53..32 holder   session slot from the token (22 bits), 0 = nobody
 *   31..0  expiry   CLOCK_MONOTONIC milliseconds mod 2^32, compared with serial
 *                   arithmetic so the 49.7-day wrap is harmless as long as no
 *                   deadline is more than 24.8 days away
 *
 * Expiry is lazy: a HELD or ORDERED word whose expiry has been reached is
 * treated as AVAILABLE by every transition; the sweeper (op EXPIRE) turns it
 * AVAILABLE for real and announces it. A transition that starts from an
 * expired word therefore has to say whose hold count loses a seat. */
#ifndef TICKET_SEAT_WORD_H
#define TICKET_SEAT_WORD_H

#include <linux/types.h>

#include "bpf/session_token.h"
#include "bpf/ticket_wire.h"

#ifndef TKT_INLINE
#define TKT_INLINE static inline __attribute__((always_inline))
#endif

/* Seats of every event live in one array; events map to a base index. */
#define TKT_MAX_SEATS (1u << 20)

/* A CAS loses only when another CPU changed the word in between, i.e. made
 * progress; after this many losses the caller answers RATE_LIMITED rather
 * than spin (the BPF verifier needs a bound anyway). */
#define TKT_CAS_RETRIES 8

enum tkt_seat_state {
	TKT_SEAT_AVAILABLE = 0,
	TKT_SEAT_HELD = 1,
	TKT_SEAT_ORDERED = 2,
	TKT_SEAT_SOLD = 3,
};

/* Operations on a seat. The first four equal the wire ops (enum tkt_op) so a
 * request's op needs no translation; the others are daemon-only (see
 * tkt_seat_op_on_wire). UNORDER and the RESTORE_ ops each do in one CAS what
 * used to take two or three, so no other session can take the seat between
 * the steps. */
enum tkt_seat_op {
	TKT_SEAT_HOLD = 1,    /* new hold, or refresh by the same holder */
	TKT_SEAT_RELEASE = 2, /* holder gives the hold back */
	TKT_SEAT_EXTEND = 3,  /* holder sets expiry = now + ttl */
	TKT_SEAT_QUERY = 4,   /* read only */
	TKT_SEAT_ORDER = 5,   /* holder's HELD -> ORDERED until the deadline */
	TKT_SEAT_SELL = 6,    /* holder's live ORDERED -> SOLD */
	TKT_SEAT_CANCEL = 7,  /* holder's ORDERED (live or lapsed) -> AVAILABLE */
	TKT_SEAT_EXPIRE = 8,  /* sweeper: lapsed HELD/ORDERED -> AVAILABLE */
	TKT_SEAT_UNORDER = 9, /* holder's ORDERED (live or lapsed) -> holder's
				 HELD until now + ttl */
	TKT_SEAT_RESTORE_ORDERED = 10, /* what HOLD may take -> holder's ORDERED
					  until now + ttl */
	TKT_SEAT_RESTORE_SOLD = 11,    /* what HOLD may take -> SOLD */
	TKT_SEAT_UNBLOCK = 12,         /* SOLD -> AVAILABLE (a kill seat freed) */
	TKT_SEAT_OP_MAX = 12,
};

_Static_assert((int)TKT_SEAT_HOLD == (int)TKT_OP_HOLD &&
		       (int)TKT_SEAT_RELEASE == (int)TKT_OP_RELEASE &&
		       (int)TKT_SEAT_EXTEND == (int)TKT_OP_EXTEND &&
		       (int)TKT_SEAT_QUERY == (int)TKT_OP_QUERY,
	       "the wire ops are the first seat ops, untranslated");

/* The ops a datagram may carry: the four wire ops. Every other seat op is
 * the daemon's own, and no UDP door (XDP or socket) may run one. */
TKT_INLINE int tkt_seat_op_on_wire(__u32 op)
{
	return op >= TKT_OP_HOLD && op <= TKT_OP_QUERY;
}

#define TKT_SW_STATE_SHIFT 62
#define TKT_SW_CTR_SHIFT 54
#define TKT_SW_CTR_MASK 0xffu
#define TKT_SW_HOLDER_SHIFT 32
#define TKT_SW_HOLDER_MASK 0x3fffffu
#define TKT_SW_EXPIRY_MASK 0xffffffffu

_Static_assert(TKT_SW_HOLDER_MASK == TKT_SLOT_MAX,
	       "a token slot must fit the holder field");

TKT_INLINE __u32 tkt_sw_state(__u64 w)
{
	return (__u32)(w >> TKT_SW_STATE_SHIFT);
}

TKT_INLINE __u32 tkt_sw_counter(__u64 w)
{
	return (__u32)(w >> TKT_SW_CTR_SHIFT) & TKT_SW_CTR_MASK;
}

TKT_INLINE __u32 tkt_sw_holder(__u64 w)
{
	return (__u32)(w >> TKT_SW_HOLDER_SHIFT) & TKT_SW_HOLDER_MASK;
}

TKT_INLINE __u32 tkt_sw_expiry(__u64 w)
{
	return (__u32)(w & TKT_SW_EXPIRY_MASK);
}

TKT_INLINE __u64 tkt_sw_pack(__u32 state, __u32 counter, __u32 holder,
			     __u32 expiry)
{
	return (__u64)(state & 3u) << TKT_SW_STATE_SHIFT |
	       (__u64)(counter & TKT_SW_CTR_MASK) << TKT_SW_CTR_SHIFT |
	       (__u64)(holder & TKT_SW_HOLDER_MASK) << TKT_SW_HOLDER_SHIFT |
	       (__u64)expiry;
}

/* Monotonic milliseconds mod 2^32, the clock of the expiry field. */
TKT_INLINE __u32 tkt_ms32(__u64 mono_ns)
{
	return (__u32)(mono_ns / 1000000ull);
}

/* Serial-number comparison: true once now has reached deadline, valid while
 * the two are less than 2^31 ms apart. */
TKT_INLINE int tkt_ms_reached(__u32 now_ms, __u32 deadline_ms)
{
	return (__s32)(now_ms - deadline_ms) >= 0;
}

/* A claimed word is a hold or an order: it has a holder and an expiry, and
 * it counts towards its holder's hold count whether it has lapsed or not. */
TKT_INLINE int tkt_sw_claimed(__u64 w)
{
	__u32 st = tkt_sw_state(w);

	return st == TKT_SEAT_HELD || st == TKT_SEAT_ORDERED;
}

/* Claimed, and its expiry has been reached: AVAILABLE to every transition,
 * until the sweeper (or a new holder) rewrites it. */
TKT_INLINE int tkt_sw_lapsed(__u64 w, __u32 now_ms)
{
	return tkt_sw_claimed(w) && tkt_ms_reached(now_ms, tkt_sw_expiry(w));
}

/* Claimed and not lapsed: a hold or an order somebody has right now. */
TKT_INLINE int tkt_sw_live(__u64 w, __u32 now_ms)
{
	return tkt_sw_claimed(w) && !tkt_ms_reached(now_ms, tkt_sw_expiry(w));
}

/* What slot has of w right now: HELD or ORDERED when w is slot's live
 * claim, else AVAILABLE (0) for a free, sold or lapsed word or somebody
 * else's, so the answer also reads as "claimed by slot and not lapsed". */
TKT_INLINE __u32 tkt_sw_claimed_by(__u64 w, __u32 slot, __u32 now_ms)
{
	if (!tkt_sw_live(w, now_ms) || tkt_sw_holder(w) != slot)
		return TKT_SEAT_AVAILABLE;
	return tkt_sw_state(w);
}

/* The state every transition acts on: a lapsed hold or order is AVAILABLE. */
TKT_INLINE __u32 tkt_sw_effective_state(__u64 w, __u32 now_ms)
{
	return tkt_sw_lapsed(w, now_ms) ? TKT_SEAT_AVAILABLE : tkt_sw_state(w);
}

/* Outcome of one transition, computed from the word read before the CAS. */
struct tkt_seat_change {
	__u64 old_word;
	__u64 new_word; /* == old_word when nothing changes */
	/* Hold-count bookkeeping, already netted (a holder re-taking its own
	 * lapsed hold neither gains nor loses): the caller reserves a count for
	 * gain_slot BEFORE the CAS and gives it back if the CAS loses; it takes
	 * one from lose_slot AFTER a won CAS. 0 = nobody. */
	__u32 gain_slot;
	__u32 lose_slot;
	__u8 status;     /* enum tkt_status */
	__u8 changed;    /* a CAS (and a change record) is needed */
	__u8 seen_state; /* effective state before the op; lets the REST door
			    tell "in your order" from "not yours" */
	__u8 pad;
};

TKT_INLINE __u64 tkt_sw_bump(__u64 old, __u32 state, __u32 holder,
			     __u32 expiry)
{
	return tkt_sw_pack(state, tkt_sw_counter(old) + 1, holder, expiry);
}

TKT_INLINE void tkt_seat_nochange(struct tkt_seat_change *c, __u64 w,
				  __u8 status)
{
	c->new_word = w;
	c->changed = 0;
	c->status = status;
}

TKT_INLINE void tkt_seat_set(struct tkt_seat_change *c, __u64 nw)
{
	c->new_word = nw;
	c->changed = 1;
	c->status = TKT_OK;
}

/* Who loses a count when a lapsed word is overwritten or swept. */
TKT_INLINE __u32 tkt_sw_lapsed_holder(__u64 w, __u32 now_ms)
{
	return tkt_sw_lapsed(w, now_ms) ? tkt_sw_holder(w) : 0;
}

/* Shared refusal for ops that need the caller to be the live holder. A sold
 * seat says SOLD (more useful to a client than NOT_HOLDER). */
TKT_INLINE void tkt_seat_refuse(struct tkt_seat_change *c, __u64 w, __u32 st)
{
	tkt_seat_nochange(c, w, st == TKT_SEAT_SOLD ? TKT_SOLD : TKT_NOT_HOLDER);
}

/* What HOLD may take for slot: a free (or lapsed) seat, or slot's own live
 * hold. Not slot's own pending order: re-holding it would pull it out of the
 * order. */
TKT_INLINE int tkt_seat_takeable(__u64 w, __u32 slot, __u32 now_ms)
{
	return tkt_sw_effective_state(w, now_ms) == TKT_SEAT_AVAILABLE ||
	       tkt_sw_claimed_by(w, slot, now_ms) == TKT_SEAT_HELD;
}

/* Refusal of a seat that is not takeable: SOLD, or TAKEN by a live hold or
 * order (whoever's). */
TKT_INLINE void tkt_seat_untakeable(struct tkt_seat_change *c, __u64 w,
				    __u32 now_ms)
{
	tkt_seat_nochange(c, w,
			  tkt_sw_effective_state(w, now_ms) == TKT_SEAT_SOLD
				  ? TKT_SOLD
				  : TKT_TAKEN);
}

/* Takes a takeable w for slot as nw, a hold or order of slot. A free or
 * lapsed seat gains slot a count and takes one from the lapsed holder
 * (netted when that is slot itself); slot's own live hold moves none. */
TKT_INLINE void tkt_seat_take(struct tkt_seat_change *c, __u64 w, __u32 slot,
			      __u32 now_ms, __u64 nw)
{
	__u32 prev = tkt_sw_lapsed_holder(w, now_ms);

	tkt_seat_set(c, nw);
	if (tkt_sw_effective_state(w, now_ms) == TKT_SEAT_AVAILABLE &&
	    prev != slot) {
		c->gain_slot = slot;
		c->lose_slot = prev;
	}
}

/* HOLD: a free (or lapsed) seat becomes the caller's; the caller's own live
 * hold gets a fresh expiry; anything else is refused. */
TKT_INLINE void tkt_seat_hold(__u64 w, __u32 slot, __u32 now_ms, __u32 ttl_ms,
			      struct tkt_seat_change *c)
{
	if (!tkt_seat_takeable(w, slot, now_ms)) {
		tkt_seat_untakeable(c, w, now_ms);
		return;
	}
	tkt_seat_take(c, w, slot, now_ms,
		      tkt_sw_bump(w, TKT_SEAT_HELD, slot, now_ms + ttl_ms));
}

/* RELEASE: only the live holder of a HELD seat may give it back. */
TKT_INLINE void tkt_seat_release(__u64 w, __u32 slot, __u32 now_ms,
				 struct tkt_seat_change *c)
{
	__u32 st = tkt_sw_effective_state(w, now_ms);

	if (tkt_sw_claimed_by(w, slot, now_ms) == TKT_SEAT_HELD) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_AVAILABLE, 0, 0));
		c->lose_slot = slot;
		return;
	}
	tkt_seat_refuse(c, w, st);
}

/* EXTEND: the live holder of a HELD seat sets expiry = now + ttl (which may
 * also shorten it: "extend to N seconds from now"). */
TKT_INLINE void tkt_seat_extend(__u64 w, __u32 slot, __u32 now_ms,
				__u32 ttl_ms, struct tkt_seat_change *c)
{
	__u32 st = tkt_sw_effective_state(w, now_ms);

	if (tkt_sw_claimed_by(w, slot, now_ms) == TKT_SEAT_HELD) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_HELD, slot,
					    now_ms + ttl_ms));
		return;
	}
	tkt_seat_refuse(c, w, st);
}

/* QUERY: OK for a free seat, TAKEN for a live hold or order (whoever's),
 * SOLD for a sold one. Never changes the word. */
TKT_INLINE void tkt_seat_query(__u64 w, __u32 now_ms,
			       struct tkt_seat_change *c)
{
	__u32 st = tkt_sw_effective_state(w, now_ms);

	tkt_seat_nochange(c, w,
			  st == TKT_SEAT_AVAILABLE ? TKT_OK
			  : st == TKT_SEAT_SOLD	   ? TKT_SOLD
						   : TKT_TAKEN);
}

/* ORDER: the live holder's HELD seat is kept off sale until the payment
 * deadline (expiry = now + ttl). The count stays: ordered seats count
 * towards the hold limit. */
TKT_INLINE void tkt_seat_order(__u64 w, __u32 slot, __u32 now_ms, __u32 ttl_ms,
			       struct tkt_seat_change *c)
{
	__u32 st = tkt_sw_effective_state(w, now_ms);

	if (tkt_sw_claimed_by(w, slot, now_ms) == TKT_SEAT_HELD) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_ORDERED, slot,
					    now_ms + ttl_ms));
		return;
	}
	tkt_seat_refuse(c, w, st);
}

/* SELL: a live order of the given holder becomes SOLD for good. SOLD words
 * carry no holder and no expiry, so a word rebuilt from the database (where
 * no slot exists) is identical to one sold live. A lapsed order cannot be
 * sold: its deadline passed, the saga must cancel it. */
TKT_INLINE void tkt_seat_sell(__u64 w, __u32 slot, __u32 now_ms,
			      struct tkt_seat_change *c)
{
	__u32 st = tkt_sw_effective_state(w, now_ms);

	if (tkt_sw_claimed_by(w, slot, now_ms) == TKT_SEAT_ORDERED) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_SOLD, 0, 0));
		c->lose_slot = slot;
		return;
	}
	tkt_seat_refuse(c, w, st);
}

/* slot's order, live or lapsed: what CANCEL and UNORDER act on (a lapsed
 * order is exactly what the saga ends after the deadline). If someone
 * already re-held the lapsed seat, the order is gone. */
TKT_INLINE int tkt_sw_order_of(__u64 w, __u32 slot)
{
	return tkt_sw_state(w) == TKT_SEAT_ORDERED && tkt_sw_holder(w) == slot;
}

/* CANCEL: the holder's order ends without a sale. */
TKT_INLINE void tkt_seat_cancel(__u64 w, __u32 slot, struct tkt_seat_change *c)
{
	if (tkt_sw_order_of(w, slot)) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_AVAILABLE, 0, 0));
		c->lose_slot = slot;
		return;
	}
	tkt_seat_refuse(c, w, tkt_sw_state(w));
}

/* UNORDER (daemon only): an order that did not happen gives its seat back
 * to the holder as a hold until now + ttl. CANCEL then HOLD would leave the
 * seat AVAILABLE in between, for any session to take. Acts on what CANCEL
 * acts on and refuses what it refuses; the count stays with the holder
 * (held and ordered seats count alike, and a lapsed word keeps its count
 * until it is rewritten). */
TKT_INLINE void tkt_seat_unorder(__u64 w, __u32 slot, __u32 now_ms,
				 __u32 ttl_ms, struct tkt_seat_change *c)
{
	if (tkt_sw_order_of(w, slot)) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_HELD, slot,
					    now_ms + ttl_ms));
		return;
	}
	tkt_seat_refuse(c, w, tkt_sw_state(w));
}

/* RESTORE_ORDERED (daemon only): HOLD then ORDER with the same ttl, as one
 * step: what HOLD may take becomes slot's ORDERED until now + ttl. The saga
 * re-applies a pending order with it, recovery a journaled one. Refusals and
 * counts are HOLD's (a count for slot unless the seat was its own hold, the
 * lapsed holder's count back), so the hold limit applies as it did to the
 * HOLD. */
TKT_INLINE void tkt_seat_restore_ordered(__u64 w, __u32 slot, __u32 now_ms,
					 __u32 ttl_ms,
					 struct tkt_seat_change *c)
{
	if (!tkt_seat_takeable(w, slot, now_ms)) {
		tkt_seat_untakeable(c, w, now_ms);
		return;
	}
	tkt_seat_take(c, w, slot, now_ms,
		      tkt_sw_bump(w, TKT_SEAT_ORDERED, slot, now_ms + ttl_ms));
}

/* RESTORE_SOLD (daemon only): HOLD, ORDER, SELL as one step: what HOLD may
 * take for slot becomes SOLD, how a sale the database knows is put back into
 * the table. Refused as HOLD refuses (SOLD for a sold seat, which callers
 * take as "already there"). Nobody gains a count, so no hold limit applies;
 * whoever had a claim on the word loses its count: slot for its own live
 * hold, else the lapsed holder (0 for a free seat). */
TKT_INLINE void tkt_seat_restore_sold(__u64 w, __u32 slot, __u32 now_ms,
				      struct tkt_seat_change *c)
{
	if (!tkt_seat_takeable(w, slot, now_ms)) {
		tkt_seat_untakeable(c, w, now_ms);
		return;
	}
	tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_SOLD, 0, 0));
	c->lose_slot = tkt_sw_claimed_by(w, slot, now_ms)
			       ? slot
			       : tkt_sw_lapsed_holder(w, now_ms);
}

/* UNBLOCK (daemon only): a kill seat (SOLD with no sale: the admin API
 * blocks a seat with RESTORE_SOLD) becomes AVAILABLE again. The caller has
 * checked that no sale exists; anything but SOLD is left alone, status OK
 * and changed == 0. */
TKT_INLINE void tkt_seat_unblock(__u64 w, struct tkt_seat_change *c)
{
	if (tkt_sw_state(w) == TKT_SEAT_SOLD) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_AVAILABLE, 0, 0));
		return;
	}
	tkt_seat_nochange(c, w, TKT_OK);
}

/* EXPIRE: the sweeper makes a lapsed hold or order AVAILABLE. Anything else
 * is left alone with status OK and changed == 0: there is nothing to do. */
TKT_INLINE void tkt_seat_expire(__u64 w, __u32 now_ms,
				struct tkt_seat_change *c)
{
	if (tkt_sw_lapsed(w, now_ms)) {
		tkt_seat_set(c, tkt_sw_bump(w, TKT_SEAT_AVAILABLE, 0, 0));
		c->lose_slot = tkt_sw_holder(w);
		return;
	}
	tkt_seat_nochange(c, w, TKT_OK);
}

/* Computes op on the word w. slot is the caller's holder slot (ignored by
 * QUERY and EXPIRE); ttl_ms the duration of the hold or order the op leaves
 * (HOLD, EXTEND, ORDER, UNORDER, RESTORE_ORDERED), 1..2^31-1 ms.
 * Never touches memory: the caller CASes c->new_word in. */
TKT_INLINE void tkt_seat_transition(__u64 w, __u32 op, __u32 slot,
				    __u32 now_ms, __u32 ttl_ms,
				    struct tkt_seat_change *c)
{
	c->old_word = w;
	c->new_word = w;
	c->gain_slot = 0;
	c->lose_slot = 0;
	c->changed = 0;
	c->pad = 0;
	c->seen_state = (__u8)tkt_sw_effective_state(w, now_ms);

	if (op == TKT_SEAT_QUERY) {
		tkt_seat_query(w, now_ms, c);
		return;
	}
#if !defined(__bpf__)
	if (op == TKT_SEAT_EXPIRE) {
		tkt_seat_expire(w, now_ms, c);
		return;
	}
#endif
	if (slot == 0 || slot > TKT_SW_HOLDER_MASK) {
		tkt_seat_nochange(c, w, TKT_BAD_CREDENTIAL);
		return;
	}
	if ((op == TKT_SEAT_HOLD || op == TKT_SEAT_EXTEND ||
	     op == TKT_SEAT_ORDER || op == TKT_SEAT_UNORDER ||
	     op == TKT_SEAT_RESTORE_ORDERED) &&
	    (ttl_ms == 0 || ttl_ms > 0x7fffffffu)) {
		tkt_seat_nochange(c, w, TKT_MALFORMED);
		return;
	}
	switch (op) {
	case TKT_SEAT_HOLD:
		tkt_seat_hold(w, slot, now_ms, ttl_ms, c);
		return;
	case TKT_SEAT_RELEASE:
		tkt_seat_release(w, slot, now_ms, c);
		return;
	case TKT_SEAT_EXTEND:
		tkt_seat_extend(w, slot, now_ms, ttl_ms, c);
		return;
#if !defined(__bpf__)
	/* The daemon-only ops are not even compiled into the XDP program,
	 * which therefore answers any of them MALFORMED (tkt_req_check has
	 * refused them before this anyway). */
	case TKT_SEAT_ORDER:
		tkt_seat_order(w, slot, now_ms, ttl_ms, c);
		return;
	case TKT_SEAT_SELL:
		tkt_seat_sell(w, slot, now_ms, c);
		return;
	case TKT_SEAT_CANCEL:
		tkt_seat_cancel(w, slot, c);
		return;
	case TKT_SEAT_UNORDER:
		tkt_seat_unorder(w, slot, now_ms, ttl_ms, c);
		return;
	case TKT_SEAT_RESTORE_ORDERED:
		tkt_seat_restore_ordered(w, slot, now_ms, ttl_ms, c);
		return;
	case TKT_SEAT_RESTORE_SOLD:
		tkt_seat_restore_sold(w, slot, now_ms, c);
		return;
	case TKT_SEAT_UNBLOCK:
		tkt_seat_unblock(w, c);
		return;
#endif
	default:
		tkt_seat_nochange(c, w, TKT_MALFORMED);
		return;
	}
}

/* Expiry as a client sees it: Unix milliseconds of a live hold or order, 0
 * for anything else (free, sold, lapsed). now_unix_ms is the wall clock that
 * corresponds to now_ms. */
TKT_INLINE __u64 tkt_sw_expiry_unix_ms(__u64 w, __u32 now_ms,
				       __u64 now_unix_ms)
{
	if (!tkt_sw_live(w, now_ms))
		return 0;
	return now_unix_ms + (__u64)(__s64)(__s32)(tkt_sw_expiry(w) - now_ms);
}

/* The atomic primitives. BPF has no C11 atomics; clang's BPF backend turns
 * the __sync builtin into BPF_CMPXCHG (needs -mcpu=v3). In userspace both
 * are full barriers on x86 and the same aligned 8-byte word is shared with
 * the kernel through mmap, so both sides see one atomic location. */
#if defined(__bpf__)
TKT_INLINE __u64 tkt_load64(const __u64 *p)
{
	return *(const volatile __u64 *)p;
}

TKT_INLINE __u32 tkt_load32(const __u32 *p)
{
	return *(const volatile __u32 *)p;
}

TKT_INLINE int tkt_cas64(__u64 *p, __u64 expect, __u64 desired)
{
	return __sync_val_compare_and_swap(p, expect, desired) == expect;
}

TKT_INLINE int tkt_cas32(__u32 *p, __u32 expect, __u32 desired)
{
	return __sync_val_compare_and_swap(p, expect, desired) == expect;
}
#else
TKT_INLINE __u64 tkt_load64(const __u64 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

TKT_INLINE __u32 tkt_load32(const __u32 *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

TKT_INLINE int tkt_cas64(__u64 *p, __u64 expect, __u64 desired)
{
	return __atomic_compare_exchange_n(p, &expect, desired, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

TKT_INLINE int tkt_cas32(__u32 *p, __u32 expect, __u32 desired)
{
	return __atomic_compare_exchange_n(p, &expect, desired, 0,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
#endif

/* The one seat-word CAS: succeeds only if the word still is the one the
 * transition was computed from. */
TKT_INLINE int tkt_seat_cas(__u64 *word, const struct tkt_seat_change *c)
{
	return tkt_cas64(word, c->old_word, c->new_word);
}

#endif /* TICKET_SEAT_WORD_H */
