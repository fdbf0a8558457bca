/* The daemon's waiting rooms (room_service.h): locking around the room
 * cores, tickets, settings, the ticker thread, the automatic rate and the
 * room streams. */
#include "userspace/ticketd/room/room_service.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/db/db.h"
#include "userspace/ticketd/room/room_auto.h"
#include "userspace/ticketd/room/room_store.h"
#include "userspace/ticketd/ticketd.h"

#define TICK_MS 100
/* Parked streams wait in a ring of tick buckets by the time their next
 * frame is due (at most --room-frame-ms ahead, up to 5 s): the ticker
 * resumes one bucket a tick, so the frames of all streams spread over the
 * interval instead of leaving in one wave. */
#define WAKE_BUCKETS 64
/* A tick this late (its gap from the last one) is counted. */
#define TICK_LATE_MS 250
/* The longest tick gap is reported over windows of this length. */
#define TICK_WINDOW_MS 10000

/* The automatic rate (rate_per_s 0) and the brake of fixed rates
 * (room_auto.h), once a second, from the purchase routes' latency p95 over
 * the last second, the overload answers (503) meanwhile, the purchases in
 * flight now (half a door's cap or more: the saga is behind) and the
 * authorizations answered in that second (the purchases served). One
 * controller for every room: they share the machine's capacity. */
#define AUTO_STEP_MS 1000
#define AUTO_FILL_MAX 0.5
/* The purchases served: the best second of the last AUTO_PEAK_SECONDS (a
 * second of the last one alone follows the controller's own cuts down in
 * a spiral). 503s count as congestion above this share of the answers. */
#define AUTO_PEAK_SECONDS 10
#define AUTO_REFUSED_SHARE 0.02

struct room_slot {
	pthread_mutex_t lock; /* guards r */
	struct room *r;
	uint32_t event_id;
};

struct rooms {
	struct ticketd *app;
	rooms_fill_fn purchase_fill; /* NULL: the rate ignores in-flight purchases */
	/* CATALOG_MAX_EVENTS places, the first n in use and never moved; an
	 * event published after start takes the next at first need */
	struct room_slot *slots;
	_Atomic uint32_t n;
	_Atomic uint16_t *slot_by_id; /* place + 1 by event id, 0: none */
	pthread_mutex_t create_lock;  /* a leaf: guards making places */
	struct room_edge_ops ops;
	uint8_t key[ROOM_KEY_LEN];
	char admin_key[2 * ROOM_KEY_LEN + 1];
	char state_path[CONFIG_STR_MAX + 16];

	pthread_t ticker;
	bool ticker_on;
	atomic_bool stop;

	/* guards due, wake_tick and closing; a leaf */
	pthread_mutex_t streams_lock;
	/* parked (suspended) streams by the tick their next frame is due */
	struct room_stream *due[WAKE_BUCKETS];
	int64_t wake_tick; /* the last tick whose bucket was woken */
	bool closing;
	atomic_uint enabled; /* rooms that are on: rooms_touch skips none */
	atomic_uint streams; /* open */
	atomic_uint_least64_t streams_refused;
	atomic_uint_least64_t frames;	  /* stream frames sent */
	atomic_uint_least64_t ticks_late; /* ticks TICK_LATE_MS after the last */
	atomic_int_least64_t tick_gap_max_ms; /* of the last whole window */

	/* the ticker's alone */
	struct room_auto ctl;
	struct metrics_load last_load, last_auth;
	double fixed_sum; /* rate_per_s of the fixed rooms that are on */
	double served[AUTO_PEAK_SECONDS]; /* purchases/s of the last seconds */
	uint32_t served_at;
	int64_t last_auto_ms, last_save_ms;
	int64_t last_tick_ms, window_ms, window_gap_ms;
};

struct room_stream {
	struct rooms *rs;
	uint32_t idx;
	uint64_t sid;
	uint8_t sid_bytes[ROOM_SID_LEN];
	uint32_t slot;
	struct room_claim claim;
	bool has_claim;
	const struct room_conn_ops *ops;
	void *conn;
	struct room_stream *next; /* in its due bucket */
	char buf[512];
	size_t len, off;
	bool done;
	bool park;     /* the frame in buf went out: park on the next read */
	int64_t due_ms; /* monotonic: when the next frame is due */
	/* the ticket last sent: an HMAC, formatted again only when the place
	 * changes (the draw), not on every frame */
	char ticket[ROOM_TICKET_MAX];
	uint64_t ticket_seq;
	int64_t ticket_issued_ms;
};

static uint64_t sid_of(const struct session *s)
{
	uint64_t v;

	memcpy(&v, s->id, sizeof(v));
	return v;
}

static int slot_init(struct rooms *rs, uint32_t i, uint32_t event_id);

static struct room_slot *slot_of(struct rooms *rs, uint32_t event_id)
{
	const struct event_info *e = catalog_find(&rs->app->catalog, event_id);
	uint32_t i;

	if (!e)
		return NULL;
	i = atomic_load_explicit(&rs->slot_by_id[e->id], memory_order_acquire);
	if (i)
		return &rs->slots[i - 1];
	pthread_mutex_lock(&rs->create_lock);
	i = atomic_load(&rs->slot_by_id[e->id]);
	if (!i && !slot_init(rs, atomic_load(&rs->n), e->id)) {
		i = atomic_load(&rs->n) + 1;
		atomic_store_explicit(&rs->slot_by_id[e->id], (uint16_t)i, memory_order_release);
		atomic_store_explicit(&rs->n, i, memory_order_release);
	}
	pthread_mutex_unlock(&rs->create_lock);
	return i ? &rs->slots[i - 1] : NULL;
}

/* ---- settings and progress ---- */

static void count_enabled(struct rooms *rs)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < rs->n; i++) {
		pthread_mutex_lock(&rs->slots[i].lock);
		n += room_enabled(rs->slots[i].r);
		pthread_mutex_unlock(&rs->slots[i].lock);
	}
	atomic_store(&rs->enabled, n);
}

static void apply_row(void *ctx, uint32_t event_id, const struct room_settings *s)
{
	struct rooms *rs = ctx;
	struct room_slot *sl = slot_of(rs, event_id);

	if (!sl || room_settings_check(s)) {
		log_msg(LOG_WARN, NULL, "event_rooms: row of event %u ignored", event_id);
		return;
	}
	room_configure(sl->r, s, tkt_unix_ms());
}

/* The progress file: one line per room that ever gave a seq,
 * "event serving next_seq draw_lo draw_hi drawn_at_ms". */
static void load_progress(struct rooms *rs)
{
	FILE *f = fopen(rs->state_path, "re");
	uint32_t ev;
	struct room_progress p;

	if (!f)
		return;
	while (fscanf(f, "%" SCNu32 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNd64,
		      &ev, &p.serving, &p.next_seq, &p.draw_lo, &p.draw_hi,
		      &p.drawn_at_ms) == 6) {
		struct room_slot *sl = slot_of(rs, ev);

		if (sl && p.next_seq > 0)
			room_set_progress(sl->r, &p);
	}
	fclose(f);
}

static void save_progress(struct rooms *rs)
{
	char tmp[sizeof(rs->state_path) + 8];
	FILE *f;
	bool ok = true;

	snprintf(tmp, sizeof(tmp), "%s.tmp", rs->state_path);
	f = fopen(tmp, "we");
	if (!f) {
		log_msg(LOG_WARN, NULL, "room: cannot write %s", tmp);
		return;
	}
	for (uint32_t i = 0; i < rs->n; i++) {
		struct room_progress p;

		pthread_mutex_lock(&rs->slots[i].lock);
		room_get_progress(rs->slots[i].r, &p);
		pthread_mutex_unlock(&rs->slots[i].lock);
		if (p.next_seq > 1)
			ok &= fprintf(f, "%" PRIu32 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
				      " %" PRId64 "\n", rs->slots[i].event_id, p.serving,
				      p.next_seq, p.draw_lo, p.draw_hi, p.drawn_at_ms) > 0;
	}
	ok &= fflush(f) == 0 && fsync(fileno(f)) == 0;
	ok &= fclose(f) == 0;
	if (!ok || rename(tmp, rs->state_path)) {
		log_msg(LOG_WARN, NULL, "room: cannot write %s", rs->state_path);
		unlink(tmp);
	}
}

/* ---- the ticker ---- */

/* The bucket of a stream due at tick t (a tick already woken: the next). */
static uint32_t due_bucket(const struct rooms *rs, int64_t t)
{
	if (t <= rs->wake_tick)
		t = rs->wake_tick + 1;
	return (uint32_t)(t % WAKE_BUCKETS);
}

/* Resumes the parked streams due by tick now_tick (all of them when all
 * is true: closing). */
static void wake_streams(struct rooms *rs, int64_t now_tick, bool all)
{
	struct room_stream *list = NULL, *next;

	pthread_mutex_lock(&rs->streams_lock);
	if (all || now_tick - rs->wake_tick >= WAKE_BUCKETS) {
		for (uint32_t b = 0; b < WAKE_BUCKETS; b++) {
			for (struct room_stream *st = rs->due[b]; st; st = next) {
				next = st->next;
				st->next = list;
				list = st;
			}
			rs->due[b] = NULL;
		}
	} else {
		for (int64_t t = rs->wake_tick + 1; t <= now_tick; t++) {
			uint32_t b = (uint32_t)(t % WAKE_BUCKETS);

			for (struct room_stream *st = rs->due[b]; st; st = next) {
				next = st->next;
				st->next = list;
				list = st;
			}
			rs->due[b] = NULL;
		}
	}
	if (now_tick > rs->wake_tick)
		rs->wake_tick = now_tick;
	pthread_mutex_unlock(&rs->streams_lock);
	/* Each was suspended before it joined its bucket and stays suspended
	 * (so it cannot be freed) until this resume. */
	for (; list; list = next) {
		next = list->next;
		list->next = NULL;
		list->ops->resume(list->conn);
	}
}

/* The ticker's own timing: a tick that came TICK_LATE_MS or more after the
 * last one is counted, and the longest gap of each TICK_WINDOW_MS window
 * is kept for the metrics. */
static void tick_timing(struct rooms *rs, int64_t mono)
{
	int64_t gap = rs->last_tick_ms ? mono - rs->last_tick_ms : 0;

	rs->last_tick_ms = mono;
	if (gap >= TICK_LATE_MS)
		atomic_fetch_add(&rs->ticks_late, 1);
	if (gap > rs->window_gap_ms)
		rs->window_gap_ms = gap;
	if (mono - rs->window_ms >= TICK_WINDOW_MS) {
		atomic_store(&rs->tick_gap_max_ms, rs->window_gap_ms);
		rs->window_ms = mono;
		rs->window_gap_ms = 0;
	}
}

/* The latency below which share q of the counts lie (bucket bounds). */
static double quantile(const uint64_t *b, double q)
{
	uint64_t total = 0, acc = 0;

	for (int i = 0; i <= METRICS_N_BUCKETS; i++)
		total += b[i];
	if (!total)
		return 0;
	for (int i = 0; i <= METRICS_N_BUCKETS; i++) {
		acc += b[i];
		if ((double)acc >= q * (double)total)
			return metrics_bucket_bound(i);
	}
	return metrics_bucket_bound(METRICS_N_BUCKETS);
}

static void follow_capacity(struct rooms *rs, double secs)
{
	static const char *const purchase[] = {"/api/orders", "/api/payments/authorize"};
	static const char *const authorize[] = {"/api/payments/authorize"};
	const struct config *c = &rs->app->cfg;
	struct metrics_load now, auth;
	uint64_t d[METRICS_N_BUCKETS + 1], n = 0, n_auth = 0, refused;
	double p95, served;
	bool congested, slow;

	metrics_load_snapshot(&rs->app->metrics, purchase, 2, 503, &now);
	metrics_load_snapshot(&rs->app->metrics, authorize, 1, 503, &auth);
	for (int i = 0; i <= METRICS_N_BUCKETS; i++) {
		d[i] = now.buckets[i] - rs->last_load.buckets[i];
		n += d[i];
		n_auth += auth.buckets[i] - rs->last_auth.buckets[i];
	}
	refused = now.overloaded - rs->last_load.overloaded;
	p95 = quantile(d, 0.95);
	slow = (double)refused > AUTO_REFUSED_SHARE * (double)n ||
	       (n && p95 * 1000.0 > c->room_auto_target_ms);
	congested = slow || (rs->purchase_fill && rs->purchase_fill(rs->app) >= AUTO_FILL_MAX);
	/* authorizations answered, less their 503s */
	served = n_auth > auth.overloaded - rs->last_auth.overloaded
			 ? (double)(n_auth - (auth.overloaded - rs->last_auth.overloaded))
			 : 0.0;
	if (secs > 0)
		served /= secs;
	rs->served[rs->served_at++ % AUTO_PEAK_SECONDS] = served;
	for (int i = 0; i < AUTO_PEAK_SECONDS; i++)
		if (rs->served[i] > served)
			served = rs->served[i];
	room_auto_step(&rs->ctl, congested, slow, served, rs->fixed_sum,
		       c->room_auto_rate_min, c->room_auto_rate_max);
	rs->last_load = now;
	rs->last_auth = auth;
}

static void *ticker_main(void *arg)
{
	struct rooms *rs = arg;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!atomic_load(&rs->stop)) {
		int64_t now = tkt_unix_ms(), mono = tkt_mono_ms();
		bool auto_step = mono - rs->last_auto_ms >= AUTO_STEP_MS;
		double fixed_sum = 0;

		tick_timing(rs, mono);
		if (auto_step) {
			follow_capacity(rs, rs->last_auto_ms ? (double)(mono - rs->last_auto_ms) / 1000.0 : 1.0);
			rs->last_auto_ms = mono;
		}
		for (uint32_t i = 0; i < rs->n; i++) {
			struct room_slot *sl = &rs->slots[i];
			struct room_settings set;

			pthread_mutex_lock(&sl->lock);
			if (auto_step) {
				room_set_auto_rate(sl->r, rs->ctl.rate);
				room_set_brake(sl->r, rs->ctl.brake);
			}
			room_get_settings(sl->r, &set);
			if (set.enabled)
				fixed_sum += set.rate_per_s;
			(void)room_tick(sl->r, now);
			pthread_mutex_unlock(&sl->lock);
		}
		rs->fixed_sum = fixed_sum;
		wake_streams(rs, mono / TICK_MS, false);
		if (mono - rs->last_save_ms >= 1000) {
			rs->last_save_ms = mono;
			save_progress(rs);
		}
		/* the next tick on the 100 ms grid, whatever this one cost; a
		 * tick that overran by more than one starts the grid again */
		next.tv_nsec += TICK_MS * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		if ((int64_t)next.tv_sec * 1000 + next.tv_nsec / 1000000 < tkt_mono_ms() - TICK_MS)
			clock_gettime(CLOCK_MONOTONIC, &next);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
			;
	}
	return NULL;
}

/* ---- start and stop ---- */

static int noop_set_room(void *ctx, uint32_t e, bool on)
{
	(void)ctx, (void)e, (void)on;
	return 0;
}

/* Makes place i the room of event_id, off (and the edge told so: a seat
 * table reused from an earlier run may carry an old flag). */
static int slot_init(struct rooms *rs, uint32_t i, uint32_t event_id)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = tkt_mono_ns() ^ ((uint64_t)i << 32);
	rs->slots[i].event_id = event_id;
	rs->slots[i].r = room_new(event_id, &rs->ops,
				  (uint32_t)rs->app->cfg.room_max_visitors, seed);
	if (!rs->slots[i].r)
		return -ENOMEM;
	room_configure(rs->slots[i].r, &(struct room_settings){
		.rate_per_s = ROOM_DEFAULT_RATE, .active_max = ROOM_DEFAULT_ACTIVE_MAX,
		.idle_seconds = ROOM_DEFAULT_IDLE_SECONDS,
		.admit_seconds = ROOM_DEFAULT_ADMIT_SECONDS}, tkt_unix_ms());
	return 0;
}

int rooms_start(struct rooms **out, struct ticketd *app,
		const struct room_edge_ops *ops, rooms_fill_fn fill, char *err,
		size_t errlen)
{
	struct rooms *rs = calloc(1, sizeof(*rs));
	char path[CONFIG_STR_MAX + 16];
	MYSQL *conn;
	long long n;

	*out = NULL;
	if (!rs) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rs->app = app;
	rs->purchase_fill = fill;
	room_auto_init(&rs->ctl, app->cfg.room_auto_rate_min);
	rs->wake_tick = tkt_mono_ms() / TICK_MS;
	pthread_mutex_init(&rs->streams_lock, NULL);
	snprintf(rs->state_path, sizeof(rs->state_path), "%s/room.state", app->cfg.state_dir);
	snprintf(path, sizeof(path), "%s/room.key", app->cfg.state_dir);
	if (room_secret_load(path, rs->key, NULL, err, errlen))
		goto fail;
	snprintf(path, sizeof(path), "%s/admin.key", app->cfg.state_dir);
	if (room_secret_load(path, (uint8_t[ROOM_KEY_LEN]){0}, rs->admin_key, err, errlen))
		goto fail;
	rs->ops = *ops;
	if (!rs->ops.set_room)
		rs->ops.set_room = noop_set_room;
	pthread_mutex_init(&rs->create_lock, NULL);
	rs->slots = calloc(CATALOG_MAX_EVENTS, sizeof(*rs->slots));
	rs->slot_by_id = calloc(CATALOG_MAX_EVENTS, sizeof(*rs->slot_by_id));
	if (!rs->slots || !rs->slot_by_id)
		goto nomem;
	for (uint32_t i = 0; i < CATALOG_MAX_EVENTS; i++)
		pthread_mutex_init(&rs->slots[i].lock, NULL);
	{
		const struct event_info *e;

		for (uint32_t cur = 0; (e = catalog_next(&app->catalog, &cur));)
			if (!slot_of(rs, e->id))
				goto nomem;
	}
	conn = db_get_timed(&app->db, DB_WORKER_WAIT_MS);
	if (!conn) {
		snprintf(err, errlen, "no database connection to load event_rooms");
		goto fail;
	}
	n = room_store_load(conn, apply_row, rs);
	db_put(&app->db, conn);
	if (n < 0) {
		snprintf(err, errlen, "loading event_rooms: %s", strerror((int)-n));
		goto fail;
	}
	load_progress(rs);
	count_enabled(rs);
	if (pthread_create(&rs->ticker, NULL, ticker_main, rs)) {
		snprintf(err, errlen, "cannot start the room ticker");
		goto fail;
	}
	rs->ticker_on = true;
	*out = rs;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	rooms_stop(rs);
	return -1;
}

/* The ticker reads the HTTP server's door gates (the purchase fill): it
 * is joined before that server stops, in rooms_close, and again (a no-op)
 * here. */
static void stop_ticker(struct rooms *rs)
{
	if (!rs->ticker_on)
		return;
	atomic_store(&rs->stop, true);
	pthread_join(rs->ticker, NULL);
	rs->ticker_on = false;
	save_progress(rs);
}

void rooms_close(struct rooms *rs)
{
	if (!rs)
		return;
	pthread_mutex_lock(&rs->streams_lock);
	rs->closing = true;
	pthread_mutex_unlock(&rs->streams_lock);
	wake_streams(rs, 0, true); /* each reads "closing" and ends */
	stop_ticker(rs);
}

void rooms_stop(struct rooms *rs)
{
	if (!rs)
		return;
	stop_ticker(rs);
	for (uint32_t i = 0; rs->slots && i < CATALOG_MAX_EVENTS; i++) {
		room_free(rs->slots[i].r);
		pthread_mutex_destroy(&rs->slots[i].lock);
	}
	free(rs->slots);
	free((void *)rs->slot_by_id);
	if (rs->ops.set_room)
		pthread_mutex_destroy(&rs->create_lock);
	pthread_mutex_destroy(&rs->streams_lock);
	OPENSSL_cleanse(rs->key, sizeof(rs->key));
	OPENSSL_cleanse(rs->admin_key, sizeof(rs->admin_key));
	free(rs);
}

/* ---- visits ---- */

static enum rooms_result check_ticket(struct rooms *rs, uint32_t event_id,
				      const struct session *s, const char *ticket,
				      struct room_claim *claim, bool *has)
{
	*has = false;
	if (!ticket || !ticket[0])
		return ROOMS_OK;
	switch (room_ticket_check(rs->key, ticket, event_id, s->id, tkt_unix_ms(), claim)) {
	case ROOM_TICKET_OK:
		*has = true;
		return ROOMS_OK;
	case ROOM_TICKET_MALFORMED:
		return ROOMS_TICKET_MALFORMED;
	default:
		return ROOMS_TICKET_INVALID;
	}
}

static enum rooms_result map_room(enum room_result r)
{
	switch (r) {
	case ROOM_OK:
		return ROOMS_OK;
	case ROOM_NOT_IN_QUEUE:
		return ROOMS_NOT_IN_QUEUE;
	case ROOM_FULL:
		return ROOMS_FULL;
	default:
		return ROOMS_NOMEM;
	}
}

enum rooms_result rooms_visit(struct rooms *rs, uint32_t event_id,
			      const struct session *s, const char *ticket,
			      bool create, struct rooms_answer *out)
{
	struct room_slot *sl = slot_of(rs, event_id);
	struct room_claim claim;
	enum rooms_result res;
	enum room_result rr;
	bool has;

	memset(out, 0, sizeof(*out));
	if (!sl)
		return ROOMS_NO_EVENT;
	if ((res = check_ticket(rs, event_id, s, ticket, &claim, &has)))
		return res;
	pthread_mutex_lock(&sl->lock);
	rr = room_visit(sl->r, sid_of(s), s->slot, has ? &claim : NULL, create,
			tkt_unix_ms(), &out->view);
	pthread_mutex_unlock(&sl->lock);
	if (rr)
		return map_room(rr);
	if (out->view.state != ROOM_OPEN)
		room_ticket_format(rs->key, event_id, out->view.seq, out->view.issued_ms,
				   s->id, out->ticket);
	return ROOMS_OK;
}

bool rooms_gate(struct rooms *rs, uint32_t event_id, const struct session *s)
{
	struct room_slot *sl = slot_of(rs, event_id);
	bool ok;

	if (!sl)
		return true; /* the caller answers 404 */
	pthread_mutex_lock(&sl->lock);
	ok = !room_enabled(sl->r) || (s && room_admitted(sl->r, sid_of(s), tkt_unix_ms()));
	pthread_mutex_unlock(&sl->lock);
	return ok;
}

void rooms_touch(struct rooms *rs, const struct session *s)
{
	int64_t now = tkt_unix_ms();

	if (!rs || !atomic_load(&rs->enabled))
		return;
	for (uint32_t i = 0; i < rs->n; i++) {
		struct room_slot *sl = &rs->slots[i];

		pthread_mutex_lock(&sl->lock);
		if (room_enabled(sl->r))
			(void)room_admitted(sl->r, sid_of(s), now);
		pthread_mutex_unlock(&sl->lock);
	}
}

enum rooms_result rooms_get(struct rooms *rs, uint32_t event_id,
			    struct room_settings *set, struct room_stats *st)
{
	struct room_slot *sl = slot_of(rs, event_id);

	if (!sl)
		return ROOMS_NO_EVENT;
	pthread_mutex_lock(&sl->lock);
	room_get_settings(sl->r, set);
	room_get_stats(sl->r, st);
	pthread_mutex_unlock(&sl->lock);
	return ROOMS_OK;
}

enum rooms_result rooms_put(struct rooms *rs, uint32_t event_id,
			    const struct room_settings *set)
{
	struct room_slot *sl = slot_of(rs, event_id);
	MYSQL *conn;
	int rc;

	if (!sl)
		return ROOMS_NO_EVENT;
	conn = db_get_timed(&rs->app->db, rs->app->cfg.db_wait_ms);
	if (!conn)
		return ROOMS_DB_BUSY;
	rc = room_store_save(conn, event_id, set);
	db_put(&rs->app->db, conn);
	if (rc)
		return ROOMS_DB_ERROR;
	pthread_mutex_lock(&sl->lock);
	room_configure(sl->r, set, tkt_unix_ms());
	pthread_mutex_unlock(&sl->lock);
	count_enabled(rs);
	log_msg(LOG_INFO, NULL, "room of event %u: %s, rate %u/s, active max %u", event_id,
		set->enabled ? "on" : "off", set->rate_per_s, set->active_max);
	return ROOMS_OK;
}

bool rooms_admin_authorized(struct rooms *rs, const char *value)
{
	size_t n = 2 * ROOM_KEY_LEN;

	if (!value || strncmp(value, "Bearer ", 7))
		return false;
	value += 7;
	if (strlen(value) != n)
		return false;
	return CRYPTO_memcmp(value, rs->admin_key, n) == 0;
}

/* ---- streams ---- */

enum rooms_result rooms_stream_open(struct rooms *rs, uint32_t event_id,
				    const struct session *s, const char *ticket,
				    const struct room_conn_ops *ops, void *conn,
				    struct room_stream **out)
{
	struct room_slot *sl = slot_of(rs, event_id);
	struct room_stream *st;
	struct room_view v;
	enum rooms_result res;
	enum room_result rr;

	*out = NULL;
	if (!sl)
		return ROOMS_NO_EVENT;
	st = calloc(1, sizeof(*st));
	if (!st)
		return ROOMS_NOMEM;
	if ((res = check_ticket(rs, event_id, s, ticket, &st->claim, &st->has_claim))) {
		free(st);
		return res;
	}
	st->rs = rs;
	st->idx = (uint32_t)(sl - rs->slots);
	st->sid = sid_of(s);
	memcpy(st->sid_bytes, s->id, ROOM_SID_LEN);
	st->slot = s->slot;
	st->ops = ops;
	st->conn = conn;
	/* the session must be in the queue (or bring its ticket) */
	pthread_mutex_lock(&sl->lock);
	rr = room_visit(sl->r, st->sid, st->slot, st->has_claim ? &st->claim : NULL,
			false, tkt_unix_ms(), &v);
	pthread_mutex_unlock(&sl->lock);
	if (rr) {
		free(st);
		return map_room(rr);
	}
	pthread_mutex_lock(&rs->streams_lock);
	res = rs->closing ? ROOMS_CLOSED : ROOMS_OK;
	if (!res && atomic_fetch_add(&rs->streams, 1) >= (unsigned)rs->app->cfg.room_max_streams) {
		atomic_fetch_sub(&rs->streams, 1);
		atomic_fetch_add(&rs->streams_refused, 1);
		res = ROOMS_TOO_MANY_STREAMS;
	}
	pthread_mutex_unlock(&rs->streams_lock);
	if (res) {
		free(st);
		return res;
	}
	*out = st;
	return ROOMS_OK;
}

/* When the next frame of a waiting visitor is due: --room-frame-ms from
 * now, or sooner when its turn comes before (position / rate), so an
 * admission is not left waiting for the frame interval. */
static int64_t frame_due(const struct room_stream *st, const struct room_view *v,
			 int64_t now_mono)
{
	int64_t every = st->rs->app->cfg.room_frame_ms, turn;

	if (!v->prequeue && v->position > 0 && v->rate > 0) {
		double ms = (double)v->position * 1000.0 / v->rate;

		turn = ms < (double)every ? (int64_t)ms : every;
		return now_mono + (turn > 0 ? turn : 0);
	}
	return now_mono + every;
}

/* Formats the frame the visitor needs now (it is due): its place, or its
 * admission (the last frame). */
static void next_frame(struct room_stream *st, int64_t now_mono)
{
	struct room_slot *sl = &st->rs->slots[st->idx];
	struct room_view v;
	enum room_result rr;
	char until[TKT_RFC3339_LEN];
	int n = 0;

	pthread_mutex_lock(&sl->lock);
	rr = room_visit(sl->r, st->sid, st->slot, st->has_claim ? &st->claim : NULL,
			false, tkt_unix_ms(), &v);
	pthread_mutex_unlock(&sl->lock);
	if (rr) { /* forgotten meanwhile (cannot happen while it polls) */
		st->done = true;
		return;
	}
	if (v.state == ROOM_OPEN) {
		n = snprintf(st->buf, sizeof(st->buf),
			     "event: admitted\ndata: {\"state\":\"open\",\"admittedUntil\":null}\n\n");
		st->done = true;
	} else if (v.state == ROOM_ADMITTED) {
		tkt_format_rfc3339_ms(v.admitted_until_ms, until, sizeof(until));
		n = snprintf(st->buf, sizeof(st->buf),
			     "event: admitted\ndata: {\"state\":\"admitted\",\"admittedUntil\":\"%s\"}\n\n",
			     until);
		st->done = true;
	} else {
		if (!st->ticket[0] || v.seq != st->ticket_seq ||
		    v.issued_ms != st->ticket_issued_ms) {
			room_ticket_format(st->rs->key, sl->event_id, v.seq, v.issued_ms,
					   st->sid_bytes, st->ticket);
			st->ticket_seq = v.seq;
			st->ticket_issued_ms = v.issued_ms;
		}
		n = snprintf(st->buf, sizeof(st->buf),
			     "event: position\ndata: {\"state\":\"waiting\",\"position\":%" PRIu64
			     ",\"estimatedWaitSeconds\":%u,\"prequeue\":%s,\"ticket\":\"%s\"}\n\n",
			     v.position, v.wait_seconds, v.prequeue ? "true" : "false", st->ticket);
		/* a later rejoin through this stream keeps the drawn seq */
		st->claim.seq = v.seq;
		st->claim.issued_ms = v.issued_ms;
		st->has_claim = true;
		st->due_ms = frame_due(st, &v, now_mono);
	}
	if (n > 0 && (size_t)n < sizeof(st->buf)) {
		st->len = (size_t)n;
		st->off = 0;
		atomic_fetch_add_explicit(&st->rs->frames, 1, memory_order_relaxed);
	} else {
		st->done = true; /* cannot happen: the frames fit buf */
	}
}

ssize_t room_stream_read(struct room_stream *st, char *buf, size_t max)
{
	struct rooms *rs = st->rs;
	size_t n;
	bool closing;

	if (st->off == st->len) {
		pthread_mutex_lock(&rs->streams_lock);
		closing = rs->closing;
		pthread_mutex_unlock(&rs->streams_lock);
		if (st->done || closing)
			return -1;
		if (st->park) {
			/* the last frame went out: park until the ticker wakes
			 * us when the next one is due */
			uint32_t b;

			st->park = false;
			pthread_mutex_lock(&rs->streams_lock);
			if (rs->closing) {
				pthread_mutex_unlock(&rs->streams_lock);
				return -1;
			}
			st->ops->suspend(st->conn);
			b = due_bucket(rs, st->due_ms / TICK_MS);
			st->next = rs->due[b];
			rs->due[b] = st;
			pthread_mutex_unlock(&rs->streams_lock);
			return 0;
		}
		st->len = st->off = 0;
		next_frame(st, tkt_mono_ms());
		if (st->off == st->len)
			return -1;
		st->park = !st->done;
	}
	n = st->len - st->off < max ? st->len - st->off : max;
	memcpy(buf, st->buf + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

void room_stream_release(struct room_stream *st)
{
	if (!st)
		return;
	atomic_fetch_sub(&st->rs->streams, 1);
	free(st);
}

/* ---- metrics ---- */

int rooms_render_metrics(struct rooms *rs, char **buf, size_t *len, size_t *cap)
{
	int rc = 0;

	if (!rs)
		return 0;
	rc |= metrics_appendf(buf, len, cap,
		"# HELP ticketd_room_queue_length Visitors waiting in an event's room"
		" (pre-queue included).\n# TYPE ticketd_room_queue_length gauge\n"
		"# HELP ticketd_room_admitted_total Visitors an event's room let through.\n"
		"# TYPE ticketd_room_admitted_total counter\n"
		"# HELP ticketd_room_active Admitted visitors active in an event's room.\n"
		"# TYPE ticketd_room_active gauge\n"
		"# HELP ticketd_room_estimated_wait_seconds Estimated wait of the last"
		" visitor in an event's room.\n# TYPE ticketd_room_estimated_wait_seconds gauge\n"
		"# HELP ticketd_room_rate Visitors an event's room lets through per second.\n"
		"# TYPE ticketd_room_rate gauge\n"
		"# HELP ticketd_room_expired_total Admitted visitors who lost their place"
		" (idle).\n# TYPE ticketd_room_expired_total counter\n"
		"# HELP ticketd_room_edge_errors_total Admission marks the seat table"
		" refused.\n# TYPE ticketd_room_edge_errors_total counter\n");
	for (uint32_t i = 0; i < rs->n; i++) {
		struct room_stats st;

		pthread_mutex_lock(&rs->slots[i].lock);
		room_get_stats(rs->slots[i].r, &st);
		pthread_mutex_unlock(&rs->slots[i].lock);
		if (!st.enabled && !st.admitted_total && st.next_seq <= 1)
			continue; /* never had a room */
		rc |= metrics_appendf(buf, len, cap,
			"ticketd_room_queue_length{event=\"%u\"} %u\n"
			"ticketd_room_admitted_total{event=\"%u\"} %" PRIu64 "\n"
			"ticketd_room_active{event=\"%u\"} %u\n"
			"ticketd_room_estimated_wait_seconds{event=\"%u\"} %u\n"
			"ticketd_room_rate{event=\"%u\"} %.3f\n"
			"ticketd_room_expired_total{event=\"%u\"} %" PRIu64 "\n"
			"ticketd_room_edge_errors_total{event=\"%u\"} %" PRIu64 "\n",
			rs->slots[i].event_id, st.waiting, rs->slots[i].event_id,
			st.admitted_total, rs->slots[i].event_id, st.active,
			rs->slots[i].event_id, st.wait_seconds, rs->slots[i].event_id,
			st.enabled ? st.rate : 0.0, rs->slots[i].event_id, st.expired_total,
			rs->slots[i].event_id, st.edge_errors);
	}
	rc |= metrics_appendf(buf, len, cap,
		"# HELP ticketd_room_streams Open waiting-room streams.\n"
		"# TYPE ticketd_room_streams gauge\nticketd_room_streams %u\n"
		"ticketd_room_streams_refused_total %" PRIu64 "\n"
		"# HELP ticketd_room_stream_frames_total Frames sent on waiting-room"
		" streams.\n# TYPE ticketd_room_stream_frames_total counter\n"
		"ticketd_room_stream_frames_total %" PRIu64 "\n"
		"# HELP ticketd_room_ticks_late_total Room ticker ticks that came %d ms"
		" or more after the last (100 ms apart when on time).\n"
		"# TYPE ticketd_room_ticks_late_total counter\n"
		"ticketd_room_ticks_late_total %" PRIu64 "\n"
		"# HELP ticketd_room_tick_gap_max_seconds Longest gap between two room"
		" ticker ticks in the last whole %d s window.\n"
		"# TYPE ticketd_room_tick_gap_max_seconds gauge\n"
		"ticketd_room_tick_gap_max_seconds %.3f\n",
		atomic_load(&rs->streams), (uint64_t)atomic_load(&rs->streams_refused),
		(uint64_t)atomic_load(&rs->frames), TICK_LATE_MS,
		(uint64_t)atomic_load(&rs->ticks_late), TICK_WINDOW_MS / 1000,
		(double)atomic_load(&rs->tick_gap_max_ms) / 1000.0);
	return rc;
}
