#include "userspace/ticketd/edge_setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "userspace/lib/edge.h"
#include "userspace/lib/log.h"
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

		rc = edge_set_event(app->edge, e->id, e->seat_base, e->n_seats, true);
	}
	if (rc) {
		snprintf(err, errlen, "cannot configure the seat table: %s",
			 strerror(-rc));
		return rc;
	}
	log_msg(LOG_INFO, NULL, "seat table: %s backend, %s",
		edge_backend(app->edge) == EDGE_BACKEND_BPF ? "bpf" : "shm",
		edge_reused(app->edge) ? "reused from the previous run"
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
