/* MariaDB access: a small pool of connections, and the migrations that
 * ticketd applies at start. Table-group data access lives in *_store.c. */
#ifndef TICKETD_DB_H
#define TICKETD_DB_H

#include <mysql.h>
#include <pthread.h>
#include <stdbool.h>

struct config;

struct db_pool {
	pthread_mutex_t lock; /* guards free_idx, n_free */
	pthread_cond_t cond;
	MYSQL **conns;
	int *free_idx;
	int n_conns, n_free;
	char host[256], user[256], password[256], name[256];
	unsigned port;
};

/* Connects n connections; -errno-style negative on failure with reason in
 * err. Retries for up to wait_seconds while the server is starting. */
int db_pool_open(struct db_pool *pool, const struct config *cfg,
		 int wait_seconds, char *err, size_t errlen);
void db_pool_close(struct db_pool *pool);

/* Borrows a connection (waits while all are busy); it is pinged and
 * reconnected if the server went away. Return it with db_put. */
MYSQL *db_get(struct db_pool *pool);
void db_put(struct db_pool *pool, MYSQL *conn);

/* True when the database answers a ping within its timeouts. */
bool db_ping(struct db_pool *pool);

/* Applies every embedded migration not yet recorded in schema_migrations,
 * under a named lock so concurrent daemons do not race. */
int db_migrate(struct db_pool *pool, char *err, size_t errlen);

#endif
