/* A connection's prepared statements, prepared once and reused: the cache
 * maps SQL text to a statement handle of one connection. It knows nothing
 * of MariaDB (ops prepare and close the handles), so it is tested against
 * a fake (tests/unit/test_stmt_cache.c); db.c hangs one on every pooled
 * connection and drops it with the connection, so a reconnect starts with
 * an empty cache (a statement belongs to the server session that prepared
 * it). Not thread-safe: a connection, and so its cache, has one borrower at
 * a time. */
#ifndef TICKETD_STMT_CACHE_H
#define TICKETD_STMT_CACHE_H

#include <stdbool.h>
#include <stdint.h>

/* Statements kept per connection. ticketd uses a few dozen distinct
 * statements; past this the least recently used one is closed. With the
 * default pool of 8 that is at most 512 server-side statements, far below
 * MariaDB's max_prepared_stmt_count (16382). */
#define STMT_CACHE_SLOTS 64

struct stmt_cache_ops {
	/* A new prepared statement for sql, or NULL with *err a negative
	 * errno. */
	void *(*prepare)(void *ctx, const char *sql, int *err);
	void (*close)(void *ctx, void *stmt);
	void *ctx;
};

struct stmt_cache_entry {
	uint64_t hash;
	char *sql; /* own copy */
	void *stmt;
	uint64_t used; /* tick of the last get */
};

struct stmt_cache {
	int n;
	uint64_t tick;
	struct stmt_cache_entry e[STMT_CACHE_SLOTS];
};

void stmt_cache_init(struct stmt_cache *c);

/* The statement for sql: the cached one (*hit true), or a new one prepared
 * through ops and kept (*hit false). NULL with *err set when preparing
 * failed or there was no memory for the copy of sql. */
void *stmt_cache_get(struct stmt_cache *c, const struct stmt_cache_ops *ops,
		     const char *sql, bool *hit, int *err);

/* Closes and forgets one statement (after an error that may have left it
 * unusable); the next get of its SQL prepares it again. No-op when not
 * cached. */
void stmt_cache_evict(struct stmt_cache *c, const struct stmt_cache_ops *ops,
		      void *stmt);

/* Closes every statement (the connection is going away). */
void stmt_cache_clear(struct stmt_cache *c, const struct stmt_cache_ops *ops);

#endif
