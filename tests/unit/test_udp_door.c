/* The socket door and the shm edge: real datagrams on 127.0.0.1 against a
 * seat table in a temporary directory. Needs no privileges. */
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
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/bpf/packets.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/udp_door.h"

#define EV 1u
#define EV_REMOTE 2u
#define ME 11u
#define OTHER 12u

static const struct tkt_token_key key = {.k0 = 0x1111222233334444ull,
					 .k1 = 0x5555666677778888ull};

struct fixture {
	char dir[64];
	struct edge *edge;
	struct udp_door *door;
	int sock;
	struct sockaddr_in to;
	uint32_t next_id;
};

static void config(struct edge *e, uint32_t rate, uint32_t burst)
{
	struct tkt_config cfg = {.key = key, .udp_port = 7000,
				 .rl_rate = rate, .rl_burst = burst};

	assert_int_equal(edge_set_config(e, &cfg), 0);
}

static int open_edge(struct fixture *f)
{
	struct edge_opts o = {.backend = EDGE_BACKEND_SHM, .shm_dir = f->dir};
	struct udp_door_opts d = {.addr = "127.0.0.1", .port = -1,
				  .workers = 2};
	struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};

	if (edge_open(&o, &f->edge))
		return -1;
	config(f->edge, 0, 0);
	if (edge_set_event(f->edge, EV, 0, 100, true) ||
	    edge_set_event(f->edge, EV_REMOTE, 100, 50, false))
		return -1;
	if (udp_door_start(f->edge, &d, &f->door))
		return -1;
	f->sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (f->sock < 0 ||
	    setsockopt(f->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		return -1;
	memset(&f->to, 0, sizeof(f->to));
	f->to.sin_family = AF_INET;
	f->to.sin_port = htons(udp_door_port(f->door));
	f->to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}

static void close_edge(struct fixture *f)
{
	if (f->sock >= 0)
		close(f->sock);
	f->sock = -1;
	assert_int_equal(udp_door_stop(f->door), 0);
	f->door = NULL;
	edge_close(f->edge);
	f->edge = NULL;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/edge-udp-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	f->sock = -1;
	*state = f;
	return open_edge(f);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	close_edge(f);
	snprintf(path, sizeof(path), "%s/seats", f->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/replay", f->dir);
	unlink(path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void token(uint32_t slot, int32_t life, uint8_t tok[16])
{
	tkt_token_mint(&key, slot, (uint32_t)(time(NULL) + life), tok);
}

/* Sends len bytes of req; returns the reply length (-1: none came). */
static int exchange(struct fixture *f, const void *req, size_t len,
		    struct tkt_reply *rep)
{
	uint8_t buf[128];
	ssize_t n;

	assert_int_equal(sendto(f->sock, req, len, 0,
				(struct sockaddr *)&f->to, sizeof(f->to)),
			 (ssize_t)len);
	n = recv(f->sock, buf, sizeof(buf), 0);
	if (n < 0)
		return -1;
	memcpy(rep, buf, n < (ssize_t)sizeof(*rep) ? (size_t)n : sizeof(*rep));
	return (int)n;
}

/* One request; asserts a 32-byte reply echoing it and returns its status. */
static int ask(struct fixture *f, uint8_t op, uint32_t event, uint32_t seat,
	       uint32_t slot, uint16_t secs, struct tkt_reply *rep)
{
	struct tkt_req r;
	uint8_t tok[16];
	uint32_t id = ++f->next_id;

	token(slot, 3600, tok);
	pkt_req(&r, op, id, event, seat, tok, secs);
	assert_int_equal(exchange(f, &r, sizeof(r), rep), 32);
	assert_int_equal(ntohs(rep->magic), TKT_MAGIC);
	assert_int_equal(rep->op, op | 0x80);
	assert_int_equal(ntohl(rep->req_id), id);
	assert_int_equal(ntohl(rep->event_id), event);
	assert_int_equal(ntohl(rep->seat_id), seat);
	return rep->status;
}

static uint64_t word(struct fixture *f, uint32_t index)
{
	return edge_seat_read(f->edge, index);
}

static void hold_over_socket_sets_the_shared_seat_word(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;
	uint64_t now_ms = pkt_real_ns() / 1000000u, exp;
	uint64_t w;

	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 3, ME, 0, &rep), TKT_OK);
	w = word(f, 3);
	assert_int_equal(tkt_sw_state(w), TKT_SEAT_HELD);
	assert_int_equal(tkt_sw_holder(w), ME);
	assert_int_equal(ntohl(rep.counter), tkt_sw_counter(w));
	exp = pkt_be64((const uint8_t *)&rep.expiry_ms);
	/* default 120 s from now */
	assert_true(exp >= now_ms + 119000 && exp <= now_ms + 121000);

	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 3, OTHER, 0, &rep), TKT_TAKEN);
	assert_int_equal(ask(f, TKT_OP_QUERY, EV, 3, OTHER, 0, &rep), TKT_TAKEN);
	assert_int_equal(ask(f, TKT_OP_RELEASE, EV, 3, OTHER, 0, &rep),
			 TKT_NOT_HOLDER);
	assert_int_equal(ask(f, TKT_OP_EXTEND, EV, 3, ME, 600, &rep), TKT_OK);
	exp = pkt_be64((const uint8_t *)&rep.expiry_ms);
	assert_true(exp >= now_ms + 599000 && exp <= now_ms + 601000);
	assert_int_equal(ask(f, TKT_OP_RELEASE, EV, 3, ME, 0, &rep), TKT_OK);
	assert_int_equal(rep.expiry_ms, 0);
	assert_int_equal(tkt_sw_state(word(f, 3)), TKT_SEAT_AVAILABLE);
	assert_int_equal(ask(f, TKT_OP_QUERY, EV, 3, OTHER, 0, &rep), TKT_OK);
}

struct collected {
	int n;
	struct tkt_change rec[64];
};

static int collect(void *ctx, const struct tkt_change *rec)
{
	struct collected *c = ctx;

	if (c->n < 64)
		c->rec[c->n] = *rec;
	c->n++;
	return 0;
}

static void each_change_is_one_record_from_the_socket_door(void **state)
{
	struct fixture *f = *state;
	struct collected got = {0};
	struct tkt_reply rep;

	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 5, ME, 0, &rep), TKT_OK);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 5, OTHER, 0, &rep),
			 TKT_TAKEN);
	assert_int_equal(ask(f, TKT_OP_QUERY, EV, 5, OTHER, 0, &rep),
			 TKT_TAKEN);
	assert_int_equal(ask(f, TKT_OP_RELEASE, EV, 5, ME, 0, &rep), TKT_OK);
	assert_int_equal(edge_poll_changes(f->edge, NULL, NULL, 0), -EINVAL);
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 1000), 2);
	assert_int_equal(got.n, 2);
	assert_int_equal(got.rec[0].op, TKT_SEAT_HOLD);
	assert_int_equal(got.rec[1].op, TKT_SEAT_RELEASE);
	assert_int_equal(got.rec[0].source, TKT_SRC_SOCKET);
	assert_int_equal(got.rec[0].new_word, got.rec[1].old_word);
	assert_int_equal(got.rec[1].new_word, word(f, 5));
	assert_int_equal(got.rec[0].event_id, EV);
	assert_int_equal(got.rec[0].seat_id, 5);
	/* nothing more, and a zero timeout does not wait */
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 0), 0);
}

/* Only a datagram of exactly one request (40 bytes) with the right magic
 * is answered: a reply is never larger than what caused it. */
static void short_long_or_wrong_magic_datagram_gets_no_reply(void **state)
{
	struct fixture *f = *state;
	static const size_t lens[] = {0, 1, 15, 16, 31, 32, 39, 41, 64, 100};
	struct edge_stats st;
	struct tkt_reply rep;
	uint8_t big[100] = {0};
	struct tkt_req r;
	uint8_t tok[16];
	size_t i;

	token(ME, 3600, tok);
	pkt_req(&r, TKT_OP_HOLD, 1, EV, 1, tok, 0);
	memcpy(big, &r, sizeof(r));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(exchange(f, big, lens[i], &rep), -1);
	r.magic = htons(0x5459);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), -1);
	assert_int_equal(tkt_sw_state(word(f, 1)), TKT_SEAT_AVAILABLE);
	assert_int_equal(edge_stats(f->edge, &st), 0);
	assert_int_equal(st.user[TKT_STAT_MALFORMED_DROPPED], 11);
	assert_int_equal(st.user[TKT_MALFORMED], 0);
}

static void full_length_but_wrong_datagram_gets_malformed(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;
	struct tkt_req r;
	uint8_t tok[16];

	token(ME, 3600, tok);
	pkt_req(&r, TKT_OP_HOLD, 77, EV, 1, tok, 0);
	r.pad[0] = 1;
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_MALFORMED);
	assert_int_equal(ntohl(rep.req_id), 77);
	r.pad[0] = 0;
	r.hold_secs = htons(601);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_MALFORMED);
	r.hold_secs = 0;
	r.version = 9;
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_MALFORMED);
	assert_int_equal(tkt_sw_state(word(f, 1)), TKT_SEAT_AVAILABLE);
}

static void forged_or_expired_token_is_bad_credential(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;
	struct tkt_req r;
	uint8_t tok[16];

	token(ME, 3600, tok);
	tok[9] ^= 1;
	pkt_req(&r, TKT_OP_HOLD, 1, EV, 2, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_BAD_CREDENTIAL);
	token(ME, -1, tok);
	pkt_req(&r, TKT_OP_HOLD, 1, EV, 2, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_BAD_CREDENTIAL);
	assert_int_equal(rep.counter, 0);
	assert_int_equal(tkt_sw_state(word(f, 2)), TKT_SEAT_AVAILABLE);
}

static void events_unknown_or_elsewhere_are_refused(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;

	assert_int_equal(ask(f, TKT_OP_HOLD, 99, 1, ME, 0, &rep),
			 TKT_NO_SUCH_SEAT);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 100, ME, 0, &rep),
			 TKT_NO_SUCH_SEAT);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV_REMOTE, 1, ME, 0, &rep),
			 TKT_WRONG_NODE);
}

/* The socket door puts the owner into WRONG_NODE as the XDP door does
 * (issue #16): address at 24..27, port at 28..29, counter and 30..31
 * zero; an event being rebuilt answers WRONG_NODE to the wire but takes
 * the daemon's restore ops (source TKT_SRC_SAGA), and a cleared event has
 * no claimed word left. */
static void wrong_node_names_the_owner_and_rebuild_admits_only_restores(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;
	const uint8_t *b = (const uint8_t *)&rep;
	uint32_t ip = htonl(0x0a4d0102); /* 10.77.1.2 */
	struct tkt_seat_req rq = {.event_id = EV, .seat_id = 4, .slot = ME,
				  .ttl_ms = 5000, .op = TKT_SEAT_HOLD};
	struct tkt_seat_res res;
	uint32_t cleared = 0;

	assert_int_equal(edge_set_event_owned(f->edge, EV_REMOTE, TKT_OWNED_NO, ip,
					      htons(7003)), 0);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV_REMOTE, 1, ME, 0, &rep), TKT_WRONG_NODE);
	assert_int_equal(rep.counter, 0);
	assert_int_equal(b[24], 10);
	assert_int_equal(b[25], 77);
	assert_int_equal(b[26], 1);
	assert_int_equal(b[27], 2);
	assert_int_equal(b[28] << 8 | b[29], 7003);
	assert_int_equal(b[30] | b[31], 0);

	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 4, ME, 0, &rep), TKT_OK);
	assert_int_equal(edge_event_owned(f->edge, EV), (int)TKT_OWNED_YES);
	assert_int_equal(edge_set_event_owned(f->edge, EV, TKT_OWNED_REBUILD, 0, 0), 0);
	assert_int_equal(ask(f, TKT_OP_QUERY, EV, 4, ME, 0, &rep), TKT_WRONG_NODE);
	assert_int_equal(pkt_be64(b + 24), 0);
	assert_int_equal(edge_event_clear(f->edge, EV, &cleared), 0);
	assert_int_equal(cleared, 1);
	assert_int_equal(tkt_sw_state(word(f, 4)), TKT_SEAT_AVAILABLE);
	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_REST, &rq, &res), 0);
	assert_int_equal(res.status, TKT_WRONG_NODE);
	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_SAGA, &rq, &res), 0);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(edge_set_event_owned(f->edge, EV, TKT_OWNED_YES, 0, 0), 0);
	assert_int_equal(ask(f, TKT_OP_QUERY, EV, 4, ME, 0, &rep), TKT_TAKEN);
}

/* Event ids index the XDP door's events array: the edge refuses to
 * declare one past it, so the socket door answers it as the XDP door
 * does (NO_SUCH_SEAT); an event declared with no seats is no event in
 * both doors, even when another node owns it. */
static void event_ids_past_the_event_table_are_refused_alike(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;

	assert_int_equal(edge_set_event(f->edge, TKT_MAX_EVENTS, 200, 10, true),
			 -ERANGE);
	assert_int_equal(edge_set_event(f->edge, UINT32_MAX, 200, 10, true),
			 -ERANGE);
	assert_int_equal(edge_set_event(f->edge, TKT_MAX_EVENTS - 1, 200, 10,
					true),
			 0);
	assert_int_equal(ask(f, TKT_OP_QUERY, TKT_MAX_EVENTS, 1, ME, 0, &rep),
			 TKT_NO_SUCH_SEAT);
	assert_int_equal(ask(f, TKT_OP_QUERY, TKT_MAX_EVENTS - 1, 1, ME, 0,
			     &rep),
			 TKT_OK);
	assert_int_equal(edge_set_event(f->edge, 5, 300, 0, false), 0);
	assert_int_equal(ask(f, TKT_OP_QUERY, 5, 0, ME, 0, &rep),
			 TKT_NO_SUCH_SEAT);
}

static void ninth_hold_in_an_event_is_limit_exceeded(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;
	uint32_t i, n = 0;

	for (i = 0; i < 8; i++)
		assert_int_equal(ask(f, TKT_OP_HOLD, EV, 20 + i, ME, 0, &rep),
				 TKT_OK);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 30, ME, 0, &rep),
			 TKT_LIMIT_EXCEEDED);
	assert_int_equal(tkt_sw_state(word(f, 30)), TKT_SEAT_AVAILABLE);
	/* re-holding one it has is not a ninth */
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 20, ME, 0, &rep), TKT_OK);
	assert_int_equal(edge_hold_count_get(f->edge, ME, EV, &n), 0);
	assert_int_equal(n, 8);
	/* giving one back makes room */
	assert_int_equal(ask(f, TKT_OP_RELEASE, EV, 21, ME, 0, &rep), TKT_OK);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 30, ME, 0, &rep), TKT_OK);
	/* another session has its own budget */
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 31, OTHER, 0, &rep), TKT_OK);
}

/* The per-source limit comes before any answer: past it nothing is
 * answered, not even MALFORMED or BAD_CREDENTIAL (a reply to a flooding
 * source is reflection), and nothing is looked at. */
static void over_the_rate_nothing_is_answered(void **state)
{
	struct fixture *f = *state;
	struct edge_stats st;
	struct tkt_reply rep;
	struct tkt_req r;
	uint8_t tok[16];
	int i, replied = 0;

	config(f->edge, 1, 3);
	for (i = 0; i < 3; i++) {
		token(ME, 3600, tok);
		pkt_req(&r, TKT_OP_QUERY, 1, EV, 1, tok, 0);
		if (exchange(f, &r, sizeof(r), &rep) == 32)
			replied++;
	}
	assert_int_equal(replied, 3);
	/* the bucket is empty: a valid hold, a forged token and a malformed
	 * request all go unanswered, and the hold did not happen */
	token(ME, 3600, tok);
	pkt_req(&r, TKT_OP_HOLD, 2, EV, 1, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), -1);
	tok[9] ^= 1;
	pkt_req(&r, TKT_OP_QUERY, 3, EV, 1, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), -1);
	r.version = 9;
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), -1);
	assert_int_equal(tkt_sw_state(word(f, 1)), TKT_SEAT_AVAILABLE);
	assert_int_equal(edge_stats(f->edge, &st), 0);
	assert_int_equal(st.user[TKT_STAT_RATE_DROPPED], 3);
	assert_int_equal(st.user[TKT_RATE_LIMITED], 0);
	assert_int_equal(st.user[TKT_BAD_CREDENTIAL], 0);
	config(f->edge, 0, 0);
	assert_int_equal(ask(f, TKT_OP_QUERY, EV, 1, ME, 0, &rep), TKT_OK);
}

/* The REST door, sweeper and saga use edge_seat_apply: same rules, same
 * counts, same stream. */
static void order_then_sell_moves_the_seat_to_sold_and_frees_the_count(void **state)
{
	struct fixture *f = *state;
	struct tkt_seat_req rq = {.event_id = EV, .seat_id = 40, .slot = ME,
				  .ttl_ms = 60000, .op = TKT_SEAT_HOLD};
	struct tkt_seat_res res;
	struct collected got = {0};
	uint32_t n = 99;

	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_REST, &rq, &res), 0);
	assert_int_equal(res.status, TKT_OK);
	rq.op = TKT_SEAT_ORDER;
	rq.ttl_ms = 300000;
	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_REST, &rq, &res), 0);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(tkt_sw_state(word(f, 40)), TKT_SEAT_ORDERED);
	assert_int_equal(edge_hold_count_get(f->edge, ME, EV, &n), 0);
	assert_int_equal(n, 1); /* ordered seats still count */
	rq.op = TKT_SEAT_SELL;
	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_SAGA, &rq, &res), 0);
	assert_int_equal(res.status, TKT_OK);
	assert_int_equal(tkt_sw_state(word(f, 40)), TKT_SEAT_SOLD);
	assert_int_equal(edge_hold_count_get(f->edge, ME, EV, &n), 0);
	assert_int_equal(n, 0);
	rq.op = 42;
	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_REST, &rq, &res),
			 -EINVAL);
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 0), 3);
	assert_int_equal(got.rec[2].op, TKT_SEAT_SELL);
	assert_int_equal(got.rec[2].source, TKT_SRC_SAGA);
}

/* Records of one seat reach the consumer in the order the word changed,
 * even when they were queued in another order. */
static void records_of_a_seat_are_delivered_in_word_order(void **state)
{
	struct fixture *f = *state;
	struct tkt_change a = {.seat_index = 60, .event_id = EV, .seat_id = 60};
	struct tkt_change b, c;
	struct collected got = {0};

	/* a chain starting from the seat's current word (counter 0) */
	a.old_word = tkt_sw_pack(0, 0, 0, 0);
	a.new_word = tkt_sw_pack(1, 1, ME, 5);
	b = a;
	b.old_word = a.new_word;
	b.new_word = tkt_sw_pack(0, 2, 0, 0);
	c = b;
	c.old_word = b.new_word;
	c.new_word = tkt_sw_pack(1, 3, OTHER, 9);
	/* queued c, b, a: delivered a, b, c */
	assert_int_equal(edge_emit_change(f->edge, &c), 0);
	assert_int_equal(edge_emit_change(f->edge, &b), 0);
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 0), 0);
	assert_int_equal(edge_emit_change(f->edge, &a), 0);
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 0), 3);
	assert_int_equal(got.rec[0].new_word, a.new_word);
	assert_int_equal(got.rec[1].new_word, b.new_word);
	assert_int_equal(got.rec[2].new_word, c.new_word);
}

/* A record whose predecessor never comes (its producer died between CAS
 * and submit) is delivered after a bounded wait, not held forever. */
static void record_without_predecessor_is_delivered_after_a_wait(void **state)
{
	struct fixture *f = *state;
	struct tkt_change r = {.seat_index = 61, .event_id = EV, .seat_id = 61};
	struct collected got = {0};

	r.old_word = tkt_sw_pack(1, 5, ME, 5);
	r.new_word = tkt_sw_pack(0, 6, 0, 0);
	assert_int_equal(edge_emit_change(f->edge, &r), 0);
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 0), 0);
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 2000), 1);
	assert_int_equal(got.rec[0].new_word, r.new_word);
}

static void userspace_queue_full_refuses_the_change(void **state)
{
	struct fixture *f = *state;
	struct edge_opts o = {.backend = EDGE_BACKEND_SHM, .shm_dir = f->dir,
			      .queue_capacity = 4};
	struct tkt_seat_req rq = {.event_id = EV, .seat_id = 0, .slot = ME,
				  .ttl_ms = 60000, .op = TKT_SEAT_HOLD};
	struct tkt_seat_res res;
	struct collected got = {0};
	struct edge *e;
	uint32_t i;

	/* the seat file is locked by the fixture's edge */
	assert_int_equal(edge_open(&o, &e), -EBUSY);
	close_edge(f);
	assert_int_equal(edge_open(&o, &e), 0);
	config(e, 0, 0);
	assert_int_equal(edge_set_event(e, EV, 0, 100, true), 0);
	for (i = 0; i < 5; i++) {
		rq.seat_id = i;
		assert_int_equal(edge_seat_apply(e, TKT_SRC_REST, &rq, &res), 0);
		assert_int_equal(res.status, i < 4 ? TKT_OK : TKT_RATE_LIMITED);
	}
	assert_int_equal(tkt_sw_state(edge_seat_read(e, 4)),
			 TKT_SEAT_AVAILABLE);
	assert_int_equal(edge_poll_changes(e, collect, &got, 0), 4);
	rq.seat_id = 4;
	assert_int_equal(edge_seat_apply(e, TKT_SRC_REST, &rq, &res), 0);
	assert_int_equal(res.status, TKT_OK);
	edge_close(e);
	assert_int_equal(open_edge(f), 0);
}

/* A restarted daemon finds the seats as they were and recounts holds. */
static void reopened_shm_edge_keeps_words_and_rebuilds_counts(void **state)
{
	struct fixture *f = *state;
	struct tkt_reply rep;
	uint64_t w;
	uint32_t n = 0;

	assert_false(edge_reused(f->edge));
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 50, ME, 0, &rep), TKT_OK);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 51, ME, 0, &rep), TKT_OK);
	w = word(f, 50);
	close_edge(f);
	assert_int_equal(open_edge(f), 0);
	assert_true(edge_reused(f->edge));
	assert_int_equal(word(f, 50), w);
	assert_int_equal(edge_hold_count_get(f->edge, ME, EV, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 50, OTHER, 0, &rep),
			 TKT_TAKEN);
	assert_int_equal(ask(f, TKT_OP_RELEASE, EV, 50, ME, 0, &rep), TKT_OK);
}

static void sweep_turns_lapsed_holds_available_and_announces_them(void **state)
{
	struct fixture *f = *state;
	struct tkt_seat_req rq = {.event_id = EV, .seat_id = 80, .slot = ME,
				  .ttl_ms = 1, .op = TKT_SEAT_HOLD};
	struct tkt_seat_res res;
	struct collected got = {0};
	struct timespec nap = {0, 5000000};
	uint32_t n = 9, count = 9;

	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_REST, &rq, &res), 0);
	rq.seat_id = 81;
	rq.ttl_ms = 600000;
	assert_int_equal(edge_seat_apply(f->edge, TKT_SRC_REST, &rq, &res), 0);
	nanosleep(&nap, NULL);
	assert_int_equal(edge_sweep(f->edge, EV, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tkt_sw_state(word(f, 80)), TKT_SEAT_AVAILABLE);
	assert_int_equal(tkt_sw_state(word(f, 81)), TKT_SEAT_HELD);
	assert_int_equal(edge_hold_count_get(f->edge, ME, EV, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(edge_poll_changes(f->edge, collect, &got, 0), 3);
	assert_int_equal(got.rec[2].op, TKT_SEAT_EXPIRE);
	assert_int_equal(got.rec[2].source, TKT_SRC_SWEEPER);
	assert_int_equal(edge_sweep(f->edge, 99, NULL), -ENOENT);
}

static void door_on_ipv6_loopback_answers_too(void **state)
{
	struct fixture *f = *state;
	struct udp_door_opts o = {.addr = "::1", .port = -1, .workers = 1};
	struct timeval tv = {.tv_sec = 1};
	struct sockaddr_in6 to = {.sin6_family = AF_INET6};
	struct udp_door *d6;
	struct tkt_reply rep;
	struct tkt_req r;
	uint8_t tok[16];
	int fd;

	if (udp_door_start(f->edge, &o, &d6) == -EADDRNOTAVAIL)
		skip(); /* no IPv6 on this host */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
				    sizeof(tv)),
			 0);
	to.sin6_addr = in6addr_loopback;
	to.sin6_port = htons(udp_door_port(d6));
	token(ME, 3600, tok);
	pkt_req(&r, TKT_OP_HOLD, 6, EV, 90, tok, 0);
	assert_int_equal(sendto(fd, &r, sizeof(r), 0, (struct sockaddr *)&to,
				sizeof(to)),
			 (ssize_t)sizeof(r));
	assert_int_equal(recv(fd, &rep, sizeof(rep), 0), 32);
	assert_int_equal(rep.status, TKT_OK);
	assert_int_equal(tkt_sw_holder(word(f, 90)), ME);
	close(fd);
	assert_int_equal(udp_door_stop(d6), 0);
}

static void stats_count_socket_replies_by_status(void **state)
{
	struct fixture *f = *state;
	struct edge_stats st;
	struct tkt_reply rep;
	struct tkt_req r = {0};

	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 70, ME, 0, &rep), TKT_OK);
	assert_int_equal(ask(f, TKT_OP_HOLD, EV, 70, OTHER, 0, &rep),
			 TKT_TAKEN);
	assert_int_equal(exchange(f, &r, 4, &rep), -1);
	assert_int_equal(edge_stats(f->edge, &st), 0);
	assert_int_equal(st.user[TKT_OK], 1);
	assert_int_equal(st.user[TKT_TAKEN], 1);
	assert_int_equal(st.user[TKT_STAT_MALFORMED_DROPPED], 1);
	assert_int_equal(st.xdp[TKT_OK], 0);
}

/* Version 2 on the socket door: MAC, replay window, and udp_v1 off. */
static void v2_is_served_and_v1_can_be_turned_off(void **state)
{
	struct fixture *f = *state;
	struct tkt_config cfg = {.key = key, .udp_port = 7000};
	struct edge_stats st;
	struct tkt_reply rep;
	struct tkt_req r;
	uint8_t tok[16];

	token(ME, 3600, tok);
	pkt_req_v2(&r, TKT_OP_HOLD, 1, EV, 95, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.version, TKT_VERSION_2);
	assert_int_equal(rep.status, TKT_OK);
	assert_int_equal(tkt_sw_holder(word(f, 95)), ME);
	/* the same datagram again: dropped, counted */
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), -1);
	assert_int_equal(edge_stats(f->edge, &st), 0);
	assert_int_equal(st.user[TKT_STAT_REPLAY_DROPPED], 1);
	/* a recycled slot starts its window again */
	assert_int_equal(edge_replay_reset(f->edge, ME), 0);
	assert_int_equal(edge_replay_reset(f->edge, 0), -EINVAL);
	pkt_req_v2(&r, TKT_OP_QUERY, 1, EV, 95, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_TAKEN);

	cfg.flags = TKT_CFG_NO_V1;
	assert_int_equal(edge_set_config(f->edge, &cfg), 0);
	pkt_req(&r, TKT_OP_RELEASE, 2, EV, 95, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_MALFORMED);
	assert_int_equal(rep.version, TKT_VERSION_2);
	assert_int_equal(tkt_sw_holder(word(f, 95)), ME);
	pkt_req_v2(&r, TKT_OP_RELEASE, 2, EV, 95, tok, 0);
	assert_int_equal(exchange(f, &r, sizeof(r), &rep), 32);
	assert_int_equal(rep.status, TKT_OK);
	config(f->edge, 0, 0);
}

/* A worker that dies (here by the test hook, as if its socket failed) is
 * reported, leaves the SO_REUSEPORT group, and the others keep serving. */
static void dead_worker_is_reported_and_the_others_serve(void **state)
{
	struct fixture *f = *state;
	struct udp_door_opts o = {.addr = "127.0.0.1", .port = -1,
				  .workers = 2};
	struct timespec nap = {0, 20000000};
	struct tkt_reply rep;
	char why[160] = "";
	int i;

	assert_int_equal(udp_door_alive(f->door), 2);
	assert_true(udp_door_serving(f->door, why, sizeof(why)));
	udp_door_test_fail_worker(f->door);
	/* the next datagram wakes one worker, which ends */
	for (i = 0; i < 50 && udp_door_alive(f->door) == 2; i++) {
		struct tkt_req r;
		uint8_t tok[16];

		token(ME, 3600, tok);
		pkt_req(&r, TKT_OP_QUERY, 1, EV, 1, tok, 0);
		(void)sendto(f->sock, &r, sizeof(r), 0,
			     (struct sockaddr *)&f->to, sizeof(f->to));
		nanosleep(&nap, NULL);
	}
	assert_int_equal(udp_door_alive(f->door), 1);
	assert_false(udp_door_serving(f->door, why, sizeof(why)));
	assert_string_equal(why, "udpDoor: 1 of 2 socket door workers died");
	/* every flow now reaches the live worker: fresh sockets all answered */
	for (i = 0; i < 8; i++) {
		close(f->sock);
		f->sock = socket(AF_INET, SOCK_DGRAM, 0);
		assert_true(f->sock >= 0);
		setsockopt(f->sock, SOL_SOCKET, SO_RCVTIMEO,
			   &(struct timeval){.tv_sec = 1}, sizeof(struct timeval));
		assert_int_equal(ask(f, TKT_OP_QUERY, EV, 1, ME, 0, &rep), TKT_OK);
	}
	assert_int_equal(udp_door_stop(f->door), -EIO);
	assert_int_equal(udp_door_start(f->edge, &o, &f->door), 0);
	f->to.sin_port = htons(udp_door_port(f->door));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(hold_over_socket_sets_the_shared_seat_word),
		T(each_change_is_one_record_from_the_socket_door),
		T(short_long_or_wrong_magic_datagram_gets_no_reply),
		T(full_length_but_wrong_datagram_gets_malformed),
		T(forged_or_expired_token_is_bad_credential),
		T(events_unknown_or_elsewhere_are_refused),
		T(wrong_node_names_the_owner_and_rebuild_admits_only_restores),
		T(ninth_hold_in_an_event_is_limit_exceeded),
		T(over_the_rate_nothing_is_answered),
		T(order_then_sell_moves_the_seat_to_sold_and_frees_the_count),
		T(records_of_a_seat_are_delivered_in_word_order),
		T(record_without_predecessor_is_delivered_after_a_wait),
		T(userspace_queue_full_refuses_the_change),
		T(reopened_shm_edge_keeps_words_and_rebuilds_counts),
		T(event_ids_past_the_event_table_are_refused_alike),
		T(sweep_turns_lapsed_holds_available_and_announces_them),
		T(door_on_ipv6_loopback_answers_too),
		T(stats_count_socket_replies_by_status),
		T(dead_worker_is_reported_and_the_others_serve),
		T(v2_is_served_and_v1_can_be_turned_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
