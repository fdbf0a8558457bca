/* Data access for the admin API's catalogue changes and audit trail
 * (catalog_admin.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/catalog_admin.h"
#include "userspace/ticketd/db/db.h"

int catalog_bump(MYSQL *conn)
{
	long long n = db_exec(conn, "UPDATE catalog_version SET version = version + 1"
				    " WHERE id = 1", "");

	return n < 0 ? (int)n : 0;
}

static int query_u64(MYSQL *conn, const char *sql, uint64_t *out)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	if (mysql_query(conn, sql) || !(res = mysql_store_result(conn)))
		return db_errno(mysql_errno(conn));
	row = mysql_fetch_row(res);
	*out = row && row[0] ? strtoull(row[0], NULL, 10) : 0;
	mysql_free_result(res);
	return 0;
}

/* The first seat-table word after every event's range. */
static int next_base(MYSQL *conn, uint64_t *base)
{
	return query_u64(conn,
			 "SELECT COALESCE(MAX(seat_base + seat_rows * seat_cols), 0)"
			 " FROM events",
			 base);
}

static const char *state_name(enum event_state st)
{
	return st == EVENT_DRAFT ? "DRAFT" : st == EVENT_CANCELLED ? "CANCELLED" : "PUBLISHED";
}

/* A time column's value: "YYYY-MM-DD HH:MM:SS.mmm" UTC, or NULL for 0. */
static const char *sql_time(int64_t ms, char *buf, size_t cap)
{
	char iso[32];

	if (!ms || tkt_format_rfc3339_ms(ms, iso, sizeof(iso)))
		return NULL;
	/* "2027-03-12T19:30:00.000Z" -> "2027-03-12 19:30:00.000" */
	snprintf(buf, cap, "%.10s %.12s", iso, iso + 11);
	return buf;
}

static int insert_seats(MYSQL *conn, const struct event_info *e)
{
	enum { PER = 9, ROWS = DB_ROWS_MAX_PARAMS / PER };
	struct db_arg args[ROWS * PER];
	uint32_t s = 0;

	while (s < e->n_seats) {
		int n = 0;

		memset(args, 0, sizeof(args));
		for (; n < ROWS && s < e->n_seats; s++) {
			const struct seat_info *si = &e->seats[s];
			struct db_arg *a = &args[n * PER];

			a[0].u = e->id;
			a[1].u = s;
			a[2].u = si->r;
			a[3].u = si->c;
			a[4].s = si->label;
			a[5].u = si->price;
			a[6].s = NULL;
			a[7].s = NULL;
			a[8].u = si->flags;
			n++;
		}
		{
			/* section and category as numbers, NULL for none: 's'
			 * cannot carry a number, so they go as text */
			char sec[ROWS][8], cat[ROWS][8];

			for (int k = 0; k < n; k++) {
				const struct seat_info *si = &e->seats[s - (uint32_t)n + (uint32_t)k];

				snprintf(sec[k], sizeof(sec[k]), "%u", si->section);
				snprintf(cat[k], sizeof(cat[k]), "%u", si->category);
				args[k * PER + 6].s = si->section ? sec[k] : NULL;
				args[k * PER + 7].s = si->category ? cat[k] : NULL;
			}
			if (db_insert_rows(conn,
					   "INSERT INTO seats (event_id, seat_id, r, c, label, price,"
					   " section_id, category_id, flags) VALUES ",
					   "(?, ?, ?, ?, ?, ?, ?, ?, ?)", "uuuusussu", args, n,
					   NULL) < 0)
				return -EIO;
		}
	}
	return 0;
}

static long long write_event(MYSQL *conn, const struct event_info *e, bool insert)
{
	char starts[32], ss[32], se[32];
	const char *sql_insert =
		"INSERT INTO events (name, venue, starts_at, seat_rows, seat_cols, state,"
		" seat_base, sale_starts_at, sale_ends_at, hold_limit, hold_seconds,"
		" max_hold_seconds, categories, sections, revision)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULLIF(?, 0), NULLIF(?, 0), NULLIF(?, 0),"
		" ?, ?, 1)";
	const char *sql_update =
		"UPDATE events SET name = ?, venue = ?, starts_at = ?, seat_rows = ?,"
		" seat_cols = ?, state = ?, seat_base = ?, sale_starts_at = ?,"
		" sale_ends_at = ?, hold_limit = NULLIF(?, 0), hold_seconds = NULLIF(?, 0),"
		" max_hold_seconds = NULLIF(?, 0), categories = ?, sections = ?,"
		" revision = revision + 1 WHERE id = ?";

	if (!sql_time(e->starts_at_ms, starts, sizeof(starts)))
		return -EINVAL;
	return db_exec(conn, insert ? sql_insert : sql_update,
		       insert ? "sssuusussuuuss" : "sssuusussuuussu", e->name, e->venue,
		       starts, (uint64_t)e->rows, (uint64_t)e->cols, state_name(e->state),
		       (uint64_t)e->seat_base, sql_time(e->sale_starts_ms, ss, sizeof(ss)),
		       sql_time(e->sale_ends_ms, se, sizeof(se)), (uint64_t)e->hold_limit,
		       (uint64_t)e->hold_seconds, (uint64_t)e->max_hold_seconds,
		       e->categories_json, e->sections_json, (uint64_t)e->id);
}

int catalog_insert_event(MYSQL *conn, struct event_info *e, uint32_t max_seats)
{
	uint64_t base, id;
	long long n;
	int rc;

	if ((rc = next_base(conn, &base)))
		return rc;
	if (base + e->n_seats > max_seats)
		return -ENOSPC;
	e->seat_base = (uint32_t)base;
	e->state = EVENT_DRAFT;
	n = write_event(conn, e, true);
	if (n < 0)
		return (int)n;
	if ((rc = query_u64(conn, "SELECT LAST_INSERT_ID()", &id)))
		return rc;
	if (!id || id >= CATALOG_MAX_EVENTS)
		return -ERANGE;
	e->id = (uint32_t)id;
	e->revision = 1;
	return insert_seats(conn, e);
}

int catalog_update_event(MYSQL *conn, struct event_info *e, bool layout,
			 uint32_t old_n_seats, uint32_t max_seats)
{
	long long n;
	int rc;

	if (layout && e->n_seats > old_n_seats) {
		uint64_t base;

		/* the old range is too small: a new one, never another's */
		if ((rc = next_base(conn, &base)))
			return rc;
		if (base + e->n_seats > max_seats)
			return -ENOSPC;
		e->seat_base = (uint32_t)base;
	}
	n = write_event(conn, e, false);
	if (n < 0)
		return (int)n;
	e->revision++;
	if (!layout)
		return 0;
	n = db_exec(conn, "DELETE FROM seats WHERE event_id = ?", "u", (uint64_t)e->id);
	return n < 0 ? (int)n : insert_seats(conn, e);
}

int catalog_set_state(MYSQL *conn, uint32_t id, enum event_state st)
{
	long long n = db_exec(conn, "UPDATE events SET state = ?, revision = revision + 1"
				    " WHERE id = ?",
			      "su", state_name(st), (uint64_t)id);

	return n < 0 ? (int)n : 0;
}

int catalog_set_blocked(MYSQL *conn, const struct event_info *e,
			const uint32_t *ids, size_t n, bool blocked)
{
	for (size_t i = 0; i < n; i++) {
		const struct seat_info *si = &e->seats[ids[i]];
		uint64_t flags = blocked ? (si->flags | SEAT_BLOCKED) : (si->flags & ~SEAT_BLOCKED);
		long long r = db_exec(conn,
				      "INSERT INTO seats (event_id, seat_id, r, c, label, price,"
				      " flags) VALUES (?, ?, ?, ?, ?, ?, ?)"
				      " ON DUPLICATE KEY UPDATE flags = VALUES(flags)",
				      "uuuusuu", (uint64_t)e->id, (uint64_t)ids[i], (uint64_t)si->r,
				      (uint64_t)si->c, si->label, (uint64_t)si->price, flags);

		if (r < 0)
			return (int)r;
	}
	{
		long long r = db_exec(conn, "UPDATE events SET revision = revision + 1"
					    " WHERE id = ?",
				      "u", (uint64_t)e->id);

		return r < 0 ? (int)r : 0;
	}
}

struct first_ctx {
	uint32_t first;
	bool any;
};

static int first_row(void *ctx, int n, char **v)
{
	struct first_ctx *f = ctx;

	if (n >= 1 && v[0] && !f->any) {
		f->first = (uint32_t)strtoul(v[0], NULL, 10);
		f->any = true;
	}
	return 0;
}

long long catalog_sold_among(MYSQL *conn, uint32_t event_id, const uint32_t *ids,
			     size_t n, uint32_t *first)
{
	long long total = 0;

	for (size_t i = 0; i < n; i++) {
		struct first_ctx f = {0};
		long long r = db_select(conn, "SELECT seat_id FROM sold_seats WHERE event_id = ?"
					      " AND seat_id = ?",
					first_row, &f, "uu", (uint64_t)event_id, (uint64_t)ids[i]);

		if (r < 0)
			return r;
		if (f.any && !total)
			*first = f.first;
		total += f.any;
	}
	return total;
}

struct ids_ctx {
	char (*ids)[48];
	int n, max;
};

static int id_row(void *ctx, int n, char **v)
{
	struct ids_ctx *c = ctx;

	if (n >= 1 && v[0] && c->n < c->max)
		snprintf(c->ids[c->n++], sizeof(c->ids[0]), "%s", v[0]);
	return 0;
}

int catalog_pending_orders(MYSQL *conn, uint32_t event_id, char (*ids)[48], int max)
{
	struct ids_ctx c = {.ids = ids, .max = max};
	long long r = db_select(conn, "SELECT id FROM orders WHERE event_id = ? AND"
				      " status = 'PENDING' ORDER BY created_at LIMIT 1000",
				id_row, &c, "u", (uint64_t)event_id);

	return r < 0 ? (int)r : c.n;
}

int audit_insert(MYSQL *conn, const char *actor, const char *client,
		 const char *action, uint32_t event_id, const char *request,
		 const char *result)
{
	char ev[16];
	long long n;

	snprintf(ev, sizeof(ev), "%u", event_id);
	n = db_exec(conn, "INSERT INTO admin_audit (actor, client, action, event_id,"
			  " request, result) VALUES (?, ?, ?, ?, ?, ?)",
		    "ssssss", actor, client, action, event_id ? ev : NULL, request, result);
	return n < 0 ? (int)n : 0;
}

int audit_list(MYSQL *conn, uint32_t event_id, uint32_t limit, json_t *out)
{
	char sql[512];
	MYSQL_RES *res;
	MYSQL_ROW row;

	/* integers only: nothing to escape */
	snprintf(sql, sizeof(sql),
		 "SELECT id, CAST(UNIX_TIMESTAMP(at) * 1000 AS SIGNED), actor, client,"
		 " action, event_id, request, result FROM admin_audit%s ORDER BY id DESC"
		 " LIMIT %u",
		 event_id ? " WHERE event_id = " : "", limit);
	if (event_id) {
		char tail[64];
		char *p = strstr(sql, " ORDER BY");

		snprintf(tail, sizeof(tail), "%s", p);
		snprintf(p, sizeof(sql) - (size_t)(p - sql), "%u%s", event_id, tail);
	}
	if (mysql_query(conn, sql) || !(res = mysql_store_result(conn)))
		return db_errno(mysql_errno(conn));
	while ((row = mysql_fetch_row(res))) {
		char at[32];
		json_t *req = row[6] ? json_loads(row[6], JSON_DECODE_ANY, NULL) : NULL;

		tkt_format_rfc3339_ms(strtoll(row[1], NULL, 10), at, sizeof(at));
		if (!req && row[6])
			req = json_string(row[6]);
		json_array_append_new(
			out, json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:s}", "id",
				       (json_int_t)strtoll(row[0], NULL, 10), "at", at, "actor",
				       row[2], "client", row[3], "action", row[4], "eventId",
				       row[5] ? json_integer(strtoll(row[5], NULL, 10)) : json_null(),
				       "request", req ? req : json_null(), "result", row[7]));
	}
	mysql_free_result(res);
	return 0;
}
