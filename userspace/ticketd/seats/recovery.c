#include "userspace/ticketd/seats/recovery.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis.h>

#include "bpf/seat_word.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/log.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/seats/journal.h"
#include "userspace/ticketd/ticketd.h"

/* A sold seat goes AVAILABLE -> SOLD in one CAS (RESTORE_SOLD, the shared
 * rules' HOLD, ORDER, SELL as one step) under ticketd's own slot: no special
 * write path, and no moment at which another session could hold the seat. */
/* How long one restore waits, 1 ms at a time, while the change queue is
 * full (RATE_LIMITED): the seat stream runs before recovery and drains it,
 * so a queue smaller than the seats to restore only makes recovery wait. */
#define RESTORE_FULL_RETRIES 500

/* One restoring seat op, retried while the door answers RATE_LIMITED. */
static int restore_op(struct ticketd *app, uint32_t op, uint32_t slot, uint32_t event_id,
		      uint32_t seat_id, uint32_t hold_ms)
{
	const struct timespec ms = {.tv_nsec = 1000000};
	int st = TKT_RATE_LIMITED;

	for (int i = 0; i <= RESTORE_FULL_RETRIES && st == TKT_RATE_LIMITED; i++) {
		if (i)
			nanosleep(&ms, NULL);
		st = ticketd_seat_op(app, TKT_SRC_SAGA, op, slot, event_id, seat_id, hold_ms,
				     NULL);
	}
	return st;
}

int recovery_restore_sold(struct ticketd *app, uint32_t event_id, uint32_t seat_id)
{
	int st = restore_op(app, TKT_SEAT_RESTORE_SOLD, SESSION_SLOT_SYSTEM, event_id, seat_id, 0);

	if (st == TKT_SOLD)
		return 0; /* already there */
	return st == TKT_OK ? 0 : -EIO;
}

/* Makes every seat in sold_seats SOLD in the table. On a fresh table a
 * failure is fatal; on a reused one (another node may have sold while this
 * table was offline) a seat someone holds live is logged and counted, and
 * the database's primary key still refuses a second sale. */
static int rebuild_sold(struct ticketd *app, struct recovery_report *rep,
			bool strict, int64_t only_event, char *err, size_t errlen)
{
	MYSQL *conn = db_get_timed(&app->db, DB_WORKER_WAIT_MS);
	MYSQL_RES *res;
	MYSQL_ROW row;
	char sql[96];
	int rc = 0;

	if (!conn) {
		snprintf(err, errlen, "reading sold seats: no database connection");
		return -ECONNRESET;
	}
	/* only_event is a number we format, never client input */
	if (only_event >= 0)
		snprintf(sql, sizeof(sql),
			 "SELECT event_id, seat_id FROM sold_seats WHERE event_id = %lld",
			 (long long)only_event);
	else
		snprintf(sql, sizeof(sql), "SELECT event_id, seat_id FROM sold_seats");
	if (mysql_query(conn, sql) ||
	    !(res = mysql_store_result(conn))) {
		snprintf(err, errlen, "reading sold seats: %s", mysql_error(conn));
		db_put(&app->db, conn);
		return -EIO;
	}
	while ((row = mysql_fetch_row(res))) {
		uint32_t e = (uint32_t)strtoul(row[0], NULL, 10);
		uint32_t s = (uint32_t)strtoul(row[1], NULL, 10);

		const struct event_info *ev = catalog_find(&app->catalog, e);

		if (ev && s < ev->n_seats &&
		    tkt_sw_state(tkt_load64(&app->seats[ev->seat_base + s])) == TKT_SEAT_SOLD)
			continue;
		if (recovery_restore_sold(app, e, s)) {
			if (!strict) {
				log_msg(LOG_WARN, NULL,
					"seat %u of event %u is sold in MariaDB but held in the table",
					s, e);
				rep->skipped++;
				continue;
			}
			snprintf(err, errlen, "cannot restore sold seat %u of event %u", s, e);
			rc = -EIO;
			break;
		}
		rep->sold++;
	}
	mysql_free_result(res);
	db_put(&app->db, conn);
	return rc;
}

struct hold_ctx {
	struct ticketd *app;
	struct recovery_report *rep;
};

static int restore_hold(void *ctx, const struct journal_hold *h)
{
	struct hold_ctx *hc = ctx;
	uint32_t now_ms;
	int64_t now_unix_ms = (int64_t)ticketd_unix_ms_at(&now_ms);
	int64_t left = h->expiry_unix_ms - now_unix_ms;
	int st;

	if (left <= 0 || left > 0x7fffffff) {
		hc->rep->skipped++;
		return 0;
	}
	/* One CAS either way: a journaled order is ORDERED again without a
	 * HELD word in between. */
	st = restore_op(hc->app,
			h->state == TKT_SEAT_ORDERED ? TKT_SEAT_RESTORE_ORDERED : TKT_SEAT_HOLD,
			h->slot, h->event_id, h->seat_id, (uint32_t)left);
	if (st != TKT_OK) {
		hc->rep->skipped++; /* unknown event, sold meanwhile, ... */
		return 0;
	}
	if (h->state == TKT_SEAT_ORDERED)
		hc->rep->orders++;
	else
		hc->rep->holds++;
	return 0;
}

int recovery_rebuild(struct ticketd *app, struct recovery_report *rep,
		     char *err, size_t errlen)
{
	struct hold_ctx hc = {.app = app, .rep = rep};
	int rc;

	rc = rebuild_sold(app, rep, true, -1, err, errlen);
	if (rc)
		return rc;
	rc = journal_scan_holds(app->cfg.redis_host, app->cfg.redis_port,
				restore_hold, &hc);
	rep->redis_ok = rc >= 0;
	if (rc < 0)
		log_msg(LOG_WARN, NULL,
			"recovery: Redis unreachable, live holds cannot be restored");
	return 0;
}

int recovery_rebuild_event(struct ticketd *app, uint32_t event_id,
			   struct recovery_report *rep, char *err, size_t errlen)
{
	struct hold_ctx hc = {.app = app, .rep = rep};
	int rc;

	rc = rebuild_sold(app, rep, false, event_id, err, errlen);
	if (rc)
		return rc;
	rc = journal_scan_event_holds(app->cfg.redis_host, app->cfg.redis_port, event_id,
				      restore_hold, &hc);
	rep->redis_ok = rc >= 0;
	if (rc < 0) {
		snprintf(err, errlen, "Redis unreachable, the event's holds cannot be restored");
		return rc;
	}
	return 0;
}

/* The Redis key naming the database whose journal this is. */
#define JOURNAL_DB_KEY "tkt:journal:db"
/* Bounds of the sweep over another database's hold keys. */
#define FOREIGN_SCAN_ROUNDS 100000

static redisContext *redis_open(struct ticketd *app)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout(app->cfg.redis_host,
						  app->cfg.redis_port, tv);

	if (c && c->err) {
		redisFree(c);
		c = NULL;
	}
	if (c)
		redisSetTimeout(c, (struct timeval){.tv_sec = 2, .tv_usec = 0});
	return c;
}

/* Deletes every tkt:hold:* key; the number deleted, or -EIO. */
static int drop_hold_keys(redisContext *c)
{
	char cursor[32] = "0";
	int n = 0;

	for (int round = 0; round < FOREIGN_SCAN_ROUNDS; round++) {
		redisReply *r = redisCommand(c, "SCAN %s MATCH tkt:hold:* COUNT 1000",
					     cursor);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			if (r)
				freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			redisReply *d = redisCommand(c, "DEL %s",
						     r->element[1]->element[i]->str);

			if (!d || d->type == REDIS_REPLY_ERROR) {
				if (d)
					freeReplyObject(d);
				freeReplyObject(r);
				return -EIO;
			}
			n += d->type == REDIS_REPLY_INTEGER ? (int)d->integer : 0;
			freeReplyObject(d);
		}
		freeReplyObject(r);
		if (!strcmp(cursor, "0"))
			return n;
	}
	return -EIO;
}

int recovery_claim_journal(struct ticketd *app, struct recovery_report *rep)
{
	const char *db_id = app->table_id.db_id;
	redisContext *c = redis_open(app);
	redisReply *r;
	int rc = 0;

	if (!c)
		return -ECONNREFUSED;
	r = redisCommand(c, "GET %s", JOURNAL_DB_KEY);
	if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
		rc = -EIO;
	} else if (r->type == REDIS_REPLY_STRING && strcmp(r->str, db_id)) {
		/* Holds of sessions this database never made: their slots
		 * mean other sessions here. Gone, not restored. */
		rc = drop_hold_keys(c);
		if (rc >= 0) {
			log_msg(LOG_WARN, NULL,
				"recovery: the Redis journal belongs to database %s, this is "
				"%s: its %d holds are dropped, not restored",
				r->str, db_id, rc);
			rep->foreign = (uint32_t)rc;
			rc = 0;
		}
	}
	if (r)
		freeReplyObject(r);
	if (!rc) {
		r = redisCommand(c, "SET %s %s", JOURNAL_DB_KEY, db_id);
		if (!r || r->type == REDIS_REPLY_ERROR)
			rc = -EIO;
		if (r)
			freeReplyObject(r);
	}
	redisFree(c);
	return rc;
}

int recovery_sync_sold(struct ticketd *app, struct recovery_report *rep,
		       char *err, size_t errlen)
{
	return rebuild_sold(app, rep, false, -1, err, errlen);
}

void recovery_versions(struct ticketd *app, uint64_t *out)
{
	const struct event_info *e;
	uint32_t cur = 0;

	while ((e = catalog_next(&app->catalog, &cur)))
		out[e->id] = journal_last_version(app->cfg.redis_host, app->cfg.redis_port,
						  e->id);
}
