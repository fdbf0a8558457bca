/* sse_bench: many live seat streams on one event while holds run.
 *
 * Opens --subscribers SSE streams (GET /api/events/{id}/seats/stream) from
 * one epoll loop per --threads, waits for every snapshot, then sends UDP
 * HOLD / RELEASE ops at --rate per second on --seats for --duration
 * seconds. Each op's send time is recorded; the k-th event of a seat at a
 * subscriber is the k-th op on that seat (nobody else touches those seats),
 * so every delivery gives one delay: change sent -> event parsed by the
 * subscriber. Reports delay percentiles, missing deliveries, and ticketd's
 * RSS and CPU (from /proc/<--server-pid>) before and after the streams.
 * Prints one JSON object on stdout.
 *
 * usage: sse_bench --http 127.0.0.1:8080 --udp 127.0.0.1:7000 --event ID
 *        --seats A-B --server-pid PID [options] (sse_bench --help) */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/conn.h"
#include "bench/lib/cpu.h"
#include "bench/lib/hist.h"
#include "bench/lib/msg.h"
#include "bench/lib/opts.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/wire_codec.h"

#define MAX_SEATS 64
#define LINE_MAX_LEN 160

struct opts {
	struct bench_endpoint http, udp;
	uint32_t event, seat_lo, seat_hi;
	int subscribers, threads, server_pid;
	double rate, duration, settle;
};

static struct opts o; /* the defaults are in options[] */

/* Send time of the k-th op on seat i (ns, CLOCK_MONOTONIC). */
static _Atomic uint64_t *op_ns[MAX_SEATS];
static uint32_t n_seats, ops_cap;
static atomic_uint ops_done[MAX_SEATS];
static atomic_bool generating, stop_all;
static atomic_bool stop_ops; /* the timed ops are over: ignore later events */

struct conn {
	int fd;
	uint8_t phase; /* 0 connecting, 1 head, 2 body */
	uint8_t cstate; /* chunk: 0 size line, 1 data, 2 CRLF, 3 end,
			 * 4 rest of the size line (an extension) */
	bool snapshot, closed;
	uint32_t chunk_left;
	uint32_t last4;
	char status[16];
	uint8_t slen;
	char line[LINE_MAX_LEN];
	uint16_t llen;
	uint8_t kind; /* 0 none, 1 snapshot, 2 seat */
	char data[LINE_MAX_LEN];
	uint16_t seen[MAX_SEATS];
};

struct worker {
	pthread_t thr;
	int ep;
	struct conn *conns;
	int n;
	atomic_int snapshots, open, failed;
	struct bench_hist delays; /* ns */
	uint64_t deliveries, unmatched, other_seats, bytes;
};

static void die(const char *msg)
{
	bench_die("%s: %s", msg, strerror(errno));
}

/* ---- one blocking HTTP request (POST /api/sessions) ---- */

static int http_token(char token[33])
{
	char buf[4096], req[256];
	int req_len = bench_http_request(req, sizeof(req), "POST", "/api/sessions",
					 &o.http, NULL, "Connection: close\r\n",
					 "");
	int fd = bench_tcp_connect(&o.http);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (write(fd, req, (size_t)req_len) != req_len) {
		close(fd);
		return -1;
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	return bench_json_str(buf, (int)len, "token", token, 33) ? 0 : -1;
}

/* ---- the hold generator ---- */

/* One op on seat over the UDP door (the socket has a receive timeout):
 * the reply's status, or -1 when no valid reply to it came. */
static int udp_op(int fd, uint8_t op, uint32_t req_id, uint32_t seat,
		  const uint8_t token[TKT_TOKEN_LEN])
{
	struct tkt_request_fields q = {
		.op = op, .req_id = req_id, .event_id = o.event, .seat_id = seat,
	};
	struct tkt_reply_fields r;
	uint8_t pkt[TKT_REQ_LEN], rep[64];
	ssize_t n;

	memcpy(q.token, token, TKT_TOKEN_LEN);
	tkt_build_request(pkt, sizeof(pkt), &q);
	if (sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&o.udp.addr,
		   o.udp.addrlen) < 0)
		return -1;
	n = recv(fd, rep, sizeof(rep), 0);
	if (n < 0 || tkt_parse_reply(rep, (size_t)n, &r) != TKT_REPLY_VALID ||
	    tkt_reply_matches(&r, &q) != TKT_REPLY_VALID)
		return -1;
	return r.status;
}

static void *generator(void *arg)
{
	uint8_t token[TKT_TOKEN_LEN];
	bool held[MAX_SEATS] = {0};
	int fd = socket(o.udp.addr.ss_family, SOCK_DGRAM, 0);
	struct timeval tv = {.tv_sec = 1};
	uint64_t start = tkt_mono_ns(), period = (uint64_t)(1e9 / o.rate);
	uint64_t total = (uint64_t)(o.rate * o.duration);

	if (fd < 0)
		die("udp socket");
	if (tkt_token_from_hex(arg, token) < 0)
		bench_die("POST /api/sessions gave no 32-hex token");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (uint64_t i = 0; i < total && !atomic_load(&stop_all); i++) {
		uint32_t k = (uint32_t)(i % n_seats), seat = o.seat_lo + k;
		uint64_t due = start + i * period, t;
		unsigned idx = atomic_load(&ops_done[k]);
		int status;

		while ((t = tkt_mono_ns()) < due) {
			struct timespec ts = {0, (long)(due - t)};

			nanosleep(&ts, NULL);
		}
		if (idx >= ops_cap)
			break;
		atomic_store(&op_ns[k][idx], tkt_mono_ns());
		status = udp_op(fd, held[k] ? TKT_OP_RELEASE : TKT_OP_HOLD,
				(uint32_t)i, seat, token);
		if (status != TKT_OK) {
			fprintf(stderr, "sse_bench: op %llu on seat %u: %s\n",
				(unsigned long long)i, seat,
				status < 0 ? "no valid reply"
					   : tkt_status_name((unsigned)status));
			exit(1);
		}
		held[k] = !held[k];
		atomic_store(&ops_done[k], idx + 1);
	}
	/* Leave the seats free for the next run (these changes are not
	 * timed: they happen after the measurement). */
	atomic_store(&stop_ops, true);
	for (uint32_t k = 0; k < n_seats; k++) {
		uint32_t seat = o.seat_lo + k;

		if (held[k] && udp_op(fd, TKT_OP_RELEASE, (uint32_t)(total + k),
				      seat, token) < 0)
			fprintf(stderr, "sse_bench: could not release seat %u\n", seat);
	}
	close(fd);
	atomic_store(&generating, false);
	return NULL;
}

/* ---- the subscribers ---- */

static void on_event(struct worker *w, struct conn *c, uint64_t t)
{
	const char *p;
	unsigned seat;

	if (c->kind == 1) {
		if (!c->snapshot) {
			c->snapshot = true;
			atomic_fetch_add(&w->snapshots, 1);
		}
		return;
	}
	if (c->kind != 2 || !(p = strstr(c->data, "\"seatId\":")) ||
	    sscanf(p + 9, "%u", &seat) != 1)
		return;
	if (seat < o.seat_lo || seat > o.seat_hi) {
		w->other_seats++; /* not ours (say, an old hold expiring) */
		return;
	}
	if (atomic_load(&stop_ops) && c->seen[seat - o.seat_lo] >= atomic_load(&ops_done[seat - o.seat_lo]))
		return; /* the final release */
	{
		uint32_t k = seat - o.seat_lo, n = c->seen[k]++;
		uint64_t sent = n < ops_cap ? atomic_load(&op_ns[k][n]) : 0;

		w->deliveries++;
		if (!sent || sent > t) {
			w->unmatched++;
			return;
		}
		bench_hist_add(&w->delays, (int64_t)(t - sent));
	}
}

/* A complete line of the SSE body (kept to its first LINE_MAX_LEN - 1
 * bytes: enough for a seat event; a snapshot's data line is skipped). */
static void body_line(struct worker *w, struct conn *c, uint64_t t)
{
	c->line[c->llen] = '\0';
	if (c->llen == 0) {
		on_event(w, c, t);
		c->kind = 0;
		c->data[0] = '\0';
	} else if (!strncmp(c->line, "event: snapshot", 15)) {
		c->kind = 1;
	} else if (!strncmp(c->line, "event: seat", 11)) {
		c->kind = 2;
	} else if (!strncmp(c->line, "data: ", 6)) {
		memcpy(c->data, c->line, c->llen + 1u);
	}
	c->llen = 0;
}

static void body_span(struct worker *w, struct conn *c, const char *p, size_t n,
		      uint64_t t)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		size_t room = LINE_MAX_LEN - 1u - c->llen;
		size_t take = seg < room ? seg : room;

		memcpy(c->line + c->llen, p, take);
		c->llen = (uint16_t)(c->llen + take);
		if (!nl)
			return;
		body_line(w, c, t);
		p = nl + 1;
		n -= seg + 1;
	}
}

static void feed(struct worker *w, struct conn *c, const char *buf, size_t n, uint64_t t)
{
	size_t i = 0;

	while (i < n) {
		if (c->phase == 1) { /* headers: until CRLF CRLF */
			char ch = buf[i++];

			if (c->slen < sizeof(c->status) - 1)
				c->status[c->slen++] = ch;
			c->last4 = c->last4 << 8 | (uint8_t)ch;
			if (c->last4 == 0x0d0a0d0a) {
				if (strncmp(c->status, "HTTP/1.1 200", 12)) {
					fprintf(stderr, "sse_bench: answer %.12s\n", c->status);
					atomic_fetch_add(&w->failed, 1);
				}
				c->phase = 2;
			}
			continue;
		}
		switch (c->cstate) {
		case 0: /* chunk size line: hex digits, then maybe ";ext" */
		case 4: {
			char ch = buf[i++];
			int d = hex_digit(ch);

			if (ch == '\n')
				c->cstate = c->chunk_left ? 1 : 3;
			else if (c->cstate == 0 && d >= 0)
				c->chunk_left = c->chunk_left * 16 + (uint32_t)d;
			else
				c->cstate = 4;
			break;
		}
		case 1: {
			size_t k = n - i < c->chunk_left ? n - i : c->chunk_left;

			body_span(w, c, buf + i, k, t);
			i += k;
			c->chunk_left -= (uint32_t)k;
			if (!c->chunk_left)
				c->cstate = 2;
			break;
		}
		case 2: /* CRLF after the data */
			if (buf[i++] == '\n')
				c->cstate = 0;
			break;
		default: /* the stream ended */
			i = n;
		}
	}
}

static void conn_close(struct worker *w, struct conn *c)
{
	if (c->closed)
		return;
	c->closed = true;
	bench_epoll_close(w->ep, c->fd); /* leaves the epoll set, then closes */
	atomic_fetch_sub(&w->open, 1);
}

static void *worker_loop(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[512];
	char buf[65536];
	char req[256], path[64];
	int req_len;

	snprintf(path, sizeof(path), "/api/events/%u/seats/stream", o.event);
	req_len = bench_http_request(req, sizeof(req), "GET", path, &o.http, NULL,
				     "Accept: text/event-stream\r\n", NULL);

	while (!atomic_load(&stop_all)) {
		int n = epoll_wait(w->ep, evs, 512, 100);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->closed)
				continue;
			if (c->phase == 0) {
				if (!bench_tcp_connected(c->fd, evs[i].events) ||
				    write(c->fd, req, (size_t)req_len) != req_len) {
					atomic_fetch_add(&w->failed, 1);
					conn_close(w, c);
					continue;
				}
				c->phase = 1;
				struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
				epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
				continue;
			}
			for (;;) {
				ssize_t r = read(c->fd, buf, sizeof(buf));

				if (r > 0) {
					/* Per read: data may land while we work. */
					uint64_t t = tkt_mono_ns();

					w->bytes += (uint64_t)r;
					feed(w, c, buf, (size_t)r, t);
					if ((size_t)r < sizeof(buf))
						break;
					continue;
				}
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				conn_close(w, c); /* EOF or error */
				break;
			}
		}
	}
	return NULL;
}

static int connect_one(struct worker *w, struct conn *c)
{
	c->phase = 0;
	if (bench_tcp_open(&o.http, w->ep, EPOLLOUT, c, &c->fd))
		return -1;
	atomic_fetch_add(&w->open, 1);
	return 0;
}

/* Streams that got their snapshot or failed, over every worker. */
static int settled(struct worker *ws)
{
	int n = 0;

	for (int t = 0; t < o.threads; t++)
		n += atomic_load(&ws[t].snapshots) + atomic_load(&ws[t].failed);
	return n;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	nanosleep(&ts, NULL);
}


#define BENCH_OPTS_TYPE struct opts

static const char usage[] =
	"usage: sse_bench --http HOST:PORT --udp HOST:PORT --event ID --seats A-B\n"
	"                 --server-pid PID [options]";

static const struct bench_opt options[] = {
	BOPT(ENDPOINT, "http", http, .arg = "HOST:PORT",
	     .help = "ticketd's HTTP port (required)"),
	BOPT(ENDPOINT, "udp", udp, .arg = "HOST:PORT",
	     .help = "ticketd's UDP door (required)"),
	BOPT(U32, "event", event, .lo = 1, .hi = UINT32_MAX, .arg = "ID",
	     .help = "the event streamed (required)"),
	BOPT2(RANGE, "seats", seat_lo, seat_hi, .arg = "A-B",
	      .help = "free seats nobody else touches, at most 64\n"
		      "(required)"),
	BOPT(INT, "server-pid", server_pid, .lo = 1, .hi = 1 << 22,
	     .arg = "PID", .help = "ticketd, for its RSS and CPU (required)"),
	BOPT(INT, "subscribers", subscribers, .lo = 1, .hi = 1000000,
	     .arg = "N", .def = "1000", .help = "streams"),
	BOPT(INT, "threads", threads, .lo = 1, .hi = 16, .arg = "T",
	     .def = "1", .help = "epoll threads of the streams"),
	BOPT(DOUBLE, "rate", rate, .lo = 0.01, .hi = 1e6, .arg = "R",
	     .def = "20", .help = "holds and releases per second"),
	BOPT(DOUBLE, "duration", duration, .lo = 0.01, .hi = 3600, .arg = "S",
	     .def = "20", .help = "seconds of holds and releases"),
	BOPT(DOUBLE, "settle", settle, .lo = 0, .hi = 600, .arg = "S",
	     .def = "3", .help = "idle seconds between the snapshots and the\n"
				 "holds"),
	BENCH_OPTS_END,
};

int main(int argc, char **argv)
{
	struct worker *ws;
	char token[33];
	pthread_t gen;
	long rss0, rss1, rss2;
	double cpu0, cpu1, cpu2, cpu3, ccpu2, ccpu3, t_connect, hold_secs;
	uint64_t t0, t1, t2, t3;
	struct bench_hist *all = calloc(1, sizeof(*all));
	uint64_t deliveries = 0, unmatched = 0, other_seats = 0, ops_total = 0;
	int snaps = 0, failed = 0, open_end = 0;

	bench_prog = "sse_bench";
	bench_keep_std_fds();
	bench_opts_parse(options, &o, usage, argc, argv);
	n_seats = o.seat_hi - o.seat_lo + 1;
	if (!o.event || !o.http.addrlen || !o.udp.addrlen || !o.server_pid ||
	    n_seats > MAX_SEATS) {
		bench_err("needs --http, --udp, --event, --server-pid and --seats "
			  "of at most %d seats", MAX_SEATS);
		return 2;
	}
	if (bench_raise_nofile() < (long)o.subscribers + 64) {
		fprintf(stderr, "sse_bench: raise ulimit -n above %d\n", o.subscribers + 64);
		return 1;
	}
	ops_cap = (uint32_t)(o.rate * o.duration / n_seats) + 16;
	for (uint32_t i = 0; i < n_seats; i++)
		if (!(op_ns[i] = calloc(ops_cap, sizeof(*op_ns[i]))))
			die("calloc");
	if (http_token(token))
		die("POST /api/sessions");

	rss0 = bench_pid_rss_kib(o.server_pid);
	cpu0 = bench_pid_cpu_s(o.server_pid);
	ws = calloc((size_t)o.threads, sizeof(*ws));
	for (int t = 0; t < o.threads; t++) {
		ws[t].n = o.subscribers / o.threads + (t < o.subscribers % o.threads);
		ws[t].conns = calloc((size_t)ws[t].n, sizeof(struct conn));
		ws[t].ep = epoll_create1(0);
		if (!ws[t].conns || ws[t].ep < 0)
			die("worker");
		pthread_create(&ws[t].thr, NULL, worker_loop, &ws[t]);
	}
	/* At most 500 streams waiting for their snapshot at a time, so the
	 * listen backlog never overflows. */
	t0 = tkt_mono_ns();
	{
		int started = 0;

		for (int i = 0; i < o.subscribers; i++) {
			struct worker *w = &ws[i % o.threads];

			while (started - settled(ws) >= 500 && tkt_mono_ns() - t0 < 120e9)
				sleep_s(0.002);
			if (connect_one(w, &w->conns[i / o.threads]))
				atomic_fetch_add(&w->failed, 1);
			started++;
		}
	}
	for (;;) {
		snaps = failed = 0;
		for (int t = 0; t < o.threads; t++) {
			snaps += atomic_load(&ws[t].snapshots);
			failed += atomic_load(&ws[t].failed);
		}
		if (snaps + failed >= o.subscribers || tkt_mono_ns() - t0 > 120e9)
			break;
		sleep_s(0.01);
	}
	t1 = tkt_mono_ns();
	t_connect = (double)(t1 - t0) / 1e9;
	sleep_s(o.settle); /* every stream idle and suspended */
	rss1 = bench_pid_rss_kib(o.server_pid);
	cpu1 = bench_pid_cpu_s(o.server_pid);

	atomic_store(&generating, true);
	cpu2 = bench_pid_cpu_s(o.server_pid);
	ccpu2 = bench_self_cpu_s(NULL, NULL);
	t2 = tkt_mono_ns();
	pthread_create(&gen, NULL, generator, token);
	pthread_join(gen, NULL);
	t3 = tkt_mono_ns();
	cpu3 = bench_pid_cpu_s(o.server_pid);
	ccpu3 = bench_self_cpu_s(NULL, NULL);
	hold_secs = (double)(t3 - t2) / 1e9;
	sleep_s(2); /* stragglers */
	rss2 = bench_pid_rss_kib(o.server_pid);
	atomic_store(&stop_all, true);
	if (!all)
		die("calloc");
	for (int t = 0; t < o.threads; t++) {
		pthread_join(ws[t].thr, NULL);
		bench_hist_merge(all, &ws[t].delays);
		deliveries += ws[t].deliveries;
		unmatched += ws[t].unmatched;
		other_seats += ws[t].other_seats;
		open_end += atomic_load(&ws[t].open);
	}
	for (uint32_t i = 0; i < n_seats; i++)
		ops_total += atomic_load(&ops_done[i]);
	printf("{\"subscribers\":%d,\"connected\":%d,\"failed\":%d,\"openAtEnd\":%d,"
	       "\"connectSeconds\":%.3f,\"event\":%u,\"seats\":\"%u-%u\",\"ratePerSecond\":%.1f,"
	       "\"holdSeconds\":%.3f,\"changes\":%llu,\"expectedDeliveries\":%llu,"
	       "\"deliveries\":%llu,\"unmatched\":%llu,\"otherSeatEvents\":%llu,",
	       o.subscribers, snaps, failed, open_end, t_connect, o.event, o.seat_lo, o.seat_hi,
	       o.rate, hold_secs, (unsigned long long)ops_total,
	       (unsigned long long)ops_total * (unsigned long long)snaps,
	       (unsigned long long)deliveries, (unsigned long long)unmatched,
	       (unsigned long long)other_seats);
	bench_hist_json(stdout, "delayMs", all, "p50,p90,p99,p999,max", 1e6, 2);
	printf(",\"serverRssKiB\":{\"before\":%ld,\"withStreams\":%ld,\"afterHolds\":%ld},"
	       "\"rssPerSubscriberKiB\":%.2f,"
	       "\"serverCpuSeconds\":{\"connect\":%.2f,\"holds\":%.2f},"
	       "\"serverCpuPercentDuringHolds\":%.1f,\"clientCpuPercentDuringHolds\":%.1f}\n",
	       rss0, rss1, rss2,
	       (double)(rss1 - rss0) / (double)(snaps ? snaps : 1), cpu1 - cpu0, cpu3 - cpu2,
	       100.0 * (cpu3 - cpu2) / hold_secs, 100.0 * (ccpu3 - ccpu2) / hold_secs);
	return 0;
}
