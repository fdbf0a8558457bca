/* Driver of tests/bpf/test_xdp_netns.sh (built as
 * $(BUILD)/tests/bpf/tools/xdp_netns_driver): opens an edge with its pins in a
 * throwaway directory, attaches xdp_seat_hold inside the namespace (and
 * xdp_pass on the host end of the veth) through edge_attach_xdp, then sends
 * real UDP requests from the host side to the namespace address and checks
 * the replies (which the host kernel accepts only with correct checksums),
 * the seat words and the change stream.
 *
 * usage: xdp_netns_driver PIN_DIR NETNS NS_IFACE HOST_IFACE NS_IPV4 [NS_IPV6]
 * Prints one line per check and "N passed, M failed"; exit 0 iff all pass. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/bpf/packets.h"
#include "userspace/lib/edge.h"

#define EV 1u
#define EV_REMOTE 2u
#define ME 21u
#define OTHER 22u

static const struct tkt_token_key key = {.k0 = 0x0bad5eed0bad5eedull,
					 .k1 = 0x7e57ab1e7e57ab1eull};
static int passed, failed;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (cond) {                                                    \
			passed++;                                              \
			printf("ok - ");                                       \
		} else {                                                       \
			failed++;                                              \
			printf("not ok - ");                                   \
		}                                                              \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
	} while (0)

struct target {
	int fd;
	struct sockaddr_storage to;
	socklen_t tolen;
};

static int target_open(struct target *t, const char *addr)
{
	struct sockaddr_in *in = (void *)&t->to;
	struct sockaddr_in6 *in6 = (void *)&t->to;
	struct timeval tv = {.tv_sec = 1};

	memset(&t->to, 0, sizeof(t->to));
	if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons(TKT_DEFAULT_PORT);
		t->tolen = sizeof(*in);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(TKT_DEFAULT_PORT);
		t->tolen = sizeof(*in6);
	} else {
		return -EINVAL;
	}
	t->fd = socket(t->to.ss_family, SOCK_DGRAM, 0);
	if (t->fd < 0)
		return -errno;
	if (setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/* Sends len bytes; returns the reply's length or -errno. */
static int exchange(struct target *t, const void *req, size_t len,
		    struct tkt_reply *rep)
{
	uint8_t buf[256];
	ssize_t n;
	int tries;

	/* the first datagram may wait for ARP/ND; retry a lost one */
	for (tries = 0; tries < 3; tries++) {
		if (sendto(t->fd, req, len, 0, (struct sockaddr *)&t->to,
			   t->tolen) < 0)
			return -errno;
		n = recv(t->fd, buf, sizeof(buf), 0);
		if (n >= 0) {
			memset(rep, 0, sizeof(*rep));
			memcpy(rep, buf,
			       (size_t)n < sizeof(*rep) ? (size_t)n : sizeof(*rep));
			return (int)n;
		}
		if (errno != EAGAIN)
			return -errno;
	}
	return -ETIMEDOUT;
}

static uint32_t v2_id; /* v2 request ids of ME: growing across targets */

static int ask(struct target *t, uint8_t op, uint32_t event, uint32_t seat,
	       uint32_t slot, struct tkt_reply *rep)
{
	static uint32_t id;
	struct tkt_req r;
	uint8_t tok[16];
	int n;

	tkt_token_mint(&key, slot, (uint32_t)(time(NULL) + 3600), tok);
	pkt_req(&r, op, ++id, event, seat, tok, 0);
	n = exchange(t, &r, sizeof(r), rep);
	if (n != 32 || ntohl(rep->req_id) != id || rep->op != (op | 0x80))
		return -1;
	return rep->status;
}

static int count_cb(void *ctx, const struct tkt_change *rec)
{
	int *n = ctx;

	if (rec->source == TKT_SRC_XDP)
		(*n)++;
	return 0;
}

static void run(struct edge *e, const char *addr, uint32_t seat)
{
	struct tkt_reply rep;
	struct target t;
	struct tkt_req r;
	uint8_t tok[16];
	uint64_t w;
	int st, n = 0, got = 0;

	if (target_open(&t, addr)) {
		CHECK(0, "%s: socket", addr);
		return;
	}
	st = ask(&t, TKT_OP_HOLD, EV, seat, ME, &rep);
	w = edge_seat_read(e, seat);
	CHECK(st == TKT_OK &&
		      tkt_sw_claimed_by(w, ME, tkt_ms32(pkt_mono_ns())) ==
			      TKT_SEAT_HELD &&
		      ntohl(rep.counter) == tkt_sw_counter(w),
	      "%s: HOLD of a free seat is OK and sets the word (status %d)",
	      addr, st);
	st = ask(&t, TKT_OP_QUERY, EV, seat, OTHER, &rep);
	CHECK(st == TKT_TAKEN && rep.expiry_ms != 0,
	      "%s: QUERY by another session sees it TAKEN with an expiry", addr);
	st = ask(&t, TKT_OP_HOLD, EV, seat, OTHER, &rep);
	CHECK(st == TKT_TAKEN, "%s: HOLD by another session is TAKEN", addr);
	st = ask(&t, TKT_OP_RELEASE, EV, seat, ME, &rep);
	CHECK(st == TKT_OK &&
		      tkt_sw_state(edge_seat_read(e, seat)) ==
			      TKT_SEAT_AVAILABLE,
	      "%s: RELEASE by the holder frees it", addr);
	st = ask(&t, TKT_OP_QUERY, EV_REMOTE, seat, ME, &rep);
	CHECK(st == TKT_WRONG_NODE, "%s: event of another node is WRONG_NODE",
	      addr);

	tkt_token_mint(&key, ME, (uint32_t)(time(NULL) + 3600), tok);
	tok[12] ^= 0x10;
	pkt_req(&r, TKT_OP_HOLD, 900, EV, seat, tok, 0);
	n = exchange(&t, &r, sizeof(r), &rep);
	CHECK(n == 32 && rep.status == TKT_BAD_CREDENTIAL,
	      "%s: forged token is BAD_CREDENTIAL", addr);
	pkt_req(&r, TKT_OP_HOLD, 901, EV, seat, tok, 0);
	n = exchange(&t, &r, 20, &rep);
	CHECK(n == -ETIMEDOUT, "%s: 20-byte datagram gets no reply", addr);

	/* version 2 through the real path: answered once, replay dropped */
	tkt_token_mint(&key, ME, (uint32_t)(time(NULL) + 3600), tok);
	pkt_req_v2(&r, TKT_OP_QUERY, ++v2_id, EV, seat, tok, 0);
	n = exchange(&t, &r, sizeof(r), &rep);
	CHECK(n == 32 && rep.version == TKT_VERSION_2 && rep.status == TKT_OK,
	      "%s: v2 QUERY is answered in version 2", addr);
	n = exchange(&t, &r, sizeof(r), &rep);
	CHECK(n == -ETIMEDOUT, "%s: the same v2 datagram again gets no reply",
	      addr);

	n = edge_poll_changes(e, count_cb, &got, 500);
	CHECK(n >= 0 && got == 2,
	      "%s: two changes, two records in the stream (%d)", addr, got);
	close(t.fd);
}

int main(int argc, char **argv)
{
	struct edge_opts o = {.backend = EDGE_BACKEND_BPF};
	struct tkt_config cfg = {.key = key, .udp_port = TKT_DEFAULT_PORT};
	struct edge_stats st;
	struct edge *e;
	int err;

	if (argc < 6) {
		fprintf(stderr,
			"usage: %s PIN_DIR NETNS NS_IFACE HOST_IFACE NS_IPV4 "
			"[NS_IPV6]\n",
			argv[0]);
		return 2;
	}
	o.pin_dir = argv[1];
	err = edge_open(&o, &e);
	if (err) {
		fprintf(stderr, "edge_open: %s\n", strerror(-err));
		return 1;
	}
	CHECK(!edge_reused(e), "fresh pin directory is created, not reused");
	err = edge_set_config(e, &cfg);
	if (!err)
		err = edge_set_event(e, EV, 0, 100, true);
	if (!err)
		err = edge_set_event(e, EV_REMOTE, 100, 100, false);
	CHECK(!err, "config and events installed");
	err = edge_attach_xdp(e, argv[3], argv[2], argv[4]);
	CHECK(!err, "attach in netns %s: %s (mode %s)", argv[2],
	      err ? strerror(-err) : "ok",
	      edge_xdp_mode(e) == EDGE_XDP_NATIVE ? "native" : "generic");
	if (!err) {
		run(e, argv[5], 7);
		if (argc > 6)
			run(e, argv[6], 8);
		CHECK(edge_stats(e, &st) == 0 && st.xdp[TKT_OK] >= 2,
		      "stats count XDP replies (ok %llu)",
		      (unsigned long long)st.xdp[TKT_OK]);
		err = edge_detach_xdp(e);
		CHECK(!err, "detach: %s", err ? strerror(-err) : "ok");
	}
	edge_close(e);

	/* a restarted daemon finds the same maps */
	err = edge_open(&o, &e);
	CHECK(!err && edge_reused(e) &&
		      edge_get_config(e, &cfg) == 0 &&
		      cfg.udp_port == TKT_DEFAULT_PORT,
	      "reopen reuses the pinned maps and their config");
	if (!err)
		edge_close(e);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
