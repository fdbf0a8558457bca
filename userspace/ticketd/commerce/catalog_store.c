/* Data access for events and seats (the catalogue); lookups in catalog.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/db/db.h"

static int load_events(MYSQL *conn, struct catalog *cat, uint32_t max_seats,
		       char *err, size_t errlen)
{
	const char *sql =
		"SELECT id, name, venue,"
		" CAST(UNIX_TIMESTAMP(starts_at) * 1000 AS SIGNED),"
		" seat_rows, seat_cols FROM events ORDER BY id";
	MYSQL_RES *res;
	MYSQL_ROW row;
	uint32_t base = 0;
	int rc = 0;

	if (mysql_query(conn, sql) || !(res = mysql_store_result(conn))) {
		snprintf(err, errlen, "loading events: %s", mysql_error(conn));
		return -EIO;
	}
	while (!rc && (row = mysql_fetch_row(res))) {
		struct event_info *e = calloc(1, sizeof(*e));

		if (!e) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			break;
		}
		e->id = (uint32_t)strtoul(row[0], NULL, 10);
		snprintf(e->name, sizeof(e->name), "%s", row[1]);
		snprintf(e->venue, sizeof(e->venue), "%s", row[2]);
		e->starts_at_ms = strtoll(row[3], NULL, 10);
		e->rows = (uint16_t)atoi(row[4]);
		e->cols = (uint16_t)atoi(row[5]);
		e->n_seats = (uint32_t)e->rows * e->cols;
		if (e->n_seats > max_seats - base) {
			snprintf(err, errlen, "events need more than the seat table's %u seats",
				 max_seats);
			event_info_free(e);
			rc = -ENOSPC;
			break;
		}
		e->seat_base = base;
		base += e->n_seats;
		e->seats = calloc(e->n_seats ? e->n_seats : 1, sizeof(*e->seats));
		if (!e->seats) {
			event_info_free(e);
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
			break;
		}
		/* Seats missing from the seats table still get a usable label. */
		for (uint32_t s = 0; s < e->n_seats; s++) {
			e->seats[s].r = (uint16_t)(s / e->cols);
			e->seats[s].c = (uint16_t)(s % e->cols);
			snprintf(e->seats[s].label, sizeof(e->seats[s].label), "R%uC%u",
				 e->seats[s].r + 1u, e->seats[s].c + 1u);
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

static int load_seats(MYSQL *conn, struct catalog *cat, char *err,
		      size_t errlen)
{
	const char *sql = "SELECT event_id, seat_id, r, c, label, price FROM seats"
			  " ORDER BY event_id, seat_id";
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(conn, sql) || !(res = mysql_use_result(conn))) {
		snprintf(err, errlen, "loading seats: %s", mysql_error(conn));
		return -EIO;
	}
	while ((row = mysql_fetch_row(res))) {
		/* not yet visible to any other thread: still ours to fill */
		struct event_info *e = (struct event_info *)catalog_get(
			cat, (uint32_t)strtoul(row[0], NULL, 10));
		uint32_t sid = (uint32_t)strtoul(row[1], NULL, 10);

		if (!e || sid >= e->n_seats)
			continue; /* a seat outside its event's grid is ignored */
		snprintf(e->seats[sid].label, sizeof(e->seats[sid].label), "%s",
			 row[4]);
		e->seats[sid].r = (uint16_t)atoi(row[2]);
		e->seats[sid].c = (uint16_t)atoi(row[3]);
		e->seats[sid].price = (uint32_t)strtoul(row[5], NULL, 10);
	}
	if (mysql_errno(conn)) {
		snprintf(err, errlen, "loading seats: %s", mysql_error(conn));
		mysql_free_result(res);
		return -EIO;
	}
	mysql_free_result(res);
	return 0;
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
	rc = load_events(conn, cat, max_seats, err, errlen);
	if (!rc)
		rc = load_seats(conn, cat, err, errlen);
	db_put(db, conn);
	if (rc)
		catalog_free(cat);
	return rc;
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
		      "INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols)"
		      " VALUES (?, ?, ?, ?, ?)",
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
