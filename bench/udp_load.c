/* udp_load: load generator for the UDP hold protocol, and the same workload
 * against Redis + Lua (the prior design's hold), so both are measured end to
 * end with one tool.
 *
 * Threads: each worker owns its socket (or Redis connection), its slots and
 * its statistics; main only starts them, joins them and merges the results
 * after the join. Nothing is shared while they run apart from the read-only
 * options, so there are no locks.
 *
 * A slot is one request in flight. It walks its own seats (the range is cut
 * into disjoint strides, one per slot, so slots never collide) and, on each
 * seat, the op cycle given by --mix (default hold,release): the table never
 * fills up and every session holds at most one seat per slot it serves.
 *
 *   closed loop: every slot is always in flight; a reply sends the slot's
 *     next request (sendmmsg/recvmmsg batches, or a hiredis pipeline).
 *   open loop:   requests leave on a fixed schedule at --rate in total; the
 *     latency counts from the scheduled time, so a stall is not hidden
 *     (no coordinated omission). UDP only.
 *
 * Output: one JSON object on stdout. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench/lib/conn.h"
#include "bench/lib/cpu.h"
#include "bench/lib/hist.h"
#include "bench/lib/msg.h"
#include "bench/lib/opts.h"
#include "bench/lib/proto.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/wire_codec.h"

#define MAX_THREADS 64
#define MAX_WINDOW 4096
#define MAX_BATCH 256
#define MAX_OPS 16
#define MAX_DURATION_S 120.0
#define MAX_WARMUP_S 10.0
#define SLOT_BITS 16 /* request id = generation << 16 | slot */
#define RX_BUF 128   /* a reply is 32 bytes; room to see longer ones */
#define DRAIN_MAX_NS 500000000LL

/* ---- options -------------------------------------------------------------- */

enum backend { BACKEND_UDP, BACKEND_REDIS };
enum loop_mode { MODE_CLOSED, MODE_OPEN };

struct load_opts {
	enum backend backend;
	enum loop_mode mode;
	const char *target; /* UDP host:port */
	const char *redis;  /* Redis host:port */
	const char *lua_dir;
	int threads, window, batch, timeout_ms;
	double duration_s, warmup_s, rate;
	uint32_t event, seat_lo, seat_hi;
	uint8_t ops[MAX_OPS];
	int nops;
	const char *mix;
	const char *token_hex, *tokens_file;
	uint16_t hold_secs;
	int server_pid; /* process whose CPU is the serving cost, or 0 */
	bench_token *tokens;
	int ntokens;
	/* resolved once by main */
	struct bench_endpoint udp, redis_ep;
	char sha[5][41]; /* per op: EVALSHA digests (index = op) */
};

static atomic_bool stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, true);
}

/* CLOCK_MONOTONIC, signed for differences */
static int64_t now_ns(void)
{
	return (int64_t)tkt_mono_ns();
}

/* ---- per-thread state -------------------------------------------------- */

struct slot {
	uint32_t req_id;  /* of the request in flight */
	uint32_t gen;     /* bumps with every send */
	uint32_t global;  /* slot number over all threads */
	uint32_t k;       /* index of the current seat in this slot's stride */
	uint32_t nseats;  /* seats in the stride */
	uint8_t phase;    /* index into ops */
	bool busy;        /* a request is in flight */
	int64_t sent_ns;  /* when it left: the timeout counts from here */
	int64_t lat_ns;   /* where its latency counts from: the send time, or
			   * in the open loop the time it was due */
};

struct stats {
	uint64_t sent, received, invalid, late, timeouts;
	uint64_t send_errors, recv_errors, redis_errors;
	uint64_t status[TKT_STATUS_COUNT];
	uint64_t in_flight_at_end;
	struct bench_hist lat; /* ns */
};

struct worker {
	pthread_t tid;
	int index;
	const struct load_opts *o;
	struct slot *slots;
	int64_t start_ns, measure_ns, end_ns;
	struct stats st;
	char error[256]; /* first fatal error, empty when none */
};

static uint32_t slot_seat(const struct load_opts *o, const struct slot *s)
{
	uint32_t total = (uint32_t)(o->threads * o->window);

	return o->seat_lo + s->global + s->k * total;
}

static const uint8_t *slot_token(const struct load_opts *o,
				 const struct slot *s)
{
	return o->tokens[s->global % (uint32_t)o->ntokens];
}

/* Moves the slot to its next op, and to its next seat after the last op. */
static void slot_advance(const struct load_opts *o, struct slot *s)
{
	if (++s->phase < o->nops)
		return;
	s->phase = 0;
	if (++s->k >= s->nseats)
		s->k = 0;
}

static void slots_init(struct worker *w)
{
	const struct load_opts *o = w->o;
	uint32_t total = (uint32_t)(o->threads * o->window);
	uint64_t range = (uint64_t)o->seat_hi - o->seat_lo + 1;

	for (int i = 0; i < o->window; i++) {
		struct slot *s = &w->slots[i];

		memset(s, 0, sizeof(*s));
		s->global = (uint32_t)(w->index * o->window + i);
		s->nseats = (uint32_t)((range - 1 - s->global) / total + 1);
	}
}

static bool measuring(const struct worker *w, int64_t t)
{
	return t >= w->measure_ns && t < w->end_ns;
}

static void record_reply(struct worker *w, struct slot *s, uint8_t status,
			 int64_t t)
{
	if (!measuring(w, t))
		return;
	w->st.received++;
	w->st.status[status]++;
	bench_hist_add(&w->st.lat, t - s->lat_ns);
}

/* ---- UDP backend ------------------------------------------------------- */

struct udp_io {
	int fd;
	struct mmsghdr tx[MAX_BATCH], rx[MAX_BATCH];
	struct iovec txv[MAX_BATCH], rxv[MAX_BATCH];
	uint8_t txb[MAX_BATCH][TKT_REQ_LEN];
	uint8_t rxb[MAX_BATCH][RX_BUF];
	int tx_slot[MAX_BATCH]; /* which slot each queued request belongs to */
	int64_t tx_sched[MAX_BATCH]; /* open loop: scheduled time, else 0 */
	int ntx;
};

static int udp_open(struct worker *w, struct udp_io *io)
{
	const struct load_opts *o = w->o;
	struct timeval tv = {.tv_sec = 0, .tv_usec = 2000};
	int buf = 4 << 20;

	io->fd = socket(o->udp.addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (io->fd < 0 ||
	    connect(io->fd, (const struct sockaddr *)&o->udp.addr, o->udp.addrlen) <
		    0) {
		snprintf(w->error, sizeof(w->error), "socket/connect: %s",
			 strerror(errno));
		return -1;
	}
	/* Best effort: the kernel caps these at rmem_max / wmem_max. */
	setsockopt(io->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	setsockopt(io->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	/* A short receive timeout lets the closed loop notice timeouts and
	 * the end of the run even when nothing comes back. */
	if (setsockopt(io->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		snprintf(w->error, sizeof(w->error), "SO_RCVTIMEO: %s",
			 strerror(errno));
		return -1;
	}
	for (int i = 0; i < MAX_BATCH; i++) {
		io->txv[i].iov_base = io->txb[i];
		io->txv[i].iov_len = TKT_REQ_LEN;
		io->rxv[i].iov_base = io->rxb[i];
		io->rxv[i].iov_len = RX_BUF;
	}
	return 0;
}

/* Sends the queued requests and stamps their slots with the send time, or
 * in the open loop with the time each was scheduled for. Messages the
 * kernel refuses stay in flight and come back through the timeout path. */
static void udp_flush(struct worker *w, struct udp_io *io)
{
	int done = 0, tries = 0;
	int64_t t;

	if (!io->ntx)
		return;
	t = now_ns();
	for (int i = 0; i < io->ntx; i++) {
		struct slot *s = &w->slots[io->tx_slot[i]];

		memset(&io->tx[i].msg_hdr, 0, sizeof(io->tx[i].msg_hdr));
		io->tx[i].msg_hdr.msg_iov = &io->txv[i];
		io->tx[i].msg_hdr.msg_iovlen = 1;
		s->sent_ns = t;
		s->lat_ns = io->tx_sched[i] ? io->tx_sched[i] : t;
	}
	while (done < io->ntx && tries++ < 4) {
		int n = sendmmsg(io->fd, io->tx + done,
				 (unsigned)(io->ntx - done), 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != ENOBUFS && errno != EAGAIN &&
			    errno != ECONNREFUSED)
				break;
			continue;
		}
		done += n;
	}
	if (measuring(w, now_ns())) {
		w->st.sent += (uint64_t)done;
		w->st.send_errors += (uint64_t)(io->ntx - done);
	}
	io->ntx = 0;
}

static void udp_queue(struct worker *w, struct udp_io *io, int idx,
		      int64_t sched)
{
	const struct load_opts *o = w->o;
	struct slot *s = &w->slots[idx];
	struct tkt_request_fields q = {
		.op = o->ops[s->phase],
		.event_id = o->event,
		.seat_id = slot_seat(o, s),
		.hold_secs = o->hold_secs,
	};

	s->gen++;
	s->req_id = s->gen << SLOT_BITS | (uint32_t)idx;
	s->busy = true;
	q.req_id = s->req_id;
	memcpy(q.token, slot_token(o, s), TKT_TOKEN_LEN);
	tkt_build_request(io->txb[io->ntx], TKT_REQ_LEN, &q);
	io->tx_sched[io->ntx] = sched;
	io->tx_slot[io->ntx++] = idx;
	if (io->ntx == o->batch)
		udp_flush(w, io);
}

/* Handles one datagram; returns the slot it completed, or -1. */
static int udp_take_reply(struct worker *w, const uint8_t *buf, size_t len,
			  int64_t t)
{
	const struct load_opts *o = w->o;
	struct tkt_reply_fields r;
	struct tkt_request_fields q = {0};
	struct slot *s;
	uint32_t idx;

	if (tkt_parse_reply(buf, len, &r) != TKT_REPLY_VALID) {
		w->st.invalid++;
		return -1;
	}
	idx = r.req_id & ((1u << SLOT_BITS) - 1);
	if (idx >= (uint32_t)o->window || !w->slots[idx].busy ||
	    w->slots[idx].req_id != r.req_id) {
		w->st.late++; /* answer to a request we gave up on */
		return -1;
	}
	s = &w->slots[idx];
	q.op = o->ops[s->phase];
	q.req_id = s->req_id;
	q.event_id = o->event;
	q.seat_id = slot_seat(o, s);
	if (tkt_reply_matches(&r, &q) != TKT_REPLY_VALID) {
		w->st.invalid++;
		return -1;
	}
	record_reply(w, s, r.status, t);
	s->busy = false;
	slot_advance(o, s);
	return (int)idx;
}

/* Receives what is there (blocking up to SO_RCVTIMEO for the first one
 * unless dontwait); returns the number of datagrams. */
static int udp_receive(struct worker *w, struct udp_io *io, bool dontwait)
{
	int n;

	for (int i = 0; i < w->o->batch; i++) {
		memset(&io->rx[i].msg_hdr, 0, sizeof(io->rx[i].msg_hdr));
		io->rx[i].msg_hdr.msg_iov = &io->rxv[i];
		io->rx[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(io->fd, io->rx, (unsigned)w->o->batch,
		     dontwait ? MSG_DONTWAIT : MSG_WAITFORONE, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			w->st.recv_errors++;
		return 0;
	}
	return n;
}

/* Receives what is there (udp_receive) and matches each reply to its slot:
 * the slots it completed go to done[] (room for a batch), *t is when they
 * came. Returns how many completed. */
static int udp_collect(struct worker *w, struct udp_io *io, bool dontwait,
		       int *done, int64_t *t)
{
	int n = udp_receive(w, io, dontwait), k = 0;

	*t = now_ns();
	for (int i = 0; i < n; i++) {
		int idx = udp_take_reply(w, io->rxb[i], io->rx[i].msg_len, *t);

		if (idx >= 0)
			done[k++] = idx;
	}
	return k;
}

/* Gives up on requests older than the timeout. In the closed loop the slot
 * sends the same op again (new request id); in the open loop it is freed. */
static void udp_expire(struct worker *w, struct udp_io *io, int64_t t,
		       bool resend, int *free_stack, int *nfree)
{
	int64_t limit = (int64_t)w->o->timeout_ms * 1000000;

	for (int i = 0; i < w->o->window; i++) {
		struct slot *s = &w->slots[i];

		if (!s->busy || t - s->sent_ns < limit)
			continue;
		if (measuring(w, t))
			w->st.timeouts++;
		if (resend) {
			udp_queue(w, io, i, 0);
		} else {
			s->busy = false;
			slot_advance(w->o, s);
			free_stack[(*nfree)++] = i;
		}
	}
}

/* After the measured window: finishes every slot's op cycle (a hold gets
 * its release), so a run leaves no seat held that the next run would find
 * TAKEN; bounded in time. Nothing here is counted. */
static void udp_drain(struct worker *w, struct udp_io *io)
{
	const struct load_opts *o = w->o;
	int64_t until = now_ns() + DRAIN_MAX_NS, last_scan = now_ns();
	int busy = 0, done[MAX_BATCH];

	for (int i = 0; i < o->window; i++)
		if (!w->slots[i].busy && w->slots[i].phase != 0)
			udp_queue(w, io, i, 0);
	udp_flush(w, io);
	for (;;) {
		int64_t t = now_ns();
		bool pending = false;
		int n;

		busy = 0;
		for (int i = 0; i < o->window; i++) {
			busy += w->slots[i].busy;
			pending |= w->slots[i].busy || w->slots[i].phase != 0;
		}
		if (!pending || t >= until || atomic_load(&stop_requested))
			break;
		n = udp_collect(w, io, false, done, &t);
		for (int i = 0; i < n; i++)
			if (w->slots[done[i]].phase != 0)
				udp_queue(w, io, done[i], 0);
		if (t - last_scan >= 1000000) {
			udp_expire(w, io, t, true, NULL, NULL);
			last_scan = t;
		}
		udp_flush(w, io);
	}
	w->st.in_flight_at_end = (uint64_t)busy;
}

static void udp_closed_loop(struct worker *w, struct udp_io *io)
{
	int64_t last_scan = now_ns();
	int done[MAX_BATCH];

	for (int i = 0; i < w->o->window; i++)
		udp_queue(w, io, i, 0);
	udp_flush(w, io);
	for (;;) {
		int64_t t = now_ns();
		int n;

		if (t >= w->end_ns || atomic_load(&stop_requested))
			break;
		n = udp_collect(w, io, false, done, &t);
		for (int i = 0; i < n && t < w->end_ns; i++)
			udp_queue(w, io, done[i], 0);
		udp_flush(w, io);
		if (t - last_scan >= 1000000) {
			if (t < w->end_ns)
				udp_expire(w, io, t, true, NULL, NULL);
			udp_flush(w, io);
			last_scan = t;
		}
	}
}

static void udp_open_loop(struct worker *w, struct udp_io *io)
{
	const struct load_opts *o = w->o;
	double per_thread = o->rate / o->threads;
	int64_t interval = (int64_t)(1e9 / per_thread);
	int64_t next_due = w->start_ns, last_scan = w->start_ns;
	int *free_stack = calloc((size_t)o->window, sizeof(int));
	int nfree = 0, done[MAX_BATCH];

	if (!free_stack) {
		snprintf(w->error, sizeof(w->error), "out of memory");
		return;
	}
	if (interval < 1)
		interval = 1;
	for (int i = o->window - 1; i >= 0; i--)
		free_stack[nfree++] = i;
	for (;;) {
		int64_t t = now_ns();
		int n;

		if (t >= w->end_ns || atomic_load(&stop_requested))
			break;
		/* Send what is due; a request waiting for a free slot keeps
		 * its scheduled time, so the wait shows in its latency. */
		while (next_due <= t && nfree > 0 && next_due < w->end_ns) {
			udp_queue(w, io, free_stack[--nfree], next_due);
			next_due += interval;
		}
		udp_flush(w, io);
		n = udp_collect(w, io, true, done, &t);
		for (int i = 0; i < n; i++)
			free_stack[nfree++] = done[i];
		if (t - last_scan >= 1000000) {
			udp_expire(w, io, t, false, free_stack, &nfree);
			last_scan = t;
		}
		if (n == 0 && (next_due > t || nfree == 0)) {
			/* nothing to read and nothing due, or nothing free to
			 * send with: wait for a reply or the next due time */
			struct pollfd pfd = {.fd = io->fd, .events = POLLIN};
			int64_t wait_ns = next_due > t ? next_due - t : 1000000;
			struct timespec ts = {
				.tv_sec = 0,
				.tv_nsec = wait_ns < 1000000 ? wait_ns : 1000000,
			};

			ppoll(&pfd, 1, &ts, NULL);
		}
	}
	free(free_stack);
}

/* ---- Redis backend ------------------------------------------------------ */

struct redis_fifo {
	int *slot; /* ring of slots in pipeline order */
	int head, len, cap;
	int unflushed; /* entries appended since the last send */
};

static void redis_append(struct worker *w, redisContext *c,
			 struct redis_fifo *f, int idx)
{
	const struct load_opts *o = w->o;
	struct slot *s = &w->slots[idx];
	uint8_t op = o->ops[s->phase];
	uint32_t seat = slot_seat(o, s);
	unsigned ttl_ms = (o->hold_secs ? o->hold_secs
					: TKT_HOLD_SECS_DEFAULT) * 1000u;
	char holder[TKT_TOKEN_HEX_LEN + 1];

	tkt_token_to_hex(slot_token(o, s), holder);
	switch (op) {
	case TKT_OP_HOLD:
		redisAppendCommand(c, "EVALSHA %s 2 seat:{%u}:%u sold:{%u} %s %u %u",
				   o->sha[op], o->event, seat, o->event, holder,
				   ttl_ms, seat);
		break;
	case TKT_OP_RELEASE:
		redisAppendCommand(c, "EVALSHA %s 1 seat:{%u}:%u %s",
				   o->sha[op], o->event, seat, holder);
		break;
	case TKT_OP_EXTEND:
		redisAppendCommand(c, "EVALSHA %s 1 seat:{%u}:%u %s %u",
				   o->sha[op], o->event, seat, holder, ttl_ms);
		break;
	default:
		redisAppendCommand(c, "EVALSHA %s 2 seat:{%u}:%u sold:{%u} %u",
				   o->sha[TKT_OP_QUERY], o->event, seat,
				   o->event, seat);
		break;
	}
	s->busy = true;
	f->slot[(f->head + f->len) % f->cap] = idx;
	f->len++;
	f->unflushed++;
}

/* Stamps the requests about to leave with the flush time. */
static void redis_stamp(struct worker *w, struct redis_fifo *f, int64_t t)
{
	for (int i = f->len - f->unflushed; i < f->len; i++) {
		struct slot *s = &w->slots[f->slot[(f->head + i) % f->cap]];

		s->sent_ns = t;
		s->lat_ns = t;
	}
	if (measuring(w, t))
		w->st.sent += (uint64_t)f->unflushed;
	f->unflushed = 0;
}

static int redis_take_reply(struct worker *w, struct redis_fifo *f,
			    redisReply *r, int64_t t)
{
	int idx = f->slot[f->head];
	struct slot *s = &w->slots[idx];

	f->head = (f->head + 1) % f->cap;
	f->len--;
	s->busy = false;
	if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0 &&
	    r->integer < TKT_STATUS_COUNT) {
		record_reply(w, s, (uint8_t)r->integer, t);
	} else {
		if (measuring(w, t))
			w->st.redis_errors++;
		if (!w->error[0] && r->type == REDIS_REPLY_ERROR)
			snprintf(w->error, sizeof(w->error),
				 "redis replied: %s", r->str);
	}
	slot_advance(w->o, s);
	freeReplyObject(r);
	return idx;
}

static void redis_loop(struct worker *w)
{
	const struct load_opts *o = w->o;
	struct timeval tv = {.tv_sec = o->timeout_ms / 1000,
			     .tv_usec = (o->timeout_ms % 1000) * 1000};
	struct redis_fifo f = {.cap = o->window};
	redisContext *c;

	c = redisConnectWithTimeout(o->redis_ep.host, o->redis_ep.port, tv);
	if (!c || c->err) {
		snprintf(w->error, sizeof(w->error), "redis connect: %s",
			 c ? c->errstr : "out of memory");
		goto out;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(w->error, sizeof(w->error), "redis timeout: %s",
			 c->errstr);
		goto out;
	}
	f.slot = calloc((size_t)f.cap, sizeof(int));
	if (!f.slot) {
		snprintf(w->error, sizeof(w->error), "out of memory");
		goto out;
	}
	for (int i = 0; i < o->window; i++)
		redis_append(w, c, &f, i);
	while (f.len > 0) {
		bool open = true;
		void *rv = NULL;
		int64_t t = now_ns();

		if (t >= w->end_ns || atomic_load(&stop_requested))
			open = false;
		redis_stamp(w, &f, t);
		/* flushes the pipeline, then blocks for one reply */
		if (redisGetReply(c, &rv) != REDIS_OK) {
			snprintf(w->error, sizeof(w->error), "redis: %s",
				 c->errstr);
			w->st.timeouts += (uint64_t)f.len;
			break;
		}
		t = now_ns();
		do {
			int idx = redis_take_reply(w, &f, rv, t);

			/* after the window, only finish the op cycle (a hold
			 * gets its release) so no seat stays held */
			if ((open && t < w->end_ns) ||
			    (w->slots[idx].phase != 0 &&
			     t < w->end_ns + DRAIN_MAX_NS))
				redis_append(w, c, &f, idx);
			rv = NULL;
			/* more replies already read? take them too */
			if (f.len == f.unflushed ||
			    redisReaderGetReply(c->reader, &rv) != REDIS_OK)
				break;
		} while (rv);
		if (!open && now_ns() > w->end_ns + DRAIN_MAX_NS)
			break;
	}
	w->st.in_flight_at_end = (uint64_t)f.len;
out:
	free(f.slot);
	if (c)
		redisFree(c);
}

/* ---- workers --------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct udp_io *io;

	slots_init(w);
	if (w->o->backend == BACKEND_REDIS) {
		redis_loop(w);
		return NULL;
	}
	io = calloc(1, sizeof(*io));
	if (!io) {
		snprintf(w->error, sizeof(w->error), "out of memory");
		return NULL;
	}
	io->fd = -1;
	if (udp_open(w, io) == 0) {
		if (w->o->mode == MODE_CLOSED)
			udp_closed_loop(w, io);
		else
			udp_open_loop(w, io);
		udp_drain(w, io);
	}
	if (io->fd >= 0)
		close(io->fd);
	free(io);
	return NULL;
}

/* ---- set-up in main --------------------------------------------------------- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    n < (1 << 20) && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf) {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

/* Loads the Lua script of each op into Redis (SCRIPT LOAD) and keeps its
 * digest for EVALSHA. */
static int redis_prepare(struct load_opts *o)
{
	static const char *const files[5] = {
		[TKT_OP_HOLD] = "redis_hold.lua",
		[TKT_OP_RELEASE] = "redis_release.lua",
		[TKT_OP_EXTEND] = "redis_extend.lua",
		[TKT_OP_QUERY] = "redis_query.lua",
	};
	struct timeval tv = {.tv_sec = 2};
	redisContext *c;
	int ret = -1;

	if (bench_endpoint_parse(o->redis, 6379, &o->redis_ep) < 0)
		return -1;
	c = redisConnectWithTimeout(o->redis_ep.host, o->redis_ep.port, tv);
	if (!c || c->err) {
		fprintf(stderr, "udp_load: redis %s: %s\n", o->redis,
			c ? c->errstr : "out of memory");
		goto out;
	}
	for (int op = TKT_OP_HOLD; op <= TKT_OP_QUERY; op++) {
		char path[4096];
		char *src;
		redisReply *r;

		snprintf(path, sizeof(path), "%s/%s", o->lua_dir, files[op]);
		src = read_file(path);
		if (!src) {
			fprintf(stderr, "udp_load: %s: %s\n", path,
				strerror(errno ? errno : EIO));
			goto out;
		}
		r = redisCommand(c, "SCRIPT LOAD %s", src);
		free(src);
		if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
			fprintf(stderr, "udp_load: SCRIPT LOAD %s: %s\n", path,
				r && r->type == REDIS_REPLY_ERROR ? r->str
								  : c->errstr);
			if (r)
				freeReplyObject(r);
			goto out;
		}
		memcpy(o->sha[op], r->str, 40);
		o->sha[op][40] = '\0';
		freeReplyObject(r);
	}
	ret = 0;
out:
	if (c)
		redisFree(c);
	return ret;
}


#define BENCH_OPTS_TYPE struct load_opts

static const char *const backends[] = {"udp", "redis", NULL};
static const char *const modes[] = {"closed", "open", NULL};

static const struct bench_opt options[] = {
	BOPT(STR, "target", target, .arg = "HOST:PORT", .def = "127.0.0.1:7000",
	     .help = "UDP door"),
	BOPT(CHOICE, "backend", backend, .choices = backends, .def = "udp",
	     .help = "the UDP door, or the same workload as\n"
		     "Redis + Lua (EVALSHA, pipelined)"),
	BOPT(STR, "redis", redis, .arg = "HOST:PORT",
	     .help = "Redis for --backend redis"),
	BOPT(STR, "lua-dir", lua_dir, .arg = "DIR", .def = "bench",
	     .help = "where redis_*.lua live"),
	BOPT(INT, "threads", threads, .lo = 1, .hi = MAX_THREADS, .arg = "N",
	     .def = "1", .help = "worker threads"),
	BOPT(DOUBLE, "duration", duration_s, .lo = 0.1, .hi = MAX_DURATION_S,
	     .arg = "S", .def = "5", .help = "measured seconds"),
	BOPT(DOUBLE, "warmup", warmup_s, .lo = 0, .hi = MAX_WARMUP_S,
	     .arg = "S", .def = "0.5", .help = "unmeasured seconds first"),
	BOPT(CHOICE, "mode", mode, .choices = modes, .def = "closed",
	     .help = "closed or open loop"),
	BOPT(INT, "window", window, .lo = 1, .hi = MAX_WINDOW, .arg = "W",
	     .def = "64", .help = "requests in flight per thread"),
	BOPT(INT, "batch", batch, .lo = 1, .hi = MAX_BATCH, .arg = "B",
	     .def = "32", .help = "sendmmsg/recvmmsg batch"),
	BOPT(DOUBLE, "rate", rate, .lo = 1, .hi = 1e8, .arg = "R",
	     .help = "open loop: total requests/s"),
	BOPT(INT, "timeout-ms", timeout_ms, .lo = 1, .hi = 60000, .arg = "N",
	     .def = "1000", .help = "a request unanswered this long is a\n"
				    "timeout"),
	BOPT(STR, "token", token_hex, .arg = "HEX32",
	     .help = "the session token of every slot"),
	BOPT_TOKENS(tokens_file, ";\nslot i uses token i mod count"),
	BOPT_EVENT(event),
	BOPT_SEATS(seat_lo, seat_hi, "0-16383",
		   "seat range; needs at least threads x\nwindow seats"),
	BOPT(STR, "mix", mix, .arg = "OP[,OP...]", .def = "hold,release",
	     .help = "op cycle per seat"),
	BOPT(U16, "hold-secs", hold_secs, .lo = 0, .hi = UINT16_MAX, .arg = "S",
	     .help = "hold/extend seconds (default 0 = 120)"),
	BOPT(INT, "server-pid", server_pid, .lo = 1, .hi = 1 << 22,
	     .arg = "PID",
	     .help = "also report this process's CPU (the\n"
		     "server: redis-server, ticketd)"),
	BENCH_OPT_HEADING("CPU figures cover the measured window: this process "
			  "(getrusage),\nthe machine (/proc/stat) and "
			  "--server-pid (/proc/PID/stat)."),
	BENCH_OPTS_END,
};

/* ---- CPU accounting over the measured window ------------------------------ */

/* Sleeps until the monotonic time t, or until a signal asks us to stop. */
static void sleep_until(int64_t t)
{
	struct timespec ts = {.tv_sec = t / 1000000000,
			      .tv_nsec = t % 1000000000};

	while (!atomic_load(&stop_requested) &&
	       clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
		       EINTR)
		;
}

/* ---- report ------------------------------------------------------------------- */

static void print_report(const struct load_opts *o, struct worker *ws,
			 double measured_s, double wall_s,
			 const struct bench_cpu_reading *a,
			 const struct bench_cpu_reading *b)
{
	struct stats sum;
	double user = b->self_user_s - a->self_user_s;
	double sys = b->self_sys_s - a->self_sys_s;
	double tick_ns = bench_tick_ns();
	const char *err = NULL;
	bool first = true;

	memset(&sum, 0, sizeof(sum));
	for (int i = 0; i < o->threads; i++) {
		const struct stats *s = &ws[i].st;

		sum.sent += s->sent;
		sum.received += s->received;
		sum.invalid += s->invalid;
		sum.late += s->late;
		sum.timeouts += s->timeouts;
		sum.send_errors += s->send_errors;
		sum.recv_errors += s->recv_errors;
		sum.redis_errors += s->redis_errors;
		sum.in_flight_at_end += s->in_flight_at_end;
		for (int k = 0; k < TKT_STATUS_COUNT; k++)
			sum.status[k] += s->status[k];
		bench_hist_merge(&sum.lat, &s->lat);
		if (!err && ws[i].error[0])
			err = ws[i].error;
	}
	printf("{\"tool\":\"udp_load\",\"backend\":\"%s\",\"target\":\"%s\","
	       "\"mode\":\"%s\",\"threads\":%d,\"window\":%d,\"batch\":%d,",
	       o->backend == BACKEND_UDP ? "udp" : "redis",
	       o->backend == BACKEND_UDP ? o->target : o->redis,
	       o->mode == MODE_CLOSED ? "closed" : "open", o->threads,
	       o->window, o->batch);
	if (o->mode == MODE_OPEN)
		printf("\"rate\":%.0f,", o->rate);
	printf("\"duration_s\":%.3f,\"warmup_s\":%.3f,\"measured_s\":%.3f,"
	       "\"mix\":\"%s\",\"event\":%u,\"seats\":[%u,%u],\"tokens\":%d,"
	       "\"timeout_ms\":%d,",
	       o->duration_s, o->warmup_s, measured_s, o->mix, o->event,
	       o->seat_lo, o->seat_hi, o->ntokens, o->timeout_ms);
	printf("\"sent\":%llu,\"received\":%llu,\"timeouts\":%llu,"
	       "\"invalid\":%llu,\"late\":%llu,\"send_errors\":%llu,"
	       "\"recv_errors\":%llu,\"redis_errors\":%llu,"
	       "\"in_flight_at_end\":%llu,\"status\":{",
	       (unsigned long long)sum.sent, (unsigned long long)sum.received,
	       (unsigned long long)sum.timeouts,
	       (unsigned long long)sum.invalid, (unsigned long long)sum.late,
	       (unsigned long long)sum.send_errors,
	       (unsigned long long)sum.recv_errors,
	       (unsigned long long)sum.redis_errors,
	       (unsigned long long)sum.in_flight_at_end);
	for (int k = 0; k < TKT_STATUS_COUNT; k++) {
		if (!sum.status[k])
			continue;
		printf("%s\"%s\":%llu", first ? "" : ",",
		       tkt_status_name((unsigned)k),
		       (unsigned long long)sum.status[k]);
		first = false;
	}
	printf("},\"decisions_per_s\":%.1f,",
	       measured_s > 0 ? (double)sum.received / measured_s : 0.0);
	bench_hist_json(stdout, "latency_us", &sum.lat,
			"count,min,mean,p50,p90,p99,p999,max", 1e3, 2);
	printf(",");
	/* client CPU over the measured window (getrusage of this process) */
	printf("\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"window_s\":%.3f,"
	       "\"wall_s\":%.3f,\"client_ns_per_decision\":%.1f}",
	       user, sys, (double)(b->t_ns - a->t_ns) / 1e9, wall_s,
	       sum.received ? (user + sys) * 1e9 / (double)sum.received : 0.0);
	/* the whole machine over the same window (/proc/stat, all CPUs) */
	if (a->host.ok && b->host.ok) {
		double d[BENCH_CPU_FIELDS], busy;
		double n = sum.received ? (double)sum.received : 1;

		for (int i = 0; i < BENCH_CPU_FIELDS; i++)
			d[i] = (double)(b->host.ticks[i] - a->host.ticks[i]) *
			       tick_ns;
		busy = (double)(bench_host_busy(&b->host) -
				bench_host_busy(&a->host)) *
		       tick_ns;
		printf(",\"host_cpu\":{\"user_ns\":%.0f,\"system_ns\":%.0f,"
		       "\"irq_ns\":%.0f,\"softirq_ns\":%.0f,\"idle_ns\":%.0f,"
		       "\"busy_ns\":%.0f,\"softirq_ns_per_decision\":%.1f,"
		       "\"busy_ns_per_decision\":%.1f",
		       d[BENCH_CPU_USER] + d[BENCH_CPU_NICE], d[BENCH_CPU_SYSTEM],
		       d[BENCH_CPU_IRQ], d[BENCH_CPU_SOFTIRQ],
		       d[BENCH_CPU_IDLE] + d[BENCH_CPU_IOWAIT], busy,
		       d[BENCH_CPU_SOFTIRQ] / n, busy / n);
		if (a->pid_s >= 0 && b->pid_s >= 0) {
			double srv = (b->pid_s - a->pid_s) * 1e9;

			printf(",\"server_pid\":%d,\"server_ns\":%.0f,"
			       "\"server_ns_per_decision\":%.1f",
			       o->server_pid, srv, srv / n);
		}
		printf("}");
	}
	if (err) {
		printf(",\"error\":\"");
		for (const char *p = err; *p; p++)
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if ((unsigned char)*p >= 0x20)
				putchar(*p);
		printf("\"");
	}
	printf("}\n");
}

int main(int argc, char **argv)
{
	struct load_opts o = {0}; /* the defaults are in options[] */
	struct worker *ws = NULL;
	/* at the start and the end of the measured window, so the CPU
	 * figures and the decision count cover the same interval */
	struct bench_cpu_reading snap0, snap1;
	struct sigaction sa = {.sa_handler = on_signal};
	int64_t t0, t1;
	int started = 0, rc = 2;

	bench_prog = "udp_load";
	bench_opts_parse(options, &o, "usage: udp_load [options]", argc, argv);
	o.nops = bench_parse_mix(o.mix, o.ops, MAX_OPS);
	if (o.nops < 0) {
		fprintf(stderr, "udp_load: --mix is ops from hold, release, "
				"extend, query, comma-separated\n");
		return 2;
	}
	if ((uint64_t)o.seat_hi - o.seat_lo + 1 <
	    (uint64_t)o.threads * (uint64_t)o.window) {
		fprintf(stderr, "udp_load: %d threads x window %d need at least "
				"%d seats; --seats gives %llu\n",
			o.threads, o.window, o.threads * o.window,
			(unsigned long long)o.seat_hi - o.seat_lo + 1);
		return 2;
	}
	if (o.batch > o.window)
		o.batch = o.window;
	if (o.mode == MODE_OPEN && o.rate <= 0) {
		fprintf(stderr, "udp_load: --mode open needs --rate\n");
		return 2;
	}
	if (o.backend == BACKEND_REDIS && (o.mode != MODE_CLOSED || !o.redis)) {
		fprintf(stderr, "udp_load: --backend redis needs --redis and "
				"runs closed loop only\n");
		return 2;
	}
	o.ntokens = bench_tokens_from(o.tokens_file, o.token_hex, &o.tokens);
	if (o.ntokens < 0)
		return 2;
	/* Each slot holds at most one seat at a time, and slot i uses token
	 * i mod count: say so when that exceeds the contract's default limit
	 * of 8 seats per session, which would turn holds into LIMIT_EXCEEDED. */
	if (o.backend == BACKEND_UDP &&
	    memchr(o.ops, TKT_OP_HOLD, (size_t)o.nops) &&
	    (o.threads * o.window + o.ntokens - 1) / o.ntokens > 8)
		fprintf(stderr, "udp_load: note: %d slots share %d token(s): up "
				"to %d holds per session (the default limit is "
				"8; give more tokens with --tokens)\n",
			o.threads * o.window, o.ntokens,
			(o.threads * o.window + o.ntokens - 1) / o.ntokens);
	if (o.backend == BACKEND_UDP &&
	    bench_endpoint_parse(o.target, TKT_DEFAULT_PORT, &o.udp) < 0)
		goto out;
	if (o.backend == BACKEND_REDIS && redis_prepare(&o) < 0)
		goto out;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ws = calloc((size_t)o.threads, sizeof(*ws));
	if (!ws)
		goto out;
	for (int i = 0; i < o.threads; i++) {
		ws[i].slots = calloc((size_t)o.window, sizeof(struct slot));
		if (!ws[i].slots)
			goto out;
	}
	t0 = now_ns();
	for (int i = 0; i < o.threads; i++) {
		ws[i].index = i;
		ws[i].o = &o;
		ws[i].start_ns = t0;
		ws[i].measure_ns = t0 + (int64_t)(o.warmup_s * 1e9);
		ws[i].end_ns = ws[i].measure_ns + (int64_t)(o.duration_s * 1e9);
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i])) {
			fprintf(stderr, "udp_load: pthread_create failed\n");
			atomic_store(&stop_requested, true);
			break;
		}
		started++;
	}
	if (started == o.threads) {
		sleep_until(ws[0].measure_ns);
		bench_cpu_read(&snap0, o.server_pid);
		sleep_until(ws[0].end_ns);
		bench_cpu_read(&snap1, o.server_pid);
	}
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].tid, NULL);
	t1 = now_ns();
	if (started == o.threads) {
		double measured = o.duration_s;

		if (atomic_load(&stop_requested)) {
			/* interrupted: only the part that ran counts */
			int64_t ran = t1 - ws[0].measure_ns;

			measured = ran > 0 ? (double)ran / 1e9 : 0;
			if (measured > o.duration_s)
				measured = o.duration_s;
		}
		print_report(&o, ws, measured, (double)(t1 - t0) / 1e9, &snap0,
			     &snap1);
		rc = 0;
		for (int i = 0; i < o.threads; i++)
			if (ws[i].error[0]) {
				fprintf(stderr, "udp_load: thread %d: %s\n", i,
					ws[i].error);
				rc = 1;
			}
	}
out:
	if (ws)
		for (int i = 0; i < o.threads; i++)
			free(ws[i].slots);
	free(ws);
	free(o.tokens);
	return rc;
}
