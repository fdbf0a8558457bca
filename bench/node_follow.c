/* node_follow: a UDP hold client for several edge nodes (issue 16). For
 * each --event it keeps one request in flight (HOLD then RELEASE of the
 * next seat of --seats, over and over), sends it to the node it believes
 * owns the event, and follows WRONG_NODE replies: the owner's IPv4 address
 * is at reply offset 24 and its UDP port at 28 (network order; zeros while
 * the owner is unknown: then it waits --retry-ms and asks an entry node).
 * --pace-ms spaces one event's requests. A request unanswered for
 * --timeout-ms is sent again, after
 * --fail-after such timeouts in a row to the next --entry node (a client
 * that knows every node's address, as from DNS).
 *
 * Prints one JSON line per ownership move it sees (an OK from another node
 * than the previous OK), with the gap between the last OK of the old
 * owner and the first OK of the new one, and at the end one JSON summary:
 * OKs, redirects, timeouts, statuses, the ack rate, the longest gap, per
 * event and in all.
 *
 *   node_follow --entry 10.77.1.2:7000 --entry 10.77.2.2:7000 \
 *       --event 1 --event 2 --token HEX32 --duration 10
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/opts.h"
#include "bench/lib/proto.h"
#include "userspace/lib/wire_codec.h"

#define MAX_EVENTS 64
#define MAX_ENTRIES 16

struct opts {
	const char *entries[MAX_ENTRIES];
	int n_entries;
	const char *events[MAX_EVENTS];
	int n_events;
	const char *token_hex;
	uint32_t seat_lo, seat_hi;
	double duration_s;
	int timeout_ms;
	int retry_ms;
	int fail_after;
	double pace_ms;
	uint16_t hold_secs;
	bool quiet;
};

struct ev {
	uint32_t id;
	int fd;
	struct sockaddr_in to;       /* where the request goes now */
	int entry;                   /* the entry node tried last */
	uint32_t seat;               /* the seat of the op in flight */
	uint8_t op;                  /* TKT_OP_HOLD or TKT_OP_RELEASE */
	uint32_t req_id;
	double sent_at;              /* of the request in flight; 0: none */
	double wake_at;              /* no request before this time */
	int timeouts_in_row;
	struct sockaddr_in last_ok_from;
	double last_ok_at;
	/* counters */
	uint64_t ok, redirects, unknown_owner, timeouts, other[TKT_STATUS_COUNT];
	uint64_t moves;
	double max_gap_ms;
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int parse_v4(const char *text, struct sockaddr_in *out)
{
	char host[64];
	uint16_t port;

	if (tkt_split_endpoint(text, 7000, host, sizeof(host), &port))
		return -1;
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons(port);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static const char *addr_text(const struct sockaddr_in *a, char *buf, size_t cap)
{
	char ip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	snprintf(buf, cap, "%s:%u", ip, ntohs(a->sin_port));
	return buf;
}

static bool same_addr(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_addr.s_addr == b->sin_addr.s_addr && a->sin_port == b->sin_port;
}

static void send_req(struct ev *e, const uint8_t *token, const struct opts *o)
{
	struct tkt_request_fields f = {
		.op = e->op, .req_id = ++e->req_id, .event_id = e->id,
		.seat_id = e->seat, .hold_secs = o->hold_secs,
	};
	uint8_t buf[TKT_REQ_LEN];

	memcpy(f.token, token, TKT_TOKEN_LEN);
	tkt_build_request(buf, sizeof(buf), &f);
	/* a send error (no route while a namespace goes) counts as a timeout */
	(void)sendto(e->fd, buf, sizeof(buf), 0, (const struct sockaddr *)&e->to, sizeof(e->to));
	e->sent_at = now_s();
}

static void next_op(struct ev *e, const struct opts *o)
{
	if (e->op == TKT_OP_HOLD) {
		e->op = TKT_OP_RELEASE;
	} else {
		e->op = TKT_OP_HOLD;
		e->seat = e->seat >= o->seat_hi ? o->seat_lo : e->seat + 1;
	}
}

static void on_reply(struct ev *e, const uint8_t *buf, ssize_t n, const struct opts *o)
{
	struct tkt_reply_fields r;
	struct tkt_request_fields q = {.op = e->op, .req_id = e->req_id,
				       .event_id = e->id, .seat_id = e->seat};
	double t = now_s();
	char a[48], b[48];

	if (tkt_parse_reply(buf, (size_t)n, &r) != TKT_REPLY_VALID ||
	    tkt_reply_matches(&r, &q) != TKT_REPLY_VALID)
		return; /* a late reply to an earlier request */
	e->sent_at = 0;
	e->timeouts_in_row = 0;
	if (r.status == TKT_WRONG_NODE) {
		struct sockaddr_in owner = {.sin_family = AF_INET};

		memcpy(&owner.sin_addr.s_addr, buf + 24, 4);
		memcpy(&owner.sin_port, buf + 28, 2);
		if (owner.sin_addr.s_addr && owner.sin_port && !same_addr(&owner, &e->to)) {
			e->redirects++;
			e->to = owner;
		} else {
			e->unknown_owner++;
			e->wake_at = t + o->retry_ms / 1e3;
		}
		return;
	}
	if (r.status == TKT_OK) {
		e->ok++;
		if (e->last_ok_at > 0 && !same_addr(&e->last_ok_from, &e->to)) {
			double gap = (t - e->last_ok_at) * 1e3;

			e->moves++;
			if (gap > e->max_gap_ms)
				e->max_gap_ms = gap;
			printf("{\"move\":{\"event\":%" PRIu32 ",\"from\":\"%s\",\"to\":\"%s\","
			       "\"gap_ms\":%.1f,\"at_ms\":%.0f}}\n",
			       e->id, addr_text(&e->last_ok_from, a, sizeof(a)),
			       addr_text(&e->to, b, sizeof(b)), gap, wall_ms());
			fflush(stdout);
		}
		e->last_ok_from = e->to;
		e->last_ok_at = t;
	} else {
		e->other[r.status]++;
	}
	e->wake_at = t + o->pace_ms / 1e3;
	next_op(e, o);
}

static void print_event(FILE *f, const struct ev *e, double secs)
{
	fprintf(f, "{\"event\":%" PRIu32 ",\"ok\":%" PRIu64 ",\"ok_per_s\":%.1f,"
		"\"redirects\":%" PRIu64 ",\"unknown_owner\":%" PRIu64 ",\"timeouts\":%" PRIu64
		",\"moves\":%" PRIu64 ",\"max_gap_ms\":%.1f,\"statuses\":{",
		e->id, e->ok, secs > 0 ? (double)e->ok / secs : 0.0, e->redirects,
		e->unknown_owner, e->timeouts, e->moves, e->max_gap_ms);
	bool first = true;
	for (unsigned s = 0; s < TKT_STATUS_COUNT; s++) {
		if (!e->other[s])
			continue;
		fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", tkt_status_name(s), e->other[s]);
		first = false;
	}
	fprintf(f, "}}");
}

int main(int argc, char **argv)
{
#define BENCH_OPTS_TYPE struct opts
	static const struct bench_opt table[] = {
		BOPT2(LIST, "entry", entries, n_entries, .hi = MAX_ENTRIES, .arg = "HOST:PORT",
		      .help = "an edge node's UDP address (repeat for each node; IPv4):\n"
			      "where a request goes before any WRONG_NODE, and after\n"
			      "--fail-after timeouts in a row"),
		BOPT2(LIST, "event", events, n_events, .hi = MAX_EVENTS, .arg = "E",
		      .help = "an event to hold seats of (repeat; at least one)"),
		BOPT(STR, "token", token_hex, .arg = "HEX32", .help = "the session token"),
		BOPT_SEATS(seat_lo, seat_hi, "0-7", "seats cycled through, HOLD then RELEASE each"),
		BOPT(DOUBLE, "duration", duration_s, .lo = 0.1, .hi = 3600, .arg = "S",
		     .def = "10", .help = "seconds to run (SIGINT/SIGTERM end it early)"),
		BOPT(INT, "timeout-ms", timeout_ms, .lo = 1, .hi = 10000, .arg = "N",
		     .def = "50", .help = "a request unanswered this long is sent again"),
		BOPT(INT, "retry-ms", retry_ms, .lo = 1, .hi = 10000, .arg = "N",
		     .def = "20", .help = "wait after a WRONG_NODE without an owner"),
		BOPT(INT, "fail-after", fail_after, .lo = 1, .hi = 1000, .arg = "N",
		     .def = "3", .help = "timeouts in a row before the next entry node"),
		BOPT(DOUBLE, "pace-ms", pace_ms, .lo = 0, .hi = 10000, .arg = "MS", .def = "0",
		     .help = "wait after each answer before the event's next request\n"
			     "(0: the next goes at once; the gap resolution is about this)"),
		BOPT(U16, "hold-secs", hold_secs, .lo = 0, .hi = 600, .arg = "S", .def = "30",
		     .help = "HOLD seconds"),
		BOPT(FLAG, "quiet", quiet, .help = "no progress line on stderr"),
		BENCH_OPTS_END,
	};
	struct opts o = {0};
	struct ev evs[MAX_EVENTS];
	struct sockaddr_in entries[MAX_ENTRIES];
	uint8_t token[TKT_TOKEN_LEN];
	struct pollfd pfd[MAX_EVENTS];
	double t0, end, last_progress;

	bench_opts_parse(table, &o, "usage: node_follow [options]", argc, argv);
	if (!o.n_entries || !o.n_events || !o.token_hex) {
		fprintf(stderr, "node_follow: --entry, --event and --token are required\n");
		return 2;
	}
	if (tkt_token_from_hex(o.token_hex, token)) {
		fprintf(stderr, "node_follow: --token: 32 hex digits\n");
		return 2;
	}
	for (int i = 0; i < o.n_entries; i++) {
		if (parse_v4(o.entries[i], &entries[i])) {
			fprintf(stderr, "node_follow: --entry %s: IPv4 HOST:PORT\n", o.entries[i]);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	memset(evs, 0, sizeof(evs));
	for (int i = 0; i < o.n_events; i++) {
		char *endp;
		unsigned long v = strtoul(o.events[i], &endp, 10);
		struct ev *e = &evs[i];

		if (*endp || endp == o.events[i] || v > UINT32_MAX) {
			fprintf(stderr, "node_follow: --event %s: a number\n", o.events[i]);
			return 2;
		}
		e->id = (uint32_t)v;
		e->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (e->fd < 0) {
			perror("node_follow: socket");
			return 1;
		}
		e->entry = i % o.n_entries;
		e->to = entries[e->entry];
		e->seat = o.seat_lo;
		e->op = TKT_OP_HOLD;
		e->req_id = (uint32_t)i << 24;
		pfd[i] = (struct pollfd){.fd = e->fd, .events = POLLIN};
	}
	t0 = now_s();
	end = t0 + o.duration_s;
	last_progress = t0;
	while (!stop_flag) {
		double t = now_s();

		if (t >= end)
			break;
		for (int i = 0; i < o.n_events; i++) {
			struct ev *e = &evs[i];

			if (e->sent_at > 0 && t - e->sent_at > o.timeout_ms / 1e3) {
				e->timeouts++;
				e->sent_at = 0;
				if (++e->timeouts_in_row >= o.fail_after) {
					e->timeouts_in_row = 0;
					e->entry = (e->entry + 1) % o.n_entries;
					e->to = entries[e->entry];
				}
			}
			if (e->sent_at == 0 && t >= e->wake_at)
				send_req(e, token, &o);
		}
		if (poll(pfd, (nfds_t)o.n_events, o.pace_ms > 0 && o.pace_ms < 5 ? 1 : 5) < 0 &&
		    errno != EINTR)
			break;
		for (int i = 0; i < o.n_events; i++) {
			uint8_t buf[256];
			ssize_t n;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((n = recv(evs[i].fd, buf, sizeof(buf), 0)) > 0)
				on_reply(&evs[i], buf, n, &o);
		}
		if (!o.quiet && t - last_progress >= 1.0) {
			uint64_t ok = 0, rd = 0, to = 0;

			for (int i = 0; i < o.n_events; i++)
				ok += evs[i].ok, rd += evs[i].redirects, to += evs[i].timeouts;
			fprintf(stderr, "[node_follow] %.0fs: %" PRIu64 " ok, %" PRIu64
				" redirects, %" PRIu64 " timeouts\n", t - t0, ok, rd, to);
			last_progress = t;
		}
	}
	double secs = now_s() - t0;
	uint64_t ok = 0, moves = 0, redirects = 0, timeouts = 0;
	double max_gap = 0;

	for (int i = 0; i < o.n_events; i++) {
		ok += evs[i].ok;
		moves += evs[i].moves;
		redirects += evs[i].redirects;
		timeouts += evs[i].timeouts;
		if (evs[i].max_gap_ms > max_gap)
			max_gap = evs[i].max_gap_ms;
	}
	printf("{\"summary\":{\"seconds\":%.2f,\"ok\":%" PRIu64 ",\"ok_per_s\":%.1f,"
	       "\"redirects\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"moves\":%" PRIu64
	       ",\"max_gap_ms\":%.1f,\"events\":[",
	       secs, ok, secs > 0 ? (double)ok / secs : 0.0, redirects, timeouts, moves, max_gap);
	for (int i = 0; i < o.n_events; i++) {
		if (i)
			putchar(',');
		print_event(stdout, &evs[i], secs);
	}
	printf("]}}\n");
	for (int i = 0; i < o.n_events; i++)
		close(evs[i].fd);
	return 0;
}
