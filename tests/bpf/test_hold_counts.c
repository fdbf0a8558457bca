/* The seat table's accounting (issue #18) on both backends of the edge:
 * the bpf one (pins under a throwaway bpffs dir, XDP through
 * bpf_prog_test_run_opts) and the shm one (a throwaway folder). Hold
 * counts shrink (entries at 0 are retired and deleted), a session that
 * holds nothing can always hold, counts stay exact while threads take,
 * give and collect at once, seats are counted per origin (slot_origin) and
 * refused beyond origin_hold_limit, and refreshes stop at the hold
 * lifetime cap; the table carries the identity it was built for
 * (database, event layout, boot), a reset leaves nothing of the old
 * table, and the seat file tells a kill from a reboot. Needs root (BPF). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "tests/bpf/packets.h"
#include "tests/edge_fixture.h"
#include "userspace/lib/edge.h"

#define EV 3u
#define BASE 5000u
#define NSEATS 8192u
/* a second event: a slot's first event is counted in its slot_counts
 * word (bpf), any other in the counts hash */
#define EV2 4u
#define BASE2 (BASE + NSEATS)
#define NSEATS2 4096u
#define LIMIT 8u

static const struct tkt_token_key key = {.k0 = 0x1111222233334444ull,
					 .k1 = 0x5555666677778888ull};

static char dir[96];
static struct edge *edge;
static enum edge_backend backend;

static void set_config(uint32_t origin_limit, uint32_t cap_secs)
{
	struct tkt_config cfg = {.key = key, .udp_port = 7000,
				 .hold_limit = LIMIT,
				 .origin_hold_limit = origin_limit,
				 .hold_lifetime_max_secs = cap_secs};

	assert_int_equal(edge_set_config(edge, &cfg), 0);
}

static int open_edge(enum edge_backend b)
{
	backend = b;
	edge_fx_dir(dir, sizeof(dir), b, "counts");
	edge_fx_remove_dir(dir);
	if (edge_fx_open(b, dir, &edge))
		return -1;
	set_config(0, 0);
	if (edge_set_event(edge, EV2, BASE2, NSEATS2, true))
		return -1;
	return edge_set_event(edge, EV, BASE, NSEATS, true) ? -1 : 0;
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
static struct tkt_seat_res op_ev(uint32_t ev, uint32_t o, uint32_t seat,
				 uint32_t slot, uint32_t ttl_ms)
{
	struct tkt_seat_req rq = {.event_id = ev, .seat_id = seat,
				  .slot = slot, .ttl_ms = ttl_ms, .op = o};
	struct tkt_seat_res res;

	assert_int_equal(edge_seat_apply(edge, TKT_SRC_REST, &rq, &res), 0);
	return res;
}

static struct tkt_seat_res op(uint32_t o, uint32_t seat, uint32_t slot,
			      uint32_t ttl_ms)
{
	struct tkt_seat_req rq = {.event_id = EV, .seat_id = seat,
				  .slot = slot, .ttl_ms = ttl_ms, .op = o};
	struct tkt_seat_res res;

	assert_int_equal(edge_seat_apply(edge, TKT_SRC_REST, &rq, &res), 0);
	return res;
}

static int hold(uint32_t seat, uint32_t slot)
{
	return op(TKT_SEAT_HOLD, seat, slot, 600000).status;
}

static int release(uint32_t seat, uint32_t slot)
{
	return op(TKT_SEAT_RELEASE, seat, slot, 0).status;
}

/* One datagram through the XDP program (bpf backend): status and expiry. */
static int xdp_ev(uint32_t ev, uint8_t o, uint32_t seat, uint32_t slot,
		  uint16_t secs, uint64_t *expiry_ms);

static int xdp(uint8_t o, uint32_t seat, uint32_t slot, uint16_t secs,
	       uint64_t *expiry_ms)
{
	return xdp_ev(EV, o, seat, slot, secs, expiry_ms);
}

static int xdp_ev(uint32_t ev, uint8_t o, uint32_t seat, uint32_t slot,
		  uint16_t secs, uint64_t *expiry_ms)
{
	uint8_t in[128], out[256], tok[16];
	struct tkt_req r;
	size_t n;
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = in, .data_out = out,
		    .data_size_out = sizeof(out));

	tkt_token_mint(&key, slot, (uint32_t)(time(NULL) + 3600), tok);
	pkt_req(&r, o, 1, ev, seat, tok, secs);
	n = pkt_udp4(in, 40000, 7000, &r, sizeof(r));
	t.data_size_in = (__u32)n;
	if (bpf_prog_test_run_opts(edge_xdp_prog_fd(edge), &t) ||
	    t.retval != XDP_TX)
		return -1;
	if (expiry_ms) {
		const uint8_t *rep = out + 14 + 20 + 8;

		*expiry_ms = (uint64_t)pkt_be32(rep + 24) << 32 | pkt_be32(rep + 28);
	}
	return out[14 + 20 + 8 + 16];
}

static uint32_t count_of(uint32_t slot)
{
	uint32_t n = 99;

	assert_int_equal(edge_hold_count_get(edge, slot, EV, &n), 0);
	return n;
}

static uint32_t entries(void)
{
	uint32_t n = 0;

	assert_int_equal(edge_counts_collect(edge, &n, NULL), 0);
	return n;
}

/* ---- counts shrink ---- */

static uint32_t count_in(uint32_t slot, uint32_t ev)
{
	uint32_t n = 99;

	assert_int_equal(edge_hold_count_get(edge, slot, ev, &n), 0);
	return n;
}

static void released_holds_leave_only_live_counts_after_collection(void **state)
{
	uint32_t i, n = 3000;
	/* every session holds a seat of EV2 first: in bpf that count is in
	 * the session's slot_counts word, its EV count in the counts hash;
	 * the shm table has both in its one table */
	uint32_t first = backend == EDGE_BACKEND_SHM ? n : 0;

	(void)state;
	for (i = 0; i < n; i++) {
		assert_int_equal(op_ev(EV2, TKT_SEAT_HOLD, i, 1000 + i, 600000).status,
				 TKT_OK);
		assert_int_equal(hold(i, 1000 + i), TKT_OK);
	}
	assert_int_equal(entries(), first + n);
	for (i = 0; i < n; i += 2) /* half of the sessions let go */
		assert_int_equal(release(i, 1000 + i), TKT_OK);
	assert_int_equal(entries(), first + n / 2);
	for (i = 0; i < n; i++) {
		assert_int_equal(count_of(1000 + i), i % 2);
		assert_int_equal(count_in(1000 + i, EV2), 1);
	}
	for (i = 1; i < n; i += 2)
		assert_int_equal(release(i, 1000 + i), TKT_OK);
	assert_int_equal(entries(), first);
	for (i = 0; i < n; i++)
		assert_int_equal(op_ev(EV2, TKT_SEAT_RELEASE, i, 1000 + i, 0).status,
				 TKT_OK);
	assert_int_equal(entries(), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(count_in(1000 + i, EV2), 0);
}

/* The last give leaves the entry at 0 (the next hold of that session
 * reuses it: no delete and insert per hold/release); the collector
 * retires it. bpf only: the shm table drops an entry the moment it is 0. */
static void a_released_count_stays_at_zero_until_collected(void **state)
{
	struct tkt_hold_key k = {.slot = 5, .event_id = EV};
	uint32_t v = 99, retired = 0, left = 0;
	char path[160];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/counts", dir);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	/* slot 5's first event is EV2 (its slot_counts word): EV is counted
	 * in the counts hash */
	assert_int_equal(xdp_ev(EV2, TKT_OP_HOLD, 3, 5, 60, NULL), TKT_OK);
	assert_int_equal(xdp(TKT_OP_HOLD, 3, 5, 60, NULL), TKT_OK);
	assert_int_equal(xdp(TKT_OP_RELEASE, 3, 5, 0, NULL), TKT_OK);
	assert_int_equal(bpf_map_lookup_elem(fd, &k, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(count_of(5), 0);
	/* held again: the same entry counts it */
	assert_int_equal(xdp(TKT_OP_HOLD, 3, 5, 60, NULL), TKT_OK);
	assert_int_equal(count_of(5), 1);
	assert_int_equal(release(3, 5), TKT_OK);
	assert_int_equal(edge_counts_collect(edge, &left, &retired), 0);
	assert_int_equal(retired, 1);
	assert_int_equal(left, 0);
	assert_true(bpf_map_lookup_elem(fd, &k, &v) < 0);
	assert_int_equal(errno, ENOENT);
	close(fd);
}

/* Entries at 0 left behind (a take refused after creating its entry) are
 * what the collector is for; a session that holds nothing still holds. */
static void a_flood_of_zero_entries_never_refuses_a_session_that_holds_nothing(void **state)
{
	uint32_t i, flood = 50000, left = 0, retired = 0;
	char path[160];
	int fd;

	(void)state; /* bpf only: the shm table drops an entry the moment it is 0 */
	snprintf(path, sizeof(path), "%s/counts", dir);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	for (i = 0; i < flood; i++) {
		struct tkt_hold_key k = {.slot = 100000 + i, .event_id = EV};
		uint32_t zero = 0;

		assert_int_equal(bpf_map_update_elem(fd, &k, &zero, BPF_NOEXIST), 0);
	}
	close(fd);
	assert_int_equal(hold(1, 7), TKT_OK);
	assert_int_equal(xdp(TKT_OP_HOLD, 2, 8, 60, NULL), TKT_OK);
	assert_int_equal(edge_counts_collect(edge, &left, &retired), 0);
	assert_int_equal(retired, flood);
	assert_int_equal(left, 0); /* both counted in their slot's word */
	assert_int_equal(count_of(7), 1);
	assert_int_equal(count_of(8), 1);
	/* the flood's keys hold again like anyone */
	assert_int_equal(hold(3, 100000), TKT_OK);
	assert_int_equal(count_of(100000), 1);
}

/* ---- exact under concurrency ---- */

#define THREADS 3
#define SLOT_SHARED 77u
#define ROUNDS 4000

static int stop_collect;

struct churn {
	pthread_t th;
	int id, xdp;
	uint32_t held; /* seats this thread holds at the end */
};

static void *churn(void *arg)
{
	struct churn *c = arg;
	/* each thread its own seats, all under one slot, so every hold and
	 * release moves the same count word, and it keeps dropping to 0 */
	uint32_t base = (uint32_t)c->id * 4, k;
	int i, mine[4] = {0};

	for (i = 0; i < ROUNDS; i++) {
		k = (uint32_t)i % 4;
		if (!mine[k]) {
			int st = c->xdp ? xdp(TKT_OP_HOLD, base + k, SLOT_SHARED, 600, NULL)
					: hold(base + k, SLOT_SHARED);

			mine[k] = st == TKT_OK;
		} else {
			int st = c->xdp ? xdp(TKT_OP_RELEASE, base + k, SLOT_SHARED, 0, NULL)
					: release(base + k, SLOT_SHARED);

			mine[k] = st != TKT_OK;
		}
	}
	for (k = 0; k < 4; k++)
		c->held += (uint32_t)mine[k];
	return NULL;
}

static void *collector(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop_collect, __ATOMIC_ACQUIRE))
		edge_counts_collect(edge, NULL, NULL);
	return NULL;
}

static void take_give_and_collect_at_once_keep_counts_exact(void **state)
{
	struct churn c[THREADS] = {0};
	pthread_t col;
	uint32_t total = 0, words = 0, i;

	(void)state;
	/* no session limit in the way: counts up to 12 for one slot */
	{
		struct tkt_config cfg = {.key = key, .udp_port = 7000,
					 .hold_limit = 100};

		assert_int_equal(edge_set_config(edge, &cfg), 0);
	}
	__atomic_store_n(&stop_collect, 0, __ATOMIC_RELEASE);
	assert_int_equal(pthread_create(&col, NULL, collector, NULL), 0);
	for (i = 0; i < THREADS; i++) {
		c[i].id = (int)i;
		c[i].xdp = backend == EDGE_BACKEND_BPF && i % 2 == 0;
		assert_int_equal(pthread_create(&c[i].th, NULL, churn, &c[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(c[i].th, NULL);
		total += c[i].held;
	}
	__atomic_store_n(&stop_collect, 1, __ATOMIC_RELEASE);
	pthread_join(col, NULL);
	for (i = 0; i < THREADS * 4; i++) {
		uint64_t w = edge_seat_read(edge, BASE + i);

		words += tkt_sw_claimed(w) && tkt_sw_holder(w) == SLOT_SHARED;
	}
	assert_int_equal(words, total);
	assert_int_equal(count_of(SLOT_SHARED), total);
}

/* ---- per-origin limit ---- */

static struct sockaddr_in v4(const char *a)
{
	struct sockaddr_in s = {.sin_family = AF_INET};

	inet_pton(AF_INET, a, &s.sin_addr);
	return s;
}

static void sessions_of_one_address_share_the_origin_limit(void **state)
{
	struct sockaddr_in a = v4("192.0.2.10"), b = v4("192.0.2.11");
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	uint32_t s, n = 0, held = 0;
	struct tkt_seat_res res;

	(void)state;
	set_config(5, 0);
	for (s = 200; s < 204; s++) /* four sessions from one address */
		assert_int_equal(edge_slot_claim(edge, s, (struct sockaddr *)&a), 0);
	assert_int_equal(edge_slot_claim(edge, 204, (struct sockaddr *)&b), 0);
	for (s = 200; s < 204; s++) /* one seat each through REST */
		assert_int_equal(hold(s * 2, s), TKT_OK);
	for (s = 200; s < 204; s++) { /* a second through the UDP door */
		if (backend == EDGE_BACKEND_BPF)
			held += xdp(TKT_OP_HOLD, s * 2 + 1, s, 60, NULL) == TKT_OK;
		else
			held += hold(s * 2 + 1, s) == TKT_OK;
	}
	assert_int_equal(held, 1); /* 4 + 1 = the limit of 5 */
	res = op(TKT_SEAT_HOLD, 900, 203, 60000);
	assert_int_equal(res.status, TKT_LIMIT_EXCEEDED);
	assert_int_equal(res.origin_limited, 1);
	assert_int_equal(count_of(203), 1); /* its own, nothing reserved left */
	assert_int_equal(edge_origin_count_get(edge, 200, EV, &n), 0);
	assert_int_equal(n, 5);
	/* another address is not touched */
	assert_int_equal(hold(901, 204), TKT_OK);
	/* a release gives the origin's count back */
	assert_int_equal(release(400, 200), TKT_OK);
	assert_int_equal(hold(900, 203), TKT_OK);
	/* a slot that still counts seats keeps its origin */
	assert_int_equal(edge_slot_claim(edge, 203, (struct sockaddr *)&b), -EBUSY);
	/* IPv6 by /64; IPv4-mapped counts as the IPv4 address */
	inet_pton(AF_INET6, "2001:db8:1:2::1", &a6.sin6_addr);
	n = edge_origin_hash(&key, (struct sockaddr *)&a6);
	inet_pton(AF_INET6, "2001:db8:1:2:ffff::9", &a6.sin6_addr);
	assert_int_equal(edge_origin_hash(&key, (struct sockaddr *)&a6), n);
	inet_pton(AF_INET6, "2001:db8:1:3::1", &a6.sin6_addr);
	assert_int_not_equal(edge_origin_hash(&key, (struct sockaddr *)&a6), n);
	inet_pton(AF_INET6, "::ffff:192.0.2.10", &a6.sin6_addr);
	assert_int_equal(edge_origin_hash(&key, (struct sockaddr *)&a6),
			 edge_origin_hash(&key, (struct sockaddr *)&a));
	assert_int_not_equal(edge_origin_hash(&key, (struct sockaddr *)&a), 0);
}

/* ---- lifetime cap ---- */

static void refreshes_stop_at_the_hold_lifetime_cap(void **state)
{
	uint64_t exp = 0;
	struct tkt_seat_res r;
	uint32_t now_ms, idx = BASE + 50;
	char path[160];

	(void)state;
	set_config(0, 10);
	r = op(TKT_SEAT_HOLD, 50, 300, 600000);
	assert_int_equal(r.status, TKT_OK);
	now_ms = tkt_ms32(r.now_ns);
	/* a new hold is cut to the cap */
	assert_true(tkt_sw_expiry(r.word) - now_ms <= 10000);
	r = op(TKT_SEAT_EXTEND, 50, 300, 600000);
	assert_int_equal(r.status, TKT_OK);
	assert_true(tkt_sw_expiry(r.word) - now_ms <= 10000);
	if (backend == EDGE_BACKEND_BPF) {
		assert_int_equal(xdp(TKT_OP_EXTEND, 50, 300, 600, &exp), TKT_OK);
		assert_true(exp / 1000 <= (uint64_t)time(NULL) + 10);
	}
	/* the start was 11 s ago: the cap is reached, nothing more is granted
	 * (OK, the word and its expiry unchanged) */
	if (backend == EDGE_BACKEND_BPF) {
		/* u32 entries stored as u64 pairs (bpf/seat_hold.bpf.c) */
		uint32_t pair[2], k = idx / 2;
		int fd;

		snprintf(path, sizeof(path), "%s/seat_since", dir);
		fd = bpf_obj_get(path);
		assert_true(fd >= 0);
		assert_int_equal(bpf_map_lookup_elem(fd, &k, pair), 0);
		pair[idx & 1] = now_ms - 11000;
		assert_int_equal(bpf_map_update_elem(fd, &k, pair, BPF_ANY), 0);
		close(fd);
	} else {
		/* the shm twin is a file of u32s by seat index */
		FILE *f;
		uint32_t since = now_ms - 11000;

		snprintf(path, sizeof(path), "%s/seat_since", dir);
		f = fopen(path, "r+");
		assert_non_null(f);
		fseek(f, (long)idx * 4, SEEK_SET);
		fwrite(&since, 4, 1, f);
		fclose(f);
	}
	{
		uint64_t before = edge_seat_read(edge, idx);

		r = op(TKT_SEAT_EXTEND, 50, 300, 600000);
		assert_int_equal(r.status, TKT_OK);
		assert_int_equal(r.changed, 0);
		assert_true(edge_seat_read(edge, idx) == before);
		r = op(TKT_SEAT_HOLD, 50, 300, 600000);
		assert_int_equal(r.status, TKT_OK);
		assert_int_equal(r.changed, 0);
	}
	/* another seat's new hold starts its own clock */
	r = op(TKT_SEAT_HOLD, 51, 300, 5000);
	assert_int_equal(r.status, TKT_OK);
	r = op(TKT_SEAT_EXTEND, 51, 300, 8000);
	assert_int_equal(r.status, TKT_OK);
	assert_int_equal(r.changed, 1);
}

/* ---- counts are rebuilt over reused seats ---- */

static void a_reopened_shm_table_rebuilds_slot_and_origin_counts(void **state)
{
	struct sockaddr_in a = v4("198.51.100.7");
	struct edge_opts o = {.backend = EDGE_BACKEND_SHM, .shm_dir = dir};
	uint32_t n = 0;

	(void)state;
	if (backend != EDGE_BACKEND_SHM)
		skip();
	assert_int_equal(edge_slot_claim(edge, 500, (struct sockaddr *)&a), 0);
	assert_int_equal(hold(700, 500), TKT_OK);
	assert_int_equal(hold(701, 500), TKT_OK);
	edge_close(edge);
	assert_int_equal(edge_open(&o, &edge), 0);
	set_config(0, 0);
	assert_int_equal(edge_set_event(edge, EV, BASE, NSEATS, true), 0);
	assert_int_equal(count_of(500), 2);
	assert_int_equal(edge_origin_count_get(edge, 500, EV, &n), 0);
	assert_int_equal(n, 2);
}

/* ---- slot_counts (bpf): a slot's first event in its own word ---- */

static uint64_t slot_word(uint32_t slot)
{
	char path[160];
	uint64_t w = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/slot_counts", dir);
	fd = bpf_obj_get(path);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &slot, &w), 0);
	close(fd);
	return w;
}

/* The limit holds per pair in either home, through ticketd and XDP alike,
 * and the sweeper's EXPIRE of a lapsed hold gives back in either home. */
static void each_event_of_a_slot_has_its_own_limit_in_either_home(void **state)
{
	uint32_t i, slot = 40;

	(void)state;
	assert_int_equal(op_ev(EV2, TKT_SEAT_HOLD, 0, slot, 1).status, TKT_OK);
	assert_int_equal(slot_word(slot), (uint64_t)(EV2 + 1) << 32 | 1);
	for (i = 0; i < LIMIT - 1; i++)
		assert_int_equal(hold(i, slot), TKT_OK);
	assert_int_equal(op(TKT_SEAT_HOLD, LIMIT - 1, slot, 1).status, TKT_OK);
	assert_int_equal(hold(LIMIT, slot), TKT_LIMIT_EXCEEDED);
	assert_int_equal(xdp(TKT_OP_HOLD, LIMIT, slot, 60, NULL),
			 TKT_LIMIT_EXCEEDED);
	assert_int_equal(count_of(slot), LIMIT);
	for (i = 1; i < LIMIT; i++)
		assert_int_equal(xdp_ev(EV2, TKT_OP_HOLD, i, slot, 60, NULL), TKT_OK);
	assert_int_equal(op_ev(EV2, TKT_SEAT_HOLD, LIMIT, slot, 600000).status,
			 TKT_LIMIT_EXCEEDED);
	assert_int_equal(count_in(slot, EV2), LIMIT);
	assert_int_equal(slot_word(slot), (uint64_t)(EV2 + 1) << 32 | LIMIT);
	/* seat 0 of EV2 and seat LIMIT - 1 of EV held for 1 ms: lapsed */
	usleep(5000);
	assert_int_equal(op_ev(EV2, TKT_SEAT_EXPIRE, 0, 0, 0).changed, 1);
	assert_int_equal(count_in(slot, EV2), LIMIT - 1);
	assert_int_equal(op(TKT_SEAT_EXPIRE, LIMIT - 1, 0, 0).changed, 1);
	assert_int_equal(count_of(slot), LIMIT - 1);
	assert_int_equal(xdp(TKT_OP_HOLD, LIMIT, slot, 60, NULL), TKT_OK);
	assert_int_equal(xdp_ev(EV2, TKT_OP_HOLD, 0, slot, 60, NULL), TKT_OK);
	assert_int_equal(count_of(slot), LIMIT);
	assert_int_equal(count_in(slot, EV2), LIMIT);
}

/* A slot given to a new session with nothing counted gets its word back
 * for the new session's first event; a word that counts is kept. */
static void a_slot_given_to_a_new_session_frees_its_word(void **state)
{
	struct sockaddr_in a = v4("192.0.2.20");
	uint32_t slot = 41;

	(void)state;
	assert_int_equal(op_ev(EV2, TKT_SEAT_HOLD, 5, slot, 600000).status, TKT_OK);
	assert_int_equal(edge_slot_claim(edge, slot, (struct sockaddr *)&a), -EBUSY);
	assert_int_equal(slot_word(slot), (uint64_t)(EV2 + 1) << 32 | 1);
	assert_int_equal(op_ev(EV2, TKT_SEAT_RELEASE, 5, slot, 0).status, TKT_OK);
	assert_int_equal(slot_word(slot), (uint64_t)(EV2 + 1) << 32);
	assert_int_equal(edge_slot_claim(edge, slot, (struct sockaddr *)&a), 0);
	assert_int_equal(slot_word(slot), 0);
	assert_int_equal(hold(5, slot), TKT_OK);
	assert_int_equal(slot_word(slot), (uint64_t)(EV + 1) << 32 | 1);
	assert_int_equal(count_of(slot), 1);
}

/* Closes the table, removes the pin at gone (NULL: none), opens it again
 * and checks that slot still counts one seat of EV2 and two in all. */
static void reopen_counting_two_events(const char *gone, uint32_t slot)
{
	edge_close(edge);
	edge = NULL;
	if (gone)
		assert_int_equal(unlink(gone), 0);
	assert_int_equal(edge_fx_open(backend, dir, &edge), 0);
	set_config(0, 0);
	assert_int_equal(edge_set_event(edge, EV2, BASE2, NSEATS2, true), 0);
	assert_int_equal(edge_set_event(edge, EV, BASE, NSEATS, true), 0);
	assert_int_equal(count_in(slot, EV2), 1);
	assert_int_equal(count_of(slot), 2);
}

/* Pins where counts or slot_counts is missing (pins made before
 * slot_counts have only counts): both start empty and every count is
 * rebuilt from the words once, never counted twice. */
static void a_count_pin_without_its_pair_is_rebuilt_not_doubled(void **state)
{
	static const char *const gone[] = {"slot_counts", "counts"};
	uint32_t slot = 42;
	char path[160];

	(void)state;
	assert_int_equal(op_ev(EV2, TKT_SEAT_HOLD, 9, slot, 600000).status, TKT_OK);
	assert_int_equal(hold(9, slot), TKT_OK);
	assert_int_equal(hold(10, slot), TKT_OK);
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, gone[i]);
		reopen_counting_two_events(path, slot);
	}
	/* and a plain reopen keeps both as they are */
	reopen_counting_two_events(NULL, slot);
}

/* ---- identity: a table built for another database is never served ---- */

static const struct edge_identity ID_A = {.db_id = "aaaaaaaa-1111-2222-3333-444444444444",
					  .layout = 0x1234};

static int check(const struct edge_identity *want, const char **reason)
{
	char why[256];

	return edge_identity_check(edge, want, reason, why, sizeof(why));
}

static void reopen(void)
{
	edge_close(edge);
	edge = NULL;
	assert_int_equal(edge_fx_open(backend, dir, &edge), 0);
}

static void meta_compare_names_the_first_difference(void **state)
{
	struct tkt_table_meta m = {.magic = TKT_META_MAGIC,
				   .version = TKT_META_VERSION,
				   .layout = 0x1234};
	struct edge_identity other_db = ID_A, other_layout = ID_A;
	const char *r = "x";
	char why[256];

	(void)state;
	memcpy(m.db_id, ID_A.db_id, sizeof(m.db_id));
	strcpy(m.boot_id, "boot-1");
	assert_int_equal(edge_meta_compare(&m, &ID_A, "boot-1", &r, why, sizeof(why)), 0);
	assert_null(r);
	assert_int_equal(edge_meta_compare(&m, &ID_A, NULL, &r, why, sizeof(why)), 0);
	other_db.db_id[0] = 'b';
	assert_int_equal(edge_meta_compare(&m, &other_db, "boot-1", &r, why, sizeof(why)), 1);
	assert_string_equal(r, "database");
	assert_non_null(strstr(why, other_db.db_id));
	other_layout.layout = 0x1235;
	assert_int_equal(edge_meta_compare(&m, &other_layout, "boot-1", &r, why, sizeof(why)), 1);
	assert_string_equal(r, "layout");
	assert_int_equal(edge_meta_compare(&m, &ID_A, "boot-2", &r, why, sizeof(why)), 1);
	assert_string_equal(r, "boot");
	m.magic = 0; /* older pins, or a rebuild that never finished */
	assert_int_equal(edge_meta_compare(&m, &ID_A, "boot-1", &r, why, sizeof(why)), 1);
	assert_string_equal(r, "no identity");
	/* a layout differs when any event's id, base or size does */
	assert_true(edge_layout_mix(EDGE_LAYOUT_INIT, 1, 0, 100) !=
		    edge_layout_mix(EDGE_LAYOUT_INIT, 1, 0, 101));
	assert_true(edge_layout_mix(EDGE_LAYOUT_INIT, 1, 0, 100) !=
		    edge_layout_mix(EDGE_LAYOUT_INIT, 2, 0, 100));
	assert_true(edge_layout_mix(EDGE_LAYOUT_INIT, 1, 0, 100) !=
		    edge_layout_mix(EDGE_LAYOUT_INIT, 1, 100, 100));
}

static void a_table_keeps_its_identity_across_a_reopen(void **state)
{
	struct edge_identity other = ID_A;
	const char *r = NULL;

	(void)state;
	assert_int_equal(check(&ID_A, &r), 1);
	assert_string_equal(r, "no identity"); /* created empty */
	assert_int_equal(edge_identity_write(edge, &ID_A), 0);
	assert_int_equal(check(&ID_A, &r), 0);
	reopen();
	assert_true(edge_reused(edge));
	assert_true(edge_closed_cleanly(edge));
	assert_int_equal(check(&ID_A, &r), 0);
	other.db_id[0] = 'c';
	assert_int_equal(check(&other, &r), 1);
	assert_string_equal(r, "database");
	other = ID_A;
	other.layout++;
	assert_int_equal(check(&other, &r), 1);
	assert_string_equal(r, "layout");
}

static void a_reset_leaves_nothing_of_the_old_table(void **state)
{
	struct sockaddr_in a = v4("198.51.100.9");
	struct edge_identity none;
	const char *r = NULL;
	uint32_t n = 1;

	(void)state;
	assert_int_equal(edge_slot_claim(edge, 500, (struct sockaddr *)&a), 0);
	assert_int_equal(hold(700, 500), TKT_OK);
	assert_int_equal(op(TKT_SEAT_RESTORE_SOLD, 701, 500, 0).status, TKT_OK);
	assert_int_equal(edge_identity_write(edge, &ID_A), 0);
	reopen();
	set_config(0, 0);
	assert_true(edge_reused(edge));
	assert_int_equal(edge_reset(edge), 0);
	assert_false(edge_reused(edge));
	/* the identity went first: a crash now leaves a table with none */
	assert_int_equal(check(&ID_A, &r), 1);
	assert_string_equal(r, "no identity");
	for (uint32_t i = 0; i < TKT_MAX_SEATS; i += 997)
		assert_int_equal(edge_seat_read(edge, i), 0);
	assert_int_equal(edge_seat_read(edge, BASE + 700), 0);
	assert_int_equal(edge_seat_read(edge, BASE + 701), 0);
	/* no event is declared until the new layout says so */
	assert_int_equal(hold(702, 600), TKT_NO_SUCH_SEAT);
	assert_int_equal(edge_set_event(edge, EV, BASE, NSEATS, true), 0);
	assert_int_equal(count_of(500), 0);
	assert_int_equal(edge_origin_count_get(edge, 500, EV, &n), 0);
	assert_int_equal(n, 0);
	/* a new session on slot 500 inherits nothing: it can hold the old
	 * seats, and cannot release what it never held */
	assert_int_equal(release(700, 500), TKT_NOT_HOLDER);
	assert_int_equal(hold(700, 501), TKT_OK);
	assert_int_equal(hold(701, 500), TKT_OK);
	assert_int_equal(count_of(500), 1);
	memset(&none, 0, sizeof(none));
	assert_int_equal(edge_identity_write(edge, &none), -EINVAL);
}

static void older_pins_without_meta_have_no_identity(void **state)
{
	char path[160];
	const char *r = NULL;

	(void)state;
	assert_int_equal(hold(700, 500), TKT_OK);
	assert_int_equal(edge_identity_write(edge, &ID_A), 0);
	edge_close(edge);
	edge = NULL;
	snprintf(path, sizeof(path), "%s/table_meta", dir);
	assert_int_equal(unlink(path), 0); /* as pins made before the meta map */
	reopen();
	assert_true(edge_reused(edge));
	assert_int_equal(check(&ID_A, &r), 1);
	assert_string_equal(r, "no identity");
}

static void a_seat_file_tells_a_kill_from_a_reboot(void **state)
{
	char path[160], boot[TKT_META_ID_MAX];
	const char *r = NULL;
	pid_t pid;
	int fd, st;

	(void)state;
	assert_int_equal(edge_identity_write(edge, &ID_A), 0);
	edge_close(edge); /* orderly: the clean mark is set */
	edge = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct edge_opts o = {.backend = EDGE_BACKEND_SHM, .shm_dir = dir};
		struct edge *e2;

		_exit(edge_open(&o, &e2) ? 1 : 0); /* dies without closing */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	reopen();
	/* killed on this boot: the words are still right, reused */
	assert_true(edge_reused(edge));
	assert_false(edge_closed_cleanly(edge));
	assert_int_equal(check(&ID_A, &r), 0);
	/* written before a reboot: the monotonic expiries mean nothing */
	snprintf(path, sizeof(path), "%s/meta", dir);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	memset(boot, 0, sizeof(boot));
	strcpy(boot, "00000000-0000-0000-0000-000000000000");
	assert_int_equal(pwrite(fd, boot, sizeof(boot),
				offsetof(struct tkt_table_meta, boot_id)),
			 (ssize_t)sizeof(boot));
	close(fd);
	reopen();
	assert_true(edge_closed_cleanly(edge));
	assert_int_equal(check(&ID_A, &r), 1);
	assert_string_equal(r, "boot");
}

#define B(name) cmocka_unit_test_setup_teardown(name, setup_bpf, teardown)
#define M(name) cmocka_unit_test_setup_teardown(name, setup_shm, teardown)
#define BOTH(name) B(name), M(name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(released_holds_leave_only_live_counts_after_collection),
		B(a_flood_of_zero_entries_never_refuses_a_session_that_holds_nothing),
		B(a_released_count_stays_at_zero_until_collected),
		B(each_event_of_a_slot_has_its_own_limit_in_either_home),
		B(a_slot_given_to_a_new_session_frees_its_word),
		B(a_count_pin_without_its_pair_is_rebuilt_not_doubled),
		BOTH(take_give_and_collect_at_once_keep_counts_exact),
		BOTH(sessions_of_one_address_share_the_origin_limit),
		BOTH(refreshes_stop_at_the_hold_lifetime_cap),
		M(a_reopened_shm_table_rebuilds_slot_and_origin_counts),
		cmocka_unit_test(meta_compare_names_the_first_difference),
		BOTH(a_table_keeps_its_identity_across_a_reopen),
		BOTH(a_reset_leaves_nothing_of_the_old_table),
		B(older_pins_without_meta_have_no_identity),
		M(a_seat_file_tells_a_kill_from_a_reboot),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
