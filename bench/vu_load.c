/* vu_load: the prior design's 1000-user scenario (issue #13) against
 * ticketd's REST API: virtual users, each looping the purchase a person
 * makes in the web page:
 *
 *   events     GET  /api/events               pick an event of --events with
 *                                             a free seat, at random
 *   seats      GET  /api/events/{id}/seats    the seat map
 *   hold       POST /api/reservations         1..--max-seats random free seats
 *                                             of the map; a 409 SEAT_UNAVAILABLE
 *                                             or 422 SEAT_SOLD is a conflict
 *                                             (not an error): the user picks
 *                                             again from the map it has, and
 *                                             reads the map again after
 *                                             --max-picks conflicts in a row
 *   order      POST /api/orders               Idempotency-Key: <prefix>-<user>-<n>
 *   authorize  POST /api/payments/authorize   the simulated gateway's delay is
 *                                             its floor
 *   status     GET  /api/orders/{id}          at once, then every --poll-ms
 *                                             while PENDING (each GET timed)
 *
 * Think time: --think-ms A-B (0 = off): before each of events, seats, hold,
 * order and authorize the user pauses a uniform A..B ms (not before status
 * polls). Latencies never include think time.
 *
 * --mode closed: --stages 200,400,1000 are user counts; stage i runs
 * --stage-secs, its new users (the difference to the previous stage) start
 * spread over its first --ramp-secs, and every user keeps looping into the
 * next stages (the ramp of the prior design's k6 stages). Each user has its
 * own session (token i of --tokens) and its own keep-alive connection,
 * opened when it starts (connect time counts in its first request).
 *
 * --mode open: --stages are arrival rates (users per second): in stage i a
 * new user arrives every 1/rate s whatever the server does, makes one
 * purchase and leaves (its connection goes back to a pool of --conns,
 * opened before the clock). The first request of a user is timed from its
 * scheduled arrival, so a wait for a free connection counts (no coordinated
 * omission); its whole purchase likewise ("iteration").
 *
 * A 503 or 429 (ticketd's overload doors) is retried after its Retry-After
 * (without one 0.5 s, doubling; at most --retry-cap s) at most --retries
 * times: counted as "refused", apart from errors; the step's latency runs
 * from its first attempt to its last answer. Anything else unexpected, a
 * timeout (--timeout-ms) or a broken connection is an error: the user
 * abandons the purchase and starts a new one.
 *
 * A step counts in the stage it started in. At the end of the last stage
 * no user starts anything new; a user with an order finishes it
 * (authorize, status, no think time) within --drain s.
 *
 * One thread, epoll, HTTP/1.1, one request in flight per connection.
 * Output: one JSON object on stdout, per stage and step: requests, per_s,
 * ok, errors, conflicts, refused, error_rate and latency in ms (n, mean,
 * p50, p95, p99, max); stage CPU (--pid NAME=PID); totals for the audit. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "bench/lib/conn.h"
#include "bench/lib/cpu.h"
#include "bench/lib/hist.h"
#include "bench/lib/msg.h"
#include "bench/lib/opts.h"
#include "bench/lib/proto.h"
#include "bench/lib/tally.h"
#include "userspace/lib/clock.h"

#define MAX_USERS 200000
#define MAX_CONNS 20000
#define MAX_STAGES 8
#define MAX_SEATS 8
#define MAX_PIDS 8
#define OUT_CAP 1024
#define IN_START 16384
#define IN_MAX (16 << 20)
#define BACKOFF_NS 50000000LL /* 50 ms */

/* ---- options ------------------------------------------------------------ */

enum mode { M_CLOSED, M_OPEN };

static struct vu_opts {
	enum mode mode;
	struct bench_endpoint target;
	const char *tokens_path;
	const char *stages_text;
	double stage_secs, ramp_secs, drain_s;
	uint32_t think_lo, think_hi; /* ms */
	uint32_t ev_lo, ev_hi;	    /* the events users pick from */
	int max_seats, max_picks, hold_seconds, poll_ms, final_timeout_ms;
	int timeout_ms, retries, conns;
	double retry_cap_s;
	const char *key_prefix;
	uint32_t seed;
	const char *pid_args[MAX_PIDS];
	int n_pid_args;
} opt;

static int n_stages;
static double stage_val[MAX_STAGES]; /* users (closed) or users/s (open) */

static bench_token_hex *tokens;
static int n_tokens;

static int64_t now_ns(void)
{
	return (int64_t)tkt_mono_ns();
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n) /* 0..n-1 */
{
	return n ? (uint32_t)(bench_xorshift(&rng) % n) : 0;
}

/* ---- statistics --------------------------------------------------------- */

enum step { ST_EVENTS, ST_SEATS, ST_HOLD, ST_ORDER, ST_AUTH, ST_STATUS,
	    N_STEPS };
static const char *const step_name[N_STEPS] = {"events", "seats", "hold",
					       "order", "authorize", "status"};

struct step_stats {
	struct bench_hist lat; /* us, first attempt to last answer */
	uint64_t requests;     /* HTTP requests sent (retries included) */
	uint64_t ok, errors, conflicts, refused;
};

struct stage_stats {
	struct step_stats s[N_STEPS];
	struct bench_hist iter;		 /* a whole purchase, think excluded */
	struct bench_hist auth_to_final; /* authorize sent to final status */
	struct bench_hist start_lag;	 /* open: arrival to first send */
	struct bench_tally errors, final;
	uint64_t users_started, iterations, iter_ok, iter_failed;
	uint64_t conn_errors, timeouts, resets, map_rereads, no_free_seat;
	uint64_t orders_created, confirmed, cancelled, seats_confirmed;
	int64_t t0, t1; /* the stage's window */
	struct bench_cpu_reading cpu0, cpu1;
	double pid0[MAX_PIDS], pid1[MAX_PIDS];
};

static struct stage_stats stg[MAX_STAGES];
static int cur_stage;

static struct {
	uint64_t orders_created, confirmed, cancelled, seats_confirmed;
	uint64_t not_final, unfinished_orders, sessions_reused, parse_errors;
	uint64_t max_in_cap;
} tot;

static const char *pid_name[MAX_PIDS];
static int pid_id[MAX_PIDS];
static int n_pids;

/* ---- users and connections ----------------------------------------------- */

enum ustate { U_IDLE, U_BUSY, U_PARKED, U_QUEUED, U_DONE };

struct conn;

struct user {
	int idx, tok;
	struct conn *c;
	uint8_t state, step, resume, retries, picks, nseats;
	bool first_action; /* no think before a user's first request */
	bool has_order;	   /* an order of the current purchase exists */
	bool order_final;
	bool backoff;	   /* after an error: a pause before the next purchase */
	int64_t t_sched;   /* open: arrival */
	int64_t t_step0;   /* first attempt of the current step */
	int64_t t_sent;	   /* the request in flight */
	int64_t t_iter0;   /* the purchase's first send (open: its arrival) */
	int64_t think_ns;  /* think time inside the current purchase */
	int64_t t_auth0;
	int64_t wake;
	int heap_idx;
	int step_stage; /* stage the current step counts in */
	int iter_stage;
	uint32_t iter_no;
	uint32_t event;
	uint32_t seats[MAX_SEATS];
	uint32_t *free_seats;
	int n_free, cap_free;
	char order_id[48];
};

enum cstate { C_CLOSED, C_CONNECTING, C_READY, C_BUSY };

struct conn {
	int fd;
	int idx;
	enum cstate st;
	struct user *u;
	char out[OUT_CAP];
	int out_len, out_off;
	char *in;
	int in_len, in_cap;
};

static int epfd;
static struct user *users;
static int n_users; /* made so far */
static int max_users;
static struct conn *conns;
static int n_conns;
static int *free_conns, n_free_conns; /* open mode: the pool */
static struct user **queue;	      /* open mode: arrivals waiting for a connection */
static int q_head, q_tail;
static int active; /* users not done */
static bool stopping;
static int64_t t_start, t_end;

/* ---- a min-heap of parked users by wake time ---------------------------- */

static struct user **heap;
static int heap_n;

static void heap_swap(int a, int b)
{
	struct user *t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->heap_idx = a;
	heap[b]->heap_idx = b;
}

static void heap_up(int i)
{
	while (i > 0 && heap[(i - 1) / 2]->wake > heap[i]->wake) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;

		if (l < heap_n && heap[l]->wake < heap[m]->wake)
			m = l;
		if (r < heap_n && heap[r]->wake < heap[m]->wake)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

static void heap_push(struct user *u)
{
	u->heap_idx = heap_n;
	heap[heap_n++] = u;
	heap_up(u->heap_idx);
}

static void heap_remove(struct user *u)
{
	int i = u->heap_idx;

	if (i < 0)
		return;
	heap_n--;
	if (i != heap_n) {
		heap[i] = heap[heap_n];
		heap[i]->heap_idx = i;
		heap_down(i);
		heap_up(i);
	}
	u->heap_idx = -1;
}

/* ---- connections ---------------------------------------------------------- */

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

static int flush_out(struct conn *c)
{
	int rc = bench_send_pending(c->fd, c->out, c->out_len, &c->out_off);

	if (rc >= 0)
		want_write(c, rc == 0);
	return rc < 0 ? -1 : 0;
}

/* ---- the purchase ---------------------------------------------------------- */

static int stage_at(int64_t t)
{
	int s;

	if (t < t_start)
		return 0;
	for (s = 0; s < n_stages - 1; s++)
		if (t < stg[s].t1)
			break;
	return s;
}

static struct step_stats *ss(struct user *u)
{
	return &stg[u->step_stage].s[u->step];
}

static void send_step(struct user *u, int64_t t);
static void begin_step(struct user *u, enum step s, int64_t t, bool think);

/* The user leaves for good (stopping, or an open-loop purchase ended). */
static void user_done(struct user *u)
{
	if (u->state == U_DONE)
		return;
	heap_remove(u);
	u->state = U_DONE;
	active--;
	if (opt.mode == M_OPEN && u->c) {
		struct conn *c = u->c;

		c->u = NULL;
		u->c = NULL;
		if (c->st == C_BUSY || c->st == C_CONNECTING)
			close_conn(c); /* an answer may still come: not reusable */
		free_conns[n_free_conns++] = c->idx;
	}
}

/* A purchase begins: the events list (after think time). */
static void begin_iteration(struct user *u, int64_t t)
{
	if (stopping || (opt.mode == M_OPEN && u->iter_no > 0)) {
		user_done(u);
		return;
	}
	u->iter_no++;
	u->has_order = false;
	u->order_final = false;
	u->picks = 0;
	u->think_ns = 0;
	u->t_iter0 = 0;
	u->iter_stage = stage_at(t);
	begin_step(u, ST_EVENTS, t, true);
}

/* The purchase ended, well or not. */
static void end_iteration(struct user *u, bool ok, int64_t t)
{
	struct stage_stats *s = &stg[u->iter_stage];

	s->iterations++;
	if (ok) {
		s->iter_ok++;
		if (u->t_iter0)
			bench_hist_add(&s->iter,
				       (t - u->t_iter0 - u->think_ns) / 1000);
	} else {
		s->iter_failed++;
	}
	begin_iteration(u, t);
}

static void step_error(struct user *u, const char *what, int64_t t)
{
	char key[80];

	ss(u)->errors++;
	snprintf(key, sizeof(key), "%s %s", step_name[u->step], what);
	bench_tally_add(&stg[u->step_stage].errors, key, 1);
	if (u->has_order && !u->order_final)
		tot.unfinished_orders++;
	u->backoff = true;
	end_iteration(u, false, t);
}

static void park(struct user *u, int64_t when, enum step resume)
{
	u->resume = (uint8_t)resume;
	u->state = U_PARKED;
	u->wake = when;
	heap_push(u);
}

/* Next step: after think time (when on and think), else at once. A user
 * who has no order yet stops here once the run is stopping. */
static void begin_step(struct user *u, enum step s, int64_t t, bool think)
{
	if (stopping && !u->has_order) {
		user_done(u);
		return;
	}
	u->step = (uint8_t)s;
	u->retries = 0;
	u->t_step0 = 0;
	if (u->backoff) { /* no tight loop of failures (nor recursion) */
		u->backoff = false;
		park(u, t + BACKOFF_NS, s);
		return;
	}
	if (think && !u->first_action && !stopping && opt.think_hi > 0) {
		int64_t ms = opt.think_lo + rnd(opt.think_hi - opt.think_lo + 1);

		if (u->t_iter0) /* the pause before a purchase is not in it */
			u->think_ns += ms * 1000000LL;
		park(u, t + ms * 1000000LL, s);
		return;
	}
	send_step(u, t);
}

/* Open mode: a connection from the pool, or the queue. */
static bool take_conn(struct user *u)
{
	struct conn *c;

	if (u->c)
		return true;
	if (!n_free_conns) {
		u->state = U_QUEUED;
		queue[q_tail++] = u;
		return false;
	}
	c = &conns[free_conns[--n_free_conns]];
	c->u = u;
	u->c = c;
	return true;
}

static void build(struct user *u)
{
	struct conn *c = u->c;
	char body[320], seats[96], path[160], key[120];
	const char *tok = tokens[u->tok];
	int len = -1, n = 0;

	seats[0] = '[';
	n = 1;
	for (int i = 0; i < u->nseats; i++)
		n += snprintf(seats + n, sizeof(seats) - (size_t)n, "%s%u",
			      i ? "," : "", u->seats[i]);
	snprintf(seats + n, sizeof(seats) - (size_t)n, "]");
	switch (u->step) {
	case ST_EVENTS:
		len = bench_http_request(c->out, OUT_CAP, "GET", "/api/events",
					 &opt.target, tok, NULL, NULL);
		break;
	case ST_SEATS:
		snprintf(path, sizeof(path), "/api/events/%u/seats", u->event);
		len = bench_http_request(c->out, OUT_CAP, "GET", path,
					 &opt.target, tok, NULL, NULL);
		break;
	case ST_HOLD:
		snprintf(body, sizeof(body),
			 "{\"eventId\":%u,\"seatIds\":%s,\"holdSeconds\":%d}",
			 u->event, seats, opt.hold_seconds);
		len = bench_http_request(c->out, OUT_CAP, "POST",
					 "/api/reservations", &opt.target, tok,
					 NULL, body);
		break;
	case ST_ORDER:
		snprintf(body, sizeof(body), "{\"eventId\":%u,\"seatIds\":%s}",
			 u->event, seats);
		snprintf(key, sizeof(key), "Idempotency-Key: %s-%d-%u\r\n",
			 opt.key_prefix, u->idx, u->iter_no);
		len = bench_http_request(c->out, OUT_CAP, "POST", "/api/orders",
					 &opt.target, tok, key, body);
		break;
	case ST_AUTH:
		snprintf(body, sizeof(body), "{\"orderId\":\"%s\"}", u->order_id);
		len = bench_http_request(c->out, OUT_CAP, "POST",
					 "/api/payments/authorize", &opt.target,
					 tok, NULL, body);
		break;
	case ST_STATUS:
		snprintf(path, sizeof(path), "/api/orders/%s", u->order_id);
		len = bench_http_request(c->out, OUT_CAP, "GET", path,
					 &opt.target, tok, NULL, NULL);
		break;
	default:
		break;
	}
	c->out_len = len < 0 ? 0 : len;
	c->out_off = 0;
}

static void conn_failed(struct user *u, const char *what, int64_t t)
{
	stg[u->step_stage].conn_errors++;
	step_error(u, what, t);
}

static void send_step(struct user *u, int64_t t)
{
	struct conn *c;

	if (opt.mode == M_OPEN && !take_conn(u))
		return; /* sent when a connection frees up */
	c = u->c;
	if (!u->t_step0) {
		u->t_step0 = t;
		u->step_stage = stage_at(t);
		/* open loop: the first request counts from the arrival */
		if (opt.mode == M_OPEN && u->first_action) {
			u->t_step0 = u->t_sched;
			u->step_stage = stage_at(u->t_sched);
			bench_hist_add(&stg[u->step_stage].start_lag,
				       (t - u->t_sched) / 1000);
		}
		if (!u->t_iter0)
			u->t_iter0 = u->t_step0;
	}
	u->first_action = false;
	u->state = U_BUSY;
	u->t_sent = t;
	ss(u)->requests++;
	build(u);
	if (!c->out_len) {
		step_error(u, "request too long", t);
		return;
	}
	if (c->fd < 0) {
		if (open_conn(c) < 0) {
			conn_failed(u, "connect", t);
			return;
		}
		return; /* flushed once connected */
	}
	c->st = C_BUSY;
	if (flush_out(c) < 0) {
		close_conn(c);
		conn_failed(u, "connection (send)", t);
	}
}

/* ---- answers ------------------------------------------------------------- */

static void record_ok(struct user *u, int64_t t)
{
	struct step_stats *s = ss(u);

	s->ok++;
	bench_hist_add(&s->lat, (t - u->t_step0) / 1000);
}

static void http_error(struct user *u, int status, const char *b, int len,
		       int64_t t)
{
	char what[64];

	bench_http_error_what(status, b, len, what, sizeof(what));
	step_error(u, what, t);
}

/* The events list: an event of --events with a free seat, at random. */
static bool pick_event(struct user *u, const char *b, int len)
{
	uint32_t cand[4096];
	int n = 0;
	const char *p = b, *end = b + len;

	while (p < end && n < (int)(sizeof(cand) / sizeof(cand[0]))) {
		const char *q = memmem(p, (size_t)(end - p), "{\"id\":", 6);
		const char *a, *next;
		unsigned long id;
		double avail = 0;

		if (!q)
			break;
		id = strtoul(q + 6, NULL, 10);
		next = memmem(q + 6, (size_t)(end - q - 6), "{\"id\":", 6);
		if (!next)
			next = end;
		a = memmem(q, (size_t)(next - q), "\"available\":", 12);
		if (a)
			avail = strtod(a + 12, NULL);
		if (id >= opt.ev_lo && id <= opt.ev_hi && avail >= 1)
			cand[n++] = (uint32_t)id;
		p = next;
	}
	if (!n)
		return false;
	u->event = cand[rnd((uint32_t)n)];
	return true;
}

/* The seat map: the ids of the AVAILABLE seats into u->free_seats. */
static void read_map(struct user *u, const char *b, int len)
{
	const char *p = b, *end = b + len;

	u->n_free = 0;
	while (p < end) {
		const char *q = memmem(p, (size_t)(end - p), "{\"id\":", 6);
		const char *st, *next;
		unsigned long id;

		if (!q)
			break;
		id = strtoul(q + 6, NULL, 10);
		next = memchr(q + 6, '}', (size_t)(end - q - 6));
		if (!next)
			break;
		st = memmem(q, (size_t)(next - q), "\"status\":\"", 10);
		if (st && st + 10 < next && st[10] == 'A') {
			if (u->n_free == u->cap_free) {
				int nc = u->cap_free ? 2 * u->cap_free : 256;
				uint32_t *nf = realloc(u->free_seats,
						       (size_t)nc * sizeof(*nf));

				if (!nf)
					bench_die("%s", "out of memory");
				u->free_seats = nf;
				u->cap_free = nc;
			}
			u->free_seats[u->n_free++] = (uint32_t)id;
		}
		p = next + 1;
	}
}

/* 1..--max-seats seats of the map, taken out of it; false when none is
 * left. */
static bool pick_seats(struct user *u)
{
	int k = 1 + (int)rnd((uint32_t)opt.max_seats);

	if (k > u->n_free)
		k = u->n_free;
	if (k == 0)
		return false;
	for (int i = 0; i < k; i++) {
		int j = (int)rnd((uint32_t)u->n_free);

		u->seats[i] = u->free_seats[j];
		u->free_seats[j] = u->free_seats[--u->n_free];
	}
	u->nseats = (uint8_t)k;
	return true;
}

/* A retry after a 503 or 429; false when the retries are used up. */
static bool retry_later(struct user *u, int ra_s, int64_t t)
{
	double delay;

	ss(u)->refused++;
	if (u->retries >= opt.retries)
		return false;
	u->retries++;
	delay = ra_s >= 0 ? ra_s : 0.5 * (double)(1u << (u->retries - 1));
	if (delay > opt.retry_cap_s)
		delay = opt.retry_cap_s;
	/* keep t_step0: the step's latency covers its retries */
	park(u, t + (int64_t)(delay * 1e9), (enum step)u->step);
	return true;
}

static void on_answer(struct user *u, const struct bench_http_answer *a,
		      const char *b, int64_t t)
{
	int status = a->status, len = a->body_len;
	char code[40];

	if (status == 503 || status == 429) {
		if (retry_later(u, a->retry_after_s, t))
			return;
		http_error(u, status, b, len, t);
		return;
	}
	switch (u->step) {
	case ST_EVENTS:
		if (status != 200)
			break;
		record_ok(u, t);
		if (!pick_event(u, b, len)) {
			stg[u->step_stage].no_free_seat++;
			u->backoff = true;
			end_iteration(u, false, t);
			return;
		}
		begin_step(u, ST_SEATS, t, true);
		return;
	case ST_SEATS:
		if (status != 200)
			break;
		record_ok(u, t);
		read_map(u, b, len);
		u->picks = 0;
		if (!pick_seats(u)) {
			stg[u->step_stage].no_free_seat++;
			u->backoff = true;
			end_iteration(u, false, t);
			return;
		}
		begin_step(u, ST_HOLD, t, true);
		return;
	case ST_HOLD:
		if (status == 201) {
			record_ok(u, t);
			begin_step(u, ST_ORDER, t, true);
			return;
		}
		if (!bench_json_str(b, len, "code", code, sizeof(code)))
			code[0] = '\0';
		if ((status == 409 && !strcmp(code, "SEAT_UNAVAILABLE")) ||
		    (status == 422 && !strcmp(code, "SEAT_SOLD"))) {
			/* somebody was faster: pick again (a conflict) */
			struct step_stats *s = ss(u);

			s->conflicts++;
			bench_hist_add(&s->lat, (t - u->t_step0) / 1000);
			if (++u->picks >= opt.max_picks || !pick_seats(u)) {
				stg[u->step_stage].map_rereads++;
				begin_step(u, ST_SEATS, t, true);
				return;
			}
			begin_step(u, ST_HOLD, t, true);
			return;
		}
		break;
	case ST_ORDER:
		if (status != 201 ||
		    !bench_json_str(b, len, "orderId", u->order_id,
				    sizeof(u->order_id)))
			break;
		record_ok(u, t);
		u->has_order = true;
		stg[u->iter_stage].orders_created++;
		tot.orders_created++;
		begin_step(u, ST_AUTH, t, true);
		return;
	case ST_AUTH:
		if (status != 200 && status != 202)
			break;
		record_ok(u, t);
		u->t_auth0 = u->t_step0;
		begin_step(u, ST_STATUS, t, false);
		return;
	case ST_STATUS: {
		char s[16], r[40], k[64];
		struct stage_stats *sg = &stg[u->iter_stage];
		bool confirmed;

		if (status != 200 || !bench_json_str(b, len, "status", s, sizeof(s)))
			break;
		record_ok(u, t);
		if (!strcmp(s, "PENDING")) {
			if ((t - u->t_auth0) / 1000000 > opt.final_timeout_ms) {
				tot.not_final++;
				step_error(u, "PENDING (not final in time)", t);
				return;
			}
			u->t_step0 = 0; /* each poll is timed on its own */
			park(u, t + (int64_t)opt.poll_ms * 1000000LL, ST_STATUS);
			return;
		}
		confirmed = !strcmp(s, "CONFIRMED");
		if (!confirmed && bench_json_str(b, len, "reason", r, sizeof(r)))
			snprintf(k, sizeof(k), "%s %s", s, r);
		else
			snprintf(k, sizeof(k), "%s", s);
		bench_tally_add(&sg->final, k, 1);
		bench_hist_add(&stg[u->iter_stage].auth_to_final,
			       (t - u->t_auth0) / 1000);
		u->order_final = true;
		if (confirmed) {
			sg->confirmed++;
			sg->seats_confirmed += u->nseats;
			tot.confirmed++;
			tot.seats_confirmed += u->nseats;
		} else {
			sg->cancelled++;
			tot.cancelled++;
		}
		end_iteration(u, true, t);
		return;
	}
	default:
		break;
	}
	http_error(u, status, b, len, t);
}

/* Room in c->in for more bytes: doubles up to IN_MAX. */
static bool grow_in(struct conn *c, int need)
{
	int cap = c->in_cap ? c->in_cap : IN_START;
	char *n;

	while (cap < need && cap < IN_MAX)
		cap *= 2;
	if (cap < need)
		return false;
	if (cap == c->in_cap)
		return true;
	n = realloc(c->in, (size_t)cap);
	if (!n)
		return false;
	c->in = n;
	c->in_cap = cap;
	if ((uint64_t)cap > tot.max_in_cap)
		tot.max_in_cap = (uint64_t)cap;
	return true;
}

/* A copy of the answer's body (NUL-terminated) in scratch. */
static char *scratch;
static int scratch_cap;

static bool copy_body(const char *b, int len)
{
	if (len + 1 > scratch_cap) {
		int cap = scratch_cap ? scratch_cap : IN_START;
		char *n;

		while (cap < len + 1)
			cap *= 2;
		n = realloc(scratch, (size_t)cap);
		if (!n)
			return false;
		scratch = n;
		scratch_cap = cap;
	}
	memcpy(scratch, b, (size_t)len);
	scratch[len] = '\0';
	return true;
}

/* Returns -1 when the connection must be dropped. */
static int on_readable(struct conn *c)
{
	for (;;) {
		int got;

		if (c->in_len == c->in_cap && !grow_in(c, c->in_cap + 1))
			return -1;
		got = bench_recv_more(c->fd, c->in, &c->in_len, c->in_cap);
		if (got <= 0)
			return got;
		for (;;) {
			struct bench_http_answer a;
			const char *hend;
			int hlen, total;
			int64_t t;
			struct user *u = c->u;

			if (!c->in_len)
				break;
			if (c->st != C_BUSY || !u) {
				tot.parse_errors++; /* bytes nobody asked for */
				return -1;
			}
			hend = memmem(c->in, (size_t)c->in_len, "\r\n\r\n", 4);
			if (!hend)
				break;
			hlen = (int)(hend - c->in) + 4;
			if (bench_http_head(c->in, hlen, &a) < 0 || a.chunked ||
			    (long)hlen + a.body_len > IN_MAX) {
				tot.parse_errors++;
				return -1;
			}
			total = hlen + a.body_len;
			if (total > c->in_cap && !grow_in(c, total))
				return -1;
			if (c->in_len < total)
				break;
			t = now_ns();
			c->st = C_READY;
			/* the answer leaves the buffer before on_answer runs: it
			 * may send the next request, reconnect or drop c */
			if (!copy_body(c->in + hlen, a.body_len))
				return -1;
			memmove(c->in, c->in + total, (size_t)(c->in_len - total));
			c->in_len -= total;
			if (a.close_after)
				close_conn(c); /* the next request reconnects */
			on_answer(u, &a, scratch, t);
			if (c->fd < 0)
				return 0;
		}
	}
}

static void on_connected(struct conn *c, int64_t t)
{
	c->st = C_READY;
	want_write(c, false);
	if (c->u && c->u->state == U_BUSY && c->out_len > c->out_off) {
		c->st = C_BUSY;
		if (flush_out(c) < 0) {
			struct user *u = c->u;

			close_conn(c);
			conn_failed(u, "connection (send)", t);
		}
	}
}

static void broken(struct conn *c, int64_t t, const char *what)
{
	struct user *u = c->u;
	bool waiting = u && u->state == U_BUSY && u->c == c;

	close_conn(c);
	if (waiting) {
		stg[u->step_stage].resets++;
		conn_failed(u, what, t);
	}
}

/* ---- the run --------------------------------------------------------------- */

static void read_pids(double *out)
{
	for (int i = 0; i < n_pids; i++)
		out[i] = bench_pid_cpu_s(pid_id[i]);
}

static void stage_begin(int s, int64_t t)
{
	stg[s].t0 = t;
	stg[s].t1 = t + (int64_t)(opt.stage_secs * 1e9);
	bench_cpu_read(&stg[s].cpu0, 0);
	read_pids(stg[s].pid0);
}

static void stage_end(int s)
{
	bench_cpu_read(&stg[s].cpu1, 0);
	read_pids(stg[s].pid1);
}

static struct user *new_user(int64_t sched)
{
	struct user *u;

	if (n_users >= max_users)
		return NULL;
	u = &users[n_users];
	u->idx = n_users;
	u->tok = n_users % n_tokens;
	if (n_users >= n_tokens)
		tot.sessions_reused++;
	u->heap_idx = -1;
	u->first_action = true;
	u->t_sched = sched;
	u->state = U_IDLE;
	if (opt.mode == M_CLOSED) {
		u->c = &conns[n_users];
		u->c->u = u;
	}
	n_users++;
	active++;
	stg[stage_at(sched)].users_started++;
	return u;
}

/* What the schedule starts by time t: closed, the ramp of each stage's new
 * users; open, the arrivals. */
static int64_t next_arrival(void)
{
	int s;
	double k;

	if (n_users >= max_users)
		return INT64_MAX;
	if (opt.mode == M_CLOSED) {
		int before = 0;

		for (s = 0; s < n_stages; s++) {
			int target = (int)stage_val[s];

			if (n_users < target) {
				double span = opt.ramp_secs * 1e9;
				int add = target - before;

				k = (double)(n_users - before);
				return stg[s].t0 + (int64_t)(add > 0 ? span * k / add : 0);
			}
			before = target > before ? target : before;
		}
		return INT64_MAX;
	}
	/* open: user j of stage s at t0(s) + j / rate(s) */
	{
		int before = 0;

		for (s = 0; s < n_stages; s++) {
			int in_stage = (int)(stage_val[s] * opt.stage_secs + 0.5);

			if (n_users < before + in_stage)
				return stg[s].t0 + (int64_t)((double)(n_users - before) *
							     1e9 / stage_val[s]);
			before += in_stage;
		}
	}
	return INT64_MAX;
}

static bool first_connect(void *ptr, uint32_t events, void *ctx)
{
	struct conn *c = ptr;

	(void)ctx;
	if (c->st != C_CONNECTING)
		return false;
	if (!bench_tcp_connected(c->fd, events)) {
		close_conn(c);
		return true;
	}
	c->st = C_READY;
	want_write(c, false);
	return true;
}

/* The stop: users without an order leave; those with one finish it. */
static void stop_all(int64_t t)
{
	stopping = true;
	for (int i = 0; i < n_users; i++) {
		struct user *u = &users[i];

		if (u->state == U_PARKED && !u->has_order) {
			user_done(u);
		} else if (u->state == U_PARKED) {
			/* think time is over; retries keep their wait */
			if (u->resume != ST_STATUS && !u->retries) {
				heap_remove(u);
				u->wake = t;
				heap_push(u);
			}
		} else if (u->state == U_QUEUED || u->state == U_IDLE) {
			user_done(u);
		}
	}
}

static void run(void)
{
	struct epoll_event evs[512];
	int64_t last_scan = 0, t_hard;

	if (opt.mode == M_OPEN) {
		int opened = 0;

		for (int i = 0; i < n_conns; i++) {
			if (open_conn(&conns[i]) == 0)
				opened++;
		}
		bench_await_connects(epfd, opened, 20000, first_connect, NULL);
	}
	t_start = now_ns() + 20000000LL;
	{
		int64_t t = t_start;

		for (int s = 0; s < n_stages; s++) {
			stg[s].t0 = t;
			stg[s].t1 = t + (int64_t)(opt.stage_secs * 1e9);
			t = stg[s].t1;
		}
		t_end = t;
	}
	t_hard = t_end + (int64_t)(opt.drain_s * 1e9);
	while (now_ns() < t_start)
		;
	stage_begin(0, t_start);
	for (;;) {
		int64_t t = now_ns(), wait_ns = 50000000LL, na;
		int n;

		/* stage boundaries */
		while (!stopping && t >= stg[cur_stage].t1) {
			stage_end(cur_stage);
			if (cur_stage + 1 >= n_stages) {
				stop_all(t);
				break;
			}
			cur_stage++;
			stage_begin(cur_stage, stg[cur_stage].t0);
		}
		/* new users */
		while (!stopping && (na = next_arrival()) <= t) {
			struct user *u = new_user(na);

			if (!u)
				break;
			begin_iteration(u, t);
		}
		/* open mode: arrivals waiting for a connection */
		while (q_head < q_tail && n_free_conns > 0) {
			struct user *u = queue[q_head++];

			if (u->state != U_QUEUED)
				continue;
			u->state = U_IDLE;
			send_step(u, t);
		}
		/* wake-ups */
		while (heap_n && heap[0]->wake <= t) {
			struct user *u = heap[0];

			heap_remove(u);
			u->state = U_IDLE;
			if (stopping && !u->has_order) {
				user_done(u);
				continue;
			}
			send_step(u, t);
		}
		if (heap_n && heap[0]->wake - t < wait_ns)
			wait_ns = heap[0]->wake - t;
		if (!stopping) {
			na = next_arrival();
			if (na - t < wait_ns)
				wait_ns = na - t;
			if (stg[cur_stage].t1 - t < wait_ns)
				wait_ns = stg[cur_stage].t1 - t;
		}
		if (wait_ns < 0)
			wait_ns = 0;
		/* unanswered requests */
		if (t - last_scan > 50000000LL) {
			last_scan = t;
			for (int i = 0; i < n_conns; i++) {
				struct conn *c = &conns[i];
				struct user *u = c->u;

				if (u && u->c == c && u->state == U_BUSY &&
				    (c->st == C_BUSY || c->st == C_CONNECTING) &&
				    t - u->t_sent > (int64_t)opt.timeout_ms * 1000000LL) {
					stg[u->step_stage].timeouts++;
					close_conn(c);
					step_error(u, "timeout", t);
				}
			}
		}
		if (stopping && active == 0)
			break;
		if (t > t_hard)
			break;
		n = bench_epoll_wait_ns(epfd, evs, 512, wait_ns);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			int64_t tn = now_ns();

			if (c->fd < 0)
				continue;
			if (c->st == C_CONNECTING) {
				if (!bench_tcp_connected(c->fd, evs[i].events)) {
					broken(c, tn, "connect");
					continue;
				}
				on_connected(c, tn);
				continue;
			}
			if (evs[i].events & EPOLLOUT) {
				if (flush_out(c) < 0) {
					broken(c, tn, "connection (send)");
					continue;
				}
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				if (on_readable(c) < 0)
					broken(c, now_ns(), "connection reset or closed");
			}
		}
	}
	if (!stopping)
		stage_end(cur_stage);
	/* what never ended */
	for (int i = 0; i < n_users; i++) {
		struct user *u = &users[i];

		if (u->state == U_DONE)
			continue;
		if (u->has_order && !u->order_final) {
			char key[80];

			tot.unfinished_orders++;
			snprintf(key, sizeof(key), "%s unfinished at the end of the drain",
				 step_name[u->step]);
			bench_tally_add(&stg[u->step_stage].errors, key, 1);
			stg[u->step_stage].s[u->step].errors++;
		}
	}
	for (int i = 0; i < n_conns; i++)
		close_conn(&conns[i]);
}

/* ---- output ------------------------------------------------------------- */

static void lat_json(FILE *f, const char *name, const struct bench_hist *h)
{
	bench_hist_json(f, name, h, "n,mean,p50,p90,p95,p99,max", 1000, 2);
}

static void print_stage(FILE *f, int i)
{
	struct stage_stats *s = &stg[i];
	double secs = (double)(s->t1 - s->t0) / 1e9;
	double wall = (double)(s->cpu1.t_ns - s->cpu0.t_ns) / 1e9;
	uint64_t req = 0, err = 0;

	if (secs <= 0)
		secs = opt.stage_secs;
	fprintf(f, "%s{\"stage\":%d,\"%s\":%g,\"secs\":%.3f,\"users_started\":%llu,",
		i ? "," : "", i + 1, opt.mode == M_CLOSED ? "users" : "rate",
		stage_val[i], secs, (unsigned long long)s->users_started);
	fprintf(f, "\"iterations\":%llu,\"iterations_ok\":%llu,\"iterations_failed\":%llu,"
		   "\"iterations_per_s\":%.2f,\"orders_created\":%llu,\"confirmed\":%llu,"
		   "\"cancelled\":%llu,\"seats_confirmed\":%llu,\"connection_errors\":%llu,"
		   "\"resets\":%llu,\"timeouts\":%llu,\"map_rereads\":%llu,"
		   "\"no_free_seat\":%llu,\"steps\":{",
		(unsigned long long)s->iterations, (unsigned long long)s->iter_ok,
		(unsigned long long)s->iter_failed, (double)s->iter_ok / secs,
		(unsigned long long)s->orders_created, (unsigned long long)s->confirmed,
		(unsigned long long)s->cancelled, (unsigned long long)s->seats_confirmed,
		(unsigned long long)s->conn_errors, (unsigned long long)s->resets,
		(unsigned long long)s->timeouts, (unsigned long long)s->map_rereads,
		(unsigned long long)s->no_free_seat);
	for (int k = 0; k < N_STEPS; k++) {
		struct step_stats *p = &s->s[k];
		uint64_t ended = p->ok + p->errors + p->conflicts;

		req += p->requests;
		err += p->errors;
		fprintf(f, "%s\"%s\":{\"requests\":%llu,\"per_s\":%.2f,\"ok\":%llu,"
			   "\"errors\":%llu,\"conflicts\":%llu,\"refused\":%llu,"
			   "\"error_rate\":%.6f,",
			k ? "," : "", step_name[k], (unsigned long long)p->requests,
			(double)p->requests / secs, (unsigned long long)p->ok,
			(unsigned long long)p->errors, (unsigned long long)p->conflicts,
			(unsigned long long)p->refused,
			ended ? (double)p->errors / (double)ended : 0.0);
		lat_json(f, "latency_ms", &p->lat);
		fprintf(f, "}");
	}
	fprintf(f, "},\"requests\":%llu,\"requests_per_s\":%.2f,\"errors\":%llu,"
		   "\"error_rate\":%.6f,",
		(unsigned long long)req, (double)req / secs, (unsigned long long)err,
		req ? (double)err / (double)req : 0.0);
	lat_json(f, "iteration_ms", &s->iter);
	fprintf(f, ",");
	lat_json(f, "authorize_to_final_ms", &s->auth_to_final);
	fprintf(f, ",");
	lat_json(f, "start_lag_ms", &s->start_lag);
	fprintf(f, ",");
	bench_tally_json(f, "error_kinds", &s->errors);
	fprintf(f, ",");
	bench_tally_json(f, "final_status", &s->final);
	fprintf(f, ",\"cpu\":{\"wall_s\":%.3f,\"host_busy_pct\":%.1f,\"client_core_pct\":%.1f,"
		   "\"processes\":{",
		wall, bench_host_busy_pct(&s->cpu0.host, &s->cpu1.host),
		wall > 0 ? 100.0 * (s->cpu1.self_user_s + s->cpu1.self_sys_s -
				    s->cpu0.self_user_s - s->cpu0.self_sys_s) / wall
			 : -1.0);
	for (int k = 0; k < n_pids; k++)
		fprintf(f, "%s\"%s\":{\"pid\":%d,\"core_pct\":%.1f}", k ? "," : "",
			pid_name[k], pid_id[k],
			s->pid0[k] >= 0 && s->pid1[k] >= 0 && wall > 0
				? 100.0 * (s->pid1[k] - s->pid0[k]) / wall
				: -1.0);
	fprintf(f, "}}}");
}

/* ---- set-up -------------------------------------------------------------- */

static int parse_pid(const char *arg, void *settings)
{
	struct vu_opts *o = settings;

	if (o->n_pid_args >= MAX_PIDS)
		return -1;
	o->pid_args[o->n_pid_args++] = arg;
	return 0;
}

#define BENCH_OPTS_TYPE struct vu_opts

static const char *const modes[] = {"closed", "open", NULL};

static const struct bench_opt options[] = {
	BOPT(CHOICE, "mode", mode, .choices = modes, .def = "closed",
	     .help = "closed: --stages are user counts;\n"
		     "open: arrival rates (users/s)"),
	BOPT(ENDPOINT, "target", target, .lo = 8080, .arg = "HOST:PORT",
	     .def = "127.0.0.1:8080", .help = "ticketd"),
	BOPT_TOKENS(tokens_path, "\n(one session per user; required)"),
	BOPT(STR, "stages", stages_text, .arg = "N,N,...", .def = "200,400,1000",
	     .help = "users (closed) or users/s (open) of\neach stage, 8 at most"),
	BOPT(DOUBLE, "stage-secs", stage_secs, .lo = 0.5, .hi = 600, .arg = "S",
	     .def = "15", .help = "each stage's duration"),
	BOPT(DOUBLE, "ramp-secs", ramp_secs, .lo = 0, .hi = 600, .arg = "S",
	     .def = "1", .help = "closed: a stage's new users start over\nthis long"),
	BOPT2(RANGE, "think-ms", think_lo, think_hi, .arg = "A-B", .def = "0",
	      .help = "think time before each user action,\nuniform (0: off)"),
	BOPT2(RANGE, "events", ev_lo, ev_hi, .arg = "A-B",
	      .def = "0-4294967295", .help = "event ids users pick from"),
	BOPT(INT, "max-seats", max_seats, .lo = 1, .hi = MAX_SEATS, .arg = "N",
	     .def = "4", .help = "seats per hold: 1..N at random"),
	BOPT(INT, "max-picks", max_picks, .lo = 1, .hi = 100, .arg = "N",
	     .def = "3", .help = "conflicts in a row before the map is\nread again"),
	BOPT(INT, "hold-seconds", hold_seconds, .lo = 5, .hi = 600, .arg = "S",
	     .def = "120", .help = "holdSeconds of the holds"),
	BOPT(INT, "poll-ms", poll_ms, .lo = 1, .hi = 60000, .arg = "MS",
	     .def = "20", .help = "GET the order again while PENDING"),
	BOPT(INT, "final-timeout-ms", final_timeout_ms, .lo = 1, .hi = 600000,
	     .arg = "MS", .def = "10000",
	     .help = "not final this long after authorize:\nan error"),
	BOPT(INT, "timeout-ms", timeout_ms, .lo = 100, .hi = 600000, .arg = "MS",
	     .def = "15000", .help = "a request unanswered this long is an\nerror"),
	BOPT(INT, "retries", retries, .lo = 0, .hi = 20, .arg = "N", .def = "4",
	     .help = "per step, after a 503 or 429"),
	BOPT(DOUBLE, "retry-cap", retry_cap_s, .lo = 0, .hi = 60, .arg = "S",
	     .def = "4", .help = "the longest wait before a retry"),
	BOPT(INT, "conns", conns, .lo = 1, .hi = MAX_CONNS, .arg = "N",
	     .def = "1000", .help = "open: the connection pool"),
	BOPT(DOUBLE, "drain", drain_s, .lo = 0, .hi = 600, .arg = "S",
	     .def = "20", .help = "after the last stage, orders under way\n"
				  "may end this long"),
	BOPT(STR, "key-prefix", key_prefix, .arg = "STR", .def = "vu",
	     .help = "Idempotency-Key prefix, 40 at most"),
	BOPT(U32, "seed", seed, .lo = 0, .hi = UINT32_MAX, .arg = "N",
	     .def = "1", .help = "random choices' seed"),
	BOPT(FUNC, "pid", pid_args, .parse = parse_pid, .arg = "NAME=PID",
	     .help = "CPU of this process per stage\n(repeatable, 8 at most)"),
	BENCH_OPTS_END,
};

static void parse_stages(void)
{
	const char *p = opt.stages_text;

	while (*p) {
		char *e;
		double v;

		while (*p == ',' || *p == ' ')
			p++;
		if (!*p)
			break;
		errno = 0;
		v = strtod(p, &e);
		if (e == p || errno || !(v > 0) || v > MAX_USERS)
			bench_die("--stages: bad number at '%s'", p);
		if (n_stages >= MAX_STAGES)
			bench_die("--stages: %d at most", MAX_STAGES);
		if (opt.mode == M_CLOSED &&
		    (v != (int)v || (n_stages && v < stage_val[n_stages - 1])))
			bench_die("%s", "--stages: closed-loop user counts are whole and do not fall");
		stage_val[n_stages++] = v;
		p = e;
	}
	if (!n_stages)
		bench_die("%s", "--stages: none given");
}

static void parse_args(int argc, char **argv)
{
	bench_opts_parse(options, &opt, "usage: vu_load --tokens FILE [options]",
			 argc, argv);
	if (!opt.tokens_path)
		bench_die("%s", "--tokens is required");
	if (strlen(opt.key_prefix) > 40)
		bench_die("%s", "--key-prefix is 40 characters at most");
	if (opt.think_hi > 600000)
		bench_die("%s", "--think-ms: 600000 at most");
	parse_stages();
	for (int i = 0; i < opt.n_pid_args; i++) {
		const char *a = opt.pid_args[i], *eq = strchr(a, '=');
		char *e;
		long v;

		if (!eq || eq == a)
			bench_die("--pid: NAME=PID, not '%s'", a);
		v = strtol(eq + 1, &e, 10);
		if (*e || v <= 0 || v > (1 << 22))
			bench_die("--pid: bad pid in '%s'", a);
		pid_name[n_pids] = strndup(a, (size_t)(eq - a));
		pid_id[n_pids++] = (int)v;
	}
	if (opt.mode == M_CLOSED) {
		max_users = (int)stage_val[n_stages - 1];
		n_conns = max_users;
	} else {
		double n = 0;

		for (int i = 0; i < n_stages; i++)
			n += stage_val[i] * opt.stage_secs + 0.5;
		if (n > MAX_USERS)
			bench_die("open: %.0f arrivals, %d at most", n, MAX_USERS);
		max_users = (int)n;
		n_conns = opt.conns;
	}
	if (n_conns > MAX_CONNS)
		bench_die("%d connections, %d at most", n_conns, MAX_CONNS);
}

int main(int argc, char **argv)
{
	long nofile;

	bench_prog = "vu_load";
	bench_keep_std_fds();
	signal(SIGPIPE, SIG_IGN);
	parse_args(argc, argv);
	nofile = bench_raise_nofile();
	if (nofile < n_conns + 64)
		bench_die("open-file limit %ld is below %d", nofile, n_conns + 64);
	if (!(tokens = bench_load_tokens_hex(opt.tokens_path, &n_tokens)))
		exit(2);
	if (n_tokens < 1)
		bench_die("%s", "no tokens");
	rng ^= (uint64_t)(opt.seed + 1) * 0x2545F4914F6CDD1DULL;
	if (!rng)
		rng = 1;
	users = calloc((size_t)max_users, sizeof(*users));
	conns = calloc((size_t)n_conns, sizeof(*conns));
	free_conns = calloc((size_t)n_conns, sizeof(int));
	queue = calloc((size_t)max_users + 1, sizeof(*queue));
	heap = calloc((size_t)max_users + 1, sizeof(*heap));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!users || !conns || !free_conns || !queue || !heap || epfd < 0)
		bench_die("%s", "out of resources");
	for (int i = 0; i < n_conns; i++) {
		conns[i].fd = -1;
		conns[i].idx = i;
		if (!grow_in(&conns[i], IN_START))
			bench_die("%s", "out of memory");
		free_conns[n_free_conns++] = n_conns - 1 - i;
	}

	run();

	fprintf(stdout, "{\"tool\":\"vu_load\",\"mode\":\"%s\",\"target\":\"%s:%u\","
			"\"stage_secs\":%.3f,\"ramp_secs\":%.3f,\"think_ms\":[%u,%u],"
			"\"events\":\"%u-%u\",\"max_seats\":%d,\"max_picks\":%d,"
			"\"poll_ms\":%d,\"retries\":%d,\"tokens\":%d,\"users\":%d,"
			"\"conns\":%d,\"stages\":[",
		opt.mode == M_CLOSED ? "closed" : "open", opt.target.host,
		opt.target.port, opt.stage_secs, opt.ramp_secs, opt.think_lo,
		opt.think_hi, opt.ev_lo, opt.ev_hi, opt.max_seats, opt.max_picks,
		opt.poll_ms, opt.retries, n_tokens, n_users, n_conns);
	for (int i = 0; i < n_stages; i++)
		print_stage(stdout, i);
	fprintf(stdout, "],\"totals\":{\"orders_created\":%llu,\"confirmed\":%llu,"
			"\"cancelled\":%llu,\"seats_confirmed\":%llu,\"not_final\":%llu,"
			"\"unfinished_orders\":%llu,\"sessions_reused\":%llu,"
			"\"parse_errors\":%llu,\"largest_answer_buffer\":%llu,"
			"\"drain_s\":%.3f}}\n",
		(unsigned long long)tot.orders_created,
		(unsigned long long)tot.confirmed, (unsigned long long)tot.cancelled,
		(unsigned long long)tot.seats_confirmed,
		(unsigned long long)tot.not_final,
		(unsigned long long)tot.unfinished_orders,
		(unsigned long long)tot.sessions_reused,
		(unsigned long long)tot.parse_errors,
		(unsigned long long)tot.max_in_cap,
		(double)(now_ns() - t_end) / 1e9);
	return 0;
}
