/* orders_load: open-loop load generator for the full purchase against
 * ticketd's REST API (issue #6), the same schedule against paymentd alone
 * (the baseline: the simulated gateway delay), and a session maker.
 *
 *   --mode orders   every order, on its own keep-alive connection:
 *                     POST /api/reservations {"eventId","seatIds":[1-2 seats],"holdSeconds"}
 *                     POST /api/orders  (Idempotency-Key: <key-prefix>-<n>)
 *                     POST /api/payments/authorize {"orderId"}
 *                     GET  /api/orders/{id}, again every --poll-ms while PENDING
 *                   Orders start on a fixed schedule (--rate per second for
 *                   --duration seconds, order n at t0 + n/rate) whatever the
 *                   server does (open loop). Latency of the whole purchase
 *                   counts from the scheduled start, so a stall is not hidden
 *                   (no coordinated omission); an order that waits for a free
 *                   connection counts that wait (start_lag).
 *   --mode gateway  the same schedule, one POST /v1/authorize
 *                   {"orderId":"<key-prefix>-<n>","amount":1000,"currency":"EUR"}
 *                   per order, straight to paymentd: its simulated delay plus
 *                   its own HTTP cost, with nothing of ticketd.
 *   --mode sessions --count N: POST /api/sessions N times over --conns
 *                   connections as fast as they answer; prints one token per
 *                   line (stdout) and nothing else.
 *
 * Seats: order n takes the next 1 or 2 seats (random, seeded) of --seats A-B
 * in turn, so orders never compete for a seat (a failed hold is an error,
 * not contention). Sessions: order n uses token n mod (tokens); a session
 * holds at most 8 seats per event, which the spacing of one use every
 * tokens/rate seconds keeps far away.
 *
 * --gateway-log FILE (paymentd's JSON log, read after the run): the
 * simulated delay paymentd drew for each order ("delayMs" of its
 * "authorize" line, looked up by orderId), so the report shows the gateway's
 * delay for these very orders and what ticketd adds to it
 * (authorize latency - delay).
 *
 * --pid NAME=PID (repeatable): CPU seconds of these processes over the run;
 * --threads-of PID: the same per thread (top 8), which thread of ticketd
 * is busy; --watch NAME=TID (repeatable, a thread of --threads-of): every
 * 10 ms, what that thread is doing (/proc/.../syscall: running, or the
 * system call it waits in, poll() with its timeout).
 *
 * Overload: no order starts later than --start-grace (1 s) after the
 * offered window; the rest count as never started. Orders in flight then
 * may end during --drain seconds; a request unanswered for --timeout-ms is
 * an error. Latency percentiles cover the orders that ended.
 *
 * Waiting room (issue #12), --room: every visitor first joins the event's
 * room, POST /api/events/{id}/room. "open": straight on to the hold.
 * "waiting": up to --streams visitors at once follow the SSE stream
 * GET /api/events/{id}/room/stream?ticket=T on their connection (the gap
 * between consecutive position updates is measured, the first one from
 * the join's answer); the others, and a stream that ends or breaks
 * before admission, poll GET /api/events/{id}/room?ticket=T every
 * --room-poll-ms without holding a connection meanwhile. "admitted" (or
 * the stream's "admitted" event): hold, order, authorize as above. The
 * purchase of an admitted visitor is timed from its admission
 * ("admitted_end_to_end"); "room_wait" is arrival to admission. Visitors
 * still in the room when the drain ends count as still waiting, not as
 * errors. Each visitor should have a session of its own (--tokens): a
 * session joins once per event.
 *
 * Refusals: a 503 or 429 answer to any step is retried after its
 * Retry-After (seconds, at most --retry-cap; without one 0.5 s, doubling)
 * at most --retries times per visitor, without holding a connection;
 * then the visitor fails with that answer. Counted per step and status,
 * with whether Retry-After came.
 *
 * --closed: a closed loop instead (the capacity measurement): --conns
 * purchases in flight at all times, each connection starting the next
 * as soon as one ends, during --duration; --count purchases at most.
 * Latency counts from each purchase's start.
 *
 * One thread, epoll, HTTP/1.1, one request in flight per connection. Output:
 * one JSON object on stdout (modes orders and gateway); --orders-log FILE
 * writes one line per order (CSV) for a closer look. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
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
#include "bench/lib/sse.h"
#include "bench/lib/tally.h"
#include "userspace/lib/clock.h"

#define MAX_CONNS 20000
#define MAX_ORDERS 2000000
#define IN_CAP 8192
#define OUT_CAP 1024
#define MAX_PIDS 8
#define MAX_WATCH 16
#define TOP_THREADS 8

/* Latencies in microseconds: "name":{n, mean, percentiles, max}. */
static void hist_json(FILE *f, const char *name, const struct bench_hist *h)
{
	bench_hist_json(f, name, h, "n,mean,p50,p90,p95,p99,max", 1, 0);
}

/* ---- options ------------------------------------------------------------ */

enum mode { M_ORDERS, M_GATEWAY, M_SESSIONS };

/* NAME=ID arguments, in the order given. */
struct named_ids {
	int n;
	char name[MAX_WATCH][48];
	int id[MAX_WATCH];
};

static struct orders_opts {
	enum mode mode;
	struct bench_endpoint target;
	const char *tokens_path;
	uint32_t event;
	uint32_t seat_lo, seat_hi;
	int max_seats; /* 1..2 per order */
	int conns;
	double rate, duration;
	int count; /* sessions */
	int hold_seconds;
	int poll_ms;
	int final_timeout_ms;
	int timeout_ms;
	double drain_s;
	double steady_skip_s;
	const char *key_prefix;
	const char *gateway_log;
	const char *orders_log;
	uint32_t seed;
	struct named_ids pids; /* --pid NAME=PID */
	int threads_of;
	struct named_ids watched; /* --watch NAME=TID */
	double start_grace_s;
	bool room;	  /* join the waiting room first */
	int room_poll_ms; /* poll period of a waiting visitor */
	int streams;	  /* visitors on an SSE stream at once, at most */
	int retries;	  /* per visitor, after 503/429 */
	double retry_cap_s;
	bool closed; /* closed loop */
} opt; /* the defaults are in options[] */

static bench_token_hex *tokens;
static int n_tokens;

/* CLOCK_MONOTONIC, signed for differences */
static int64_t now_ns(void)
{
	return (int64_t)tkt_mono_ns();
}

/* ---- orders and connections -------------------------------------------- */

enum step { S_NEW, S_HOLD, S_ORDER, S_AUTH, S_GET, S_PARKED, S_DONE, S_JOIN,
	    S_STREAM, S_RPOLL };
static const char *const step_name[] = {"new", "hold", "order", "authorize",
					"get", "parked", "done", "join",
					"room-stream", "room-poll"};

/* what the room said to a visitor */
enum room_state { R_NONE, R_OPEN, R_WAITING, R_ADMITTED };

enum outcome { O_NONE, O_CONFIRMED, O_CANCELLED, O_NOT_FINAL, O_ERROR,
	       O_UNFINISHED, O_GW_OK };

struct conn;

struct order {
	int64_t sched;       /* when it should start */
	int64_t t_first;     /* first request sent */
	int64_t t_sent;      /* the request in flight */
	int64_t t_auth_sent; /* authorize sent */
	int64_t t_final;     /* final status observed */
	int64_t next_poll;
	int64_t t_admit;  /* allowed to buy: admitted, the room open, or
			   * sched without --room */
	int64_t t_update; /* the last position update while waiting */
	int32_t hold_us, order_us, auth_us;
	uint32_t seats[2];
	uint8_t nseats;
	uint8_t step;
	uint8_t outcome;
	uint8_t gets;
	uint8_t resume;	 /* the step to send when a park ends */
	uint8_t retries; /* after 503/429 */
	uint8_t room;	 /* enum room_state */
	bool streamed;	 /* has had its SSE stream */
	int tok;
	char id[48];
	char auth[12];   /* APPROVED, DECLINED */
	char status[12]; /* CONFIRMED, CANCELLED */
	char reason[32];
	char ticket[200]; /* the queue ticket, URL-encoded */
	struct conn *c;
	int park_idx;	 /* in parked[park_heap], -1: not parked */
	uint8_t park_heap; /* 0: keeps its connection, 1: needs a free one */
};

enum cstate { C_CLOSED, C_CONNECTING, C_READY, C_BUSY };

struct conn {
	int fd;
	int idx;
	enum cstate st;
	struct order *o; /* bound order, or NULL (free) */
	char out[OUT_CAP];
	int out_len, out_off;
	char in[IN_CAP];
	int in_len;
	struct bench_sse *sse; /* the stream of a waiting visitor */
};

static int epfd;
static struct conn *conns;
static int *free_stack, n_free;
static struct order *orders;
static int n_orders;
/* Parked orders in two min-heaps by next_poll: those that keep their
 * connection and those that need a free one when due (a heap, not a list
 * scanned every loop: with 20 000 visitors in the room the scan was what
 * kept this loop busy). */
static struct park_heap {
	struct order **a;
	int n;
} parked[2];
static int active; /* orders bound to a connection */
static int64_t t_start, t_end;
static uint32_t seat_cursor;
static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static struct {
	struct bench_hist start_lag, hold, order, auth, get, auth_to_final, e2e,
		gw_delay, auth_minus_delay, gw_latency, gw_service, gw_minus_delay;
	struct bench_tally errors, final, auth_status, mismatch;
	uint64_t finals, created, seats_confirmed, seats_cancelled, gets;
	uint64_t not_started, timeouts, conn_errors, parse_errors, reconnects;
	uint64_t gw_log_found, gw_log_missing;
	uint64_t *per_sec;
	int n_sec;
	int64_t t_last_final;
	/* the waiting room */
	struct bench_hist room_wait, admitted_e2e, pos_gap, poll_gap;
	struct bench_tally room_answers, refusals;
	uint64_t admitted, still_waiting, streams_opened, stream_fallbacks;
	uint64_t position_updates, polls;
	int streams_now, streams_max;
	/* refusals */
	uint64_t retries, retry_after_present, retry_after_missing;
} st;

static void want_write(struct conn *c, bool on)
{
	bench_epoll_want_write(epfd, c->fd, c, on);
}

static int open_conn(struct conn *c)
{
	c->st = C_CONNECTING;
	c->in_len = 0;
	return bench_tcp_open(&opt.target, epfd, EPOLLIN | EPOLLOUT, c, &c->fd);
}

static void close_conn(struct conn *c)
{
	bench_epoll_close(epfd, c->fd);
	c->fd = -1;
	c->st = C_CLOSED;
	c->in_len = 0;
}

/* Writes what is pending; -1 when the connection broke. */
static int flush_out(struct conn *c)
{
	int rc = bench_send_pending(c->fd, c->out, c->out_len, &c->out_off);

	if (rc >= 0)
		want_write(c, rc == 0);
	return rc < 0 ? -1 : 0;
}

static void release_conn(struct conn *c)
{
	if (c->o)
		active--;
	c->o = NULL;
	free_stack[n_free++] = c->idx;
}

/* Until when: then the step resume is sent. drop: the connection goes
 * back to the free ones meanwhile (a visitor in the room, a retry). */
static void heap_set(struct park_heap *h, int i, struct order *o)
{
	h->a[i] = o;
	o->park_idx = i;
}

static void heap_up(struct park_heap *h, int i)
{
	struct order *o = h->a[i];

	while (i > 0 && h->a[(i - 1) / 2]->next_poll > o->next_poll) {
		heap_set(h, i, h->a[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(h, i, o);
}

static void heap_down(struct park_heap *h, int i)
{
	struct order *o = h->a[i];

	for (;;) {
		int k = 2 * i + 1;

		if (k >= h->n)
			break;
		if (k + 1 < h->n && h->a[k + 1]->next_poll < h->a[k]->next_poll)
			k++;
		if (h->a[k]->next_poll >= o->next_poll)
			break;
		heap_set(h, i, h->a[k]);
		i = k;
	}
	heap_set(h, i, o);
}

static int n_parked(void)
{
	return parked[0].n + parked[1].n;
}

static void park(struct order *o, int64_t when, enum step resume, bool drop)
{
	struct park_heap *h;

	o->next_poll = when;
	o->resume = (uint8_t)resume;
	o->step = S_PARKED;
	if (drop && o->c) {
		release_conn(o->c);
		o->c = NULL;
	}
	o->park_heap = o->c ? 0 : 1;
	h = &parked[o->park_heap];
	h->a[h->n] = o;
	heap_up(h, h->n++);
}

static void unpark(struct order *o)
{
	struct park_heap *h = &parked[o->park_heap];
	int i = o->park_idx;
	struct order *last = h->a[--h->n];

	o->park_idx = -1;
	if (last == o)
		return;
	heap_set(h, i, last);
	heap_up(h, i);
	heap_down(h, last->park_idx);
}

/* Builds the request of the order's current step into its connection. */
static void build(struct order *o)
{
	struct conn *c = o->c;
	char body[256], seats[32], path[320], key[80];
	const char *tok = n_tokens ? tokens[o->tok] : NULL;
	int n = (int)(o - orders), len;

	/* the order's seat ids as a JSON array: [s0] or [s0,s1] */
	if (o->nseats == 2)
		snprintf(seats, sizeof(seats), "[%u,%u]", o->seats[0], o->seats[1]);
	else
		snprintf(seats, sizeof(seats), "[%u]", o->seats[0]);
	switch (o->step) {
	case S_HOLD:
		snprintf(body, sizeof(body),
			 "{\"eventId\":%u,\"seatIds\":%s,\"holdSeconds\":%d}",
			 opt.event, seats, opt.hold_seconds);
		len = bench_http_request(c->out, OUT_CAP, "POST",
					 "/api/reservations", &opt.target, tok,
					 NULL, body);
		break;
	case S_ORDER:
		snprintf(body, sizeof(body), "{\"eventId\":%u,\"seatIds\":%s}",
			 opt.event, seats);
		snprintf(key, sizeof(key), "Idempotency-Key: %s-%d\r\n",
			 opt.key_prefix, n);
		len = bench_http_request(c->out, OUT_CAP, "POST", "/api/orders",
					 &opt.target, tok, key, body);
		break;
	case S_AUTH:
		if (opt.mode == M_GATEWAY) {
			snprintf(body, sizeof(body),
				 "{\"orderId\":\"%s-%d\",\"amount\":1000,"
				 "\"currency\":\"EUR\"}",
				 opt.key_prefix, n);
			len = bench_http_request(c->out, OUT_CAP, "POST",
						 "/v1/authorize", &opt.target,
						 NULL, NULL, body);
			break;
		}
		snprintf(body, sizeof(body), "{\"orderId\":\"%s\"}", o->id);
		len = bench_http_request(c->out, OUT_CAP, "POST",
					 "/api/payments/authorize", &opt.target,
					 tok, NULL, body);
		break;
	case S_GET:
		snprintf(path, sizeof(path), "/api/orders/%s", o->id);
		len = bench_http_request(c->out, OUT_CAP, "GET", path,
					 &opt.target, tok, NULL, NULL);
		break;
	case S_JOIN:
		snprintf(path, sizeof(path), "/api/events/%u/room", opt.event);
		len = bench_http_request(c->out, OUT_CAP, "POST", path,
					 &opt.target, tok, NULL, "");
		break;
	case S_STREAM:
		if (!c->sse && !(c->sse = malloc(sizeof(*c->sse))))
			bench_die("%s", "out of memory");
		bench_sse_init(c->sse);
		/* fall through */
	case S_RPOLL:
		snprintf(path, sizeof(path), "/api/events/%u/room%s?ticket=%s",
			 opt.event, o->step == S_STREAM ? "/stream" : "",
			 o->ticket);
		len = bench_http_request(c->out, OUT_CAP, "GET", path,
					 &opt.target, tok,
					 o->step == S_STREAM
						 ? "Accept: text/event-stream\r\n"
						 : NULL,
					 NULL);
		break;
	case S_NEW: /* sessions mode */
		len = bench_http_request(c->out, OUT_CAP, "POST", "/api/sessions",
					 &opt.target, NULL, NULL, "");
		break;
	default:
		len = 0;
	}
	c->out_len = len < 0 ? 0 : len;
	c->out_off = 0;
}

static void fail_order(struct order *o, const char *what, int64_t t);

/* Sends the order's current step (reconnecting first when needed). */
static void send_step(struct order *o, int64_t t)
{
	struct conn *c = o->c;

	build(o);
	o->t_sent = t;
	if (!o->t_first)
		o->t_first = t;
	if (c->fd < 0) {
		st.reconnects++;
		if (open_conn(c) < 0) {
			st.conn_errors++;
			fail_order(o, "connect", t);
			return;
		}
		c->st = C_CONNECTING; /* flushed once connected */
		return;
	}
	c->st = C_BUSY;
	if (flush_out(c) < 0) {
		st.conn_errors++;
		close_conn(c);
		fail_order(o, "connection", t);
	}
}

static void finish_order(struct order *o, enum outcome oc, int64_t t)
{
	struct conn *c = o->c;

	o->outcome = (uint8_t)oc;
	o->step = S_DONE;
	if (o->park_idx >= 0)
		unpark(o);
	if (c) {
		if (c->st == C_BUSY)
			c->st = C_READY;
		o->c = NULL;
		release_conn(c);
	}
	if (oc == O_CONFIRMED || oc == O_CANCELLED || oc == O_GW_OK) {
		int64_t sec = (t - t_start) / 1000000000LL;

		o->t_final = t;
		st.finals++;
		if (t > st.t_last_final)
			st.t_last_final = t;
		if (sec >= 0 && sec < st.n_sec)
			st.per_sec[sec]++;
	}
}

static void fail_order(struct order *o, const char *what, int64_t t)
{
	char key[64];

	snprintf(key, sizeof(key), "%s %s", step_name[o->step], what);
	bench_tally_add(&st.errors, key, 1);
	finish_order(o, O_ERROR, t);
}

/* Next order on the schedule: its seats and session. */
static int setup_order(struct order *o, int n)
{
	uint32_t span = opt.seat_hi - opt.seat_lo + 1;

	o->park_idx = -1;
	o->sched = opt.rate > 0 ? t_start + (int64_t)((double)n * 1e9 / opt.rate) : t_start;
	o->tok = n_tokens ? n % n_tokens : 0;
	o->nseats = (uint8_t)(opt.max_seats > 1 ? 1 + bench_xorshift(&rng) % 2 : 1);
	if (opt.mode != M_ORDERS) {
		o->nseats = 0;
		return 0;
	}
	if (seat_cursor + o->nseats > span)
		o->nseats = (uint8_t)(span - seat_cursor);
	if (o->nseats == 0)
		return -1; /* out of seats */
	for (int i = 0; i < o->nseats; i++)
		o->seats[i] = opt.seat_lo + seat_cursor++;
	return 0;
}

/* ---- answers --------------------------------------------------------- */

static void http_fail(struct order *o, int status, const char *b, int len, int64_t t)
{
	char what[64];

	bench_http_error_what(status, b, len, what, sizeof(what));
	fail_order(o, what, t);
}

/* A 503 or 429 to the step of o: again after Retry-After (ra_s, or a
 * doubling backoff without one), at most --retries times, without
 * holding a connection meanwhile; then the visitor fails with it. */
static void retry_later(struct order *o, enum step step, int status, int ra_s,
			const char *code, int64_t t)
{
	char key[64];
	double delay;

	snprintf(key, sizeof(key), "%s %d%s", step_name[step], status,
		 ra_s >= 0 ? "" : " (no Retry-After)");
	bench_tally_add(&st.refusals, key, 1);
	if (ra_s >= 0)
		st.retry_after_present++;
	else
		st.retry_after_missing++;
	if (o->retries >= opt.retries) {
		char what[64];

		snprintf(what, sizeof(what), "%d %s (after %d retries)", status,
			 code, o->retries);
		o->step = (uint8_t)step;
		fail_order(o, what, t);
		return;
	}
	o->retries++;
	st.retries++;
	delay = ra_s >= 0 ? ra_s : 0.5 * (double)(1u << (o->retries - 1));
	if (delay > opt.retry_cap_s)
		delay = opt.retry_cap_s;
	park(o, t + (int64_t)(delay * 1e9), step, true);
}

/* The ticket of a room answer into o->ticket, URL-encoded. */
static bool take_ticket(struct order *o, const char *b, int len)
{
	char raw[160], *w = o->ticket;

	if (!bench_json_str(b, len, "ticket", raw, sizeof(raw)) || !raw[0])
		return false;
	for (const char *p = raw; *p; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~", ch))
			*w++ = (char)ch;
		else
			w += sprintf(w, "%%%02X", ch);
	}
	*w = '\0';
	return true;
}

/* Allowed to buy from t on: the hold is next. */
static void room_admit(struct order *o, enum room_state how, int64_t t)
{
	o->room = (uint8_t)how;
	o->t_admit = t;
	if (how == R_ADMITTED) {
		st.admitted++;
		bench_hist_add(&st.room_wait, (t - o->sched) / 1000);
	}
	o->step = S_HOLD;
	send_step(o, t);
}

/* Waiting: the SSE stream while fewer than --streams visitors have one,
 * else a poll after --room-poll-ms. */
static void room_wait(struct order *o, int64_t t)
{
	o->t_update = t;
	if (!o->streamed && st.streams_now < opt.streams) {
		o->streamed = true;
		st.streams_opened++;
		if (++st.streams_now > st.streams_max)
			st.streams_max = st.streams_now;
		o->step = S_STREAM;
		send_step(o, t);
		return;
	}
	park(o, t + (int64_t)opt.room_poll_ms * 1000000LL, S_RPOLL, true);
}

/* The room's answer to a join or a poll. */
static void on_room_answer(struct order *o, int status, const char *b, int len,
			   int64_t t)
{
	char state[16];

	if (status != 200 || !bench_json_str(b, len, "state", state, sizeof(state)))
		{ http_fail(o, status, b, len, t); return; }
	if (o->step == S_RPOLL) {
		st.polls++;
		bench_hist_add(&st.poll_gap, (t - o->t_update) / 1000);
	}
	if (o->step == S_JOIN) {
		char key[32];

		snprintf(key, sizeof(key), "join %s", state);
		bench_tally_add(&st.room_answers, key, 1);
	}
	if (!strcmp(state, "open")) {
		room_admit(o, R_OPEN, t);
	} else if (!strcmp(state, "admitted")) {
		room_admit(o, R_ADMITTED, t);
	} else if (!strcmp(state, "waiting") &&
		   (o->ticket[0] || take_ticket(o, b, len))) {
		o->room = R_WAITING;
		room_wait(o, t);
	} else {
		char what[48];

		snprintf(what, sizeof(what), "state %s", state);
		fail_order(o, what, t);
	}
}

/* ---- the SSE stream of a waiting visitor -------------------------------- */

struct stream_read {
	struct order *o;
	int64_t t;
	bool admitted;
};

static void on_stream_event(void *ctx, const char *event, const char *data)
{
	struct stream_read *r = ctx;
	struct order *o = r->o;

	(void)data;
	if (r->admitted)
		return;
	if (!strcmp(event, "position") || !strcmp(event, "admitted")) {
		st.position_updates++;
		bench_hist_add(&st.pos_gap, (r->t - o->t_update) / 1000);
		o->t_update = r->t;
		o->t_sent = r->t; /* the timeout counts from the last update */
	}
	if (!strcmp(event, "admitted"))
		r->admitted = true;
}

/* The stream is over (admitted, ended, refused or broken): its
 * connection closes, the visitor buys, polls or retries. */
static void stream_over(struct conn *c, struct order *o, bool admitted, int64_t t)
{
	const struct bench_sse *s = c->sse;

	st.streams_now--;
	close_conn(c);
	c->o = o; /* the visitor keeps the connection: it reconnects */
	if (admitted) {
		room_admit(o, R_ADMITTED, t);
	} else if (s && (s->head.status == 503 || s->head.status == 429)) {
		retry_later(o, S_RPOLL, s->head.status, s->head.retry_after_s,
			    "-", t);
	} else if (s && s->phase == BENCH_SSE_ENDED && s->head.status != 200) {
		char what[32];

		snprintf(what, sizeof(what), "%d", s->head.status);
		fail_order(o, what, t);
	} else { /* ended or broke before admission: poll instead */
		st.stream_fallbacks++;
		park(o, t + (int64_t)opt.room_poll_ms * 1000000LL, S_RPOLL, true);
	}
}

/* Bytes of the stream in c->in. Returns -1 when the stream is over. */
static int stream_bytes(struct conn *c, int64_t t)
{
	struct stream_read r = {.o = c->o, .t = t};
	enum bench_sse_phase ph;

	ph = bench_sse_feed(c->sse, c->in, (size_t)c->in_len, on_stream_event, &r);
	c->in_len = 0;
	if (r.admitted || ph == BENCH_SSE_ENDED || ph == BENCH_SSE_BROKEN) {
		stream_over(c, r.o, r.admitted, t);
		return -1;
	}
	return 0;
}

static FILE *tokens_out;

/* One complete answer for the order bound to c. */
static void on_answer(struct conn *c, const struct bench_http_answer *a,
		      const char *b, int64_t t)
{
	struct order *o = c->o;
	int64_t us = (t - o->t_sent) / 1000;
	int status = a->status, len = a->body_len;

	if (c->fd >= 0)
		c->st = C_READY;
	if ((status == 503 || status == 429) && o->step != S_NEW) {
		char code[40];

		if (!bench_json_str(b, len, "code", code, sizeof(code)))
			snprintf(code, sizeof(code), "-");
		retry_later(o, (enum step)o->step, status, a->retry_after_s, code, t);
		return;
	}
	switch (o->step) {
	case S_JOIN:
	case S_RPOLL:
		on_room_answer(o, status, b, len, t);
		return;
	case S_NEW: { /* a session */
		char tok[40];

		if (status == 201 && bench_json_str(b, len, "token", tok, sizeof(tok))) {
			fprintf(tokens_out, "%s\n", tok);
			finish_order(o, O_GW_OK, t);
		} else {
			http_fail(o, status, b, len, t);
		}
		return;
	}
	case S_HOLD:
		bench_hist_add(&st.hold, us);
		o->hold_us = (int32_t)us;
		if (status != 201)
			{ http_fail(o, status, b, len, t); return; }
		o->step = S_ORDER;
		{ send_step(o, t); return; }
	case S_ORDER:
		bench_hist_add(&st.order, us);
		o->order_us = (int32_t)us;
		if (status != 201 || !bench_json_str(b, len, "orderId", o->id, sizeof(o->id)))
			{ http_fail(o, status, b, len, t); return; }
		st.created++;
		o->step = S_AUTH;
		{ send_step(o, t); return; }
	case S_AUTH:
		if (opt.mode == M_GATEWAY) {
			bench_hist_add(&st.gw_latency, (t - o->sched) / 1000);
			bench_hist_add(&st.gw_service, us);
			o->auth_us = (int32_t)us;
			if (status != 200)
				{ http_fail(o, status, b, len, t); return; }
			bench_json_str(b, len, "status", o->auth, sizeof(o->auth));
			bench_tally_add(&st.auth_status, o->auth, 1);
			{ finish_order(o, O_GW_OK, t); return; }
		}
		bench_hist_add(&st.auth, us);
		o->auth_us = (int32_t)us;
		o->t_auth_sent = o->t_sent;
		if (status != 200)
			{ http_fail(o, status, b, len, t); return; }
		{
			char s[16], r[32], k[56];

			bench_json_str(b, len, "status", s, sizeof(s));
			snprintf(o->auth, sizeof(o->auth), "%s", s);
			if (bench_json_str(b, len, "reason", r, sizeof(r)))
				snprintf(k, sizeof(k), "%s %s", s, r);
			else
				snprintf(k, sizeof(k), "%s", s);
			bench_tally_add(&st.auth_status, k, 1);
		}
		o->step = S_GET;
		{ send_step(o, t); return; }
	case S_GET:
		bench_hist_add(&st.get, us);
		st.gets++;
		o->gets++;
		if (status != 200)
			{ http_fail(o, status, b, len, t); return; }
		bench_json_str(b, len, "status", o->status, sizeof(o->status));
		if (!strcmp(o->status, "PENDING")) {
			if ((t - o->t_auth_sent) / 1000000 > opt.final_timeout_ms) {
				bench_tally_add(&st.final, "PENDING (not final in time)", 1);
				{ finish_order(o, O_NOT_FINAL, t); return; }
			}
			park(o, t + (int64_t)opt.poll_ms * 1000000LL, S_GET, false);
			return;
		}
		{
			char k[64];
			bool confirmed = !strcmp(o->status, "CONFIRMED");

			if (!confirmed)
				bench_json_str(b, len, "reason", o->reason, sizeof(o->reason));
			snprintf(k, sizeof(k), "%s%s%s", o->status, confirmed ? "" : " ",
				 confirmed ? "" : o->reason);
			bench_tally_add(&st.final, k, 1);
			bench_hist_add(&st.auth_to_final, (t - o->t_auth_sent) / 1000);
			bench_hist_add(&st.e2e, (t - o->sched) / 1000);
			bench_hist_add(&st.admitted_e2e, (t - o->t_admit) / 1000);
			if (confirmed)
				st.seats_confirmed += o->nseats;
			else
				st.seats_cancelled += o->nseats;
			if (confirmed != !strcmp(o->auth, "APPROVED")) {
				snprintf(k, sizeof(k), "authorize %s, order %s", o->auth,
					 o->status);
				bench_tally_add(&st.mismatch, k, 1);
			}
			{ finish_order(o, confirmed ? O_CONFIRMED : O_CANCELLED, t); return; }
		}
	default:
		st.parse_errors++;
	}
}

static int on_readable(struct conn *c)
{
	for (;;) {
		int got = bench_recv_more(c->fd, c->in, &c->in_len, IN_CAP);

		if (got <= 0)
			return got;
		if (c->o && c->o->step == S_STREAM && c->st == C_BUSY) {
			if (stream_bytes(c, now_ns()) < 0)
				return 0;
			continue;
		}
		for (;;) {
			struct bench_http_answer a;
			int used;
			int64_t t;

			if (!c->in_len)
				break;
			if (c->st != C_BUSY || !c->o) {
				st.parse_errors++; /* bytes nobody asked for */
				return -1;
			}
			used = bench_http_answer(c->in, c->in_len, IN_CAP, &a);
			if (used == 0)
				break;
			if (used < 0) {
				st.parse_errors++;
				return -1;
			}
			t = now_ns();
			{
				char copy[IN_CAP];

				memcpy(copy, c->in + a.body_off, (size_t)a.body_len);
				memmove(c->in, c->in + used, (size_t)(c->in_len - used));
				c->in_len -= used;
				if (a.close_after) {
					/* answer handled on a fresh connection */
					struct order *o = c->o;

					close_conn(c);
					c->o = o;
				}
				on_answer(c, &a, copy, t);
			}
			if (c->fd < 0)
				return 0;
		}
	}
}

/* ---- CPU ------------------------------------------------------------- */

struct thread_cpu {
	int tid;
	char comm[32];
	double s0, s1;
};

static struct thread_cpu *threads;
static int n_threads;

static void threads_sample(int pid, bool first)
{
	char dir[64], path[128];
	DIR *d;
	struct dirent *e;

	snprintf(dir, sizeof(dir), "/proc/%d/task", pid);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		int tid = atoi(e->d_name);
		char comm[32];
		double s;
		int i;

		if (tid <= 0)
			continue;
		snprintf(path, sizeof(path), "%s/%d/stat", dir, tid);
		s = bench_stat_cpu_s(path, comm, sizeof(comm));
		if (s < 0)
			continue;
		for (i = 0; i < n_threads && threads[i].tid != tid; i++)
			;
		if (i == n_threads) {
			struct thread_cpu *nt = realloc(threads, (size_t)(n_threads + 1) * sizeof(*nt));

			if (!nt)
				break;
			threads = nt;
			threads[i].tid = tid;
			snprintf(threads[i].comm, sizeof(threads[i].comm), "%s", comm);
			threads[i].s0 = first ? s : 0;
			threads[i].s1 = s;
			n_threads++;
		} else {
			threads[i].s1 = s;
		}
		if (first)
			threads[i].s0 = s;
	}
	closedir(d);
}

static int cmp_thread(const void *a, const void *b)
{
	const struct thread_cpu *x = a, *y = b;
	double dx = x->s1 - x->s0, dy = y->s1 - y->s0;

	return dx < dy ? 1 : dx > dy ? -1 : 0;
}

/* ---- what a thread is doing: /proc/<tid>/syscall every 10 ms ----------------
 * "running" (on a CPU), or the system call it blocks in; poll() with its
 * timeout (libmariadb waits for the server in poll with no timeout, curl's
 * multi loop in poll with a timeout of at most 20 ms here). */

#define WATCH_STATES 24
#define WATCH_EVERY_NS 10000000LL

static struct {
	struct bench_tally states;
	uint64_t samples;
} watch[MAX_WATCH];
static int64_t next_watch;

static const char *syscall_name(long nr)
{
	switch (nr) {
	case 0: return "read";
	case 1: return "write";
	case 7: return "poll";
	case 23: return "select";
	case 35: return "nanosleep";
	case 44: return "sendto";
	case 45: return "recvfrom";
	case 46: return "sendmsg";
	case 47: return "recvmsg";
	case 74: return "fsync";
	case 202: return "futex";
	case 230: return "clock_nanosleep";
	case 232: return "epoll_wait";
	case 270: return "pselect6";
	case 271: return "ppoll";
	case 281: return "epoll_pwait";
	case 441: return "epoll_pwait2";
	default: return NULL;
	}
}

static void watch_sample(void)
{
	for (int i = 0; i < opt.watched.n; i++) {
		char path[96], buf[256], key[64];
		FILE *f;
		long nr;
		unsigned long a[6] = {0};
		int k;

		if (opt.threads_of)
			snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall",
				 opt.threads_of, opt.watched.id[i]);
		else
			snprintf(path, sizeof(path), "/proc/%d/syscall", opt.watched.id[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		k = fgets(buf, sizeof(buf), f) ? 1 : 0;
		fclose(f);
		if (!k)
			continue;
		watch[i].samples++;
		if (!strncmp(buf, "running", 7)) {
			bench_tally_add(&watch[i].states, "running", 1);
			continue;
		}
		if (sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2],
			   &a[3], &a[4], &a[5]) < 1) {
			bench_tally_add(&watch[i].states, "?", 1);
			continue;
		}
		if (nr == 7)
			snprintf(key, sizeof(key), "poll timeout %d ms", (int)(int32_t)a[2]);
		else if (syscall_name(nr))
			snprintf(key, sizeof(key), "%s", syscall_name(nr));
		else
			snprintf(key, sizeof(key), "syscall %ld", nr);
		bench_tally_add(&watch[i].states, key, 1);
	}
}

/* ---- paymentd's log: orderId -> delayMs ----------------------------------- */

struct gw_entry {
	char *id;
	int delay_ms;
};

static struct gw_entry *gw_map;
static size_t gw_cap;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct gw_entry *gw_slot(const char *id)
{
	size_t i = hash_str(id) & (gw_cap - 1);

	while (gw_map[i].id && strcmp(gw_map[i].id, id))
		i = (i + 1) & (gw_cap - 1);
	return &gw_map[i];
}

/* Reads the orders of interest from paymentd's log; the first decision of
 * an order (not a replay) carries its delay. */
static void gw_load(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	gw_cap = 1;
	while (gw_cap < (size_t)n_orders * 2 + 16)
		gw_cap <<= 1;
	gw_map = calloc(gw_cap, sizeof(*gw_map));
	if (!gw_map)
		bench_die("%s", "out of memory");
	/* the keys: this run's order ids */
	for (int i = 0; i < n_orders; i++) {
		char idbuf[64];
		struct gw_entry *e;

		if (opt.mode == M_GATEWAY)
			snprintf(idbuf, sizeof(idbuf), "%s-%d", opt.key_prefix, i);
		else if (orders[i].id[0])
			snprintf(idbuf, sizeof(idbuf), "%s", orders[i].id);
		else
			continue;
		e = gw_slot(idbuf);
		if (!e->id) {
			e->id = strdup(idbuf);
			e->delay_ms = -1;
		}
	}
	if (!f) {
		fprintf(stderr, "orders_load: cannot read the gateway log %s\n", path);
		return;
	}
	while (getline(&line, &cap, f) > 0) {
		char id[64], *p;
		struct gw_entry *e;
		int len = (int)strlen(line);

		if (!strstr(line, "\"msg\":\"authorize\"") || strstr(line, "\"replay\":true"))
			continue;
		if (!bench_json_str(line, len, "orderId", id, sizeof(id)))
			continue;
		p = strstr(line, "\"delayMs\":");
		if (!p)
			continue;
		e = gw_slot(id);
		if (e->id && e->delay_ms < 0)
			e->delay_ms = atoi(p + 10);
	}
	free(line);
	fclose(f);
}

static int gw_delay(const struct order *o)
{
	char idbuf[64];
	struct gw_entry *e;

	if (opt.mode == M_GATEWAY)
		snprintf(idbuf, sizeof(idbuf), "%s-%d", opt.key_prefix, (int)(o - orders));
	else
		snprintf(idbuf, sizeof(idbuf), "%s", o->id);
	e = gw_slot(idbuf);
	return e->id ? e->delay_ms : -1;
}

/* ---- set-up ---------------------------------------------------------- */


/* Adds "NAME=ID" to l (at most cap); the '=' is the first one, or the
 * last one when last (thread names may hold '='). */
static int add_named_id(struct named_ids *l, int cap, const char *arg,
			bool last)
{
	const char *eq = last ? strrchr(arg, '=') : strchr(arg, '=');
	double v;

	if (l->n >= cap || !eq || eq == arg ||
	    (size_t)(eq - arg) >= sizeof(l->name[0]) ||
	    bench_parse_double(eq + 1, 1, 1 << 22, &v) < 0 || v != (int)v)
		return -1;
	snprintf(l->name[l->n], sizeof(l->name[0]), "%.*s", (int)(eq - arg),
		 arg);
	l->id[l->n++] = (int)v;
	return 0;
}

static int parse_pid(const char *arg, void *settings)
{
	struct orders_opts *o = settings;

	return add_named_id(&o->pids, MAX_PIDS, arg, false);
}

static int parse_watch(const char *arg, void *settings)
{
	struct orders_opts *o = settings;

	return add_named_id(&o->watched, MAX_WATCH, arg, true);
}

#define BENCH_OPTS_TYPE struct orders_opts

static const char *const modes[] = {"orders", "gateway", "sessions", NULL};

static const struct bench_opt options[] = {
	BOPT(CHOICE, "mode", mode, .choices = modes, .def = "orders",
	     .help = "purchases against ticketd, the same\n"
		     "schedule against paymentd, or sessions"),
	BOPT(ENDPOINT, "target", target, .lo = 8080, .arg = "HOST:PORT",
	     .def = "127.0.0.1:8080",
	     .help = "ticketd, or paymentd for --mode gateway"),
	BOPT_TOKENS(tokens_path, "\n(required for --mode orders)"),
	BOPT_EVENT(event),
	BOPT_SEATS(seat_lo, seat_hi, "0-99", "the seats orders take in turn"),
	BOPT(INT, "max-seats", max_seats, .lo = 1, .hi = 2, .arg = "1|2",
	     .def = "2", .help = "seats per order at most"),
	BOPT(DOUBLE, "rate", rate, .lo = 0.001, .hi = 100000,
	     .arg = "ORDERS_PER_S", .def = "100", .help = "offered orders/s"),
	BOPT(DOUBLE, "duration", duration, .lo = 0.001, .hi = 600, .arg = "S",
	     .def = "10", .help = "offered window"),
	BOPT(INT, "count", count, .lo = 1, .hi = MAX_ORDERS, .arg = "N",
	     .def = "100",
	     .help = "--mode sessions: how many; --closed:\npurchases at most"),
	BOPT(INT, "conns", conns, .lo = 1, .hi = MAX_CONNS, .arg = "N",
	     .def = "1000", .help = "keep-alive connections"),
	BOPT(INT, "hold-seconds", hold_seconds, .lo = 1, .hi = 86400,
	     .arg = "S", .def = "120", .help = "holdSeconds of the holds"),
	BOPT(INT, "poll-ms", poll_ms, .lo = 1, .hi = 60000, .arg = "MS",
	     .def = "20", .help = "GET again while PENDING"),
	BOPT(INT, "final-timeout-ms", final_timeout_ms, .lo = 1, .hi = 600000,
	     .arg = "MS", .def = "10000",
	     .help = "not final this long after authorize:\n"
		     "counted as such"),
	BOPT(INT, "timeout-ms", timeout_ms, .lo = 100, .hi = 600000,
	     .arg = "MS", .def = "15000",
	     .help = "a request unanswered this long is an\nerror"),
	BOPT(DOUBLE, "drain", drain_s, .lo = 0, .hi = 600, .arg = "S",
	     .def = "20", .help = "orders in flight may end this long after\n"
				  "the window"),
	BOPT(DOUBLE, "steady-skip", steady_skip_s, .lo = 0, .hi = 600,
	     .arg = "S", .def = "2",
	     .help = "first seconds left out of \"sustained\""),
	BOPT(STR, "key-prefix", key_prefix, .arg = "STR", .def = "ob",
	     .help = "Idempotency-Key prefix, 40 at most"),
	BOPT(STR, "gateway-log", gateway_log, .arg = "FILE",
	     .help = "paymentd's JSON log, read after the run"),
	BOPT(STR, "orders-log", orders_log, .arg = "FILE",
	     .help = "writes one CSV line per order"),
	BOPT(U32, "seed", seed, .lo = 0, .hi = UINT32_MAX, .arg = "N",
	     .def = "1", .help = "seat count seed"),
	BOPT(FUNC, "pid", pids, .parse = parse_pid, .arg = "NAME=PID",
	     .help = "CPU seconds of this process (repeatable)"),
	BOPT(INT, "threads-of", threads_of, .lo = 1, .hi = 1 << 22,
	     .arg = "PID", .help = "CPU per thread of this process (top 8)"),
	BOPT(FUNC, "watch", watched, .parse = parse_watch, .arg = "NAME=TID",
	     .help = "what this thread is doing every 10 ms\n"
		     "(repeatable)"),
	BOPT(DOUBLE, "start-grace", start_grace_s, .lo = 0, .hi = 600,
	     .arg = "S", .def = "1",
	     .help = "no order starts later than this after\nthe window"),
	BOPT(FLAG, "room", room,
	     .help = "join the event's waiting room first"),
	BOPT(INT, "room-poll-ms", room_poll_ms, .lo = 10, .hi = 60000,
	     .arg = "MS", .def = "500",
	     .help = "a waiting visitor without a stream polls\nthis often"),
	BOPT(INT, "streams", streams, .lo = 0, .hi = MAX_CONNS, .arg = "N",
	     .def = "1000",
	     .help = "waiting visitors on an SSE stream at once,\nat most"),
	BOPT(INT, "retries", retries, .lo = 0, .hi = 20, .arg = "N",
	     .def = "3", .help = "per visitor, after a 503 or 429"),
	BOPT(DOUBLE, "retry-cap", retry_cap_s, .lo = 0, .hi = 600, .arg = "S",
	     .def = "10", .help = "the longest wait before a retry"),
	BOPT(FLAG, "closed", closed,
	     .help = "closed loop: --conns purchases in flight,\n"
		     "--count at most (the capacity)"),
	BENCH_OPTS_END,
};

static void parse_args(int argc, char **argv)
{
	bench_opts_parse(options, &opt, "usage: orders_load [options]", argc,
			 argv);
	if (strlen(opt.key_prefix) > 40)
		bench_die("--key-prefix is 40 characters at most");
	if (opt.mode == M_SESSIONS) {
		opt.rate = 0; /* as fast as the connections answer */
		opt.duration = 0;
	} else if (!opt.closed && opt.rate * opt.duration > MAX_ORDERS) {
		bench_die("--rate x --duration is %d orders at most", MAX_ORDERS);
	}
	if (opt.mode == M_ORDERS && !opt.tokens_path)
		bench_die("--mode orders needs --tokens");
	if ((opt.room || opt.closed) && opt.mode != M_ORDERS)
		bench_die("--room and --closed are for --mode orders");
	if (opt.closed) {
		opt.start_grace_s = 0; /* nothing starts after the window */
		opt.rate = 0;
	}
}

/* ---- the run ----------------------------------------------------------- */

static void on_connected(struct conn *c, int64_t t)
{
	c->st = C_READY;
	want_write(c, false);
	if (c->o && c->out_len > c->out_off) { /* a step waiting for this connect */
		c->st = C_BUSY;
		if (flush_out(c) < 0) {
			st.conn_errors++;
			close_conn(c);
			fail_order(c->o, "connection", t);
		}
	}
}

static void broken(struct conn *c, int64_t t)
{
	struct order *o = c->o;
	bool waiting = o && c->st != C_READY;

	if (o && o->step == S_STREAM && c->st == C_BUSY) {
		stream_over(c, o, false, t);
		return;
	}
	close_conn(c);
	if (o && waiting) {
		st.conn_errors++;
		fail_order(o, "connection", t);
	}
	/* a parked order keeps its (closed) connection: its next GET reconnects */
}

/* bench_await_connects: a connection opened before the run is ready */
static bool first_connect(void *ptr, uint32_t events, void *ctx)
{
	struct conn *c = ptr;

	if (c->st != C_CONNECTING)
		return false;
	if (!bench_tcp_connected(c->fd, events)) {
		st.conn_errors++;
		close_conn(c);
		return true;
	}
	c->st = C_READY;
	want_write(c, false);
	return true;
}

static void run(void)
{
	struct epoll_event evs[512];
	int next = 0, opened = 0;
	int64_t last_scan = 0;

	/* every connection open before the clock starts */
	for (int i = 0; i < opt.conns; i++) {
		if (open_conn(&conns[i]) < 0)
			st.conn_errors++;
		else
			opened++;
	}
	bench_await_connects(epfd, opened, 20000, first_connect, NULL);
	t_start = now_ns() + 20000000LL;
	t_end = opt.mode == M_SESSIONS ? t_start
				      : t_start + (int64_t)(opt.duration * 1e9);
	for (int i = 0; i < n_orders; i++)
		if (setup_order(&orders[i], i) < 0) {
			n_orders = i; /* out of seats: fewer orders (reported) */
			break;
		}
	while (now_ns() < t_start)
		;
	for (;;) {
		int64_t t = now_ns(), wait_ns = 50000000LL;
		int n;

		if (opt.watched.n && t >= next_watch) {
			watch_sample();
			next_watch = t + WATCH_EVERY_NS;
		}
		if (opt.watched.n && next_watch - t < wait_ns)
			wait_ns = next_watch - t > 0 ? next_watch - t : 0;
		/* start what is due while a connection is free; nothing starts
		 * later than start_grace after the offered window (what is left
		 * then is counted as never started) */
		while (next < n_orders && orders[next].sched <= t && n_free > 0 &&
		       (opt.mode == M_SESSIONS ||
			t < t_end + (int64_t)(opt.start_grace_s * 1e9))) {
			struct order *o = &orders[next++];
			struct conn *c = &conns[free_stack[--n_free]];

			o->c = c;
			c->o = o;
			active++;
			if (opt.closed)
				o->sched = t; /* as soon as a connection is free */
			o->t_admit = o->sched;
			o->step = opt.mode == M_ORDERS	   ? (opt.room ? S_JOIN : S_HOLD)
				  : opt.mode == M_GATEWAY ? S_AUTH
							  : S_NEW;
			send_step(o, t);
			bench_hist_add(&st.start_lag, (t - o->sched) / 1000);
		}
		/* polls that are due: on their own connection, or on a
		 * free one (a visitor in the room, a retry) while any is */
		for (int h = 0; h < 2; h++) {
			struct park_heap *ph = &parked[h];

			while (ph->n && ph->a[0]->next_poll <= t && (h == 0 || n_free > 0)) {
				struct order *o = ph->a[0];

				if (!o->c) {
					struct conn *c = &conns[free_stack[--n_free]];

					o->c = c;
					c->o = o;
					active++;
				}
				unpark(o);
				o->step = o->resume;
				send_step(o, t);
			}
			if (ph->n && ph->a[0]->next_poll > t && ph->a[0]->next_poll - t < wait_ns)
				wait_ns = ph->a[0]->next_poll - t;
		}
		/* unanswered requests */
		if (t - last_scan > 50000000LL) {
			last_scan = t;
			for (int i = 0; i < opt.conns; i++) {
				struct conn *c = &conns[i];

				if (c->o && (c->st == C_BUSY || c->st == C_CONNECTING) &&
				    t - c->o->t_sent > (int64_t)opt.timeout_ms * 1000000LL) {
					struct order *o = c->o;

					st.timeouts++;
					if (o->step == S_STREAM && c->st == C_BUSY) {
						stream_over(c, o, false, t);
						continue;
					}
					close_conn(c);
					fail_order(o, "timeout", t);
				}
			}
		}
		if (active == 0 && n_parked() == 0 &&
		    (next >= n_orders ||
		     (opt.mode != M_SESSIONS &&
		      t >= t_end + (int64_t)(opt.start_grace_s * 1e9))))
			break;
		if (t > t_end + (int64_t)(opt.drain_s * 1e9))
			break;
		if (next < n_orders && n_free > 0) {
			int64_t d = orders[next].sched - t;

			if (d < wait_ns)
				wait_ns = d < 0 ? 0 : d;
		}
		n = bench_epoll_wait_ns(epfd, evs, 512, wait_ns);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int64_t tn = now_ns();

			if (c->fd < 0)
				continue;
			if (c->st == C_CONNECTING) {
				if (!bench_tcp_connected(c->fd, evs[i].events)) {
					broken(c, tn);
					continue;
				}
				on_connected(c, tn);
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (flush_out(c) < 0) {
					broken(c, tn);
					continue;
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				if (on_readable(c) < 0)
					broken(c, now_ns());
			}
		}
	}
	/* what never started or never ended */
	st.not_started = (uint64_t)(n_orders - next);
	for (int i = 0; i < next; i++) {
		struct order *o = &orders[i];

		if (o->room == R_WAITING && o->step != S_DONE &&
		    (o->step == S_STREAM ||
		     (o->step == S_PARKED && o->resume == S_RPOLL))) {
			st.still_waiting++; /* the room's queue, not an error */
			o->outcome = O_UNFINISHED;
			continue;
		}
		if (o->step != S_DONE) {
			char key[64];

			snprintf(key, sizeof(key), "%s unfinished at the end of the drain",
				 step_name[o->step]);
			bench_tally_add(&st.errors, key, 1);
			o->outcome = O_UNFINISHED;
		}
	}
	for (int i = 0; i < opt.conns; i++)
		close_conn(&conns[i]);
}

static void write_orders_log(void)
{
	FILE *f = fopen(opt.orders_log, "w");

	if (!f)
		bench_die("cannot write %s", opt.orders_log);
	fprintf(f, "n,sched_ms,seats,order_id,hold_us,order_us,auth_us,auth_status,"
		   "final_status,reason,gets,auth_to_final_us,e2e_us,gateway_delay_ms,outcome,"
		   "room,room_wait_us,admitted_e2e_us,retries\n");
	for (int i = 0; i < n_orders; i++) {
		struct order *o = &orders[i];

		fprintf(f, "%d,%.3f,%d,%s,%d,%d,%d,%s,%s,%s,%d,%lld,%lld,%d,%d,%d,%lld,%lld,%d\n", i,
			(double)(o->sched - t_start) / 1e6, o->nseats, o->id, o->hold_us,
			o->order_us, o->auth_us, o->auth, o->status, o->reason, o->gets,
			o->t_final && o->t_auth_sent ? (long long)((o->t_final - o->t_auth_sent) / 1000) : -1LL,
			o->t_final ? (long long)((o->t_final - o->sched) / 1000) : -1LL,
			gw_map ? gw_delay(o) : -1, o->outcome, o->room,
			o->room == R_ADMITTED ? (long long)((o->t_admit - o->sched) / 1000) : -1LL,
			o->t_final && o->t_admit ? (long long)((o->t_final - o->t_admit) / 1000) : -1LL,
			o->retries);
	}
	fclose(f);
}

/* The CPU readings around the run: this process and the machine, the
 * --pid processes into pid_s[], the threads of --threads-of. */
static void read_cpu(struct bench_cpu_reading *r, double *pid_s, bool first)
{
	bench_cpu_read(r, 0);
	for (int i = 0; i < opt.pids.n; i++)
		pid_s[i] = bench_pid_cpu_s(opt.pids.id[i]);
	if (opt.threads_of)
		threads_sample(opt.threads_of, first);
}

static void print_per_sec(FILE *f, int64_t t_stop)
{
	int secs = (int)((t_stop - t_start + 999999999LL) / 1000000000LL);

	if (secs > st.n_sec)
		secs = st.n_sec;
	fprintf(f, "\"completed_per_second\":[");
	for (int i = 0; i < secs; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)st.per_sec[i]);
	fprintf(f, "]");
}

int main(int argc, char **argv)
{
	double cpu0[MAX_PIDS], cpu1[MAX_PIDS];
	struct bench_cpu_reading r0, r1;
	int64_t t_stop;
	FILE *o = stdout;

	bench_prog = "orders_load";
	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	bench_raise_nofile();
	if (opt.tokens_path &&
	    !(tokens = bench_load_tokens_hex(opt.tokens_path, &n_tokens)))
		exit(2);
	rng ^= (uint64_t)opt.seed * 0x2545F4914F6CDD1DULL;
	if (!rng)
		rng = 1;
	n_orders = opt.mode == M_SESSIONS || opt.closed
			   ? opt.count
			   : (int)(opt.rate * opt.duration + 0.5);
	if (opt.room && n_tokens < n_orders)
		bench_err("--room: %d sessions for %d visitors: a session joins once per "
			  "event, so a reused one finds its place (or admission) again",
			  n_tokens, n_orders);
	if (opt.conns > n_orders)
		opt.conns = n_orders;
	orders = calloc((size_t)n_orders, sizeof(*orders));
	conns = calloc((size_t)opt.conns, sizeof(*conns));
	free_stack = calloc((size_t)opt.conns, sizeof(int));
	parked[0].a = calloc((size_t)n_orders + 1, sizeof(*parked[0].a));
	parked[1].a = calloc((size_t)n_orders + 1, sizeof(*parked[1].a));
	st.n_sec = (int)(opt.duration + opt.drain_s) + 4;
	st.per_sec = calloc((size_t)st.n_sec, sizeof(uint64_t));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!orders || !conns || !free_stack || !parked[0].a || !parked[1].a || !st.per_sec || epfd < 0)
		bench_die("%s", "out of resources");
	for (int i = 0; i < opt.conns; i++) {
		conns[i].fd = -1;
		conns[i].idx = i;
		free_stack[n_free++] = opt.conns - 1 - i;
	}
	tokens_out = stdout;

	read_cpu(&r0, cpu0, true);
	run();
	t_stop = now_ns();
	read_cpu(&r1, cpu1, false);

	if (opt.mode == M_SESSIONS) {
		fflush(stdout);
		if (st.finals != (uint64_t)n_orders) {
			fprintf(stderr, "orders_load: %llu of %d sessions created; errors: ",
				(unsigned long long)st.finals, n_orders);
			bench_tally_json(stderr, "errors", &st.errors);
			fprintf(stderr, "\n");
			return 1;
		}
		return 0;
	}

	if (opt.gateway_log) {
		gw_load(opt.gateway_log);
		for (int i = 0; i < n_orders; i++) {
			struct order *od = &orders[i];
			int d;

			if (!od->auth[0] || !od->auth_us)
				continue; /* no authorize answer */
			d = gw_delay(od);
			if (d < 0) {
				st.gw_log_missing++;
				continue;
			}
			st.gw_log_found++;
			bench_hist_add(&st.gw_delay, (int64_t)d * 1000);
			if (opt.mode == M_GATEWAY)
				bench_hist_add(&st.gw_minus_delay, od->auth_us - (int64_t)d * 1000);
			else
				bench_hist_add(&st.auth_minus_delay, od->auth_us - (int64_t)d * 1000);
		}
	}
	if (opt.orders_log)
		write_orders_log();

	/* sustained: completions in the steady part of the schedule window */
	double secs = opt.duration;
	double skip = opt.steady_skip_s < secs / 2 ? opt.steady_skip_s : 0;
	uint64_t in_window = 0, min_sec = UINT64_MAX, max_sec = 0;
	int from = (int)skip, to = (int)secs; /* whole seconds [from, to) */

	for (int i = from; i < to && i < st.n_sec; i++) {
		in_window += st.per_sec[i];
		if (st.per_sec[i] < min_sec)
			min_sec = st.per_sec[i];
		if (st.per_sec[i] > max_sec)
			max_sec = st.per_sec[i];
	}
	if (min_sec == UINT64_MAX)
		min_sec = 0;
	double client_cpu = r1.self_user_s + r1.self_sys_s - r0.self_user_s -
			    r0.self_sys_s;
	double wall = (double)(t_stop - t_start) / 1e9;
	double host_busy = bench_host_busy_pct(&r0.host, &r1.host);
	uint64_t started = (uint64_t)n_orders - st.not_started;

	fprintf(o, "{\"mode\":\"%s\",\"target\":\"%s:%d\",\"event\":%u,\"seats\":\"%u-%u\","
		   "\"rate\":%.1f,\"duration_s\":%.3f,\"conns\":%d,\"tokens\":%d,"
		   "\"poll_ms\":%d,\"offered\":%d,\"started\":%llu,\"not_started\":%llu,"
		   "\"wall_s\":%.3f,",
		opt.mode == M_ORDERS ? "orders" : "gateway", opt.target.host, opt.target.port, opt.event,
		opt.seat_lo, opt.seat_hi, opt.rate, secs, opt.conns, n_tokens, opt.poll_ms,
		n_orders, (unsigned long long)started, (unsigned long long)st.not_started,
		wall);
	fprintf(o, "\"completed\":%llu,\"completed_per_s\":%.1f,"
		   "\"sustained\":{\"window_s\":[%d,%d],\"completed\":%llu,\"per_s\":%.1f,"
		   "\"min_second\":%llu,\"max_second\":%llu},",
		(unsigned long long)st.finals,
		st.t_last_final > t_start
			? (double)st.finals / ((double)(st.t_last_final - t_start) / 1e9)
			: 0.0,
		from, to, (unsigned long long)in_window,
		to > from ? (double)in_window / (double)(to - from) : 0.0,
		(unsigned long long)min_sec, (unsigned long long)max_sec);
	print_per_sec(o, t_stop);
	fprintf(o, ",\"last_completion_after_end_s\":%.3f,",
		st.t_last_final ? (double)(st.t_last_final - t_end) / 1e9 : 0.0);
	fprintf(o, "\"latency_us\":{");
	hist_json(o, "start_lag", &st.start_lag);
	if (opt.mode == M_ORDERS) {
		fprintf(o, ",");
		hist_json(o, "hold", &st.hold);
		fprintf(o, ",");
		hist_json(o, "order", &st.order);
		fprintf(o, ",");
		hist_json(o, "authorize", &st.auth);
		fprintf(o, ",");
		hist_json(o, "get", &st.get);
		fprintf(o, ",");
		hist_json(o, "authorize_to_final", &st.auth_to_final);
		fprintf(o, ",");
		hist_json(o, "end_to_end", &st.e2e);
		fprintf(o, ",");
		hist_json(o, "gateway_delay", &st.gw_delay);
		fprintf(o, ",");
		hist_json(o, "authorize_minus_gateway_delay", &st.auth_minus_delay);
		fprintf(o, ",");
		hist_json(o, "admitted_end_to_end", &st.admitted_e2e);
		fprintf(o, ",");
		hist_json(o, "room_wait", &st.room_wait);
		fprintf(o, ",");
		hist_json(o, "position_update_gap", &st.pos_gap);
		fprintf(o, ",");
		hist_json(o, "room_poll_gap", &st.poll_gap);
	} else {
		fprintf(o, ",");
		hist_json(o, "gateway", &st.gw_latency);
		fprintf(o, ",");
		hist_json(o, "gateway_service", &st.gw_service);
		fprintf(o, ",");
		hist_json(o, "gateway_delay", &st.gw_delay);
		fprintf(o, ",");
		hist_json(o, "gateway_minus_delay", &st.gw_minus_delay);
	}
	fprintf(o, "},");
	bench_tally_json(o, "authorize_status", &st.auth_status);
	fprintf(o, ",");
	bench_tally_json(o, "final_status", &st.final);
	fprintf(o, ",\"confirmed\":%llu,\"cancelled\":%llu,\"orders_created\":%llu,"
		   "\"seats_confirmed\":%llu,\"seats_cancelled\":%llu,\"gets\":%llu,",
		(unsigned long long)(bench_tally_get(&st.final, "CONFIRMED")),
		(unsigned long long)(st.finals - bench_tally_get(&st.final, "CONFIRMED")) *
			(opt.mode == M_ORDERS),
		(unsigned long long)st.created, (unsigned long long)st.seats_confirmed,
		(unsigned long long)st.seats_cancelled, (unsigned long long)st.gets);
	bench_tally_json(o, "mismatches", &st.mismatch);
	fprintf(o, ",");
	bench_tally_json(o, "errors", &st.errors);
	fprintf(o, ",\"closed_loop\":%s,\"room\":{\"used\":%s,", opt.closed ? "true" : "false",
		opt.room ? "true" : "false");
	bench_tally_json(o, "answers", &st.room_answers);
	fprintf(o, ",\"admitted\":%llu,\"still_waiting\":%llu,\"streams_opened\":%llu,"
		   "\"streams_max\":%d,\"stream_fallbacks\":%llu,\"position_updates\":%llu,"
		   "\"polls\":%llu},\"refusals\":{",
		(unsigned long long)st.admitted, (unsigned long long)st.still_waiting,
		(unsigned long long)st.streams_opened, st.streams_max,
		(unsigned long long)st.stream_fallbacks,
		(unsigned long long)st.position_updates, (unsigned long long)st.polls);
	bench_tally_json(o, "by_step", &st.refusals);
	fprintf(o, ",\"retries\":%llu,\"retry_after_present\":%llu,"
		   "\"retry_after_missing\":%llu}",
		(unsigned long long)st.retries, (unsigned long long)st.retry_after_present,
		(unsigned long long)st.retry_after_missing);
	fprintf(o, ",\"not_completed\":%llu,\"timeouts\":%llu,\"connection_errors\":%llu,"
		   "\"parse_errors\":%llu,\"reconnects\":%llu,"
		   "\"gateway_log\":{\"found\":%llu,\"missing\":%llu},",
		(unsigned long long)((uint64_t)n_orders - st.finals), /* anything not ended */
		(unsigned long long)st.timeouts, (unsigned long long)st.conn_errors,
		(unsigned long long)st.parse_errors, (unsigned long long)st.reconnects,
		(unsigned long long)st.gw_log_found, (unsigned long long)st.gw_log_missing);
	fprintf(o, "\"cpu\":{\"wall_s\":%.3f,\"host_busy_pct\":%.1f,\"client_s\":%.3f,"
		   "\"processes\":{",
		wall, host_busy, client_cpu);
	for (int i = 0; i < opt.pids.n; i++)
		fprintf(o, "%s\"%s\":{\"pid\":%d,\"cpu_s\":%.2f,\"core_pct\":%.1f}",
			i ? "," : "", opt.pids.name[i], opt.pids.id[i],
			cpu0[i] >= 0 && cpu1[i] >= 0 ? cpu1[i] - cpu0[i] : -1.0,
			cpu0[i] >= 0 && cpu1[i] >= 0 && wall > 0
				? 100.0 * (cpu1[i] - cpu0[i]) / wall
				: -1.0);
	fprintf(o, "},\"threads\":[");
	if (n_threads) {
		qsort(threads, (size_t)n_threads, sizeof(*threads), cmp_thread);
		for (int i = 0; i < n_threads && i < TOP_THREADS; i++)
			fprintf(o, "%s{\"tid\":%d,\"comm\":\"%s\",\"cpu_s\":%.2f,\"core_pct\":%.1f}",
				i ? "," : "", threads[i].tid, threads[i].comm,
				threads[i].s1 - threads[i].s0,
				wall > 0 ? 100.0 * (threads[i].s1 - threads[i].s0) / wall : 0.0);
	}
	fprintf(o, "]},\"watch\":{");
	for (int i = 0; i < opt.watched.n; i++) {
		fprintf(o, "%s\"%s\":{\"tid\":%d,\"samples\":%llu,", i ? "," : "",
			opt.watched.name[i], opt.watched.id[i],
			(unsigned long long)watch[i].samples);
		bench_tally_json(o, "states", &watch[i].states);
		fprintf(o, "}");
	}
	fprintf(o, "}}\n");
	return 0;
}
