/* Data access for the admin API's changes to the catalogue and for its
 * audit trail (catalog_admin_store.c). Every function runs inside the
 * caller's open transaction, which first takes the catalogue's row lock
 * (catalog_lock): admin changes from every node are serialised, and the
 * audit row commits or rolls back with its change. Negative errno as
 * db_exec on failure. */
#ifndef TICKETD_CATALOG_ADMIN_H
#define TICKETD_CATALOG_ADMIN_H

#include <jansson.h>
#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/ticketd/commerce/catalog.h"

/* Locks catalog_version's row (FOR UPDATE). */
int catalog_lock(MYSQL *conn);
/* Says every node's refresher that something changed. */
int catalog_bump(MYSQL *conn);

/* Inserts e as a DRAFT with its seats: sets e->id and e->seat_base (the
 * seat table's words after every other event's). -ERANGE when the new id
 * is past the events map (CATALOG_MAX_EVENTS - 1), -ENOSPC when the seat
 * table (max_seats words) has no room left. */
int catalog_insert_event(MYSQL *conn, struct event_info *e, uint32_t max_seats);

/* Writes e's fields (revision + 1); with layout, its seats too, and a new
 * range after every other event's when the new grid is larger than the
 * old range (old_n_seats words): e->seat_base is updated then. */
int catalog_update_event(MYSQL *conn, struct event_info *e, bool layout,
			 uint32_t old_n_seats, uint32_t max_seats);

int catalog_set_state(MYSQL *conn, uint32_t id, enum event_state st);

/* Sets or clears the blocked flag of seats ids[0..n) of e (rows made from
 * e's snapshot where the seats table has none). */
int catalog_set_blocked(MYSQL *conn, const struct event_info *e,
			const uint32_t *ids, size_t n, bool blocked);

/* Seats of ids[0..n) that are sold (sold_seats): their count, the first in
 * *first. */
long long catalog_sold_among(MYSQL *conn, uint32_t event_id, const uint32_t *ids,
			     size_t n, uint32_t *first);

/* PENDING orders of an event: up to max ids (ORDER_ID_LEN + 1 each). */
int catalog_pending_orders(MYSQL *conn, uint32_t event_id, char (*ids)[48], int max);

/* ---- the admin operations (catalog_admin.c): one transaction each ---- */

struct db_pool;

/* Who asks, as the audit row keeps it. */
struct admin_actor {
	const char *key;     /* the admin key's fingerprint */
	const char *client;  /* the caller's address */
	const char *request; /* the request body, or NULL */
};

enum admin_result {
	ADMIN_OK = 0,
	ADMIN_BUSY,       /* no database connection came free in time */
	ADMIN_DB,         /* the database failed; nothing changed */
	ADMIN_NO_IDS,     /* no event id left (CATALOG_MAX_EVENTS) */
	ADMIN_NO_SEATS,   /* no seat-table room left */
	ADMIN_SOLD,       /* unblock of a sold seat (*first) */
};

/* Each: under the catalogue's lock, the change, its audit row (action,
 * result text) and catalog_version + 1, committed together or not at all.
 * wait_ms bounds the wait for a connection. */
enum admin_result admin_create_event(struct db_pool *db, int wait_ms, struct event_info *e,
				     uint32_t max_seats, const struct admin_actor *a);
enum admin_result admin_update_event(struct db_pool *db, int wait_ms, struct event_info *e,
				     bool layout, uint32_t old_n_seats, uint32_t max_seats,
				     const struct admin_actor *a);
enum admin_result admin_set_state(struct db_pool *db, int wait_ms, uint32_t id,
				  enum event_state st, const char *action, const char *result,
				  const struct admin_actor *a);
enum admin_result admin_set_blocked(struct db_pool *db, int wait_ms, const struct event_info *e,
				    const uint32_t *ids, size_t n, bool blocked,
				    const struct admin_actor *a, uint32_t *first);
/* Up to max PENDING order ids of an event; -1 without a connection. */
int admin_pending_orders(struct db_pool *db, uint32_t event_id, char (*ids)[48], int max);
enum admin_result admin_audit(struct db_pool *db, int wait_ms, uint32_t event_id,
			      uint32_t limit, json_t *out);

/* One audit row. event_id 0: none. */
int audit_insert(MYSQL *conn, const char *actor, const char *client,
		 const char *action, uint32_t event_id, const char *request,
		 const char *result);

/* The newest limit audit rows (of event_id, or all when 0), newest first,
 * appended to out as {"id","at","actor","client","action","eventId",
 * "request","result"}. */
int audit_list(MYSQL *conn, uint32_t event_id, uint32_t limit, json_t *out);

#endif
