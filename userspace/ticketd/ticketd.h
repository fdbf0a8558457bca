/* The daemon's one owner of state: everything long-lived hangs off struct
 * ticketd, created by main. Threads and what they own: docs/threads.md. */
#ifndef TICKETD_TICKETD_H
#define TICKETD_TICKETD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bpf/session_token.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/catalog_live.h"
#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/commerce/order_cache.h"
#include "userspace/ticketd/commerce/saga.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/config.h"
#include "userspace/ticketd/db/db.h"
#include "userspace/ticketd/health.h"
#include "userspace/ticketd/messaging/outbox_relay.h"
#include "userspace/ticketd/rest/client_limits.h"
#include "userspace/ticketd/rest/drain.h"
#include "userspace/ticketd/rest/overload.h"
#include "userspace/ticketd/seats/journal.h"
#include "userspace/ticketd/seats/seat_metrics.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/seats/sweeper.h"
#include "userspace/ticketd/shards/ownership.h"

struct http_server;
struct sse_hub;
struct rooms;
struct waitlist;
struct payment_client;
struct edge;
struct udp_door;
struct tkt_change;
struct tkt_seat_res;
struct ticket_service;

struct ticketd {
	struct config cfg;
	struct db_pool db;
	struct catalog catalog; /* snapshots by event id (commerce/catalog.h) */
	struct catalog_live live; /* publishes catalogue changes (catalog_live.h) */
	struct tkt_token_key token_key;
	struct sessions sessions; /* minting, slots, pruning */
	struct metrics metrics;
	struct health health;
	struct http_server *http;
	struct client_limits limits; /* per-address REST limits */

	/* The seat table (bpf/seat_word.h): one word per seat, shared with
	 * the XDP program when edge's backend is bpf. Change words only
	 * through edge_seat_apply. */
	struct edge *edge;
	__u64 *seats;
	/* What the table must be built for (database identity, event
	 * layout); set at start, written into the table after a rebuild. */
	struct edge_identity table_id;
	/* Set once at start: why a stale table was cleared (NULL: it was
	 * not), whether a seat file was reused after an unclean stop, and
	 * how many holds of another database's journal were dropped. */
	const char *table_reset_reason;
	int table_unclean;
	uint32_t journal_foreign;
	const char *hold_path; /* "xdp" or "socket" */
	struct udp_door *udp;
	struct seat_stream stream;
	struct seat_metrics seat_metrics; /* the stream's metrics sink */
	struct sweeper sweeper;
	struct journal journal;
	struct sse_hub *sse; /* live seat streams (SSE) */
	struct rooms *rooms; /* waiting rooms (room/room_service.h) */
	struct waitlist *waitlist; /* sold-out events (waitlist/waitlist_service.h) */
	struct ticket_service *tickets; /* signing and scanner keys (commerce/tickets.h) */

	struct outbox_relay relay;
	struct payment_client *payments;
	struct saga saga;
	struct order_cache order_cache; /* ended orders (commerce/order_cache.h) */
	struct overload overload; /* #12: refusals and slow-request counters */
	struct drain drain;       /* POST /admin/drain (rest/drain.h) */
	struct shards shards;     /* #16: which events this node serves */
	uint64_t started_mono_ns; /* for ticketd_uptime_seconds */
};

/* One seat op through the shared rules (edge_seat_apply) for the daemon's
 * own doors; returns the TKT_* status (TKT_MALFORMED on misuse). res may be
 * NULL when only the status matters. (edge_setup.c) */
int ticketd_seat_op(struct ticketd *app, uint8_t source, uint32_t op,
		    uint32_t slot, uint32_t event_id, uint32_t seat_id,
		    uint32_t ttl_ms, struct tkt_seat_res *res);

bool ticketd_seat_table_usable(const struct ticketd *app);

/* The sessions' claim_slot hook (ctx is the daemon): records the client
 * address as the slot's origin for origin_hold_limit, or -EBUSY when the
 * seat table still counts seats of an older session on the slot, which a
 * new token must never inherit. (edge_setup.c) */
struct sockaddr;
int ticketd_claim_slot(void *ctx, uint32_t slot, const struct sockaddr *origin);

#endif
