/* MariaDB access: a small pool of connections, and the migrations
 * (embedded from the .sql files of db/migrations/) that ticketd applies at
 * start. The SQL of each table group lives beside its domain:
 * commerce/catalog_store.c, commerce/order_store.c, commerce/sessions.c,
 * messaging/outbox.c, messaging/inbox.c, commerce/saga.c. */
#ifndef TICKETD_DB_H
#define TICKETD_DB_H

#include <mysql.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;

/* Connection attempts when a borrowed connection lost its server, and how
 * long after a failed attempt the next borrower fails at once instead of
 * trying again (so a dead server costs one connect timeout, not one per
 * request). */
#define DB_RECONNECT_TRIES 2
#define DB_RECONNECT_HOLDOFF_MS 500
/* What a background worker (saga, relay, recovery, pruners) waits for a
 * pool connection before it backs off and retries. */
#define DB_WORKER_WAIT_MS 2000
/* db_get_tx trusts a connection given back healthy less than this long ago
 * without a ping (one round trip saved per borrow under load); idle longer,
 * it is pinged as by db_get_timed. */
#define DB_PING_IDLE_MS 1000

struct db_pool {
	pthread_mutex_t lock; /* guards conns[], free_idx, n_free, retry_at_ms,
			       * down */
	pthread_cond_t cond;
	MYSQL **conns; /* NULL: to be (re)connected when next taken */
	int *free_idx;
	int64_t *returned_ms; /* per slot: monotonic ms when last given back
			       * healthy (db_get_tx skips the ping within
			       * DB_PING_IDLE_MS) */
	int n_conns, n_free;
	int64_t retry_at_ms; /* monotonic; no reconnect attempt before this */
	bool down;           /* the last connect attempt failed */
	char host[256], user[256], password[256], name[256];
	unsigned port;
	atomic_ullong reconnects;      /* connections replaced */
	atomic_ullong connect_errors;  /* failed (re)connect attempts */
	atomic_ullong wait_timeouts;   /* db_get_timed answered NULL */
	atomic_ullong stmt_prepares;   /* statements prepared (cache misses) */
	atomic_ullong stmt_reuses;     /* executions of an already prepared one */
};

/* Connects n connections; -errno-style negative on failure with reason in
 * err. Retries for up to wait_seconds while the server is starting. */
int db_pool_open(struct db_pool *pool, const struct config *cfg,
		 int wait_seconds, char *err, size_t errlen);
void db_pool_close(struct db_pool *pool);

/* Borrows a connection, waiting at most wait_ms (<= 0: not at all) for a
 * free one; return it with db_put. There is no unbounded wait: HTTP
 * threads pass db_wait_ms and answer 503 + Retry-After on NULL, workers
 * pass DB_WORKER_WAIT_MS and back off.
 * The connector never reconnects by itself (MYSQL_OPT_RECONNECT is off: a
 * silent reconnect would drop an open transaction and run the rest in
 * autocommit). Instead the connection is pinged here; one that lost its
 * server is closed and replaced (DB_RECONNECT_TRIES attempts, the session
 * settings of db_connect applied again). A transaction whose connection
 * died fails at its next statement or COMMIT, which the caller sees.
 * NULL when no connection came free in time or the server is unreachable
 * (the slot stays in the pool, to be reconnected by a later borrower). */
MYSQL *db_get_timed(struct db_pool *pool, int wait_ms);
/* As db_get_timed for a caller whose first statement is db_begin (or that
 * treats -ECONNRESET from its first statement as "retry"): a connection
 * given back healthy within DB_PING_IDLE_MS is lent without a ping. */
MYSQL *db_get_tx(struct db_pool *pool, int wait_ms);

/* START TRANSACTION on *conn (from db_get_tx or db_get_timed). When the
 * connection turns out dead (the server restarted while it sat in the
 * pool), it is replaced in its slot and the transaction started on the
 * replacement, once: *conn then is the replacement, or NULL when the server
 * cannot be reached (the slot is back in the pool; db_put(NULL) is a no-op).
 * 0 or a negative errno as db_errno. */
int db_begin(struct db_pool *pool, MYSQL **conn);

/* Returns a connection. One left inside a transaction (an error path that
 * did not end it) is rolled back; one whose last error says the server is
 * gone is closed, to be replaced when next taken. */
void db_put(struct db_pool *pool, MYSQL *conn);

/* A connection handle with ticketd's options set (reconnect off, timeouts,
 * utf8mb4, UTC session time zone), not yet connected; NULL without memory.
 * db_get_timed's reconnects use it too. */
MYSQL *db_conn_init(void);

/* True for client errors that mean the connection is dead (server gone,
 * lost, not connected). */
bool db_conn_lost(unsigned mysql_err);

/* Appends the pool's counters to /metrics (metrics_appendf); 0 or
 * -ENOMEM. Any thread. */
int db_render_metrics(struct db_pool *pool, char **buf, size_t *len,
		      size_t *cap);

/* True when the database answers a ping within its timeouts (and a
 * connection came free within a second). */
bool db_ping(struct db_pool *pool);

/* Fill one statement parameter: a string (its length kept in *len, which
 * must live until the statement runs), or an integer. */
void db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len);
void db_bind_u32(MYSQL_BIND *b, uint32_t *v);
void db_bind_u64(MYSQL_BIND *b, uint64_t *v);
void db_bind_i64(MYSQL_BIND *b, int64_t *v);

/* Applies every embedded migration not yet recorded in schema_migrations,
 * under a named lock so concurrent daemons do not race. */
int db_migrate(struct db_pool *pool, char *err, size_t errlen);

/* Prepared statements with the parameters given inline, each prepared once
 * per pooled connection and reused (db/stmt_cache.h). types has one
 * letter per parameter: 's' const char * (NULL = SQL NULL), 'u' uint64_t,
 * 'i' int64_t. */

/* Executes a statement; returns the affected rows (>= 0) or a negative
 * errno: -EEXIST duplicate key, -EDEADLK deadlock, -ETIMEDOUT lock wait,
 * -ECONNRESET server gone, -EIO anything else. */
long long db_exec(MYSQL *conn, const char *sql, const char *types, ...);

/* As db_exec with the parameters in an array (a statement whose parameter
 * count varies, such as a multi-row INSERT): args[k] gives parameter k by
 * types[k] ('s' .s, 'u' .u, 'i' .i). At most DB_ROWS_MAX_PARAMS parameters. */
struct db_arg {
	const char *s;
	uint64_t u;
	int64_t i;
};
long long db_exec_args(MYSQL *conn, const char *sql, const char *types,
		       const struct db_arg *args);

/* A multi-row INSERT inside the caller's open transaction: head (up to
 * "VALUES "), then n copies of row (a parenthesised tuple with one
 * placeholder per letter of row_types) separated by commas; args holds
 * n * strlen(row_types) parameters, row by row. Prepared once per
 * connection for each n and reused, as db_exec. Returns the affected rows
 * or a negative errno as db_exec (-EINVAL outside a transaction or past
 * DB_ROWS_MAX_PARAMS parameters); *insert_id (when not NULL) gets the
 * first new row's AUTO_INCREMENT id. */
#define DB_ROWS_MAX_PARAMS 96
long long db_insert_rows(MYSQL *conn, const char *head, const char *row,
			 const char *row_types, const struct db_arg *args, int n,
			 uint64_t *insert_id);

/* Runs a query and calls row(ctx, n, values) for each result row; values
 * are NUL-terminated strings (NULL for SQL NULL, at most DB_CELL_MAX-1
 * bytes). Returns the number of rows or a negative errno as db_exec; a
 * negative return from row stops and is returned. */
#define DB_CELL_MAX 1024
typedef int (*db_row_fn)(void *ctx, int n, char **values);
long long db_select(MYSQL *conn, const char *sql, db_row_fn row, void *ctx,
		    const char *types, ...);

/* Maps a MariaDB client or server error number to a negative errno; the
 * distinctions are the ones a caller acts on: -EEXIST duplicate key,
 * -EDEADLK / -ETIMEDOUT retry the transaction, -ECONNRESET reconnect,
 * -ENOMEM, -EIO anything else. */
int db_errno(unsigned mysql_err);

/* A new statement on conn for a write that must belong to the caller's open
 * transaction: 0 with *out set, -EINVAL outside a transaction, -ENOMEM. */
int db_tx_stmt(MYSQL *conn, MYSQL_STMT **out);

#endif
