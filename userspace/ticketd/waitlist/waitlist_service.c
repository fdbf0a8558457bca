/* The waiting lists of the daemon (waitlist_service.h). */
#include "userspace/ticketd/waitlist/waitlist_service.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/seats/holds.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/ticketd.h"

#define NOTES_CAP 4096       /* freed seats queued for the worker */
#define STORE_CAP 65536      /* changes queued for Redis */
#define STORE_BATCH 1024     /* changes one pipeline writes at most */
#define CHECK_MS 250         /* offers checked at least this often */
#define WAKE_MIN_MS 100      /* parked streams woken at most this often (news) */
#define WAKE_EVERY_MS 1000   /* and at least this often */
#define KEEPALIVE_MS 15000   /* a comment line when nothing else was sent */
#define STORE_DRAIN_MS 1000  /* graceful stop: keep writing this long */
#define REDIS_TIMEOUT_MS 1000

_Static_assert(WL_SID_LEN == TKT_SESSION_ID_LEN, "a waiter is keyed by its session id");

struct note {
	uint32_t event_idx, seat_id;
	uint64_t mono_ns; /* when the seat was freed (the change record) */
};

struct store_op {
	uint32_t event_id;
	bool del;
	uint64_t seq;
	char sid[2 * WL_SID_LEN + 1];
	char val[112];
};

struct waitlist {
	struct ticketd *app;
	uint32_t n;
	uint32_t offer_secs;
	uint32_t max_streams;

	pthread_mutex_t lock; /* guards q[] */
	struct wl_queue *q;   /* one per possible event id (n = CATALOG_MAX_EVENTS) */
	/* live entries of each queue, for the sink (written under lock) */
	atomic_uint *waiting;
	struct wl_ops ops;

	/* the offer worker's inbox: guards notes, n_notes, rescan, wake */
	pthread_mutex_t notes_lock;
	pthread_cond_t notes_cond;
	struct note *notes;
	uint32_t n_notes;
	bool *rescan; /* events whose free seats the worker must look for */
	bool any_rescan;
	pthread_t worker;
	bool worker_on;
	atomic_bool worker_stop;

	/* the store thread: guards ops, n_ops, resync, store_stop */
	pthread_mutex_t store_lock;
	pthread_cond_t store_cond;
	struct store_op *sops;
	uint32_t n_sops;
	bool resync; /* the queue overflowed: rewrite every list */
	bool store_stop;
	pthread_t store;
	bool store_on;
	redisContext *redis; /* store thread only */

	/* parked streams: guards waiters and closing; a leaf */
	pthread_mutex_t streams_lock;
	struct waitlist_stream *waiters;
	bool closing;
	atomic_uint streams;
	atomic_bool news, offer_news;

	atomic_uint_least64_t offers, lapsed, ordered, left, expired,
		streams_refused, notes_dropped, store_errors, store_written,
		delay_ns_sum, delay_count, delay_ns_max;
};

struct waitlist_stream {
	struct waitlist *wl;
	uint32_t idx;
	uint8_t sid[WL_SID_LEN];
	const struct waitlist_conn_ops *ops;
	void *conn;
	struct waitlist_stream *next;
	char buf[768];
	size_t len, off;
	bool done, sent;
	uint32_t last_position;
	uint64_t last_offer; /* a digest of the offer last sent */
	int64_t last_frame_ms;
};

/* The event's queue (its index is the event id), or -1 for an id that is
 * not a published event of the live catalogue: an event published after
 * start has its (empty) queue ready like the others. */
static int64_t event_index(const struct waitlist *wl, uint32_t event_id)
{
	return event_id < wl->n && catalog_find(&wl->app->catalog, event_id)
		       ? (int64_t)event_id
		       : -1;
}

/* ---- the seat table, through the REST hold rules ---- */

static enum wl_hold op_hold(void *ctx, uint32_t slot, uint32_t event_id,
			    uint32_t seat_id, uint32_t secs, int64_t *expires_ms)
{
	struct waitlist *wl = ctx;
	struct holds_outcome out;

	holds_reserve(wl->app, slot, event_id, &seat_id, 1, secs, &out);
	switch (out.result) {
	case HOLDS_OK:
		*expires_ms = out.expires_unix_ms;
		return WL_HOLD_OK;
	case HOLDS_LIMIT:
	case HOLDS_LIMIT_ORIGIN:
	case HOLDS_NOT_ADMITTED:
		return WL_HOLD_REFUSED;
	default:
		return WL_HOLD_TAKEN;
	}
}

static enum wl_claim op_claim(void *ctx, uint32_t slot, uint32_t event_id,
			      uint32_t seat_id)
{
	struct waitlist *wl = ctx;
	const struct event_info *e = catalog_find(&wl->app->catalog, event_id);
	uint32_t now = tkt_ms32(tkt_mono_ns());
	uint64_t w;

	if (!e || seat_id >= e->n_seats)
		return WL_CLAIM_GONE;
	w = tkt_load64(&wl->app->seats[e->seat_base + seat_id]);
	switch (tkt_sw_claimed_by(w, slot, now)) {
	case TKT_SEAT_HELD:
		return WL_CLAIM_HELD;
	case TKT_SEAT_ORDERED:
		return WL_CLAIM_ORDERED;
	default:
		/* an offered seat can only become sold through its
		 * holder's order */
		return tkt_sw_effective_state(w, now) == TKT_SEAT_SOLD ? WL_CLAIM_ORDERED
								 : WL_CLAIM_GONE;
	}
}

static void op_release(void *ctx, uint32_t slot, uint32_t event_id, uint32_t seat_id)
{
	struct waitlist *wl = ctx;
	struct holds_outcome out;

	holds_release(wl->app, slot, event_id, seat_id, &out);
}

/* ---- the store (Redis) ---- */

static void format_op(struct store_op *op, uint32_t event_id,
		      const struct wl_entry *e, bool del)
{
	int n;

	memset(op, 0, sizeof(*op));
	op->event_id = event_id;
	op->del = del;
	op->seq = e->seq;
	hex_encode(e->sid, WL_SID_LEN, op->sid);
	if (del)
		return;
	n = snprintf(op->val, sizeof(op->val), "%u %u %" PRId64 " %" PRId64 " %" PRIu64 " %" PRId64 " ",
		     e->slot, e->count, e->session_expires_ms, e->joined_ms, e->seq,
		     e->n_offer ? e->offer_expires_ms : 0);
	for (uint8_t i = 0; i < e->n_offer && n > 0 && (size_t)n < sizeof(op->val); i++)
		n += snprintf(op->val + n, sizeof(op->val) - (size_t)n, "%s%u", i ? "," : "",
			      e->offer[i]);
	if (!e->n_offer && n > 0 && (size_t)n + 1 < sizeof(op->val))
		op->val[n] = '-';
}

/* Under lock: queues one change for Redis. */
static void store_push(struct waitlist *wl, uint32_t event_id,
		       const struct wl_entry *e, bool del)
{
	pthread_mutex_lock(&wl->store_lock);
	if (wl->n_sops < STORE_CAP) {
		format_op(&wl->sops[wl->n_sops++], event_id, e, del);
	} else if (!wl->resync) {
		wl->resync = true;
		log_msg(LOG_WARN, NULL, "waitlist: Redis write queue full; every list "
			"will be rewritten");
	}
	pthread_cond_signal(&wl->store_cond);
	pthread_mutex_unlock(&wl->store_lock);
}

static void op_changed(void *ctx, uint32_t event_id, const struct wl_entry *e,
		       enum wl_change why)
{
	struct waitlist *wl = ctx;
	bool removed = why == WL_LEFT || why == WL_ORDERED || why == WL_LAPSED ||
		       why == WL_EXPIRED;

	switch (why) {
	case WL_OFFERED:
		atomic_fetch_add(&wl->offers, 1);
		/* fall through */
	case WL_GREW:
		atomic_store(&wl->offer_news, true);
		break;
	case WL_LAPSED:
		atomic_fetch_add(&wl->lapsed, 1);
		break;
	case WL_ORDERED:
		atomic_fetch_add(&wl->ordered, 1);
		break;
	case WL_LEFT:
		atomic_fetch_add(&wl->left, 1);
		break;
	case WL_EXPIRED:
		atomic_fetch_add(&wl->expired, 1);
		break;
	default:
		break;
	}
	atomic_store(&wl->news, true);
	store_push(wl, event_id, e, removed);
}

static redisContext *redis_open(struct waitlist *wl, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	redisContext *c = redisConnectWithTimeout(wl->app->cfg.redis_host,
						  wl->app->cfg.redis_port, tv);

	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, (struct timeval){REDIS_TIMEOUT_MS / 1000,
					    (REDIS_TIMEOUT_MS % 1000) * 1000});
	return c;
}

/* Writes ops[0..n) in one pipeline. 0, or -1 (the connection is closed). */
static int store_write(struct waitlist *wl, const struct store_op *ops, uint32_t n,
		       bool wipe_first)
{
	redisContext *c = wl->redis;
	uint32_t sent = 0;
	int rc = 0;

	if (!c && !(c = wl->redis = redis_open(wl, REDIS_TIMEOUT_MS)))
		return -1;
	if (wipe_first)
		for (uint32_t i = 0; i < wl->n; i++) {
			uint32_t id = wl->q[i].event_id;

			if (!wl->q[i].used && !catalog_find(&wl->app->catalog, id))
				continue; /* no such event, nothing of it written */
			redisAppendCommand(c, "DEL tkt:wl:%u tkt:wl:%u:e", id, id);
			sent++;
		}
	for (uint32_t i = 0; i < n; i++) {
		const struct store_op *op = &ops[i];

		if (op->del) {
			redisAppendCommand(c, "ZREM tkt:wl:%u %s", op->event_id, op->sid);
			redisAppendCommand(c, "HDEL tkt:wl:%u:e %s", op->event_id, op->sid);
		} else {
			redisAppendCommand(c, "ZADD tkt:wl:%u %" PRIu64 " %s", op->event_id,
					   op->seq, op->sid);
			redisAppendCommand(c, "HSET tkt:wl:%u:e %s %s", op->event_id, op->sid,
					   op->val);
		}
		sent += 2;
	}
	for (uint32_t i = 0; i < sent; i++) {
		redisReply *r = NULL;

		if (redisGetReply(c, (void **)&r) != REDIS_OK || !r) {
			rc = -1;
			break;
		}
		if (r->type == REDIS_REPLY_ERROR)
			rc = -1;
		freeReplyObject(r);
	}
	if (rc || c->err) {
		redisFree(c);
		wl->redis = NULL;
		atomic_fetch_add(&wl->store_errors, 1);
		return -1;
	}
	atomic_fetch_add(&wl->store_written, n);
	return 0;
}

/* Every live entry as a write (a resync after the queue overflowed). */
static struct store_op *snapshot(struct waitlist *wl, uint32_t *n)
{
	struct store_op *ops;
	uint32_t total = 0, k = 0;

	pthread_mutex_lock(&wl->lock);
	for (uint32_t i = 0; i < wl->n; i++)
		total += wl->q[i].live;
	ops = calloc(total ? total : 1, sizeof(*ops));
	for (uint32_t i = 0; ops && i < wl->n; i++) {
		struct wl_queue *q = &wl->q[i];

		for (uint32_t j = 0; j < q->used; j++)
			if (!q->e[j].dead)
				format_op(&ops[k++], q->event_id, &q->e[j], false);
	}
	/* the changes queued so far are in the snapshot */
	pthread_mutex_lock(&wl->store_lock);
	wl->n_sops = 0;
	wl->resync = false;
	pthread_mutex_unlock(&wl->store_lock);
	pthread_mutex_unlock(&wl->lock);
	*n = k;
	return ops;
}

static void *store_loop(void *arg)
{
	struct waitlist *wl = arg;
	struct store_op *batch = calloc(STORE_BATCH, sizeof(*batch));
	uint32_t n = 0, backoff_ms = 50;
	int64_t deadline = 0;

	if (!batch)
		return NULL;
	for (;;) {
		bool resync = false, stop;

		pthread_mutex_lock(&wl->store_lock);
		while (!n && !wl->n_sops && !wl->resync && !wl->store_stop)
			pthread_cond_wait(&wl->store_cond, &wl->store_lock);
		stop = wl->store_stop;
		if (!n) {
			n = wl->n_sops < STORE_BATCH ? wl->n_sops : STORE_BATCH;
			memcpy(batch, wl->sops, n * sizeof(*batch));
			memmove(wl->sops, wl->sops + n, (wl->n_sops - n) * sizeof(*batch));
			wl->n_sops -= n;
			resync = wl->resync;
		}
		pthread_mutex_unlock(&wl->store_lock);
		if (stop && !deadline)
			deadline = tkt_mono_ms() + STORE_DRAIN_MS;
		if (resync) {
			uint32_t sn = 0;
			struct store_op *all = snapshot(wl, &sn);

			/* the snapshot is newer than the batch taken with it */
			n = 0;
			/* a failed rewrite is tried again: resync set again */
			if (!all || store_write(wl, all, sn, true)) {
				pthread_mutex_lock(&wl->store_lock);
				wl->resync = true;
				pthread_mutex_unlock(&wl->store_lock);
			}
			free(all);
		}
		if (n && !store_write(wl, batch, n, false)) {
			n = 0;
			backoff_ms = 50;
		} else if (n || resync) {
			if (stop && tkt_mono_ms() >= deadline)
				break;
			struct timespec ts = {0, (long)backoff_ms * 1000000L};

			nanosleep(&ts, NULL);
			backoff_ms = backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2;
			continue;
		}
		pthread_mutex_lock(&wl->store_lock);
		stop = wl->store_stop && !wl->n_sops && !wl->resync;
		pthread_mutex_unlock(&wl->store_lock);
		if (stop || (deadline && tkt_mono_ms() >= deadline))
			break;
	}
	pthread_mutex_lock(&wl->store_lock);
	if (n || wl->n_sops || wl->resync)
		log_msg(LOG_WARN, NULL, "waitlist: %u changes not written to Redis at stop",
			n + wl->n_sops);
	pthread_mutex_unlock(&wl->store_lock);
	free(batch);
	return NULL;
}

/* "slot count sessionExpiresMs joinedMs seq offerExpiresMs seats|-" */
static int parse_entry(const char *sid_hex, const char *val, struct wl_entry *e)
{
	unsigned slot, count;
	long long sexp, joined, oexp;
	unsigned long long seq;
	char seats[64];
	int n = 0;

	memset(e, 0, sizeof(*e));
	if (hex_decode(sid_hex, e->sid, WL_SID_LEN))
		return -1;
	if (sscanf(val, "%u %u %lld %lld %llu %lld %63s%n", &slot, &count, &sexp, &joined,
		   &seq, &oexp, seats, &n) != 7 ||
	    count < 1 || count > WL_COUNT_MAX || !slot || slot > SESSION_SLOTS)
		return -1;
	e->slot = slot;
	e->count = (uint8_t)count;
	e->session_expires_ms = sexp;
	e->joined_ms = joined;
	e->seq = seq;
	if (strcmp(seats, "-")) {
		char *p = seats, *end;

		while (*p && e->n_offer < WL_COUNT_MAX) {
			e->offer[e->n_offer++] = (uint32_t)strtoul(p, &end, 10);
			if (end == p)
				return -1;
			p = *end == ',' ? end + 1 : end;
		}
		e->offer_expires_ms = oexp;
	}
	return 0;
}

/* The id of the catalogue's next event after *cur (catalog_next), or
 * wl->n when there is none. */
static uint32_t next_event(const struct waitlist *wl, uint32_t *cur)
{
	const struct event_info *e = catalog_next(&wl->app->catalog, cur);

	return e && e->id < wl->n ? e->id : wl->n;
}

/* The lists of the events published at start (a later event's starts
 * empty: nobody can have joined it before it was published). */
static void load(struct waitlist *wl)
{
	redisContext *c = redis_open(wl, 2000);
	uint32_t total = 0, bad = 0;

	if (!c) {
		log_msg(LOG_WARN, NULL, "waitlist: Redis did not answer; the lists start empty");
		return;
	}
	for (uint32_t cur = 0, i; (i = next_event(wl, &cur)) < wl->n;) {
		struct wl_queue *q = &wl->q[i];
		redisReply *r = redisCommand(c, "HGETALL tkt:wl:%u:e", q->event_id);

		if (!r || r->type != REDIS_REPLY_ARRAY) {
			if (r)
				freeReplyObject(r);
			log_msg(LOG_WARN, NULL, "waitlist: cannot read event %u's list", q->event_id);
			if (!r)
				break;
			continue;
		}
		for (size_t k = 0; k + 1 < r->elements; k += 2) {
			struct wl_entry e;

			if (r->element[k]->type != REDIS_REPLY_STRING ||
			    r->element[k + 1]->type != REDIS_REPLY_STRING ||
			    parse_entry(r->element[k]->str, r->element[k + 1]->str, &e) ||
			    wl_restore(q, &e) != WL_OK) {
				bad++;
				continue;
			}
			total++;
		}
		freeReplyObject(r);
		wl_restore_done(q);
		atomic_store(&wl->waiting[i], q->live);
	}
	redisFree(c);
	log_msg(LOG_INFO, NULL, "waitlist: %u waiters loaded (%u entries unreadable)",
		total, bad);
}

/* ---- life cycle ---- */

int waitlist_create(struct waitlist **out, struct ticketd *app, char *err,
		    size_t errlen)
{
	struct waitlist *wl = calloc(1, sizeof(*wl));
	uint32_t n = CATALOG_MAX_EVENTS;

	*out = NULL;
	if (!wl)
		goto nomem;
	wl->app = app;
	wl->n = n;
	wl->offer_secs = (uint32_t)app->cfg.waitlist_offer_seconds;
	wl->max_streams = (uint32_t)app->cfg.waitlist_max_streams;
	wl->q = calloc(n, sizeof(*wl->q));
	wl->waiting = calloc(n, sizeof(*wl->waiting));
	wl->rescan = calloc(n, sizeof(*wl->rescan));
	wl->notes = calloc(NOTES_CAP, sizeof(*wl->notes));
	wl->sops = calloc(STORE_CAP, sizeof(*wl->sops));
	if (!wl->q || !wl->waiting || !wl->rescan || !wl->notes || !wl->sops)
		goto nomem;
	wl->ops = (struct wl_ops){.hold = op_hold, .claim = op_claim, .release = op_release,
				  .changed = op_changed, .ctx = wl};
	pthread_mutex_init(&wl->lock, NULL);
	pthread_mutex_init(&wl->notes_lock, NULL);
	pthread_cond_init(&wl->notes_cond, NULL);
	pthread_mutex_init(&wl->store_lock, NULL);
	pthread_cond_init(&wl->store_cond, NULL);
	pthread_mutex_init(&wl->streams_lock, NULL);
	for (uint32_t i = 0; i < n; i++)
		wl_queue_init(&wl->q[i], i, (uint32_t)app->cfg.waitlist_max_entries);
	load(wl);
	if (pthread_create(&wl->store, NULL, store_loop, wl)) {
		snprintf(err, errlen, "cannot start the waiting list's store thread");
		waitlist_free(wl);
		return -1;
	}
	wl->store_on = true;
	*out = wl;
	return 0;
nomem:
	if (wl) {
		free(wl->q);
		free(wl->waiting);
		free(wl->rescan);
		free(wl->notes);
		free(wl->sops);
		free(wl);
	}
	snprintf(err, errlen, "out of memory for the waiting lists");
	return -1;
}

static void wake_streams(struct waitlist *wl)
{
	struct waitlist_stream *list, *next;

	pthread_mutex_lock(&wl->streams_lock);
	list = wl->waiters;
	wl->waiters = NULL;
	pthread_mutex_unlock(&wl->streams_lock);
	/* each stays suspended (so it cannot be freed) until this resume */
	for (; list; list = next) {
		next = list->next;
		list->next = NULL;
		list->ops->resume(list->conn);
	}
}

void waitlist_close(struct waitlist *wl)
{
	if (!wl)
		return;
	pthread_mutex_lock(&wl->streams_lock);
	wl->closing = true;
	pthread_mutex_unlock(&wl->streams_lock);
	wake_streams(wl);
}

void waitlist_free(struct waitlist *wl)
{
	if (!wl)
		return;
	waitlist_stop_offers(wl);
	if (wl->store_on) {
		pthread_mutex_lock(&wl->store_lock);
		wl->store_stop = true;
		pthread_cond_signal(&wl->store_cond);
		pthread_mutex_unlock(&wl->store_lock);
		pthread_join(wl->store, NULL);
	}
	if (wl->redis)
		redisFree(wl->redis);
	for (uint32_t i = 0; i < wl->n; i++)
		wl_queue_free(&wl->q[i]);
	pthread_mutex_destroy(&wl->lock);
	pthread_mutex_destroy(&wl->notes_lock);
	pthread_cond_destroy(&wl->notes_cond);
	pthread_mutex_destroy(&wl->store_lock);
	pthread_cond_destroy(&wl->store_cond);
	pthread_mutex_destroy(&wl->streams_lock);
	free(wl->q);
	free(wl->waiting);
	free(wl->rescan);
	free(wl->notes);
	free(wl->sops);
	free(wl);
}

/* ---- the offer worker ---- */

void waitlist_seat_batch_sink(void *ctx, const struct seat_change *ch, uint32_t n)
{
	struct waitlist *wl = ctx;
	bool signal = false;

	for (uint32_t i = 0; i < n; i++) {
		int64_t idx;

		if (ch[i].ev.status != SEAT_AVAILABLE)
			continue;
		idx = ch[i].event->id;
		if ((uint32_t)idx >= wl->n || !atomic_load(&wl->waiting[idx]))
			continue;
		if (!signal)
			pthread_mutex_lock(&wl->notes_lock);
		signal = true;
		if (wl->n_notes < NOTES_CAP) {
			wl->notes[wl->n_notes++] = (struct note){(uint32_t)idx, ch[i].ev.seat_id,
								 ch[i].rec.mono_ns};
		} else {
			/* the worker looks at the whole event instead */
			wl->rescan[idx] = true;
			wl->any_rescan = true;
			atomic_fetch_add(&wl->notes_dropped, 1);
		}
	}
	if (signal) {
		pthread_cond_signal(&wl->notes_cond);
		pthread_mutex_unlock(&wl->notes_lock);
	}
}

/* Under lock: offers every free seat of queue i. */
static void scan_event(struct waitlist *wl, uint32_t i, int64_t now_ms)
{
	struct wl_queue *q = &wl->q[i];
	const struct event_info *e = catalog_find(&wl->app->catalog, q->event_id);
	uint32_t now32 = tkt_ms32(tkt_mono_ns());

	if (!e)
		return;
	for (uint32_t s = 0; s < e->n_seats && q->live; s++) {
		uint64_t w = tkt_load64(&wl->app->seats[e->seat_base + s]);

		if (tkt_sw_effective_state(w, now32) == TKT_SEAT_AVAILABLE)
			(void)wl_seat_free(q, s, now_ms, wl->offer_secs, &wl->ops);
	}
}

static void observe_delay(struct waitlist *wl, uint64_t freed_ns)
{
	uint64_t now = tkt_mono_ns(), d = now > freed_ns ? now - freed_ns : 0,
		 max = atomic_load(&wl->delay_ns_max);

	atomic_fetch_add(&wl->delay_ns_sum, d);
	atomic_fetch_add(&wl->delay_count, 1);
	while (d > max && !atomic_compare_exchange_weak(&wl->delay_ns_max, &max, d))
		;
}

static void *offer_loop(void *arg)
{
	struct waitlist *wl = arg;
	struct note *notes = calloc(NOTES_CAP, sizeof(*notes));
	bool *rescan = calloc(wl->n ? wl->n : 1, sizeof(*rescan));
	int64_t last_check = 0, last_wake = 0;

	if (!notes || !rescan) {
		free(notes);
		free(rescan);
		log_msg(LOG_ERROR, NULL, "waitlist: out of memory; no offers");
		return NULL;
	}
	while (!atomic_load(&wl->worker_stop)) {
		uint32_t n;
		bool any_rescan;
		int64_t now_mono, now;

		pthread_mutex_lock(&wl->notes_lock);
		if (!wl->n_notes && !wl->any_rescan) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 100 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&wl->notes_cond, &wl->notes_lock, &ts);
		}
		n = wl->n_notes;
		memcpy(notes, wl->notes, n * sizeof(*notes));
		wl->n_notes = 0;
		any_rescan = wl->any_rescan;
		if (any_rescan) {
			memcpy(rescan, wl->rescan, wl->n * sizeof(*rescan));
			memset(wl->rescan, 0, wl->n * sizeof(*wl->rescan));
			wl->any_rescan = false;
		}
		pthread_mutex_unlock(&wl->notes_lock);

		now_mono = tkt_mono_ms();
		pthread_mutex_lock(&wl->lock);
		now = tkt_unix_ms();
		for (uint32_t k = 0; k < n; k++) {
			struct wl_queue *q = &wl->q[notes[k].event_idx];
			const struct wl_entry *e;

			if (!q->live)
				continue;
			e = wl_seat_free(q, notes[k].seat_id, now, wl->offer_secs, &wl->ops);
			if (e)
				observe_delay(wl, notes[k].mono_ns);
		}
		for (uint32_t i = 0; any_rescan && i < wl->n; i++)
			if (rescan[i] && wl->q[i].live)
				scan_event(wl, i, now);
		if (now_mono - last_check >= CHECK_MS) {
			last_check = now_mono;
			for (uint32_t i = 0; i < wl->n; i++)
				if (wl->q[i].n_offers)
					wl_check_offers(&wl->q[i], now, &wl->ops);
		}
		for (uint32_t i = 0; i < wl->n; i++)
			atomic_store(&wl->waiting[i], wl->q[i].live);
		pthread_mutex_unlock(&wl->lock);

		if (atomic_exchange(&wl->offer_news, false) ||
		    (atomic_load(&wl->news) && now_mono - last_wake >= WAKE_MIN_MS) ||
		    now_mono - last_wake >= WAKE_EVERY_MS) {
			atomic_store(&wl->news, false);
			last_wake = now_mono;
			wake_streams(wl);
		}
	}
	free(notes);
	free(rescan);
	return NULL;
}

int waitlist_start_offers(struct waitlist *wl)
{
	pthread_mutex_lock(&wl->notes_lock);
	for (uint32_t i = 0; i < wl->n; i++)
		if (atomic_load(&wl->waiting[i])) {
			wl->rescan[i] = true;
			wl->any_rescan = true;
		}
	pthread_mutex_unlock(&wl->notes_lock);
	atomic_store(&wl->worker_stop, false);
	if (pthread_create(&wl->worker, NULL, offer_loop, wl))
		return -1;
	wl->worker_on = true;
	return 0;
}

void waitlist_stop_offers(struct waitlist *wl)
{
	if (!wl || !wl->worker_on)
		return;
	atomic_store(&wl->worker_stop, true);
	pthread_mutex_lock(&wl->notes_lock);
	pthread_cond_signal(&wl->notes_cond);
	pthread_mutex_unlock(&wl->notes_lock);
	pthread_join(wl->worker, NULL);
	wl->worker_on = false;
}

/* ---- requests ---- */

static void view_of(const struct wl_entry *e, uint32_t position,
		    struct waitlist_view *out)
{
	memset(out, 0, sizeof(*out));
	/* a waiter whose offer is complete waits no more */
	out->position = e->n_offer >= e->count ? 0 : position;
	out->count = e->count;
	out->joined_ms = e->joined_ms;
	out->n_offer = e->n_offer;
	memcpy(out->offer, e->offer, sizeof(out->offer));
	out->offer_expires_ms = e->n_offer ? e->offer_expires_ms : 0;
}

struct avail_ctx {
	uint32_t available;
};

static void read_available(void *ctx, const struct seat_stream_view *v)
{
	((struct avail_ctx *)ctx)->available = v->es->counts.available;
}

enum waitlist_result waitlist_join(struct waitlist *wl, uint32_t event_id,
				   const struct session *s, uint8_t count,
				   struct waitlist_view *out)
{
	int64_t idx = event_index(wl, event_id);
	struct avail_ctx av = {0};
	const struct wl_entry *e;
	struct wl_queue *q;
	enum wl_result r;
	uint32_t pos = 0;
	bool first;

	if (idx < 0)
		return WLS_NO_EVENT;
	q = &wl->q[idx];
	pthread_mutex_lock(&wl->lock);
	if ((e = wl_find(q, s->id, &pos))) {
		view_of(e, pos, out);
		pthread_mutex_unlock(&wl->lock);
		return WLS_EXISTS;
	}
	pthread_mutex_unlock(&wl->lock);
	/* the published map (a seat freed a moment ago counts as free), read
	 * without our lock: the stream's event lock never nests with it */
	if (seat_stream_with_event(&wl->app->stream, event_id, read_available, &av) ||
	    av.available)
		return WLS_SEATS_AVAILABLE;
	pthread_mutex_lock(&wl->lock);
	first = q->live == 0;
	r = wl_join(q, s->id, s->slot, (int64_t)s->expires_unix * 1000, count, tkt_unix_ms(),
		    &wl->ops, &e);
	if (r == WL_OK)
		view_of(e, q->live, out);
	else if (r == WL_EXISTS) /* joined meanwhile by a twin request */
		view_of(e, wl_find(q, s->id, &pos) ? pos : 0, out);
	atomic_store(&wl->waiting[idx], q->live);
	pthread_mutex_unlock(&wl->lock);
	if (r == WL_EXISTS)
		return WLS_EXISTS;
	if (r == WL_FULL)
		return WLS_FULL;
	if (r != WL_OK)
		return WLS_NOMEM;
	if (first) {
		/* a seat freed between the check and the join found nobody
		 * waiting: the worker looks at the event once */
		pthread_mutex_lock(&wl->notes_lock);
		wl->rescan[idx] = true;
		wl->any_rescan = true;
		pthread_cond_signal(&wl->notes_cond);
		pthread_mutex_unlock(&wl->notes_lock);
	}
	return WLS_OK;
}

enum waitlist_result waitlist_get(struct waitlist *wl, uint32_t event_id,
				  const struct session *s, struct waitlist_view *out)
{
	int64_t idx = event_index(wl, event_id);
	const struct wl_entry *e;
	uint32_t pos = 0;

	if (idx < 0)
		return WLS_NO_EVENT;
	pthread_mutex_lock(&wl->lock);
	e = wl_find(&wl->q[idx], s->id, &pos);
	if (e)
		view_of(e, pos, out);
	pthread_mutex_unlock(&wl->lock);
	return e ? WLS_OK : WLS_NOT_FOUND;
}

enum waitlist_result waitlist_leave(struct waitlist *wl, uint32_t event_id,
				    const struct session *s)
{
	int64_t idx = event_index(wl, event_id);
	enum wl_result r;

	if (idx < 0)
		return WLS_NO_EVENT;
	pthread_mutex_lock(&wl->lock);
	r = wl_leave(&wl->q[idx], s->id, &wl->ops);
	atomic_store(&wl->waiting[idx], wl->q[idx].live);
	pthread_mutex_unlock(&wl->lock);
	return r == WL_OK ? WLS_OK : WLS_NOT_FOUND;
}

/* ---- streams ---- */

enum waitlist_result waitlist_stream_open(struct waitlist *wl, uint32_t event_id,
					  const struct session *s,
					  const struct waitlist_conn_ops *ops,
					  void *conn, struct waitlist_stream **out)
{
	struct waitlist_view v;
	struct waitlist_stream *st;
	enum waitlist_result r = waitlist_get(wl, event_id, s, &v);

	*out = NULL;
	if (r)
		return r;
	pthread_mutex_lock(&wl->streams_lock);
	r = wl->closing ? WLS_CLOSED : WLS_OK;
	if (!r && atomic_fetch_add(&wl->streams, 1) >= wl->max_streams) {
		atomic_fetch_sub(&wl->streams, 1);
		atomic_fetch_add(&wl->streams_refused, 1);
		r = WLS_TOO_MANY_STREAMS;
	}
	pthread_mutex_unlock(&wl->streams_lock);
	if (r)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st) {
		atomic_fetch_sub(&wl->streams, 1);
		return WLS_NOMEM;
	}
	st->wl = wl;
	st->idx = (uint32_t)event_index(wl, event_id);
	memcpy(st->sid, s->id, WL_SID_LEN);
	st->ops = ops;
	st->conn = conn;
	*out = st;
	return WLS_OK;
}

static uint64_t offer_digest(const struct waitlist_view *v)
{
	uint64_t h = (uint64_t)v->offer_expires_ms * 31 + v->n_offer;

	for (uint8_t i = 0; i < v->n_offer; i++)
		h = h * 1000003u + v->offer[i];
	return v->n_offer ? h | 1 : 0;
}

static size_t append(char *buf, size_t len, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static size_t append(char *buf, size_t len, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len >= cap)
		return len;
	va_start(ap, fmt);
	n = vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= cap - len ? cap : len + (size_t)n;
}

/* The frames the waiter needs now, if any. */
static void next_frame(struct waitlist_stream *st, int64_t now_mono)
{
	struct waitlist *wl = st->wl;
	const struct wl_entry *e;
	struct waitlist_view v;
	uint32_t pos = 0;
	size_t n = 0, cap = sizeof(st->buf);
	uint64_t dig;

	pthread_mutex_lock(&wl->lock);
	e = wl_find(&wl->q[st->idx], st->sid, &pos);
	if (e)
		view_of(e, pos, &v);
	pthread_mutex_unlock(&wl->lock);
	if (!e) {
		n = append(st->buf, 0, cap, "event: gone\ndata: {}\n\n");
		st->done = true;
	} else {
		dig = offer_digest(&v);
		if (!st->sent || v.position != st->last_position)
			n = v.position ? append(st->buf, n, cap,
						"event: position\ndata: {\"position\":%u}\n\n",
						v.position)
				       : append(st->buf, n, cap,
						"event: position\ndata: {\"position\":null}\n\n");
		if (dig && dig != st->last_offer) {
			char until[TKT_RFC3339_LEN] = "";

			tkt_format_rfc3339_ms(v.offer_expires_ms, until, sizeof(until));
			n = append(st->buf, n, cap, "event: offer\ndata: {\"seatIds\":[");
			for (uint8_t i = 0; i < v.n_offer; i++)
				n = append(st->buf, n, cap, "%s%u", i ? "," : "", v.offer[i]);
			n = append(st->buf, n, cap, "],\"expiresAt\":\"%s\"}\n\n", until);
		}
		if (!n && now_mono - st->last_frame_ms >= KEEPALIVE_MS)
			n = append(st->buf, n, cap, ": keep-alive\n\n");
		st->last_position = v.position;
		st->last_offer = dig;
	}
	if (n > 0 && n < cap) {
		st->len = n;
		st->off = 0;
		st->sent = true;
		st->last_frame_ms = now_mono;
	}
}

ssize_t waitlist_stream_read(struct waitlist_stream *st, char *buf, size_t max)
{
	struct waitlist *wl = st->wl;
	size_t n;
	bool closing;

	if (st->off == st->len) {
		pthread_mutex_lock(&wl->streams_lock);
		closing = wl->closing;
		pthread_mutex_unlock(&wl->streams_lock);
		if (st->done || closing)
			return -1;
		st->len = st->off = 0;
		next_frame(st, tkt_mono_ms());
		if (st->off == st->len) {
			/* nothing new: park until the worker wakes us */
			pthread_mutex_lock(&wl->streams_lock);
			if (wl->closing) {
				pthread_mutex_unlock(&wl->streams_lock);
				return -1;
			}
			st->ops->suspend(st->conn);
			st->next = wl->waiters;
			wl->waiters = st;
			pthread_mutex_unlock(&wl->streams_lock);
			return 0;
		}
	}
	n = st->len - st->off < max ? st->len - st->off : max;
	memcpy(buf, st->buf + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

void waitlist_stream_release(struct waitlist_stream *st)
{
	if (!st)
		return;
	atomic_fetch_sub(&st->wl->streams, 1);
	free(st);
}

/* ---- metrics ---- */

int waitlist_render_metrics(struct waitlist *wl, char **buf, size_t *len, size_t *cap)
{
	uint64_t entries = 0;

	if (!wl)
		return 0;
	for (uint32_t i = 0; i < wl->n; i++)
		entries += atomic_load(&wl->waiting[i]);
	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_waitlist_entries Sessions on the waiting lists of sold-out events.\n"
		"# TYPE ticketd_waitlist_entries gauge\nticketd_waitlist_entries %" PRIu64 "\n"
		"# HELP ticketd_waitlist_offers_total Offers made to waiters (seats held for them).\n"
		"# TYPE ticketd_waitlist_offers_total counter\nticketd_waitlist_offers_total %" PRIu64 "\n"
		"# HELP ticketd_waitlist_offer_lapsed_total Offers that lapsed un-ordered.\n"
		"# TYPE ticketd_waitlist_offer_lapsed_total counter\n"
		"ticketd_waitlist_offer_lapsed_total %" PRIu64 "\n"
		"# HELP ticketd_waitlist_offer_ordered_total Offers the waiter ordered.\n"
		"# TYPE ticketd_waitlist_offer_ordered_total counter\n"
		"ticketd_waitlist_offer_ordered_total %" PRIu64 "\n"
		"# HELP ticketd_waitlist_left_total Waiters that left the list (DELETE), or whose "
		"session expired.\n# TYPE ticketd_waitlist_left_total counter\n"
		"ticketd_waitlist_left_total{reason=\"delete\"} %" PRIu64 "\n"
		"ticketd_waitlist_left_total{reason=\"session_expired\"} %" PRIu64 "\n"
		"# HELP ticketd_waitlist_offer_delay_seconds From a seat's release to the hold "
		"offering it.\n# TYPE ticketd_waitlist_offer_delay_seconds summary\n"
		"ticketd_waitlist_offer_delay_seconds_sum %.6f\n"
		"ticketd_waitlist_offer_delay_seconds_count %" PRIu64 "\n"
		"# HELP ticketd_waitlist_offer_delay_max_seconds Longest release-to-offer delay "
		"since start.\n# TYPE ticketd_waitlist_offer_delay_max_seconds gauge\n"
		"ticketd_waitlist_offer_delay_max_seconds %.6f\n"
		"# HELP ticketd_waitlist_streams Open waiting-list streams.\n"
		"# TYPE ticketd_waitlist_streams gauge\nticketd_waitlist_streams %u\n"
		"# HELP ticketd_waitlist_streams_refused_total Waiting-list streams refused "
		"(waitlist_max_streams).\n# TYPE ticketd_waitlist_streams_refused_total counter\n"
		"ticketd_waitlist_streams_refused_total %" PRIu64 "\n"
		"# HELP ticketd_waitlist_store_errors_total Failed Redis writes of the waiting "
		"lists (retried).\n# TYPE ticketd_waitlist_store_errors_total counter\n"
		"ticketd_waitlist_store_errors_total %" PRIu64 "\n",
		entries, (uint64_t)atomic_load(&wl->offers), (uint64_t)atomic_load(&wl->lapsed),
		(uint64_t)atomic_load(&wl->ordered), (uint64_t)atomic_load(&wl->left),
		(uint64_t)atomic_load(&wl->expired),
		(double)atomic_load(&wl->delay_ns_sum) / 1e9,
		(uint64_t)atomic_load(&wl->delay_count),
		(double)atomic_load(&wl->delay_ns_max) / 1e9, atomic_load(&wl->streams),
		(uint64_t)atomic_load(&wl->streams_refused),
		(uint64_t)atomic_load(&wl->store_errors));
}
