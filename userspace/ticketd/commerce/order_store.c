/* Data access for orders, order seats, sold seats and payments. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/db/db.h"

/* An order's row and, in the same statement, its seats (ascending, comma
 * separated): one round trip instead of two. */
#define ORDER_COLS                                                              \
	"o.id, o.session_id, o.slot, o.event_id, o.status, COALESCE(o.reason, ''),"  \
	" o.amount, CAST(UNIX_TIMESTAMP(o.created_at) * 1000 AS SIGNED),"           \
	" CAST(UNIX_TIMESTAMP(o.payment_deadline) * 1000 AS SIGNED), o.request_hash," \
	" (SELECT GROUP_CONCAT(os.seat_id ORDER BY os.seat_id SEPARATOR ',')"        \
	"  FROM order_seats os WHERE os.order_id = o.id)"
#define ORDER_NCOLS 11

/* "3,17,18" -> seats; at most HOLDS_MAX_SEATS are kept. */
static void parse_seats(struct order *o, const char *list)
{
	o->n_seats = 0;
	while (list && *list && o->n_seats < HOLDS_MAX_SEATS) {
		char *end;

		o->seats[o->n_seats++] = (uint32_t)strtoul(list, &end, 10);
		list = *end == ',' ? end + 1 : NULL;
	}
}

static int order_row(void *ctx, int n, char **v)
{
	struct order *o = ctx;

	if (n < ORDER_NCOLS)
		return -EIO;
	snprintf(o->id, sizeof(o->id), "%s", v[0]);
	snprintf(o->session_id, sizeof(o->session_id), "%s", v[1]);
	o->slot = (uint32_t)strtoul(v[2], NULL, 10);
	o->event_id = (uint32_t)strtoul(v[3], NULL, 10);
	snprintf(o->status, sizeof(o->status), "%s", v[4]);
	snprintf(o->reason, sizeof(o->reason), "%s", v[5]);
	o->amount = strtoull(v[6], NULL, 10);
	o->created_ms = strtoll(v[7], NULL, 10);
	o->deadline_ms = strtoll(v[8], NULL, 10);
	snprintf(o->request_hash, sizeof(o->request_hash), "%s", v[9]);
	parse_seats(o, v[10]);
	return 0;
}

int order_store_insert(MYSQL *c, const struct order *o, const char *key)
{
	long long n = db_exec(
		c,
		"INSERT INTO orders (id, session_id, slot, event_id, status, amount,"
		" idempotency_key, request_hash, created_at, payment_deadline)"
		" VALUES (?, ?, ?, ?, 'PENDING', ?, ?, ?, FROM_UNIXTIME(? / 1000),"
		" FROM_UNIXTIME(? / 1000))",
		"ssuuussii", o->id, o->session_id, (uint64_t)o->slot,
		(uint64_t)o->event_id, o->amount, key, o->request_hash,
		(int64_t)o->created_ms, (int64_t)o->deadline_ms);

	return n < 0 ? (int)n : 0;
}

/* "INSERT ... VALUES " head followed by n copies of row, comma separated,
 * into buf. The text depends only on n, so each n is one cached statement. */
static void multi_row_sql(char *buf, size_t len, const char *head, const char *row,
			  int n)
{
	size_t at = (size_t)snprintf(buf, len, "%s", head);

	for (int i = 0; i < n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? ", " : "", row);
}

int order_store_insert_seats(MYSQL *c, const struct order *o,
			     const uint32_t *prices)
{
	struct db_arg args[4 * HOLDS_MAX_SEATS];
	char types[4 * HOLDS_MAX_SEATS + 1];
	char sql[128 + 16 * HOLDS_MAX_SEATS];
	long long n;

	if (o->n_seats < 1 || o->n_seats > HOLDS_MAX_SEATS)
		return -EINVAL;
	multi_row_sql(sql, sizeof(sql),
		      "INSERT INTO order_seats (order_id, event_id, seat_id, price) VALUES ",
		      "(?, ?, ?, ?)", o->n_seats);
	for (int i = 0; i < o->n_seats; i++) {
		args[4 * i] = (struct db_arg){.s = o->id};
		args[4 * i + 1] = (struct db_arg){.u = o->event_id};
		args[4 * i + 2] = (struct db_arg){.u = o->seats[i]};
		args[4 * i + 3] = (struct db_arg){.u = prices[i]};
		memcpy(types + 4 * i, "suuu", 4);
	}
	types[4 * o->n_seats] = '\0';
	n = db_exec_args(c, sql, types, args);
	return n < 0 ? (int)n : 0;
}

int order_store_find_by_key(MYSQL *c, const char *session_id, const char *key,
			    struct order *out)
{
	long long n;

	memset(out, 0, sizeof(*out));
	n = db_select(c,
		      "SELECT " ORDER_COLS " FROM orders o WHERE o.session_id = ?"
		      " AND o.idempotency_key = ?",
		      order_row, out, "ss", session_id, key);
	if (n < 0)
		return (int)n;
	return n == 0 ? -ENOENT : 0;
}

int order_store_get(MYSQL *c, const char *order_id, bool for_update,
		    struct order *out)
{
	long long n;

	memset(out, 0, sizeof(*out));
	n = db_select(c,
		      for_update ? "SELECT " ORDER_COLS " FROM orders o WHERE o.id = ? FOR UPDATE"
				 : "SELECT " ORDER_COLS " FROM orders o WHERE o.id = ?",
		      order_row, out, "s", order_id);
	if (n < 0)
		return (int)n;
	return n == 0 ? -ENOENT : 0;
}

struct orders_many_ctx {
	const char *const *ids;
	int n;
	struct order *out;
	bool *found;
};

static int orders_many_row(void *ctx, int n, char **v)
{
	struct orders_many_ctx *m = ctx;

	for (int i = 0; i < m->n; i++)
		if (!m->found[i] && !strcmp(m->ids[i], v[0])) {
			int rc = order_row(&m->out[i], n, v);

			if (rc)
				return rc;
			m->found[i] = true;
		}
	return 0;
}

int order_store_lock_many(MYSQL *c, const char *const *ids, int n, struct order *out,
			  bool *found)
{
	struct orders_many_ctx m = {ids, n, out, found};
	long long got;

	if (n < 1 || n > ORDER_LOCK_MANY)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		found[i] = false;
	}
#define ID(j) ids[(j) < n ? (j) : n - 1]
	got = db_select(c,
			"SELECT " ORDER_COLS " FROM orders o WHERE o.id IN (?,?,?,?,?,?,?,?)"
			" ORDER BY o.id FOR UPDATE",
			orders_many_row, &m, "ssssssss", ID(0), ID(1), ID(2), ID(3), ID(4),
			ID(5), ID(6), ID(7));
#undef ID
	return got < 0 ? (int)got : 0;
}

int order_store_finish_many(MYSQL *c, const char *const *ids, const bool *approve, int n)
{
	const char *conf[ORDER_LOCK_MANY], *all[ORDER_LOCK_MANY];
	long long got;
	int k = 0;

	if (n < 1 || n > ORDER_LOCK_MANY)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (approve[i])
			conf[k++] = ids[i];
	/* '' is no order's id: it pads the confirmed list */
	for (int i = k; i < ORDER_LOCK_MANY; i++)
		conf[i] = "";
	for (int i = 0; i < ORDER_LOCK_MANY; i++)
		all[i] = ids[i < n ? i : n - 1];
#define L(a) a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
	got = db_exec(c,
		      "UPDATE orders SET"
		      " status = IF(id IN (?,?,?,?,?,?,?,?), 'CONFIRMED', 'CANCELLED'),"
		      " reason = IF(id IN (?,?,?,?,?,?,?,?), NULL, 'PAYMENT_DECLINED')"
		      " WHERE id IN (?,?,?,?,?,?,?,?) AND status = 'PENDING'",
		      "ssssssssssssssssssssssss", L(conf), L(conf), L(all));
#undef L
	return (int)got;
}

struct order_pay_ctx {
	struct order *o;
	char *pid, *st;
	size_t pid_len, st_len;
};

static int order_pay_row(void *ctx, int n, char **v)
{
	struct order_pay_ctx *p = ctx;
	int rc = order_row(p->o, n - 2, v);

	if (rc)
		return rc;
	snprintf(p->pid, p->pid_len, "%s", v[ORDER_NCOLS] ? v[ORDER_NCOLS] : "");
	snprintf(p->st, p->st_len, "%s", v[ORDER_NCOLS + 1] ? v[ORDER_NCOLS + 1] : "");
	return 0;
}

int order_store_get_with_payment(MYSQL *c, const char *order_id, struct order *out,
				 char *payment_id, size_t pid_len, char *status,
				 size_t st_len)
{
	struct order_pay_ctx p = {out, payment_id, status, pid_len, st_len};
	long long n;

	memset(out, 0, sizeof(*out));
	n = db_select(c,
		      "SELECT " ORDER_COLS ", p.id, p.status FROM orders o"
		      " LEFT JOIN payments p ON p.order_id = o.id WHERE o.id = ?",
		      order_pay_row, &p, "s", order_id);
	if (n < 0)
		return (int)n;
	return n == 0 ? -ENOENT : 0;
}

int order_store_finish(MYSQL *c, const char *order_id, const char *status,
		       const char *reason)
{
	long long n = db_exec(c,
			      "UPDATE orders SET status = ?, reason = ?"
			      " WHERE id = ? AND status = 'PENDING'",
			      "sss", status, reason, order_id);

	return n < 0 ? (int)n : (int)(n > 0);
}

int order_store_insert_sold(MYSQL *c, const struct order *o)
{
	struct db_arg args[3 * HOLDS_MAX_SEATS];
	char types[3 * HOLDS_MAX_SEATS + 1];
	char sql[128 + 16 * HOLDS_MAX_SEATS];
	long long n;

	if (o->n_seats < 1 || o->n_seats > HOLDS_MAX_SEATS)
		return -EINVAL;
	/* One statement: a seat sold already fails all of it (-EEXIST), and
	 * InnoDB undoes just this statement, so the caller's transaction
	 * goes on. */
	multi_row_sql(sql, sizeof(sql),
		      "INSERT INTO sold_seats (event_id, seat_id, order_id) VALUES ",
		      "(?, ?, ?)", o->n_seats);
	for (int i = 0; i < o->n_seats; i++) {
		args[3 * i] = (struct db_arg){.u = o->event_id};
		args[3 * i + 1] = (struct db_arg){.u = o->seats[i]};
		args[3 * i + 2] = (struct db_arg){.s = o->id};
		memcpy(types + 3 * i, "uus", 3);
	}
	types[3 * o->n_seats] = '\0';
	n = db_exec_args(c, sql, types, args);
	return n < 0 ? (int)n : 0;
}

struct due_ctx {
	char (*ids)[ORDER_ID_LEN + 1];
	int n, max;
};

static int due_row(void *ctx, int n, char **v)
{
	struct due_ctx *d = ctx;

	(void)n;
	if (d->n < d->max)
		snprintf(d->ids[d->n++], ORDER_ID_LEN + 1, "%s", v[0]);
	return 0;
}

int order_store_due(MYSQL *c, char (*ids)[ORDER_ID_LEN + 1], int max)
{
	struct due_ctx d = {.ids = ids, .max = max};
	long long n = db_select(c,
				"SELECT id FROM orders WHERE status = 'PENDING'"
				" AND payment_deadline <= NOW(3) ORDER BY payment_deadline"
				" LIMIT ?",
				due_row, &d, "u", (uint64_t)max);

	return n < 0 ? (int)n : d.n;
}

int payment_store_insert(MYSQL *c, const char *payment_id,
			 const char *order_id, const char *status,
			 uint64_t amount, int attempts)
{
	long long n = db_exec(c,
			      "INSERT INTO payments (id, order_id, status, amount, attempts,"
			      " decided_at) VALUES (?, ?, ?, ?, ?, NOW(3))",
			      "sssuu", payment_id, order_id, status, amount,
			      (uint64_t)attempts);

	return n < 0 ? (int)n : 0;
}

struct pay_ctx {
	char *pid, *st;
	size_t pid_len, st_len;
};

static int pay_row(void *ctx, int n, char **v)
{
	struct pay_ctx *p = ctx;

	(void)n;
	snprintf(p->pid, p->pid_len, "%s", v[0]);
	snprintf(p->st, p->st_len, "%s", v[1]);
	return 0;
}

int payment_store_get(MYSQL *c, const char *order_id, char *payment_id,
		      size_t pid_len, char *status, size_t st_len)
{
	struct pay_ctx p = {payment_id, status, pid_len, st_len};
	long long n = db_select(c, "SELECT id, status FROM payments WHERE order_id = ?",
				pay_row, &p, "s", order_id);

	if (n < 0)
		return (int)n;
	return n ? 0 : -ENOENT;
}

#define PAYMENT_COLS "id, order_id, status, amount, COALESCE(refund_status, '')"

static int pay_record_row(void *ctx, int n, char **v)
{
	struct payment_record *p = ctx;

	(void)n;
	snprintf(p->id, sizeof(p->id), "%s", v[0]);
	snprintf(p->order_id, sizeof(p->order_id), "%s", v[1]);
	snprintf(p->status, sizeof(p->status), "%s", v[2]);
	p->amount = strtoull(v[3], NULL, 10);
	snprintf(p->refund_status, sizeof(p->refund_status), "%s", v[4]);
	return 0;
}

int payment_store_get_by_order(MYSQL *c, const char *order_id,
			       struct payment_record *out)
{
	long long n;

	memset(out, 0, sizeof(*out));
	n = db_select(c, "SELECT " PAYMENT_COLS " FROM payments WHERE order_id = ?",
		      pay_record_row, out, "s", order_id);
	if (n < 0)
		return (int)n;
	return n ? 0 : -ENOENT;
}

int payment_store_owe_refund(MYSQL *c, const char *payment_id)
{
	long long n = db_exec(c,
			      "UPDATE payments SET refund_status = 'PENDING',"
			      " refund_next_at = NOW(3)"
			      " WHERE id = ? AND refund_status IS NULL",
			      "s", payment_id);

	return n < 0 ? (int)n : (int)(n > 0);
}

struct refunds_ctx {
	struct refund_due *out;
	int n, max;
};

static int refund_row(void *ctx, int n, char **v)
{
	struct refunds_ctx *r = ctx;
	struct refund_due *d;

	(void)n;
	if (r->n >= r->max)
		return 0;
	d = &r->out[r->n++];
	snprintf(d->payment_id, sizeof(d->payment_id), "%s", v[0]);
	snprintf(d->order_id, sizeof(d->order_id), "%s", v[1]);
	d->amount = strtoull(v[2], NULL, 10);
	d->attempts = (unsigned)strtoul(v[3], NULL, 10);
	return 0;
}

int payment_store_refunds_due(MYSQL *c, struct refund_due *out, int max)
{
	struct refunds_ctx r = {.out = out, .max = max};
	long long n = db_select(c,
				"SELECT id, order_id, amount, refund_attempts FROM payments"
				" WHERE refund_status = 'PENDING' AND refund_next_at <= NOW(3)"
				" ORDER BY refund_next_at LIMIT ?",
				refund_row, &r, "u", (uint64_t)max);

	return n < 0 ? (int)n : r.n;
}

int payment_store_refund_attempt(MYSQL *c, const char *payment_id,
				 uint32_t backoff_ms)
{
	long long n = db_exec(c,
			      "UPDATE payments SET refund_attempts = refund_attempts + 1,"
			      " refund_next_at = NOW(3) + INTERVAL ? MICROSECOND"
			      " WHERE id = ? AND refund_status = 'PENDING'",
			      "us", (uint64_t)backoff_ms * 1000, payment_id);

	return n < 0 ? (int)n : (int)(n > 0);
}

int payment_store_refund_done(MYSQL *c, const char *payment_id,
			      const char *result)
{
	long long n = db_exec(c,
			      "UPDATE payments SET refund_status = 'DONE', refund_result = ?,"
			      " refunded_at = NOW(3), refund_next_at = NULL"
			      " WHERE id = ? AND refund_status = 'PENDING'",
			      "ss", result, payment_id);

	return n < 0 ? (int)n : (int)(n > 0);
}

static int amount_row(void *ctx, int n, char **v)
{
	(void)n;
	*(uint64_t *)ctx = v[0] ? strtoull(v[0], NULL, 10) : 0;
	return 0;
}

int payment_request_claim(MYSQL *c, const char *order_id, const char *session_id,
			  uint64_t *amount)
{
	long long n;

	*amount = 0;
	/* The order's checks and the request row in one statement: the row
	 * is inserted only for the session's own PENDING order without a
	 * recorded decision, and RETURNING gives its amount back. */
	n = db_select(c,
		      "INSERT IGNORE INTO payment_requests (order_id, amount, requested_at)"
		      " SELECT o.id, o.amount, NOW(3) FROM orders o WHERE o.id = ?"
		      " AND o.session_id = ? AND o.status = 'PENDING'"
		      " AND NOT EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)"
		      " RETURNING amount",
		      amount_row, amount, "ss", order_id, session_id);
	return n < 0 ? (int)n : n > 0;
}

int payment_request_delete(MYSQL *c, const char *order_id)
{
	long long n = db_exec(c, "DELETE FROM payment_requests WHERE order_id = ?", "s",
			      order_id);

	return n < 0 ? (int)n : 0;
}

#define PRUNE_CHUNK 32

struct decided_ctx {
	char (*ids)[ORDER_ID_LEN + 1];
	int n, max;
};

static int decided_row(void *ctx, int n, char **v)
{
	struct decided_ctx *d = ctx;

	(void)n;
	if (d->n < d->max)
		snprintf(d->ids[d->n++], ORDER_ID_LEN + 1, "%s", v[0]);
	return 0;
}

int payment_requests_prune(MYSQL *c, int max)
{
	char (*ids)[ORDER_ID_LEN + 1];
	struct decided_ctx d;
	char sql[128 + 4 * PRUNE_CHUNK];
	long long n, deleted = 0;

	if (max < 1)
		return -EINVAL;
	ids = calloc((size_t)max, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	d = (struct decided_ctx){.ids = ids, .max = max};
	n = db_select(c,
		      "SELECT r.order_id FROM payment_requests r"
		      " JOIN payments p ON p.order_id = r.order_id LIMIT ?",
		      decided_row, &d, "u", (uint64_t)max);
	if (n < 0) {
		free(ids);
		return (int)n;
	}
	/* One text for every chunk: a short one repeats its last id. */
	multi_row_sql(sql, sizeof(sql),
		      "DELETE FROM payment_requests WHERE order_id IN (", "?", PRUNE_CHUNK);
	snprintf(sql + strlen(sql), sizeof(sql) - strlen(sql), ")");
	for (int at = 0; at < d.n; at += PRUNE_CHUNK) {
		struct db_arg args[PRUNE_CHUNK];
		char types[PRUNE_CHUNK + 1];
		int k = d.n - at < PRUNE_CHUNK ? d.n - at : PRUNE_CHUNK;

		for (int i = 0; i < PRUNE_CHUNK; i++)
			args[i] = (struct db_arg){.s = ids[at + (i < k ? i : k - 1)]};
		memset(types, 's', PRUNE_CHUNK);
		types[PRUNE_CHUNK] = '\0';
		n = db_exec_args(c, sql, types, args);
		if (n < 0) {
			free(ids);
			return (int)n;
		}
		deleted += n;
	}
	free(ids);
	return (int)deleted;
}

struct requests_ctx {
	struct payment_request *out;
	int n, max;
};

static int request_row(void *ctx, int n, char **v)
{
	struct requests_ctx *r = ctx;

	(void)n;
	if (r->n < r->max) {
		snprintf(r->out[r->n].order_id, sizeof(r->out[r->n].order_id), "%s", v[0]);
		r->out[r->n++].amount = strtoull(v[1], NULL, 10);
	}
	return 0;
}

int payment_requests_open(MYSQL *c, struct payment_request *out, int max)
{
	struct requests_ctx r = {.out = out, .max = max};
	long long n = db_select(c,
				"SELECT r.order_id, r.amount FROM payment_requests r"
				" LEFT JOIN payments p ON p.order_id = r.order_id"
				" WHERE p.id IS NULL ORDER BY r.requested_at LIMIT ?",
				request_row, &r, "u", (uint64_t)max);

	return n < 0 ? (int)n : r.n;
}

int payment_store_get_by_id(MYSQL *c, const char *payment_id,
			    struct payment_record *out)
{
	long long n;

	memset(out, 0, sizeof(*out));
	n = db_select(c, "SELECT " PAYMENT_COLS " FROM payments WHERE id = ?",
		      pay_record_row, out, "s", payment_id);
	if (n < 0)
		return (int)n;
	return n ? 0 : -ENOENT;
}

struct pay_claim_ctx {
	struct payment_record *p;
	bool *claimed;
};

static int pay_claim_row(void *ctx, int n, char **v)
{
	struct pay_claim_ctx *pc = ctx;
	int rc = pay_record_row(pc->p, n - 1, v);

	*pc->claimed = v[5] && strcmp(v[5], "0");
	return rc;
}

int payment_store_get_claimed(MYSQL *c, const char *payment_id, const char *consumer,
			      const char *message_id, struct payment_record *out,
			      bool *claimed)
{
	struct pay_claim_ctx pc = {out, claimed};
	long long n;

	memset(out, 0, sizeof(*out));
	*claimed = false;
	n = db_select(c,
		      "SELECT " PAYMENT_COLS ", EXISTS(SELECT 1 FROM inbox i"
		      " WHERE i.consumer = ? AND i.message_id = ?)"
		      " FROM payments WHERE id = ?",
		      pay_claim_row, &pc, "sss", consumer, message_id, payment_id);
	if (n < 0)
		return (int)n;
	return n ? 0 : -ENOENT;
}

/* Ids per lookup statement; a shorter list is padded with its last id so
 * every lookup is the same (cached) statement. */
#define CLAIMED_CHUNK 16

struct pay_claim_many_ctx {
	const char *const *payment_ids;
	int n;
	struct payment_record *out;
	bool *found, *claimed;
};

static int pay_claim_many_row(void *ctx, int n, char **v)
{
	struct pay_claim_many_ctx *pc = ctx;

	for (int i = 0; i < pc->n; i++)
		if (!pc->found[i] && !strcmp(pc->payment_ids[i], v[0])) {
			pay_record_row(&pc->out[i], n - 1, v);
			pc->claimed[i] = v[5] && strcmp(v[5], "0");
			pc->found[i] = true;
		}
	return 0;
}

int payment_store_get_claimed_many(MYSQL *c, const char *const *payment_ids, int n,
				   const char *consumer, const char *claim_prefix,
				   struct payment_record *out, bool *found, bool *claimed)
{
	if (n < 1)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		found[i] = claimed[i] = false;
	}
	for (int at = 0; at < n; at += CLAIMED_CHUNK) {
		int k = n - at < CLAIMED_CHUNK ? n - at : CLAIMED_CHUNK;
		struct pay_claim_many_ctx pc = {payment_ids + at, k, out + at, found + at,
						 claimed + at};
		const char *const *ids = payment_ids + at;
		long long got;

#define ID(j) ids[(j) < k ? (j) : k - 1]
		got = db_select(c,
				"SELECT " PAYMENT_COLS ", EXISTS(SELECT 1 FROM inbox i"
				" WHERE i.consumer = ? AND i.message_id = CONCAT(?, order_id))"
				" FROM payments WHERE id IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				pay_claim_many_row, &pc, "ssssssssssssssssss", consumer,
				claim_prefix, ID(0), ID(1), ID(2), ID(3), ID(4), ID(5), ID(6),
				ID(7), ID(8), ID(9), ID(10), ID(11), ID(12), ID(13), ID(14),
				ID(15));
#undef ID
		if (got < 0)
			return (int)got;
	}
	return 0;
}

char *order_event_json(const char *type, const struct order *o)
{
	json_t *seats = json_array(), *body;
	char *text;

	for (int i = 0; seats && i < o->n_seats; i++)
		json_array_append_new(seats, json_integer(o->seats[i]));
	body = json_pack("{s:s, s:s, s:s, s:I, s:o, s:I, s:s, s:I, s:I}", "type", type,
			 "orderId", o->id, "sessionId", o->session_id, "eventId",
			 (json_int_t)o->event_id, "seatIds", seats, "amount",
			 (json_int_t)o->amount, "status", o->status, "createdAtMs",
			 (json_int_t)o->created_ms, "paymentDeadlineMs",
			 (json_int_t)o->deadline_ms);
	if (body && o->reason[0])
		json_object_set_new(body, "reason", json_string(o->reason));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	return text;
}
