/* A connection's prepared statements (see stmt_cache.h). */
#include "userspace/ticketd/db/stmt_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: the SQL texts are short; the hash only saves most strcmp calls. */
static uint64_t sql_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

void stmt_cache_init(struct stmt_cache *c)
{
	memset(c, 0, sizeof(*c));
}

static void drop(struct stmt_cache *c, const struct stmt_cache_ops *ops, int i)
{
	ops->close(ops->ctx, c->e[i].stmt);
	free(c->e[i].sql);
	c->e[i] = c->e[--c->n];
}

void *stmt_cache_get(struct stmt_cache *c, const struct stmt_cache_ops *ops,
		     const char *sql, bool *hit, int *err)
{
	uint64_t h = sql_hash(sql);
	struct stmt_cache_entry *e;
	char *copy;
	void *st;
	int i;

	*hit = false;
	*err = 0;
	for (i = 0; i < c->n; i++)
		if (c->e[i].hash == h && !strcmp(c->e[i].sql, sql)) {
			c->e[i].used = ++c->tick;
			*hit = true;
			return c->e[i].stmt;
		}
	copy = strdup(sql);
	if (!copy) {
		*err = -ENOMEM;
		return NULL;
	}
	st = ops->prepare(ops->ctx, sql, err);
	if (!st) {
		free(copy);
		if (!*err)
			*err = -EIO;
		return NULL;
	}
	if (c->n == STMT_CACHE_SLOTS) { /* full: the least recently used goes */
		int lru = 0;

		for (i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[lru].used)
				lru = i;
		drop(c, ops, lru);
	}
	e = &c->e[c->n++];
	e->hash = h;
	e->sql = copy;
	e->stmt = st;
	e->used = ++c->tick;
	return st;
}

void stmt_cache_evict(struct stmt_cache *c, const struct stmt_cache_ops *ops,
		      void *stmt)
{
	for (int i = 0; i < c->n; i++)
		if (c->e[i].stmt == stmt) {
			drop(c, ops, i);
			return;
		}
}

void stmt_cache_clear(struct stmt_cache *c, const struct stmt_cache_ops *ops)
{
	while (c->n > 0)
		drop(c, ops, c->n - 1);
	c->tick = 0;
}
