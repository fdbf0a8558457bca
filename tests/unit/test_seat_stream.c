/* The seat change stream (userspace/ticketd/seats/seat_stream.c) on real
 * threads: writers hold and release overlapping seats through
 * edge_seat_apply on a shm edge while the stream's thread versions every
 * change and hands it to two sinks, and a reader takes the published map
 * and the replay ring as SSE subscribers do (seat_stream_with_event).
 * Every sink must see every change once, in version order, each event's
 * versions contiguous; the published map must be the ring's changes
 * applied in order. Built plain, under ASan + UBSan and under TSan
 * (build/tests/unit/test_seat_stream.tsan). Bounded in count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>

#include "tests/unit/stream_fixture.h"
#include "userspace/lib/clock.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/seats/seat_view.h"

#define WRITERS 4
#define OPS_PER_WRITER 10000
#define RING_CAP 64
#define READER_MAX_ROUNDS 20000
#define TOTAL_SEATS (FX_SEATS_MAX * FX_EVENTS)

/* Versions start high and differ per event, as after an epoch. */
static const uint64_t start_version[FX_EVENTS] = {5000, 1ull << 40};

static struct fx fx;

/* A sink: runs on the stream's thread only; read after seat_stream_stop. */
struct count_sink {
	uint64_t seen[FX_EVENTS], last_version[FX_EVENTS];
	uint64_t order_errors, chain_errors, record_errors;
	uint64_t last_word[TOTAL_SEATS];
	uint8_t status[TOTAL_SEATS];
};

static void count_sink_fn(void *ctx, const struct event_info *e,
			  const struct seat_event *ev, const struct tkt_change *rec)
{
	struct count_sink *k = ctx;
	long ei = fx_index(e);
	uint32_t idx;

	if (ei < 0 || ei >= FX_EVENTS || rec->event_id != e->id ||
	    ev->seat_id != rec->seat_id || ev->seat_id >= e->n_seats ||
	    ev->status != seat_status_of_state(tkt_sw_state(rec->new_word))) {
		k->record_errors++;
		return;
	}
	if (ev->version != k->last_version[ei] + 1)
		k->order_errors++;
	k->last_version[ei] = ev->version;
	k->seen[ei]++;
	/* each seat's records chain old -> new (edge_poll_changes' order) */
	idx = (uint32_t)ei * FX_SEATS_MAX + ev->seat_id;
	if (rec->old_word != k->last_word[idx])
		k->chain_errors++;
	k->last_word[idx] = rec->new_word;
	k->status[idx] = ev->status;
}

/* ---- a reader of the published map, as sse_hub_subscribe reads it ---- */

struct snap {
	uint64_t version, oldest;
	uint32_t n_seats;
	uint8_t status[FX_SEATS_MAX];
	struct seat_event ring[RING_CAP];
};

static void take_snap(void *ctx, const struct seat_stream_view *v)
{
	struct snap *s = ctx;

	s->version = v->version;
	s->oldest = v->oldest_replay;
	s->n_seats = v->event->n_seats;
	memcpy(s->status, v->status, v->event->n_seats);
	if (v->version >= v->oldest_replay)
		seat_stream_view_replay(v, v->oldest_replay,
					v->version - v->oldest_replay + 1, s->ring);
}

struct reader {
	struct seat_stream *s;
	atomic_bool *done;
	pthread_t th;
	uint32_t rng;
	struct snap prev[FX_EVENTS], cur; /* the last of each event, the new one */
	/* out */
	uint64_t rounds, applied, errors;
	char why[160];
};

static void reader_fail(struct reader *r, const char *what, uint64_t a, uint64_t b)
{
	if (!r->errors++)
		snprintf(r->why, sizeof(r->why), "%s (%" PRIu64 ", %" PRIu64 ")", what, a, b);
}

/* Checks one snapshot against the one before of the same event: the ring
 * holds contiguous versions up to the snapshot's, and applying those after
 * the earlier snapshot to its map gives this map. */
static void check_snap(struct reader *r, const struct snap *prev, const struct snap *cur)
{
	uint64_t n = cur->version + 1 - cur->oldest;
	uint8_t st[FX_SEATS_MAX];

	if (n > RING_CAP) {
		reader_fail(r, "ring longer than its capacity", n, RING_CAP);
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		if (cur->ring[i].version != cur->oldest + i) {
			reader_fail(r, "ring not contiguous", cur->ring[i].version,
				    cur->oldest + i);
			return;
		}
	if (!prev->version)
		return;
	if (cur->version < prev->version) {
		reader_fail(r, "version went back", prev->version, cur->version);
		return;
	}
	if (prev->version + 1 < cur->oldest)
		return; /* the ring no longer has every change in between */
	memcpy(st, prev->status, cur->n_seats);
	for (uint64_t i = prev->version + 1 - cur->oldest; i < n; i++)
		st[cur->ring[i].seat_id] = cur->ring[i].status;
	if (memcmp(st, cur->status, cur->n_seats)) {
		reader_fail(r, "map is not the ring applied", prev->version, cur->version);
		return;
	}
	r->applied++;
}

static void *reader_loop(void *arg)
{
	struct reader *r = arg;
	uint64_t last_v[FX_EVENTS] = {0};

	while (!atomic_load(r->done) && r->rounds < READER_MAX_ROUNDS) {
		uint32_t ei = fx_rand(&r->rng) & 1, other = ei ^ 1;
		uint64_t v;

		r->rounds++;
		if (seat_stream_with_event(r->s, fx.ev[ei].id, take_snap, &r->cur)) {
			reader_fail(r, "event not found", ei, 0);
			break;
		}
		check_snap(r, &r->prev[ei], &r->cur);
		r->prev[ei] = r->cur;
		v = seat_stream_version(r->s, fx.ev[other].id);
		if (v < last_v[other] || v < start_version[other])
			reader_fail(r, "seat_stream_version went back", last_v[other], v);
		last_v[other] = v;
	}
	return NULL;
}

/* ---- the test ---- */

static void every_sink_sees_every_change_once_in_version_order(void **state)
{
	static struct count_sink sinks[2];
	static struct fx_writer w[WRITERS];
	static struct reader rd;
	struct seat_stream s;
	atomic_bool done = false;
	struct edge_stats st;
	uint64_t changed[FX_EVENTS] = {0}, total = 0;
	static struct snap end;

	(void)state;
	memset(&rd, 0, sizeof(rd));
	rd.s = &s;
	rd.rng = 77;
	rd.done = &done;
	/* a small queue: writers also meet a full one (refused, unchanged) */
	assert_int_equal(fx_open(&fx, 1024), 0);
	assert_int_equal(seat_stream_init(&s, &fx.cat, fx.edge, fx_by_id(start_version), RING_CAP), 0);
	for (int k = 0; k < 2; k++) {
		memset(&sinks[k], 0, sizeof(sinks[k]));
		for (int ei = 0; ei < FX_EVENTS; ei++)
			sinks[k].last_version[ei] = start_version[ei];
		assert_int_equal(seat_stream_add_sink(&s, count_sink_fn, &sinks[k]), 0);
	}
	assert_int_equal(seat_stream_start(&s), 0);

	assert_int_equal(pthread_create(&rd.th, NULL, reader_loop, &rd), 0);
	for (uint32_t i = 0; i < WRITERS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].f = &fx;
		w[i].id = i;
		w[i].rng = 0x9e3779b9u * (i + 1);
		w[i].max_ops = OPS_PER_WRITER;
		assert_int_equal(pthread_create(&w[i].th, NULL, fx_writer_loop, &w[i]), 0);
	}
	for (uint32_t i = 0; i < WRITERS; i++) {
		pthread_join(w[i].th, NULL);
		assert_int_equal(w[i].errors, 0);
		for (int ei = 0; ei < FX_EVENTS; ei++) {
			changed[ei] += w[i].changed[ei];
			total += w[i].changed[ei];
		}
	}
	atomic_store(&done, true);
	pthread_join(rd.th, NULL);
	/* at once: what is still queued is published by the stop */
	seat_stream_stop(&s);

	assert_int_equal(edge_stats(fx.edge, &st), 0);
	print_message("changes %" PRIu64 " (%" PRIu64 " + %" PRIu64 "), reader rounds %" PRIu64
		      " (%" PRIu64 " checked against the ring), late %" PRIu64 "\n",
		      total, changed[0], changed[1], rd.rounds, rd.applied, st.stream_late);
	assert_true(changed[0] > 0 && changed[1] > 0);
	if (rd.errors)
		print_message("reader: %s\n", rd.why);
	assert_int_equal(rd.errors, 0);
	assert_true(rd.rounds > 0);
	/* nothing lost: every change made is published, none unknown */
	assert_int_equal(atomic_load(&s.unknown_event), 0);
	assert_int_equal(atomic_load(&s.delivered), total);
	for (int k = 0; k < 2; k++) {
		struct count_sink *c = &sinks[k];

		assert_int_equal(c->record_errors, 0);
		assert_int_equal(c->order_errors, 0);
		/* a record that waited past its predecessor's 750 ms bound
		 * breaks its seat's chain; edge_stats counts it */
		if (!st.stream_late)
			assert_int_equal(c->chain_errors, 0);
		for (int ei = 0; ei < FX_EVENTS; ei++) {
			const struct event_info *e = &fx.ev[ei];

			assert_int_equal(c->seen[ei], changed[ei]);
			assert_int_equal(c->last_version[ei], start_version[ei] + changed[ei]);
			assert_int_equal(seat_stream_version(&s, e->id), c->last_version[ei]);
			assert_int_equal(seat_stream_with_event(&s, e->id, take_snap, &end), 0);
			for (uint32_t sid = 0; sid < e->n_seats; sid++) {
				uint32_t idx = (uint32_t)ei * FX_SEATS_MAX + sid;
				uint64_t word = edge_seat_read(fx.edge, e->seat_base + sid);

				/* the published map, the sink's and the table agree */
				assert_int_equal(end.status[sid], c->status[idx]);
				assert_int_equal(c->status[idx],
						 seat_status_of_state(tkt_sw_state(word)));
				if (!st.stream_late)
					assert_true(c->last_word[idx] == word);
			}
		}
	}
	seat_stream_free(&s);
	fx_close(&fx);
}

static void a_fifth_sink_is_refused(void **state)
{
	struct seat_stream s;
	int dummy;

	(void)state;
	assert_int_equal(fx_open(&fx, 0), 0);
	assert_int_equal(seat_stream_init(&s, &fx.cat, fx.edge, NULL, 4), 0);
	for (int i = 0; i < SEAT_STREAM_MAX_SINKS; i++)
		assert_int_equal(seat_stream_add_sink(&s, count_sink_fn, &dummy), 0);
	assert_int_equal(seat_stream_add_sink(&s, count_sink_fn, &dummy), -ENOSPC);
	/* started and stopped with no change: nothing published */
	assert_int_equal(seat_stream_start(&s), 0);
	seat_stream_stop(&s);
	assert_int_equal(atomic_load(&s.delivered), 0);
	assert_int_equal(seat_stream_version(&s, fx.ev[0].id), 0);
	assert_int_equal(seat_stream_version(&s, 12345), 0);
	seat_stream_free(&s);
	fx_close(&fx);
}

/* ---- batches ---- */

struct batch_sink {
	uint32_t calls, max_n;
	uint64_t n, order_errors, last_version[FX_EVENTS];
	struct seat_event first[3]; /* the first changes, for the per-change sink */
};

static void batch_sink_fn(void *ctx, const struct seat_change *ch, uint32_t n)
{
	struct batch_sink *b = ctx;

	b->calls++;
	if (n > b->max_n)
		b->max_n = n;
	for (uint32_t i = 0; i < n; i++) {
		long ei = fx_index(ch[i].event);

		if (ch[i].ev.version != b->last_version[ei] + 1 ||
		    ch[i].ev.seat_id != ch[i].rec.seat_id || ch[i].rec.event_id != ch[i].event->id)
			b->order_errors++;
		b->last_version[ei] = ch[i].ev.version;
		if (b->n < 3)
			b->first[b->n] = ch[i].ev;
		b->n++;
	}
}

struct seq_sink {
	uint64_t n;
	struct seat_event first[3];
};

static void seq_sink_fn(void *ctx, const struct event_info *e, const struct seat_event *ev,
			const struct tkt_change *rec)
{
	struct seq_sink *q = ctx;

	(void)e;
	(void)rec;
	if (q->n < 3)
		q->first[q->n] = *ev;
	q->n++;
}

/* 2500 records queued before the stream starts come in a poll or two: they
 * are versioned and handed over in batches of at most SEAT_STREAM_BATCH
 * (one sink call each), every event's versions contiguous, and a per-change
 * sink beside it sees the same changes in the same order. */
static void a_poll_is_published_in_batches(void **state)
{
	static struct batch_sink b;
	static struct seq_sink q;
	struct seat_stream s;
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());
	const uint32_t total = 2500;
	int64_t t0;

	(void)state;
	memset(&b, 0, sizeof(b));
	memset(&q, 0, sizeof(q));
	assert_int_equal(fx_open(&fx, 4096), 0);
	assert_int_equal(seat_stream_init(&s, &fx.cat, fx.edge, fx_by_id(start_version), RING_CAP), 0);
	for (int ei = 0; ei < FX_EVENTS; ei++)
		b.last_version[ei] = start_version[ei];
	assert_int_equal(seat_stream_add_batch_sink(&s, batch_sink_fn, &b), 0);
	assert_int_equal(seat_stream_add_sink(&s, seq_sink_fn, &q), 0);
	for (uint32_t i = 0; i < total; i++) {
		const struct event_info *e = &fx.ev[i % 3 == 0];
		/* backlog records (stamped before the edge opened) come as
		 * they are, in queue order */
		struct tkt_change r = {
			.new_word = i % 2 ? 0 : tkt_sw_pack(TKT_SEAT_HELD, 1, 1, now_ms + 60000),
			.event_id = e->id,
			.seat_id = i % e->n_seats,
			.seat_index = e->seat_base + i % e->n_seats,
		};

		assert_int_equal(edge_emit_change(fx.edge, &r), 0);
	}
	assert_int_equal(seat_stream_start(&s), 0);
	t0 = tkt_mono_ms();
	while (atomic_load(&s.delivered) < total && tkt_mono_ms() - t0 < 5000)
		usleep(1000);
	seat_stream_stop(&s);
	assert_int_equal(atomic_load(&s.delivered), total);
	assert_int_equal(b.n, total);
	assert_int_equal(b.order_errors, 0);
	/* a poll may end early (the queue's consumer side), never a batch
	 * past its bound */
	print_message("%u records in %u batches\n", total, b.calls);
	assert_true(b.calls >= (total + SEAT_STREAM_BATCH - 1) / SEAT_STREAM_BATCH);
	assert_true(b.calls <= total / 100);
	assert_int_equal(b.max_n, SEAT_STREAM_BATCH);
	assert_int_equal(atomic_load(&s.batches), b.calls);
	assert_int_equal(q.n, total);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(q.first[i].version, b.first[i].version);
		assert_int_equal(q.first[i].seat_id, b.first[i].seat_id);
		assert_int_equal(q.first[i].status, b.first[i].status);
	}
	for (int ei = 0; ei < FX_EVENTS; ei++)
		assert_int_equal(seat_stream_version(&s, fx.ev[ei].id), b.last_version[ei]);
	seat_stream_free(&s);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_poll_is_published_in_batches),
		cmocka_unit_test(every_sink_sees_every_change_once_in_version_order),
		cmocka_unit_test(a_fifth_sink_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
