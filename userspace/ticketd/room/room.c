/* The waiting room of one event: visitors, the pre-queue draw, the serving
 * counter and admissions (room.h says what each call guarantees). */
#include "userspace/ticketd/room/room.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum visitor_state { V_WAITING = 1, V_ADMITTED, V_EXPIRED };

/* One session in the room; sid 0 marks a free table entry (a session id
 * starts with its slot, which is never 0). */
struct visitor {
	uint64_t sid;
	uint64_t seq;          /* 0: in the pre-queue */
	int64_t issued_ms;     /* when seq was given (the ticket's time) */
	int64_t last_seen_ms;
	int64_t until_ms;      /* admitted: the mark's end */
	int64_t marked_ms;     /* admitted: last edge_admit */
	uint32_t slot;
	uint8_t state;
};

struct room {
	uint32_t event_id;
	struct room_edge_ops ops;
	struct room_settings set;
	bool configured;
	uint32_t max_visitors;
	uint64_t rng;

	/* open addressing, linear probing, power-of-two capacity, load <= 1/2 */
	struct visitor *tab;
	uint32_t cap, count;

	uint64_t serving, next_seq; /* next_seq: the next seq to give */
	uint64_t draw_lo, draw_hi;  /* seqs of the last draw (0, 0: none) */
	int64_t drawn_at_ms;
	uint64_t credit;            /* visitors owed by the rate, in 1/1000 */
	double auto_rate;
	double brake; /* share of rate_per_s admitted now, (0, 1] */
	int64_t last_tick_ms, last_sweep_ms;

	uint32_t waiting, prequeue, active;
	uint64_t admitted_total, expired_total, edge_errors;
};

#define AUTO_RATE_START 10.0
#define SWEEP_EVERY_MS 1000
/* Largest step of the serving counter's clock: a stalled tick (a paused
 * process) must not let a burst through. */
#define TICK_MAX_MS 1000

const char *room_settings_check(const struct room_settings *s)
{
	if (s->rate_per_s > ROOM_RATE_MAX)
		return "ratePerSecond must be 0 (automatic) to 1000000";
	if (s->active_max < 1 || s->active_max > ROOM_ACTIVE_MAX_MAX)
		return "activeMax must be 1 to 10000000";
	if (s->idle_seconds < ROOM_IDLE_MIN || s->idle_seconds > ROOM_IDLE_MAX)
		return "idleSeconds must be 5 to 86400";
	if (s->admit_seconds < ROOM_ADMIT_MIN || s->admit_seconds > ROOM_ADMIT_MAX)
		return "admitSeconds must be 10 to 86400";
	if (s->starts_at_ms < 0)
		return "startsAt must be after 1970";
	return NULL;
}

/* splitmix64: the draw's generator, seeded by the caller. */
static uint64_t next_rand(struct room *r)
{
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (n > 0), without modulo bias. */
static uint64_t rand_below(struct room *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;

	do
		x = next_rand(r);
	while (x >= limit);
	return x % n;
}

static uint32_t hash_sid(uint64_t sid)
{
	sid ^= sid >> 33;
	sid *= 0xff51afd7ed558ccdull;
	sid ^= sid >> 33;
	return (uint32_t)sid;
}

static struct visitor *find(struct room *r, uint64_t sid)
{
	if (!r->cap)
		return NULL;
	for (uint32_t i = hash_sid(sid) & (r->cap - 1);; i = (i + 1) & (r->cap - 1)) {
		if (r->tab[i].sid == sid)
			return &r->tab[i];
		if (!r->tab[i].sid)
			return NULL;
	}
}

static void put(struct visitor *tab, uint32_t cap, const struct visitor *v)
{
	uint32_t i = hash_sid(v->sid) & (cap - 1);

	while (tab[i].sid)
		i = (i + 1) & (cap - 1);
	tab[i] = *v;
}

/* Rebuilds the table with capacity cap, keeping the entries keep() likes
 * (all when keep is NULL). 0 or -1 without memory (nothing changed). */
static int rebuild(struct room *r, uint32_t cap,
		   bool (*keep)(struct room *r, const struct visitor *v, int64_t now),
		   int64_t now)
{
	struct visitor *tab = calloc(cap, sizeof(*tab));
	uint32_t n = 0;

	if (!tab)
		return -1;
	for (uint32_t i = 0; i < r->cap; i++) {
		if (!r->tab[i].sid || (keep && !keep(r, &r->tab[i], now)))
			continue;
		put(tab, cap, &r->tab[i]);
		n++;
	}
	free(r->tab);
	r->tab = tab;
	r->cap = cap;
	r->count = n;
	return 0;
}

static struct visitor *add(struct room *r, uint64_t sid, enum room_result *why)
{
	struct visitor v = {.sid = sid};

	if (r->count >= r->max_visitors) {
		*why = ROOM_FULL;
		return NULL;
	}
	if ((r->count + 1) * 2 > r->cap &&
	    rebuild(r, r->cap ? r->cap * 2 : 64, NULL, 0)) {
		*why = ROOM_NOMEM;
		return NULL;
	}
	put(r->tab, r->cap, &v);
	r->count++;
	return find(r, sid);
}

struct room *room_new(uint32_t event_id, const struct room_edge_ops *ops,
		      uint32_t max_visitors, uint64_t seed)
{
	struct room *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->event_id = event_id;
	if (ops)
		r->ops = *ops;
	r->max_visitors = max_visitors ? max_visitors : 1;
	r->rng = seed;
	r->next_seq = 1;
	r->auto_rate = AUTO_RATE_START;
	r->brake = 1.0;
	r->set.active_max = ROOM_DEFAULT_ACTIVE_MAX;
	r->set.rate_per_s = ROOM_DEFAULT_RATE;
	r->set.idle_seconds = ROOM_DEFAULT_IDLE_SECONDS;
	r->set.admit_seconds = ROOM_DEFAULT_ADMIT_SECONDS;
	return r;
}

void room_free(struct room *r)
{
	if (!r)
		return;
	free(r->tab);
	free(r);
}

uint32_t room_event_id(const struct room *r)
{
	return r->event_id;
}

static void edge_result(struct room *r, int rc)
{
	if (rc)
		r->edge_errors++;
}

void room_configure(struct room *r, const struct room_settings *s, int64_t now_ms)
{
	bool was = r->configured && r->set.enabled;

	r->set = *s;
	if ((!r->configured || was != s->enabled) && r->ops.set_room)
		edge_result(r, r->ops.set_room(r->ops.ctx, r->event_id, s->enabled));
	r->configured = true;
	if (!r->last_tick_ms)
		r->last_tick_ms = now_ms;
}

void room_get_settings(const struct room *r, struct room_settings *s)
{
	*s = r->set;
}

bool room_enabled(const struct room *r)
{
	return r->set.enabled;
}

void room_get_progress(const struct room *r, struct room_progress *p)
{
	p->serving = r->serving;
	p->next_seq = r->next_seq;
	p->draw_lo = r->draw_lo;
	p->draw_hi = r->draw_hi;
	p->drawn_at_ms = r->drawn_at_ms;
}

void room_set_progress(struct room *r, const struct room_progress *p)
{
	r->serving = p->serving;
	r->next_seq = p->next_seq > p->serving ? p->next_seq : p->serving + 1;
	r->draw_lo = p->draw_lo;
	r->draw_hi = p->draw_hi;
	r->drawn_at_ms = p->drawn_at_ms;
}

void room_set_auto_rate(struct room *r, double rate)
{
	if (rate > 0 && isfinite(rate))
		r->auto_rate = rate;
}

void room_set_brake(struct room *r, double brake)
{
	if (brake > 0 && brake <= 1.0)
		r->brake = brake;
}

static double current_rate(const struct room *r)
{
	return r->set.rate_per_s ? (double)r->set.rate_per_s * r->brake : r->auto_rate;
}

static bool before_start(const struct room *r, int64_t now)
{
	return r->set.starts_at_ms && now < r->set.starts_at_ms;
}

static uint32_t wait_for(const struct room *r, uint64_t ahead)
{
	double rate = current_rate(r), s = rate > 0 ? (double)ahead / rate : 0;

	if (s > 86400.0 * 365)
		return 86400u * 365;
	return (uint32_t)s + ((double)(uint32_t)s < s); /* rounded up */
}

static int cmp_rand(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The start: every visitor of the pre-queue gets one of the next K seqs,
 * in random order (a sort by random keys: a uniform shuffle, ties apart). */
static void draw(struct room *r, int64_t now)
{
	uint64_t (*keys)[2];
	uint32_t k = 0;

	if (!r->prequeue || before_start(r, now))
		return;
	keys = calloc(r->prequeue, sizeof(*keys));
	if (!keys)
		return; /* the next tick tries again */
	for (uint32_t i = 0; i < r->cap && k < r->prequeue; i++)
		if (r->tab[i].sid && r->tab[i].state == V_WAITING && !r->tab[i].seq) {
			keys[k][0] = next_rand(r);
			keys[k][1] = i;
			k++;
		}
	qsort(keys, k, sizeof(*keys), cmp_rand);
	r->draw_lo = r->next_seq;
	for (uint32_t j = 0; j < k; j++) {
		struct visitor *v = &r->tab[keys[j][1]];

		v->seq = r->next_seq++;
		v->issued_ms = now;
	}
	r->draw_hi = r->next_seq - 1;
	r->drawn_at_ms = now;
	r->prequeue = 0;
	free(keys);
}

/* Gives v a place at the end of the queue (or in the pre-queue). */
static void enqueue(struct room *r, struct visitor *v, int64_t now)
{
	v->state = V_WAITING;
	v->issued_ms = now;
	if (before_start(r, now)) {
		v->seq = 0;
		r->prequeue++;
	} else {
		v->seq = r->next_seq++;
	}
	r->waiting++;
}

/* A visitor back with a checked ticket the room had forgotten (a restart,
 * or ROOM_FORGET_MS): it keeps its seq. */
static void enqueue_claim(struct room *r, struct visitor *v,
			  const struct room_claim *c, int64_t now)
{
	if (c->seq) {
		v->state = V_WAITING;
		v->seq = c->seq;
		v->issued_ms = c->issued_ms;
		if (c->seq >= r->next_seq)
			r->next_seq = c->seq + 1;
		r->waiting++;
	} else if (!before_start(r, now) && r->draw_hi >= r->draw_lo && r->draw_lo &&
		   c->issued_ms <= r->drawn_at_ms) {
		/* joined before a start whose draw this node no longer
		 * remembers: a random place in that draw's block */
		v->state = V_WAITING;
		v->seq = r->draw_lo + rand_below(r, r->draw_hi - r->draw_lo + 1);
		v->issued_ms = now;
		r->waiting++;
	} else {
		enqueue(r, v, now);
		if (!v->seq)
			v->issued_ms = c->issued_ms;
	}
}

static void mark(struct room *r, struct visitor *v, int64_t now)
{
	uint32_t ttl = r->set.admit_seconds * 1000u;

	v->marked_ms = now;
	if (r->ops.admit)
		edge_result(r, r->ops.admit(r->ops.ctx, v->slot, r->event_id, ttl));
}

static void try_admit(struct room *r, struct visitor *v, int64_t now)
{
	if (v->state != V_WAITING || !v->seq || v->seq > r->serving ||
	    r->active >= r->set.active_max)
		return;
	v->state = V_ADMITTED;
	r->waiting--;
	r->active++;
	r->admitted_total++;
	v->until_ms = now + (int64_t)r->set.admit_seconds * 1000;
	mark(r, v, now);
}

/* Activity of an admitted visitor: its idle clock restarts, its mark is
 * renewed once a quarter of its lifetime went by. */
static void refresh(struct room *r, struct visitor *v, int64_t now)
{
	int64_t life = (int64_t)r->set.admit_seconds * 1000;

	v->until_ms = now + life;
	if (now - v->marked_ms >= life / 4)
		mark(r, v, now);
}

static bool expired(const struct room *r, const struct visitor *v, int64_t now)
{
	return now - v->last_seen_ms >= (int64_t)r->set.idle_seconds * 1000 ||
	       now >= v->until_ms;
}

static void expire(struct room *r, struct visitor *v)
{
	v->state = V_EXPIRED;
	r->active--;
	r->expired_total++;
	if (r->ops.clear)
		edge_result(r, r->ops.clear(r->ops.ctx, v->slot));
}

static void fill_view(const struct room *r, const struct visitor *v, int64_t now,
		      struct room_view *out)
{
	memset(out, 0, sizeof(*out));
	out->state = v->state == V_ADMITTED ? ROOM_ADMITTED : ROOM_WAITING;
	out->seq = v->seq;
	out->issued_ms = v->issued_ms;
	out->rate = current_rate(r);
	out->starts_at_ms = r->set.starts_at_ms;
	if (v->state == V_ADMITTED) {
		out->admitted_until_ms = v->until_ms;
		return;
	}
	if (!v->seq) {
		int64_t left = r->set.starts_at_ms - now;

		out->prequeue = true;
		out->position = r->prequeue;
		out->wait_seconds = left > 0 ? (uint32_t)((left + 999) / 1000) : 0;
		return;
	}
	out->position = v->seq > r->serving ? v->seq - r->serving : 0;
	out->wait_seconds = wait_for(r, out->position);
}

enum room_result room_visit(struct room *r, uint64_t sid, uint32_t slot,
			    const struct room_claim *claim, bool create,
			    int64_t now_ms, struct room_view *out)
{
	struct visitor *v;
	enum room_result why = ROOM_OK;

	memset(out, 0, sizeof(*out));
	if (!r->set.enabled) {
		out->state = ROOM_OPEN;
		return ROOM_OK;
	}
	draw(r, now_ms); /* the start passed and no tick drew yet */
	v = find(r, sid);
	if (!v) {
		if (!claim && !create)
			return ROOM_NOT_IN_QUEUE;
		if (!(v = add(r, sid, &why)))
			return why;
		if (claim)
			enqueue_claim(r, v, claim, now_ms);
		else
			enqueue(r, v, now_ms);
	} else if (v->state == V_ADMITTED && expired(r, v, now_ms)) {
		expire(r, v);
	}
	if (v->state == V_EXPIRED)
		enqueue(r, v, now_ms); /* lost its place: the end of the queue */
	v->slot = slot;
	v->last_seen_ms = now_ms;
	if (v->state == V_ADMITTED)
		refresh(r, v, now_ms);
	else
		try_admit(r, v, now_ms);
	fill_view(r, v, now_ms, out);
	return ROOM_OK;
}

bool room_admitted(struct room *r, uint64_t sid, int64_t now_ms)
{
	struct visitor *v;

	if (!r->set.enabled)
		return true;
	v = find(r, sid);
	if (!v || v->state != V_ADMITTED)
		return false;
	if (expired(r, v, now_ms)) {
		expire(r, v);
		return false;
	}
	v->last_seen_ms = now_ms;
	refresh(r, v, now_ms);
	return true;
}

static bool keep_visitor(struct room *r, const struct visitor *v, int64_t now)
{
	(void)r;
	return v->state == V_ADMITTED || now - v->last_seen_ms < ROOM_FORGET_MS;
}

/* Once a second: ends idle admissions, recounts, forgets the long gone. */
static bool sweep(struct room *r, int64_t now)
{
	uint32_t forget = 0;
	bool changed = false;

	for (uint32_t i = 0; i < r->cap; i++) {
		struct visitor *v = &r->tab[i];

		if (!v->sid)
			continue;
		if (v->state == V_ADMITTED && expired(r, v, now)) {
			expire(r, v);
			changed = true;
		}
		if (!keep_visitor(r, v, now)) {
			forget++;
			if (v->state == V_WAITING) {
				r->waiting--;
				if (!v->seq)
					r->prequeue--;
			}
		}
	}
	if (forget) {
		uint32_t cap = 64;

		while (cap < (r->count - forget) * 2 + 2)
			cap *= 2;
		if (rebuild(r, cap, keep_visitor, now)) {
			/* no memory: keep them (and the counts) for now */
			for (uint32_t i = 0; i < r->cap; i++) {
				struct visitor *v = &r->tab[i];

				if (v->sid && !keep_visitor(r, v, now) && v->state == V_WAITING) {
					r->waiting++;
					if (!v->seq)
						r->prequeue++;
				}
			}
		}
	}
	return changed;
}

bool room_tick(struct room *r, int64_t now_ms)
{
	uint64_t before = r->serving, queued;
	int64_t dt = now_ms - r->last_tick_ms;
	bool changed = false;

	r->last_tick_ms = now_ms;
	if (!r->set.enabled)
		return false;
	if (r->prequeue && !before_start(r, now_ms)) {
		draw(r, now_ms);
		changed = true;
	}
	if (now_ms - r->last_sweep_ms >= SWEEP_EVERY_MS) {
		r->last_sweep_ms = now_ms;
		changed |= sweep(r, now_ms);
	}
	if (dt < 0)
		dt = 0;
	if (dt > TICK_MAX_MS)
		dt = TICK_MAX_MS;
	queued = r->next_seq - 1 - r->serving;
	if (before_start(r, now_ms) || r->active >= r->set.active_max || !queued) {
		/* nothing owed while nobody may pass: no burst later */
		r->credit = 0;
	} else {
		uint64_t n, room_left = r->set.active_max - r->active;

		/* in thousandths of a visitor: ten ticks of 0.1 make one */
		r->credit += (uint64_t)(current_rate(r) * (double)dt + 0.5);
		n = r->credit / 1000;
		if (n > queued)
			n = queued;
		if (n > room_left)
			n = room_left;
		r->serving += n;
		r->credit -= n * 1000;
		if (r->credit > 1000 && n == queued)
			r->credit = 1000;
	}
	return changed || r->serving != before;
}

void room_get_stats(const struct room *r, struct room_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->enabled = r->set.enabled;
	st->serving = r->serving;
	st->next_seq = r->next_seq;
	st->waiting = r->waiting;
	st->prequeue = r->prequeue;
	st->active = r->active;
	st->visitors = r->count;
	st->admitted_total = r->admitted_total;
	st->expired_total = r->expired_total;
	st->edge_errors = r->edge_errors;
	st->rate = current_rate(r);
	st->wait_seconds = wait_for(r, r->next_seq - 1 - r->serving);
}
