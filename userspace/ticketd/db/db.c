#include "userspace/ticketd/db/db.h"

#include <errmsg.h>
#include <errno.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/config.h"
#include "userspace/ticketd/db/embedded_sql.h"
#include "userspace/ticketd/db/stmt_cache.h"

/* A pooled connection's statement cache, kept in the connector's user data
 * of the MYSQL handle under this key (so db_exec and db_select, which get
 * only the handle, find it) and freed with the handle (db_conn_close). */
#define DB_STMTS_KEY "ticketd.stmts"

struct db_conn_stmts {
	struct stmt_cache cache;
	struct db_pool *pool; /* its counters */
};

static struct db_conn_stmts *conn_stmts(MYSQL *conn)
{
	void *p = NULL;

	if (mysql_get_optionv(conn, MARIADB_OPT_USERDATA, (void *)DB_STMTS_KEY, &p))
		return NULL;
	return p;
}

static void *stmt_prepare(void *ctx, const char *sql, int *err)
{
	MYSQL *conn = ctx;
	MYSQL_STMT *st = mysql_stmt_init(conn);

	if (!st) {
		*err = -ENOMEM;
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql))) {
		*err = db_errno(mysql_stmt_errno(st));
		log_msg(LOG_ERROR, NULL, "prepare failed: %s: %s", mysql_stmt_error(st), sql);
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

static void stmt_close(void *ctx, void *stmt)
{
	(void)ctx;
	mysql_stmt_close(stmt);
}

/* Closes a connection and its cached statements. */
static void db_conn_close(MYSQL *conn)
{
	struct db_conn_stmts *s = conn_stmts(conn);

	if (s) {
		const struct stmt_cache_ops ops = {stmt_prepare, stmt_close, conn};

		stmt_cache_clear(&s->cache, &ops);
		free(s);
	}
	mysql_close(conn);
}

MYSQL *db_conn_init(void)
{
	unsigned timeout = 3;
	my_bool reconnect = 0;
	MYSQL *conn = mysql_init(NULL);

	if (!conn)
		return NULL;
	mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &(unsigned){10});
	mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &(unsigned){10});
	/* Never reconnect behind the caller's back: a silent reconnect
	 * drops an open transaction and runs the rest in autocommit.
	 * db_get_timed replaces dead connections instead. */
	mysql_options(conn, MYSQL_OPT_RECONNECT, &reconnect);
	mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* Times are stored and read as UTC on every connection, first or
	 * replacement. */
	mysql_options(conn, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	return conn;
}

static MYSQL *db_connect(struct db_pool *pool, char *err, size_t errlen)
{
	MYSQL *conn = db_conn_init();
	struct db_conn_stmts *stmts;

	if (!conn) {
		snprintf(err, errlen, "mysql_init: out of memory");
		return NULL;
	}
	if (!mysql_real_connect(conn, pool->host, pool->user, pool->password,
				pool->name, pool->port, NULL,
				CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS)) {
		snprintf(err, errlen, "MariaDB %s:%u: %s", pool->host, pool->port,
			 mysql_error(conn));
		mysql_close(conn);
		return NULL;
	}
	stmts = calloc(1, sizeof(*stmts));
	if (stmts) {
		stmt_cache_init(&stmts->cache);
		stmts->pool = pool;
		if (mysql_optionsv(conn, MARIADB_OPT_USERDATA, (void *)DB_STMTS_KEY,
				   (void *)stmts)) {
			free(stmts); /* works uncached */
		}
	}
	return conn;
}

bool db_conn_lost(unsigned err)
{
	return err == CR_SERVER_GONE_ERROR || err == CR_SERVER_LOST ||
	       err == CR_CONNECTION_ERROR || err == CR_CONN_HOST_ERROR ||
	       err == CR_COMMANDS_OUT_OF_SYNC || err == ER_CONNECTION_KILLED;
}

int db_pool_open(struct db_pool *pool, const struct config *cfg,
		 int wait_seconds, char *err, size_t errlen)
{
	int i;

	memset(pool, 0, sizeof(*pool));
	snprintf(pool->host, sizeof(pool->host), "%s", cfg->db_host);
	snprintf(pool->user, sizeof(pool->user), "%s", cfg->db_user);
	snprintf(pool->password, sizeof(pool->password), "%s", cfg->db_password);
	snprintf(pool->name, sizeof(pool->name), "%s", cfg->db_name);
	pool->port = (unsigned)cfg->db_port;
	pool->conns = calloc((size_t)cfg->db_pool, sizeof(*pool->conns));
	pool->free_idx = calloc((size_t)cfg->db_pool, sizeof(*pool->free_idx));
	pool->returned_ms = calloc((size_t)cfg->db_pool, sizeof(*pool->returned_ms));
	if (!pool->conns || !pool->free_idx || !pool->returned_ms) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	pthread_mutex_init(&pool->lock, NULL);
	{
		pthread_condattr_t attr;

		/* db_get_timed's deadline is on the monotonic clock. */
		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&pool->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	for (i = 0; i < cfg->db_pool; i++) {
		int waited = 0;

		while (!(pool->conns[i] = db_connect(pool, err, errlen))) {
			if (waited++ >= wait_seconds)
				goto fail;
			sleep(1);
		}
		pool->free_idx[pool->n_free++] = i;
		pool->n_conns++;
	}
	return 0;
fail:
	db_pool_close(pool);
	return -ECONNREFUSED;
}

void db_pool_close(struct db_pool *pool)
{
	for (int i = 0; i < pool->n_conns; i++)
		if (pool->conns[i])
			db_conn_close(pool->conns[i]);
	free(pool->conns);
	free(pool->free_idx);
	free(pool->returned_ms);
	pool->conns = NULL;
	pool->free_idx = NULL;
	pool->returned_ms = NULL;
	pool->n_conns = pool->n_free = 0;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Gives slot idx back to the free list with conn (NULL: reconnect later). */
static void slot_release(struct db_pool *pool, int idx, MYSQL *conn)
{
	pthread_mutex_lock(&pool->lock);
	pool->conns[idx] = conn;
	pool->free_idx[pool->n_free++] = idx;
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
}

/* The borrower of slot idx makes its connection usable: a live one answers
 * a ping; a dead or missing one is replaced, at most DB_RECONNECT_TRIES
 * attempts and none during the hold-off after a failure. NULL when the
 * server cannot be reached (the slot went back to the pool). */
static MYSQL *slot_ready(struct db_pool *pool, int idx, MYSQL *conn,
			 bool trust_recent)
{
	char err[512];
	int64_t now;
	bool holdoff, recovered;

	if (conn && trust_recent && pool->returned_ms &&
	    mono_ms() - pool->returned_ms[idx] < DB_PING_IDLE_MS)
		return conn; /* db_begin catches one that died meanwhile */
	if (conn && mysql_ping(conn) == 0)
		return conn;
	if (conn) {
		log_msg(LOG_WARN, NULL, "database connection lost (%s); replacing it",
			mysql_error(conn));
		db_conn_close(conn);
		conn = NULL;
	}
	now = mono_ms();
	pthread_mutex_lock(&pool->lock);
	holdoff = now < pool->retry_at_ms;
	pthread_mutex_unlock(&pool->lock);
	for (int i = 0; !holdoff && !conn && i < DB_RECONNECT_TRIES; i++) {
		conn = db_connect(pool, err, sizeof(err));
		if (!conn)
			atomic_fetch_add(&pool->connect_errors, 1);
	}
	if (!conn) {
		bool was_down;

		pthread_mutex_lock(&pool->lock);
		was_down = pool->down;
		if (!holdoff) {
			pool->retry_at_ms = mono_ms() + DB_RECONNECT_HOLDOFF_MS;
			pool->down = true;
		}
		pthread_mutex_unlock(&pool->lock);
		if (!holdoff && !was_down) /* once per outage */
			log_msg(LOG_WARN, NULL, "database unreachable: %s", err);
		slot_release(pool, idx, NULL);
		return NULL;
	}
	atomic_fetch_add(&pool->reconnects, 1);
	pthread_mutex_lock(&pool->lock);
	pool->conns[idx] = conn;
	pool->retry_at_ms = 0;
	recovered = pool->down;
	pool->down = false;
	pthread_mutex_unlock(&pool->lock);
	if (recovered)
		log_msg(LOG_INFO, NULL, "database reachable again");
	return conn;
}

static MYSQL *pool_get(struct db_pool *pool, int wait_ms, bool trust_recent)
{
	struct timespec deadline;
	MYSQL *conn = NULL;
	int idx = -1;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += wait_ms / 1000;
	deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&pool->lock);
	while (pool->n_free == 0 && wait_ms > 0)
		if (pthread_cond_timedwait(&pool->cond, &pool->lock, &deadline) ==
		    ETIMEDOUT)
			break;
	if (pool->n_free > 0) {
		idx = pool->free_idx[--pool->n_free];
		conn = pool->conns[idx];
	}
	pthread_mutex_unlock(&pool->lock);
	if (idx >= 0)
		conn = slot_ready(pool, idx, conn, trust_recent);
	if (!conn)
		atomic_fetch_add(&pool->wait_timeouts, 1);
	return conn;
}

MYSQL *db_get_timed(struct db_pool *pool, int wait_ms)
{
	return pool_get(pool, wait_ms, false);
}

MYSQL *db_get_tx(struct db_pool *pool, int wait_ms)
{
	return pool_get(pool, wait_ms, true);
}

/* The slot of a borrowed connection, or -1. */
static int slot_of(struct db_pool *pool, MYSQL *conn)
{
	int idx = -1;

	pthread_mutex_lock(&pool->lock);
	for (int i = 0; i < pool->n_conns; i++)
		if (pool->conns[i] == conn) {
			idx = i;
			break;
		}
	pthread_mutex_unlock(&pool->lock);
	return idx;
}

int db_begin(struct db_pool *pool, MYSQL **conn)
{
	int idx;

	if (!mysql_query(*conn, "START TRANSACTION"))
		return 0;
	if (!db_conn_lost(mysql_errno(*conn)))
		return db_errno(mysql_errno(*conn));
	/* The server went away while the connection sat in the pool:
	 * nothing of the transaction happened yet, so a replacement may
	 * start it again. */
	idx = slot_of(pool, *conn);
	if (idx < 0)
		return -ECONNRESET; /* not a pooled connection: db_put drops it */
	log_msg(LOG_WARN, NULL, "database connection lost (%s); replacing it",
		mysql_error(*conn));
	pthread_mutex_lock(&pool->lock);
	pool->conns[idx] = NULL;
	pthread_mutex_unlock(&pool->lock);
	db_conn_close(*conn);
	*conn = slot_ready(pool, idx, NULL, false); /* NULL: the slot went back */
	if (!*conn)
		return -ECONNRESET;
	if (mysql_query(*conn, "START TRANSACTION"))
		return db_errno(mysql_errno(*conn));
	return 0;
}

/* True when conn is inside a transaction that a later COMMIT/ROLLBACK ends
 * (one was started, or autocommit is off), judged from the server's last
 * reply on this connection. */
static bool db_in_transaction(MYSQL *conn)
{
	unsigned status = 0;

	if (mariadb_get_infov(conn, MARIADB_CONNECTION_SERVER_STATUS, &status))
		return false;
	return (status & SERVER_STATUS_IN_TRANS) ||
	       !(status & SERVER_STATUS_AUTOCOMMIT);
}

void db_put(struct db_pool *pool, MYSQL *conn)
{
	int64_t now;
	bool dead;

	if (!conn)
		return;
	/* A transaction never outlives its borrower. */
	if (!db_conn_lost(mysql_errno(conn)) && db_in_transaction(conn))
		mysql_rollback(conn);
	dead = db_conn_lost(mysql_errno(conn));
	now = mono_ms();
	pthread_mutex_lock(&pool->lock);
	for (int i = 0; i < pool->n_conns; i++)
		if (pool->conns[i] == conn) {
			if (dead)
				pool->conns[i] = NULL; /* replaced when next taken */
			else if (pool->returned_ms)
				pool->returned_ms[i] = now;
			pool->free_idx[pool->n_free++] = i;
			break;
		}
	pthread_cond_signal(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	if (dead)
		db_conn_close(conn);
}

bool db_ping(struct db_pool *pool)
{
	MYSQL *conn = db_get_timed(pool, 1000);
	bool ok = conn && mysql_ping(conn) == 0;

	db_put(pool, conn);
	return ok;
}

int db_render_metrics(struct db_pool *pool, char **buf, size_t *len,
		      size_t *cap)
{
	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_db_reconnects_total Dead pool connections replaced by new ones.\n"
		"# TYPE ticketd_db_reconnects_total counter\n"
		"ticketd_db_reconnects_total %llu\n"
		"# HELP ticketd_db_connect_errors_total Failed attempts to (re)connect a pool connection.\n"
		"# TYPE ticketd_db_connect_errors_total counter\n"
		"ticketd_db_connect_errors_total %llu\n"
		"# HELP ticketd_db_unavailable_total Pool requests that got no connection (busy past their wait, or the server unreachable).\n"
		"# TYPE ticketd_db_unavailable_total counter\n"
		"ticketd_db_unavailable_total %llu\n"
		"# HELP ticketd_db_statements_prepared_total Statements prepared on a pool connection (each is then kept for reuse on that connection).\n"
		"# TYPE ticketd_db_statements_prepared_total counter\n"
		"ticketd_db_statements_prepared_total %llu\n"
		"# HELP ticketd_db_statements_reused_total Executions of a statement already prepared on its connection.\n"
		"# TYPE ticketd_db_statements_reused_total counter\n"
		"ticketd_db_statements_reused_total %llu\n",
		(unsigned long long)atomic_load(&pool->reconnects),
		(unsigned long long)atomic_load(&pool->connect_errors),
		(unsigned long long)atomic_load(&pool->wait_timeouts),
		(unsigned long long)atomic_load(&pool->stmt_prepares),
		(unsigned long long)atomic_load(&pool->stmt_reuses));
}

/* Runs a multi-statement script, draining every result. */
static int run_script(MYSQL *conn, const char *sql, char *err, size_t errlen)
{
	int status;

	if (mysql_real_query(conn, sql, strlen(sql))) {
		snprintf(err, errlen, "%s", mysql_error(conn));
		return -EIO;
	}
	do {
		MYSQL_RES *res = mysql_store_result(conn);

		if (res)
			mysql_free_result(res);
		else if (mysql_field_count(conn)) {
			snprintf(err, errlen, "%s", mysql_error(conn));
			return -EIO;
		}
		status = mysql_next_result(conn);
		if (status > 0) {
			snprintf(err, errlen, "%s", mysql_error(conn));
			return -EIO;
		}
	} while (status == 0);
	return 0;
}

static int query_int(MYSQL *conn, const char *sql, long long *out)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(conn, sql) || !(res = mysql_store_result(conn)))
		return -EIO;
	row = mysql_fetch_row(res);
	*out = row && row[0] ? atoll(row[0]) : 0;
	mysql_free_result(res);
	return 0;
}

void db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	*len = (unsigned long)strlen(s);
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)s;
	b->buffer_length = *len;
	b->length = len;
}

void db_bind_u32(MYSQL_BIND *b, uint32_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

void db_bind_u64(MYSQL_BIND *b, uint64_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_unsigned = 1;
}

void db_bind_i64(MYSQL_BIND *b, int64_t *v)
{
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
	b->is_unsigned = 0;
}

static int migration_applied(MYSQL *conn, const char *name, bool *applied)
{
	MYSQL_STMT *st = mysql_stmt_init(conn);
	MYSQL_BIND bind = {0};
	const char *sql = "SELECT 1 FROM schema_migrations WHERE name = ?";
	unsigned long len;
	int rc = -EIO;

	if (!st || mysql_stmt_prepare(st, sql, strlen(sql)))
		goto out;
	db_bind_str(&bind, name, &len);
	if (mysql_stmt_bind_param(st, &bind) || mysql_stmt_execute(st) ||
	    mysql_stmt_store_result(st))
		goto out;
	*applied = mysql_stmt_num_rows(st) > 0;
	rc = 0;
out:
	if (st)
		mysql_stmt_close(st);
	return rc;
}

static int record_migration(MYSQL *conn, const char *name)
{
	MYSQL_STMT *st = mysql_stmt_init(conn);
	MYSQL_BIND bind = {0};
	const char *sql = "INSERT INTO schema_migrations (name) VALUES (?)";
	unsigned long len;
	int rc = -EIO;

	if (!st || mysql_stmt_prepare(st, sql, strlen(sql)))
		goto out;
	db_bind_str(&bind, name, &len);
	if (!mysql_stmt_bind_param(st, &bind) && !mysql_stmt_execute(st))
		rc = 0;
out:
	if (st)
		mysql_stmt_close(st);
	return rc;
}

int db_migrate(struct db_pool *pool, char *err, size_t errlen)
{
	MYSQL *conn = db_get_timed(pool, DB_WORKER_WAIT_MS);
	long long locked = 0;
	int rc = 0;

	if (!conn) {
		snprintf(err, errlen, "no database connection");
		return -ECONNRESET;
	}
	if (query_int(conn, "SELECT GET_LOCK('ticketd_migrate', 60)", &locked) ||
	    locked != 1) {
		snprintf(err, errlen, "could not take the migration lock");
		db_put(pool, conn);
		return -EBUSY;
	}
	rc = run_script(conn,
			"CREATE TABLE IF NOT EXISTS schema_migrations ("
			" name VARCHAR(128) NOT NULL PRIMARY KEY,"
			" applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
			") ENGINE=InnoDB",
			err, errlen);
	for (const struct embedded_sql *m = migrations_sql; !rc && m->name; m++) {
		char msg[512];
		bool applied = false;

		if (migration_applied(conn, m->name, &applied)) {
			snprintf(err, errlen, "schema_migrations: %s", mysql_error(conn));
			rc = -EIO;
			break;
		}
		if (applied)
			continue;
		if (run_script(conn, m->text, msg, sizeof(msg))) {
			snprintf(err, errlen, "migration %s: %s", m->name, msg);
			rc = -EIO;
			break;
		}
		if (record_migration(conn, m->name)) {
			snprintf(err, errlen, "recording migration %s: %s", m->name,
				 mysql_error(conn));
			rc = -EIO;
			break;
		}
		log_msg(LOG_INFO, NULL, "applied migration %s", m->name);
	}
	query_int(conn, "SELECT RELEASE_LOCK('ticketd_migrate')", &locked);
	db_put(pool, conn);
	return rc;
}

#define DB_MAX_PARAMS DB_ROWS_MAX_PARAMS

int db_errno(unsigned err)
{
	switch (err) {
	case ER_DUP_ENTRY:
		return -EEXIST;
	case ER_LOCK_DEADLOCK:
		return -EDEADLK;
	case ER_LOCK_WAIT_TIMEOUT:
		return -ETIMEDOUT;
	case CR_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return db_conn_lost(err) ? -ECONNRESET : -EIO;
	}
}

int db_tx_stmt(MYSQL *conn, MYSQL_STMT **out)
{
	if (!db_in_transaction(conn))
		return -EINVAL;
	*out = mysql_stmt_init(conn);
	return *out ? 0 : -ENOMEM;
}

struct db_params {
	MYSQL_BIND bind[DB_MAX_PARAMS];
	unsigned long len[DB_MAX_PARAMS];
	uint64_t u[DB_MAX_PARAMS];
	int64_t i[DB_MAX_PARAMS];
	my_bool null[DB_MAX_PARAMS];
};

/* Gives back a statement of prepare: a cached one stays prepared for the
 * next call (its result set freed), unless the call failed in a way that
 * may have left it unusable; an uncached one is closed. */
static void stmt_done(MYSQL *conn, MYSQL_STMT *st, bool cached, bool failed)
{
	struct db_conn_stmts *s;

	if (!cached) {
		mysql_stmt_close(st);
		return;
	}
	if (!failed) {
		mysql_stmt_free_result(st);
		return;
	}
	s = conn_stmts(conn);
	if (s) {
		const struct stmt_cache_ops ops = {stmt_prepare, stmt_close, conn};

		stmt_cache_evict(&s->cache, &ops, st);
	}
}

/* Where the parameters come from: the caller's variadic list, or an array
 * (db_exec_args). */
struct arg_src {
	va_list *ap;
	const struct db_arg *args;
	size_t k;
};

static const char *arg_s(struct arg_src *a)
{
	return a->args ? a->args[a->k++].s : va_arg(*a->ap, const char *);
}

static uint64_t arg_u(struct arg_src *a)
{
	return a->args ? a->args[a->k++].u : va_arg(*a->ap, uint64_t);
}

static int64_t arg_i(struct arg_src *a)
{
	return a->args ? a->args[a->k++].i : va_arg(*a->ap, int64_t);
}

static int bind_params(struct db_params *p, const char *types, struct arg_src *ap)
{
	size_t n = strlen(types);

	if (n > DB_MAX_PARAMS)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	for (size_t k = 0; k < n; k++) {
		MYSQL_BIND *b = &p->bind[k];

		switch (types[k]) {
		case 's': {
			const char *s = arg_s(ap);

			b->buffer_type = MYSQL_TYPE_STRING;
			if (!s) {
				p->null[k] = 1;
				b->is_null = &p->null[k];
				break;
			}
			p->len[k] = strlen(s);
			b->buffer = (void *)s;
			b->buffer_length = p->len[k];
			b->length = &p->len[k];
			break;
		}
		case 'u':
			p->u[k] = arg_u(ap);
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &p->u[k];
			b->is_unsigned = 1;
			break;
		case 'i':
			p->i[k] = arg_i(ap);
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &p->i[k];
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
}

/* The statement for sql on conn with the parameters bound: the
 * connection's cached one (*cached true; give it back with stmt_done), or,
 * on a connection without a cache, a new one. NULL with *rc set on error. */
static MYSQL_STMT *prepare(MYSQL *conn, const char *sql, const char *types,
			   struct arg_src *ap, struct db_params *p, int *rc, bool *cached)
{
	struct db_conn_stmts *s = conn_stmts(conn);
	MYSQL_STMT *st;

	*cached = s != NULL;
	if (s) {
		const struct stmt_cache_ops ops = {stmt_prepare, stmt_close, conn};
		bool hit;

		st = stmt_cache_get(&s->cache, &ops, sql, &hit, rc);
		if (st)
			atomic_fetch_add(hit ? &s->pool->stmt_reuses : &s->pool->stmt_prepares, 1);
	} else {
		st = stmt_prepare(conn, sql, rc);
	}
	if (!st)
		return NULL;
	*rc = bind_params(p, types, ap);
	if (!*rc && *types && mysql_stmt_bind_param(st, p->bind))
		*rc = db_errno(mysql_stmt_errno(st));
	if (*rc) {
		stmt_done(conn, st, *cached, true);
		return NULL;
	}
	return st;
}

static long long exec_stmt(MYSQL *conn, const char *sql, const char *types,
			   struct arg_src *src, uint64_t *insert_id)
{
	struct db_params p;
	MYSQL_STMT *st;
	bool cached;
	long long n;
	int rc;

	st = prepare(conn, sql, types, src, &p, &rc, &cached);
	if (!st)
		return rc;
	if (mysql_stmt_execute(st)) {
		n = db_errno(mysql_stmt_errno(st));
		if (n != -EEXIST)
			log_msg(LOG_WARN, NULL, "statement failed: %s", mysql_stmt_error(st));
	} else {
		n = (long long)mysql_stmt_affected_rows(st);
		if (insert_id)
			*insert_id = (uint64_t)mysql_stmt_insert_id(st);
	}
	/* A duplicate key leaves the statement as good as before. */
	stmt_done(conn, st, cached, n < 0 && n != -EEXIST);
	return n;
}

long long db_exec(MYSQL *conn, const char *sql, const char *types, ...)
{
	struct arg_src src = {0};
	long long n;
	va_list ap;

	va_start(ap, types);
	src.ap = &ap;
	n = exec_stmt(conn, sql, types, &src, NULL);
	va_end(ap);
	return n;
}

long long db_exec_args(MYSQL *conn, const char *sql, const char *types,
		       const struct db_arg *args)
{
	struct arg_src src = {.args = args};

	return exec_stmt(conn, sql, types, &src, NULL);
}

long long db_insert_rows(MYSQL *conn, const char *head, const char *row,
			 const char *row_types, const struct db_arg *args, int n,
			 uint64_t *insert_id)
{
	size_t per = strlen(row_types), hl = strlen(head), rl = strlen(row);
	char types[DB_MAX_PARAMS + 1], *sql;
	struct arg_src src = {.args = args};
	size_t off;
	long long rc;

	if (!conn || n < 1 || !per || per * (size_t)n > DB_MAX_PARAMS)
		return -EINVAL;
	if (!db_in_transaction(conn))
		return -EINVAL;
	sql = malloc(hl + (size_t)n * (rl + 1) + 1);
	if (!sql)
		return -ENOMEM;
	/* Placeholders only: the text depends on n, never on the values. */
	memcpy(sql, head, hl);
	off = hl;
	for (int i = 0; i < n; i++) {
		if (i)
			sql[off++] = ',';
		memcpy(sql + off, row, rl);
		off += rl;
		memcpy(types + (size_t)i * per, row_types, per);
	}
	sql[off] = '\0';
	types[per * (size_t)n] = '\0';
	rc = exec_stmt(conn, sql, types, &src, insert_id);
	free(sql);
	return rc;
}

long long db_select(MYSQL *conn, const char *sql, db_row_fn row, void *ctx,
		    const char *types, ...)
{
	struct db_params p;
	MYSQL_STMT *st;
	MYSQL_RES *meta = NULL;
	MYSQL_BIND *out = NULL;
	char (*cells)[DB_CELL_MAX] = NULL;
	char **values = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL;
	long long n = 0;
	unsigned ncols;
	bool cached;
	struct arg_src src = {0};
	va_list ap;
	int rc;

	va_start(ap, types);
	src.ap = &ap;
	st = prepare(conn, sql, types, &src, &p, &rc, &cached);
	va_end(ap);
	if (!st)
		return rc;
	if (mysql_stmt_execute(st)) {
		n = db_errno(mysql_stmt_errno(st));
		goto out;
	}
	meta = mysql_stmt_result_metadata(st);
	ncols = meta ? mysql_num_fields(meta) : 0;
	out = calloc(ncols + 1, sizeof(*out));
	cells = calloc(ncols + 1, sizeof(*cells));
	values = calloc(ncols + 1, sizeof(*values));
	lens = calloc(ncols + 1, sizeof(*lens));
	nulls = calloc(ncols + 1, sizeof(*nulls));
	if (!out || !cells || !values || !lens || !nulls) {
		n = -ENOMEM;
		goto out;
	}
	for (unsigned c = 0; c < ncols; c++) {
		out[c].buffer_type = MYSQL_TYPE_STRING;
		out[c].buffer = cells[c];
		out[c].buffer_length = DB_CELL_MAX - 1;
		out[c].length = &lens[c];
		out[c].is_null = &nulls[c];
	}
	if (ncols && (mysql_stmt_bind_result(st, out) || mysql_stmt_store_result(st))) {
		n = db_errno(mysql_stmt_errno(st));
		goto out;
	}
	while (ncols) {
		int f = mysql_stmt_fetch(st);

		if (f == MYSQL_NO_DATA)
			break;
		if (f == 1) {
			n = db_errno(mysql_stmt_errno(st));
			break;
		}
		for (unsigned c = 0; c < ncols; c++) {
			size_t l = lens[c] < DB_CELL_MAX - 1 ? lens[c] : DB_CELL_MAX - 1;

			cells[c][l] = '\0';
			values[c] = nulls[c] ? NULL : cells[c];
		}
		n++;
		if (row) {
			rc = row(ctx, (int)ncols, values);
			if (rc < 0) {
				n = rc;
				break;
			}
		}
	}
out:
	if (meta)
		mysql_free_result(meta);
	free(out);
	free(cells);
	free(values);
	free(lens);
	free(nulls);
	stmt_done(conn, st, cached, n < 0);
	return n;
}

