/* One event's waiting list (waitlist.h): entries in join order in an
 * array with holes, a hash from session id to index, and a Fenwick tree of
 * live flags, so a join, a lookup and a position are O(1) or O(log n) at
 * 100,000 waiters; holes are squeezed out when the array is full. */
#include "userspace/ticketd/waitlist/waitlist.h"

#include <stdlib.h>
#include <string.h>

#define HASH_DELETED UINT32_MAX

static void fen_add(struct wl_queue *q, uint32_t i, int32_t d)
{
	for (i++; i <= q->cap; i += i & (~i + 1))
		q->fen[i] = (uint32_t)((int64_t)q->fen[i] + d);
}

/* live entries in e[0..i) */
static uint32_t fen_prefix(const struct wl_queue *q, uint32_t i)
{
	uint32_t s = 0;

	for (; i > 0; i -= i & (~i + 1))
		s += q->fen[i];
	return s;
}

static uint32_t sid_hash(const uint8_t sid[WL_SID_LEN])
{
	uint64_t a = 0;

	memcpy(&a, sid, WL_SID_LEN < 8 ? WL_SID_LEN : 8);
	a ^= a >> 29;
	a *= 0xBF58476D1CE4E5B9ull;
	return (uint32_t)(a ^ (a >> 32));
}

static uint32_t hash_find(const struct wl_queue *q, const uint8_t sid[WL_SID_LEN])
{
	if (!q->hash)
		return UINT32_MAX;
	for (uint32_t h = sid_hash(sid) & q->hmask;; h = (h + 1) & q->hmask) {
		uint32_t v = q->hash[h];

		if (!v)
			return UINT32_MAX;
		if (v != HASH_DELETED && !memcmp(q->e[v - 1].sid, sid, WL_SID_LEN))
			return v - 1;
	}
}

static void hash_put(struct wl_queue *q, uint32_t idx)
{
	uint32_t h = sid_hash(q->e[idx].sid) & q->hmask;

	while (q->hash[h] && q->hash[h] != HASH_DELETED)
		h = (h + 1) & q->hmask;
	q->hash[h] = idx + 1;
}

static void hash_del(struct wl_queue *q, uint32_t idx)
{
	for (uint32_t h = sid_hash(q->e[idx].sid) & q->hmask;; h = (h + 1) & q->hmask) {
		if (!q->hash[h])
			return;
		if (q->hash[h] == idx + 1) {
			q->hash[h] = HASH_DELETED;
			return;
		}
	}
}

/* New tree and hash for e[0..used) at capacity cap (the array already
 * holds cap entries). */
static int rebuild(struct wl_queue *q)
{
	uint32_t hsize = 32;
	uint32_t *fen, *hash;

	while (hsize < 2 * q->cap)
		hsize <<= 1;
	fen = calloc((size_t)q->cap + 1, sizeof(*fen));
	hash = calloc(hsize, sizeof(*hash));
	if (!fen || !hash) {
		free(fen);
		free(hash);
		return -1;
	}
	free(q->fen);
	free(q->hash);
	q->fen = fen;
	q->hash = hash;
	q->hmask = hsize - 1;
	q->live = q->n_offers = 0;
	for (uint32_t i = 0; i < q->used; i++) {
		if (q->e[i].dead)
			continue;
		q->live++;
		q->n_offers += q->e[i].n_offer > 0;
		fen_add(q, i, 1);
		hash_put(q, i);
	}
	q->head = 0;
	while (q->head < q->used && q->e[q->head].dead)
		q->head++;
	return 0;
}

/* Makes room for one more entry: squeezes out holes when at least half
 * the array is holes, else doubles it. */
static int make_room(struct wl_queue *q)
{
	uint32_t n = 0;

	if (q->used < q->cap)
		return 0;
	if (q->cap && q->live <= q->cap / 2) {
		for (uint32_t i = 0; i < q->used; i++)
			if (!q->e[i].dead)
				q->e[n++] = q->e[i];
		q->used = n;
	} else {
		uint32_t cap = q->cap ? 2 * q->cap : 16;
		struct wl_entry *e = realloc(q->e, (size_t)cap * sizeof(*e));

		if (!e)
			return -1;
		q->e = e;
		q->cap = cap;
	}
	return rebuild(q);
}

void wl_queue_init(struct wl_queue *q, uint32_t event_id, uint32_t max)
{
	memset(q, 0, sizeof(*q));
	q->event_id = event_id;
	q->max = max;
}

void wl_queue_free(struct wl_queue *q)
{
	free(q->e);
	free(q->fen);
	free(q->hash);
	memset(q, 0, sizeof(*q));
}

static void notify(const struct wl_queue *q, const struct wl_ops *ops,
		   const struct wl_entry *e, enum wl_change why)
{
	if (ops && ops->changed)
		ops->changed(ops->ctx, q->event_id, e, why);
}

static void remove_at(struct wl_queue *q, uint32_t idx, const struct wl_ops *ops,
		      enum wl_change why)
{
	struct wl_entry *e = &q->e[idx];

	hash_del(q, idx);
	fen_add(q, idx, -1);
	e->dead = true;
	q->live--;
	if (e->n_offer)
		q->n_offers--;
	while (q->head < q->used && q->e[q->head].dead)
		q->head++;
	notify(q, ops, e, why);
}

enum wl_result wl_join(struct wl_queue *q, const uint8_t sid[WL_SID_LEN],
		       uint32_t slot, int64_t session_expires_ms, uint8_t count,
		       int64_t now_ms, const struct wl_ops *ops,
		       const struct wl_entry **out)
{
	uint32_t idx = hash_find(q, sid);
	struct wl_entry *e;

	if (idx != UINT32_MAX) {
		*out = &q->e[idx];
		return WL_EXISTS;
	}
	*out = NULL;
	if (q->live >= q->max)
		return WL_FULL;
	if (make_room(q))
		return WL_NOMEM;
	idx = q->used++;
	e = &q->e[idx];
	memset(e, 0, sizeof(*e));
	memcpy(e->sid, sid, WL_SID_LEN);
	e->slot = slot;
	e->count = count;
	e->session_expires_ms = session_expires_ms;
	e->joined_ms = now_ms;
	e->seq = ++q->next_seq;
	q->live++;
	fen_add(q, idx, 1);
	hash_put(q, idx);
	*out = e;
	notify(q, ops, e, WL_JOINED);
	return WL_OK;
}

enum wl_result wl_restore(struct wl_queue *q, const struct wl_entry *src)
{
	if (q->used >= q->max)
		return WL_FULL;
	if (q->used == q->cap) {
		uint32_t cap = q->cap ? 2 * q->cap : 16;
		struct wl_entry *e = realloc(q->e, (size_t)cap * sizeof(*e));

		if (!e)
			return WL_NOMEM;
		q->e = e;
		q->cap = cap;
	}
	q->e[q->used] = *src;
	q->e[q->used].dead = false;
	q->used++;
	if (src->seq > q->next_seq)
		q->next_seq = src->seq;
	return WL_OK;
}

static int by_seq(const void *a, const void *b)
{
	const struct wl_entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void wl_restore_done(struct wl_queue *q)
{
	if (q->used > 1)
		qsort(q->e, q->used, sizeof(*q->e), by_seq);
	if (q->cap)
		(void)rebuild(q); /* on failure lookups find nothing; joins retry */
}

const struct wl_entry *wl_find(struct wl_queue *q, const uint8_t sid[WL_SID_LEN],
			       uint32_t *position)
{
	uint32_t idx = hash_find(q, sid);

	if (idx == UINT32_MAX)
		return NULL;
	if (position)
		*position = fen_prefix(q, idx) + 1;
	return &q->e[idx];
}

enum wl_result wl_leave(struct wl_queue *q, const uint8_t sid[WL_SID_LEN],
			const struct wl_ops *ops)
{
	uint32_t idx = hash_find(q, sid);
	struct wl_entry *e;

	if (idx == UINT32_MAX)
		return WL_NOT_FOUND;
	e = &q->e[idx];
	for (uint8_t i = 0; i < e->n_offer; i++)
		ops->release(ops->ctx, e->slot, q->event_id, e->offer[i]);
	remove_at(q, idx, ops, WL_LEFT);
	return WL_OK;
}

/* One offer: ORDERED when any seat is the waiter's order (or sold), else
 * keeps the seats still held and says whether any are. */
static void check_one(struct wl_queue *q, uint32_t idx, const struct wl_ops *ops,
		      uint32_t *removed)
{
	struct wl_entry *e = &q->e[idx];
	uint8_t keep = 0;
	bool ordered = false;

	for (uint8_t i = 0; i < e->n_offer; i++) {
		enum wl_claim c = ops->claim(ops->ctx, e->slot, q->event_id, e->offer[i]);

		if (c == WL_CLAIM_ORDERED)
			ordered = true;
		else if (c == WL_CLAIM_HELD)
			e->offer[keep++] = e->offer[i];
	}
	if (ordered || !keep) {
		if (!ordered) { /* its last state: nothing held */
			q->n_offers--;
			e->n_offer = 0;
		}
		remove_at(q, idx, ops, ordered ? WL_ORDERED : WL_LAPSED);
		(*removed)++;
		return;
	}
	if (keep < e->n_offer) {
		e->n_offer = keep;
		notify(q, ops, e, WL_SHRANK);
	}
}

uint32_t wl_check_offers(struct wl_queue *q, int64_t now_ms,
			 const struct wl_ops *ops)
{
	uint32_t want = q->n_offers, seen = 0, removed = 0;

	(void)now_ms;
	for (uint32_t i = q->head; i < q->used && seen < want; i++) {
		if (q->e[i].dead || !q->e[i].n_offer)
			continue;
		seen++;
		check_one(q, i, ops, &removed);
	}
	return removed;
}

const struct wl_entry *wl_seat_free(struct wl_queue *q, uint32_t seat_id,
				    int64_t now_ms, uint32_t offer_secs,
				    const struct wl_ops *ops)
{
	int tries = 0;

	if (!q->live)
		return NULL;
	if (q->n_offers)
		wl_check_offers(q, now_ms, ops);
	for (uint32_t i = q->head; i < q->used && tries < WL_TRY_MAX; i++) {
		struct wl_entry *e = &q->e[i];
		uint32_t secs = offer_secs;
		int64_t expires = 0;
		enum wl_hold r;

		if (e->dead || e->n_offer >= e->count)
			continue;
		if (e->session_expires_ms <= now_ms) {
			if (!e->n_offer) {
				remove_at(q, i, ops, WL_EXPIRED);
				continue;
			}
			continue; /* its holds lapse; then it leaves */
		}
		if (e->n_offer) { /* a later seat lapses with the first */
			int64_t left = e->offer_expires_ms - now_ms;

			if (left <= 0)
				continue;
			secs = (uint32_t)((left + 999) / 1000);
		}
		r = ops->hold(ops->ctx, e->slot, q->event_id, seat_id, secs, &expires);
		if (r == WL_HOLD_TAKEN)
			return NULL;
		if (r != WL_HOLD_OK) {
			tries++;
			continue;
		}
		e->offer[e->n_offer++] = seat_id;
		if (e->n_offer == 1) {
			e->offer_expires_ms = expires;
			q->n_offers++;
			notify(q, ops, e, WL_OFFERED);
		} else {
			notify(q, ops, e, WL_GREW);
		}
		return e;
	}
	return NULL;
}
