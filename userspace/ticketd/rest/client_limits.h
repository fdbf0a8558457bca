/* Limits per client address on the REST API, over one addr_limit table
 * (userspace/lib/addr_limit.h): the rate of POST /api/sessions
 * (session_rate_per_addr, session_burst_per_addr) and open seat streams
 * (sse_max_streams_per_addr). */
#ifndef TICKETD_CLIENT_LIMITS_H
#define TICKETD_CLIENT_LIMITS_H

#include <stdatomic.h>
#include <stdbool.h>

#include "api/http.h"
#include "userspace/lib/addr_limit.h"

struct ticketd;

struct client_limits {
	struct addr_limit *table; /* set while the HTTP server runs */
	atomic_uint_least64_t sessions_refused, streams_refused;
};

/* Creates app->limits' table from the settings. Returns 0 or -ENOMEM. */
int client_limits_start(struct ticketd *app);
/* After the HTTP server stopped (streams release their places). */
void client_limits_stop(struct ticketd *app);

/* Takes one session token of the client's bucket. false: the answer (429
 * RATE_LIMITED with Retry-After) is already set. */
bool client_session_allowed(struct http_req *req, struct http_resp *resp);

/* Counts one more open stream for the client. false: the answer (429
 * TOO_MANY_STREAMS with Retry-After) is already set. On true, *key is what
 * client_stream_end takes when the stream ends; *counted is false when the
 * client has no IP address (nothing to release). */
bool client_stream_begin(struct http_req *req, struct http_resp *resp,
			 struct addr_key *key, bool *counted);
void client_stream_end(struct ticketd *app, const struct addr_key *key);

/* Appends the refusal counters and the HTTP server's request-deadline
 * closes to a Prometheus text. Returns 0 or -ENOMEM. */
int client_limits_render_metrics(struct ticketd *app, char **buf, size_t *len,
				 size_t *cap);

#endif
