/* Per-client-address limits of the REST API (client_limits.h). */
#include "userspace/ticketd/rest/client_limits.h"

#include <errno.h>
#include <stdio.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/metrics.h"
#include "userspace/ticketd/ticketd.h"

/* Table size: four entries for every stream that can be open at once keeps
 * a set full of busy entries out of reach (addr_limit_new). */
#define ENTRIES_PER_STREAM 4
#define MIN_ENTRIES 16384

int client_limits_start(struct ticketd *app)
{
	size_t entries = (size_t)app->cfg.sse_max_clients * ENTRIES_PER_STREAM;

	if (entries < MIN_ENTRIES)
		entries = MIN_ENTRIES;
	app->limits.table = addr_limit_new(entries, app->cfg.session_rate_per_addr,
					    (uint32_t)app->cfg.session_burst_per_addr);
	return app->limits.table ? 0 : -ENOMEM;
}

void client_limits_stop(struct ticketd *app)
{
	addr_limit_free(app->limits.table);
	app->limits.table = NULL;
}

static unsigned whole_seconds_up(uint64_t ns)
{
	uint64_t s = (ns + 999999999u) / 1000000000u;

	return s ? (unsigned)s : 1;
}

/* A set of the table has no entry to spare (addr_limit.h): not expected at
 * the table's size; refuse briefly rather than lose a count. */
static void table_full(struct http_req *req, struct http_resp *resp)
{
	http_error(resp, req, 503, "UNAVAILABLE",
		   "too many clients right now; try again", NULL);
	resp->retry_after = 1;
}

bool client_session_allowed(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = req->app;
	struct addr_key key;
	uint64_t retry_ns = 0;
	char msg[128];

	if (addr_key_from_sockaddr(http_client_addr(req), &key))
		return true; /* not an IP client: nothing to key on */
	switch (addr_limit_take(app->limits.table, &key, tkt_mono_ns(), &retry_ns)) {
	case ADDR_LIMIT_OK:
		return true;
	case ADDR_LIMIT_FULL:
		table_full(req, resp);
		return false;
	case ADDR_LIMIT_OVER:
		break;
	}
	atomic_fetch_add(&app->limits.sessions_refused, 1);
	snprintf(msg, sizeof(msg),
		 "this address creates sessions faster than %d a second (burst %d); "
		 "retry later",
		 app->cfg.session_rate_per_addr, app->cfg.session_burst_per_addr);
	http_error(resp, req, 429, "RATE_LIMITED", msg, NULL);
	resp->retry_after = whole_seconds_up(retry_ns);
	return false;
}

bool client_stream_begin(struct http_req *req, struct http_resp *resp,
			 struct addr_key *key, bool *counted)
{
	struct ticketd *app = req->app;
	char msg[128];

	*counted = false;
	if (addr_key_from_sockaddr(http_client_addr(req), key))
		return true;
	switch (addr_limit_acquire(app->limits.table, key,
				   (uint32_t)app->cfg.sse_max_streams_per_addr,
				   tkt_mono_ns())) {
	case ADDR_LIMIT_OK:
		*counted = true;
		return true;
	case ADDR_LIMIT_FULL:
		table_full(req, resp);
		return false;
	case ADDR_LIMIT_OVER:
		break;
	}
	atomic_fetch_add(&app->limits.streams_refused, 1);
	snprintf(msg, sizeof(msg), "this address already has %d seat streams open",
		 app->cfg.sse_max_streams_per_addr);
	http_error(resp, req, 429, "TOO_MANY_STREAMS", msg, NULL);
	resp->retry_after = 5;
	return false;
}

void client_stream_end(struct ticketd *app, const struct addr_key *key)
{
	addr_limit_release(app->limits.table, key);
}

int client_limits_render_metrics(struct ticketd *app, char **buf, size_t *len,
				 size_t *cap)
{
	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_http_limited_total Requests refused by a per-address limit.\n"
		"# TYPE ticketd_http_limited_total counter\n"
		"ticketd_http_limited_total{limit=\"session_rate\"} %llu\n"
		"ticketd_http_limited_total{limit=\"streams_per_addr\"} %llu\n"
		"# HELP ticketd_http_deadline_closes_total Connections shut down for not sending a whole request within http_header_timeout_ms.\n"
		"# TYPE ticketd_http_deadline_closes_total counter\n"
		"ticketd_http_deadline_closes_total %llu\n",
		(unsigned long long)atomic_load(&app->limits.sessions_refused),
		(unsigned long long)atomic_load(&app->limits.streams_refused),
		(unsigned long long)http_server_deadline_closes(app->http));
}
