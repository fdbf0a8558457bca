/* flood_load: the hostile-client drivers of bench/hostile_bench.sh, and the
 * bystander that measures what they do to a normal client. One mode a run,
 * one JSON object on stdout. Every loop is bounded by --duration (and
 * --count where it applies); every socket may be bound to a loopback source
 * address (--source), so the server sees the flood and the bystander as
 * different clients.
 *
 *   bystander  one keep-alive connection, --rate cycles/s on a fixed
 *              schedule, each cycle: GET /api/events/E/seats, POST
 *              /api/reservations (one seat of --seats, its own session),
 *              DELETE it when granted; with --udp-target also, from a
 *              thread of its own on its own schedule, a UDP HOLD and
 *              RELEASE of one seat of --udp-seats (protocol v1, same
 *              session). The first request of a cycle counts its latency
 *              from the cycle's schedule (a stall is not hidden), the others
 *              from their send. Latency histograms, statuses, 5xx, timeouts.
 *   sessions   POST /api/sessions over --conns keep-alive connections, as
 *              fast as they answer (--rate 0) or paced at --rate in total;
 *              counts accepted (201) and refused (429, 503, a refused or
 *              reset connection) answers.
 *   slow       --conns connections from the addresses of --sources, opened
 *              evenly over --open-secs, each trickling request-header bytes
 *              (one every --interval-ms, never ending the headers); counts
 *              the connections the server refused, cut (closed or
 *              answered) and left open at the end.
 *   garbage    UDP datagrams of random length 0..--max-len and random bytes
 *              at --rate, at most --count, to --udp-target; counts what was
 *              sent and any answers (reflection).
 *   probe      how many seats of --event (--seats) one address can hold at
 *              once: sessions over REST, seat after seat over REST, a new
 *              session whenever one reaches its limit, until refused; then
 *              the seats left over UDP (--udp-target) the same way; says
 *              what refused each phase, checks the event's held count, and
 *              releases every seat it took (--udp-first: UDP first, then
 *              REST). A 429 with Retry-After is waited out while --patience
 *              seconds last. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/conn.h"
#include "bench/lib/hist.h"
#include "bench/lib/msg.h"
#include "bench/lib/opts.h"
#include "bench/lib/proto.h"
#include "bench/lib/tally.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/wire_codec.h"

#define IN_CAP 65536
#define OUT_CAP 1024
#define MAX_CONNS 20000
#define MAX_PROBE_SESSIONS 1000
#define MAX_PROBE_SEATS 4096

enum mode { M_BYSTANDER, M_SESSIONS, M_SLOW, M_GARBAGE, M_PROBE };

static struct flood_opts {
	enum mode mode;
	struct bench_endpoint target;
	const char *udp_target;
	const char *source;
	const char *sources;
	const char *token;
	uint32_t event;
	uint32_t seat_lo, seat_hi;
	uint32_t udp_seat_lo, udp_seat_hi;
	double duration;
	double rate;
	int conns;
	long count;
	int max_len;
	double open_secs;
	int interval_ms;
	int timeout_ms;
	int hold_seconds;
	int max_sessions;
	double patience;
	bool udp_first;
	uint32_t seed;
} opt;

static int64_t now_ns(void)
{
	return (int64_t)tkt_mono_ns();
}

static void sleep_until(int64_t t)
{
	int64_t d = t - now_ns();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = d / 1000000000LL;
	ts.tv_nsec = d % 1000000000LL;
	nanosleep(&ts, NULL);
}

/* Latencies: recorded in ns, written in ms. */
static void hist_json(FILE *f, const char *name, const struct bench_hist *h)
{
	bench_hist_json(f, name, h, "n,mean,p50,p90,p99,p999,max", 1e6, 3);
}

/* ---- sockets ------------------------------------------------------------ */

static int parse_ipv4(const char *s, struct in_addr *a)
{
	return inet_pton(AF_INET, s, a) == 1 ? 0 : -1;
}

/* A socket of type bound to src (port 0) when src is set. */
static int socket_from(int type, const struct in_addr *src)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET};

	if (fd < 0 || !src)
		return fd;
	sa.sin_addr = *src;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct in_addr src_addr;
static bool have_src;

static const struct in_addr *src(void)
{
	return have_src ? &src_addr : NULL;
}

/* ---- blocking HTTP, for the bystander and the probe ---------------------- */

struct http_conn {
	int fd;
	char in[IN_CAP];
	int in_len;
};

struct http_result {
	int status; /* 0: no answer (see err) */
	const char *err; /* "timeout", "refused", "closed", "parse" */
	char code[48];
	double retry_after; /* seconds, -1 when absent */
	char token[64];
	long held; /* "held" of an event, -1 when absent */
};

static void http_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->in_len = 0;
}

static int http_connect(struct http_conn *c)
{
	struct timeval tv = {.tv_sec = opt.timeout_ms / 1000,
			     .tv_usec = (opt.timeout_ms % 1000) * 1000};
	int fd = socket_from(SOCK_STREAM, src());

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&opt.target.addr,
		    opt.target.addrlen) < 0) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->in_len = 0;
	return 0;
}

static double header_num(const char *in, int hlen, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = memmem(in, (size_t)hlen, "\r\n", 2); p;
	     p = memmem(p + 2, (size_t)(in + hlen - p - 2), "\r\n", 2)) {
		if (p + 2 + nl < in + hlen && !strncasecmp(p + 2, name, nl) &&
		    p[2 + nl] == ':')
			return strtod(p + 3 + nl, NULL);
	}
	return -1;
}

/* One request and its answer; reconnects once when a kept-alive
 * connection turns out closed before anything came back. */
static void http_do(struct http_conn *c, const char *method, const char *path,
		    const char *token, const char *body, struct http_result *r)
{
	char out[OUT_CAP];
	int len = bench_http_request(out, sizeof(out), method, path,
				     &opt.target, token, NULL, body);

	memset(r, 0, sizeof(*r));
	r->retry_after = -1;
	r->held = -1;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct bench_http_answer a;
		int n = 0;

		if (c->fd < 0 && http_connect(c) < 0) {
			r->err = errno == EAGAIN || errno == EINPROGRESS ||
					 errno == ETIMEDOUT
					 ? "timeout"
					 : "refused";
			return;
		}
		if (send(c->fd, out, (size_t)len, MSG_NOSIGNAL) != len) {
			http_close(c);
			r->err = "closed";
			continue;
		}
		c->in_len = 0;
		for (;;) {
			ssize_t k = recv(c->fd, c->in + c->in_len,
					 (size_t)(IN_CAP - c->in_len), 0);

			if (k <= 0) {
				r->err = k < 0 && (errno == EAGAIN ||
						   errno == EWOULDBLOCK)
						 ? "timeout"
						 : "closed";
				break;
			}
			c->in_len += (int)k;
			n = bench_http_answer(c->in, c->in_len, IN_CAP, &a);
			if (n != 0)
				break;
		}
		if (n <= 0) {
			bool fresh_close = !strcmp(r->err ? r->err : "", "closed") &&
					   c->in_len == 0;

			if (n < 0)
				r->err = "parse";
			http_close(c);
			if (fresh_close && attempt == 0)
				continue;
			return;
		}
		r->err = NULL;
		r->status = a.status;
		bench_json_str(c->in + a.body_off, a.body_len, "code", r->code,
			       sizeof(r->code));
		bench_json_str(c->in + a.body_off, a.body_len, "token",
			       r->token, sizeof(r->token));
		r->retry_after = header_num(c->in, a.body_off, "Retry-After");
		{
			const char *h = memmem(c->in + a.body_off,
					       (size_t)a.body_len, "\"held\":", 7);
			if (h)
				r->held = strtol(h + 7, NULL, 10);
		}
		if (a.close_after)
			http_close(c);
		return;
	}
}

static void result_key(const struct http_result *r, char *key, size_t cap)
{
	if (!r->status)
		snprintf(key, cap, "%s", r->err ? r->err : "error");
	else
		snprintf(key, cap, "%d%s%s", r->status, r->code[0] ? " " : "",
			 r->code);
}

/* ---- UDP request/answer (protocol v1) ------------------------------------ */

static struct sockaddr_storage udp_addr;
static socklen_t udp_addrlen;
static uint32_t udp_req_id = 1;

static void udp_target_parse(void)
{
	struct bench_endpoint ep;

	if (!opt.udp_target)
		bench_die("--udp-target is required in this mode");
	if (bench_endpoint_parse(opt.udp_target, 7000, &ep) < 0)
		exit(2);
	udp_addr = ep.addr;
	udp_addrlen = ep.addrlen;
}

/* Sends op on (event, seat) with token and waits for its answer: the
 * status, or -1 when none came within --timeout-ms. */
static int udp_do(int fd, uint8_t op, uint32_t event, uint32_t seat,
		  const uint8_t token[TKT_TOKEN_LEN])
{
	struct tkt_request_fields q = {.op = op, .req_id = udp_req_id++,
				       .event_id = event, .seat_id = seat,
				       .hold_secs = (uint16_t)opt.hold_seconds};
	uint8_t buf[TKT_REQ_LEN], in[2048];
	int64_t deadline = now_ns() + (int64_t)opt.timeout_ms * 1000000;

	memcpy(q.token, token, TKT_TOKEN_LEN);
	tkt_build_request(buf, sizeof(buf), &q);
	if (sendto(fd, buf, sizeof(buf), 0, (struct sockaddr *)&udp_addr,
		   udp_addrlen) < 0)
		return -1;
	for (;;) {
		int64_t left = deadline - now_ns();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		struct tkt_reply_fields r;
		ssize_t k;

		if (left <= 0 || poll(&p, 1, (int)(left / 1000000) + 1) <= 0)
			return -1;
		k = recv(fd, in, sizeof(in), MSG_DONTWAIT);
		if (k < 0)
			continue;
		if (tkt_parse_reply(in, (size_t)k, &r) == TKT_REPLY_VALID &&
		    tkt_reply_matches(&r, &q) == TKT_REPLY_VALID)
			return r.status;
	}
}

/* A session over REST: its token into tok (hex) and bin; the result. */
static void new_session(struct http_conn *c, struct http_result *r,
			bench_token_hex tok, uint8_t bin[TKT_TOKEN_LEN])
{
	http_do(c, "POST", "/api/sessions", NULL, "", r);
	if (r->status == 201 &&
	    (strlen(r->token) != TKT_TOKEN_HEX_LEN ||
	     tkt_token_from_hex(r->token, bin) < 0)) {
		r->status = 0;
		r->err = "parse";
	}
	if (r->status == 201)
		snprintf(tok, sizeof(bench_token_hex), "%s", r->token);
}

/* ---- bystander ------------------------------------------------------------ */

/* The bystander's UDP client: its own thread and schedule, so a lost
 * datagram (a 2 s wait) never delays the REST requests, nor the reverse. */
struct udp_client {
	pthread_t tid;
	int fd;
	const uint8_t *token;
	int64_t t0, t_end, period;
	struct bench_hist hold, rel; /* RTT, ns */
	struct bench_tally answers;
	uint64_t ops, lost;
};

/* One timed request of the bystander's UDP client: its round trip into h
 * when answered, its answer counted under "<what> <status>" (or "<what>:
 * no answer"); the status, or -1. */
static int udp_client_do(struct udp_client *u, uint8_t op, uint32_t seat,
			 struct bench_hist *h, const char *what)
{
	char key[48];
	int64_t a = now_ns();
	int st = udp_do(u->fd, op, opt.event, seat, u->token);
	int64_t b = now_ns();

	u->ops++;
	if (st < 0) {
		u->lost++;
		snprintf(key, sizeof(key), "%s: no answer", what);
	} else {
		bench_hist_add(h, b - a);
		snprintf(key, sizeof(key), "%s %s", what,
			 tkt_status_name((unsigned)st));
	}
	bench_tally_add(&u->answers, key, 1);
	return st;
}

static void *udp_client_run(void *arg)
{
	struct udp_client *u = arg;
	uint64_t rng = (opt.seed ? opt.seed : 1) * 7919u;
	uint32_t span = opt.udp_seat_hi - opt.udp_seat_lo + 1;

	for (int64_t sched = u->t0; sched < u->t_end; sched += u->period) {
		uint32_t seat = opt.udp_seat_lo +
				(uint32_t)(bench_xorshift(&rng) % span);

		sleep_until(sched);
		if (udp_client_do(u, TKT_OP_HOLD, seat, &u->hold, "hold") == TKT_OK)
			udp_client_do(u, TKT_OP_RELEASE, seat, &u->rel, "release");
	}
	return NULL;
}

static int run_bystander(void)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	struct bench_hist *all = calloc(4, sizeof(*all));
	struct bench_hist *seats = all + 1, *hold = all + 2, *rel = all + 3;
	struct udp_client *u = calloc(1, sizeof(*u));
	struct bench_tally st = {0};
	struct http_result r;
	bench_token_hex tok;
	uint8_t bin[TKT_TOKEN_LEN];
	uint64_t rng = opt.seed ? opt.seed : 1, cycles = 0, late = 0;
	uint64_t n5xx = 0, failures = 0, requests = 0;
	char path[96], body[128], key[80];
	int64_t t0, t_end, period;

	if (!c || !all || !u)
		bench_die("out of memory");
	c->fd = -1;
	u->fd = -1;
	if (opt.udp_target) {
		udp_target_parse();
		u->fd = socket_from(SOCK_DGRAM, src());
		if (u->fd < 0)
			bench_die("UDP socket: %s", strerror(errno));
	}
	if (opt.token) {
		if (strlen(opt.token) != TKT_TOKEN_HEX_LEN ||
		    tkt_token_from_hex(opt.token, bin) < 0)
			bench_die("--token: 32 hex digits");
		snprintf(tok, sizeof(tok), "%s", opt.token);
	} else {
		new_session(c, &r, tok, bin);
		if (r.status != 201) {
			result_key(&r, key, sizeof(key));
			bench_die("the bystander's session: %s", key);
		}
	}
	period = (int64_t)(1e9 / opt.rate);
	t0 = now_ns();
	t_end = t0 + (int64_t)(opt.duration * 1e9);
	snprintf(path, sizeof(path), "/api/events/%u/seats", opt.event);
	if (u->fd >= 0) {
		u->token = bin;
		u->t0 = t0 + period / 2; /* between the REST cycles */
		u->t_end = t_end;
		u->period = period;
		if (pthread_create(&u->tid, NULL, udp_client_run, u))
			bench_die("pthread_create failed");
	}
	for (int64_t sched = t0; sched < t_end; sched += period) {
		uint32_t span = opt.seat_hi - opt.seat_lo + 1;
		uint32_t seat = opt.seat_lo + (uint32_t)(bench_xorshift(&rng) % span);
		int64_t a, b;

		sleep_until(sched);
		if (now_ns() > sched + period)
			late++;
		cycles++;
		/* 1: the seat map, timed from the schedule */
		http_do(c, "GET", path, NULL, NULL, &r);
		b = now_ns();
		bench_hist_add(seats, b - sched);
		bench_hist_add(all, b - sched);
		requests++;
		result_key(&r, key, sizeof(key));
		bench_tally_add(&st, key, 1);
		n5xx += r.status >= 500;
		failures += !r.status;
		/* 2: hold one seat, 3: release it */
		snprintf(body, sizeof(body),
			 "{\"eventId\":%u,\"seatIds\":[%u],\"holdSeconds\":%d}",
			 opt.event, seat, opt.hold_seconds);
		a = now_ns();
		http_do(c, "POST", "/api/reservations", tok, body, &r);
		b = now_ns();
		bench_hist_add(hold, b - a);
		bench_hist_add(all, b - a);
		requests++;
		result_key(&r, key, sizeof(key));
		bench_tally_add(&st, key, 1);
		n5xx += r.status >= 500;
		failures += !r.status;
		if (r.status == 201) {
			char dpath[96];

			snprintf(dpath, sizeof(dpath), "/api/reservations/%u/%u",
				 opt.event, seat);
			a = now_ns();
			http_do(c, "DELETE", dpath, tok, NULL, &r);
			b = now_ns();
			bench_hist_add(rel, b - a);
			bench_hist_add(all, b - a);
			requests++;
			result_key(&r, key, sizeof(key));
			bench_tally_add(&st, key, 1);
			n5xx += r.status >= 500;
			failures += !r.status;
		}
	}
	printf("{\"mode\":\"bystander\",\"source\":\"%s\",\"rate\":%g,"
	       "\"duration_s\":%g,\"cycles\":%llu,\"late_cycles\":%llu,"
	       "\"requests\":%llu,\"5xx\":%llu,\"failures\":%llu,",
	       opt.source ? opt.source : "", opt.rate,
	       (double)(now_ns() - t0) / 1e9, (unsigned long long)cycles,
	       (unsigned long long)late, (unsigned long long)requests,
	       (unsigned long long)n5xx, (unsigned long long)failures);
	hist_json(stdout, "rest_ms", all);
	putchar(',');
	hist_json(stdout, "seats_ms", seats);
	putchar(',');
	hist_json(stdout, "hold_ms", hold);
	putchar(',');
	hist_json(stdout, "release_ms", rel);
	putchar(',');
	bench_tally_json(stdout, "answers", &st);
	if (u->fd >= 0) {
		pthread_join(u->tid, NULL);
		printf(",\"udp\":{\"ops\":%llu,\"lost\":%llu,",
		       (unsigned long long)u->ops, (unsigned long long)u->lost);
		hist_json(stdout, "hold_rtt_ms", &u->hold);
		putchar(',');
		hist_json(stdout, "release_rtt_ms", &u->rel);
		putchar(',');
		bench_tally_json(stdout, "answers", &u->answers);
		putchar('}');
		close(u->fd);
	}
	printf("}\n");
	http_close(c);
	free(c);
	free(all);
	free(u);
	return 0;
}

/* ---- sessions flood ------------------------------------------------------- */

struct fconn {
	int fd;
	bool busy, connecting;
	int64_t sent_ns;
	int64_t reopen_ns; /* a closed connection opens again from then on */
	char in[2048];
	int in_len;
};


/* Closes f; it opens again after 10 ms (a server that closes at once must
 * not turn the flood into a connect storm that runs out of ports). */
static void fconn_close(int epfd, struct fconn *f)
{
	bench_epoll_close(epfd, f->fd);
	f->fd = -1;
	f->busy = false;
	f->reopen_ns = now_ns() + 10000000;
}

static void fconn_open(int epfd, struct fconn *f)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = f};
	int fd = socket_from(SOCK_STREAM | SOCK_NONBLOCK, src());

	f->fd = -1;
	f->busy = false;
	f->in_len = 0;
	if (fd < 0)
		return;
	if ((connect(fd, (struct sockaddr *)&opt.target.addr,
		     opt.target.addrlen) < 0 &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return;
	}
	f->fd = fd;
	f->connecting = true;
}

static int run_sessions(void)
{
	struct fconn *fc = calloc((size_t)opt.conns, sizeof(*fc));
	struct bench_hist *lat = calloc(1, sizeof(*lat));
	struct bench_tally answers = {0};
	uint64_t sent = 0, accepted = 0, r429 = 0, r503 = 0, refused_conn = 0,
		 reset = 0, other = 0, timeouts = 0;
	char req[OUT_CAP];
	int reqlen, epfd = epoll_create1(EPOLL_CLOEXEC);
	int64_t t0, t_end;
	struct epoll_event evs[256];

	if (!fc || !lat || epfd < 0)
		bench_die("out of memory or epoll");
	reqlen = bench_http_request(req, sizeof(req), "POST", "/api/sessions",
				    &opt.target, NULL, NULL, "");
	for (int i = 0; i < opt.conns; i++)
		fconn_open(epfd, &fc[i]);
	t0 = now_ns();
	t_end = t0 + (int64_t)(opt.duration * 1e9);
	while (now_ns() < t_end) {
		int64_t now = now_ns(), wait_ns = 1000000;
		double allowed = opt.rate > 0
					 ? opt.rate * (double)(now - t0) / 1e9 + 1 -
						   (double)sent
					 : 1e18;

		for (int i = 0; i < opt.conns && allowed >= 1; i++) {
			struct fconn *f = &fc[i];

			if (f->fd < 0) {
				if (now < f->reopen_ns)
					continue;
				fconn_open(epfd, f);
				if (f->fd < 0) {
					refused_conn++;
					f->reopen_ns = now + 10000000;
				}
				continue;
			}
			if (f->busy && now - f->sent_ns > (int64_t)opt.timeout_ms * 1000000) {
				timeouts++;
				fconn_close(epfd, f);
				continue;
			}
			if (f->busy || f->connecting)
				continue;
			if (send(f->fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) {
				reset++;
				fconn_close(epfd, f);
				continue;
			}
			f->busy = true;
			f->sent_ns = now;
			sent++;
			allowed -= 1;
		}
		/* behind the schedule with every connection busy: wait for an
		 * answer (1 ms at most), never spin */
		if (opt.rate > 0 && allowed < 1) {
			int64_t next = t0 + (int64_t)((double)sent / opt.rate * 1e9);

			wait_ns = next - now_ns();
			if (wait_ns > 1000000)
				wait_ns = 1000000;
			if (wait_ns < 0)
				wait_ns = 0;
		}
		int n = bench_epoll_wait_ns(epfd, evs, 256, wait_ns);

		for (int k = 0; k < n; k++) {
			struct fconn *f = evs[k].data.ptr;
			struct bench_http_answer a;
			int got;

			if (f->fd < 0)
				continue;
			if (f->connecting) {
				if (!bench_tcp_connected(f->fd, evs[k].events)) {
					refused_conn++;
					fconn_close(epfd, f);
					continue;
				}
				f->connecting = false;
				bench_epoll_want_write(epfd, f->fd, f, false);
				continue;
			}
			if (bench_recv_more(f->fd, f->in, &f->in_len,
					    (int)sizeof(f->in)) < 0) {
				if (f->busy)
					reset++;
				fconn_close(epfd, f);
				continue;
			}
			got = bench_http_answer(f->in, f->in_len,
						(int)sizeof(f->in), &a);
			if (got == 0)
				continue;
			if (got < 0 || !f->busy) {
				other++;
				fconn_close(epfd, f);
				continue;
			}
			{
				char key[16];

				snprintf(key, sizeof(key), "%d", a.status);
				bench_tally_add(&answers, key, 1);
			}
			bench_hist_add(lat, now_ns() - f->sent_ns);
			if (a.status == 201)
				accepted++;
			else if (a.status == 429)
				r429++;
			else if (a.status == 503)
				r503++;
			else
				other++;
			f->busy = false;
			memmove(f->in, f->in + got, (size_t)(f->in_len - got));
			f->in_len -= got;
			if (a.close_after) {
				fconn_close(epfd, f);
			}
		}
	}
	double secs = (double)(now_ns() - t0) / 1e9;

	printf("{\"mode\":\"sessions\",\"source\":\"%s\",\"rate\":%g,"
	       "\"conns\":%d,\"duration_s\":%.3f,\"sent\":%llu,"
	       "\"sent_per_s\":%.1f,\"accepted\":%llu,\"accepted_per_s\":%.1f,"
	       "\"refused\":{\"429\":%llu,\"503\":%llu,\"connection_refused\":%llu,"
	       "\"connection_reset\":%llu,\"timeouts\":%llu},"
	       "\"refused_total\":%llu,\"other\":%llu,",
	       opt.source ? opt.source : "", opt.rate, opt.conns, secs,
	       (unsigned long long)sent, (double)sent / secs,
	       (unsigned long long)accepted,
	       (double)accepted / secs, (unsigned long long)r429,
	       (unsigned long long)r503, (unsigned long long)refused_conn,
	       (unsigned long long)reset, (unsigned long long)timeouts,
	       (unsigned long long)(r429 + r503 + refused_conn + reset + timeouts),
	       (unsigned long long)other);
	hist_json(stdout, "latency_ms", lat);
	putchar(',');
	bench_tally_json(stdout, "answers", &answers);
	printf("}\n");
	for (int i = 0; i < opt.conns; i++)
		if (fc[i].fd >= 0)
			close(fc[i].fd);
	close(epfd);
	free(fc);
	free(lat);
	return 0;
}

/* ---- slow connections ----------------------------------------------------- */

enum slow_state { S_NEW, S_CONNECTING, S_OPEN, S_CUT, S_REFUSED };

struct slow {
	int fd;
	enum slow_state st;
	bool answered, at_once;
	int64_t open_ns, next_ns;
	int sent;
};

static const char trickle_head[] =
	"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ";

static char trickle_byte(int i)
{
	return i < (int)sizeof(trickle_head) - 1 ? trickle_head[i] : 'a';
}

/* "A.B.C.D", "A.B.C.D-E" or "A.B.C.D-A.B.C.E": the first address and how
 * many there are. */
static int parse_sources(const char *s, struct in_addr *first, int *n)
{
	char buf[64];
	char *dash;
	long last;
	uint32_t a;

	snprintf(buf, sizeof(buf), "%s", s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_ipv4(buf, first) < 0)
		return -1;
	a = ntohl(first->s_addr);
	if (!dash) {
		*n = 1;
		return 0;
	}
	if (strchr(dash + 1, '.')) { /* A.B.C.D-A.B.C.E */
		struct in_addr b;

		if (parse_ipv4(dash + 1, &b) < 0 ||
		    (ntohl(b.s_addr) & ~255u) != (a & ~255u))
			return -1;
		last = (long)(ntohl(b.s_addr) & 255);
	} else {
		last = strtol(dash + 1, NULL, 10);
	}
	if (last < (long)(a & 255) || last > 255)
		return -1;
	*n = (int)(last - (long)(a & 255)) + 1;
	return 0;
}

/* A connection the server closed (or reset): "at once" when within 0.5 s
 * of its opening, as a server that refuses it after accept does. */
static void slow_cut(struct slow *s, int epfd, struct bench_hist *h)
{
	int64_t lived = now_ns() - s->open_ns;

	bench_epoll_close(epfd, s->fd);
	s->fd = -1;
	s->st = S_CUT;
	s->at_once = lived < 500000000;
	bench_hist_add(h, lived);
}

static int run_slow(void)
{
	struct slow *sl = calloc((size_t)opt.conns, sizeof(*sl));
	struct bench_hist *cut_after = calloc(1, sizeof(*cut_after));
	struct in_addr first;
	int nsrc, epfd = epoll_create1(EPOLL_CLOEXEC), opened = 0;
	int max_open = 0, open_now = 0;
	int64_t t0, t_end, step, interval = (int64_t)opt.interval_ms * 1000000;
	uint64_t bytes = 0;
	struct epoll_event evs[512];
	long nofile = bench_raise_nofile();

	if (!sl || !cut_after || epfd < 0)
		bench_die("out of memory or epoll");
	if (nofile < opt.conns + 64)
		bench_die("open-file limit %ld is below %d", nofile, opt.conns + 64);
	if (parse_sources(opt.sources ? opt.sources : "127.0.0.1", &first, &nsrc) < 0)
		bench_die("bad --sources (A.B.C.D or A.B.C.D-E)");
	t0 = now_ns();
	t_end = t0 + (int64_t)(opt.duration * 1e9);
	step = (int64_t)(opt.open_secs * 1e9) / opt.conns;
	while (now_ns() < t_end) {
		int64_t now = now_ns();

		/* open what is due */
		while (opened < opt.conns && t0 + step * opened <= now) {
			struct slow *s = &sl[opened];
			struct in_addr a = {
				.s_addr = htonl(ntohl(first.s_addr) +
						(uint32_t)(opened % nsrc))};
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT |
							   EPOLLRDHUP,
						 .data.ptr = s};

			opened++;
			s->open_ns = now;
			s->fd = socket_from(SOCK_STREAM | SOCK_NONBLOCK, &a);
			if (s->fd < 0 ||
			    (connect(s->fd, (struct sockaddr *)&opt.target.addr,
				     opt.target.addrlen) < 0 &&
			     errno != EINPROGRESS) ||
			    epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
				if (s->fd >= 0)
					close(s->fd);
				s->fd = -1;
				s->st = S_REFUSED;
				continue;
			}
			s->st = S_CONNECTING;
		}
		/* one byte from every open connection whose turn it is */
		for (int i = 0; i < opened; i++) {
			struct slow *s = &sl[i];
			char b;

			if (s->st != S_OPEN || s->next_ns > now)
				continue;
			b = trickle_byte(s->sent);
			if (send(s->fd, &b, 1, MSG_NOSIGNAL) == 1) {
				s->sent++;
				bytes++;
				s->next_ns += interval;
			} else if (errno != EAGAIN) {
				slow_cut(s, epfd, cut_after);
				open_now--;
			}
		}
		int n = bench_epoll_wait_ns(epfd, evs, 512, 10000000);

		for (int k = 0; k < n; k++) {
			struct slow *s = evs[k].data.ptr;
			char buf[1024];
			ssize_t got;

			if (s->fd < 0)
				continue;
			if (s->st == S_CONNECTING) {
				if (!bench_tcp_connected(s->fd, evs[k].events)) {
					bench_epoll_close(epfd, s->fd);
					s->fd = -1;
					s->st = S_REFUSED;
					continue;
				}
				s->st = S_OPEN;
				s->next_ns = now_ns();
				if (++open_now > max_open)
					max_open = open_now;
				{
					struct epoll_event ev = {
						.events = EPOLLIN | EPOLLRDHUP,
						.data.ptr = s};
					epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
				}
				continue;
			}
			got = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (got > 0) {
				s->answered = true;
				continue;
			}
			if (got < 0 && errno == EAGAIN &&
			    !(evs[k].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
				continue;
			slow_cut(s, epfd, cut_after);
			open_now--;
		}
	}
	int cut = 0, refused = 0, alive = 0, answered = 0, connecting = 0;
	int at_once = 0;

	for (int i = 0; i < opened; i++) {
		cut += sl[i].st == S_CUT;
		refused += sl[i].st == S_REFUSED;
		alive += sl[i].st == S_OPEN;
		connecting += sl[i].st == S_CONNECTING;
		answered += sl[i].answered;
		at_once += sl[i].at_once;
		if (sl[i].fd >= 0)
			close(sl[i].fd);
	}
	printf("{\"mode\":\"slow\",\"sources\":\"%s\",\"source_addresses\":%d,"
	       "\"conns\":%d,\"opened\":%d,\"open_secs\":%g,\"interval_ms\":%d,"
	       "\"duration_s\":%.3f,\"bytes_sent\":%llu,\"max_open\":%d,"
	       "\"open_at_end\":%d,\"cut_by_server\":%d,\"cut_at_once\":%d,"
	       "\"answered\":%d,\"refused\":%d,\"still_connecting\":%d,",
	       opt.sources ? opt.sources : "127.0.0.1", nsrc, opt.conns, opened,
	       opt.open_secs, opt.interval_ms, (double)(now_ns() - t0) / 1e9,
	       (unsigned long long)bytes, max_open, alive, cut, at_once,
	       answered, refused, connecting);
	bench_hist_json(stdout, "cut_after_s", cut_after, "n,p50,max", 1e9, 2);
	printf("}\n");
	close(epfd);
	free(sl);
	free(cut_after);
	return 0;
}

/* ---- garbage datagrams ------------------------------------------------------ */

#define GARBAGE_BATCH 32
#define GARBAGE_POOL 65536

static int run_garbage(void)
{
	static uint8_t pool[GARBAGE_POOL + 1500];
	struct mmsghdr msgs[GARBAGE_BATCH];
	struct iovec iov[GARBAGE_BATCH];
	uint64_t rng = opt.seed ? opt.seed : 1, sent = 0, bytes = 0, errs = 0,
		 replies = 0, reply_bytes = 0;
	uint64_t count = opt.count > 0 ? (uint64_t)opt.count : UINT64_MAX;
	int fd;
	int64_t t0, t_end;
	uint8_t in[2048];

	udp_target_parse();
	for (size_t i = 0; i < sizeof(pool); i += 8) {
		uint64_t x = bench_xorshift(&rng);

		memcpy(pool + i, &x, sizeof(pool) - i < 8 ? sizeof(pool) - i : 8);
	}
	fd = socket_from(SOCK_DGRAM | SOCK_NONBLOCK, src());
	if (fd < 0 || connect(fd, (struct sockaddr *)&udp_addr, udp_addrlen) < 0)
		bench_die("UDP socket: %s", strerror(errno));
	t0 = now_ns();
	t_end = t0 + (int64_t)(opt.duration * 1e9);
	while (sent < count) {
		int64_t now = now_ns();
		double due = opt.rate * (double)(now - t0) / 1e9 - (double)sent;
		int k;

		if (now >= t_end)
			break;
		if (due > GARBAGE_BATCH)
			due = GARBAGE_BATCH;
		if ((uint64_t)due > count - sent)
			due = (double)(count - sent);
		k = (int)due;
		if (k >= 1) {
			for (int i = 0; i < k; i++) {
				uint64_t x = bench_xorshift(&rng);

				iov[i].iov_base = pool + (x >> 16) % GARBAGE_POOL;
				iov[i].iov_len = (size_t)((x & 0xffff) %
							  ((uint64_t)opt.max_len + 1));
				memset(&msgs[i], 0, sizeof(msgs[i]));
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			int m = sendmmsg(fd, msgs, (unsigned)k, 0);

			if (m < 0) {
				errs += (uint64_t)k;
				sent += (uint64_t)k; /* the schedule moves on */
			} else {
				for (int i = 0; i < m; i++)
					bytes += iov[i].iov_len;
				sent += (uint64_t)m;
				errs += (uint64_t)(k - m);
				sent += (uint64_t)(k - m);
			}
		} else {
			struct timespec ts = {0, 200000};

			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < 64; i++) {
			ssize_t g = recv(fd, in, sizeof(in), MSG_DONTWAIT);

			if (g < 0)
				break;
			replies++;
			reply_bytes += (uint64_t)g;
		}
	}
	double secs = (double)(now_ns() - t0) / 1e9;

	/* answers still on their way */
	{
		int64_t until = now_ns() + 200000000;

		while (now_ns() < until) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			ssize_t g;

			if (poll(&p, 1, 50) <= 0)
				continue;
			g = recv(fd, in, sizeof(in), MSG_DONTWAIT);
			if (g >= 0) {
				replies++;
				reply_bytes += (uint64_t)g;
			}
		}
	}
	printf("{\"mode\":\"garbage\",\"target\":\"%s\",\"source\":\"%s\","
	       "\"rate\":%g,\"max_len\":%d,\"duration_s\":%.3f,"
	       "\"scheduled\":%llu,\"sent\":%llu,\"send_errors\":%llu,"
	       "\"bytes\":%llu,\"sent_per_s\":%.1f,\"replies\":%llu,"
	       "\"reply_bytes\":%llu}\n",
	       opt.udp_target, opt.source ? opt.source : "", opt.rate,
	       opt.max_len, secs, (unsigned long long)sent,
	       (unsigned long long)(sent - errs), (unsigned long long)errs,
	       (unsigned long long)bytes, (double)(sent - errs) / secs,
	       (unsigned long long)replies, (unsigned long long)reply_bytes);
	close(fd);
	return 0;
}

/* ---- probe -------------------------------------------------------------------- */

struct probe {
	struct http_conn c;
	int n_sess;
	bench_token_hex tok[MAX_PROBE_SESSIONS];
	uint8_t bin[MAX_PROBE_SESSIONS][TKT_TOKEN_LEN];
	int count[MAX_PROBE_SESSIONS];
	bool full[MAX_PROBE_SESSIONS];
	int owner[MAX_PROBE_SEATS]; /* -1 free, -2 someone else's, else session */
	char door[MAX_PROBE_SEATS]; /* 'r' REST, 'u' UDP */
	struct bench_tally answers;
	uint64_t session_refusals;
	double waited_s, patience_left;
	int64_t t_end;
};

/* Waits out a 429's Retry-After while patience lasts; false when it does
 * not. */
static bool probe_wait(struct probe *p, double retry_after)
{
	double w = retry_after > 0 ? retry_after : 1;

	if (w > p->patience_left || now_ns() + (int64_t)(w * 1e9) > p->t_end)
		return false;
	p->patience_left -= w;
	p->waited_s += w;
	sleep_until(now_ns() + (int64_t)(w * 1e9));
	return true;
}

/* A new session, or -1 with why in reason. */
static int probe_session(struct probe *p, char *reason, size_t cap)
{
	struct http_result r;
	char key[80];

	if (p->n_sess >= opt.max_sessions) {
		snprintf(reason, cap, "the probe's own cap of %d sessions",
			 opt.max_sessions);
		return -1;
	}
	for (;;) {
		new_session(&p->c, &r, p->tok[p->n_sess], p->bin[p->n_sess]);
		result_key(&r, key, sizeof(key));
		char tk[96];

		snprintf(tk, sizeof(tk), "session %s", key);
		bench_tally_add(&p->answers, tk, 1);
		if (r.status == 201)
			return p->n_sess++;
		p->session_refusals++;
		if (r.status == 429 && probe_wait(p, r.retry_after))
			continue;
		snprintf(reason, cap, "POST /api/sessions: %s", key);
		return -1;
	}
}

/* A session of ours that is not known to be full, else a new one. */
static int probe_pick(struct probe *p, char *reason, size_t cap)
{
	for (int k = 0; k < p->n_sess; k++)
		if (!p->full[k])
			return k;
	return probe_session(p, reason, cap);
}

static void probe_rest(struct probe *p, char *reason, size_t cap)
{
	int cur = -1;
	uint32_t nseats = opt.seat_hi - opt.seat_lo + 1;

	for (uint32_t i = 0; i < nseats; i++) {
		if (p->owner[i] != -1)
			continue;
		for (int tries = 0; tries < 100; tries++) {
			struct http_result r;
			char body[128], key[80], tk[96];

			if (now_ns() > p->t_end) {
				snprintf(reason, cap, "the probe's time cap");
				return;
			}
			if (cur < 0 && (cur = probe_pick(p, reason, cap)) < 0)
				return;
			snprintf(body, sizeof(body),
				 "{\"eventId\":%u,\"seatIds\":[%u],\"holdSeconds\":%d}",
				 opt.event, opt.seat_lo + i, opt.hold_seconds);
			http_do(&p->c, "POST", "/api/reservations", p->tok[cur],
				body, &r);
			result_key(&r, key, sizeof(key));
			snprintf(tk, sizeof(tk), "rest hold %s", key);
			bench_tally_add(&p->answers, tk, 1);
			if (r.status == 201) {
				p->owner[i] = cur;
				p->door[i] = 'r';
				p->count[cur]++;
				break;
			}
			if (r.status == 409) {
				p->owner[i] = -2;
				break;
			}
			if (r.status == 422 && !strcmp(r.code, "HOLD_LIMIT_EXCEEDED") &&
			    p->count[cur] > 0) {
				p->full[cur] = true;
				cur = -1; /* this session is full: the next one */
				continue;
			}
			if (r.status == 429 && probe_wait(p, r.retry_after))
				continue;
			snprintf(reason, cap, "POST /api/reservations: %s%s", key,
				 r.status == 422 && p->count[cur] == 0
					 ? " on a session that holds nothing"
					 : "");
			return;
		}
	}
	snprintf(reason, cap, "none: every seat taken");
}

static void probe_udp(struct probe *p, int fd, char *reason, size_t cap)
{
	int cur = -1;
	uint32_t nseats = opt.seat_hi - opt.seat_lo + 1;
	bool waited = false;

	for (uint32_t i = 0; i < nseats; i++) {
		if (p->owner[i] != -1)
			continue;
		for (int tries = 0; tries < 100; tries++) {
			char key[80];
			int s;

			if (now_ns() > p->t_end) {
				snprintf(reason, cap, "the probe's time cap");
				return;
			}
			if (cur < 0 && (cur = probe_pick(p, reason, cap)) < 0)
				return;
			s = udp_do(fd, TKT_OP_HOLD, opt.event, opt.seat_lo + i,
				   p->bin[cur]);
			snprintf(key, sizeof(key), "udp hold %s",
				 s < 0 ? "no answer" : tkt_status_name((unsigned)s));
			bench_tally_add(&p->answers, key, 1);
			if (s == TKT_OK) {
				p->owner[i] = cur;
				p->door[i] = 'u';
				p->count[cur]++;
				break;
			}
			if (s == TKT_TAKEN) {
				p->owner[i] = -2;
				break;
			}
			if (s == TKT_LIMIT_EXCEEDED && p->count[cur] > 0) {
				p->full[cur] = true;
				cur = -1;
				continue;
			}
			if (s == TKT_RATE_LIMITED && !waited && probe_wait(p, 1)) {
				waited = true;
				continue;
			}
			snprintf(reason, cap, "UDP HOLD: %s%s",
				 s < 0 ? "no answer" : tkt_status_name((unsigned)s),
				 s == TKT_LIMIT_EXCEEDED ? " on a session that holds nothing"
							 : "");
			return;
		}
	}
	snprintf(reason, cap, "none: every seat taken");
}

static int run_probe(void)
{
	struct probe *p = calloc(1, sizeof(*p));
	char why_rest[160] = "", why_udp[160] = "not run (no --udp-target)";
	uint32_t nseats = opt.seat_hi - opt.seat_lo + 1;
	int held_rest = 0, held_udp = 0, others = 0, fd = -1;
	struct bench_tally released = {0};
	struct http_result r;
	long event_held;
	char path[64];
	int64_t t0 = now_ns();

	if (!p)
		bench_die("out of memory");
	if (nseats > MAX_PROBE_SEATS)
		bench_die("--seats: at most %d seats", MAX_PROBE_SEATS);
	p->c.fd = -1;
	p->patience_left = opt.patience;
	p->t_end = t0 + (int64_t)(opt.duration * 1e9);
	for (uint32_t i = 0; i < nseats; i++)
		p->owner[i] = -1;
	if (opt.udp_target) {
		udp_target_parse();
		fd = socket_from(SOCK_DGRAM, src());
		if (fd < 0)
			bench_die("UDP socket: %s", strerror(errno));
	}
	if (!opt.udp_first)
		probe_rest(p, why_rest, sizeof(why_rest));
	if (fd >= 0)
		probe_udp(p, fd, why_udp, sizeof(why_udp));
	if (opt.udp_first)
		probe_rest(p, why_rest, sizeof(why_rest));
	for (uint32_t i = 0; i < nseats; i++) {
		held_rest += p->owner[i] >= 0 && p->door[i] == 'r';
		held_udp += p->owner[i] >= 0 && p->door[i] == 'u';
		others += p->owner[i] == -2;
	}
	snprintf(path, sizeof(path), "/api/events/%u", opt.event);
	http_do(&p->c, "GET", path, NULL, NULL, &r);
	event_held = r.held;
	double secs = (double)(now_ns() - t0) / 1e9;

	/* leave the table as it was */
	for (uint32_t i = 0; i < nseats; i++) {
		char dpath[96], key[80];

		if (p->owner[i] < 0)
			continue;
		snprintf(dpath, sizeof(dpath), "/api/reservations/%u/%u",
			 opt.event, opt.seat_lo + i);
		http_do(&p->c, "DELETE", dpath, p->tok[p->owner[i]], NULL, &r);
		result_key(&r, key, sizeof(key));
		bench_tally_add(&released, key, 1);
		if (r.status != 204 && fd >= 0)
			udp_do(fd, TKT_OP_RELEASE, opt.event, opt.seat_lo + i,
			       p->bin[p->owner[i]]);
	}
	printf("{\"mode\":\"probe\",\"source\":\"%s\",\"event\":%u,\"seats\":%u,"
	       "\"held_at_once\":%d,\"held_rest\":%d,\"held_udp\":%d,"
	       "\"held_by_others\":%d,\"event_held\":%ld,\"sessions\":%d,"
	       "\"session_refusals\":%llu,\"waited_s\":%.1f,\"duration_s\":%.3f,"
	       "\"order\":\"%s\",\"stopped_rest\":\"%s\",\"stopped_udp\":\"%s\",",
	       opt.source ? opt.source : "", opt.event, nseats,
	       held_rest + held_udp, held_rest, held_udp, others, event_held,
	       p->n_sess, (unsigned long long)p->session_refusals, p->waited_s,
	       secs, opt.udp_first ? "udp,rest" : "rest,udp", why_rest, why_udp);
	bench_tally_json(stdout, "answers", &p->answers);
	putchar(',');
	bench_tally_json(stdout, "released", &released);
	printf("}\n");
	if (fd >= 0)
		close(fd);
	http_close(&p->c);
	free(p);
	return 0;
}

/* ---- options ------------------------------------------------------------------- */

#define BENCH_OPTS_TYPE struct flood_opts

static const char *const modes[] = {"bystander", "sessions", "slow", "garbage",
				    "probe", NULL};

static const struct bench_opt options[] = {
	BOPT(CHOICE, "mode", mode, .choices = modes, .def = "bystander",
	     .help = "bystander, sessions, slow, garbage or probe"),
	BOPT(ENDPOINT, "target", target, .lo = 8080, .arg = "HOST:PORT",
	     .def = "127.0.0.1:8080", .help = "ticketd's HTTP port"),
	BOPT(STR, "udp-target", udp_target, .arg = "HOST:PORT",
	     .help = "ticketd's UDP door (garbage, probe; bystander: also\n"
		     "a UDP hold and release each cycle)"),
	BOPT(STR, "source", source, .arg = "IPV4",
	     .help = "bind every socket to this address (default: any)"),
	BOPT(STR, "sources", sources, .arg = "A.B.C.D-E",
	     .help = "slow: the connections' addresses, in turn"),
	BOPT(STR, "token", token, .arg = "HEX32",
	     .help = "bystander: this session (default: a new one)"),
	BOPT_EVENT(event),
	BOPT_SEATS(seat_lo, seat_hi, "0-99",
		   "bystander: random seats to hold; probe: the seats to take"),
	BOPT2(RANGE, "udp-seats", udp_seat_lo, udp_seat_hi, .arg = "A-B",
	      .def = "0-99", .help = "bystander: random seats of the UDP holds"),
	BOPT(DOUBLE, "duration", duration, .lo = 0.1, .hi = 600, .arg = "S",
	     .def = "5", .help = "seconds (probe: its time cap)"),
	BOPT(DOUBLE, "rate", rate, .lo = 0, .hi = 1e7, .arg = "PER_S",
	     .def = "0", .help = "bystander: cycles/s (0: 100); sessions: requests/s\n"
				 "in all (0: as fast as answered); garbage: datagrams/s"),
	BOPT(INT, "conns", conns, .lo = 1, .hi = MAX_CONNS, .arg = "N",
	     .def = "8", .help = "sessions, slow: connections"),
	BOPT(LONG, "count", count, .lo = 0, .hi = 1e12, .arg = "N",
	     .def = "0", .help = "garbage: datagrams at most (0: rate x duration)"),
	BOPT(INT, "max-len", max_len, .lo = 0, .hi = 1500, .arg = "BYTES",
	     .def = "1500", .help = "garbage: longest datagram"),
	BOPT(DOUBLE, "open-secs", open_secs, .lo = 0, .hi = 600, .arg = "S",
	     .def = "3", .help = "slow: open the connections over this long"),
	BOPT(INT, "interval-ms", interval_ms, .lo = 1, .hi = 600000, .arg = "MS",
	     .def = "1000", .help = "slow: one header byte per connection this often"),
	BOPT(INT, "timeout-ms", timeout_ms, .lo = 10, .hi = 600000, .arg = "MS",
	     .def = "5000", .help = "an answer later than this is a timeout"),
	BOPT(INT, "hold-seconds", hold_seconds, .lo = 5, .hi = 600, .arg = "S",
	     .def = "30", .help = "holdSeconds of the holds"),
	BOPT(INT, "max-sessions", max_sessions, .lo = 1, .hi = MAX_PROBE_SESSIONS,
	     .arg = "N", .def = "200", .help = "probe: sessions at most"),
	BOPT(DOUBLE, "patience", patience, .lo = 0, .hi = 600, .arg = "S",
	     .def = "5", .help = "probe: seconds of Retry-After it waits out"),
	BOPT(FLAG, "udp-first", udp_first,
	     .help = "probe: the UDP phase first, then REST"),
	BOPT(U32, "seed", seed, .lo = 1, .hi = UINT32_MAX, .arg = "N", .def = "1",
	     .help = "random seed"),
	BENCH_OPTS_END,
};

int main(int argc, char **argv)
{
	bench_keep_std_fds();
	bench_prog = "flood_load";
	signal(SIGPIPE, SIG_IGN);
	bench_opts_parse(options, &opt, "usage: flood_load --mode MODE [options]",
			 argc, argv);
	if (opt.source) {
		if (parse_ipv4(opt.source, &src_addr) < 0)
			bench_die("--source: an IPv4 address");
		have_src = true;
	}
	if (opt.target.addr.ss_family != AF_INET)
		bench_die("--target: an IPv4 address");
	if (opt.seat_hi < opt.seat_lo || opt.udp_seat_hi < opt.udp_seat_lo)
		bench_die("--seats/--udp-seats: A-B with A <= B");
	switch (opt.mode) {
	case M_BYSTANDER:
		if (opt.rate <= 0)
			opt.rate = 100;
		return run_bystander();
	case M_SESSIONS:
		return run_sessions();
	case M_SLOW:
		return run_slow();
	case M_GARBAGE:
		if (opt.rate <= 0)
			bench_die("garbage: --rate is required");
		return run_garbage();
	case M_PROBE:
		return run_probe();
	}
	return 2;
}
