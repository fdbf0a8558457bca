/* Both doors on the same seats at the same time: threads running the XDP
 * program (bpf_prog_test_run_opts, so each run is on the calling thread's
 * CPU) and threads changing the mmapped words from userspace
 * (edge_seat_apply), while a consumer drains the change stream. Then an
 * audit: one holder per seat, each side holds exactly what it won, hold
 * counts match the words, and the stream has one record per change, in
 * word order per seat. Last, the daemon moves seats between states with its
 * one-CAS ops while other sessions hammer HOLD on them from both doors: no
 * other session may ever win one of them. Needs root; pins under a
 * throwaway bpffs dir. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "tests/bpf/packets.h"
#include "userspace/lib/edge.h"

#define EV 9u
#define NSEATS 4096u
#define HOT 64u /* churn concentrates on these */
#define BASE 1000u
#define XDP_THREADS 2
#define USER_THREADS 2
#define SLOTS_PER_THREAD 4
#define CHURN_OPS 40000

/* The daemon's moves: seats of their own event after the churn's. */
#define EV_MOVE 10u
#define BASE_MOVE (BASE + NSEATS)
#define NMOVE 32u    /* moved with the one-CAS ops: nobody may get one */
#define NCONTROL 32u /* moved the old way, CANCEL then HOLD, for contrast */
#define MOVE_SEATS (NMOVE + NCONTROL)
#define MOVER_SLOT 900u
#define ATTACKERS (XDP_THREADS + USER_THREADS)
#define MOVE_ROUNDS 400
#define MOVE_MAX_SECONDS 10
#define ATTACK_MAX_TRIES 4000000u

static const struct tkt_token_key key = {.k0 = 0xa5a5a5a5a5a5a5a5ull,
					 .k1 = 0x5a5a5a5a5a5a5a5aull};

static char pin_dir[64];
static struct edge *edge;
static int go; /* __atomic */

struct worker {
	pthread_t th;
	int xdp; /* which door */
	int id;
	uint32_t slots[SLOTS_PER_THREAD];
	uint32_t owner[NSEATS]; /* slot of ours holding each seat, 0 = none */
	uint64_t changes;       /* successful changes made */
	uint64_t wins;          /* phase 1: seats won */
	int phase;
	unsigned int rng;
};

static struct worker workers[XDP_THREADS + USER_THREADS];

/* ---- the consumer ---- */

static pthread_t consumer;
/* written by the consumer, read by the audit: all __atomic */
static int consumer_stop;
static uint64_t delivered, out_of_order;
static uint64_t last_new[NSEATS];
static uint64_t move_delivered, move_out_of_order;
static uint64_t move_last_new[MOVE_SEATS];

/* Records of the daemon's moves, counted apart from the doors' phases. */
static void on_move(const struct tkt_change *rec)
{
	uint32_t m = rec->seat_index - BASE_MOVE;

	if (rec->old_word != __atomic_load_n(&move_last_new[m], __ATOMIC_RELAXED))
		__atomic_fetch_add(&move_out_of_order, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&move_last_new[m], rec->new_word, __ATOMIC_RELEASE);
	__atomic_fetch_add(&move_delivered, 1, __ATOMIC_RELEASE);
}

static int on_change(void *ctx, const struct tkt_change *rec)
{
	uint32_t s = rec->seat_index - BASE;

	(void)ctx;
	if (rec->event_id == EV_MOVE && rec->seat_index - BASE_MOVE < MOVE_SEATS) {
		on_move(rec);
		return 0;
	}
	__atomic_fetch_add(&delivered, 1, __ATOMIC_RELEASE);
	if (rec->event_id != EV || s >= NSEATS) {
		__atomic_fetch_add(&out_of_order, 1, __ATOMIC_RELAXED);
		return 0;
	}
	if (rec->old_word != __atomic_load_n(&last_new[s], __ATOMIC_RELAXED))
		__atomic_fetch_add(&out_of_order, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&last_new[s], rec->new_word, __ATOMIC_RELEASE);
	return 0;
}

static void *consume(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&consumer_stop, __ATOMIC_ACQUIRE))
		if (edge_poll_changes(edge, on_change, NULL, 10) < 0)
			break;
	return NULL;
}

/* ---- the two doors ---- */

/* One datagram through the XDP program; its reply status, or -1. */
static int xdp_req(uint32_t req_id, uint32_t ev, uint8_t op, uint32_t seat,
		   uint32_t slot)
{
	uint8_t in[128], out[256], tok[16];
	struct tkt_req r;
	size_t n;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_out = out,
		    .data_size_out = sizeof(out));

	tkt_token_mint(&key, slot, (uint32_t)(time(NULL) + 3600), tok);
	pkt_req(&r, op, req_id, ev, seat, tok, 600);
	n = pkt_udp4(in, 40000, 7000, &r, sizeof(r));
	o.data_size_in = (__u32)n;
	if (bpf_prog_test_run_opts(edge_xdp_prog_fd(edge), &o) ||
	    o.retval != XDP_TX)
		return -1;
	return out[14 + 20 + 8 + 16];
}

/* One op through ticketd's side of the table; its status, or -1. */
static int user_req(enum tkt_change_source src, uint32_t ev, uint32_t op,
		    uint32_t seat, uint32_t slot)
{
	struct tkt_seat_req rq = {.event_id = ev, .seat_id = seat,
				  .slot = slot, .ttl_ms = 600000, .op = op};
	struct tkt_seat_res res;

	if (edge_seat_apply(edge, src, &rq, &res))
		return -1;
	return res.status;
}

static int xdp_op(struct worker *w, uint8_t op, uint32_t seat, uint32_t slot)
{
	return xdp_req((uint32_t)w->id, EV, op, seat, slot);
}

static int user_op(struct worker *w, uint8_t op, uint32_t seat, uint32_t slot)
{
	(void)w;
	return user_req(TKT_SRC_REST, EV, op, seat, slot);
}

static int do_op(struct worker *w, uint8_t op, uint32_t seat, uint32_t slot)
{
	int st = w->xdp ? xdp_op(w, op, seat, slot) : user_op(w, op, seat, slot);

	if (st == TKT_OK) {
		w->changes++;
		if (op == TKT_OP_HOLD)
			w->owner[seat] = slot;
		else
			w->owner[seat] = 0;
	}
	return st;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	static __thread uint32_t order[NSEATS];
	uint32_t i, seat;

	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		sched_yield();
	if (w->phase == 1) {
		/* everyone tries every seat once, in its own order */
		for (i = 0; i < NSEATS; i++)
			order[i] = i;
		for (i = NSEATS - 1; i > 0; i--) {
			uint32_t j = (uint32_t)rand_r(&w->rng) % (i + 1), t;

			t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (i = 0; i < NSEATS; i++) {
			int st = do_op(w, TKT_OP_HOLD, order[i],
				       w->slots[i % SLOTS_PER_THREAD]);

			if (st == TKT_OK)
				w->wins++;
			else if (st != TKT_TAKEN)
				fprintf(stderr, "phase 1: status %d\n", st);
		}
		return NULL;
	}
	/* churn: holds, re-holds and releases from both doors */
	for (i = 0; i < CHURN_OPS; i++) {
		uint32_t r = (uint32_t)rand_r(&w->rng);

		seat = r % HOT;
		if (w->owner[seat] && (r >> 8) % 3 == 0)
			do_op(w, TKT_OP_RELEASE, seat, w->owner[seat]);
		else
			do_op(w, TKT_OP_HOLD, seat,
			      w->owner[seat] ? w->owner[seat]
					     : w->slots[(r >> 12) %
							SLOTS_PER_THREAD]);
	}
	return NULL;
}

static void run_phase(int phase)
{
	int i;

	__atomic_store_n(&go, 0, __ATOMIC_RELEASE);
	for (i = 0; i < XDP_THREADS + USER_THREADS; i++) {
		workers[i].phase = phase;
		assert_int_equal(pthread_create(&workers[i].th, NULL, run,
						&workers[i]),
				 0);
	}
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	for (i = 0; i < XDP_THREADS + USER_THREADS; i++)
		pthread_join(workers[i].th, NULL);
}

/* ---- setup and audit ---- */

static void remove_pins(void)
{
	DIR *d = opendir(pin_dir);
	struct dirent *de;
	char path[512];

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", pin_dir,
				 de->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(pin_dir);
}

static int setup(void **state)
{
	struct edge_opts o = {.backend = EDGE_BACKEND_BPF};
	struct tkt_config cfg = {.key = key, .udp_port = 7000,
				 .hold_limit = 1000};
	int i, j;

	(void)state;
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/ticket-test-race-%d",
		 (int)getpid());
	remove_pins();
	o.pin_dir = pin_dir;
	if (edge_open(&o, &edge) || edge_reused(edge))
		return -1;
	if (edge_set_config(edge, &cfg) ||
	    edge_set_event(edge, EV, BASE, NSEATS, true))
		return -1;
	for (i = 0; i < XDP_THREADS + USER_THREADS; i++) {
		workers[i].id = i;
		workers[i].xdp = i < XDP_THREADS;
		workers[i].rng = 1234u + (unsigned)i;
		for (j = 0; j < SLOTS_PER_THREAD; j++)
			workers[i].slots[j] =
				(uint32_t)(100 + i * SLOTS_PER_THREAD + j);
	}
	return pthread_create(&consumer, NULL, consume, NULL) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	__atomic_store_n(&consumer_stop, 1, __ATOMIC_RELEASE);
	pthread_join(consumer, NULL);
	edge_close(edge);
	remove_pins();
	return 0;
}

static void audit(void)
{
	uint64_t changes = 0;
	uint32_t s, i, j;

	for (s = 0; s < NSEATS; s++) {
		uint64_t w = edge_seat_read(edge, BASE + s);
		uint32_t holder = tkt_sw_holder(w), claims = 0;

		for (i = 0; i < XDP_THREADS + USER_THREADS; i++)
			if (workers[i].owner[s])
				claims++;
		/* at most one holder, and it is the one that thinks so */
		assert_true(claims <= 1);
		if (tkt_sw_state(w) == TKT_SEAT_HELD) {
			assert_int_equal(claims, 1);
			for (i = 0; i < XDP_THREADS + USER_THREADS; i++)
				if (workers[i].owner[s])
					assert_int_equal(workers[i].owner[s],
							 holder);
		} else {
			assert_int_equal(tkt_sw_state(w), TKT_SEAT_AVAILABLE);
			assert_int_equal(claims, 0);
		}
	}
	/* hold counts equal the seats each slot holds */
	for (i = 0; i < XDP_THREADS + USER_THREADS; i++) {
		for (j = 0; j < SLOTS_PER_THREAD; j++) {
			uint32_t slot = workers[i].slots[j], held = 0, count;

			for (s = 0; s < NSEATS; s++)
				if (tkt_sw_state(edge_seat_read(edge, BASE + s)) ==
					    TKT_SEAT_HELD &&
				    tkt_sw_holder(edge_seat_read(edge, BASE + s)) ==
					    slot)
					held++;
			assert_int_equal(edge_hold_count_get(edge, slot, EV,
							     &count),
					 0);
			if (count != held)
				fail_msg("slot %u: count %u, holds %u", slot,
					 count, held);
		}
		changes += workers[i].changes;
	}
	/* one record per change, each following the previous of its seat */
	{
		int tries = 0;

		while (__atomic_load_n(&delivered, __ATOMIC_ACQUIRE) < changes &&
		       tries++ < 300)
			usleep(10000);
	}
	assert_int_equal(__atomic_load_n(&delivered, __ATOMIC_ACQUIRE), changes);
	/* every record in word order, unless a producer stalled longer than
	 * the consumer waits (then the edge says so) */
	{
		struct edge_stats st;

		assert_int_equal(edge_stats(edge, &st), 0);
		uint64_t ooo = __atomic_load_n(&out_of_order, __ATOMIC_ACQUIRE);

		if (ooo)
			printf("# %llu records out of order, %llu late\n",
			       (unsigned long long)ooo,
			       (unsigned long long)st.stream_late);
		if (!st.stream_late) {
			assert_int_equal(ooo, 0);
			/* the last record of each seat is its word now */
			for (s = 0; s < NSEATS; s++)
				assert_int_equal(__atomic_load_n(&last_new[s],
								 __ATOMIC_ACQUIRE),
						 edge_seat_read(edge, BASE + s));
		}
	}
}

static void every_seat_has_one_winner_across_both_doors(void **state)
{
	uint64_t wins = 0, xdp_wins = 0, user_wins = 0;
	uint32_t s, i;

	(void)state;
	run_phase(1);
	for (i = 0; i < XDP_THREADS + USER_THREADS; i++) {
		uint64_t held = 0;

		for (s = 0; s < NSEATS; s++)
			if (workers[i].owner[s])
				held++;
		/* each side's win count equals the seats it holds */
		assert_int_equal(workers[i].wins, held);
		wins += workers[i].wins;
		if (workers[i].xdp)
			xdp_wins += workers[i].wins;
		else
			user_wins += workers[i].wins;
	}
	assert_int_equal(wins, NSEATS);
	printf("# phase 1: xdp won %llu seats, userspace %llu\n",
	       (unsigned long long)xdp_wins, (unsigned long long)user_wins);
	audit();
}

static void churn_from_both_doors_keeps_words_counts_and_stream_in_step(void **state)
{
	struct edge_stats st;
	uint64_t changes = 0;
	int i;

	(void)state;
	run_phase(2);
	audit();
	for (i = 0; i < XDP_THREADS + USER_THREADS; i++)
		changes += workers[i].changes;
	assert_int_equal(edge_stats(edge, &st), 0);
	printf("# churn: %llu changes, xdp replies ok %llu taken %llu "
	       "not-holder %llu\n",
	       (unsigned long long)changes, (unsigned long long)st.xdp[TKT_OK],
	       (unsigned long long)st.xdp[TKT_TAKEN],
	       (unsigned long long)st.xdp[TKT_NOT_HOLDER]);
}

/* ---- the daemon's one-CAS moves against other sessions ---- */

struct attacker {
	pthread_t th;
	int xdp;
	uint32_t slot;
	uint64_t tries; /* __atomic: the mover waits for the first */
	uint64_t wins, wins_moved; /* read after join */
	uint8_t won[MOVE_SEATS];
};

static struct attacker attackers[ATTACKERS];
static int move_stop; /* __atomic */

/* Another session: HOLD on every seat of the event in turn, from its door,
 * until told to stop (or a bound on tries). A control seat it wins is its
 * own from then on; a moved seat it wins is the failure this test is for. */
static void *attack(void *arg)
{
	struct attacker *a = arg;
	uint32_t i = 0, m;

	while (!__atomic_load_n(&move_stop, __ATOMIC_ACQUIRE) &&
	       __atomic_load_n(&a->tries, __ATOMIC_RELAXED) < ATTACK_MAX_TRIES) {
		int st;

		m = i++ % MOVE_SEATS;
		if (a->won[m])
			continue;
		st = a->xdp ? xdp_req(a->slot, EV_MOVE, TKT_OP_HOLD, m, a->slot)
			    : user_req(TKT_SRC_REST, EV_MOVE, TKT_SEAT_HOLD, m,
				       a->slot);
		__atomic_fetch_add(&a->tries, 1, __ATOMIC_RELAXED);
		if (st != TKT_OK)
			continue;
		a->wins++;
		if (m < NMOVE)
			a->wins_moved++;
		else
			a->won[m] = 1;
	}
	return NULL;
}

static int mover_op(uint32_t op, uint32_t m)
{
	return user_req(TKT_SRC_SAGA, EV_MOVE, op, m, MOVER_SLOT);
}

static void daemon_moves_leave_no_window_for_other_sessions(void **state)
{
	/* ORDERED -> HELD -> ORDERED -> HELD -> ORDERED, four ways */
	static const uint32_t cycle[] = {TKT_SEAT_UNORDER, TKT_SEAT_ORDER,
					 TKT_SEAT_UNORDER,
					 TKT_SEAT_RESTORE_ORDERED};
	uint8_t control_mine[MOVE_SEATS] = {0};
	uint64_t changes = 0, tries = 0, late_before;
	uint32_t m, lost = 0, kept = 0, count;
	struct edge_stats es;
	int failures = 0, rounds, i, k, wait;
	time_t t0;

	(void)state;
	assert_int_equal(edge_set_event(edge, EV_MOVE, BASE_MOVE, MOVE_SEATS,
					true),
			 0);
	assert_int_equal(edge_stats(edge, &es), 0);
	late_before = es.stream_late;

	/* the daemon has every seat before anyone else asks: the moved ones
	 * ORDERED straight from AVAILABLE, the control ones HELD */
	for (m = 0; m < MOVE_SEATS; m++) {
		assert_int_equal(mover_op(m < NMOVE ? TKT_SEAT_RESTORE_ORDERED
						    : TKT_SEAT_HOLD,
					  m),
				 TKT_OK);
		control_mine[m] = m >= NMOVE;
		changes++;
	}
	__atomic_store_n(&move_stop, 0, __ATOMIC_RELEASE);
	for (i = 0; i < ATTACKERS; i++) {
		attackers[i].xdp = i < XDP_THREADS;
		attackers[i].slot = MOVER_SLOT + 1 + (uint32_t)i;
		assert_int_equal(pthread_create(&attackers[i].th, NULL, attack,
						&attackers[i]),
				 0);
	}
	/* every other session is hammering before the first move */
	for (i = 0; i < ATTACKERS; i++)
		for (wait = 0; wait < 5000 &&
			       !__atomic_load_n(&attackers[i].tries,
						__ATOMIC_RELAXED);
		     wait++)
			usleep(1000);

	t0 = time(NULL);
	for (rounds = 0; rounds < MOVE_ROUNDS &&
			 time(NULL) - t0 < MOVE_MAX_SECONDS;
	     rounds++) {
		for (m = 0; m < NMOVE; m++)
			for (k = 0; k < 4; k++) {
				if (mover_op(cycle[k], m) == TKT_OK)
					changes++;
				else
					failures++;
			}
		/* the same move the old way: ORDER, then CANCEL and HOLD,
		 * with the seat AVAILABLE between the two */
		for (m = NMOVE; m < MOVE_SEATS; m++) {
			if (!control_mine[m])
				continue;
			assert_int_equal(mover_op(TKT_SEAT_ORDER, m), TKT_OK);
			assert_int_equal(mover_op(TKT_SEAT_CANCEL, m), TKT_OK);
			changes += 2;
			if (mover_op(TKT_SEAT_HOLD, m) == TKT_OK) {
				changes++;
			} else {
				control_mine[m] = 0;
				lost++;
			}
		}
	}
	/* and the moved seats end SOLD straight from the daemon's hold */
	for (m = 0; m < NMOVE; m++) {
		if (mover_op(TKT_SEAT_UNORDER, m) == TKT_OK)
			changes++;
		else
			failures++;
		if (mover_op(TKT_SEAT_RESTORE_SOLD, m) == TKT_OK)
			changes++;
		else
			failures++;
	}
	__atomic_store_n(&move_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < ATTACKERS; i++) {
		pthread_join(attackers[i].th, NULL);
		tries += attackers[i].tries;
		changes += attackers[i].wins;
	}
	printf("# moves: %d rounds of %u seats, %d daemon ops refused, %llu "
	       "HOLDs by other sessions; CANCEL then HOLD lost %u of %u "
	       "seats to them\n",
	       rounds, NMOVE, failures, (unsigned long long)tries, lost,
	       NCONTROL);

	/* nobody else ever won a seat the daemon was moving, and the daemon
	 * never lost one of its own moves */
	assert_int_equal(failures, 0);
	assert_true(rounds > 0);
	for (i = 0; i < ATTACKERS; i++) {
		assert_true(attackers[i].tries > 0);
		assert_int_equal(attackers[i].wins_moved, 0);
	}

	/* words: moved seats SOLD; control seats with whoever won them last */
	for (m = 0; m < MOVE_SEATS; m++) {
		uint64_t w = edge_seat_read(edge, BASE_MOVE + m);
		uint32_t owner = control_mine[m] ? MOVER_SLOT : 0, claims = 0;

		if (m < NMOVE) {
			assert_int_equal(tkt_sw_state(w), TKT_SEAT_SOLD);
			continue;
		}
		for (i = 0; i < ATTACKERS; i++)
			if (attackers[i].won[m]) {
				owner = attackers[i].slot;
				claims++;
			}
		assert_int_equal(claims, !control_mine[m]);
		assert_int_equal(tkt_sw_state(w), TKT_SEAT_HELD);
		assert_int_equal(tkt_sw_holder(w), owner);
		kept += control_mine[m];
	}
	/* hold counts: the daemon's control seats, each session's wins */
	assert_int_equal(edge_hold_count_get(edge, MOVER_SLOT, EV_MOVE, &count), 0);
	assert_int_equal(count, kept);
	for (i = 0; i < ATTACKERS; i++) {
		assert_int_equal(edge_hold_count_get(edge, attackers[i].slot,
						     EV_MOVE, &count),
				 0);
		assert_int_equal(count, attackers[i].wins);
	}
	/* one record per change, in word order per seat */
	for (wait = 0; wait < 300 &&
		       __atomic_load_n(&move_delivered, __ATOMIC_ACQUIRE) < changes;
	     wait++)
		usleep(10000);
	assert_int_equal(__atomic_load_n(&move_delivered, __ATOMIC_ACQUIRE),
			 changes);
	assert_int_equal(edge_stats(edge, &es), 0);
	if (es.stream_late == late_before) {
		assert_int_equal(__atomic_load_n(&move_out_of_order,
						 __ATOMIC_ACQUIRE),
				 0);
		for (m = 0; m < MOVE_SEATS; m++)
			assert_int_equal(__atomic_load_n(&move_last_new[m],
							 __ATOMIC_ACQUIRE),
					 edge_seat_read(edge, BASE_MOVE + m));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_seat_has_one_winner_across_both_doors),
		cmocka_unit_test(
			churn_from_both_doors_keeps_words_counts_and_stream_in_step),
		cmocka_unit_test(daemon_moves_leave_no_window_for_other_sessions),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
