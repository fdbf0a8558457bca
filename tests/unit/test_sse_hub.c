/* The SSE hub (userspace/ticketd/live/sse_hub.c) on real threads, wired to
 * the seat change stream as main.c's start_stream does: writers change
 * seats through edge_seat_apply, the stream publishes to a recorder sink
 * and to sse_hub_seat_sink, and subscriber threads play libmicrohttpd:
 * sse_hub_subscribe (with no Last-Event-ID, the last id seen, an older one
 * or a bad one), sse_client_read with buffers of any size, parking on
 * suspend until resume, sse_client_release; some hang up their socket end
 * (the hub thread's EPOLLRDHUP) and some read too slowly and are dropped.
 * Three phases: changes flow until each subscriber has had CONNS
 * connections; the writers are held until every idle stream has had the
 * hub's ping; changes flow again and sse_hub_close ends the streams with
 * every subscriber still connected, as the HTTP server's before_stop does.
 *
 * Each connection must show a snapshot or the changes right after its
 * Last-Event-ID, then contiguous versions; every frame must be what the
 * stream published at that version (a snapshot: its map at that version).
 * Redis is not running: a gap the replay ring no longer covers asks it on
 * port 1 (refused at once) and falls back to a snapshot. Built plain,
 * under ASan + UBSan and under TSan (build/tests/unit/test_sse_hub.tsan).
 * Bounded in count; every wait has a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sys/socket.h>
#include <time.h>

#include "tests/unit/stream_fixture.h"
#include "userspace/lib/clock.h"
#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/seats/seat_view.h"
#include "userspace/ticketd/ticketd.h"

#define WRITERS 2
#define WRITER_MAX_OPS 2000000 /* a cap: they stop when told */
#define WRITER_PACE_NS 100000  /* a nap after each change (load, not sync) */
#define SUBSCRIBERS 4
#define CONNS 12           /* connections each before the hub closes */
#define CONNS_MAX 100000   /* a cap */
#define RING_CAP 64        /* the stream's replay ring: small, so ids fall out */
#define QUEUE_EVENTS 256   /* the hub's log */
#define SLOW_NAP_NS 200000 /* a slow client's pause between reads of 9 bytes */
#define WAIT_S 10          /* deadline of any wait: a failure, not a hang */
#define ACC_MAX 16384

static const uint64_t start_version[FX_EVENTS] = {1000, 7ull << 32};

static struct fx fx;
static struct ticketd app;

/* ---- what the stream published: history[event][version - start - 1] ---- */

struct history {
	struct seat_event *ev;
	uint64_t n, cap;
	uint64_t errors;
};
static struct history hist[FX_EVENTS]; /* the stream's thread; read after stop */

static void record_sink(void *ctx, const struct event_info *e,
			const struct seat_event *ev, const struct tkt_change *rec)
{
	struct history *h = &hist[fx_index(e)];

	(void)ctx;
	(void)rec;
	if (h->n == h->cap) {
		uint64_t cap = h->cap ? h->cap * 2 : 4096;
		struct seat_event *n = realloc(h->ev, cap * sizeof(*n));

		if (!n) {
			h->errors++;
			return;
		}
		h->ev = n;
		h->cap = cap;
	}
	h->ev[h->n++] = *ev;
}

/* ---- a subscriber: one libmicrohttpd connection at a time ---- */

struct conn {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool parked;
	int bad_resumes; /* resume of a connection that was not suspended */
};

static void conn_suspend(void *p)
{
	struct conn *c = p;

	pthread_mutex_lock(&c->lock);
	c->parked = true;
	pthread_mutex_unlock(&c->lock);
}

static void conn_resume(void *p)
{
	struct conn *c = p;

	pthread_mutex_lock(&c->lock);
	if (!c->parked)
		c->bad_resumes++;
	c->parked = false;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static const struct sse_conn_ops ops = {.suspend = conn_suspend, .resume = conn_resume};

/* Waits until resumed; false after WAIT_S. */
static bool conn_wait(struct conn *c)
{
	struct timespec dl;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += WAIT_S;
	pthread_mutex_lock(&c->lock);
	while (c->parked && ok)
		ok = pthread_cond_timedwait(&c->cond, &c->lock, &dl) != ETIMEDOUT || !c->parked;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

struct seen_seat {
	uint64_t version;
	uint32_t seat_id;
	uint8_t status;
};
struct seen_snap {
	uint64_t version;
	uint8_t status[FX_SEATS_MAX];
};

struct sub {
	pthread_t th;
	uint32_t id, rng, ei;
	struct conn conn;
	char acc[ACC_MAX];
	size_t acc_len;
	/* this connection */
	bool have_last, any_frame;
	uint64_t last, prev;
	/* this subscriber */
	uint64_t max_seen, last_id;
	bool have_id, pinged;
	struct seen_seat *seats;
	uint64_t n_seats, cap_seats;
	struct seen_snap *snaps;
	uint64_t n_snaps, cap_snaps;
	/* out */
	uint64_t conns, frames, pings, aborts, ends, hangups;
	uint64_t errors;
	char why[200];
};

__attribute__((format(printf, 2, 3)))
static void sub_fail(struct sub *s, const char *fmt, ...)
{
	va_list ap;

	if (s->errors++)
		return;
	va_start(ap, fmt);
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
	va_end(ap);
}

static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t progress_cond = PTHREAD_COND_INITIALIZER;
/* Subscribers done with CONNS connections (or ended), and those that had a
 * ping while the writers were held. */
static int subs_ready, subs_pinged;
static atomic_bool want_ping;

static void progress(int *count)
{
	pthread_mutex_lock(&progress_lock);
	(*count)++;
	pthread_cond_broadcast(&progress_cond);
	pthread_mutex_unlock(&progress_lock);
}

/* Waits until *count reaches want; false after the deadline. */
static bool progress_wait(int *count, int want, int seconds)
{
	struct timespec dl;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += seconds;
	pthread_mutex_lock(&progress_lock);
	while (*count < want && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&progress_cond, &progress_lock, &dl);
	rc = *count >= want;
	pthread_mutex_unlock(&progress_lock);
	return rc;
}

static int status_code(const char *name)
{
	if (!name)
		return -1;
	for (int st = SEAT_AVAILABLE; st <= SEAT_SOLD; st++)
		if (!strcmp(name, seat_status_name(st)))
			return st;
	return -1;
}

/* A frame's version against what came before on this connection. */
static void check_version(struct sub *s, uint64_t v, bool snapshot)
{
	if (!s->any_frame) {
		if (snapshot) {
			/* a resync: never behind what this subscriber saw */
			if (v < s->max_seen || (s->have_last && v <= s->last))
				sub_fail(s, "snapshot %" PRIu64 " behind %" PRIu64 "/%" PRIu64,
					 v, s->max_seen, s->last);
		} else if (!s->have_last || v != s->last + 1) {
			sub_fail(s, "first change %" PRIu64 " after Last-Event-ID %s%" PRIu64,
				 v, s->have_last ? "" : "(none) ", s->last);
		}
	} else if (snapshot) {
		sub_fail(s, "snapshot %" PRIu64 " in the middle of a stream", v);
	} else if (v != s->prev + 1) {
		sub_fail(s, "change %" PRIu64 " after %" PRIu64, v, s->prev);
	}
	s->any_frame = true;
	s->prev = v;
	if (v > s->max_seen)
		s->max_seen = v;
	s->last_id = v;
	s->have_id = true;
}

static void *grow(void *p, uint64_t *cap, size_t size)
{
	uint64_t n = *cap ? *cap * 2 : 1024;
	void *q = realloc(p, n * size);

	if (q)
		*cap = n;
	return q;
}

static void parse_seat(struct sub *s, const char *f)
{
	uint64_t id, v;
	uint32_t seat;
	char name[16];
	int st;

	if (sscanf(f, "event: seat\nid: %" SCNu64 "\ndata: {\"seatId\":%" SCNu32
		      ",\"status\":\"%15[A-Z]\",\"version\":%" SCNu64 "}",
		   &id, &seat, name, &v) != 4 || id != v ||
	    (st = status_code(name)) < 0) {
		sub_fail(s, "bad seat frame: %.80s", f);
		return;
	}
	check_version(s, v, false);
	if (s->n_seats == s->cap_seats) {
		struct seen_seat *n = grow(s->seats, &s->cap_seats, sizeof(*n));

		if (!n) {
			sub_fail(s, "out of memory");
			return;
		}
		s->seats = n;
	}
	s->seats[s->n_seats++] = (struct seen_seat){v, seat, (uint8_t)st};
}

static void parse_snapshot(struct sub *s, const char *f)
{
	const struct event_info *e = &fx.ev[s->ei];
	const char *data = strstr(f, "\ndata: ");
	struct seen_snap snap = {0};
	json_t *j = NULL, *seats;
	uint64_t id;
	json_error_t err;

	if (sscanf(f, "event: snapshot\nid: %" SCNu64, &id) != 1 || !data ||
	    !(j = json_loads(data + 7, JSON_DISABLE_EOF_CHECK, &err)) ||
	    json_integer_value(json_object_get(j, "version")) != (json_int_t)id ||
	    json_integer_value(json_object_get(j, "eventId")) != e->id ||
	    !(seats = json_object_get(j, "seats")) || json_array_size(seats) != e->n_seats) {
		sub_fail(s, "bad snapshot: %.80s", f);
		json_decref(j);
		return;
	}
	snap.version = id;
	for (uint32_t i = 0; i < e->n_seats; i++) {
		json_t *seat = json_array_get(seats, i);
		int st = status_code(json_string_value(json_object_get(seat, "status")));
		const char *label = json_string_value(json_object_get(seat, "label"));

		if (st < 0 || json_integer_value(json_object_get(seat, "id")) != i ||
		    !label || strcmp(label, e->seats[i].label)) {
			sub_fail(s, "bad seat %u in snapshot %" PRIu64, i, id);
			break;
		}
		snap.status[i] = (uint8_t)st;
	}
	json_decref(j);
	check_version(s, id, true);
	if (s->n_snaps == s->cap_snaps) {
		struct seen_snap *n = grow(s->snaps, &s->cap_snaps, sizeof(*n));

		if (!n) {
			sub_fail(s, "out of memory");
			return;
		}
		s->snaps = n;
	}
	s->snaps[s->n_snaps++] = snap;
}

/* Takes every complete frame off the connection's bytes; returns how many
 * were seat changes. */
static uint64_t feed(struct sub *s, const char *buf, size_t n)
{
	uint64_t changes = 0;
	size_t off = 0;
	char *end;

	if (s->acc_len + n >= ACC_MAX) {
		sub_fail(s, "a frame longer than %d bytes", ACC_MAX);
		return 0;
	}
	memcpy(s->acc + s->acc_len, buf, n);
	s->acc_len += n;
	s->acc[s->acc_len] = 0;
	while ((end = strstr(s->acc + off, "\n\n"))) {
		char *f = s->acc + off;

		end[1] = 0; /* the frame, up to its last line's \n */
		if (!strcmp(f, ": ping\n")) {
			s->pings++;
			if (!s->pinged && atomic_load(&want_ping)) {
				s->pinged = true;
				progress(&subs_pinged);
			}
		} else if (!strncmp(f, "event: seat\n", 12)) {
			parse_seat(s, f);
			changes++;
		} else if (!strncmp(f, "event: snapshot\n", 16)) {
			parse_snapshot(s, f);
		} else {
			sub_fail(s, "unknown frame: %.80s", f);
		}
		s->frames++;
		off = (size_t)(end + 2 - s->acc);
	}
	memmove(s->acc, s->acc + off, s->acc_len - off);
	s->acc_len -= off;
	return changes;
}

/* One connection: subscribe, read until its budget, a drop or the end,
 * release. Returns false when the hub refuses new streams (it closed). */
static bool one_connection(struct sub *s)
{
	static const size_t sizes[] = {7, 61, 200, 1000, 4096};
	char idbuf[32], buf[4096];
	const char *id = NULL;
	uint32_t r = fx_rand(&s->rng), pick = r % 20;
	uint64_t budget = 1 + (r >> 8) % 150, changes = 0;
	bool hang = (r >> 16) % 8 == 0, hung = false, slow = (r >> 20) % 6 == 0;
	struct sse_client *c;
	enum sse_subscribe_result res;
	int sv[2] = {-1, -1}, fd = -1;

	s->have_last = false;
	s->last = 0;
	if (s->have_id && pick < 12) { /* a reconnect: the last id seen */
		s->last = s->last_id;
	} else if (s->have_id && pick < 16) { /* an id seen earlier, again */
		uint64_t back = 1 + (r >> 24) % 60;

		s->last = s->last_id > back ? s->last_id - back : 0;
	} else if (pick < 18) {
		id = "12x"; /* not a version: a snapshot */
	}
	if (s->have_id && pick < 16) {
		snprintf(idbuf, sizeof(idbuf), "%" PRIu64, s->last);
		id = idbuf;
		s->have_last = true;
	}
	if (hang && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0)
		fd = sv[0];
	s->any_frame = false;
	s->acc_len = 0;
	pthread_mutex_lock(&s->conn.lock);
	s->conn.parked = false;
	pthread_mutex_unlock(&s->conn.lock);
	res = sse_hub_subscribe(app.sse, fx.ev[s->ei].id, id, &ops, &s->conn, fd, &c);
	if (res != SSE_SUBSCRIBED) {
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		if (res != SSE_SHUTTING_DOWN)
			sub_fail(s, "subscribe: %d", (int)res);
		return false;
	}
	s->conns++;
	for (;;) {
		/* a slow client's few bytes still fit a ping (8), which the hub
		 * sends only whole */
		size_t max = slow ? 9 : sizes[fx_rand(&s->rng) % 5];
		ssize_t n;

		if (slow) { /* a client on a bad link: the hub must not wait */
			struct timespec ts = {0, SLOW_NAP_NS};

			nanosleep(&ts, NULL);
		}
		n = sse_client_read(c, buf, max);

		if (n > 0) {
			if ((size_t)n > max) {
				sub_fail(s, "read %zd of %zu", n, max);
				break;
			}
			changes += feed(s, buf, (size_t)n);
			if (s->errors)
				break;
			if (changes < budget)
				continue;
			if (fd < 0)
				break; /* the client leaves */
			if (!hung) { /* the peer hangs up; the hub ends the stream */
				close(sv[1]);
				sv[1] = -1;
				hung = true;
				s->hangups++;
			}
		} else if (n == 0) {
			if (!conn_wait(&s->conn)) {
				/* still suspended: libmicrohttpd would not
				 * free it, so neither may we */
				sub_fail(s, "not resumed within %d s", WAIT_S);
				return false;
			}
		} else if (n == SSE_READ_END) {
			s->ends++;
			break;
		} else if (n == SSE_READ_ABORT) {
			s->aborts++; /* fell behind the log: reconnects */
			break;
		} else {
			sub_fail(s, "read returned %zd", n);
			break;
		}
	}
	sse_client_release(c);
	if (sv[0] >= 0)
		close(sv[0]); /* after the release, as libmicrohttpd does */
	if (sv[1] >= 0)
		close(sv[1]);
	pthread_mutex_lock(&s->conn.lock);
	if (s->conn.bad_resumes)
		sub_fail(s, "resumed %d times while not suspended", s->conn.bad_resumes);
	pthread_mutex_unlock(&s->conn.lock);
	return !s->errors;
}

static void *sub_loop(void *arg)
{
	struct sub *s = arg;
	bool told = false;

	while (s->conns < CONNS_MAX && one_connection(s))
		if (s->conns == CONNS && !told) {
			progress(&subs_ready);
			told = true;
		}
	if (!told)
		progress(&subs_ready);
	if (!s->pinged) /* ended: main need not wait for it */
		progress(&subs_pinged);
	return NULL;
}

/* ---- checks after the run ---- */

static int cmp_snap(const void *a, const void *b)
{
	const struct seen_snap *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

/* Every frame a subscriber saw is what the stream published. */
static void check_against_history(struct sub *s)
{
	const struct history *h = &hist[s->ei];
	const struct event_info *e = &fx.ev[s->ei];
	uint64_t base = start_version[s->ei], k = 0;
	uint8_t map[FX_SEATS_MAX] = {0}; /* a fresh table: all AVAILABLE */

	for (uint64_t i = 0; i < s->n_seats; i++) {
		const struct seen_seat *x = &s->seats[i];
		const struct seat_event *want;

		if (x->version <= base || x->version > base + h->n) {
			sub_fail(s, "change %" PRIu64 " never published", x->version);
			return;
		}
		want = &h->ev[x->version - base - 1];
		if (want->version != x->version || want->seat_id != x->seat_id ||
		    want->status != x->status) {
			sub_fail(s, "change %" PRIu64 " is not what was published",
				 x->version);
			return;
		}
	}
	qsort(s->snaps, s->n_snaps, sizeof(*s->snaps), cmp_snap);
	for (uint64_t i = 0; i < s->n_snaps; i++) {
		const struct seen_snap *x = &s->snaps[i];

		if (x->version < base || x->version > base + h->n) {
			sub_fail(s, "snapshot %" PRIu64 " never published", x->version);
			return;
		}
		for (; k < x->version - base; k++)
			map[h->ev[k].seat_id] = h->ev[k].status;
		if (memcmp(map, x->status, e->n_seats)) {
			sub_fail(s, "snapshot %" PRIu64 " is not the map at its version",
				 x->version);
			return;
		}
	}
}

/* A sample of sse_hub_render_metrics' text: name with its labels and the
 * space; UINT64_MAX when missing. */
static uint64_t metric(const char *name)
{
	char *buf = NULL, *p, line[160];
	size_t len = 0, cap = 0;
	uint64_t v = UINT64_MAX;

	snprintf(line, sizeof(line), "\n%s", name);
	if (sse_hub_render_metrics(app.sse, &buf, &len, &cap) == 0 &&
	    (p = strstr(buf, line)))
		v = strtoull(p + strlen(line), NULL, 10);
	free(buf);
	return v;
}

/* ---- the test ---- */

static void streams_stay_contiguous_through_drops_reconnects_and_close(void **state)
{
	static struct sub subs[SUBSCRIBERS];
	static struct fx_writer w[WRITERS];
	static struct fx_gate gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
	atomic_bool stop_writers = false;
	struct sse_client *late;
	bool ready, pinged;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(fx_open(&fx, 4096), 0);
	memset(&app, 0, sizeof(app));
	app.catalog = fx.cat;
	app.edge = fx.edge;
	app.seats = (__u64 *)edge_seats(fx.edge);
	snprintf(app.cfg.redis_host, sizeof(app.cfg.redis_host), "127.0.0.1");
	app.cfg.redis_port = 1; /* nothing answers: replays beyond the ring fall back */
	app.cfg.sse_ping_seconds = 1;
	app.cfg.sse_max_clients = 2 * SUBSCRIBERS;
	app.cfg.sse_queue_events = QUEUE_EVENTS;
	app.cfg.sse_queue_bytes = 65536;
	memset(hist, 0, sizeof(hist));
	subs_ready = subs_pinged = 0;
	atomic_store(&want_ping, false);

	/* main.c's order: the hub, then the stream with the hub as a sink */
	assert_int_equal(sse_hub_start(&app.sse, &app), 0);
	assert_int_equal(seat_stream_init(&app.stream, &app.catalog, app.edge,
					  fx_by_id(start_version), RING_CAP), 0);
	assert_int_equal(seat_stream_add_sink(&app.stream, record_sink, NULL), 0);
	assert_int_equal(seat_stream_add_batch_sink(&app.stream, sse_hub_seat_batch_sink, app.sse), 0);
	assert_int_equal(seat_stream_start(&app.stream), 0);

	for (uint32_t i = 0; i < WRITERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = &fx;
		w[i].id = i;
		w[i].rng = 0x85ebca6bu * (i + 1);
		w[i].max_ops = WRITER_MAX_OPS;
		w[i].stop = &stop_writers;
		w[i].gate = &gate;
		w[i].pace_ns = WRITER_PACE_NS;
		assert_int_equal(pthread_create(&w[i].th, NULL, fx_writer_loop, &w[i]), 0);
	}
	for (uint32_t i = 0; i < SUBSCRIBERS; i++) {
		struct sub *s = &subs[i];

		memset(s, 0, sizeof(*s));
		s->id = i;
		s->ei = i % FX_EVENTS;
		s->rng = 0xc2b2ae35u * (i + 1);
		pthread_mutex_init(&s->conn.lock, NULL);
		pthread_cond_init(&s->conn.cond, NULL);
		assert_int_equal(pthread_create(&s->th, NULL, sub_loop, s), 0);
	}

	/* 1: changes flow until every subscriber has had its connections */
	ready = progress_wait(&subs_ready, SUBSCRIBERS, 3 * WAIT_S);
	/* 2: writers held, every stream goes idle and gets the hub's ping */
	fx_gate_set(&gate, true);
	atomic_store(&want_ping, true);
	pinged = progress_wait(&subs_pinged, SUBSCRIBERS, WAIT_S);
	/* 3: changes flow again; the hub closes with every subscriber still
	 * connected, as the HTTP server's before_stop does */
	fx_gate_set(&gate, false);
	sse_hub_close(app.sse);
	assert_int_equal(sse_hub_subscribe(app.sse, fx.ev[0].id, NULL, &ops,
					   &subs[0].conn, -1, &late),
			 SSE_SHUTTING_DOWN);
	for (uint32_t i = 0; i < SUBSCRIBERS; i++)
		pthread_join(subs[i].th, NULL);
	atomic_store(&stop_writers, true);
	for (uint32_t i = 0; i < WRITERS; i++) {
		pthread_join(w[i].th, NULL);
		assert_int_equal(w[i].errors, 0);
		total += w[i].changed[0] + w[i].changed[1];
	}
	seat_stream_stop(&app.stream);

	print_message("changes %" PRIu64 "; snapshots %" PRIu64 ", ring replays %" PRIu64
		      ", fallbacks %" PRIu64 ", slow drops %" PRIu64 ", peers gone %" PRIu64
		      ", pings %" PRIu64 "\n",
		      total, metric("ticketd_sse_snapshots_sent_total "),
		      metric("ticketd_sse_replays_total{source=\"ring\"} "),
		      metric("ticketd_sse_replays_total{source=\"none_snapshot\"} "),
		      metric("ticketd_sse_clients_dropped_total "),
		      metric("ticketd_sse_peers_gone_total "),
		      metric("ticketd_sse_pings_sent_total "));
	for (uint32_t i = 0; i < SUBSCRIBERS; i++) {
		struct sub *s = &subs[i];

		check_against_history(s);
		print_message("subscriber %u: %" PRIu64 " connections, %" PRIu64 " frames (%" PRIu64
			      " changes, %" PRIu64 " snapshots, %" PRIu64 " pings), %" PRIu64
			      " aborted, %" PRIu64 " ended, %" PRIu64 " hung up\n",
			      i, s->conns, s->frames, s->n_seats, s->n_snaps, s->pings,
			      s->aborts, s->ends, s->hangups);
		if (s->errors)
			print_message("subscriber %u: %s\n", i, s->why);
	}
	assert_true(ready);
	assert_true(pinged);
	/* the stream lost nothing, the hub saw all of it, no stream is left */
	assert_int_equal(hist[0].errors + hist[1].errors, 0);
	assert_int_equal(atomic_load(&app.stream.delivered), total);
	assert_int_equal(hist[0].n + hist[1].n, total);
	assert_int_equal(metric("ticketd_sse_changes_published_total "), total);
	assert_int_equal(metric("ticketd_sse_subscribers "), 0);
	for (uint32_t i = 0; i < SUBSCRIBERS; i++) {
		struct sub *s = &subs[i];

		assert_int_equal(s->errors, 0);
		assert_true(s->conns >= CONNS);
		assert_true(s->n_snaps > 0);
		assert_true(s->pinged);
		free(s->seats);
		free(s->snaps);
		pthread_mutex_destroy(&s->conn.lock);
		pthread_cond_destroy(&s->conn.cond);
	}

	sse_hub_stop(app.sse);
	app.sse = NULL;
	seat_stream_free(&app.stream);
	for (int i = 0; i < FX_EVENTS; i++)
		free(hist[i].ev);
	fx_close(&fx);
}

/* An event nobody streams: its changes are counted as published but get
 * no frame (no stream could ever read one); a stream opened afterwards
 * still starts with the snapshot at the current version. */
static void changes_without_streams_get_no_frame(void **state)
{
	const struct event_info *e;
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());
	struct sub *s;
	struct sse_client *c = NULL;
	char buf[1 << 16];
	ssize_t got;
	int64_t t0;

	(void)state;
	assert_int_equal(fx_open(&fx, 4096), 0);
	e = &fx.ev[0];
	memset(&app, 0, sizeof(app));
	app.catalog = fx.cat;
	app.edge = fx.edge;
	app.seats = (__u64 *)edge_seats(fx.edge);
	snprintf(app.cfg.redis_host, sizeof(app.cfg.redis_host), "127.0.0.1");
	app.cfg.redis_port = 1;
	app.cfg.sse_ping_seconds = 1;
	app.cfg.sse_max_clients = 4;
	app.cfg.sse_queue_events = QUEUE_EVENTS;
	app.cfg.sse_queue_bytes = 65536;
	assert_int_equal(sse_hub_start(&app.sse, &app), 0);
	assert_int_equal(seat_stream_init(&app.stream, &app.catalog, app.edge, NULL, RING_CAP), 0);
	assert_int_equal(seat_stream_add_batch_sink(&app.stream, sse_hub_seat_batch_sink, app.sse), 0);
	assert_int_equal(seat_stream_start(&app.stream), 0);
	for (uint32_t i = 0; i < 50; i++) {
		/* a backlog record (stamped before the edge opened): delivered
		 * as it comes */
		struct tkt_change r = {
			.new_word = i % 2 ? 0 : tkt_sw_pack(TKT_SEAT_HELD, 1, 1, now_ms + 60000),
			.event_id = e->id,
			.seat_id = i / 2,
			.seat_index = e->seat_base + i / 2,
		};

		assert_int_equal(edge_emit_change(fx.edge, &r), 0);
	}
	t0 = tkt_mono_ms();
	while (atomic_load(&app.stream.delivered) < 50 && tkt_mono_ms() - t0 < 5000)
		usleep(1000);
	assert_int_equal(atomic_load(&app.stream.delivered), 50);
	assert_int_equal(metric("ticketd_sse_changes_published_total "), 50);
	assert_int_equal(metric("ticketd_sse_changes_unframed_total "), 50);
	/* a stream opened now starts at version 50 */
	s = calloc(1, sizeof(*s));
	assert_non_null(s);
	pthread_mutex_init(&s->conn.lock, NULL);
	pthread_cond_init(&s->conn.cond, NULL);
	assert_int_equal(sse_hub_subscribe(app.sse, e->id, NULL, &ops, &s->conn, -1, &c),
			 SSE_SUBSCRIBED);
	got = sse_client_read(c, buf, sizeof(buf) - 1);
	assert_true(got > 0);
	buf[got] = 0;
	assert_non_null(strstr(buf, "event: snapshot\nid: 50\n"));
	sse_client_release(c);
	seat_stream_stop(&app.stream);
	sse_hub_close(app.sse);
	sse_hub_stop(app.sse);
	app.sse = NULL;
	seat_stream_free(&app.stream);
	pthread_mutex_destroy(&s->conn.lock);
	pthread_cond_destroy(&s->conn.cond);
	free(s);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(changes_without_streams_get_no_frame),
		cmocka_unit_test(streams_stay_contiguous_through_drops_reconnects_and_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
