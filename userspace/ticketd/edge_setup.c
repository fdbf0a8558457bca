#include "userspace/ticketd/edge_setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "userspace/lib/edge.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/lib/private_dir.h"
#include "userspace/lib/udp_door.h"
#include "userspace/ticketd/ticketd.h"

int ticketd_seat_op(struct ticketd *app, uint8_t source, uint32_t op,
		    uint32_t slot, uint32_t event_id, uint32_t seat_id,
		    uint32_t ttl_ms, struct tkt_seat_res *res)
{
	struct tkt_seat_req rq = {.event_id = event_id, .seat_id = seat_id,
				  .slot = slot, .ttl_ms = ttl_ms, .op = op};
	struct tkt_seat_res local;

	if (!res)
		res = &local;
	if (edge_seat_apply(app->edge, (enum tkt_change_source)source, &rq, res))
		return TKT_MALFORMED;
	return res->status;
}

/* The database's identity (migration 005) into id->db_id. */
static int read_db_identity(struct ticketd *app, struct edge_identity *id,
			    char *err, size_t errlen)
{
	MYSQL *conn = db_get_timed(&app->db, DB_WORKER_WAIT_MS);
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc = -EIO;

	if (!conn) {
		snprintf(err, errlen, "reading the database identity: no "
			 "database connection");
		return -EIO;
	}
	if (mysql_query(conn, "SELECT id FROM database_identity WHERE one = 1") ||
	    !(res = mysql_store_result(conn))) {
		snprintf(err, errlen, "reading the database identity: %s",
			 mysql_error(conn));
		db_put(&app->db, conn);
		return -EIO;
	}
	row = mysql_fetch_row(res);
	if (row && row[0] && row[0][0] && strlen(row[0]) < sizeof(id->db_id)) {
		snprintf(id->db_id, sizeof(id->db_id), "%s", row[0]);
		rc = 0;
	} else {
		snprintf(err, errlen, "the database has no identity row "
			 "(database_identity, migration 005)");
	}
	mysql_free_result(res);
	db_put(&app->db, conn);
	return rc;
}

/* Compares the table's identity with the database's and the catalogue's
 * event layout; a table that differs (or has none) is cleared before any
 * event is declared, and recovery rebuilds it as on a fresh node. */
static int check_identity(struct ticketd *app, char *err, size_t errlen)
{
	struct edge_identity *id = &app->table_id;
	const char *reason = NULL;
	char why[256];
	int rc;

	rc = read_db_identity(app, id, err, errlen);
	if (rc)
		return rc;
	id->layout = EDGE_LAYOUT_INIT;
	for (uint32_t i = 0; i < app->catalog.n_events; i++) {
		const struct event_info *e = &app->catalog.events[i];

		id->layout = edge_layout_mix(id->layout, e->id, e->seat_base,
					     e->n_seats);
	}
	rc = edge_identity_check(app->edge, id, &reason, why, sizeof(why));
	if (rc < 0) {
		reason = "unreadable";
		snprintf(why, sizeof(why), "the table's identity cannot be read (%s)",
			 strerror(-rc));
	}
	if (rc == 0)
		return 0;
	if (edge_reused(app->edge)) {
		/* the one line that says why every word was dropped */
		log_msg(LOG_WARN, NULL,
			"seat table: %s; treating this node as fresh: every seat word, "
			"hold count and slot origin is cleared and rebuilt from MariaDB "
			"and Redis", why);
		app->table_reset_reason = reason;
	}
	rc = edge_reset(app->edge);
	if (rc)
		snprintf(err, errlen, "cannot clear the stale seat table: %s",
			 strerror(-rc));
	return rc;
}

int edge_setup_open(struct ticketd *app, char *err, size_t errlen)
{
	char shm_dir[CONFIG_STR_MAX + 8];
	struct edge_opts opts = {0};
	struct tkt_config tc = {0};
	int rc;

	snprintf(shm_dir, sizeof(shm_dir), "%s/shm", app->cfg.state_dir);
	/* Whoever owns or can write the pin directory can swap the maps under
	 * the XDP program: refuse one that is not ours (a missing one is
	 * created 0700 by the edge). */
	if (strcmp(app->cfg.hold_path, "socket")) {
		char why[512];

		rc = private_dir_check_path(app->cfg.pin_dir, why, sizeof(why));
		if (rc && rc != -ENOENT) {
			snprintf(err, errlen, "pin_dir: %s", why);
			return rc;
		}
	}
	opts.pin_dir = app->cfg.pin_dir;
	opts.shm_dir = shm_dir;
	opts.backend = strcmp(app->cfg.hold_path, "socket") ? EDGE_BACKEND_AUTO
							     : EDGE_BACKEND_SHM;
	opts.queue_capacity = (unsigned int)app->cfg.change_queue_records;
	rc = edge_open(&opts, &app->edge);
	if (rc) {
		snprintf(err, errlen, "cannot open the seat table: %s", strerror(-rc));
		return rc;
	}
	app->seats = (__u64 *)edge_seats(app->edge);
	app->table_unclean = edge_reused(app->edge) && !edge_closed_cleanly(app->edge);
	if (app->table_unclean)
		log_msg(LOG_WARN, NULL,
			"seat table: the seat file was not closed in order (kill -9 or a "
			"crash); on this boot its words and expiries are still right, "
			"so it is reused");
	rc = check_identity(app, err, errlen);
	if (rc)
		return rc;
	tc.key = app->token_key;
	tc.udp_port = (uint32_t)app->cfg.udp_port;
	tc.hold_secs_default = (uint32_t)app->cfg.hold_default_seconds;
	tc.hold_limit = (uint32_t)app->cfg.hold_limit;
	tc.origin_hold_limit = (uint32_t)app->cfg.origin_hold_limit;
	tc.hold_lifetime_max_secs = (uint32_t)app->cfg.hold_lifetime_max_seconds;
	/* Per source, checked before any answer (docs/protocol.md): room
	 * for a few hundred buyers behind one NAT address, while a spoofed
	 * victim gets at most this many 32-byte replies a second. */
	tc.rl_rate = (uint32_t)app->cfg.udp_rate_limit;
	tc.rl_burst = (uint32_t)app->cfg.udp_rate_burst;
	if (!app->cfg.udp_v1)
		tc.flags |= TKT_CFG_NO_V1;
	rc = edge_set_config(app->edge, &tc);
	for (uint32_t i = 0; !rc && i < app->catalog.n_events; i++) {
		const struct event_info *e = &app->catalog.events[i];

		/* multi-node: served only once the group gives it to us
		 * (shards/ownership.c) */
		rc = edge_set_event(app->edge, e->id, e->seat_base, e->n_seats,
				    !app->cfg.shards_on);
		if (rc == -ERANGE) {
			snprintf(err, errlen,
				 "cannot configure the seat table: event %u "
				 "does not fit it (event ids 0..%u, %u seats in all)",
				 (unsigned)e->id, TKT_MAX_EVENTS - 1, TKT_MAX_SEATS);
			return rc;
		}
	}
	if (rc) {
		snprintf(err, errlen, "cannot configure the seat table: %s",
			 strerror(-rc));
		return rc;
	}
	log_msg(LOG_INFO, NULL, "seat table: %s backend, %s",
		edge_backend(app->edge) == EDGE_BACKEND_BPF ? "bpf" : "shm",
		edge_reused(app->edge)	     ? "reused from the previous run"
		: app->table_reset_reason ? "cleared (stale)"
					     : "created empty");
	return 0;
}

static int start_socket_door(struct ticketd *app, char *err, size_t errlen)
{
	struct udp_door_opts o = {.addr = app->cfg.udp_addr,
				  .port = app->cfg.udp_port,
				  .workers = app->cfg.udp_workers};
	int rc = udp_door_start(app->edge, &o, &app->udp);

	if (rc) {
		snprintf(err, errlen, "socket door on %s:%d: %s", app->cfg.udp_addr,
			 app->cfg.udp_port, strerror(-rc));
		return rc;
	}
	app->hold_path = "socket";
	log_msg(LOG_INFO, NULL, "UDP hold door: socket on %s:%d, %d workers",
		app->cfg.udp_addr, app->cfg.udp_port, udp_door_workers(app->udp));
	return 0;
}

int edge_setup_doors(struct ticketd *app, char *err, size_t errlen)
{
	const struct config *c = &app->cfg;
	int rc;

	if (!strcmp(c->hold_path, "socket") || !c->xdp_iface[0]) {
		if (!strcmp(c->hold_path, "xdp")) {
			snprintf(err, errlen, "hold_path xdp needs --xdp-iface");
			return -EINVAL;
		}
		return start_socket_door(app, err, errlen);
	}
	rc = edge_backend(app->edge) == EDGE_BACKEND_BPF
		     ? edge_attach_xdp(app->edge, c->xdp_iface,
				       c->xdp_netns[0] ? c->xdp_netns : NULL,
				       c->xdp_peer_iface[0] ? c->xdp_peer_iface : NULL)
		     : -EOPNOTSUPP;
	if (!rc) {
		app->hold_path = "xdp";
		log_msg(LOG_INFO, NULL, "UDP hold door: XDP (%s mode) on %s%s%s, port %d",
			edge_xdp_mode(app->edge) == EDGE_XDP_NATIVE ? "native" : "generic",
			c->xdp_iface, c->xdp_netns[0] ? " in netns " : "", c->xdp_netns,
			c->udp_port);
		return 0;
	}
	if (!strcmp(c->hold_path, "xdp")) {
		snprintf(err, errlen, "cannot attach XDP to %s: %s", c->xdp_iface,
			 strerror(-rc));
		return rc;
	}
	log_msg(LOG_WARN, NULL, "cannot attach XDP to %s (%s); serving UDP from a socket",
		c->xdp_iface, strerror(-rc));
	return start_socket_door(app, err, errlen);
}

void edge_setup_close_doors(struct ticketd *app)
{
	if (app->udp) {
		int rc = udp_door_stop(app->udp);

		if (rc)
			log_msg(LOG_WARN, NULL, "socket door stopped with %s", strerror(-rc));
		app->udp = NULL;
	}
	if (app->edge && edge_xdp_mode(app->edge) != EDGE_XDP_NONE)
		edge_detach_xdp(app->edge);
}

void edge_setup_close(struct ticketd *app)
{
	edge_setup_close_doors(app);
	edge_close(app->edge);
	app->edge = NULL;
	app->seats = NULL;
}

int ticketd_claim_slot(void *ctx, uint32_t slot, const struct sockaddr *origin)
{
	struct ticketd *app = ctx;

	if (edge_slot_claim(app->edge, slot, origin) == -EBUSY)
		return -EBUSY;
	/* The old session's v2 window must not drop the new one's ids. */
	(void)edge_replay_reset(app->edge, slot);
	return 0;
}

bool ticketd_seat_table_usable(const struct ticketd *app)
{
	return app->seats != NULL;
}

int edge_setup_identify(struct ticketd *app)
{
	int rc = edge_identity_write(app->edge, &app->table_id);

	if (rc)
		log_msg(LOG_WARN, NULL, "seat table: cannot write its identity (%s); "
			"the next start rebuilds it again", strerror(-rc));
	return rc;
}

int edge_setup_render_metrics(struct ticketd *app, char **buf, size_t *len,
			      size_t *cap)
{
	static const char *const reasons[] = {"no identity", "database", "layout",
					      "boot", "unreadable"};
	int rc = metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_seat_table_stale_total Starts that found a seat table "
		"built for another database, event layout or boot (or with no "
		"identity) and rebuilt it as a fresh node, by reason.\n"
		"# TYPE ticketd_seat_table_stale_total counter\n");

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		rc |= metrics_appendf(buf, len, cap,
				      "ticketd_seat_table_stale_total{reason=\"%s\"} %d\n",
				      reasons[i],
				      app->table_reset_reason &&
					      !strcmp(app->table_reset_reason, reasons[i]));
	rc |= metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_seat_table_unclean_reuse_total Starts that reused a seat "
		"file its last process did not close in order (same boot).\n"
		"# TYPE ticketd_seat_table_unclean_reuse_total counter\n"
		"ticketd_seat_table_unclean_reuse_total %d\n"
		"# HELP ticketd_journal_foreign_holds_dropped_total Holds in the Redis "
		"journal of another database, deleted instead of restored at start.\n"
		"# TYPE ticketd_journal_foreign_holds_dropped_total counter\n"
		"ticketd_journal_foreign_holds_dropped_total %u\n",
		app->table_unclean, app->journal_foreign);
	return rc;
}
