#include "userspace/ticketd/privileges.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "userspace/lib/edge.h"
#include "userspace/lib/log.h"
#include "userspace/ticketd/ticketd.h"

/* XDP is attached by the UDP door step, after the drop, as a BPF link:
 * BPF_LINK_CREATE on an XDP hook (CAP_BPF, CAP_NET_ADMIN), and setns into
 * xdp_netns when one is set (CAP_SYS_ADMIN). Detaching is closing the link:
 * no capability. Everything else ticketd does with BPF after the seat
 * table is open works on descriptors it already holds (map reads and
 * writes, BPF_PROG_TEST_RUN of hold_count, the mmapped seat array and ring
 * buffer) and needs no capability. */
static bool wants_xdp(const struct ticketd *app)
{
	return app->cfg.xdp_iface[0] && strcmp(app->cfg.hold_path, "socket") &&
	       app->edge && edge_backend(app->edge) == EDGE_BACKEND_BPF;
}

/* Ports below 1024 are bound after the drop (HTTP, socket door). */
static bool wants_low_port(const struct ticketd *app)
{
	return app->cfg.http_port < 1024 || (!wants_xdp(app) && app->cfg.udp_port < 1024);
}

const char *privileges_needed(const struct ticketd *app)
{
	bool low = wants_low_port(app);

	if (wants_xdp(app) && app->cfg.xdp_netns[0])
		return low ? "cap_net_admin,cap_sys_admin,cap_bpf,cap_net_bind_service=ep"
			   : "cap_net_admin,cap_sys_admin,cap_bpf=ep";
	if (wants_xdp(app))
		return low ? "cap_net_admin,cap_bpf,cap_net_bind_service=ep"
			   : "cap_net_admin,cap_bpf=ep";
	return low ? "cap_net_bind_service=ep" : "=";
}

int privileges_drop(struct ticketd *app, char *err, size_t errlen)
{
	cap_t cur = cap_get_proc(), want = cap_from_text(privileges_needed(app));
	cap_flag_value_t v;
	bool can_bound = false;
	char *text = NULL;
	int rc = -1;

	if (!cur || !want) {
		snprintf(err, errlen, "reading capabilities: %s", strerror(errno));
		goto out;
	}
	/* Keep only what we have: a daemon started without a capability
	 * cannot be given it back. */
	for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits(); c++) {
		cap_flag_value_t have = CAP_CLEAR;

		cap_get_flag(want, c, CAP_PERMITTED, &v);
		if (v == CAP_SET && !cap_get_flag(cur, c, CAP_PERMITTED, &have) &&
		    have != CAP_SET) {
			cap_set_flag(want, CAP_PERMITTED, 1, &c, CAP_CLEAR);
			cap_set_flag(want, CAP_EFFECTIVE, 1, &c, CAP_CLEAR);
		}
	}
	if (!cap_get_flag(cur, CAP_SETPCAP, CAP_EFFECTIVE, &v) && v == CAP_SET)
		can_bound = true;
	for (cap_value_t c = 0; can_bound && c < (cap_value_t)cap_max_bits(); c++) {
		cap_get_flag(want, c, CAP_PERMITTED, &v);
		if (v != CAP_SET && cap_drop_bound(c) && errno != EINVAL) {
			snprintf(err, errlen, "dropping capability %d from the bounding set: %s",
				 (int)c, strerror(errno));
			goto out;
		}
	}
	if (cap_set_proc(want)) {
		snprintf(err, errlen, "dropping capabilities: %s", strerror(errno));
		goto out;
	}
	if (cap_reset_ambient() && errno != EINVAL) {
		snprintf(err, errlen, "clearing the ambient capabilities: %s", strerror(errno));
		goto out;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		snprintf(err, errlen, "setting no_new_privs: %s", strerror(errno));
		goto out;
	}
	text = cap_to_text(want, NULL);
	log_msg(LOG_INFO, NULL, "privileges: keeping capabilities \"%s\"%s, no_new_privs",
		text ? text : "?", can_bound ? ", bounding set reduced" : "");
	rc = 0;
out:
	cap_free(text);
	cap_free(want);
	cap_free(cur);
	return rc;
}
