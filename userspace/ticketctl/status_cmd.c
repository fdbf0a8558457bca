/* ticketctl status: is this node's ticketd up and ready, and how is it
 * doing, from its /healthz, /readyz and /metrics (docs/api.md):
 *
 *   ticketctl status [--admin URL] [--timeout-ms N] [--json]
 *
 * Shows the version and uptime (ticketd_build_info, ticketd_uptime_seconds
 * of /metrics), readiness with the part that is down (or
 * "draining"), the live UDP hold path (xdp or socket), the seat table's
 * backend and a few counters an operator looks at first. No admin key
 * needed. Exit: 0 ready, 1 unreachable or not answering, 2 usage, 3
 * answering but not ready (a dependency down, or draining). */
#include "userspace/ticketctl/status_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketctl/ctl_http.h"
#include "userspace/ticketctl/prom_text.h"

static const char status_usage[] =
	"usage: ticketctl status [--admin URL] [--timeout-ms N] [--json]\n"
	"  ticketd's health, readiness (which part is down, or draining), version,\n"
	"  uptime, live UDP hold path and key counters from /metrics\n"
	"  --admin URL       ticketd's HTTP address (default $TICKET_URL or " CTL_DEFAULT_URL ")\n"
	"  --timeout-ms N    per request (default 3000)\n"
	"  --json            one JSON object\n"
	"exit: 0 ready, 1 unreachable, 2 usage, 3 not ready (a dependency down, or draining)\n";

/* The counters shown: label, metric, label filters, and whether no
 * sample means 0 (series that appear with their first event) rather than
 * "not exported here" (null). */
struct counter {
	const char *key;
	const char *metric;
	const char *match[5];
	bool zero_if_absent;
};

static const struct counter counters[] = {
	{"udpOkXdp", "ticketd_udp_outcomes_total", {"door", "xdp", "outcome", "OK", NULL}, false},
	{"udpOkSocket", "ticketd_udp_outcomes_total", {"door", "userspace", "outcome", "OK", NULL}, false},
	{"ordersConfirmed", "ticketd_orders_ended_total", {"status", "CONFIRMED", NULL}, false},
	{"ordersCancelled", "ticketd_orders_ended_total", {"status", "CANCELLED", NULL}, false},
	{"orderedSeats", "ticketd_ordered_seats", {NULL}, false},
	{"http5xx", "ticketd_http_requests_total", {"status", "5*", NULL}, true},
	{"journalLagSeconds", "ticketd_journal_lag_seconds", {NULL}, false},
	{"ringbufUnreadBytes", "ticketd_bpf_ringbuf_unread_bytes", {NULL}, false},
};
#define N_COUNTERS (sizeof(counters) / sizeof(counters[0]))

static json_t *get_json(const char *base, const char *path, long timeout_ms, long *status,
			char *err, size_t errlen)
{
	char url[512];
	struct ctl_answer a;
	json_t *j;

	snprintf(url, sizeof(url), "%s%s", base, path);
	if (ctl_http("GET", url, NULL, NULL, timeout_ms, &a, err, errlen))
		return NULL;
	*status = a.status;
	j = a.body ? json_loads(a.body, 0, NULL) : NULL;
	if (!j)
		snprintf(err, errlen, "%s: HTTP %ld, not JSON", url, a.status);
	ctl_answer_free(&a);
	return j;
}

static void fmt_uptime(long long s, char *out, size_t cap)
{
	if (s >= 86400)
		snprintf(out, cap, "%lldd%02lldh%02lldm", s / 86400, s % 86400 / 3600, s % 3600 / 60);
	else if (s >= 3600)
		snprintf(out, cap, "%lldh%02lldm%02llds", s / 3600, s % 3600 / 60, s % 60);
	else
		snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
}

static void print_text(const char *base, json_t *out)
{
	json_t *ready = json_object_get(out, "readiness"), *checks, *v, *c;
	const char *k;
	char up[32];

	fmt_uptime(json_integer_value(json_object_get(out, "uptimeSeconds")), up, sizeof(up));
	printf("ticketd %s: %s (version %s, up %s)\n", base,
	       json_is_true(json_object_get(out, "ready")) ? "READY" : "NOT READY",
	       json_string_value(json_object_get(out, "version")) ?: "?", up);
	if (json_string_value(json_object_get(ready, "reason")))
		printf("  reason: %s\n", json_string_value(json_object_get(ready, "reason")));
	printf("  UDP hold path: %s%s, seat table: %s\n",
	       json_string_value(json_object_get(ready, "holdPath")) ?: "?",
	       json_is_true(json_object_get(ready, "draining")) ? " (closed: draining)" : "",
	       json_string_value(json_object_get(out, "backend")) ?: "?");
	printf("  checks:");
	checks = json_object_get(ready, "checks");
	json_object_foreach(checks, k, v)
	{
		const char *st = json_is_string(v) ? json_string_value(v)
						   : json_string_value(json_object_get(v, "status"));

		printf(" %s %s", k, st ?: "?");
		if (json_is_object(v) && json_string_value(json_object_get(v, "reason")))
			printf(" (%s)", json_string_value(json_object_get(v, "reason")));
		printf(";");
	}
	printf("\n");
	v = json_object_get(ready, "journal");
	if (v)
		printf("  journal: %s (queued %lld, lag %lld ms)\n",
		       json_string_value(json_object_get(v, "status")) ?: "?",
		       json_integer_value(json_object_get(v, "queued")),
		       json_integer_value(json_object_get(v, "lagMs")));
	c = json_object_get(out, "counters");
	printf("  counters:");
	json_object_foreach(c, k, v)
	{
		if (json_is_null(v))
			printf(" %s -", k);
		else
			printf(" %s %g", k, json_number_value(v));
		printf(";");
	}
	printf("\n");
}

int ticketctl_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"admin", required_argument, NULL, 'A'},
		{"timeout-ms", required_argument, NULL, 'T'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = ctl_default_url();
	long timeout_ms = 3000, status = 0;
	bool json = false;
	json_t *health = NULL, *ready = NULL, *out = NULL, *cnt;
	struct ctl_answer m = {0};
	char err[600] = "", url[512], *text;
	int c, rc = CTL_EXIT_ERROR;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'A':
			base = optarg;
			break;
		case 'T':
			errno = 0;
			timeout_ms = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || timeout_ms < 1 || timeout_ms > 600000) {
				fputs(status_usage, stderr);
				return CTL_EXIT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(status_usage, stdout);
			return CTL_EXIT_OK;
		default:
			fputs(status_usage, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(status_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	health = get_json(base, "/healthz", timeout_ms, &status, err, sizeof(err));
	if (!health || status != 200) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s/healthz: HTTP %ld", base, status);
		goto fail;
	}
	ready = get_json(base, "/readyz", timeout_ms, &status, err, sizeof(err));
	if (!ready)
		goto fail;
	snprintf(url, sizeof(url), "%s/metrics", base);
	if (ctl_http("GET", url, NULL, NULL, timeout_ms, &m, err, sizeof(err)))
		goto fail;
	cnt = json_object();
	for (size_t i = 0; i < N_COUNTERS; i++) {
		double sum;

		int n = prom_sum(m.body, counters[i].metric, counters[i].match, &sum);

		json_object_set_new(cnt, counters[i].key,
				    !n && !counters[i].zero_if_absent ? json_null()
				    : sum == (double)(json_int_t)sum ? json_integer((json_int_t)sum)
								       : json_real(sum));
	}
	{
		const char *bpf[] = {"backend", "bpf", NULL}, *shm[] = {"backend", "shm", NULL};
		double b = 0, s = 0, up = -1;
		char version[64];

		prom_sum(m.body, "ticketd_edge_backend", bpf, &b);
		prom_sum(m.body, "ticketd_edge_backend", shm, &s);
		if (!prom_first_label(m.body, "ticketd_build_info", "version", version,
				      sizeof(version)))
			version[0] = '\0';
		if (!prom_sum(m.body, "ticketd_uptime_seconds", NULL, &up))
			up = -1;
		out = json_pack("{s:s, s:b, s:b, s:s?, s:o, s:O?, s:s, s:b, s:O, s:o}", "url", base,
				"reachable", 1, "ready", status == 200, "version",
				version[0] ? version : NULL, "uptimeSeconds",
				up >= 0 ? json_integer((json_int_t)up) : json_null(),
				"holdPath", json_object_get(ready, "holdPath"), "backend",
				b > 0 ? "bpf" : s > 0 ? "shm" : "none", "draining",
				json_is_true(json_object_get(ready, "draining")), "readiness", ready,
				"counters", cnt);
	}
	if (!out)
		goto fail;
	if (json) {
		text = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		print_text(base, out);
	}
	rc = status == 200 ? CTL_EXIT_OK : CTL_EXIT_NOT_READY;
	goto out;
fail:
	fprintf(stderr, "ticketctl: %s\n", err);
	if (json) {
		json_t *j = json_pack("{s:s, s:b, s:b, s:s}", "url", base, "reachable", 0, "ready", 0,
				      "error", err);

		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
	}
out:
	ctl_answer_free(&m);
	json_decref(health);
	json_decref(ready);
	json_decref(out);
	return rc;
}
