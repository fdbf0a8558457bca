/* Ended orders in memory (see order_cache.h). */
#include "userspace/ticketd/commerce/order_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a over the id: order ids are random hex, any mix will do. */
static uint32_t id_hash(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 16777619u;
	return h;
}

int order_cache_init(struct order_cache *c, uint32_t n_slots)
{
	uint32_t n = 64;

	memset(c, 0, sizeof(*c));
	if (!n_slots)
		return 0;
	while (n < n_slots && n < (1u << 24))
		n <<= 1;
	c->slots = calloc(n, sizeof(*c->slots));
	if (!c->slots)
		return -ENOMEM;
	c->mask = n - 1;
	for (int i = 0; i < ORDER_CACHE_LOCKS; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	return 0;
}

void order_cache_free(struct order_cache *c)
{
	if (!c->slots)
		return;
	for (int i = 0; i < ORDER_CACHE_LOCKS; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c->slots);
	c->slots = NULL;
}

bool order_cache_final(const char *status)
{
	return !strcmp(status, "CONFIRMED") || !strcmp(status, "CANCELLED");
}

void order_cache_put(struct order_cache *c, const struct order *o)
{
	uint32_t i;

	if (!c->slots || !o->id[0] || !order_cache_final(o->status))
		return;
	i = id_hash(o->id) & c->mask;
	pthread_mutex_lock(&c->locks[i % ORDER_CACHE_LOCKS]);
	c->slots[i].o = *o;
	c->slots[i].used = true;
	pthread_mutex_unlock(&c->locks[i % ORDER_CACHE_LOCKS]);
	atomic_fetch_add(&c->stored, 1);
}

bool order_cache_get(struct order_cache *c, const char *order_id, struct order *out)
{
	bool found = false;
	uint32_t i;

	if (!c->slots)
		return false;
	i = id_hash(order_id) & c->mask;
	pthread_mutex_lock(&c->locks[i % ORDER_CACHE_LOCKS]);
	if (c->slots[i].used && !strcmp(c->slots[i].o.id, order_id)) {
		*out = c->slots[i].o;
		found = true;
	}
	pthread_mutex_unlock(&c->locks[i % ORDER_CACHE_LOCKS]);
	atomic_fetch_add(found ? &c->hits : &c->misses, 1);
	return found;
}
