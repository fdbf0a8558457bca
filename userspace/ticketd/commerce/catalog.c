/* The catalogue in memory: snapshots by id, lookups and freeing, no
 * database (catalog_store.c loads it), so the seat stream and the SSE hub
 * link without MariaDB. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/ticket_maps.h"
#include "userspace/ticketd/commerce/catalog.h"

_Static_assert(CATALOG_MAX_EVENTS == TKT_MAX_EVENTS,
	       "event ids index the events map");

int catalog_init(struct catalog *cat)
{
	memset(cat, 0, sizeof(*cat));
	cat->by_id = calloc(CATALOG_MAX_EVENTS, sizeof(*cat->by_id));
	if (!cat->by_id)
		return -ENOMEM;
	pthread_mutex_init(&cat->lock, NULL);
	return 0;
}

int catalog_put(struct catalog *cat, struct event_info *e)
{
	struct event_info *old;
	uint32_t end;
	int rc = 0;

	if (!e)
		return -ENOMEM;
	if (!e->id || e->id >= CATALOG_MAX_EVENTS) {
		event_info_free(e);
		return -ERANGE;
	}
	pthread_mutex_lock(&cat->lock);
	old = atomic_load(&cat->by_id[e->id]);
	if (old && cat->n_retired == cat->cap_retired) {
		uint32_t cap = cat->cap_retired ? cat->cap_retired * 2 : 16;
		struct event_info **r = realloc(cat->retired, cap * sizeof(*r));

		if (!r) {
			pthread_mutex_unlock(&cat->lock);
			event_info_free(e);
			return -ENOMEM;
		}
		cat->retired = r;
		cat->cap_retired = cap;
	}
	if (old)
		cat->retired[cat->n_retired++] = old;
	else
		atomic_fetch_add(&cat->n_events, 1);
	atomic_store_explicit(&cat->by_id[e->id], e, memory_order_release);
	if (e->id > atomic_load(&cat->max_id))
		atomic_store(&cat->max_id, e->id);
	end = e->seat_base + e->n_seats;
	if (end > atomic_load(&cat->seats_used))
		atomic_store(&cat->seats_used, end);
	pthread_mutex_unlock(&cat->lock);
	return rc;
}

const struct event_info *catalog_get(const struct catalog *cat, uint32_t id)
{
	if (!cat->by_id || id >= CATALOG_MAX_EVENTS)
		return NULL;
	return atomic_load_explicit(&cat->by_id[id], memory_order_acquire);
}

const struct event_info *catalog_find(const struct catalog *cat, uint32_t id)
{
	const struct event_info *e = catalog_get(cat, id);

	return e && e->state != EVENT_DRAFT ? e : NULL;
}

const struct event_info *catalog_next_any(const struct catalog *cat, uint32_t *cursor)
{
	uint32_t max = cat->by_id ? atomic_load(&cat->max_id) : 0;

	while (*cursor < max) {
		const struct event_info *e = catalog_get(cat, ++*cursor);

		if (e)
			return e;
	}
	return NULL;
}

const struct event_info *catalog_next(const struct catalog *cat, uint32_t *cursor)
{
	const struct event_info *e;

	while ((e = catalog_next_any(cat, cursor)))
		if (e->state != EVENT_DRAFT)
			return e;
	return NULL;
}

struct event_info *event_info_dup(const struct event_info *e)
{
	struct event_info *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	*d = *e;
	d->seats = calloc(e->n_seats ? e->n_seats : 1, sizeof(*d->seats));
	d->categories_json = e->categories_json ? strdup(e->categories_json) : NULL;
	d->sections_json = e->sections_json ? strdup(e->sections_json) : NULL;
	if (!d->seats || (e->categories_json && !d->categories_json) ||
	    (e->sections_json && !d->sections_json)) {
		event_info_free(d);
		return NULL;
	}
	if (e->n_seats)
		memcpy(d->seats, e->seats, e->n_seats * sizeof(*d->seats));
	return d;
}

void event_info_free(struct event_info *e)
{
	if (!e)
		return;
	free(e->seats);
	free(e->categories_json);
	free(e->sections_json);
	free(e);
}

uint32_t event_door_flags(const struct event_info *e, int64_t now_ms)
{
	uint32_t f = tkt_event_policy(e->hold_limit, e->hold_seconds,
				      e->max_hold_seconds);

	if (e->state != EVENT_PUBLISHED ||
	    (e->sale_starts_ms && now_ms < e->sale_starts_ms) ||
	    (e->sale_ends_ms && now_ms >= e->sale_ends_ms))
		f |= TKT_EVENT_CLOSED;
	return f;
}

void catalog_free(struct catalog *cat)
{
	if (cat->by_id) {
		for (uint32_t i = 0; i < CATALOG_MAX_EVENTS; i++)
			event_info_free(atomic_load(&cat->by_id[i]));
		free(cat->by_id);
		pthread_mutex_destroy(&cat->lock);
	}
	for (uint32_t i = 0; i < cat->n_retired; i++)
		event_info_free(cat->retired[i]);
	free(cat->retired);
	memset(cat, 0, sizeof(*cat));
}
