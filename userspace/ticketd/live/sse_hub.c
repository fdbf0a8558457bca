#include "userspace/ticketd/live/sse_hub.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/seats/journal.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/seats/seat_view.h"
#include "userspace/ticketd/ticketd.h"

/* Longest Last-Event-ID gap we replay; beyond it a snapshot is cheaper
 * (and the Redis stream keeps about JOURNAL_STREAM_LEN entries anyway). */
#define REPLAY_MAX (JOURNAL_STREAM_LEN + 8192)
/* How often the hub thread looks for streams stuck behind the log. */
#define SCAN_MS 500
#define PING_FRAME ": ping\n\n"
#define PING_LEN (sizeof(PING_FRAME) - 1)

static const double delay_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
				      0.025,  0.05,  0.1,    0.25,  0.5,
				      1.0,    2.5,   5.0};
#define N_DELAY_BUCKETS (sizeof(delay_bounds) / sizeof(delay_bounds[0]))

/* One complete SSE frame (or several, for a replay), immutable once built.
 * Log frames belong to their topic's log and are read under its lock;
 * snapshot and replay frames are shared by reference count and read
 * without a lock. */
struct sse_frame {
	atomic_uint refs;
	uint64_t version; /* of the seat change, or of the snapshot */
	uint64_t mono_ns; /* the change record's CLOCK_MONOTONIC time */
	size_t len;
	char data[];
};

struct sse_client {
	struct sse_topic *t;
	const struct sse_conn_ops *ops;
	void *conn;
	int fd;
	/* Guarded by t->lock. */
	struct sse_client *prev, *next; /* t->clients */
	struct sse_client *wnext;       /* t->waiters, while suspended */
	uint64_t cursor;                /* next log sequence number to send */
	uint64_t min_version;           /* log frames up to it are covered */
	size_t off;                     /* bytes of the cursor frame sent */
	uint64_t ping_gen;
	uint64_t end_gen; /* t->end_gen when it subscribed */
	bool suspended, dropped, released;
	bool peer_gone; /* dropped because the peer hung up */
	struct sse_client *gnext; /* hub->graveyard, after release */
	/* Owned by the connection's thread: what goes out before the log. */
	struct sse_frame *pre;
	size_t pre_off;
};

struct sse_topic {
	struct sse_hub *hub;
	const struct event_info *event;
	pthread_mutex_t lock; /* guards everything below but the seat JSON */
	/* The log: frames with sequence numbers [first, next), frame s at
	 * log[s % cap]; bytes is their total length. */
	struct sse_frame **log;
	uint64_t first, next;
	size_t bytes;
	struct sse_client *clients; /* every subscriber */
	struct sse_client *waiters; /* the suspended ones */
	uint64_t ping_gen;
	bool wake;    /* frames arrived while there were waiters */
	bool closing; /* the hub is closing: streams end */
	/* sse_hub_end_event: streams that subscribed before it end */
	uint64_t end_gen;
	struct sse_frame *snap; /* last snapshot built, if still current */
	/* Read-only after start: each seat's JSON up to its status, e.g.
	 * {"id":3,"r":0,"c":3,"label":"A4","price":5000,"status":" */
	char *seat_json;
	uint32_t *seat_off; /* n_seats + 1 offsets into seat_json */
};

struct sse_hub {
	struct ticketd *app;
	struct sse_topic *topics; /* parallel to app->catalog.events */
	uint32_t n_topics;
	uint32_t queue_events, max_clients;
	size_t queue_bytes;
	unsigned ping_ms;

	/* The hub thread sleeps in epoll_wait on evfd (work to do) and on
	 * every stream's socket for EPOLLRDHUP: a suspended connection is out
	 * of libmicrohttpd's poll set, so only we can see its peer leave. */
	pthread_t thread;
	bool thread_on;
	int epfd, evfd;
	atomic_bool stop;
	pthread_mutex_t lock; /* a leaf: guards graveyard */
	/* Released clients, freed by the hub thread between two epoll_wait
	 * calls: an event already returned may still point at one. */
	struct sse_client *graveyard;
	/* Held by whoever resumes detached waiters outside a topic lock, so
	 * sse_hub_close cannot return while a resume is still pending. */
	pthread_mutex_t resume_lock;
	atomic_bool closing;

	atomic_uint subscribers;
	atomic_uint_least64_t events_sent, snapshots_sent, pings_sent;
	atomic_uint_least64_t replays_ring, replays_redis, replay_fallbacks;
	atomic_uint_least64_t dropped_slow, peer_gone, rejected_limit, published;
	atomic_uint_least64_t unframed; /* published with no stream: no frame made */
	atomic_uint_least64_t delay_buckets[N_DELAY_BUCKETS];
	atomic_uint_least64_t delay_count, delay_sum_ns;
};

static struct sse_frame *frame_new(size_t cap)
{
	struct sse_frame *f = malloc(sizeof(*f) + cap);

	if (!f)
		return NULL;
	atomic_init(&f->refs, 1);
	f->version = 0;
	f->mono_ns = 0;
	f->len = 0;
	return f;
}

static struct sse_frame *frame_ref(struct sse_frame *f)
{
	atomic_fetch_add(&f->refs, 1);
	return f;
}

static void frame_unref(struct sse_frame *f)
{
	if (f && atomic_fetch_sub(&f->refs, 1) == 1)
		free(f);
}

#define SEAT_FRAME_MAX 128

/* The wire form of one change; returns its length. */
static size_t format_seat(char *out, uint64_t version, uint32_t seat_id,
			  uint8_t status)
{
	int n = snprintf(out, SEAT_FRAME_MAX,
			 "event: seat\nid: %" PRIu64 "\ndata: {\"seatId\":%" PRIu32
			 ",\"status\":\"%s\",\"version\":%" PRIu64 "}\n\n",
			 version, seat_id, seat_status_name(status > SEAT_SOLD ? SEAT_AVAILABLE : status),
			 version);

	return n > 0 && n < SEAT_FRAME_MAX ? (size_t)n : 0;
}

/* ---- snapshots ---- */

/* Precomputes each seat's JSON prefix with jansson's own escaping, so a
 * snapshot is the byte-for-byte body GET /api/events/{id}/seats builds. */
static int topic_seat_json(struct sse_topic *t)
{
	const struct event_info *e = t->event;
	size_t cap = 64 * (size_t)e->n_seats + 1, len = 0;

	t->seat_json = malloc(cap);
	t->seat_off = calloc(e->n_seats + 1, sizeof(*t->seat_off));
	if (!t->seat_json || !t->seat_off)
		return -ENOMEM;
	for (uint32_t s = 0; s < e->n_seats; s++) {
		const struct seat_info *si = &e->seats[s];
		json_t *label = json_string(si->label);
		char *lj = label ? json_dumps(label, JSON_ENCODE_ANY) : NULL;
		char tmp[256];
		int n;

		json_decref(label);
		if (!lj)
			return -ENOMEM;
		n = snprintf(tmp, sizeof(tmp),
			     "{\"id\":%" PRIu32 ",\"r\":%u,\"c\":%u,\"label\":%s,"
			     "\"price\":%" PRIu32 ",\"status\":\"",
			     s, (unsigned)si->r, (unsigned)si->c, lj, si->price);
		free(lj);
		if (n < 0 || (size_t)n >= sizeof(tmp))
			return -EINVAL;
		if (len + (size_t)n + 1 > cap) {
			char *nb;

			cap = (cap + (size_t)n) * 2;
			nb = realloc(t->seat_json, cap);
			if (!nb)
				return -ENOMEM;
			t->seat_json = nb;
		}
		t->seat_off[s] = (uint32_t)len;
		memcpy(t->seat_json + len, tmp, (size_t)n);
		len += (size_t)n;
	}
	t->seat_off[e->n_seats] = (uint32_t)len;
	return 0;
}

/* "event: snapshot" at version v from a copy of the published map. */
static struct sse_frame *build_snapshot(const struct sse_topic *t, uint64_t v,
					const uint8_t *status)
{
	const struct event_info *e = t->event;
	size_t cap = t->seat_off[e->n_seats] + (size_t)e->n_seats * 16 + 256;
	struct sse_frame *f = frame_new(cap);
	char *p;
	int n;

	if (!f)
		return NULL;
	p = f->data;
	n = snprintf(p, 200,
		     "event: snapshot\nid: %" PRIu64 "\ndata: {\"eventId\":%" PRIu32
		     ",\"rows\":%u,\"cols\":%u,\"version\":%" PRIu64 ",\"seats\":[",
		     v, e->id, (unsigned)e->rows, (unsigned)e->cols, v);
	p += n;
	for (uint32_t s = 0; s < e->n_seats; s++) {
		const char *name = seat_status_name(status[s] > SEAT_SOLD ? SEAT_AVAILABLE
									   : status[s]);
		size_t plen = t->seat_off[s + 1] - t->seat_off[s], nlen = strlen(name);

		if (s)
			*p++ = ',';
		memcpy(p, t->seat_json + t->seat_off[s], plen);
		p += plen;
		memcpy(p, name, nlen);
		p += nlen;
		*p++ = '"';
		*p++ = '}';
	}
	memcpy(p, "]}\n\n", 4);
	p += 4;
	f->len = (size_t)(p - f->data);
	f->version = v;
	return f;
}

/* ---- the log ---- */

/* Wakes the hub thread. An eventfd write cannot block (the counter would
 * need 2^64 - 1 pending kicks) and a failure leaves the wake to the next
 * timer tick. */
static void hub_kick(struct sse_hub *hub)
{
	uint64_t one = 1;

	if (write(hub->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, NULL, "sse: cannot wake the hub thread: %s",
			strerror(errno));
}

static void log_evict_one(struct sse_topic *t, uint32_t cap)
{
	struct sse_frame **slot = &t->log[t->first % cap];

	t->bytes -= (*slot)->len;
	free(*slot);
	*slot = NULL;
	t->first++;
}

enum drop_reason { DROP_SLOW, DROP_PEER_GONE };

/* Marks c dropped. Under t->lock. A suspended client is woken so its
 * reader can end the stream; one that is not is blocked on a full socket
 * (or about to read): shutting the socket down makes libmicrohttpd's next
 * send fail, which closes the connection without waiting for a timeout.
 * The socket is still open: libmicrohttpd closes it only after the
 * response's free callback (sse_client_release, which needs t->lock). */
static void drop_locked(struct sse_hub *hub, struct sse_client *c, bool reader,
			enum drop_reason why)
{
	if (c->dropped || c->released)
		return;
	c->dropped = true;
	c->peer_gone = why == DROP_PEER_GONE;
	atomic_fetch_add(why == DROP_SLOW ? &hub->dropped_slow : &hub->peer_gone, 1);
	if (c->suspended) {
		struct sse_client **pp = &c->t->waiters;

		while (*pp && *pp != c)
			pp = &(*pp)->wnext;
		if (*pp)
			*pp = c->wnext;
		c->suspended = false;
		c->ops->resume(c->conn);
	} else if (!reader && c->fd >= 0) {
		shutdown(c->fd, SHUT_RDWR);
	}
}

/* The seat change stream's sink: called on its one thread for every
 * change, in version order. Never blocks on a client. */
void sse_hub_seat_sink(void *ctx, const struct event_info *e,
		       const struct seat_event *ev, const struct tkt_change *rec)
{
	struct sse_hub *hub = ctx;
	uint64_t change_mono_ns = rec->mono_ns;
	struct sse_topic *t;
	struct sse_frame *f, *stale;
	uint32_t cap;
	bool signal = false;

	if (!hub)
		return;
	t = &hub->topics[e - hub->app->catalog.events];
	cap = hub->queue_events;
	f = frame_new(SEAT_FRAME_MAX);
	if (f) {
		f->len = format_seat(f->data, ev->version, ev->seat_id, ev->status);
		f->version = ev->version;
		f->mono_ns = change_mono_ns;
	}
	pthread_mutex_lock(&t->lock);
	if (!f) {
		/* A change we cannot show: every stream of the event would
		 * miss it, so they end, and reconnect with Last-Event-ID. */
		for (struct sse_client *c = t->clients; c; c = c->next)
			drop_locked(hub, c, false, DROP_SLOW);
		pthread_mutex_unlock(&t->lock);
		return;
	}
	while (t->next - t->first >= cap ||
	       (t->next > t->first && t->bytes + f->len > hub->queue_bytes))
		log_evict_one(t, cap);
	t->log[t->next % cap] = f;
	t->next++;
	t->bytes += f->len;
	stale = t->snap; /* a snapshot is only reused at its own version */
	t->snap = NULL;
	if (t->waiters && !t->wake) {
		t->wake = true;
		signal = true;
	}
	pthread_mutex_unlock(&t->lock);
	frame_unref(stale);
	atomic_fetch_add(&hub->published, 1);
	if (signal)
		hub_kick(hub);
}

/* The same for a batch (seat_batch_sink_fn): per run of one event's
 * changes, one hold of the topic's lock to look for streams and one to
 * append. With no stream of the event the changes get no frame at all: a
 * stream that subscribes later starts at the log's end, at or after the
 * version it was shown (every change of the batch was versioned before
 * the sink was called), so nothing could ever read them. */
void sse_hub_seat_batch_sink(void *ctx, const struct seat_change *ch, uint32_t n)
{
	struct sse_hub *hub = ctx;

	if (!hub)
		return;
	for (uint32_t i = 0; i < n;) {
		const struct event_info *e = ch[i].event;
		struct sse_topic *t = &hub->topics[e - hub->app->catalog.events];
		struct sse_frame *stale;
		uint32_t k = i;
		bool any;

		while (k < n && ch[k].event == e)
			k++;
		pthread_mutex_lock(&t->lock);
		any = t->clients != NULL;
		stale = any ? NULL : t->snap;
		if (!any)
			t->snap = NULL;
		pthread_mutex_unlock(&t->lock);
		if (any) {
			for (uint32_t x = i; x < k; x++)
				sse_hub_seat_sink(hub, e, &ch[x].ev, &ch[x].rec);
		} else {
			frame_unref(stale);
			atomic_fetch_add(&hub->published, k - i);
			atomic_fetch_add(&hub->unframed, k - i);
		}
		i = k;
	}
}

/* ---- reading ---- */

static void observe_delay(struct sse_hub *hub, uint64_t ns)
{
	double s = (double)ns / 1e9;
	size_t b;

	for (b = 0; b < N_DELAY_BUCKETS; b++)
		if (s <= delay_bounds[b]) {
			atomic_fetch_add(&hub->delay_buckets[b], 1);
			break;
		}
	atomic_fetch_add(&hub->delay_count, 1);
	atomic_fetch_add(&hub->delay_sum_ns, ns);
}

static struct sse_hub *hub_of(const struct sse_client *c)
{
	return c->t->hub;
}

ssize_t sse_client_read(struct sse_client *c, char *buf, size_t max)
{
	struct sse_topic *t = c->t;
	struct sse_hub *hub = hub_of(c);
	uint64_t now = 0;
	size_t n = 0;

	if (c->pre) { /* snapshot or replay: no lock, the frame is ours */
		size_t k = c->pre->len - c->pre_off;

		if (k > max)
			k = max;
		memcpy(buf, c->pre->data + c->pre_off, k);
		c->pre_off += k;
		n = k;
		if (c->pre_off == c->pre->len) {
			frame_unref(c->pre);
			c->pre = NULL;
		}
		if (n == max)
			return (ssize_t)n;
	}
	pthread_mutex_lock(&t->lock);
	if (c->dropped) {
		/* A peer that left gets a clean end (nothing to abort, and no
		 * error in the log); a slow one is cut. */
		bool gone = c->peer_gone;

		pthread_mutex_unlock(&t->lock);
		return gone ? SSE_READ_END : SSE_READ_ABORT;
	}
	if (t->closing || c->end_gen != t->end_gen) {
		pthread_mutex_unlock(&t->lock);
		return n ? (ssize_t)n : SSE_READ_END;
	}
	if (c->cursor < t->first) {
		/* It had a full queue pending: slow or dead. */
		drop_locked(hub, c, true, DROP_SLOW);
		pthread_mutex_unlock(&t->lock);
		return SSE_READ_ABORT;
	}
	while (n < max && c->cursor < t->next) {
		const struct sse_frame *f = t->log[c->cursor % hub->queue_events];
		size_t k;

		if (f->version <= c->min_version) { /* in its snapshot/replay */
			c->cursor++;
			continue;
		}
		k = f->len - c->off;
		if (k > max - n)
			k = max - n;
		memcpy(buf + n, f->data + c->off, k);
		n += k;
		c->off += k;
		if (c->off < f->len)
			break;
		c->off = 0;
		c->cursor++;
		if (!now)
			now = tkt_mono_ns();
		observe_delay(hub, now > f->mono_ns ? now - f->mono_ns : 0);
		atomic_fetch_add(&hub->events_sent, 1);
	}
	if (n == 0 && c->ping_gen != t->ping_gen && max >= PING_LEN) {
		memcpy(buf, PING_FRAME, PING_LEN);
		n = PING_LEN;
		atomic_fetch_add(&hub->pings_sent, 1);
	}
	if (n) {
		c->ping_gen = t->ping_gen; /* any write checks the peer */
	} else {
		c->suspended = true;
		c->wnext = t->waiters;
		t->waiters = c;
		c->ops->suspend(c->conn);
	}
	pthread_mutex_unlock(&t->lock);
	return (ssize_t)n;
}

/* ---- subscribing ---- */

bool sse_parse_last_event_id(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s || !*s || strlen(s) > 20)
		return false;
	for (i = 0; s[i]; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

/* The changes after `after` up to v, as one frame of seat events: from
 * Redis for those the ring has no more, then from the ring copy. NULL when
 * Redis does not have every one of them (or on no memory). */
static struct sse_frame *build_replay(struct sse_hub *hub, uint32_t event_id,
				      uint64_t after, uint64_t redis_need,
				      const struct seat_event *ring, uint64_t n_ring)
{
	struct seat_event *rd = NULL;
	struct sse_frame *f;
	uint64_t total = redis_need + n_ring;
	char *p;

	if (redis_need) {
		int got;

		rd = calloc(redis_need, sizeof(*rd));
		if (!rd)
			return NULL;
		got = journal_read_since(hub->app->cfg.redis_host, hub->app->cfg.redis_port,
					 event_id, after, rd, (int)redis_need);
		if (got < 0 || (uint64_t)got != redis_need) {
			free(rd);
			return NULL;
		}
		for (uint64_t i = 0; i < redis_need; i++)
			if (rd[i].version != after + 1 + i || rd[i].status > SEAT_SOLD) {
				free(rd); /* a gap: the journal lost entries */
				return NULL;
			}
	}
	f = frame_new(total * SEAT_FRAME_MAX + 1);
	if (!f) {
		free(rd);
		return NULL;
	}
	p = f->data;
	for (uint64_t i = 0; i < total; i++) {
		const struct seat_event *ev = i < redis_need ? &rd[i] : &ring[i - redis_need];

		p += format_seat(p, ev->version, ev->seat_id, ev->status);
	}
	f->len = (size_t)(p - f->data);
	f->version = after + total;
	free(rd);
	return f;
}

enum plan { PLAN_LIVE, PLAN_REPLAY, PLAN_SNAPSHOT };

/* What sse_hub_subscribe decides and copies under the event's lock. */
struct sub_plan {
	struct sse_topic *t;
	struct sse_client *c;
	bool have_last;
	uint64_t last;
	/* out */
	enum plan plan;
	enum sse_subscribe_result fail;
	uint64_t v, n_ring, redis_need;
	struct seat_event *ring;
	uint8_t *status;
	struct sse_frame *snap;
};

/* The version, what the client lacks up to it, and its place in the log,
 * all under the event's lock (seat_stream_with_event): the change stream
 * cannot publish version v+1 in between, so nothing is lost or sent twice.
 * The expensive parts (formatting, Redis) come after the locks. */
static void subscribe_locked(void *ctx, const struct seat_stream_view *view)
{
	struct sub_plan *p = ctx;
	struct sse_topic *t = p->t;
	struct sse_client *c = p->c;
	uint64_t v = view->version;

	p->v = v;
	if (p->have_last && p->last == v) {
		p->plan = PLAN_LIVE;
	} else if (p->have_last && p->last < v && v - p->last <= REPLAY_MAX) {
		uint64_t from = p->last + 1 > view->oldest_replay ? p->last + 1
								  : view->oldest_replay;

		p->plan = PLAN_REPLAY;
		p->n_ring = v - from + 1;
		p->redis_need = from - (p->last + 1);
		if (p->n_ring && !(p->ring = calloc(p->n_ring, sizeof(*p->ring))))
			p->fail = SSE_NO_MEMORY;
		if (p->ring)
			seat_stream_view_replay(view, from, p->n_ring, p->ring);
	}
	if (!p->fail) {
		pthread_mutex_lock(&t->lock);
		if (t->closing) {
			p->fail = SSE_SHUTTING_DOWN;
		} else {
			if (p->plan == PLAN_SNAPSHOT && t->snap && t->snap->version == v)
				p->snap = frame_ref(t->snap);
			c->cursor = t->next;
			c->end_gen = t->end_gen;
			c->min_version = v;
			c->ping_gen = t->ping_gen;
			c->next = t->clients;
			if (t->clients)
				t->clients->prev = c;
			t->clients = c;
		}
		pthread_mutex_unlock(&t->lock);
	}
	/* The published map at v: for the snapshot, or in case Redis turns
	 * out not to have the whole gap. */
	if (!p->fail && ((p->plan == PLAN_SNAPSHOT && !p->snap) || p->redis_need)) {
		uint32_t n = view->event->n_seats;

		p->status = malloc(n ? n : 1);
		if (p->status)
			memcpy(p->status, view->status, n);
	}
}

enum sse_subscribe_result sse_hub_subscribe(struct sse_hub *hub,
					    uint32_t event_id,
					    const char *last_event_id,
					    const struct sse_conn_ops *ops,
					    void *conn, int fd,
					    struct sse_client **out)
{
	const struct event_info *e = catalog_find(&hub->app->catalog, event_id);
	struct sse_topic *t;
	struct sse_client *c;
	struct seat_event *ring;
	uint8_t *status;
	struct sse_frame *snap, *pre = NULL;
	uint64_t last = 0, v, n_ring, redis_need;
	bool have_last = sse_parse_last_event_id(last_event_id, &last);
	enum plan plan;
	enum sse_subscribe_result fail;
	struct sub_plan p = {.plan = PLAN_SNAPSHOT, .fail = SSE_SUBSCRIBED};

	if (!e)
		return SSE_NO_SUCH_EVENT;
	if (atomic_load(&hub->closing))
		return SSE_SHUTTING_DOWN;
	if (atomic_fetch_add(&hub->subscribers, 1) >= hub->max_clients) {
		atomic_fetch_sub(&hub->subscribers, 1);
		atomic_fetch_add(&hub->rejected_limit, 1);
		return SSE_TOO_MANY_STREAMS;
	}
	t = &hub->topics[e - hub->app->catalog.events];
	c = calloc(1, sizeof(*c));
	if (!c) {
		atomic_fetch_sub(&hub->subscribers, 1);
		return SSE_NO_MEMORY;
	}
	c->t = t;
	c->ops = ops;
	c->conn = conn;
	c->fd = fd;

	p.t = t;
	p.c = c;
	p.have_last = have_last;
	p.last = last;
	if (seat_stream_with_event(&hub->app->stream, event_id, subscribe_locked, &p))
		p.fail = SSE_NO_SUCH_EVENT;
	plan = p.plan;
	fail = p.fail;
	v = p.v;
	n_ring = p.n_ring;
	redis_need = p.redis_need;
	ring = p.ring;
	status = p.status;
	snap = p.snap;
	if (fail) {
		free(ring);
		free(c);
		atomic_fetch_sub(&hub->subscribers, 1);
		return fail;
	}

	if (plan == PLAN_REPLAY) {
		pre = build_replay(hub, event_id, last, redis_need, ring, n_ring);
		if (pre)
			atomic_fetch_add(redis_need ? &hub->replays_redis : &hub->replays_ring, 1);
		else
			atomic_fetch_add(&hub->replay_fallbacks, 1);
	}
	if (plan != PLAN_LIVE && !pre) {
		if (!snap && status) {
			snap = build_snapshot(t, v, status);
			if (snap) {
				pthread_mutex_lock(&t->lock);
				if (!t->snap || t->snap->version < v) {
					frame_unref(t->snap);
					t->snap = frame_ref(snap);
				}
				pthread_mutex_unlock(&t->lock);
			}
		}
		pre = snap;
		snap = NULL;
		if (pre)
			atomic_fetch_add(&hub->snapshots_sent, 1);
	}
	frame_unref(snap);
	free(ring);
	free(status);
	c->pre = pre;
	if (plan != PLAN_LIVE && !pre) { /* registered, but nothing to start with */
		sse_client_release(c);
		return SSE_NO_MEMORY;
	}
	if (fd >= 0) {
		struct epoll_event pev = {.events = EPOLLRDHUP | EPOLLET, .data.ptr = c};

		/* Best effort: without it a vanished peer is found by the next
		 * ping instead. */
		if (epoll_ctl(hub->epfd, EPOLL_CTL_ADD, fd, &pev) && errno == EEXIST)
			epoll_ctl(hub->epfd, EPOLL_CTL_MOD, fd, &pev);
	}
	*out = c;
	return SSE_SUBSCRIBED;
}

void sse_client_release(struct sse_client *c)
{
	struct sse_topic *t = c->t;
	struct sse_hub *hub = hub_of(c);

	pthread_mutex_lock(&t->lock);
	if (c->prev)
		c->prev->next = c->next;
	else if (t->clients == c)
		t->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->suspended) { /* not expected: suspended streams are not closed */
		struct sse_client **pp = &t->waiters;

		while (*pp && *pp != c)
			pp = &(*pp)->wnext;
		if (*pp)
			*pp = c->wnext;
		c->suspended = false;
	}
	c->released = true;
	pthread_mutex_unlock(&t->lock);
	/* Before libmicrohttpd closes the socket (and the number is reused). */
	if (c->fd >= 0)
		epoll_ctl(hub->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	frame_unref(c->pre);
	c->pre = NULL;
	atomic_fetch_sub(&hub->subscribers, 1);
	if (hub->thread_on) {
		pthread_mutex_lock(&hub->lock);
		c->gnext = hub->graveyard;
		hub->graveyard = c;
		pthread_mutex_unlock(&hub->lock);
	} else {
		free(c);
	}
}

/* ---- the hub thread ---- */

/* Takes t's waiters off its list (under t->lock) and resumes them after
 * the lock is dropped: resuming 10k connections must not stall the
 * publisher or the readers. Call with hub->resume_lock held. */
static void wake_topic(struct sse_topic *t, bool ping, bool close)
{
	struct sse_client *list = NULL;

	pthread_mutex_lock(&t->lock);
	if (close)
		t->closing = true;
	if (ping)
		t->ping_gen++;
	if (t->wake || ping || close) {
		t->wake = false;
		list = t->waiters;
		t->waiters = NULL;
		for (struct sse_client *c = list; c; c = c->wnext)
			c->suspended = false;
	}
	pthread_mutex_unlock(&t->lock);
	while (list) {
		/* Read everything first: once resumed, c may be freed. */
		struct sse_client *next = list->wnext;
		const struct sse_conn_ops *ops = list->ops;
		void *conn = list->conn;

		ops->resume(conn);
		list = next;
	}
}

/* Streams that fell off the log while their socket was full: nothing else
 * would notice until the socket drains or the HTTP timeout fires. */
static void scan_topic(struct sse_hub *hub, struct sse_topic *t)
{
	pthread_mutex_lock(&t->lock);
	for (struct sse_client *c = t->clients; c; c = c->next)
		if (!c->dropped && !c->suspended && c->cursor < t->first)
			drop_locked(hub, c, false, DROP_SLOW);
	pthread_mutex_unlock(&t->lock);
}

/* A stream's peer hung up (or the socket failed). c is valid: clients are
 * freed only by this thread, between two epoll_wait calls. */
static void peer_gone(struct sse_hub *hub, struct sse_client *c)
{
	pthread_mutex_lock(&c->t->lock);
	drop_locked(hub, c, false, DROP_PEER_GONE);
	pthread_mutex_unlock(&c->t->lock);
}

static void free_graveyard(struct sse_hub *hub)
{
	struct sse_client *c;

	pthread_mutex_lock(&hub->lock);
	c = hub->graveyard;
	hub->graveyard = NULL;
	pthread_mutex_unlock(&hub->lock);
	while (c) {
		struct sse_client *next = c->gnext;

		free(c);
		c = next;
	}
}

#define HUB_EVENTS 256

static void *hub_loop(void *arg)
{
	struct sse_hub *hub = arg;
	struct epoll_event evs[HUB_EVENTS];
	uint64_t next_ping = tkt_mono_ns() + (uint64_t)hub->ping_ms * 1000000ull;
	uint64_t next_scan = tkt_mono_ns() + SCAN_MS * 1000000ull;

	while (!atomic_load(&hub->stop)) {
		uint64_t now = tkt_mono_ns(), due = next_ping < next_scan ? next_ping : next_scan;
		int timeout = due > now ? (int)((due - now + 999999) / 1000000) : 0;
		bool ping, scan;
		int n;

		free_graveyard(hub);
		n = epoll_wait(hub->epfd, evs, HUB_EVENTS, timeout);
		if (n < 0 && errno != EINTR) {
			log_msg(LOG_ERROR, NULL, "sse: epoll_wait: %s", strerror(errno));
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		now = tkt_mono_ns();
		ping = now >= next_ping;
		scan = now >= next_scan;
		if (ping)
			next_ping = now + (uint64_t)hub->ping_ms * 1000000ull;
		if (scan)
			next_scan = now + SCAN_MS * 1000000ull;
		pthread_mutex_lock(&hub->resume_lock);
		for (int i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) { /* evfd: frames arrived */
				uint64_t kicks;

				if (read(hub->evfd, &kicks, sizeof(kicks)) < 0 && errno != EAGAIN)
					log_msg(LOG_WARN, NULL, "sse: eventfd read: %s",
						strerror(errno));
				continue;
			}
			if (!atomic_load(&hub->closing))
				peer_gone(hub, evs[i].data.ptr);
		}
		if (!atomic_load(&hub->closing))
			for (uint32_t i = 0; i < hub->n_topics; i++) {
				wake_topic(&hub->topics[i], ping, false);
				if (scan)
					scan_topic(hub, &hub->topics[i]);
			}
		pthread_mutex_unlock(&hub->resume_lock);
	}
	free_graveyard(hub);
	return NULL;
}

/* ---- life cycle ---- */

static void topic_free(struct sse_topic *t, uint32_t cap)
{
	if (t->log)
		while (t->first < t->next)
			log_evict_one(t, cap);
	free(t->log);
	frame_unref(t->snap);
	free(t->seat_json);
	free(t->seat_off);
	pthread_mutex_destroy(&t->lock);
}

int sse_hub_start(struct sse_hub **out, struct ticketd *app)
{
	struct sse_hub *hub = calloc(1, sizeof(*hub));
	const struct catalog *cat = &app->catalog;
	int rc = -ENOMEM;

	*out = NULL;
	if (!hub)
		return -ENOMEM;
	hub->epfd = hub->evfd = -1;
	hub->app = app;
	hub->queue_events = (uint32_t)app->cfg.sse_queue_events;
	hub->queue_bytes = (size_t)app->cfg.sse_queue_bytes;
	hub->max_clients = (uint32_t)app->cfg.sse_max_clients;
	hub->ping_ms = (unsigned)app->cfg.sse_ping_seconds * 1000u;
	pthread_mutex_init(&hub->lock, NULL);
	pthread_mutex_init(&hub->resume_lock, NULL);
	hub->epfd = epoll_create1(EPOLL_CLOEXEC);
	hub->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (hub->epfd < 0 || hub->evfd < 0) {
		rc = -errno;
		goto fail;
	}
	{
		struct epoll_event kev = {.events = EPOLLIN, .data.ptr = NULL};

		if (epoll_ctl(hub->epfd, EPOLL_CTL_ADD, hub->evfd, &kev)) {
			rc = -errno;
			goto fail;
		}
	}
	hub->topics = calloc(cat->n_events ? cat->n_events : 1, sizeof(*hub->topics));
	if (!hub->topics)
		goto fail;
	for (uint32_t i = 0; i < cat->n_events; i++) {
		struct sse_topic *t = &hub->topics[i];

		t->hub = hub;
		t->event = &cat->events[i];
		pthread_mutex_init(&t->lock, NULL);
		hub->n_topics = i + 1;
		t->log = calloc(hub->queue_events, sizeof(*t->log));
		if (!t->log)
			goto fail;
		rc = topic_seat_json(t);
		if (rc)
			goto fail;
	}
	rc = -pthread_create(&hub->thread, NULL, hub_loop, hub);
	if (rc)
		goto fail;
	hub->thread_on = true;
	*out = hub;
	return 0;
fail:
	sse_hub_stop(hub);
	return rc ? rc : -ENOMEM;
}

void sse_hub_close(struct sse_hub *hub)
{
	if (!hub)
		return;
	atomic_store(&hub->closing, true);
	pthread_mutex_lock(&hub->resume_lock);
	for (uint32_t i = 0; i < hub->n_topics; i++)
		wake_topic(&hub->topics[i], false, true);
	pthread_mutex_unlock(&hub->resume_lock);
}

void sse_hub_end_event(struct sse_hub *hub, uint32_t event_id)
{
	const struct event_info *e = hub ? catalog_find(&hub->app->catalog, event_id) : NULL;
	struct sse_topic *t;

	if (!e)
		return;
	t = &hub->topics[e - hub->app->catalog.events];
	pthread_mutex_lock(&hub->resume_lock);
	pthread_mutex_lock(&t->lock);
	t->end_gen++;
	t->wake = true;
	pthread_mutex_unlock(&t->lock);
	wake_topic(t, false, false);
	pthread_mutex_unlock(&hub->resume_lock);
}

void sse_hub_stop(struct sse_hub *hub)
{
	if (!hub)
		return;
	if (hub->thread_on) {
		atomic_store(&hub->stop, true);
		hub_kick(hub);
		pthread_join(hub->thread, NULL);
		hub->thread_on = false;
	}
	if (atomic_load(&hub->subscribers))
		log_msg(LOG_WARN, NULL, "sse: %u streams still open at stop",
			atomic_load(&hub->subscribers));
	for (uint32_t i = 0; i < hub->n_topics; i++)
		topic_free(&hub->topics[i], hub->queue_events);
	free(hub->topics);
	if (hub->epfd >= 0)
		close(hub->epfd);
	if (hub->evfd >= 0)
		close(hub->evfd);
	pthread_mutex_destroy(&hub->resume_lock);
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

int sse_hub_render_metrics(struct sse_hub *hub, char **buf, size_t *len,
			   size_t *cap)
{
	uint64_t cum = 0;
	int rc = 0;

	if (!hub)
		return 0;
	rc |= metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_sse_subscribers Open seat streams.\n"
		"# TYPE ticketd_sse_subscribers gauge\n"
		"ticketd_sse_subscribers %u\n"
		"# HELP ticketd_sse_events_sent_total Seat events handed to the HTTP server, all streams.\n"
		"# TYPE ticketd_sse_events_sent_total counter\n"
		"ticketd_sse_events_sent_total %llu\n"
		"# HELP ticketd_sse_snapshots_sent_total Streams started with a snapshot.\n"
		"# TYPE ticketd_sse_snapshots_sent_total counter\n"
		"ticketd_sse_snapshots_sent_total %llu\n"
		"# HELP ticketd_sse_replays_total Streams resumed from Last-Event-ID.\n"
		"# TYPE ticketd_sse_replays_total counter\n"
		"ticketd_sse_replays_total{source=\"ring\"} %llu\n"
		"ticketd_sse_replays_total{source=\"redis\"} %llu\n"
		"ticketd_sse_replays_total{source=\"none_snapshot\"} %llu\n"
		"# HELP ticketd_sse_pings_sent_total Keep-alive comments sent.\n"
		"# TYPE ticketd_sse_pings_sent_total counter\n"
		"ticketd_sse_pings_sent_total %llu\n"
		"# HELP ticketd_sse_clients_dropped_total Streams ended because the client fell a full queue behind.\n"
		"# TYPE ticketd_sse_clients_dropped_total counter\n"
		"ticketd_sse_clients_dropped_total %llu\n"
		"# HELP ticketd_sse_peers_gone_total Streams ended because the client hung up.\n"
		"# TYPE ticketd_sse_peers_gone_total counter\n"
		"ticketd_sse_peers_gone_total %llu\n"
		"# HELP ticketd_sse_rejected_total Streams refused with 503 TOO_MANY_STREAMS.\n"
		"# TYPE ticketd_sse_rejected_total counter\n"
		"ticketd_sse_rejected_total %llu\n"
		"# HELP ticketd_sse_changes_published_total Seat changes published to the hub.\n"
		"# TYPE ticketd_sse_changes_published_total counter\n"
		"ticketd_sse_changes_published_total %llu\n"
		"# HELP ticketd_sse_changes_unframed_total Seat changes published while their event had no stream (no frame made).\n"
		"# TYPE ticketd_sse_changes_unframed_total counter\n"
		"ticketd_sse_changes_unframed_total %llu\n"
		"# HELP ticketd_sse_fanout_delay_seconds From a change record to its frame handed to the HTTP server, per stream.\n"
		"# TYPE ticketd_sse_fanout_delay_seconds histogram\n",
		atomic_load(&hub->subscribers),
		(unsigned long long)atomic_load(&hub->events_sent),
		(unsigned long long)atomic_load(&hub->snapshots_sent),
		(unsigned long long)atomic_load(&hub->replays_ring),
		(unsigned long long)atomic_load(&hub->replays_redis),
		(unsigned long long)atomic_load(&hub->replay_fallbacks),
		(unsigned long long)atomic_load(&hub->pings_sent),
		(unsigned long long)atomic_load(&hub->dropped_slow),
		(unsigned long long)atomic_load(&hub->peer_gone),
		(unsigned long long)atomic_load(&hub->rejected_limit),
		(unsigned long long)atomic_load(&hub->published),
		(unsigned long long)atomic_load(&hub->unframed));
	for (size_t b = 0; b < N_DELAY_BUCKETS; b++) {
		cum += atomic_load(&hub->delay_buckets[b]);
		rc |= metrics_appendf(buf, len, cap,
				      "ticketd_sse_fanout_delay_seconds_bucket{le=\"%g\"} %llu\n",
				      delay_bounds[b], (unsigned long long)cum);
	}
	rc |= metrics_appendf(buf, len, cap,
			      "ticketd_sse_fanout_delay_seconds_bucket{le=\"+Inf\"} %llu\n"
			      "ticketd_sse_fanout_delay_seconds_sum %.6f\n"
			      "ticketd_sse_fanout_delay_seconds_count %llu\n",
			      (unsigned long long)atomic_load(&hub->delay_count),
			      (double)atomic_load(&hub->delay_sum_ns) / 1e9,
			      (unsigned long long)atomic_load(&hub->delay_count));
	return rc ? -ENOMEM : 0;
}
