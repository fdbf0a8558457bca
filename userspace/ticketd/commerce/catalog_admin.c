/* The admin API's catalogue changes as transactions (catalog_admin.h):
 * what the REST handlers call, so they hold no connection and no SQL. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "userspace/ticketd/commerce/catalog_admin.h"
#include "userspace/ticketd/db/db.h"

static enum admin_result of_rc(int rc)
{
	return rc ? ADMIN_DB : ADMIN_OK;
}

/* A transaction under the catalogue's lock; NULL with *res set. */
static MYSQL *begin(struct db_pool *db, int wait_ms, enum admin_result *res)
{
	MYSQL *c = db_get_tx(db, wait_ms);

	if (!c) {
		*res = ADMIN_BUSY;
		return NULL;
	}
	if (db_begin(db, &c) || catalog_lock(c)) {
		db_put(db, c);
		*res = ADMIN_DB;
		return NULL;
	}
	return c;
}

/* The audit row, the version, the commit; or the rollback. */
static enum admin_result finish(struct db_pool *db, MYSQL *c, int rc, const char *action,
				uint32_t event_id, const char *result,
				const struct admin_actor *a)
{
	if (!rc)
		rc = audit_insert(c, a->key, a->client, action, event_id, a->request, result);
	if (!rc)
		rc = catalog_bump(c);
	if (!rc && mysql_query(c, "COMMIT"))
		rc = -EIO;
	if (rc)
		mysql_query(c, "ROLLBACK");
	db_put(db, c);
	return of_rc(rc);
}

enum admin_result admin_create_event(struct db_pool *db, int wait_ms, struct event_info *e,
				     uint32_t max_seats, const struct admin_actor *a)
{
	enum admin_result res;
	MYSQL *c = begin(db, wait_ms, &res);
	int rc;

	if (!c)
		return res;
	rc = catalog_insert_event(c, e, max_seats);
	if (rc == -ERANGE || rc == -ENOSPC) {
		mysql_query(c, "ROLLBACK");
		db_put(db, c);
		return rc == -ERANGE ? ADMIN_NO_IDS : ADMIN_NO_SEATS;
	}
	return finish(db, c, rc, "create", e->id, "201 DRAFT", a);
}

enum admin_result admin_update_event(struct db_pool *db, int wait_ms, struct event_info *e,
				     bool layout, uint32_t old_n_seats, uint32_t max_seats,
				     const struct admin_actor *a)
{
	enum admin_result res;
	MYSQL *c = begin(db, wait_ms, &res);
	int rc;

	if (!c)
		return res;
	rc = catalog_update_event(c, e, layout, old_n_seats, max_seats);
	if (rc == -ENOSPC) {
		mysql_query(c, "ROLLBACK");
		db_put(db, c);
		return ADMIN_NO_SEATS;
	}
	return finish(db, c, rc, "update", e->id, "200", a);
}

enum admin_result admin_set_state(struct db_pool *db, int wait_ms, uint32_t id,
				  enum event_state st, const char *action, const char *result,
				  const struct admin_actor *a)
{
	enum admin_result res;
	MYSQL *c = begin(db, wait_ms, &res);

	if (!c)
		return res;
	return finish(db, c, catalog_set_state(c, id, st), action, id, result, a);
}

enum admin_result admin_set_blocked(struct db_pool *db, int wait_ms, const struct event_info *e,
				    const uint32_t *ids, size_t n, bool blocked,
				    const struct admin_actor *a, uint32_t *first)
{
	enum admin_result res;
	MYSQL *c = begin(db, wait_ms, &res);
	long long sold;

	if (!c)
		return res;
	if (!blocked && (sold = catalog_sold_among(c, e->id, ids, n, first)) != 0) {
		mysql_query(c, "ROLLBACK");
		db_put(db, c);
		return sold > 0 ? ADMIN_SOLD : ADMIN_DB;
	}
	return finish(db, c, catalog_set_blocked(c, e, ids, n, blocked),
		      blocked ? "block" : "unblock", e->id, "200", a);
}

int admin_pending_orders(struct db_pool *db, uint32_t event_id, char (*ids)[48], int max)
{
	MYSQL *c = db_get_timed(db, DB_WORKER_WAIT_MS);
	int n;

	if (!c)
		return -1;
	n = catalog_pending_orders(c, event_id, ids, max);
	db_put(db, c);
	return n;
}

enum admin_result admin_audit(struct db_pool *db, int wait_ms, uint32_t event_id,
			      uint32_t limit, json_t *out)
{
	MYSQL *c = db_get_timed(db, wait_ms);
	int rc;

	if (!c)
		return ADMIN_BUSY;
	rc = audit_list(c, event_id, limit, out);
	db_put(db, c);
	return of_rc(rc);
}
