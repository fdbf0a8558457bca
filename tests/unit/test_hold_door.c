/* The shared door logic (bpf/hold_door.h) against a fake door whose hooks
 * can interfere between the transition and the CAS, as another CPU would:
 * the count and record bookkeeping around a lost CAS, and request
 * validation. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bpf/hold_door.h"
#include "tests/bpf/packets.h"

#define ME 3u
#define OTHER 4u
#define NOW_NS (5000ull * TKT_NS_PER_SEC)
#define NOW_MS ((__u32)(NOW_NS / TKT_NS_PER_MS))

struct fake {
	__u64 seats[16];
	struct tkt_event ev;
	__u32 count[8]; /* by slot, one event */
	int reserved, submitted, discarded;
	int ring_room;    /* records that fit */
	int interfere;    /* CAS attempts to spoil */
	__u64 interfere_word;
	struct tkt_change rec;
	struct tkt_config cfg;
};

static int f_event(void *impl, __u32 id, struct tkt_event *ev)
{
	struct fake *f = impl;

	if (id != 1)
		return -1;
	*ev = f->ev;
	return 0;
}

static int f_count_reserve(void *impl, __u32 slot, __u32 ev, __u32 limit)
{
	struct fake *f = impl;

	return tkt_count_take(&f->count[slot], limit);
}

static void f_count_release(void *impl, __u32 slot, __u32 ev)
{
	struct fake *f = impl;

	/* the last unit retires the word; a map would delete the entry */
	if (tkt_count_give(&f->count[slot]))
		f->count[slot] = 0;
}

/* Called after the transition was computed and right before the CAS: the
 * place where another writer can slip in. */
static struct tkt_change *f_change_reserve(void *impl)
{
	struct fake *f = impl;

	if (f->interfere) {
		f->interfere--;
		f->seats[0] = f->interfere_word;
	}
	if (f->reserved - f->submitted - f->discarded >= f->ring_room)
		return NULL;
	f->reserved++;
	return &f->rec;
}

static void f_submit(void *impl, struct tkt_change *r)
{
	((struct fake *)impl)->submitted++;
}

static void f_discard(void *impl, struct tkt_change *r)
{
	((struct fake *)impl)->discarded++;
}

static __u64 f_now(void *impl)
{
	return NOW_NS;
}

static const struct tkt_door_ops ops = {
	.event = f_event,
	.count_reserve = f_count_reserve,
	.count_release = f_count_release,
	.change_reserve = f_change_reserve,
	.change_submit = f_submit,
	.change_discard = f_discard,
	.now_ns = f_now,
};

static struct fake fk;
static struct tkt_door door;

static int setup(void **state)
{
	(void)state;
	memset(&fk, 0, sizeof(fk));
	fk.ev.nseats = 16;
	fk.ev.owned = 1;
	fk.ring_room = 100;
	fk.cfg.hold_limit = 2;
	door.seats = fk.seats;
	door.cfg = &fk.cfg;
	door.ops = &ops;
	door.impl = &fk;
	door.source = TKT_SRC_REST;
	return 0;
}

static void apply(__u32 op, __u32 slot, struct tkt_seat_res *res)
{
	struct tkt_seat_req rq = {.event_id = 1, .seat_id = 0, .slot = slot,
				  .ttl_ms = 1000, .op = op};

	tkt_door_apply(&door, &rq, NOW_NS, res);
}

static void lost_cas_to_a_new_holder_gives_count_and_record_back(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.interfere = 1;
	fk.interfere_word = tkt_sw_pack(TKT_SEAT_HELD, 1, OTHER, NOW_MS + 5000);
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_TAKEN);
	assert_int_equal(fk.count[ME], 0);
	assert_int_equal(fk.reserved, 1);
	assert_int_equal(fk.discarded, 1);
	assert_int_equal(fk.submitted, 0);
}

static void lost_cas_to_a_harmless_change_retries_and_wins(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.interfere = 1;
	fk.interfere_word = tkt_sw_pack(TKT_SEAT_AVAILABLE, 7, 0, 0);
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.count[ME], 1); /* reserved once, kept */
	assert_int_equal(fk.reserved, 1);  /* the record survived the retry */
	assert_int_equal(fk.submitted, 1);
	assert_int_equal(tkt_sw_counter(fk.seats[0]), 8);
	assert_int_equal(fk.rec.old_word, tkt_sw_pack(0, 7, 0, 0));
	assert_int_equal(fk.rec.new_word, fk.seats[0]);
	assert_int_equal(fk.rec.source, TKT_SRC_REST);
}

static void full_ring_refuses_and_returns_the_count(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.ring_room = 0;
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_RATE_LIMITED);
	assert_int_equal(fk.count[ME], 0);
	assert_int_equal(fk.seats[0], 0);
}

static void limit_refuses_before_any_record_is_taken(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.count[ME] = 2;
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_LIMIT_EXCEEDED);
	assert_int_equal(fk.reserved, 0);
	assert_int_equal(fk.count[ME], 2);
}

static void taking_a_lapsed_hold_moves_one_count(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.seats[0] = tkt_sw_pack(TKT_SEAT_HELD, 0, OTHER, NOW_MS - 1);
	fk.count[OTHER] = 1;
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.count[ME], 1);
	assert_int_equal(fk.count[OTHER], 0);
	apply(TKT_SEAT_EXPIRE, 0, &res); /* live: nothing to sweep */
	assert_int_equal(res.changed, 0);
	assert_int_equal(fk.submitted, 1);
}

/* ---- the daemon-only composite ops through the door: counts, limit,
 * one record per CAS ---- */

static void unorder_keeps_the_holders_count_and_writes_one_record(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.seats[0] = tkt_sw_pack(TKT_SEAT_ORDERED, 4, ME, NOW_MS + 60000);
	fk.count[ME] = 2; /* at the limit: UNORDER needs no new count */
	apply(TKT_SEAT_UNORDER, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.seats[0],
			 tkt_sw_pack(TKT_SEAT_HELD, 5, ME, NOW_MS + 1000));
	assert_int_equal(fk.count[ME], 2);
	assert_int_equal(fk.submitted, 1);
	assert_int_equal(fk.rec.op, TKT_SEAT_UNORDER);
	assert_int_equal(fk.rec.old_word,
			 tkt_sw_pack(TKT_SEAT_ORDERED, 4, ME, NOW_MS + 60000));
	assert_int_equal(fk.rec.new_word, fk.seats[0]);
	/* another session cannot unorder it, nor unorder a hold */
	apply(TKT_SEAT_UNORDER, OTHER, &res);
	assert_int_equal(res.status, TKT_NOT_HOLDER);
	apply(TKT_SEAT_UNORDER, ME, &res);
	assert_int_equal(res.status, TKT_NOT_HOLDER);
	assert_int_equal(fk.reserved, 1);
}

static void restore_ordered_reserves_a_count_within_the_limit(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.count[ME] = 2;
	apply(TKT_SEAT_RESTORE_ORDERED, ME, &res);
	assert_int_equal(res.status, TKT_LIMIT_EXCEEDED);
	assert_int_equal(fk.seats[0], 0);
	assert_int_equal(fk.reserved, 0);
	fk.count[ME] = 1;
	apply(TKT_SEAT_RESTORE_ORDERED, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.seats[0],
			 tkt_sw_pack(TKT_SEAT_ORDERED, 1, ME, NOW_MS + 1000));
	assert_int_equal(fk.count[ME], 2);
	assert_int_equal(fk.submitted, 1);
	assert_int_equal(fk.rec.op, TKT_SEAT_RESTORE_ORDERED);
	/* from its own hold: no new count, so the limit does not bite */
	fk.seats[0] = tkt_sw_pack(TKT_SEAT_HELD, 9, ME, NOW_MS + 5);
	apply(TKT_SEAT_RESTORE_ORDERED, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.count[ME], 2);
	assert_int_equal(tkt_sw_state(fk.seats[0]), TKT_SEAT_ORDERED);
}

static void restore_ordered_of_a_lapsed_claim_moves_one_count(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.seats[0] = tkt_sw_pack(TKT_SEAT_ORDERED, 0, OTHER, NOW_MS - 1);
	fk.count[OTHER] = 1;
	apply(TKT_SEAT_RESTORE_ORDERED, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.count[ME], 1);
	assert_int_equal(fk.count[OTHER], 0);
	assert_int_equal(tkt_sw_holder(fk.seats[0]), ME);
}

static void restore_ordered_losing_its_cas_gives_the_count_back(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	fk.interfere = 1;
	fk.interfere_word = tkt_sw_pack(TKT_SEAT_HELD, 1, OTHER, NOW_MS + 5000);
	apply(TKT_SEAT_RESTORE_ORDERED, ME, &res);
	assert_int_equal(res.status, TKT_TAKEN);
	assert_int_equal(fk.count[ME], 0);
	assert_int_equal(fk.discarded, 1);
	assert_int_equal(fk.submitted, 0);
}

static void restore_sold_takes_no_count_and_gives_back_the_claims(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	/* a lapsed hold of another session: its count goes, none is taken
	 * even at the limit */
	fk.seats[0] = tkt_sw_pack(TKT_SEAT_HELD, 0, OTHER, NOW_MS - 1);
	fk.count[OTHER] = 1;
	fk.count[ME] = 2;
	apply(TKT_SEAT_RESTORE_SOLD, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.seats[0], tkt_sw_pack(TKT_SEAT_SOLD, 1, 0, 0));
	assert_int_equal(fk.count[OTHER], 0);
	assert_int_equal(fk.count[ME], 2);
	assert_int_equal(fk.submitted, 1);
	assert_int_equal(fk.rec.op, TKT_SEAT_RESTORE_SOLD);
	/* sold already: SOLD, nothing written */
	apply(TKT_SEAT_RESTORE_SOLD, ME, &res);
	assert_int_equal(res.status, TKT_SOLD);
	assert_int_equal(fk.reserved, 1);
	/* its own live hold: its own count goes */
	fk.seats[0] = tkt_sw_pack(TKT_SEAT_HELD, 3, ME, NOW_MS + 5000);
	apply(TKT_SEAT_RESTORE_SOLD, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.count[ME], 1);
	/* somebody else's live hold: TAKEN */
	fk.seats[0] = tkt_sw_pack(TKT_SEAT_HELD, 3, OTHER, NOW_MS + 5000);
	apply(TKT_SEAT_RESTORE_SOLD, ME, &res);
	assert_int_equal(res.status, TKT_TAKEN);
	assert_int_equal(fk.submitted, 2);
}

static void seats_outside_the_event_do_not_exist(void **state)
{
	struct tkt_seat_req rq = {.event_id = 1, .seat_id = 16, .slot = ME,
				  .ttl_ms = 1000, .op = TKT_SEAT_HOLD};
	struct tkt_seat_res res;

	(void)state;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_NO_SUCH_SEAT);
	rq.seat_id = 0;
	rq.event_id = 2;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_NO_SUCH_SEAT);
	/* a base near the end cannot overflow into a valid index */
	fk.ev.base = TKT_MAX_SEATS - 1;
	fk.ev.nseats = 0xffffffffu;
	rq.event_id = 1;
	rq.seat_id = 2;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_NO_SUCH_SEAT);
	fk.ev.owned = 0;
	fk.ev.base = 0;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_WRONG_NODE);
}

static void request_check_drops_wrong_length_or_foreign_and_flags_the_rest(void **state)
{
	struct tkt_req r;
	uint8_t tok[16] = {0};
	unsigned len, secs;

	(void)state;
	pkt_req(&r, TKT_OP_HOLD, 1, 1, 1, tok, 0);
	for (len = 0; len < 40; len++)
		assert_int_equal(tkt_req_check(&r, len), TKT_REQ_DROP);
	assert_int_equal(tkt_req_check(&r, 40), TKT_OK);
	for (len = 41; len < 2000; len++)
		assert_int_equal(tkt_req_check(&r, len), TKT_REQ_DROP);
	r.version = 9;
	assert_int_equal(tkt_req_check(&r, 40), TKT_MALFORMED);
	r.version = TKT_VERSION;
	for (secs = 0; secs < 700; secs++) {
		int ok = secs == 0 || (secs >= 5 && secs <= 600);

		r.hold_secs = htons((uint16_t)secs);
		r.op = TKT_OP_EXTEND;
		assert_int_equal(tkt_req_check(&r, 40),
				 ok ? TKT_OK : TKT_MALFORMED);
		r.op = TKT_OP_QUERY; /* ignored by ops that do not hold */
		assert_int_equal(tkt_req_check(&r, 40), TKT_OK);
	}
	r.hold_secs = 0;
	r.magic = htons(0x5854);
	assert_int_equal(tkt_req_check(&r, 40), TKT_REQ_DROP);
}

/* A datagram may only carry HOLD, RELEASE, EXTEND or QUERY: every op value
 * the daemon alone may run (ORDER .. and whatever follows) is MALFORMED, as
 * is every value nobody defined. */
static void request_check_refuses_every_op_but_the_wire_ops(void **state)
{
	struct tkt_req r;
	uint8_t tok[16] = {0};
	unsigned op;

	(void)state;
	for (op = 0; op < 256; op++) {
		int wire = op >= TKT_OP_HOLD && op <= TKT_OP_QUERY;

		pkt_req(&r, (uint8_t)op, 1, 1, 1, tok, 0);
		assert_int_equal(tkt_req_check(&r, 40),
				 wire ? TKT_OK : TKT_MALFORMED);
		assert_int_equal(tkt_seat_op_on_wire(op), wire);
	}
	for (op = TKT_SEAT_QUERY + 1; op <= TKT_SEAT_OP_MAX; op++)
		assert_false(tkt_seat_op_on_wire(op));
}

static void gcra_allows_the_burst_then_the_rate(void **state)
{
	__u64 tat = 0, t = 1000 * TKT_NS_PER_SEC;
	int i, ok = 0;

	(void)state;
	for (i = 0; i < 10; i++)
		ok += tkt_gcra_take(&tat, t, 10, 4);
	assert_int_equal(ok, 4);
	/* 100 ms later one more token (rate 10/s) */
	assert_true(tkt_gcra_take(&tat, t + 100 * TKT_NS_PER_MS, 10, 4));
	assert_false(tkt_gcra_take(&tat, t + 100 * TKT_NS_PER_MS, 10, 4));
	/* rate 0: unlimited */
	assert_true(tkt_gcra_take(&tat, t, 0, 0));
}

static struct tkt_peer peer4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct tkt_peer p = {.addr = {[10] = 0xff, [11] = 0xff, a, b, c, d}};

	return p;
}

/* Replies go to one host on a real port: never port 0, unspecified,
 * multicast or broadcast sources (IPv4 and IPv6). */
static void source_must_be_one_host_on_a_real_port(void **state)
{
	struct tkt_peer p6 = {.addr = {0xfd, 0x78, [15] = 1}};
	struct tkt_peer any6 = {0}, mc6 = {.addr = {0xff, 0x02, [15] = 1}};
	uint16_t port = htons(40000);

	(void)state;
	assert_true(tkt_source_ok(&p6, port));
	assert_false(tkt_source_ok(&p6, 0));
	assert_false(tkt_source_ok(&any6, port));
	assert_false(tkt_source_ok(&mc6, port));
	p6.addr[0] = 0xfe; /* fe80::1, link-local unicast: fine */
	p6.addr[1] = 0x80;
	assert_true(tkt_source_ok(&p6, port));
	{
		struct tkt_peer ok[] = {peer4(1, 0, 0, 1), peer4(10, 78, 0, 1),
					peer4(127, 0, 0, 1),
					peer4(223, 255, 255, 254)};
		struct tkt_peer bad[] = {peer4(0, 0, 0, 0), peer4(0, 1, 2, 3),
					 peer4(224, 0, 0, 1),
					 peer4(239, 255, 255, 250),
					 peer4(240, 0, 0, 1),
					 peer4(255, 255, 255, 255)};
		size_t i;

		for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
			assert_true(tkt_source_ok(&ok[i], port));
			assert_false(tkt_source_ok(&ok[i], 0));
		}
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_false(tkt_source_ok(&bad[i], port));
	}
}

/* ---- the waiting room (issue #12) ---- */

static __u64 admits[8];

static void hold_on_a_room_event_needs_the_slots_live_admission(void **state)
{
	struct tkt_seat_res res;

	(void)state;
	memset(admits, 0, sizeof(admits));
	door.admits = admits;
	fk.ev.flags = TKT_EVENT_ROOM;
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_NOT_ADMITTED);
	assert_false(res.changed);
	assert_int_equal(fk.seats[0], 0);
	assert_int_equal(fk.reserved, 0); /* no record, no count */
	assert_int_equal(fk.count[ME], 0);
	/* another event's admission, or an expired one, is none */
	admits[ME] = tkt_admit_word(2, NOW_NS, 60000);
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_NOT_ADMITTED);
	admits[ME] = tkt_admit_word(1, NOW_NS - 2 * TKT_NS_PER_SEC, 1000);
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_NOT_ADMITTED);
	admits[ME] = tkt_admit_word(1, NOW_NS, 60000);
	apply(TKT_SEAT_HOLD, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(fk.count[ME], 1);
	/* only HOLD asks: the holder extends and releases without one */
	admits[ME] = 0;
	apply(TKT_SEAT_EXTEND, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	apply(TKT_SEAT_QUERY, 0, &res);
	assert_int_equal(res.status, TKT_TAKEN);
	apply(TKT_SEAT_HOLD, ME, &res); /* a refresh by HOLD does ask */
	assert_int_equal(res.status, TKT_NOT_ADMITTED);
	apply(TKT_SEAT_RELEASE, ME, &res);
	assert_int_equal(res.status, TKT_OK);
	/* without the flag nobody is asked */
	fk.ev.flags = 0;
	apply(TKT_SEAT_HOLD, OTHER, &res);
	assert_int_equal(res.status, TKT_OK);
	door.admits = NULL;
}

static void admission_word_rounds_up_and_never_reads_as_none(void **state)
{
	const __u64 tick = 1ull << TKT_ADMIT_SHIFT;
	__u64 w;

	(void)state;
	w = tkt_admit_word(7, NOW_NS, 1000);
	assert_int_equal(w >> 32, 7);
	/* live for the whole ttl, gone less than a tick after it */
	assert_true(tkt_admit_live(w, 7, NOW_NS));
	assert_true(tkt_admit_live(w, 7, NOW_NS + 1000 * TKT_NS_PER_MS - 1));
	assert_false(tkt_admit_live(w, 7, NOW_NS + 1000 * TKT_NS_PER_MS + tick));
	assert_false(tkt_admit_live(w, 8, NOW_NS));
	assert_false(tkt_admit_live(0, 0, NOW_NS));
	/* event 0 at a tick that wraps to 0: still not the empty word */
	w = tkt_admit_word(0, (1ull << (32 + TKT_ADMIT_SHIFT)) - 1000 * TKT_NS_PER_MS, 1000);
	assert_true(w != 0);
	/* the clock wraps the tick counter: an admission across it lives */
	w = tkt_admit_word(3, (1ull << (32 + TKT_ADMIT_SHIFT)) - tick, 5000);
	assert_true(tkt_admit_live(w, 3, (1ull << (32 + TKT_ADMIT_SHIFT)) + tick));
	/* a word a year old reads expired, not alive again */
	w = tkt_admit_word(3, NOW_NS, 1000);
	assert_false(tkt_admit_live(w, 3, NOW_NS + 365ull * 86400 * TKT_NS_PER_SEC));
}

/* #17: an event's entry closes it to holds and carries its own limit,
 * default hold and lifetime cap, each replacing the config's. */
static void an_events_own_policy_replaces_the_configs(void **state)
{
	struct tkt_seat_req rq = {.event_id = 1, .seat_id = 0, .slot = ME, .ttl_ms = 120000,
				  .op = TKT_SEAT_HOLD, .ttl_default = 1};
	struct tkt_seat_res res;

	(void)state;
	fk.cfg.hold_lifetime_max_secs = 0;
	fk.ev.flags = tkt_event_policy(3, 30, 0);
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_OK);
	/* the event's 30 s, not the wire default's 120 s */
	assert_int_equal(tkt_sw_expiry(res.word) - tkt_ms32(NOW_NS), 30000);
	rq.seat_id = 1;
	rq.ttl_default = 0; /* hold seconds on the wire win */
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(tkt_sw_expiry(res.word) - tkt_ms32(NOW_NS), 120000);
	rq.seat_id = 2; /* limit 3 (the config says 2) */
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_OK);
	rq.seat_id = 3;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_LIMIT_EXCEEDED);
	/* a lifetime cap of 10 s caps a 120 s hold of seat 4 by another */
	fk.ev.flags = tkt_event_policy(0, 0, 10);
	rq.seat_id = 4;
	rq.slot = OTHER;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(tkt_sw_expiry(res.word) - tkt_ms32(NOW_NS), 10000);
	/* closed: a HOLD is refused untouched; a QUERY answers */
	fk.ev.flags = TKT_EVENT_CLOSED;
	rq.seat_id = 5;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_NOT_ADMITTED);
	assert_int_equal(fk.seats[5], 0);
	rq.op = TKT_SEAT_QUERY;
	tkt_door_apply(&door, &rq, NOW_NS, &res);
	assert_int_equal(res.status, TKT_OK);
}

#define T(name) cmocka_unit_test_setup(name, setup)

/* The slot_counts word (bpf/ticket_maps.h): a free word takes the first
 * event that counts in it and keeps it at 0; another event is sent to
 * the counts hash (ELSEWHERE) by take, give and get alike; the limit is
 * the pair's own, and a refused take does not claim a free word. */
static void a_slot_word_counts_one_event_and_keeps_it(void **state)
{
	__u64 w = 0;
	__u32 n = 99;

	(void)state;
	assert_int_equal(tkt_slot_count_take(&w, 7, 0), TKT_LIMIT_EXCEEDED);
	assert_int_equal(w, 0); /* still free */
	assert_int_equal(tkt_slot_count_get(w, 7, &n), 0);
	assert_int_equal(tkt_slot_count_give(&w, 7), TKT_COUNT_ELSEWHERE);
	assert_int_equal(tkt_slot_count_take(&w, 7, 2), TKT_OK);
	assert_int_equal(w, (__u64)8 << 32 | 1);
	assert_int_equal(tkt_slot_count_take(&w, 7, 2), TKT_OK);
	assert_int_equal(tkt_slot_count_take(&w, 7, 2), TKT_LIMIT_EXCEEDED);
	assert_int_equal(tkt_slot_count_take(&w, 9, 2), TKT_COUNT_ELSEWHERE);
	assert_int_equal(tkt_slot_count_give(&w, 9), TKT_COUNT_ELSEWHERE);
	assert_int_equal(tkt_slot_count_get(w, 9, &n), 0);
	assert_int_equal(tkt_slot_count_get(w, 7, &n), 1);
	assert_int_equal(n, 2);
	assert_int_equal(tkt_slot_count_give(&w, 7), TKT_OK);
	assert_int_equal(tkt_slot_count_give(&w, 7), TKT_OK);
	assert_int_equal(tkt_slot_count_give(&w, 7), TKT_OK); /* floored */
	assert_int_equal(w, (__u64)8 << 32); /* at 0, still event 7's */
	assert_int_equal(tkt_slot_count_take(&w, 9, 2), TKT_COUNT_ELSEWHERE);
	/* event 0 is an event like any other (the tag is id + 1) */
	w = 0;
	assert_int_equal(tkt_slot_count_take(&w, 0, 1), TKT_OK);
	assert_int_equal(tkt_slot_count_get(w, 0, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(tkt_slot_count_take(&w, 0, 1), TKT_LIMIT_EXCEEDED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(lost_cas_to_a_new_holder_gives_count_and_record_back),
		T(lost_cas_to_a_harmless_change_retries_and_wins),
		T(full_ring_refuses_and_returns_the_count),
		T(limit_refuses_before_any_record_is_taken),
		T(taking_a_lapsed_hold_moves_one_count),
		T(unorder_keeps_the_holders_count_and_writes_one_record),
		T(restore_ordered_reserves_a_count_within_the_limit),
		T(restore_ordered_of_a_lapsed_claim_moves_one_count),
		T(restore_ordered_losing_its_cas_gives_the_count_back),
		T(restore_sold_takes_no_count_and_gives_back_the_claims),
		T(seats_outside_the_event_do_not_exist),
		T(request_check_drops_wrong_length_or_foreign_and_flags_the_rest),
		T(source_must_be_one_host_on_a_real_port),
		T(request_check_refuses_every_op_but_the_wire_ops),
		T(gcra_allows_the_burst_then_the_rate),
		T(hold_on_a_room_event_needs_the_slots_live_admission),
		T(an_events_own_policy_replaces_the_configs),
		T(admission_word_rounds_up_and_never_reads_as_none),
		T(a_slot_word_counts_one_event_and_keeps_it),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
