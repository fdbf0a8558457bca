/* Seat-word transitions: every state x every op x lapsed-or-live x
 * same-or-other holder, as one table; plus the serial clock and the
 * counter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "bpf/seat_word.h"

#define ME 77u
#define OTHER 1234u
#define TTL 120000u

enum who { NONE_, SAME, OTHR };
enum exp_kind { EXP_ZERO, EXP_NOW_TTL, EXP_KEPT };

struct row {
	__u32 state;
	int lapsed;
	int mine;
	__u32 op;
	__u8 status;
	int changed;
	__u32 new_state;
	enum who new_holder;
	enum exp_kind new_exp;
	enum who gain;
	enum who lose;
};

#define A TKT_SEAT_AVAILABLE
#define H TKT_SEAT_HELD
#define O TKT_SEAT_ORDERED
#define S TKT_SEAT_SOLD
/* unchanged word: new state/holder/expiry are the old ones */
#define KEEP(st, l, m, op, status)                                             \
	{ st, l, m, op, status, 0, st, NONE_, EXP_KEPT, NONE_, NONE_ }
#define MOVE(st, l, m, op, nst, nh, ne, g, lo)                                 \
	{ st, l, m, op, TKT_OK, 1, nst, nh, ne, g, lo }

/* An AVAILABLE or SOLD word has no holder and no expiry, so its "lapsed" and
 * "mine" variants must behave identically; they are listed to prove it. */
#define AVAILABLE_ROWS(l, m)                                                   \
	MOVE(A, l, m, TKT_SEAT_HOLD, H, SAME, EXP_NOW_TTL, SAME, NONE_),       \
	KEEP(A, l, m, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),                       \
	KEEP(A, l, m, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),                        \
	KEEP(A, l, m, TKT_SEAT_QUERY, TKT_OK),                                 \
	KEEP(A, l, m, TKT_SEAT_ORDER, TKT_NOT_HOLDER),                         \
	KEEP(A, l, m, TKT_SEAT_SELL, TKT_NOT_HOLDER),                          \
	KEEP(A, l, m, TKT_SEAT_CANCEL, TKT_NOT_HOLDER),                        \
	KEEP(A, l, m, TKT_SEAT_EXPIRE, TKT_OK),                                \
	KEEP(A, l, m, TKT_SEAT_UNORDER, TKT_NOT_HOLDER),                       \
	MOVE(A, l, m, TKT_SEAT_RESTORE_ORDERED, O, SAME, EXP_NOW_TTL, SAME,    \
	     NONE_),                                                           \
	MOVE(A, l, m, TKT_SEAT_RESTORE_SOLD, S, NONE_, EXP_ZERO, NONE_, NONE_), \
	KEEP(A, l, m, TKT_SEAT_UNBLOCK, TKT_OK)

#define SOLD_ROWS(l, m)                                                        \
	KEEP(S, l, m, TKT_SEAT_HOLD, TKT_SOLD),                                \
	KEEP(S, l, m, TKT_SEAT_RELEASE, TKT_SOLD),                             \
	KEEP(S, l, m, TKT_SEAT_EXTEND, TKT_SOLD),                              \
	KEEP(S, l, m, TKT_SEAT_QUERY, TKT_SOLD),                               \
	KEEP(S, l, m, TKT_SEAT_ORDER, TKT_SOLD),                               \
	KEEP(S, l, m, TKT_SEAT_SELL, TKT_SOLD),                                \
	KEEP(S, l, m, TKT_SEAT_CANCEL, TKT_SOLD),                              \
	KEEP(S, l, m, TKT_SEAT_EXPIRE, TKT_OK),                                \
	KEEP(S, l, m, TKT_SEAT_UNORDER, TKT_SOLD),                             \
	KEEP(S, l, m, TKT_SEAT_RESTORE_ORDERED, TKT_SOLD),                     \
	KEEP(S, l, m, TKT_SEAT_RESTORE_SOLD, TKT_SOLD),                        \
	MOVE(S, l, m, TKT_SEAT_UNBLOCK, A, NONE_, EXP_ZERO, NONE_, NONE_)

static const struct row table[] = {
	AVAILABLE_ROWS(0, 0),
	AVAILABLE_ROWS(0, 1),
	AVAILABLE_ROWS(1, 0),
	AVAILABLE_ROWS(1, 1),

	/* HELD, live, mine */
	MOVE(H, 0, 1, TKT_SEAT_HOLD, H, SAME, EXP_NOW_TTL, NONE_, NONE_),
	MOVE(H, 0, 1, TKT_SEAT_RELEASE, A, NONE_, EXP_ZERO, NONE_, SAME),
	MOVE(H, 0, 1, TKT_SEAT_EXTEND, H, SAME, EXP_NOW_TTL, NONE_, NONE_),
	KEEP(H, 0, 1, TKT_SEAT_QUERY, TKT_TAKEN),
	MOVE(H, 0, 1, TKT_SEAT_ORDER, O, SAME, EXP_NOW_TTL, NONE_, NONE_),
	KEEP(H, 0, 1, TKT_SEAT_SELL, TKT_NOT_HOLDER),
	KEEP(H, 0, 1, TKT_SEAT_CANCEL, TKT_NOT_HOLDER),
	KEEP(H, 0, 1, TKT_SEAT_EXPIRE, TKT_OK),
	KEEP(H, 0, 1, TKT_SEAT_UNORDER, TKT_NOT_HOLDER),
	MOVE(H, 0, 1, TKT_SEAT_RESTORE_ORDERED, O, SAME, EXP_NOW_TTL, NONE_, NONE_),
	MOVE(H, 0, 1, TKT_SEAT_RESTORE_SOLD, S, NONE_, EXP_ZERO, NONE_, SAME),
	KEEP(H, 0, 1, TKT_SEAT_UNBLOCK, TKT_OK),
	/* HELD, live, other's */
	KEEP(H, 0, 0, TKT_SEAT_HOLD, TKT_TAKEN),
	KEEP(H, 0, 0, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),
	KEEP(H, 0, 0, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),
	KEEP(H, 0, 0, TKT_SEAT_QUERY, TKT_TAKEN),
	KEEP(H, 0, 0, TKT_SEAT_ORDER, TKT_NOT_HOLDER),
	KEEP(H, 0, 0, TKT_SEAT_SELL, TKT_NOT_HOLDER),
	KEEP(H, 0, 0, TKT_SEAT_CANCEL, TKT_NOT_HOLDER),
	KEEP(H, 0, 0, TKT_SEAT_EXPIRE, TKT_OK),
	KEEP(H, 0, 0, TKT_SEAT_UNORDER, TKT_NOT_HOLDER),
	KEEP(H, 0, 0, TKT_SEAT_RESTORE_ORDERED, TKT_TAKEN),
	KEEP(H, 0, 0, TKT_SEAT_RESTORE_SOLD, TKT_TAKEN),
	KEEP(H, 0, 0, TKT_SEAT_UNBLOCK, TKT_OK),
	/* HELD, lapsed, mine: free again, re-taking it is count-neutral */
	MOVE(H, 1, 1, TKT_SEAT_HOLD, H, SAME, EXP_NOW_TTL, NONE_, NONE_),
	KEEP(H, 1, 1, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),
	KEEP(H, 1, 1, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),
	KEEP(H, 1, 1, TKT_SEAT_QUERY, TKT_OK),
	KEEP(H, 1, 1, TKT_SEAT_ORDER, TKT_NOT_HOLDER),
	KEEP(H, 1, 1, TKT_SEAT_SELL, TKT_NOT_HOLDER),
	KEEP(H, 1, 1, TKT_SEAT_CANCEL, TKT_NOT_HOLDER),
	MOVE(H, 1, 1, TKT_SEAT_EXPIRE, A, NONE_, EXP_ZERO, NONE_, SAME),
	KEEP(H, 1, 1, TKT_SEAT_UNORDER, TKT_NOT_HOLDER),
	MOVE(H, 1, 1, TKT_SEAT_RESTORE_ORDERED, O, SAME, EXP_NOW_TTL, NONE_, NONE_),
	MOVE(H, 1, 1, TKT_SEAT_RESTORE_SOLD, S, NONE_, EXP_ZERO, NONE_, SAME),
	KEEP(H, 1, 1, TKT_SEAT_UNBLOCK, TKT_OK),
	/* HELD, lapsed, other's: a steal moves the count */
	MOVE(H, 1, 0, TKT_SEAT_HOLD, H, SAME, EXP_NOW_TTL, SAME, OTHR),
	KEEP(H, 1, 0, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),
	KEEP(H, 1, 0, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),
	KEEP(H, 1, 0, TKT_SEAT_QUERY, TKT_OK),
	KEEP(H, 1, 0, TKT_SEAT_ORDER, TKT_NOT_HOLDER),
	KEEP(H, 1, 0, TKT_SEAT_SELL, TKT_NOT_HOLDER),
	KEEP(H, 1, 0, TKT_SEAT_CANCEL, TKT_NOT_HOLDER),
	MOVE(H, 1, 0, TKT_SEAT_EXPIRE, A, NONE_, EXP_ZERO, NONE_, OTHR),
	KEEP(H, 1, 0, TKT_SEAT_UNORDER, TKT_NOT_HOLDER),
	MOVE(H, 1, 0, TKT_SEAT_RESTORE_ORDERED, O, SAME, EXP_NOW_TTL, SAME, OTHR),
	MOVE(H, 1, 0, TKT_SEAT_RESTORE_SOLD, S, NONE_, EXP_ZERO, NONE_, OTHR),
	KEEP(H, 1, 0, TKT_SEAT_UNBLOCK, TKT_OK),

	/* ORDERED, live, mine */
	KEEP(O, 0, 1, TKT_SEAT_HOLD, TKT_TAKEN),
	KEEP(O, 0, 1, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),
	KEEP(O, 0, 1, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),
	KEEP(O, 0, 1, TKT_SEAT_QUERY, TKT_TAKEN),
	KEEP(O, 0, 1, TKT_SEAT_ORDER, TKT_NOT_HOLDER),
	MOVE(O, 0, 1, TKT_SEAT_SELL, S, NONE_, EXP_ZERO, NONE_, SAME),
	MOVE(O, 0, 1, TKT_SEAT_CANCEL, A, NONE_, EXP_ZERO, NONE_, SAME),
	KEEP(O, 0, 1, TKT_SEAT_EXPIRE, TKT_OK),
	MOVE(O, 0, 1, TKT_SEAT_UNORDER, H, SAME, EXP_NOW_TTL, NONE_, NONE_),
	KEEP(O, 0, 1, TKT_SEAT_RESTORE_ORDERED, TKT_TAKEN),
	KEEP(O, 0, 1, TKT_SEAT_RESTORE_SOLD, TKT_TAKEN),
	KEEP(O, 0, 1, TKT_SEAT_UNBLOCK, TKT_OK),
	/* ORDERED, live, other's */
	KEEP(O, 0, 0, TKT_SEAT_HOLD, TKT_TAKEN),
	KEEP(O, 0, 0, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),
	KEEP(O, 0, 0, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),
	KEEP(O, 0, 0, TKT_SEAT_QUERY, TKT_TAKEN),
	KEEP(O, 0, 0, TKT_SEAT_ORDER, TKT_NOT_HOLDER),
	KEEP(O, 0, 0, TKT_SEAT_SELL, TKT_NOT_HOLDER),
	KEEP(O, 0, 0, TKT_SEAT_CANCEL, TKT_NOT_HOLDER),
	KEEP(O, 0, 0, TKT_SEAT_EXPIRE, TKT_OK),
	KEEP(O, 0, 0, TKT_SEAT_UNORDER, TKT_NOT_HOLDER),
	KEEP(O, 0, 0, TKT_SEAT_RESTORE_ORDERED, TKT_TAKEN),
	KEEP(O, 0, 0, TKT_SEAT_RESTORE_SOLD, TKT_TAKEN),
	KEEP(O, 0, 0, TKT_SEAT_UNBLOCK, TKT_OK),
	/* ORDERED, lapsed (deadline passed), mine: cancellable, not sellable */
	MOVE(O, 1, 1, TKT_SEAT_HOLD, H, SAME, EXP_NOW_TTL, NONE_, NONE_),
	KEEP(O, 1, 1, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),
	KEEP(O, 1, 1, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),
	KEEP(O, 1, 1, TKT_SEAT_QUERY, TKT_OK),
	KEEP(O, 1, 1, TKT_SEAT_ORDER, TKT_NOT_HOLDER),
	KEEP(O, 1, 1, TKT_SEAT_SELL, TKT_NOT_HOLDER),
	MOVE(O, 1, 1, TKT_SEAT_CANCEL, A, NONE_, EXP_ZERO, NONE_, SAME),
	MOVE(O, 1, 1, TKT_SEAT_EXPIRE, A, NONE_, EXP_ZERO, NONE_, SAME),
	MOVE(O, 1, 1, TKT_SEAT_UNORDER, H, SAME, EXP_NOW_TTL, NONE_, NONE_),
	MOVE(O, 1, 1, TKT_SEAT_RESTORE_ORDERED, O, SAME, EXP_NOW_TTL, NONE_, NONE_),
	MOVE(O, 1, 1, TKT_SEAT_RESTORE_SOLD, S, NONE_, EXP_ZERO, NONE_, SAME),
	KEEP(O, 1, 1, TKT_SEAT_UNBLOCK, TKT_OK),
	/* ORDERED, lapsed, other's */
	MOVE(O, 1, 0, TKT_SEAT_HOLD, H, SAME, EXP_NOW_TTL, SAME, OTHR),
	KEEP(O, 1, 0, TKT_SEAT_RELEASE, TKT_NOT_HOLDER),
	KEEP(O, 1, 0, TKT_SEAT_EXTEND, TKT_NOT_HOLDER),
	KEEP(O, 1, 0, TKT_SEAT_QUERY, TKT_OK),
	KEEP(O, 1, 0, TKT_SEAT_ORDER, TKT_NOT_HOLDER),
	KEEP(O, 1, 0, TKT_SEAT_SELL, TKT_NOT_HOLDER),
	KEEP(O, 1, 0, TKT_SEAT_CANCEL, TKT_NOT_HOLDER),
	MOVE(O, 1, 0, TKT_SEAT_EXPIRE, A, NONE_, EXP_ZERO, NONE_, OTHR),
	KEEP(O, 1, 0, TKT_SEAT_UNORDER, TKT_NOT_HOLDER),
	MOVE(O, 1, 0, TKT_SEAT_RESTORE_ORDERED, O, SAME, EXP_NOW_TTL, SAME, OTHR),
	MOVE(O, 1, 0, TKT_SEAT_RESTORE_SOLD, S, NONE_, EXP_ZERO, NONE_, OTHR),
	KEEP(O, 1, 0, TKT_SEAT_UNBLOCK, TKT_OK),

	SOLD_ROWS(0, 0),
	SOLD_ROWS(0, 1),
	SOLD_ROWS(1, 0),
	SOLD_ROWS(1, 1),
};

static __u32 who_slot(enum who w)
{
	return w == SAME ? ME : w == OTHR ? OTHER : 0;
}

static __u64 row_word(const struct row *r, __u32 now, __u32 ctr)
{
	if (r->state == A || r->state == S)
		return tkt_sw_pack(r->state, ctr, 0, 0);
	return tkt_sw_pack(r->state, ctr, r->mine ? ME : OTHER,
			   r->lapsed ? now - 5 : now + 5000);
}

static void check_row(const struct row *r, __u32 now, __u32 ctr)
{
	struct tkt_seat_change c;
	__u64 w = row_word(r, now, ctr);
	char what[96];

	snprintf(what, sizeof(what), "state %u lapsed %d mine %d op %u now %u",
		 r->state, r->lapsed, r->mine, r->op, now);
	tkt_seat_transition(w, r->op, ME, now, TTL, &c);
	if (c.status != r->status || c.changed != r->changed)
		fail_msg("%s: status %u changed %u, want %u %d", what,
			 c.status, c.changed, r->status, r->changed);
	assert_int_equal(c.old_word, w);
	if (!r->changed) {
		assert_int_equal(c.new_word, w);
		assert_int_equal(c.gain_slot, 0);
		assert_int_equal(c.lose_slot, 0);
		return;
	}
	if (tkt_sw_state(c.new_word) != r->new_state ||
	    tkt_sw_holder(c.new_word) != who_slot(r->new_holder))
		fail_msg("%s: new state %u holder %u", what,
			 tkt_sw_state(c.new_word), tkt_sw_holder(c.new_word));
	assert_int_equal(tkt_sw_counter(c.new_word), (ctr + 1) & 0xff);
	if (r->new_exp == EXP_ZERO)
		assert_int_equal(tkt_sw_expiry(c.new_word), 0);
	else
		assert_int_equal(tkt_sw_expiry(c.new_word), now + TTL);
	if (c.gain_slot != who_slot(r->gain) || c.lose_slot != who_slot(r->lose))
		fail_msg("%s: gain %u lose %u", what, c.gain_slot, c.lose_slot);
}

static void every_state_op_expiry_and_holder_follows_the_table(void **state)
{
	static const __u32 nows[] = {1000000u, 2u, 0xfffffff0u};
	size_t i, n;

	(void)state;
	assert_int_equal(sizeof(table) / sizeof(table[0]),
			 4 * TKT_SEAT_OP_MAX * 2 * 2);
	for (n = 0; n < sizeof(nows) / sizeof(nows[0]); n++)
		for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
			check_row(&table[i], nows[n], 41);
}

static void table_covers_every_combination_once(void **state)
{
	int seen[4][TKT_SEAT_OP_MAX + 1][2][2] = {{{{0}}}};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		seen[table[i].state][table[i].op][table[i].lapsed]
		    [table[i].mine]++;
	for (int s = 0; s < 4; s++)
		for (int op = 1; op <= TKT_SEAT_OP_MAX; op++)
			for (int l = 0; l < 2; l++)
				for (int m = 0; m < 2; m++)
					assert_int_equal(seen[s][op][l][m], 1);
}

/* tkt_sw_claimed / _lapsed / _live / _claimed_by over every state, live or
 * lapsed, mine or another's, and exactly at the deadline. */
static void claim_helpers_tell_live_lapsed_and_whose(void **state)
{
	const __u32 now = 1000000u;
	__u32 st;

	(void)state;
	for (st = 0; st < 4; st++) {
		int claimed = st == H || st == O;

		for (int lapsed = 0; lapsed < 2; lapsed++) {
			__u64 w = claimed ? tkt_sw_pack(st, 9, ME,
							lapsed ? now : now + 1)
					  : tkt_sw_pack(st, 9, 0, 0);

			assert_int_equal(tkt_sw_claimed(w), claimed);
			assert_int_equal(tkt_sw_lapsed(w, now), claimed && lapsed);
			assert_int_equal(tkt_sw_live(w, now), claimed && !lapsed);
			assert_int_equal(tkt_sw_claimed_by(w, ME, now),
					 claimed && !lapsed ? st : A);
			assert_int_equal(tkt_sw_claimed_by(w, OTHER, now), A);
			assert_int_equal(tkt_sw_effective_state(w, now),
					 claimed && lapsed ? A : st);
		}
	}
}

static void pack_and_unpack_round_trip(void **state)
{
	__u64 w = tkt_sw_pack(TKT_SEAT_ORDERED, 0xab, TKT_SLOT_MAX, 0xdeadbeef);

	(void)state;
	assert_int_equal(tkt_sw_state(w), TKT_SEAT_ORDERED);
	assert_int_equal(tkt_sw_counter(w), 0xab);
	assert_int_equal(tkt_sw_holder(w), TKT_SLOT_MAX);
	assert_int_equal(tkt_sw_expiry(w), 0xdeadbeef);
	assert_int_equal(w >> 62, 2);
	assert_int_equal((w >> 54) & 0xff, 0xab);
}

static void expiry_compares_serially_across_the_wrap(void **state)
{
	__u32 now = 0xffffff00u;
	struct tkt_seat_change c;
	__u64 w;

	(void)state;
	/* deadline past the wrap: 0x100 + 1000 ms ahead, still live */
	w = tkt_sw_pack(TKT_SEAT_HELD, 0, OTHER, now + 0x100 + 1000);
	assert_true(tkt_sw_expiry(w) < now);
	assert_false(tkt_ms_reached(now, tkt_sw_expiry(w)));
	tkt_seat_transition(w, TKT_SEAT_HOLD, ME, now, TTL, &c);
	assert_int_equal(c.status, TKT_TAKEN);
	/* after the wrap and past the deadline it has lapsed */
	tkt_seat_transition(w, TKT_SEAT_HOLD, ME, now + 0x100 + 1000, TTL, &c);
	assert_int_equal(c.status, TKT_OK);
	assert_int_equal(c.lose_slot, OTHER);
	/* exactly at the deadline counts as reached ("never before it") */
	assert_true(tkt_ms_reached(5, 5));
	assert_false(tkt_ms_reached(4, 5));
	/* a hold taken just before the wrap expires just after it */
	tkt_seat_transition(tkt_sw_pack(0, 0, 0, 0), TKT_SEAT_HOLD, ME,
			    0xffffffffu, TTL, &c);
	assert_int_equal(tkt_sw_expiry(c.new_word), TTL - 1);
	assert_false(tkt_ms_reached(TTL - 2, tkt_sw_expiry(c.new_word)));
	assert_true(tkt_ms_reached(TTL - 1, tkt_sw_expiry(c.new_word)));
}

static void counter_increments_on_every_change_and_wraps(void **state)
{
	__u64 w = tkt_sw_pack(TKT_SEAT_AVAILABLE, 0, 0, 0);
	struct tkt_seat_change c;
	int i;

	(void)state;
	for (i = 1; i <= 600; i++) {
		tkt_seat_transition(w, (i & 1) ? TKT_SEAT_HOLD
					       : TKT_SEAT_RELEASE,
				    ME, 1000, TTL, &c);
		assert_int_equal(c.status, TKT_OK);
		assert_int_equal(tkt_sw_counter(c.new_word), i & 0xff);
		/* the counter never spills into the state bits */
		assert_int_equal(tkt_sw_state(c.new_word),
				 (i & 1) ? TKT_SEAT_HELD : TKT_SEAT_AVAILABLE);
		w = c.new_word;
	}
	tkt_seat_transition(w, TKT_SEAT_QUERY, ME, 1000, TTL, &c);
	assert_int_equal(tkt_sw_counter(c.new_word), 600 & 0xff);
}

static void slot_zero_or_too_big_is_a_bad_credential(void **state)
{
	struct tkt_seat_change c;

	(void)state;
	tkt_seat_transition(0, TKT_SEAT_HOLD, 0, 10, TTL, &c);
	assert_int_equal(c.status, TKT_BAD_CREDENTIAL);
	assert_false(c.changed);
	tkt_seat_transition(0, TKT_SEAT_HOLD, TKT_SLOT_MAX + 1, 10, TTL, &c);
	assert_int_equal(c.status, TKT_BAD_CREDENTIAL);
	/* QUERY and EXPIRE need no slot */
	tkt_seat_transition(0, TKT_SEAT_QUERY, 0, 10, 0, &c);
	assert_int_equal(c.status, TKT_OK);
}

static void zero_or_huge_ttl_is_malformed(void **state)
{
	struct tkt_seat_change c;

	(void)state;
	tkt_seat_transition(0, TKT_SEAT_HOLD, ME, 10, 0, &c);
	assert_int_equal(c.status, TKT_MALFORMED);
	tkt_seat_transition(0, TKT_SEAT_ORDER, ME, 10, 0x80000000u, &c);
	assert_int_equal(c.status, TKT_MALFORMED);
	tkt_seat_transition(0, 99, ME, 10, TTL, &c);
	assert_int_equal(c.status, TKT_MALFORMED);
}

/* ---- the daemon-only composite ops against the steps they replace ---- */

struct outcome {
	int ok;        /* every step (or the op) changed the word */
	__u8 status;   /* of the first step that did not */
	__u64 word;    /* the word at the end */
	int delta_me;  /* hold-count change of ME */
	int delta_other;
	int cas;       /* CASes it took */
};

static void count_delta(const struct tkt_seat_change *c, struct outcome *o)
{
	o->delta_me += (c->gain_slot == ME) - (c->lose_slot == ME);
	o->delta_other += (c->gain_slot == OTHER) - (c->lose_slot == OTHER);
}

/* Runs ops one after the other on w at the same instant, as the callers did
 * with one CAS each, stopping at the first refusal. */
static struct outcome run_steps(__u64 w, const __u32 *ops, int n, __u32 now)
{
	struct outcome o = {.ok = 1, .word = w};
	struct tkt_seat_change c;

	for (int i = 0; i < n; i++) {
		tkt_seat_transition(o.word, ops[i], ME, now, TTL, &c);
		if (!c.changed) {
			o.ok = 0;
			o.status = c.status;
			return o;
		}
		count_delta(&c, &o);
		o.word = c.new_word;
		o.cas++;
	}
	return o;
}

static __u64 strip_counter(__u64 w)
{
	return w & ~((__u64)TKT_SW_CTR_MASK << TKT_SW_CTR_SHIFT);
}

/* op must end where its steps end, from every starting word the steps
 * accept (from the same state, holder and expiry, with the same net count
 * changes, in one CAS with the counter one up); and, where the first
 * `gate` steps refuse, refuse with the same status. */
static void op_equals_its_steps(__u32 op, const __u32 *steps, int n, int gate)
{
	static const __u32 nows[] = {1000000u, 2u, 0xfffffff0u};
	char what[96];

	for (size_t k = 0; k < sizeof(nows) / sizeof(nows[0]); k++)
		for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
			__u32 now = nows[k];
			__u64 w = row_word(&table[i], now, 200);
			struct outcome want, gated, got;

			if (table[i].op != TKT_SEAT_HOLD)
				continue; /* one pass per starting word */
			want = run_steps(w, steps, n, now);
			gated = run_steps(w, steps, gate, now);
			got = run_steps(w, &op, 1, now);
			snprintf(what, sizeof(what),
				 "op %u from state %u lapsed %d mine %d now %u",
				 op, table[i].state, table[i].lapsed,
				 table[i].mine, now);
			if (!gated.ok) {
				if (got.ok || got.status != gated.status)
					fail_msg("%s: ok %d status %u, steps "
						 "refuse with %u",
						 what, got.ok, got.status,
						 gated.status);
				continue;
			}
			if (!want.ok || !got.ok)
				fail_msg("%s: ok %d, steps ok %d (status %u)",
					 what, got.ok, want.ok, want.status);
			if (strip_counter(got.word) != strip_counter(want.word) ||
			    got.delta_me != want.delta_me ||
			    got.delta_other != want.delta_other)
				fail_msg("%s: word %llx counts %d %d, steps "
					 "%llx %d %d",
					 what, (unsigned long long)got.word,
					 got.delta_me, got.delta_other,
					 (unsigned long long)want.word,
					 want.delta_me, want.delta_other);
			assert_int_equal(got.cas, 1);
			assert_int_equal(want.cas, n);
			assert_int_equal(tkt_sw_counter(got.word), 201);
		}
}

static void restore_ordered_is_hold_then_order_in_one_cas(void **state)
{
	static const __u32 steps[] = {TKT_SEAT_HOLD, TKT_SEAT_ORDER};

	(void)state;
	op_equals_its_steps(TKT_SEAT_RESTORE_ORDERED, steps, 2, 2);
}

static void restore_sold_is_hold_order_sell_in_one_cas(void **state)
{
	static const __u32 steps[] = {TKT_SEAT_HOLD, TKT_SEAT_ORDER,
				      TKT_SEAT_SELL};

	(void)state;
	op_equals_its_steps(TKT_SEAT_RESTORE_SOLD, steps, 3, 3);
}

/* UNORDER acts where CANCEL acts (the pair used to go on to HOLD a seat
 * CANCEL had refused; UNORDER refuses it as CANCEL does), and from there
 * ends where CANCEL then HOLD ended, without the AVAILABLE word between. */
static void unorder_is_cancel_then_hold_in_one_cas(void **state)
{
	static const __u32 steps[] = {TKT_SEAT_CANCEL, TKT_SEAT_HOLD};

	(void)state;
	op_equals_its_steps(TKT_SEAT_UNORDER, steps, 2, 1);
}

static void daemon_only_ops_check_slot_and_ttl(void **state)
{
	static const __u32 ops[] = {TKT_SEAT_UNORDER, TKT_SEAT_RESTORE_ORDERED,
				    TKT_SEAT_RESTORE_SOLD};
	__u64 mine = tkt_sw_pack(TKT_SEAT_ORDERED, 3, ME, 5000);
	struct tkt_seat_change c;

	(void)state;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		__u64 w = ops[i] == TKT_SEAT_UNORDER ? mine : 0;
		int needs_ttl = ops[i] != TKT_SEAT_RESTORE_SOLD;

		tkt_seat_transition(w, ops[i], 0, 1000, TTL, &c);
		assert_int_equal(c.status, TKT_BAD_CREDENTIAL);
		tkt_seat_transition(w, ops[i], TKT_SLOT_MAX + 1, 1000, TTL, &c);
		assert_int_equal(c.status, TKT_BAD_CREDENTIAL);
		tkt_seat_transition(w, ops[i], ME, 1000, 0, &c);
		assert_int_equal(c.status, needs_ttl ? TKT_MALFORMED : TKT_OK);
		assert_int_equal(c.changed, !needs_ttl);
		tkt_seat_transition(w, ops[i], ME, 1000, 0x80000000u, &c);
		assert_int_equal(c.status, needs_ttl ? TKT_MALFORMED : TKT_OK);
		tkt_seat_transition(w, ops[i], ME, 1000, 0x7fffffffu, &c);
		assert_int_equal(c.status, TKT_OK);
		assert_true(c.changed);
	}
	tkt_seat_transition(0, TKT_SEAT_OP_MAX + 1, ME, 10, TTL, &c);
	assert_int_equal(c.status, TKT_MALFORMED);
}

static void seen_state_tells_in_order_from_not_yours(void **state)
{
	struct tkt_seat_change c;
	__u64 mine = tkt_sw_pack(TKT_SEAT_ORDERED, 3, ME, 5000);

	(void)state;
	tkt_seat_transition(mine, TKT_SEAT_RELEASE, ME, 1000, TTL, &c);
	assert_int_equal(c.status, TKT_NOT_HOLDER);
	assert_int_equal(c.seen_state, TKT_SEAT_ORDERED);
	tkt_seat_transition(mine, TKT_SEAT_RELEASE, ME, 6000, TTL, &c);
	assert_int_equal(c.seen_state, TKT_SEAT_AVAILABLE);
}

static void reply_expiry_is_unix_ms_of_live_words_only(void **state)
{
	__u64 unix_now = 1700000000000ull;

	(void)state;
	assert_int_equal(tkt_sw_expiry_unix_ms(tkt_sw_pack(1, 0, ME, 1500),
					       1000, unix_now),
			 unix_now + 500);
	/* across the wrap */
	assert_int_equal(tkt_sw_expiry_unix_ms(tkt_sw_pack(1, 0, ME, 10),
					       0xfffffff0u, unix_now),
			 unix_now + 26);
	assert_int_equal(tkt_sw_expiry_unix_ms(tkt_sw_pack(1, 0, ME, 900),
					       1000, unix_now),
			 0);
	assert_int_equal(tkt_sw_expiry_unix_ms(tkt_sw_pack(3, 0, 0, 0), 1000,
					       unix_now),
			 0);
}

static void cas_succeeds_only_on_the_word_it_was_computed_from(void **state)
{
	__u64 word = tkt_sw_pack(0, 7, 0, 0);
	struct tkt_seat_change c;

	(void)state;
	tkt_seat_transition(word, TKT_SEAT_HOLD, ME, 10, TTL, &c);
	word = tkt_sw_pack(0, 8, 0, 0); /* someone else changed it */
	assert_false(tkt_seat_cas(&word, &c));
	assert_int_equal(word, tkt_sw_pack(0, 8, 0, 0));
	tkt_seat_transition(word, TKT_SEAT_HOLD, ME, 10, TTL, &c);
	assert_true(tkt_seat_cas(&word, &c));
	assert_int_equal(word, c.new_word);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_state_op_expiry_and_holder_follows_the_table),
		cmocka_unit_test(table_covers_every_combination_once),
		cmocka_unit_test(claim_helpers_tell_live_lapsed_and_whose),
		cmocka_unit_test(pack_and_unpack_round_trip),
		cmocka_unit_test(expiry_compares_serially_across_the_wrap),
		cmocka_unit_test(counter_increments_on_every_change_and_wraps),
		cmocka_unit_test(slot_zero_or_too_big_is_a_bad_credential),
		cmocka_unit_test(zero_or_huge_ttl_is_malformed),
		cmocka_unit_test(restore_ordered_is_hold_then_order_in_one_cas),
		cmocka_unit_test(restore_sold_is_hold_order_sell_in_one_cas),
		cmocka_unit_test(unorder_is_cancel_then_hold_in_one_cas),
		cmocka_unit_test(daemon_only_ops_check_slot_and_ttl),
		cmocka_unit_test(seen_state_tells_in_order_from_not_yours),
		cmocka_unit_test(reply_expiry_is_unix_ms_of_live_words_only),
		cmocka_unit_test(cas_succeeds_only_on_the_word_it_was_computed_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
