/* Orders that have ended (CONFIRMED or CANCELLED), kept in memory so that
 * reading one again (GET /api/orders/{id}, the authorize pre-check, the
 * tickets of an order) needs no MariaDB round trip. An ended order never
 * changes again (no path updates a CONFIRMED or CANCELLED row), so a copy
 * taken after the ending committed is always current; PENDING orders are
 * never kept (they are read from MariaDB, which may have moved on). A
 * direct-mapped table: a newer order in the same slot replaces an older
 * one, which is then read from MariaDB again. Thread-safe (a lock per 64
 * slots). An order_cache that was never initialised (slots NULL) keeps
 * nothing and finds nothing. */
#ifndef TICKETD_ORDER_CACHE_H
#define TICKETD_ORDER_CACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "userspace/ticketd/commerce/orders.h"

#define ORDER_CACHE_LOCKS 64

struct order_cache_slot {
	bool used;
	struct order o;
};

struct order_cache {
	struct order_cache_slot *slots; /* NULL: disabled */
	uint32_t mask;                  /* slots - 1 */
	pthread_mutex_t locks[ORDER_CACHE_LOCKS];
	atomic_ullong hits, misses, stored;
};

/* n_slots rounded up to a power of two (at least 64; 0 disables the
 * cache). 0 or -ENOMEM. */
int order_cache_init(struct order_cache *c, uint32_t n_slots);
void order_cache_free(struct order_cache *c);

/* Is status one that never changes again? */
bool order_cache_final(const char *status);

/* Keeps a copy of o when it has ended (order_cache_final); anything else
 * is ignored. Call only with what MariaDB committed. */
void order_cache_put(struct order_cache *c, const struct order *o);

/* The ended order order_id into out: true, or false (not kept). */
bool order_cache_get(struct order_cache *c, const char *order_id, struct order *out);

#endif
