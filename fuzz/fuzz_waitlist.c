/* The waiting-list core (userspace/ticketd/waitlist/waitlist.c) driven by
 * random operations (join, leave, a seat freed, time passing, an offered
 * seat ordered) over a fake seat table, checked after each one against a
 * plain model: the entries in join order (positions), the live and offer
 * counts, no seat offered to two waiters, no seat held for an expired
 * session. Three input bytes an operation. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/waitlist/waitlist.h"

#define SIDS 48
#define SEATS 16
#define MAX_LIVE 32

struct fake {
	uint32_t holder[SEATS];
	int64_t until[SEATS];
	bool ordered[SEATS];
	int64_t now;
	uint32_t refuse_slot;
	int64_t session_end[SIDS + 1]; /* by slot */
	/* the model: slots in join order */
	uint32_t order[SIDS];
	int n;
};

static struct fake F;

static void check(bool ok)
{
	if (!ok)
		abort();
}

static enum wl_hold f_hold(void *ctx, uint32_t slot, uint32_t ev, uint32_t seat,
			   uint32_t secs, int64_t *exp)
{
	(void)ctx;
	(void)ev;
	check(seat < SEATS && slot >= 1 && slot <= SIDS);
	check(F.session_end[slot] > F.now); /* never for an expired session */
	if (slot == F.refuse_slot)
		return WL_HOLD_REFUSED;
	if (F.ordered[seat] || (F.holder[seat] && F.until[seat] > F.now))
		return WL_HOLD_TAKEN;
	F.holder[seat] = slot;
	F.until[seat] = F.now + (int64_t)secs * 1000;
	*exp = F.until[seat];
	return WL_HOLD_OK;
}

static enum wl_claim f_claim(void *ctx, uint32_t slot, uint32_t ev, uint32_t seat)
{
	(void)ctx;
	(void)ev;
	check(seat < SEATS);
	if (F.holder[seat] != slot)
		return WL_CLAIM_GONE;
	if (F.ordered[seat])
		return WL_CLAIM_ORDERED;
	return F.until[seat] > F.now ? WL_CLAIM_HELD : WL_CLAIM_GONE;
}

static void f_release(void *ctx, uint32_t slot, uint32_t ev, uint32_t seat)
{
	(void)ctx;
	(void)ev;
	if (F.holder[seat] == slot && !F.ordered[seat])
		F.holder[seat] = 0;
}

static void f_changed(void *ctx, uint32_t ev, const struct wl_entry *e, enum wl_change why)
{
	(void)ctx;
	(void)ev;
	if (why == WL_JOINED) {
		F.order[F.n++] = e->slot;
		return;
	}
	if (why == WL_LEFT || why == WL_ORDERED || why == WL_LAPSED || why == WL_EXPIRED) {
		int i = 0;

		while (i < F.n && F.order[i] != e->slot)
			i++;
		check(i < F.n);
		memmove(&F.order[i], &F.order[i + 1], (size_t)(F.n - i - 1) * sizeof(F.order[0]));
		F.n--;
	}
}

static const struct wl_ops OPS = {f_hold, f_claim, f_release, f_changed, NULL};

static void sid_of(uint32_t slot, uint8_t sid[WL_SID_LEN])
{
	memset(sid, 0x5A, WL_SID_LEN);
	memcpy(sid, &slot, sizeof(slot));
}

static void invariants(struct wl_queue *q)
{
	uint32_t offers = 0, seen[SEATS] = {0};

	check(q->live == (uint32_t)F.n);
	for (int i = 0; i < F.n; i++) {
		uint8_t sid[WL_SID_LEN];
		uint32_t pos = 0;
		const struct wl_entry *e;

		sid_of(F.order[i], sid);
		e = wl_find(q, sid, &pos);
		check(e && pos == (uint32_t)i + 1 && e->slot == F.order[i]);
		check(e->n_offer <= e->count);
		offers += e->n_offer > 0;
		for (uint8_t k = 0; k < e->n_offer; k++) {
			check(e->offer[k] < SEATS && !seen[e->offer[k]]);
			seen[e->offer[k]] = e->slot;
		}
	}
	check(offers == q->n_offers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wl_queue q;

	memset(&F, 0, sizeof(F));
	F.now = 1900000000000LL;
	wl_queue_init(&q, 1, MAX_LIVE);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t op = data[i] % 6, a = data[i + 1], b = data[i + 2];
		uint32_t slot = 1 + a % SIDS;
		uint8_t sid[WL_SID_LEN];
		const struct wl_entry *e;

		sid_of(slot, sid);
		switch (op) {
		case 0: { /* join; b's top bit: a session ending soon */
			int64_t end = F.now + ((b & 0x80) ? 2000 : 3600000);
			enum wl_result r;

			if (wl_find(&q, sid, NULL))
				end = F.session_end[slot];
			r = wl_join(&q, sid, slot, end, (uint8_t)(1 + b % WL_COUNT_MAX), F.now, &OPS, &e);
			check(r == WL_OK || r == WL_EXISTS || r == WL_FULL);
			if (r == WL_OK)
				F.session_end[slot] = end;
			break;
		}
		case 1:
			(void)wl_leave(&q, sid, &OPS);
			break;
		case 2: { /* a seat is freed (the sweeper or a release) */
			uint32_t seat = a % SEATS;

			if (F.ordered[seat])
				break;
			if (F.holder[seat] && F.until[seat] > F.now)
				break; /* still somebody's: not freed */
			F.holder[seat] = 0;
			(void)wl_seat_free(&q, seat, F.now, 1 + b % 200, &OPS);
			break;
		}
		case 3:
			F.now += (int64_t)b * 1000;
			(void)wl_check_offers(&q, F.now, &OPS);
			break;
		case 4: /* the holder of seat a orders it */
			if (F.holder[a % SEATS] && F.until[a % SEATS] > F.now)
				F.ordered[a % SEATS] = true;
			(void)wl_check_offers(&q, F.now, &OPS);
			break;
		case 5:
			F.refuse_slot = b & 1 ? slot : 0;
			break;
		}
		invariants(&q);
	}
	wl_queue_free(&q);
	return 0;
}
