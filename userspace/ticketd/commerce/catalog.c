/* The catalogue in memory: lookups and freeing, no database (catalog_store.c
 * loads it), so the seat stream and the SSE hub link without MariaDB. */
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/commerce/catalog.h"

static int cmp_event(const void *a, const void *b)
{
	const struct event_info *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

const struct event_info *catalog_find(const struct catalog *cat, uint32_t id)
{
	struct event_info key = {.id = id};

	if (!cat->n_events)
		return NULL;
	return bsearch(&key, cat->events, cat->n_events, sizeof(key), cmp_event);
}

void catalog_free(struct catalog *cat)
{
	for (uint32_t i = 0; i < cat->n_events; i++)
		free(cat->events[i].seats);
	free(cat->events);
	memset(cat, 0, sizeof(*cat));
}
