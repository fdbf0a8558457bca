/* libFuzzer harness for the whole UDP door: tkt_door_serve (bpf/hold_door.h)
 * against a real seat table, the shm backend of userspace/lib/edge.c in a
 * private temporary directory (no BPF, no root).
 *
 * An input is one config byte, then records of 44 bytes, each one datagram
 * from one of four peers:
 *
 *   ctrl[0]  bits 0-1 peer; bit 2 put a token minted by the harness at
 *            16..32 (for the slot picked by ctrl[1]); bit 3 make that token
 *            expired; bit 4 "tidy": set magic and version, and take event and
 *            seat from ctrl[3] (so the fuzzer reaches the seat rules at once);
 *            bits 5-7 how far the clock moves before the datagram
 *   ctrl[1]  slot pick (low 3 bits), among valid and invalid slots; bit 3
 *            turns the minted request into protocol v2 (session id at 16,
 *            hold seconds at 24, the per-request MAC at 32)
 *   ctrl[2]  datagram length: bit 7 set = 40, else the low 6 bits (0..63)
 *   ctrl[3]  with tidy: event 1 + (bits 0-1) (4 does not exist), seat bits 2-7
 *   dgram    40 bytes; bytes past the length are zero, as the doors pad
 *
 * The config byte: hold limit 1 + (bits 0-2); per-source rate limit from
 * bits 3-4 (off, off, 2/s, 1000/s) with burst 1 + (bits 5-6); bit 7 admits
 * slot picks 0, 3 and 4 to event 2 (it has a waiting room) and pick 1 to
 * event 1 (the wrong one), for 120 s of the door's clock.
 *
 * The seat table is created once; every input starts from a table with no
 * holds (each hold left by the previous input is released through
 * edge_seat_apply) and a clock well past the previous input's. After every
 * datagram the harness checks the invariants of the table:
 *   - every word of a declared event is AVAILABLE with no holder and no
 *     expiry, or HELD by a slot in 1..TKT_SLOT_MAX (a UDP door never
 *     orders or sells); words of the event this node does not own, and
 *     words outside every event, are never written;
 *   - the hold count of every (slot, event) equals the number of HELD or
 *     ORDERED words of that event with that holder, and stays within the
 *     hold limit; every holder is a slot whose genuine token was seen;
 *   - a reply is a well-formed reply, and no datagram under 16 bytes gets
 *     one;
 *   - a datagram changes at most one word, and only when it is answered OK
 *     with HOLD, RELEASE or EXTEND: every refusal (and every drop) leaves
 *     the table as it was;
 *   - a HOLD answered OK on event 2 came from a slot with a live admission
 *     to it, and NOT_ADMITTED answers only HOLDs on event 2.
 * FUZZ_DOOR_TRACE=1 prints each datagram and its answer (for a crash file).
 * Run: make fuzz (README.md, "Fuzzing"). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf/hold_door.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REC_LEN 44
#define N_EVENTS 3
#define N_WATCHED 64 /* seat indices checked: the events and past them */
#define MAX_SLOTS_SEEN 64
#define ROOM_EVENT 2u /* has a waiting room */

struct ev_decl {
	uint32_t id, base, nseats;
	bool owned;
};

static const struct ev_decl events[N_EVENTS] = {
	{1, 0, 16, true},
	{2, 16, 8, true},
	{3, 24, 4, false},
};

static const uint32_t slot_pick[8] = {
	1, 2, 3, 0x12345, TKT_SLOT_MAX, 7,
	0,                /* refused by tkt_token_check */
	TKT_SLOT_MAX + 1, /* likewise */
};

static const uint64_t advance_ns[8] = {
	0,
	TKT_NS_PER_MS,
	100 * TKT_NS_PER_MS,
	TKT_NS_PER_SEC,
	5 * TKT_NS_PER_SEC,
	60 * TKT_NS_PER_SEC,
	601 * TKT_NS_PER_SEC,
	3600 * TKT_NS_PER_SEC,
};

static struct edge *edge;
static bool trace; /* FUZZ_DOOR_TRACE=1: one line per datagram (repro) */
static char dir[64];
static uint64_t clock_ns; /* the door's clock: monotonic, ahead of the real */
static const struct tkt_token_key key = {0x0706050403020100ull,
					 0x0f0e0d0c0b0a0908ull};
static uint32_t seen[MAX_SLOTS_SEEN];
static int n_seen;

static void fail(const char *what, uint32_t a, uint32_t b)
{
	fprintf(stderr, "fuzz_door: invariant broken: %s (%u, %u)\n", what, a,
		b);
	abort();
}

/* The table stays mapped and its file open; its name goes at once, so
 * that a crash leaves nothing behind in /tmp. */
static void remove_dir(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[128];

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void close_edge(void)
{
	edge_close(edge);
	edge = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct edge_opts o = {.backend = EDGE_BACKEND_SHM, .queue_capacity = 4096};
	int err;

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/fuzz_door.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	o.shm_dir = dir;
	err = edge_open(&o, &edge);
	if (err) {
		fprintf(stderr, "edge_open: %s\n", strerror(-err));
		exit(1);
	}
	remove_dir();
	atexit(close_edge);
	for (int i = 0; i < N_EVENTS; i++)
		if (edge_set_event(edge, events[i].id, events[i].base,
				   events[i].nseats, events[i].owned)) {
			fprintf(stderr, "edge_set_event failed\n");
			exit(1);
		}
	if (edge_set_event_room(edge, ROOM_EVENT, true)) {
		fprintf(stderr, "edge_set_event_room failed\n");
		exit(1);
	}
	clock_ns = tkt_mono_ns();
	trace = getenv("FUZZ_DOOR_TRACE") != NULL;
	return 0;
}

static int drop_change(void *ctx, const struct tkt_change *rec)
{
	(void)ctx;
	if (rec->seat_index >= events[N_EVENTS - 1].base)
		fail("change record outside the owned events", rec->seat_index, 0);
	return 0;
}

static void drain(void)
{
	if (edge_poll_changes(edge, drop_change, NULL, 0) < 0)
		fail("edge_poll_changes failed", 0, 0);
}

/* Gives back every hold the previous input left, through the edge's own
 * rules (the holder's RELEASE, or EXPIRE for a lapsed one). */
static void reset_table(void)
{
	for (int i = 0; i < N_EVENTS; i++) {
		for (uint32_t s = 0; s < events[i].nseats; s++) {
			uint64_t w = edge_seat_read(edge, events[i].base + s);
			struct tkt_seat_req rq = {.event_id = events[i].id,
						  .seat_id = s,
						  .slot = tkt_sw_holder(w),
						  .op = TKT_SEAT_RELEASE};
			struct tkt_seat_res res;

			if (tkt_sw_state(w) == TKT_SEAT_AVAILABLE)
				continue;
			edge_seat_apply(edge, TKT_SRC_REST, &rq, &res);
			if (res.status != TKT_OK) {
				rq.op = TKT_SEAT_EXPIRE;
				edge_seat_apply(edge, TKT_SRC_SWEEPER, &rq, &res);
			}
			w = edge_seat_read(edge, events[i].base + s);
			if (tkt_sw_state(w) != TKT_SEAT_AVAILABLE)
				fail("reset could not free a seat",
				     events[i].base + s, tkt_sw_state(w));
		}
	}
	drain();
}

static void saw_slot(uint32_t slot)
{
	for (int i = 0; i < n_seen; i++)
		if (seen[i] == slot)
			return;
	if (n_seen < MAX_SLOTS_SEEN)
		seen[n_seen++] = slot;
}

static bool was_seen(uint32_t slot)
{
	for (int i = 0; i < n_seen; i++)
		if (seen[i] == slot)
			return true;
	return false;
}

static void check_table(uint32_t limit)
{
	for (uint32_t i = 0; i < N_WATCHED; i++) {
		uint64_t w = edge_seat_read(edge, i);
		uint32_t st = tkt_sw_state(w), h = tkt_sw_holder(w);

		if (i >= events[2].base && w != 0)
			fail("a word outside the owned events was written", i, 0);
		if (st == TKT_SEAT_AVAILABLE &&
		    (h != 0 || tkt_sw_expiry(w) != 0))
			fail("free word with a holder or an expiry", i, h);
		if (st == TKT_SEAT_ORDERED || st == TKT_SEAT_SOLD)
			fail("a UDP door ordered or sold a seat", i, st);
		if (st == TKT_SEAT_HELD && (h == 0 || h > TKT_SLOT_MAX))
			fail("held word with an impossible holder", i, h);
		if (st == TKT_SEAT_HELD && !was_seen(h))
			fail("held by a slot no genuine token named", i, h);
	}
	for (int k = 0; k < n_seen; k++) {
		for (int e = 0; e < N_EVENTS; e++) {
			uint32_t want = 0, got = 0;

			for (uint32_t s = 0; s < events[e].nseats; s++) {
				uint64_t w = edge_seat_read(edge, events[e].base + s);
				uint32_t st = tkt_sw_state(w);

				if ((st == TKT_SEAT_HELD || st == TKT_SEAT_ORDERED) &&
				    tkt_sw_holder(w) == seen[k])
					want++;
			}
			if (edge_hold_count_get(edge, seen[k], events[e].id, &got))
				fail("edge_hold_count_get failed", seen[k], events[e].id);
			if (got != want)
				fail("hold count differs from the seat words", got, want);
			if (got > limit)
				fail("hold count above the limit", got, limit);
		}
	}
}

static void snapshot(uint64_t *words)
{
	for (uint32_t i = 0; i < N_WATCHED; i++)
		words[i] = edge_seat_read(edge, i);
}

/* Words that changed while one datagram was served. */
static void check_changes(const uint64_t *before, int v,
			  const struct tkt_reply *rep)
{
	bool may_change = v == TKT_DOOR_REPLY && rep->status == TKT_OK &&
			  (rep->op & ~TKT_REPLY_OP_BIT) != TKT_OP_QUERY;
	int changed = 0;

	for (uint32_t i = 0; i < N_WATCHED; i++) {
		if (edge_seat_read(edge, i) == before[i])
			continue;
		if (!may_change)
			fail("a refused or dropped datagram changed a word", i,
			     v == TKT_DOOR_REPLY ? rep->status : 255u);
		changed++;
	}
	if (changed > 1)
		fail("one datagram changed several words", (uint32_t)changed, 0);
}

/* Rewrites a v1 request carrying a genuine token at 16..32 into the v2
 * layout: the session id stays, the hold seconds move to 24, and the MAC
 * keyed by the token covers bytes 0..31 (bpf/session_token.h). */
static void make_v2(uint8_t *buf)
{
	uint8_t token[TKT_TOKEN_LEN];
	uint64_t mac;

	memcpy(token, buf + 16, sizeof(token));
	buf[2] = TKT_VERSION_2;
	buf[24] = buf[32];
	buf[25] = buf[33];
	memset(buf + 26, 0, 6);
	mac = tkt_v2_mac(token, buf);
	for (int i = 0; i < 8; i++)
		buf[32 + i] = (uint8_t)(mac >> (8 * i));
}

static void check_reply(int v, const struct tkt_reply *rep, uint32_t len)
{
	if (v == TKT_DOOR_DROP)
		return;
	if (v != TKT_DOOR_REPLY)
		fail("tkt_door_serve returned neither DROP nor REPLY", (uint32_t)v, 0);
	if (len != sizeof(struct tkt_req))
		fail("a datagram of the wrong length was answered", len, 0);
	if (tkt_be16(rep->magic) != TKT_MAGIC || !(rep->op & TKT_REPLY_OP_BIT))
		fail("reply without magic or reply bit", rep->magic, rep->op);
	if (rep->status >= TKT_STATUS_COUNT)
		fail("reply status out of range", rep->status, 0);
	if (rep->zero[0] || rep->zero[1] || rep->zero[2])
		fail("reply padding not zero", 0, 0);
}

/* Mirrors the door's token check, to know which slots may hold; the slot
 * of a genuine token, else 0. */
static uint32_t note_token(const uint8_t *dgram, uint32_t len)
{
	uint64_t now_unix = (clock_ns + TKT_NS_PER_SEC * 1700000000ull) /
			    TKT_NS_PER_SEC;
	uint32_t slot = 0;

	if (len != sizeof(struct tkt_req))
		return 0;
	if (dgram[2] == TKT_VERSION_2
		    ? tkt_v2_check(&key, dgram, now_unix, &slot) == TKT_TOKEN_VALID
		    : tkt_token_check(&key, dgram + 16, now_unix, &slot) ==
			      TKT_TOKEN_VALID) {
		saw_slot(slot);
		return slot;
	}
	return 0;
}

/* The waiting room of event 2: only admitted slots hold there. */
static void check_room(int v, const struct tkt_reply *rep, const uint8_t *dgram,
		       uint32_t slot, const struct tkt_door *door)
{
	uint32_t ev = (uint32_t)dgram[8] << 24 | (uint32_t)dgram[9] << 16 |
		      (uint32_t)dgram[10] << 8 | dgram[11];
	uint64_t w = slot && slot < TKT_ADMIT_ENTRIES ? door->admits[slot] : 0;

	if (v != TKT_DOOR_REPLY)
		return;
	if (rep->status == TKT_NOT_ADMITTED &&
	    (ev != ROOM_EVENT || dgram[3] != TKT_OP_HOLD))
		fail("NOT_ADMITTED outside a HOLD on the room's event", ev, dgram[3]);
	if (rep->status == TKT_OK && dgram[3] == TKT_OP_HOLD && ev == ROOM_EVENT &&
	    !tkt_admit_live(w, ROOM_EVENT, clock_ns))
		fail("a HOLD on the room's event without an admission", slot, 0);
}

/* Admits (bit 7 of the config byte) or clears the slots of slot_pick. */
static void set_admissions(const struct tkt_door *door, bool on)
{
	static const uint32_t to[5] = {ROOM_EVENT, 1, 0, ROOM_EVENT, ROOM_EVENT};

	for (int i = 0; i < 5; i++)
		__atomic_store_n(&door->admits[slot_pick[i]],
				 on && i != 2 ? tkt_admit_word(to[i], clock_ns, 120000) : 0,
				 __ATOMIC_RELEASE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tkt_config cfg = {.key = key};
	static const uint32_t rates[4] = {0, 0, 2, 1000};
	struct tkt_door door;
	uint64_t unix_offset;

	if (size < 1)
		return 0;
	reset_table();
	n_seen = 0;
	/* Past every expiry and rate budget of the previous input. */
	clock_ns += 3600 * TKT_NS_PER_SEC;
	if (clock_ns < tkt_mono_ns())
		clock_ns = tkt_mono_ns();
	/* Unix time = monotonic + offset, a fixed distance from the door's
	 * clock so that token expiries mean the same in every run. */
	unix_offset = TKT_NS_PER_SEC * 1700000000ull;
	cfg.unix_offset_ns = unix_offset;
	cfg.udp_port = 7000;
	cfg.hold_limit = 1 + (data[0] & 7);
	cfg.rl_rate = rates[(data[0] >> 3) & 3];
	cfg.rl_burst = 1 + ((data[0] >> 5) & 3);
	if (edge_set_config(edge, &cfg))
		fail("edge_set_config failed", 0, 0);
	edge_door(edge, TKT_SRC_SOCKET, &cfg, &door);
	if (!door.admits)
		fail("the shm table has no admission words", 0, 0);
	set_admissions(&door, data[0] & 0x80);
	check_table(cfg.hold_limit);

	for (size_t off = 1; off + REC_LEN <= size; off += REC_LEN) {
		const uint8_t *ctrl = data + off;
		uint8_t buf[64] = {0};
		uint64_t before[N_WATCHED];
		struct tkt_peer peer = {{0}};
		struct tkt_reply rep = {0};
		uint32_t len = (ctrl[2] & 0x80) ? 40 : (ctrl[2] & 63), slot;
		int v;

		clock_ns += advance_ns[ctrl[0] >> 5];
		memcpy(buf, ctrl + 4, 40);
		if (ctrl[0] & 0x10) { /* tidy */
			uint32_t ev = 1 + (ctrl[3] & 3), seat = ctrl[3] >> 2;

			buf[0] = TKT_MAGIC >> 8;
			buf[1] = TKT_MAGIC & 0xff;
			buf[2] = TKT_VERSION;
			tkt_store_be32(buf + 8, ev);
			tkt_store_be32(buf + 12, seat);
		}
		if (ctrl[0] & 0x04) { /* a token the door's key signs */
			uint64_t now_unix =
				(clock_ns + unix_offset) / TKT_NS_PER_SEC;
			uint32_t expiry = (ctrl[0] & 0x08)
						  ? (uint32_t)now_unix - 1
						  : (uint32_t)now_unix + 86400;

			tkt_token_mint(&key, slot_pick[ctrl[1] & 7], expiry,
				       buf + 16);
			if (ctrl[1] & 0x08) /* as a v2 request */
				make_v2(buf);
		}
		memset(buf + len, 0, sizeof(buf) - len);
		slot = note_token(buf, len);
		/* peers: ::ffff:192.0.2.1..3 and ::1 */
		if ((ctrl[0] & 3) == 3) {
			peer.addr[15] = 1;
		} else {
			peer.addr[10] = peer.addr[11] = 0xff;
			peer.addr[12] = 192;
			peer.addr[14] = 2;
			peer.addr[15] = (uint8_t)(1 + (ctrl[0] & 3));
		}
		snapshot(before);
		v = tkt_door_serve(&door, &peer, (const struct tkt_req *)buf, len,
				   clock_ns, &rep);
		if (trace)
			fprintf(stderr, "peer %d len %u op %u event %u seat %u: %s %u\n",
				ctrl[0] & 3, len, buf[3],
				(uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 |
					(uint32_t)buf[10] << 8 | buf[11],
				(uint32_t)buf[12] << 24 | (uint32_t)buf[13] << 16 |
					(uint32_t)buf[14] << 8 | buf[15],
				v == TKT_DOOR_DROP ? "drop" : "status", rep.status);
		check_reply(v, &rep, len);
		check_changes(before, v, &rep);
		check_room(v, &rep, buf, slot, &door);
		check_table(cfg.hold_limit);
	}
	drain();
	return 0;
}
