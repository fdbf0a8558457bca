/* rest_load: closed-loop load generator for the hold/release cycle, over
 * HTTP/1.1 against ticketd's REST API or over RESP against Redis + Lua (the
 * seed design's hold script), with the same connection count, the same
 * loop and the same measurement, so the two sets of figures compare.
 *
 * Every connection has one request in flight at a time (request/response,
 * no pipelining) and loops:
 *   hold one random seat of --seats, with the next of its own tokens
 *     http:  POST /api/reservations {"eventId":E,"seatIds":[S],"holdSeconds":H}
 *     redis: EVALSHA <redis_hold.lua> 2 seat:{E}:S sold:{E} <token> <H*1000> S
 *   if the hold succeeded (201 / integer 0) and --release is on, release it
 *     http:  DELETE /api/reservations/E/S
 *     redis: EVALSHA <redis_release.lua> 1 seat:{E}:S <token>
 * Connection c owns tokens c, c+conns, c+2*conns, ... (of --tokens) and uses
 * them in turn, so no session is shared between connections and a session
 * holds at most one seat at a time (the 8-per-event limit is not reached).
 *
 * Hold latency and release latency go to separate histograms (the time from
 * the first byte written to the last byte of the answer read). All
 * connections are opened before the clock starts; answers that arrive
 * after --duration are not counted, but a hold granted then is still
 * released (drain, at most 2 s) so the table is left clean. A request
 * unanswered after --timeout-ms counts as a timeout and its connection is
 * reopened.
 *
 * --rate R (open loop): instead of holding again at once, every connection
 * holds on a fixed schedule, R holds/s in total (each connection every
 * conns/R seconds, phases spread evenly); a hold's latency counts from its
 * scheduled time, so a server stall is not hidden (no coordinated omission).
 * The release still follows its hold at once.
 *
 * --grant-log FILE writes "<token index> <seat>" for every granted hold:
 * with --release 0 and a long hold this is the oversell audit's input.
 *
 * --best N (http only): the hold is best available instead,
 *   POST /api/reservations/best {"eventId":E,"count":N,"holdSeconds":H},
 * and the release gives back every seat of its answer's "seatIds", one
 * DELETE each (each a release in the release histogram).
 *
 * Threads: each owns its connections, epoll set and statistics; main merges
 * after the join. Output: one JSON object on stdout. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
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
#include "bench/lib/proto.h"
#include "bench/lib/tally.h"
#include "userspace/lib/clock.h"

#define MAX_THREADS 16
#define MAX_CONNS 20000
#define IN_CAP 4096
#define OUT_CAP 512
#define DRAIN_NS 2000000000LL

/* Latencies in microseconds: "name":{n, mean, percentiles, max}. */
static void hist_json(FILE *f, const char *name, const struct bench_hist *h)
{
	bench_hist_json(f, name, h, "n,mean,p50,p90,p95,p99,p999,max", 1, 1);
}

/* ---- options ---------------------------------------------------------- */

enum mode { MODE_HTTP, MODE_REDIS };

static struct rest_opts {
	enum mode mode;
	struct bench_endpoint target;
	const char *tokens_path;
	uint32_t event;
	uint32_t seat_lo, seat_hi;
	int conns, threads;
	double duration;
	int hold_seconds;
	int release; /* 0 or 1 */
	const char *lua_dir;
	const char *grant_log;
	int timeout_ms;
	int server_pid;
	uint32_t seed;
	double rate; /* holds/s in total; 0 = closed loop */
	int best;    /* --best N: seats per best-available hold; 0 = off */
} opt; /* the defaults are in options[] */

static bench_token_hex *tokens;
static int n_tokens;
static char sha_hold[41], sha_release[41];

/* ---- per-connection and per-thread state ------------------------------ */

enum cstate { C_CLOSED, C_CONNECTING, C_IDLE, C_WAIT_HOLD, C_WAIT_REL };

struct conn {
	int fd;
	int idx; /* global connection number */
	enum cstate st;
	uint32_t seat;
	uint32_t held[8]; /* --best: the seats of the last granted hold */
	int n_held, rel_i; /* how many, and which one is being released */
	int tok;      /* token index of the request in flight */
	int tok_turn; /* which of the connection's tokens comes next */
	int64_t sent_ns;  /* latency origin: the send, or the schedule (--rate) */
	int64_t next_ns;  /* --rate: when the next hold is due */
	char out[OUT_CAP];
	int out_len, out_off;
	char in[IN_CAP];
	int in_len;
	uint64_t rng;
};

struct stats {
	struct bench_hist hold, rel, all; /* us */
	uint64_t hold_status[600]; /* http status, or 0..9 for Redis replies */
	uint64_t rel_status[600];
	struct bench_tally codes; /* the "code" of error answers */
	uint64_t timeouts, conn_errors, parse_errors, reconnects;
	uint64_t holds_unreleased; /* granted, then no successful release */
	uint64_t in_flight_at_end;
	uint64_t late_sends; /* --rate: holds sent after their schedule */
};

struct worker {
	pthread_t tid;
	int id;
	int epfd;
	struct conn *conns;
	int n;
	struct stats st;
	char *grants;
	size_t grants_len, grants_cap;
	int connected;
	int fatal;
};

static struct worker workers[MAX_THREADS];
static atomic_int ready_count;
static atomic_int go;
static int64_t t_start_ns, t_end_ns;

/* CLOCK_MONOTONIC, signed for differences */
static int64_t now_ns(void)
{
	return (int64_t)tkt_mono_ns();
}

/* ---- requests --------------------------------------------------------- */

static int resp_bulk(char *p, size_t cap, const char *s)
{
	return snprintf(p, cap, "$%zu\r\n%s\r\n", strlen(s), s);
}

static void build_hold(struct conn *c)
{
	uint32_t span = opt.seat_hi - opt.seat_lo + 1;
	int per = 0, k;

	/* this connection's tokens: idx, idx+conns, ... below n_tokens */
	for (k = c->idx; k < n_tokens; k += opt.conns)
		per++;
	/* fewer tokens than connections: sessions are shared (warned) */
	c->tok = per ? c->idx + (c->tok_turn % per) * opt.conns : c->idx % n_tokens;
	c->tok_turn++;
	c->seat = opt.seat_lo + (uint32_t)(bench_xorshift(&c->rng) % span);
	if (opt.mode == MODE_HTTP && opt.best) {
		char body[128];

		snprintf(body, sizeof(body),
			 "{\"eventId\":%u,\"count\":%d,\"holdSeconds\":%d}",
			 opt.event, opt.best, opt.hold_seconds);
		c->out_len = bench_http_request(c->out, OUT_CAP, "POST",
						"/api/reservations/best",
						&opt.target, tokens[c->tok],
						NULL, body);
	} else if (opt.mode == MODE_HTTP) {
		char body[128];

		snprintf(body, sizeof(body),
			 "{\"eventId\":%u,\"seatIds\":[%u],\"holdSeconds\":%d}",
			 opt.event, c->seat, opt.hold_seconds);
		c->out_len = bench_http_request(c->out, OUT_CAP, "POST",
						"/api/reservations", &opt.target,
						tokens[c->tok], NULL, body);
	} else {
		char key[48], sold[32], ttl[16], seat[16];
		int n = 0;

		snprintf(key, sizeof(key), "seat:{%u}:%u", opt.event, c->seat);
		snprintf(sold, sizeof(sold), "sold:{%u}", opt.event);
		snprintf(ttl, sizeof(ttl), "%d", opt.hold_seconds * 1000);
		snprintf(seat, sizeof(seat), "%u", c->seat);
		n += snprintf(c->out + n, OUT_CAP - n, "*8\r\n");
		n += resp_bulk(c->out + n, OUT_CAP - n, "EVALSHA");
		n += resp_bulk(c->out + n, OUT_CAP - n, sha_hold);
		n += resp_bulk(c->out + n, OUT_CAP - n, "2");
		n += resp_bulk(c->out + n, OUT_CAP - n, key);
		n += resp_bulk(c->out + n, OUT_CAP - n, sold);
		n += resp_bulk(c->out + n, OUT_CAP - n, tokens[c->tok]);
		n += resp_bulk(c->out + n, OUT_CAP - n, ttl);
		n += resp_bulk(c->out + n, OUT_CAP - n, seat);
		c->out_len = n;
	}
	c->out_off = 0;
}

static void build_release(struct conn *c)
{
	if (opt.best)
		c->seat = c->held[c->rel_i];
	if (opt.mode == MODE_HTTP) {
		char path[64];

		snprintf(path, sizeof(path), "/api/reservations/%u/%u",
			 opt.event, c->seat);
		c->out_len = bench_http_request(c->out, OUT_CAP, "DELETE", path,
						&opt.target, tokens[c->tok],
						NULL, NULL);
	} else {
		char key[48];
		int n = 0;

		snprintf(key, sizeof(key), "seat:{%u}:%u", opt.event, c->seat);
		n += snprintf(c->out + n, OUT_CAP - n, "*5\r\n");
		n += resp_bulk(c->out + n, OUT_CAP - n, "EVALSHA");
		n += resp_bulk(c->out + n, OUT_CAP - n, sha_release);
		n += resp_bulk(c->out + n, OUT_CAP - n, "1");
		n += resp_bulk(c->out + n, OUT_CAP - n, key);
		n += resp_bulk(c->out + n, OUT_CAP - n, tokens[c->tok]);
		c->out_len = n;
	}
	c->out_off = 0;
}

static void reopen(struct worker *w, struct conn *c, int64_t t);

/* ---- responses -------------------------------------------------------- */

/* --best: the "seatIds" of a granted best-available hold into c->held. */
static void parse_seat_ids(struct conn *c, const char *body, size_t len)
{
	const char *p = memmem(body, len, "\"seatIds\":[", 11);
	const char *end = body + len;

	c->n_held = 0;
	if (!p)
		return;
	for (p += 11; p < end && *p != ']' && c->n_held < 8;) {
		char *q;
		unsigned long v = strtoul(p, &q, 10);

		if (q == p)
			break;
		c->held[c->n_held++] = (uint32_t)v;
		p = q;
		if (p < end && *p == ',')
			p++;
	}
}

/* Returns the bytes of one complete answer in c->in (0: need more, -1:
 * malformed) and its status: the HTTP status, or for Redis the integer
 * reply (an error reply is status 599). For HTTP error bodies, *code gets
 * the "code" field. */
static int parse_answer(struct conn *c, int *status, char *code, size_t codecap,
			bool *close_after)
{
	code[0] = '\0';
	*close_after = false;
	if (opt.mode == MODE_REDIS) {
		char *eol = memmem(c->in, (size_t)c->in_len, "\r\n", 2);

		if (!eol)
			return c->in_len >= IN_CAP ? -1 : 0;
		if (c->in[0] == ':') {
			*status = atoi(c->in + 1);
		} else if (c->in[0] == '-') {
			*status = 599;
			snprintf(code, codecap, "%.*s",
				 (int)(eol - c->in - 1 < 31 ? eol - c->in - 1 : 31),
				 c->in + 1);
		} else {
			return -1; /* the scripts only return integers */
		}
		return (int)(eol - c->in) + 2;
	}
	struct bench_http_answer a;
	int used = bench_http_answer(c->in, c->in_len, IN_CAP, &a);

	if (used <= 0)
		return used;
	*status = a.status;
	*close_after = a.close_after;
	if (opt.best && c->st == C_WAIT_HOLD && a.status == 201)
		parse_seat_ids(c, c->in + a.body_off, a.body_len);
	if (a.status >= 300 && a.body_len > 0)
		bench_json_str(c->in + a.body_off, a.body_len, "code", code,
			       codecap);
	return used;
}


/* ---- connection handling ---------------------------------------------- */

static int open_conn(struct worker *w, struct conn *c)
{
	c->st = C_CONNECTING;
	c->in_len = 0;
	c->out_len = c->out_off = 0;
	if (!bench_tcp_open(&opt.target, w->epfd, EPOLLIN | EPOLLOUT, c, &c->fd))
		return 0;
	c->st = C_CLOSED;
	return -1;
}

static void close_conn(struct worker *w, struct conn *c)
{
	bench_epoll_close(w->epfd, c->fd);
	c->fd = -1;
	c->st = C_CLOSED;
}

static bool measuring(int64_t t)
{
	return t >= t_start_ns && t < t_end_ns;
}

static void want_write(struct worker *w, struct conn *c, bool on)
{
	bench_epoll_want_write(w->epfd, c->fd, c, on);
}

/* Writes what is pending; returns -1 when the connection broke. */
static int flush_out(struct worker *w, struct conn *c)
{
	int rc = bench_send_pending(c->fd, c->out, c->out_len, &c->out_off);

	if (rc == 0)
		want_write(w, c, true);
	return rc < 0 ? -1 : 0;
}

static int send_req(struct worker *w, struct conn *c, bool hold)
{
	int64_t t = now_ns();

	if (hold)
		build_hold(c);
	else
		build_release(c);
	c->st = hold ? C_WAIT_HOLD : C_WAIT_REL;
	c->sent_ns = t;
	if (hold && opt.rate > 0) {
		/* the latency counts from the schedule */
		if (t - c->next_ns > 1000000)
			w->st.late_sends++;
		c->sent_ns = c->next_ns < t ? c->next_ns : t;
		c->next_ns += (int64_t)(1e9 * opt.conns / opt.rate);
	}
	return flush_out(w, c);
}

/* --rate: sends the holds that are due; returns ns until the next one */
static int64_t send_due(struct worker *w, int64_t t)
{
	int64_t next = t + 20000000LL;

	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->st != C_IDLE)
			continue;
		if (c->next_ns <= t && t < t_end_ns) {
			if (send_req(w, c, true) < 0)
				reopen(w, c, t);
			continue;
		}
		if (c->next_ns < next)
			next = c->next_ns;
	}
	return next <= t ? 0 : next - t;
}

static void add_grant(struct worker *w, int tok, uint32_t seat)
{
	if (w->grants_len + 32 > w->grants_cap) {
		size_t ncap = w->grants_cap ? w->grants_cap * 2 : 1 << 16;
		char *nb = realloc(w->grants, ncap);

		if (!nb) {
			w->fatal = 1;
			return;
		}
		w->grants = nb;
		w->grants_cap = ncap;
	}
	w->grants_len += (size_t)snprintf(w->grants + w->grants_len, 32, "%d %u\n",
					  tok, seat);
}

static bool hold_granted(int status)
{
	return opt.mode == MODE_HTTP ? status == 201 : status == 0;
}

static bool release_done(int status)
{
	return opt.mode == MODE_HTTP ? status == 204 : status == 0;
}

/* One complete answer: record it and send the connection's next request. */
static int on_answer(struct worker *w, struct conn *c, int status,
		     const char *code, int64_t t)
{
	bool in_window = measuring(t);
	struct stats *st = &w->st;
	int64_t us = (t - c->sent_ns) / 1000;
	int s = status < 0 || status >= 600 ? 599 : status;

	if (c->st == C_WAIT_HOLD) {
		bool ok = hold_granted(status);

		if (in_window) {
			bench_hist_add(&st->hold, us);
			bench_hist_add(&st->all, us);
			st->hold_status[s]++;
			bench_tally_add(&st->codes, code, 1);
		}
		if (!opt.best) {
			c->held[0] = c->seat;
			c->n_held = 1;
		} else if (!ok) {
			c->n_held = 0;
		}
		for (int i = 0; ok && opt.grant_log && i < c->n_held; i++)
			add_grant(w, c->tok, c->held[i]);
		c->rel_i = 0;
		if (ok && opt.release && c->n_held)
			return send_req(w, c, false);
		if (ok && in_window)
			st->holds_unreleased += (uint64_t)c->n_held;
	} else if (c->st == C_WAIT_REL) {
		if (in_window) {
			bench_hist_add(&st->rel, us);
			bench_hist_add(&st->all, us);
			st->rel_status[s]++;
			bench_tally_add(&st->codes, code, 1);
		}
		if (!release_done(status))
			st->holds_unreleased++;
		if (++c->rel_i < c->n_held)
			return send_req(w, c, false);
	}
	c->st = C_IDLE;
	if (t >= t_end_ns)
		return 0; /* drained: no new hold after the window */
	if (opt.rate > 0 && c->next_ns > t)
		return 0; /* send_due sends it on schedule */
	return send_req(w, c, true);
}

static int on_readable(struct worker *w, struct conn *c)
{
	for (;;) {
		int got = bench_recv_more(c->fd, c->in, &c->in_len, IN_CAP);

		if (got <= 0)
			return got;
		for (;;) {
			int status = 0, used;
			char code[32];
			bool close_after;

			if (c->st != C_WAIT_HOLD && c->st != C_WAIT_REL) {
				if (c->in_len)
					w->st.parse_errors++; /* unasked bytes */
				return c->in_len ? -1 : 0;
			}
			used = parse_answer(c, &status, code, sizeof(code),
					    &close_after);
			if (used == 0)
				break;
			if (used < 0) {
				w->st.parse_errors++;
				return -1;
			}
			memmove(c->in, c->in + used, (size_t)(c->in_len - used));
			c->in_len -= used;
			if (on_answer(w, c, status, code, now_ns()) < 0)
				return -1;
			if (close_after)
				return -1;
		}
	}
}

/* A broken or timed-out connection: its request is lost; reopen it while
 * the window is open. */
static void reopen(struct worker *w, struct conn *c, int64_t t)
{
	bool was_waiting = c->st == C_WAIT_HOLD || c->st == C_WAIT_REL;

	close_conn(w, c);
	if (t >= t_end_ns)
		return;
	w->st.reconnects++;
	if (open_conn(w, c) < 0)
		w->st.conn_errors++;
	(void)was_waiting;
}

/* bench_await_connects: a connection opened before the clock is ready */
static bool first_connect(void *ptr, uint32_t events, void *ctx)
{
	struct worker *w = ctx;
	struct conn *c = ptr;

	if (c->st != C_CONNECTING)
		return false;
	if (!bench_tcp_connected(c->fd, events)) {
		w->st.conn_errors++;
		close_conn(w, c);
		return true;
	}
	c->st = C_IDLE;
	w->connected++;
	want_write(w, c, false);
	return true;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	int64_t last_scan = 0;
	bool started = false;
	int pending = w->n;

	/* phase 1: open every connection before the clock starts */
	for (int i = 0; i < w->n; i++)
		if (open_conn(w, &w->conns[i]) < 0) {
			w->st.conn_errors++;
			pending--;
		}
	bench_await_connects(w->epfd, pending, 20000, first_connect, w);
	atomic_fetch_add(&ready_count, 1);
	while (!atomic_load(&go))
		usleep(1000);

	/* phase 2: the loop */
	if (opt.rate > 0) {
		int64_t interval = (int64_t)(1e9 * opt.conns / opt.rate);

		for (int i = 0; i < w->n; i++)
			w->conns[i].next_ns = t_start_ns + interval *
				w->conns[i].idx / opt.conns;
	} else {
		for (int i = 0; i < w->n; i++)
			if (w->conns[i].st == C_IDLE &&
			    send_req(w, &w->conns[i], true) < 0)
				reopen(w, &w->conns[i], now_ns());
	}
	started = true;
	for (;;) {
		int64_t t = now_ns();
		int n;
		int64_t wait_ns = 20000000LL;

		if (t >= t_end_ns) {
			bool busy = false;

			for (int i = 0; i < w->n; i++)
				if (w->conns[i].st == C_WAIT_REL ||
				    w->conns[i].st == C_WAIT_HOLD)
					busy = true;
			if (!busy || t >= t_end_ns + DRAIN_NS)
				break;
		}
		if (opt.rate > 0 && t < t_end_ns)
			wait_ns = send_due(w, t);
		n = bench_epoll_wait_ns(w->epfd, evs, 256, wait_ns);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c->fd < 0)
				continue;
			if (c->st == C_CONNECTING) {
				if (!bench_tcp_connected(c->fd, evs[i].events)) {
					w->st.conn_errors++;
					reopen(w, c, now_ns());
					continue;
				}
				c->st = C_IDLE;
				want_write(w, c, false);
				if (opt.rate > 0)
					continue; /* send_due */
				if (now_ns() < t_end_ns && send_req(w, c, true) < 0)
					reopen(w, c, now_ns());
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (flush_out(w, c) < 0) {
					w->st.conn_errors++;
					reopen(w, c, now_ns());
					continue;
				}
				if (c->out_off >= c->out_len)
					want_write(w, c, false);
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				if (on_readable(w, c) < 0) {
					if (c->st == C_WAIT_HOLD || c->st == C_WAIT_REL)
						w->st.conn_errors++;
					reopen(w, c, now_ns());
				}
			}
		}
		t = now_ns();
		if (t - last_scan > 100000000LL) {
			last_scan = t;
			for (int i = 0; i < w->n; i++) {
				struct conn *c = &w->conns[i];

				if ((c->st == C_WAIT_HOLD || c->st == C_WAIT_REL) &&
				    t - c->sent_ns > (int64_t)opt.timeout_ms * 1000000LL) {
					if (measuring(t))
						w->st.timeouts++;
					if (c->st == C_WAIT_REL)
						w->st.holds_unreleased += (uint64_t)(c->n_held - c->rel_i);
					reopen(w, c, t);
				}
			}
		}
	}
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->st == C_WAIT_HOLD || c->st == C_WAIT_REL)
			w->st.in_flight_at_end++;
		if (c->st == C_WAIT_REL)
			w->st.holds_unreleased += (uint64_t)(c->n_held - c->rel_i);
		close_conn(w, c);
	}
	(void)started;
	return NULL;
}

/* ---- set-up ----------------------------------------------------------- */


/* Blocking RESP command on a fresh connection; returns the first line. */
static int redis_script_load(const char *path, char *sha)
{
	FILE *f = fopen(path, "r");
	char *src, *cmd, reply[256];
	long len;
	int fd, n = 0;
	ssize_t k;

	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	src = malloc((size_t)len + 1);
	cmd = malloc((size_t)len + 128);
	if (!src || !cmd || fread(src, 1, (size_t)len, f) != (size_t)len) {
		fclose(f);
		return -1;
	}
	fclose(f);
	src[len] = '\0';
	n = snprintf(cmd, 128, "*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n$%ld\r\n", len);
	memcpy(cmd + n, src, (size_t)len);
	n += (int)len;
	memcpy(cmd + n, "\r\n", 2);
	n += 2;
	fd = bench_tcp_connect(&opt.target);
	if (fd < 0 || send(fd, cmd, (size_t)n, MSG_NOSIGNAL) != n) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	k = recv(fd, reply, sizeof(reply) - 1, 0);
	close(fd);
	free(src);
	free(cmd);
	if (k < 0)
		return -1;
	reply[k] = '\0';
	/* $40\r\n<sha>\r\n */
	if (strncmp(reply, "$40\r\n", 5) || k < 45)
		return -1;
	memcpy(sha, reply + 5, 40);
	sha[40] = '\0';
	return 0;
}


#define BENCH_OPTS_TYPE struct rest_opts

static const char *const modes[] = {"http", "redis", NULL};

static const struct bench_opt options[] = {
	BOPT(CHOICE, "mode", mode, .choices = modes, .def = "http",
	     .help = "ticketd's REST API or Redis + Lua"),
	BOPT(ENDPOINT, "target", target, .lo = 8080, .arg = "HOST:PORT",
	     .def = "127.0.0.1:8080",
	     .help = "ticketd's HTTP port, or the Redis"),
	BOPT_TOKENS(tokens_path, "\n(required); connection c uses c, c+conns,\n"
				 "c+2*conns, ... in turn"),
	BOPT_EVENT(event),
	BOPT_SEATS(seat_lo, seat_hi, "0-9999", "random seats of this range"),
	BOPT(INT, "conns", conns, .lo = 1, .hi = MAX_CONNS, .arg = "N",
	     .def = "1000", .help = "connections, one request in flight each"),
	BOPT(INT, "threads", threads, .lo = 1, .hi = MAX_THREADS, .arg = "N",
	     .def = "2", .help = "epoll threads"),
	BOPT(DOUBLE, "duration", duration, .lo = 0.001, .hi = 600, .arg = "S",
	     .def = "10", .help = "measured seconds"),
	BOPT(INT, "hold-seconds", hold_seconds, .lo = 1, .hi = 86400,
	     .arg = "S", .def = "10", .help = "holdSeconds of every hold"),
	BOPT(INT, "release", release, .lo = 0, .hi = 1, .arg = "0|1",
	     .def = "1", .help = "release every granted hold"),
	BOPT(STR, "lua-dir", lua_dir, .arg = "DIR", .def = "bench",
	     .help = "where redis_*.lua live"),
	BOPT(STR, "grant-log", grant_log, .arg = "FILE",
	     .help = "writes \"<token index> <seat>\" per granted hold"),
	BOPT(INT, "timeout-ms", timeout_ms, .lo = 10, .hi = 600000, .arg = "MS",
	     .def = "5000", .help = "a request unanswered this long is a\n"
				    "timeout"),
	BOPT(INT, "server-pid", server_pid, .lo = 0, .hi = 1 << 22,
	     .arg = "PID", .help = "also report this process's CPU"),
	BOPT(U32, "seed", seed, .lo = 0, .hi = UINT32_MAX, .arg = "N",
	     .def = "1", .help = "seat choice seed"),
	BOPT(DOUBLE, "rate", rate, .lo = 0, .hi = 1e7, .arg = "HOLDS_PER_S",
	     .help = "paced holds in total (default 0: closed loop)"),
	BOPT(INT, "best", best, .lo = 0, .hi = 8, .arg = "N",
	     .help = "hold N seats by best available instead\n"
		     "(http only; default 0: one given seat)"),
	BENCH_OPTS_END,
};

static void parse_args(int argc, char **argv)
{
	bench_opts_parse(options, &opt,
			 "usage: rest_load --tokens FILE [options]", argc, argv);
	if (!opt.tokens_path)
		bench_die("--tokens is required");
	if (opt.threads > opt.conns)
		opt.threads = opt.conns;
	if (opt.best && opt.mode != MODE_HTTP)
		bench_die("--best needs --mode http");
}

static void status_json(FILE *f, const char *name, const uint64_t *s)
{
	bool first = true;

	fprintf(f, "\"%s\":{", name);
	for (int i = 0; i < 600; i++)
		if (s[i]) {
			fprintf(f, "%s\"%d\":%llu", first ? "" : ",", i,
				(unsigned long long)s[i]);
			first = false;
		}
	fprintf(f, "}");
}

int main(int argc, char **argv)
{
	struct stats tot;
	double secs;
	struct bench_cpu_reading r0, r1;
	int64_t t_done;
	int connected = 0;
	uint64_t granted;

	bench_prog = "rest_load";
	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	bench_raise_nofile();
	tokens = bench_load_tokens_hex(opt.tokens_path, &n_tokens);
	if (!tokens)
		exit(2);
	if (n_tokens < opt.conns)
		fprintf(stderr,
			"rest_load: warning: %d tokens for %d connections: sessions are shared\n",
			n_tokens, opt.conns);
	if (opt.mode == MODE_REDIS) {
		char p[512];

		snprintf(p, sizeof(p), "%s/redis_hold.lua", opt.lua_dir);
		if (redis_script_load(p, sha_hold))
			bench_die("SCRIPT LOAD %s failed", p);
		snprintf(p, sizeof(p), "%s/redis_release.lua", opt.lua_dir);
		if (redis_script_load(p, sha_release))
			bench_die("SCRIPT LOAD %s failed", p);
	}

	for (int t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];

		w->id = t;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->conns = calloc((size_t)opt.conns / (size_t)opt.threads + 1,
				  sizeof(struct conn));
		if (w->epfd < 0 || !w->conns)
			bench_die("%s", "out of resources");
	}
	for (int i = 0; i < opt.conns; i++) {
		struct worker *w = &workers[i % opt.threads];
		struct conn *c = &w->conns[w->n++];

		c->fd = -1;
		c->idx = i;
		c->rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1) ^ (uint64_t)opt.seed;
		if (!c->rng)
			c->rng = 1;
		for (int k = 0; k < 4; k++)
			bench_xorshift(&c->rng);
	}
	t_start_ns = INT64_MAX / 2;
	t_end_ns = INT64_MAX / 2;
	int64_t t_connect = now_ns();
	for (int t = 0; t < opt.threads; t++)
		pthread_create(&workers[t].tid, NULL, worker_main, &workers[t]);
	while (atomic_load(&ready_count) < opt.threads)
		usleep(1000);
	double connect_s = (double)(now_ns() - t_connect) / 1e9;
	for (int t = 0; t < opt.threads; t++)
		connected += workers[t].connected;

	bench_cpu_read(&r0, opt.server_pid);
	t_start_ns = now_ns();
	t_end_ns = t_start_ns + (int64_t)(opt.duration * 1e9);
	atomic_store(&go, 1);
	while (now_ns() < t_end_ns)
		usleep(10000);
	bench_cpu_read(&r1, opt.server_pid);
	for (int t = 0; t < opt.threads; t++)
		pthread_join(workers[t].tid, NULL);
	t_done = now_ns();
	secs = opt.duration;

	memset(&tot, 0, sizeof(tot));
	for (int t = 0; t < opt.threads; t++) {
		struct stats *s = &workers[t].st;

		bench_hist_merge(&tot.hold, &s->hold);
		bench_hist_merge(&tot.rel, &s->rel);
		bench_hist_merge(&tot.all, &s->all);
		for (int i = 0; i < 600; i++) {
			tot.hold_status[i] += s->hold_status[i];
			tot.rel_status[i] += s->rel_status[i];
		}
		bench_tally_merge(&tot.codes, &s->codes);
		tot.timeouts += s->timeouts;
		tot.conn_errors += s->conn_errors;
		tot.parse_errors += s->parse_errors;
		tot.reconnects += s->reconnects;
		tot.holds_unreleased += s->holds_unreleased;
		tot.in_flight_at_end += s->in_flight_at_end;
		tot.late_sends += s->late_sends;
	}
	if (opt.grant_log) {
		FILE *g = fopen(opt.grant_log, "w");

		if (!g)
			bench_die("cannot write %s", opt.grant_log);
		for (int t = 0; t < opt.threads; t++)
			fwrite(workers[t].grants, 1, workers[t].grants_len, g);
		fclose(g);
	}
	granted = tot.hold_status[opt.mode == MODE_HTTP ? 201 : 0];

	double client_cpu = r1.self_user_s + r1.self_sys_s - r0.self_user_s -
			    r0.self_sys_s;
	double server_cpu = r0.pid_s >= 0 && r1.pid_s >= 0 ? r1.pid_s - r0.pid_s
							   : -1;
	double host_busy = bench_host_busy_pct(&r0.host, &r1.host);
	FILE *o = stdout;

	fprintf(o, "{\"mode\":\"%s\",\"target\":\"%s:%d\",\"conns\":%d,"
		   "\"connected\":%d,\"threads\":%d,\"duration_s\":%.3f,"
		   "\"connect_s\":%.3f,\"drain_s\":%.3f,\"event\":%u,"
		   "\"seats\":\"%u-%u\",\"hold_seconds\":%d,\"release\":%s,"
		   "\"tokens\":%d,\"rate\":%.1f,\"late_sends\":%llu,\"best\":%d,",
		opt.mode == MODE_HTTP ? "http" : "redis", opt.target.host, opt.target.port,
		opt.conns, connected, opt.threads, secs, connect_s,
		(double)(t_done - t_end_ns) / 1e9, opt.event, opt.seat_lo,
		opt.seat_hi, opt.hold_seconds, opt.release ? "true" : "false",
		n_tokens, opt.rate, (unsigned long long)tot.late_sends, opt.best);
	fprintf(o, "\"requests\":%llu,\"requests_per_s\":%.1f,"
		   "\"holds\":%llu,\"holds_per_s\":%.1f,\"holds_granted\":%llu,"
		   "\"holds_granted_per_s\":%.1f,\"releases\":%llu,",
		(unsigned long long)tot.all.total, (double)tot.all.total / secs,
		(unsigned long long)tot.hold.total, (double)tot.hold.total / secs,
		(unsigned long long)granted, (double)granted / secs,
		(unsigned long long)tot.rel.total);
	hist_json(o, "hold_latency_us", &tot.hold);
	fprintf(o, ",");
	hist_json(o, "release_latency_us", &tot.rel);
	fprintf(o, ",");
	hist_json(o, "all_latency_us", &tot.all);
	fprintf(o, ",");
	status_json(o, "hold_status", tot.hold_status);
	fprintf(o, ",");
	status_json(o, "release_status", tot.rel_status);
	fprintf(o, ",");
	bench_tally_json(o, "codes", &tot.codes);
	fprintf(o, ",\"errors\":{\"timeouts\":%llu,\"connection\":%llu,"
		   "\"parse\":%llu,\"reconnects\":%llu},"
		   "\"holds_unreleased\":%llu,\"in_flight_at_end\":%llu,",
		(unsigned long long)tot.timeouts, (unsigned long long)tot.conn_errors,
		(unsigned long long)tot.parse_errors,
		(unsigned long long)tot.reconnects,
		(unsigned long long)tot.holds_unreleased,
		(unsigned long long)tot.in_flight_at_end);
	fprintf(o, "\"cpu\":{\"server_pid\":%d,\"server_s\":%.3f,"
		   "\"server_us_per_request\":%.2f,\"client_s\":%.3f,"
		   "\"host_busy_pct\":%.1f}}\n",
		opt.server_pid, server_cpu,
		server_cpu >= 0 && tot.all.total
			? server_cpu * 1e6 / (double)tot.all.total
			: -1.0,
		client_cpu, host_busy);
	return connected == 0 ? 1 : 0;
}
