#include "userspace/ticketd/commerce/orders.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/log.h"
#include "userspace/lib/trace.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/messaging/outbox.h"
#include "userspace/ticketd/messaging/outbox_relay.h"
#include "userspace/ticketd/ticketd.h"

#define ORDERS_TOPIC "ticketing.orders"

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* SHA-256 of the request's meaning (event and the set of seats), so the
 * same key with the same body in another order or shape still matches. */
static void request_hash(uint32_t event_id, const uint32_t *sorted, int n,
			 char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char canon[160];
	int len = snprintf(canon, sizeof(canon), "event:%u;seats:", event_id);

	for (int i = 0; i < n; i++)
		len += snprintf(canon + len, sizeof(canon) - (size_t)len, "%s%u",
				i ? "," : "", sorted[i]);
	EVP_Digest(canon, (size_t)len, md, &mdlen, EVP_sha256(), NULL);
	hex_encode(md, mdlen, out);
}

/* Gives seats moved to ORDERED back to the caller as holds (the order did
 * not happen), each in one CAS: no other session can take the seat on the
 * way back. */
static void unorder(struct ticketd *app, uint32_t slot, uint32_t event_id,
		    const uint32_t *seats, int n)
{
	for (int i = 0; i < n; i++)
		ticketd_seat_op(app, TKT_SRC_SAGA, TKT_SEAT_UNORDER, slot, event_id, seats[i],
				(uint32_t)app->cfg.hold_default_seconds * 1000u, NULL);
}

static void new_order_id(char out[ORDER_ID_LEN + 1])
{
	unsigned char raw[12];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		memset(raw, 0, sizeof(raw)); /* never on Linux >= 3.17 */
	memcpy(out, "ord_", 4);
	hex_encode(raw, sizeof(raw), out + 4);
}

/* Which requested seats the caller does not hold now (live HELD, its slot). */
static int seats_not_held(struct ticketd *app, const struct event_info *e,
			  uint32_t slot, const uint32_t *seats, int n,
			  uint32_t *out)
{
	uint32_t now_ms = tkt_ms32(tkt_mono_ns());
	int k = 0;

	for (int i = 0; i < n; i++) {
		uint64_t w = tkt_load64(&app->seats[e->seat_base + seats[i]]);

		if (tkt_sw_claimed_by(w, slot, now_ms) != TKT_SEAT_HELD)
			out[k++] = seats[i];
	}
	return k;
}

static enum orders_result replay(MYSQL *c, const struct session *s,
				 const char *key, struct order *out)
{
	char hash[sizeof(out->request_hash)];

	memcpy(hash, out->request_hash, sizeof(hash)); /* out is overwritten */
	if (order_store_find_by_key(c, s->id_hex, key, out))
		return ORDERS_UNAVAILABLE;
	return strcmp(out->request_hash, hash) ? ORDERS_KEY_REUSED : ORDERS_REPLAYED;
}

enum orders_result orders_create(struct ticketd *app, const struct session *s,
				 const char *idempotency_key, uint32_t event_id,
				 const uint32_t *seat_ids, int n,
				 struct order *out, uint32_t *not_held,
				 int *n_not_held)
{
	const struct event_info *e = catalog_find(&app->catalog, event_id);
	uint32_t prices[HOLDS_MAX_SEATS];
	int64_t now_unix_ms;
	uint32_t now_ms;
	enum orders_result result = ORDERS_UNAVAILABLE;
	char *payload = NULL;
	int ordered = 0, rc;
	MYSQL *c;
	TRACE_SCOPE(ts, "order.create"); /* #15 tracing */

	trace_span_attr_int(ts.span, "event.id", event_id);
	*n_not_held = 0;
	if (!e)
		return ORDERS_NO_EVENT;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		if (seat_ids[i] >= e->n_seats)
			return ORDERS_NO_SEAT;
		out->seats[i] = seat_ids[i];
	}
	out->n_seats = n;
	qsort(out->seats, (size_t)n, sizeof(out->seats[0]), cmp_u32);
	request_hash(event_id, out->seats, n, out->request_hash);
	new_order_id(out->id);
	snprintf(out->session_id, sizeof(out->session_id), "%s", s->id_hex);
	out->slot = s->slot;
	out->event_id = event_id;
	snprintf(out->status, sizeof(out->status), "PENDING");
	for (int i = 0; i < n; i++) {
		prices[i] = e->seats[out->seats[i]].price;
		out->amount += prices[i];
	}
	now_unix_ms = (int64_t)ticketd_unix_ms_at(&now_ms);
	out->created_ms = now_unix_ms;
	out->deadline_ms = now_unix_ms + (int64_t)app->cfg.payment_deadline_seconds * 1000;

	c = db_get_tx(&app->db, app->cfg.db_wait_ms);
	if (!c)
		return ORDERS_UNAVAILABLE; /* nothing changed yet */
	if (db_begin(&app->db, &c)) {
		if (!c)
			return ORDERS_UNAVAILABLE; /* the server is away */
		goto out;
	}
	/* The order row first: its unique (session, key) makes a concurrent
	 * request with the same key wait here until this one commits. */
	rc = order_store_insert(c, out, idempotency_key);
	if (rc == -EEXIST) {
		mysql_query(c, "ROLLBACK");
		result = replay(c, s, idempotency_key, out);
		goto out_nocommit;
	}
	if (rc)
		goto rollback;
	*n_not_held = seats_not_held(app, e, s->slot, out->seats, n, not_held);
	if (*n_not_held) {
		result = ORDERS_NOT_HELD;
		goto rollback;
	}
	for (ordered = 0; ordered < n; ordered++) {
		/* Off sale until the deadline plus the settle margin: a
		 * confirmation committed at the deadline still finds its
		 * seats ORDERED (the saga cancels the words at once when the
		 * order is cancelled, so the margin holds only while the
		 * daemon is down). */
		int st = ticketd_seat_op(app, TKT_SRC_SAGA, TKT_SEAT_ORDER, s->slot, event_id, out->seats[ordered],
			       (uint32_t)(app->cfg.payment_deadline_seconds +
					  app->cfg.order_settle_margin_seconds) * 1000u, NULL);

		if (st != TKT_OK) { /* lost a race with a release or expiry */
			not_held[0] = out->seats[ordered];
			*n_not_held = 1;
			result = ORDERS_NOT_HELD;
			goto rollback;
		}
	}
	payload = order_event_json("OrderCreated", out);
	if (!payload || order_store_insert_seats(c, out, prices) ||
	    outbox_append(c, ORDERS_TOPIC, out->id, payload) || mysql_commit(c))
		goto rollback;
	result = ORDERS_CREATED;
	goto out_nocommit;
rollback:
	mysql_query(c, "ROLLBACK");
	unorder(app, s->slot, event_id, out->seats, ordered);
	if (result == ORDERS_UNAVAILABLE)
		log_msg(LOG_ERROR, NULL, "creating order %s failed: %s", out->id,
			mysql_error(c));
	goto out_nocommit;
out:
	log_msg(LOG_ERROR, NULL, "orders: %s", mysql_error(c));
out_nocommit:
	db_put(&app->db, c);
	free(payload);
	return result;
}

/* One read on a connection lent without a ping (db_get_tx): one that
 * turns out dead is dropped and the read tried once more on another; still
 * no live connection is -EBUSY (503), as when the ping failed. Other
 * failures are the store's errors (answered 404 as the contract says). */
static int read_order(struct ticketd *app, const char *order_id, struct order *out,
		      char *pay_id, size_t pid_len, char *pay_status, size_t st_len)
{
	int rc = -ECONNRESET;

	/* An ended order never changes: its copy needs no round trip (and
	 * its payment, ended or not, is not asked for then). */
	if (order_cache_get(&app->order_cache, order_id, out)) {
		if (pay_id)
			pay_id[0] = pay_status[0] = '\0';
		return 0;
	}
	for (int attempt = 0; attempt < 2 && rc == -ECONNRESET; attempt++) {
		MYSQL *c = db_get_tx(&app->db, app->cfg.db_wait_ms);

		if (!c)
			return -EBUSY;
		rc = pay_id ? order_store_get_with_payment(c, order_id, out, pay_id, pid_len,
							   pay_status, st_len)
			    : order_store_get(c, order_id, false, out);
		db_put(&app->db, c);
	}
	if (rc == 0)
		order_cache_put(&app->order_cache, out); /* kept only when ended */
	return rc == -ECONNRESET ? -EBUSY : rc;
}

int orders_get(struct ticketd *app, const struct session *s,
	       const char *order_id, struct order *out)
{
	int rc = read_order(app, order_id, out, NULL, 0, NULL, 0);

	if (rc)
		return rc;
	return strcmp(out->session_id, s->id_hex) ? -ENOENT : 0;
}

int orders_get_with_payment(struct ticketd *app, const struct session *s,
			    const char *order_id, struct order *out, char *payment_id,
			    size_t pid_len, char *status, size_t st_len)
{
	int rc = read_order(app, order_id, out, payment_id, pid_len, status, st_len);

	if (rc)
		return rc;
	return strcmp(out->session_id, s->id_hex) ? -ENOENT : 0;
}
