/* Data access for events and seats (the catalogue); lookups in catalog.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/commerce/catalog_admin.h"
#include "userspace/ticketd/db/db.h"

#define EVENT_COLUMNS                                                           \
	"SELECT id, name, venue,"                                               \
	" CAST(UNIX_TIMESTAMP(starts_at) * 1000 AS SIGNED),"                    \
	" seat_rows, seat_cols, state, seat_base,"                              \
	" CAST(UNIX_TIMESTAMP(sale_starts_at) * 1000 AS SIGNED),"               \
	" CAST(UNIX_TIMESTAMP(sale_ends_at) * 1000 AS SIGNED),"                 \
	" hold_limit, hold_seconds, max_hold_seconds, categories, sections,"   \
	" revision FROM events"

static int64_t cell_i64(const char *v)
{
	return v ? strtoll(v, NULL, 10) : 0;
}

/* One row of EVENT_COLUMNS as a snapshot whose seats carry default labels
 * (seats rows overwrite them). */
static struct event_info *event_of_row(MYSQL_ROW row)
{
	struct event_info *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->id = (uint32_t)strtoul(row[0], NULL, 10);
	snprintf(e->name, sizeof(e->name), "%s", row[1]);
	snprintf(e->venue, sizeof(e->venue), "%s", row[2]);
	e->starts_at_ms = cell_i64(row[3]);
	e->rows = (uint16_t)atoi(row[4]);
	e->cols = (uint16_t)atoi(row[5]);
	e->n_seats = (uint32_t)e->rows * e->cols;
	e->state = !strcmp(row[6], "DRAFT")	  ? EVENT_DRAFT
		   : !strcmp(row[6], "CANCELLED") ? EVENT_CANCELLED
						  : EVENT_PUBLISHED;
	e->seat_base = (uint32_t)cell_i64(row[7]);
	e->sale_starts_ms = cell_i64(row[8]);
	e->sale_ends_ms = cell_i64(row[9]);
	e->hold_limit = (uint16_t)cell_i64(row[10]);
	e->hold_seconds = (uint16_t)cell_i64(row[11]);
	e->max_hold_seconds = (uint16_t)cell_i64(row[12]);
	e->categories_json = row[13] ? strdup(row[13]) : NULL;
	e->sections_json = row[14] ? strdup(row[14]) : NULL;
	e->revision = (uint64_t)cell_i64(row[15]);
	e->seats = calloc(e->n_seats ? e->n_seats : 1, sizeof(*e->seats));
	if (!e->seats || (row[13] && !e->categories_json) || (row[14] && !e->sections_json)) {
		event_info_free(e);
		return NULL;
	}
	/* Seats missing from the seats table still get a usable label. */
	for (uint32_t s = 0; s < e->n_seats; s++) {
		e->seats[s].r = (uint16_t)(s / e->cols);
		e->seats[s].c = (uint16_t)(s % e->cols);
		snprintf(e->seats[s].label, sizeof(e->seats[s].label), "R%uC%u",
			 e->seats[s].r + 1u, e->seats[s].c + 1u);
	}
	return e;
}

typedef struct event_info *(*event_lookup_fn)(void *ctx, uint32_t id);

/* Fills the seats of the events lookup gives from the seats rows that
 * where selects ("" for all). */
static int load_seats(MYSQL *conn, const char *where, event_lookup_fn lookup,
		      void *ctx, char *err, size_t errlen)
{
	char sql[256];
	MYSQL_RES *res;
	MYSQL_ROW row;

	snprintf(sql, sizeof(sql),
		 "SELECT event_id, seat_id, r, c, label, price, section_id, category_id,"
		 " flags FROM seats%s ORDER BY event_id, seat_id", where);
	if (mysql_query(conn, sql) || !(res = mysql_use_result(conn))) {
		snprintf(err, errlen, "loading seats: %s", mysql_error(conn));
		return -EIO;
	}
	while ((row = mysql_fetch_row(res))) {
		struct event_info *e = lookup(ctx, (uint32_t)strtoul(row[0], NULL, 10));
		uint32_t sid = (uint32_t)strtoul(row[1], NULL, 10);
		struct seat_info *si;

		if (!e || sid >= e->n_seats)
			continue; /* a seat outside its event's grid is ignored */
		si = &e->seats[sid];
		snprintf(si->label, sizeof(si->label), "%s", row[4]);
		si->r = (uint16_t)atoi(row[2]);
		si->c = (uint16_t)atoi(row[3]);
		si->price = (uint32_t)strtoul(row[5], NULL, 10);
		si->section = (uint16_t)cell_i64(row[6]);
		si->category = (uint16_t)cell_i64(row[7]);
		si->flags = (uint8_t)cell_i64(row[8]);
	}
	if (mysql_errno(conn)) {
		snprintf(err, errlen, "loading seats: %s", mysql_error(conn));
		mysql_free_result(res);
		return -EIO;
	}
	mysql_free_result(res);
	return 0;
}

static struct event_info *catalog_lookup(void *ctx, uint32_t id)
{
	/* not yet visible to any other thread: still the loader's to fill */
	return (struct event_info *)catalog_get(ctx, id);
}

static struct event_info *one_lookup(void *ctx, uint32_t id)
{
	struct event_info *e = ctx;

	return e->id == id ? e : NULL;
}

/* Events written without a seat-table range (before migration 011, or by
 * hand) get one after every other event's, in id order, under the
 * catalogue's row lock; the same rule the old loader applied, so a table
 * built before keeps its layout. */
static int assign_bases(MYSQL *conn, char *err, size_t errlen)
{
	long long n;

	if (mysql_query(conn, "START TRANSACTION") || catalog_lock(conn))
		goto fail;
	n = db_exec(conn,
		    "UPDATE events e JOIN (SELECT id, COALESCE(SUM(seat_rows * seat_cols)"
		    " OVER (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)"
		    " AS off FROM events WHERE seat_base IS NULL) x ON x.id = e.id"
		    " JOIN (SELECT COALESCE(MAX(seat_base + seat_rows * seat_cols), 0) AS top"
		    " FROM events WHERE seat_base IS NOT NULL) t"
		    " SET e.seat_base = t.top + x.off, e.revision = e.revision + 1",
		    "");
	if (n < 0 || (n > 0 && db_exec(conn, "UPDATE catalog_version SET version ="
					     " version + 1 WHERE id = 1", "") < 0) ||
	    mysql_query(conn, "COMMIT"))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "assigning seat ranges: %s", mysql_error(conn));
	mysql_query(conn, "ROLLBACK");
	return -EIO;
}

int catalog_lock(MYSQL *conn)
{
	MYSQL_RES *res;

	if (mysql_query(conn, "SELECT version FROM catalog_version WHERE id = 1 FOR UPDATE") ||
	    !(res = mysql_store_result(conn)))
		return db_errno(mysql_errno(conn));
	mysql_free_result(res);
	return 0;
}

static int load_events(MYSQL *conn, struct catalog *cat, uint32_t max_seats,
		       char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = 0;

	if (mysql_query(conn, EVENT_COLUMNS " ORDER BY id") ||
	    !(res = mysql_store_result(conn))) {
		snprintf(err, errlen, "loading events: %s", mysql_error(conn));
		return -EIO;
	}
	while (!rc && (row = mysql_fetch_row(res))) {
		struct event_info *e = event_of_row(row);

		if (!e) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			break;
		}
		if (e->seat_base > max_seats || e->n_seats > max_seats - e->seat_base) {
			snprintf(err, errlen, "event %u does not fit the seat table's %u seats",
				 (unsigned)e->id, max_seats);
			event_info_free(e);
			rc = -ENOSPC;
			break;
		}
		rc = catalog_put(cat, e);
		if (rc == -ERANGE)
			snprintf(err, errlen, "event id %u is outside 1..%u", (unsigned)e->id,
				 CATALOG_MAX_EVENTS - 1);
		else if (rc)
			snprintf(err, errlen, "out of memory");
	}
	mysql_free_result(res);
	return rc;
}

int catalog_load(struct catalog *cat, struct db_pool *db, uint32_t max_seats,
		 char *err, size_t errlen)
{
	MYSQL *conn;
	int rc = catalog_init(cat);

	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	conn = db_get_timed(db, DB_WORKER_WAIT_MS);
	if (!conn) {
		snprintf(err, errlen, "loading the catalog: no database connection");
		catalog_free(cat);
		return -ECONNRESET;
	}
	rc = assign_bases(conn, err, errlen);
	if (!rc)
		rc = load_events(conn, cat, max_seats, err, errlen);
	if (!rc)
		rc = load_seats(conn, "", catalog_lookup, cat, err, errlen);
	db_put(db, conn);
	if (rc)
		catalog_free(cat);
	return rc;
}

int catalog_load_event(struct db_pool *db, uint32_t id, struct event_info **out,
		       char *err, size_t errlen)
{
	MYSQL *conn = db_get_timed(db, DB_WORKER_WAIT_MS);
	struct event_info *e = NULL;
	char sql[sizeof(EVENT_COLUMNS) + 32], where[48];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = 0;

	*out = NULL;
	if (!conn) {
		snprintf(err, errlen, "no database connection");
		return -ECONNRESET;
	}
	if (assign_bases(conn, err, errlen)) {
		db_put(db, conn);
		return -EIO;
	}
	/* an integer, never text: nothing to escape */
	snprintf(sql, sizeof(sql), EVENT_COLUMNS " WHERE id = %u", (unsigned)id);
	if (mysql_query(conn, sql) || !(res = mysql_store_result(conn))) {
		snprintf(err, errlen, "loading event %u: %s", (unsigned)id, mysql_error(conn));
		db_put(db, conn);
		return -EIO;
	}
	row = mysql_fetch_row(res);
	if (row && !(e = event_of_row(row))) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	mysql_free_result(res);
	if (!rc && !e)
		rc = -ENOENT;
	if (!rc) {
		snprintf(where, sizeof(where), " WHERE event_id = %u", (unsigned)id);
		rc = load_seats(conn, where, one_lookup, e, err, errlen);
	}
	db_put(db, conn);
	if (rc)
		event_info_free(e);
	else
		*out = e;
	return rc;
}

int catalog_read_version(struct db_pool *db, uint64_t *version)
{
	MYSQL *conn = db_get_timed(db, DB_WORKER_WAIT_MS);
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = -EIO;

	if (!conn)
		return -ECONNRESET;
	if (!mysql_query(conn, "SELECT version FROM catalog_version WHERE id = 1") &&
	    (res = mysql_store_result(conn))) {
		if ((row = mysql_fetch_row(res)) && row[0]) {
			*version = strtoull(row[0], NULL, 10);
			rc = 0;
		}
		mysql_free_result(res);
	}
	db_put(db, conn);
	return rc;
}

int catalog_read_revisions(struct db_pool *db,
			   void (*fn)(void *ctx, uint32_t id, uint64_t revision),
			   void *ctx)
{
	MYSQL *conn = db_get_timed(db, DB_WORKER_WAIT_MS);
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (!conn)
		return -ECONNRESET;
	if (mysql_query(conn, "SELECT id, revision FROM events ORDER BY id") ||
	    !(res = mysql_store_result(conn))) {
		db_put(db, conn);
		return -EIO;
	}
	while ((row = mysql_fetch_row(res)))
		fn(ctx, (uint32_t)strtoul(row[0], NULL, 10), strtoull(row[1], NULL, 10));
	mysql_free_result(res);
	db_put(db, conn);
	return 0;
}

struct demo_event {
	const char *name, *venue, *starts_at;
	uint32_t top_price, row_step;
};

static const struct demo_event demo_events[] = {
	{"Nightfall Symphony", "Riverside Concert Hall", "2027-03-12 19:30:00",
	 12000, 800},
	{"The Long Take (premiere)", "Odeon Screen 1", "2027-03-14 20:00:00",
	 2400, 150},
	{"Harbour Lights Live", "Harbour Arena", "2027-04-02 21:00:00", 9500,
	 600},
};

static int exec_stmt(MYSQL *conn, const char *sql, MYSQL_BIND *params,
		     char *err, size_t errlen)
{
	MYSQL_STMT *st = mysql_stmt_init(conn);
	int rc = 0;

	if (!st || mysql_stmt_prepare(st, sql, strlen(sql)) ||
	    mysql_stmt_bind_param(st, params) || mysql_stmt_execute(st)) {
		snprintf(err, errlen, "%s", st ? mysql_stmt_error(st) : "out of memory");
		rc = -EIO;
	}
	if (st)
		mysql_stmt_close(st);
	return rc;
}

static int insert_demo_event(MYSQL *conn, const struct demo_event *d,
			     char *err, size_t errlen)
{
	const uint32_t rows = 10, cols = 10;
	MYSQL_BIND ev[5] = {0};
	unsigned long l0, l1, l2;
	uint32_t r = rows, c = cols, event_id;

	db_bind_str(&ev[0], d->name, &l0);
	db_bind_str(&ev[1], d->venue, &l1);
	db_bind_str(&ev[2], d->starts_at, &l2);
	db_bind_u32(&ev[3], &r);
	db_bind_u32(&ev[4], &c);
	if (exec_stmt(conn,
		      "INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols,"
		      " seat_base) SELECT ?, ?, ?, ?, ?,"
		      " COALESCE(MAX(seat_base + seat_rows * seat_cols), 0) FROM events",
		      ev, err, errlen))
		return -EIO;
	event_id = (uint32_t)mysql_insert_id(conn);
	for (uint32_t s = 0; s < rows * cols; s++) {
		MYSQL_BIND sb[6] = {0};
		char label[16];
		unsigned long ll;
		uint32_t sid = s, sr = s / cols, sc = s % cols;
		uint32_t price = d->top_price - sr * d->row_step;

		snprintf(label, sizeof(label), "%c%u", 'A' + sr, sc + 1);
		db_bind_u32(&sb[0], &event_id);
		db_bind_u32(&sb[1], &sid);
		db_bind_u32(&sb[2], &sr);
		db_bind_u32(&sb[3], &sc);
		db_bind_str(&sb[4], label, &ll);
		db_bind_u32(&sb[5], &price);
		if (exec_stmt(conn,
			      "INSERT INTO seats (event_id, seat_id, r, c, label, price)"
			      " VALUES (?, ?, ?, ?, ?, ?)",
			      sb, err, errlen))
			return -EIO;
	}
	return 0;
}

int catalog_seed_demo(struct db_pool *db, int *created, char *err,
		      size_t errlen)
{
	MYSQL *conn = db_get_timed(db, DB_WORKER_WAIT_MS);
	MYSQL_RES *res;
	MYSQL_ROW row;
	long long count = -1;
	int rc = 0;

	*created = 0;
	if (!conn) {
		snprintf(err, errlen, "demo data: no database connection");
		return -ECONNRESET;
	}
	/* The lock-and-count runs in one transaction so two daemons starting
	 * together seed once. */
	if (mysql_query(conn, "START TRANSACTION") ||
	    mysql_query(conn, "SELECT COUNT(*) FROM events FOR UPDATE") ||
	    !(res = mysql_store_result(conn))) {
		snprintf(err, errlen, "demo data: %s", mysql_error(conn));
		mysql_query(conn, "ROLLBACK");
		db_put(db, conn);
		return -EIO;
	}
	if ((row = mysql_fetch_row(res)))
		count = atoll(row[0]);
	mysql_free_result(res);
	for (size_t i = 0; count == 0 && !rc &&
			   i < sizeof(demo_events) / sizeof(demo_events[0]);
	     i++) {
		rc = insert_demo_event(conn, &demo_events[i], err, errlen);
		if (!rc)
			(*created)++;
	}
	if (rc || mysql_query(conn, "COMMIT")) {
		if (!rc)
			snprintf(err, errlen, "demo data: %s", mysql_error(conn));
		mysql_query(conn, "ROLLBACK");
		*created = 0;
		rc = -EIO;
	}
	db_put(db, conn);
	return rc;
}
