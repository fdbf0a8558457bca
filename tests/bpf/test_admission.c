/* The waiting room's admission mark (issue #12) in the seat table, on both
 * backends of the edge: the bpf one (pins under a throwaway bpffs dir, the
 * XDP program through bpf_prog_test_run_opts) and the shm one (a throwaway
 * folder, edge_seat_apply). A HOLD on an event with a room needs the
 * slot's live admission to that event; nothing else changes. Also, on the
 * bpf backend, the consumer's side of the XDP program's per-CPU change
 * batches: the flush tick, a restart and a reset. Needs root (BPF). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "tests/bpf/packets.h"
#include "tests/edge_fixture.h"
#include "userspace/lib/edge.h"

#define EV 3u   /* has a room */
#define EV2 4u  /* has none */
#define BASE 5000u
#define BASE2 6000u
#define NSEATS 100u
#define TTL 600000u

static const struct tkt_token_key key = {.k0 = 0x1111222233334444ull,
					 .k1 = 0x5555666677778888ull};

static char dir[96];
static struct edge *edge;
static enum edge_backend backend;

static void declare(void)
{
	struct tkt_config cfg = {.key = key, .udp_port = 7000, .hold_limit = 8};

	assert_int_equal(edge_set_config(edge, &cfg), 0);
	assert_int_equal(edge_set_event(edge, EV, BASE, NSEATS, true), 0);
	assert_int_equal(edge_set_event(edge, EV2, BASE2, NSEATS, true), 0);
}

static void reopen(void)
{
	edge_close(edge);
	edge = NULL;
	assert_int_equal(edge_fx_open(backend, dir, &edge), 0);
}

static int open_edge(enum edge_backend b)
{
	backend = b;
	edge_fx_dir(dir, sizeof(dir), b, "admit");
	edge_fx_remove_dir(dir);
	reopen();
	declare();
	assert_int_equal(edge_set_event_room(edge, EV, true), 0);
	return 0;
}

static int setup_bpf(void **state)
{
	(void)state;
	return open_edge(EDGE_BACKEND_BPF);
}

static int setup_shm(void **state)
{
	(void)state;
	return open_edge(EDGE_BACKEND_SHM);
}

static int teardown(void **state)
{
	(void)state;
	edge_close(edge);
	edge = NULL;
	edge_fx_remove_dir(dir);
	return 0;
}

/* One op through ticketd's side of the table (both backends). */
static int op(uint32_t o, uint32_t ev, uint32_t seat, uint32_t slot)
{
	struct tkt_seat_req rq = {.event_id = ev, .seat_id = seat, .slot = slot,
				  .ttl_ms = TTL, .op = o};
	struct tkt_seat_res res;

	assert_int_equal(edge_seat_apply(edge, TKT_SRC_REST, &rq, &res), 0);
	if (res.status != TKT_OK)
		assert_false(res.changed);
	return res.status;
}

static int hold(uint32_t ev, uint32_t seat, uint32_t slot)
{
	return op(TKT_SEAT_HOLD, ev, seat, slot);
}

/* One datagram through the XDP program (bpf backend): its status. */
static int xdp(uint8_t o, uint32_t ev, uint32_t seat, uint32_t slot)
{
	uint8_t in[128], out[256], tok[16];
	struct tkt_req r;
	size_t n;
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in, .data_out = out,
		    .data_size_out = sizeof(out));

	tkt_token_mint(&key, slot, (uint32_t)(time(NULL) + 3600), tok);
	pkt_req(&r, o, 1, ev, seat, tok, 0);
	n = pkt_udp4(in, 40000, 7000, &r, sizeof(r));
	t.data_size_in = (__u32)n;
	if (bpf_prog_test_run_opts(edge_xdp_prog_fd(edge), &t) ||
	    t.retval != XDP_TX)
		return -1;
	return out[14 + 20 + 8 + 16];
}

/* The status a HOLD gets through every door this backend has. */
static int hold_all_doors(uint32_t ev, uint32_t seat, uint32_t slot)
{
	int s = hold(ev, seat, slot);

	if (backend == EDGE_BACKEND_BPF) {
		/* give it back and ask the XDP program the same */
		if (s == TKT_OK)
			assert_int_equal(op(TKT_SEAT_RELEASE, ev, seat, slot), TKT_OK);
		assert_int_equal(xdp(TKT_OP_HOLD, ev, seat, slot), s);
		if (s == TKT_OK)
			assert_int_equal(op(TKT_SEAT_RELEASE, ev, seat, slot), TKT_OK);
		s = hold(ev, seat, slot);
	}
	return s;
}

static int count_cb(void *ctx, const struct tkt_change *rec)
{
	(void)rec;
	(*(int *)ctx)++;
	return 0;
}

static int changes(void)
{
	int n = 0;

	assert_true(edge_poll_changes(edge, count_cb, &n, 0) >= 0);
	return n;
}

/* ---- the rule ---- */

static void hold_on_a_room_event_needs_a_live_admission_to_it(void **state)
{
	uint32_t ev = 0, left = 0;

	(void)state;
	(void)changes();
	/* none: refused, nothing changed, no record, no count */
	assert_int_equal(hold_all_doors(EV, 1, 10), TKT_NOT_ADMITTED);
	assert_int_equal(edge_seat_read(edge, BASE + 1), 0);
	assert_int_equal(changes(), 0);
	assert_int_equal(edge_hold_count_get(edge, 10, EV, &left), 0);
	assert_int_equal(left, 0);
	/* admitted: held */
	assert_int_equal(edge_admit(edge, 10, EV, 60000), 0);
	assert_int_equal(hold_all_doors(EV, 1, 10), TKT_OK);
	assert_true(changes() > 0);
	assert_int_equal(edge_admit_get(edge, 10, &ev, &left), 0);
	assert_int_equal(ev, EV);
	assert_true(left > 59000 && left <= 60000 + 17);
	/* another event's admission does not count */
	assert_int_equal(edge_admit(edge, 11, EV2, 60000), 0);
	assert_int_equal(hold_all_doors(EV, 2, 11), TKT_NOT_ADMITTED);
	/* an event without a room asks nobody */
	assert_int_equal(hold_all_doors(EV2, 2, 12), TKT_OK);
	/* expired: refused again */
	assert_int_equal(edge_admit(edge, 13, EV, 30), 0);
	assert_int_equal(hold(EV, 3, 13), TKT_OK);
	assert_int_equal(op(TKT_SEAT_RELEASE, EV, 3, 13), TKT_OK);
	usleep(80 * 1000); /* 30 ms and at most one 16.8 ms tick more */
	assert_int_equal(edge_admit_get(edge, 13, NULL, NULL), -ENOENT);
	assert_int_equal(hold_all_doors(EV, 3, 13), TKT_NOT_ADMITTED);
	/* a new admission elsewhere ends this one */
	assert_int_equal(edge_admit(edge, 10, EV2, 60000), 0);
	assert_int_equal(hold_all_doors(EV, 4, 10), TKT_NOT_ADMITTED);
	/* cleared */
	assert_int_equal(edge_admit(edge, 14, EV, 60000), 0);
	assert_int_equal(edge_admit_clear(edge, 14), 0);
	assert_int_equal(hold_all_doors(EV, 5, 14), TKT_NOT_ADMITTED);
	assert_int_equal(edge_admit_get(edge, 14, NULL, NULL), -ENOENT);
}

static void holders_extend_and_release_without_an_admission(void **state)
{
	(void)state;
	assert_int_equal(edge_admit(edge, 20, EV, 60000), 0);
	assert_int_equal(hold(EV, 7, 20), TKT_OK);
	assert_int_equal(edge_admit_clear(edge, 20), 0);
	assert_int_equal(op(TKT_SEAT_EXTEND, EV, 7, 20), TKT_OK);
	assert_int_equal(op(TKT_SEAT_QUERY, EV, 7, 0), TKT_TAKEN);
	assert_int_equal(hold(EV, 7, 20), TKT_NOT_ADMITTED); /* refresh asks */
	assert_int_equal(op(TKT_SEAT_ORDER, EV, 7, 20), TKT_OK); /* daemon op */
	assert_int_equal(op(TKT_SEAT_UNORDER, EV, 7, 20), TKT_OK);
	if (backend == EDGE_BACKEND_BPF) {
		assert_int_equal(xdp(TKT_OP_EXTEND, EV, 7, 20), TKT_OK);
		assert_int_equal(xdp(TKT_OP_QUERY, EV, 7, 20), TKT_TAKEN);
		assert_int_equal(xdp(TKT_OP_HOLD, EV, 7, 20), TKT_NOT_ADMITTED);
		assert_int_equal(xdp(TKT_OP_RELEASE, EV, 7, 20), TKT_OK);
	} else {
		assert_int_equal(op(TKT_SEAT_RELEASE, EV, 7, 20), TKT_OK);
	}
	assert_int_equal(edge_seat_read(edge, BASE + 7) >> 62, TKT_SEAT_AVAILABLE);
}

/* ---- the room flag ---- */

static void room_flag_survives_redeclaration_and_can_be_switched_off(void **state)
{
	(void)state;
	assert_int_equal(edge_set_event_room(edge, 99, true), -ENOENT);
	/* the start declares events again: the room stays */
	assert_int_equal(edge_set_event(edge, EV, BASE, NSEATS, true), 0);
	assert_int_equal(hold_all_doors(EV, 1, 30), TKT_NOT_ADMITTED);
	assert_int_equal(edge_set_event_room(edge, EV, false), 0);
	assert_int_equal(hold_all_doors(EV, 1, 30), TKT_OK);
	assert_int_equal(edge_set_event(edge, EV, BASE, NSEATS, true), 0);
	assert_int_equal(hold_all_doors(EV, 2, 31), TKT_OK);
	/* WRONG_NODE and NO_SUCH_SEAT come first */
	assert_int_equal(edge_set_event_room(edge, EV, true), 0);
	assert_int_equal(hold(EV, NSEATS, 31), TKT_NO_SUCH_SEAT);
	assert_int_equal(edge_set_event(edge, EV, BASE, NSEATS, false), 0);
	assert_int_equal(hold(EV, 3, 31), TKT_WRONG_NODE);
}

/* ---- slots and lifecycle ---- */

static void a_slot_given_to_a_new_session_starts_without_admission(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET};

	(void)state;
	inet_pton(AF_INET, "198.51.100.9", &a.sin_addr);
	assert_int_equal(edge_admit(edge, 40, EV, 60000), 0);
	assert_int_equal(edge_slot_claim(edge, 40, (struct sockaddr *)&a), 0);
	assert_int_equal(edge_admit_get(edge, 40, NULL, NULL), -ENOENT);
	assert_int_equal(hold_all_doors(EV, 1, 40), TKT_NOT_ADMITTED);
	/* a claim refused (the slot still holds seats) leaves it alone */
	assert_int_equal(edge_admit(edge, 41, EV, 60000), 0);
	assert_int_equal(hold(EV, 2, 41), TKT_OK);
	assert_int_equal(edge_slot_claim(edge, 41, (struct sockaddr *)&a), -EBUSY);
	assert_int_equal(edge_admit_get(edge, 41, NULL, NULL), 0);
}

static void bad_arguments_change_nothing(void **state)
{
	uint32_t ev = 77, left = 77;

	(void)state;
	assert_int_equal(edge_admit(edge, 0, EV, 1000), -EINVAL);
	assert_int_equal(edge_admit(edge, TKT_SLOT_MAX + 1, EV, 1000), -EINVAL);
	assert_int_equal(edge_admit(edge, 50, EV, 0), -EINVAL);
	assert_int_equal(edge_admit(edge, 50, EV, TKT_ADMIT_TTL_MAX_MS + 1u), -EINVAL);
	assert_int_equal(edge_admit_clear(edge, 0), -EINVAL);
	assert_int_equal(edge_admit_get(edge, TKT_SLOT_MAX + 1, &ev, &left), -EINVAL);
	assert_int_equal(edge_admit_get(edge, 50, &ev, &left), -ENOENT);
	assert_int_equal(ev, 77);
	assert_int_equal(left, 77);
	/* the longest admission and event 0 work */
	assert_int_equal(edge_admit(edge, TKT_SLOT_MAX, 0, TKT_ADMIT_TTL_MAX_MS), 0);
	assert_int_equal(edge_admit_get(edge, TKT_SLOT_MAX, &ev, &left), 0);
	assert_int_equal(ev, 0);
	assert_true(left > TKT_ADMIT_TTL_MAX_MS - 1000);
}

static void admissions_and_rooms_outlive_a_restart_but_not_a_reset(void **state)
{
	(void)state;
	assert_int_equal(edge_admit(edge, 60, EV, 60000), 0);
	reopen();
	declare();
	/* bpf: the pinned events keep the room; shm: set it again */
	if (backend == EDGE_BACKEND_SHM)
		assert_int_equal(hold(EV, 1, 61), TKT_OK);
	assert_int_equal(edge_set_event_room(edge, EV, true), 0);
	assert_int_equal(hold_all_doors(EV, 2, 61), TKT_NOT_ADMITTED);
	assert_int_equal(edge_admit_get(edge, 60, NULL, NULL), 0);
	assert_int_equal(hold_all_doors(EV, 3, 60), TKT_OK);
	assert_int_equal(edge_reset(edge), 0);
	assert_int_equal(edge_admit_get(edge, 60, NULL, NULL), -ENOENT);
	declare();
	assert_int_equal(hold(EV, 4, 61), TKT_OK); /* no room after a reset */
}

static void older_pins_without_the_admits_map_get_an_empty_one(void **state)
{
	char path[160];

	(void)state;
	assert_int_equal(edge_admit(edge, 70, EV, 60000), 0);
	edge_close(edge);
	edge = NULL;
	snprintf(path, sizeof(path), "%s/admits", dir);
	assert_int_equal(unlink(path), 0); /* as pins made before the room */
	reopen();
	assert_true(edge_reused(edge));
	declare();
	assert_int_equal(edge_set_event_room(edge, EV, true), 0);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(edge_admit_get(edge, 70, NULL, NULL), -ENOENT);
	assert_int_equal(hold_all_doors(EV, 1, 70), TKT_NOT_ADMITTED);
	assert_int_equal(edge_admit(edge, 70, EV, 60000), 0);
	assert_int_equal(hold_all_doors(EV, 1, 70), TKT_OK);
}

/* ---- the XDP program's change batches reach the consumer (bpf) ---- */

/* A change the XDP program batched on a CPU that then gets nothing more
 * reaches a waiting poll through the consumer's flush tick (not a forced
 * flush: the poll before it has just looked). */
static void a_quiet_cpus_batch_reaches_a_waiting_poll(void **state)
{
	struct timespec t0, t1;
	int n = 0, i;

	(void)state;
	(void)changes();
	assert_int_equal(xdp(TKT_OP_HOLD, EV2, 20, 30), TKT_OK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 20 && n == 0; i++)
		assert_true(edge_poll_changes(edge, count_cb, &n, 50) >= 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(n, 1);
	/* one tick (1 ms) and a nap or two, far from the 50 ms a poll waits */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L +
			    (t1.tv_nsec - t0.tv_nsec) <
		    40 * 1000000L);
}

/* Changes batched when the daemon stops are in the pinned batch; the next
 * daemon's first poll hands them over. A reset drops them with the ring. */
static void batched_changes_outlive_a_restart_but_not_a_reset(void **state)
{
	(void)state;
	(void)changes();
	assert_int_equal(xdp(TKT_OP_HOLD, EV2, 21, 31), TKT_OK);
	reopen();
	declare();
	assert_int_equal(changes(), 1);
	assert_int_equal(xdp(TKT_OP_HOLD, EV2, 22, 31), TKT_OK);
	assert_int_equal(edge_reset(edge), 0);
	declare();
	assert_int_equal(changes(), 0);
}

#define B(name) cmocka_unit_test_setup_teardown(name, setup_bpf, teardown)
#define M(name) cmocka_unit_test_setup_teardown(name, setup_shm, teardown)
#define BOTH(name) B(name), M(name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(hold_on_a_room_event_needs_a_live_admission_to_it),
		BOTH(holders_extend_and_release_without_an_admission),
		BOTH(room_flag_survives_redeclaration_and_can_be_switched_off),
		BOTH(a_slot_given_to_a_new_session_starts_without_admission),
		BOTH(bad_arguments_change_nothing),
		BOTH(admissions_and_rooms_outlive_a_restart_but_not_a_reset),
		BOTH(older_pins_without_the_admits_map_get_an_empty_one),
		B(a_quiet_cpus_batch_reaches_a_waiting_poll),
		B(batched_changes_outlive_a_restart_but_not_a_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
