/* The HTTP layer: a libmicrohttpd server (epoll, thread pool), a table
 * router, JSON answers and errors ({"code","message","traceId","details"?}),
 * trace ids, streamed (SSE) and deferred answers, static files.
 *
 * It knows nothing of the program that uses it: the program passes its
 * routes, an opaque context (http_req.app) and callbacks in struct
 * http_server_opts. Handlers translate: parse, call the domain, map the
 * result to a status and body. */
#ifndef TICKETD_HTTP_H
#define TICKETD_HTTP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "userspace/lib/traceparent.h"

struct MHD_Connection;

#define HTTP_MAX_PARAMS 4

struct http_req {
	const char *method;
	const char *url;
	const char *body;
	size_t body_len;
	char trace_id[TRACE_ID_LEN + 1];
	const char *params[HTTP_MAX_PARAMS]; /* {name} segments of the route */
	int n_params;
	struct MHD_Connection *conn;
	void *app; /* http_server_opts.app */
	double start; /* tkt_mono_seconds when the request's headers were in */
	/* The client named by a trusted proxy (http_server_opts.
	 * trusted_proxies, api/forwarded.h); ss_family AF_UNSPEC when the
	 * TCP peer is the client. */
	struct sockaddr_storage forwarded;
};

/* Seconds since the request's headers were in (its time inside the
 * server so far). */
double http_req_age(const struct http_req *req);

struct http_deferred;
typedef void (*http_defer_start_fn)(void *arg, struct http_deferred *d);

/* A streamed body (SSE): read(cls, pos, buf, max) runs on the connection's
 * thread whenever the server can send. It returns 1..max bytes,
 * HTTP_STREAM_END (finish cleanly) or HTTP_STREAM_ABORT (close), or 0 only
 * after it suspended the connection (MHD_suspend_connection) and arranged
 * for someone to resume it: a reader that returns 0 otherwise spins.
 * free(cls) runs once when the connection ends, before its socket is
 * closed, also when the response could not be sent. */
typedef ssize_t (*http_stream_read_fn)(void *cls, uint64_t pos, char *buf,
				       size_t max);
#define HTTP_STREAM_END ((ssize_t)-1)
#define HTTP_STREAM_ABORT ((ssize_t)-2)

struct http_resp {
	int status;
	/* Set by http_stream: the body is streamed, not in body. */
	http_stream_read_fn stream_read;
	void (*stream_free)(void *cls);
	void *stream_cls;
	/* Set by http_defer: the answer comes later from another thread. */
	http_defer_start_fn defer_start;
	void *defer_arg;
	char *body; /* malloc'd, owned by the response */
	size_t body_len;
	const char *content_type;
	/* > 0: a Retry-After header of that many seconds. */
	unsigned retry_after;
	/* Non-empty: a Location header (a redirect). */
	char location[512];
	/* The web page or one of its files: the answer also carries the
	 * Content-Security-Policy and Referrer-Policy headers. */
	bool page;
};

typedef void (*http_handler)(struct http_req *req, struct http_resp *resp);

struct route {
	const char *method;
	const char *pattern; /* "/api/events/{id}/seats" */
	http_handler handler;
};

/* A door's in-flight gate: at most max requests inside at once (0: no
 * cap), counted from dispatch to the end of the answer (a deferred answer
 * stays inside until it is sent). Lock-free; any thread. */
struct http_gate {
	const char *name; /* the door's (http_door.name) */
	atomic_int inflight;
	int max;
	atomic_uint_least64_t rejected; /* refused by the cap */
};

/* Takes a place; false (counted in rejected, nothing taken) when full. */
bool http_gate_enter(struct http_gate *g);
void http_gate_leave(struct http_gate *g);

/* One door of the server: a name (for metrics; must outlive the server)
 * and its cap. http_server_start copies the doors array. */
struct http_door {
	const char *name;
	int max_inflight; /* 0: no cap */
};

/* Header value or NULL. */
const char *http_header(const struct http_req *req, const char *name);

/* The request's query string as received ("?a=1&b=2", arguments
 * re-encoded), or "" without one, into buf; false when it does not fit. */
bool http_query_string(const struct http_req *req, char *buf, size_t len);
/* Query-string argument value (decoded) or NULL. */
const char *http_query(const struct http_req *req, const char *name);

/* The client's address, or NULL if unknown: the TCP peer, or the address
 * a trusted proxy forwarded (http_server_opts.trusted_proxies). */
const struct sockaddr *http_client_addr(const struct http_req *req);

/* Sets a JSON body (consumes body). */
void http_json(struct http_resp *resp, int status, json_t *body);

/* Sets the contract's error body {"code","message","traceId","details"?}.
 * details is consumed and may be NULL. */
void http_error(struct http_resp *resp, const struct http_req *req, int status,
		const char *code, const char *message, json_t *details);

/* 503 OVERLOADED with Retry-After: retry_after seconds (at least 1) and
 * details {"door", "reason"}: a bounded queue or cap was full, nothing was
 * done, retry later. */
void http_overloaded(struct http_resp *resp, const struct http_req *req,
		     unsigned retry_after, const char *door, const char *reason);

/* Plain body copied from text. */
void http_text(struct http_resp *resp, int status, const char *content_type,
	       const char *text, size_t len);

/* Answers later: after the handler returns, the connection is suspended
 * (no HTTP thread waits) and start(arg, d) is called; whoever holds d then
 * calls http_deferred_finish exactly once, from any thread. */
void http_defer(struct http_resp *resp, http_defer_start_fn start, void *arg);
/* Sends resp (taking its body) on the deferred connection and resumes it. */
void http_deferred_finish(struct http_deferred *d, struct http_resp *resp);
/* The trace id of the deferred request. */
const char *http_deferred_trace_id(const struct http_deferred *d);
/* Seconds since the deferred request's headers were in. */
double http_deferred_age(const struct http_deferred *d);

/* Answers 200 with a streamed body of content_type (see http_stream_read_fn);
 * cls now belongs to the response, which frees it with stream_free. */
void http_stream(struct http_resp *resp, const char *content_type,
		 http_stream_read_fn read, void (*stream_free)(void *cls),
		 void *cls);

/* Parses the request body as a JSON object. On failure it has already set
 * the error response (400 MALFORMED_JSON or 422 VALIDATION_FAILED) and
 * returns NULL. An empty body gives an empty object when allow_empty. */
json_t *http_body_object(const struct http_req *req, struct http_resp *resp,
			 bool allow_empty);

/* Parses a decimal path id 0..UINT32_MAX; -1 if it is not one. */
int http_parse_u32(const char *s, uint32_t *out);

/* Route matching: fills params; returns 1 on match, 0 otherwise. */
int route_match(const char *pattern, const char *path, const char **params,
		int *n_params, char *scratch, size_t scratch_len);

/* The connection of a request, for streamed answers: its socket (-1 if
 * unknown), and suspend/resume for a reader with nothing to send (the
 * connection is a struct MHD_Connection passed as void * so callers need
 * not include microhttpd.h). */
int http_conn_fd(struct MHD_Connection *conn);
void http_conn_suspend(void *conn);
void http_conn_resume(void *conn);

/* Answers with the file dir/name (a single path segment: no '/', no
 * leading '.'), its type from the extension; 404 if it is missing. */
void http_send_file(struct http_req *req, struct http_resp *resp,
		    const char *dir, const char *name);

struct http_server;

struct http_server_opts {
	const char *addr; /* IPv4 listen address */
	int port;
	int threads;         /* epoll worker threads */
	int max_connections; /* streams included */
	/* Connections one client address may have open (0: no cap); more
	 * are closed at once, before any byte is read. */
	int max_connections_per_addr;
	/* A connection must deliver a whole request (headers and body) within
	 * this many ms of opening, or of its previous answer on a kept-alive
	 * connection; otherwise it is shut down. 0: no deadline. */
	int header_timeout_ms;
	long max_body;       /* larger bodies: 413 PAYLOAD_TOO_LARGE */
	/* Reverse proxies whose X-Forwarded-For names the client (addresses
	 * and blocks, api/forwarded.h); NULL or empty: none, the TCP peer is
	 * the client. The per-address connection cap still counts TCP peers. */
	const char *trusted_proxies;
	/* The doors: route_door(app, route) names each route's door by
	 * index into doors (called once per route at start; out of range:
	 * doors[0]). The routes of one door share its in-flight cap. NULL:
	 * no caps. A request that finds its door full is answered at once
	 * 503 OVERLOADED with Retry-After: overload_retry_after seconds,
	 * before its handler runs. */
	const struct http_door *doors;
	int n_doors;
	int (*route_door)(void *app, const struct route *rt);
	unsigned overload_retry_after;
	void *app;           /* handed to every handler as req->app */
	/* Called once per answered request on the worker thread, after the
	 * response is done (route is the matched pattern or "unmatched"). */
	void (*on_done)(void *app, const char *route, const char *method,
			int status, double seconds);
	/* Called by http_server_stop before the server stops, so that the
	 * program can end its suspended streams (libmicrohttpd must not stop
	 * with suspended connections). */
	void (*before_stop)(void *app);
	/* Called before a matched route's handler (and before its door's
	 * cap), with the route: false when it has answered already (resp
	 * set; the handler does not run). NULL: every route runs. */
	bool (*route_guard)(void *app, const struct route *rt,
			    struct http_req *req, struct http_resp *resp);
};

/* Starts listening; routes must outlive the server. */
int http_server_start(struct http_server **out,
		      const struct http_server_opts *opts,
		      const struct route *routes, size_t n_routes, char *err,
		      size_t errlen);
void http_server_stop(struct http_server *srv);

/* Connections shut down so far for missing the request deadline. */
uint64_t http_server_deadline_closes(struct http_server *srv);

/* A door's gate (in-flight count, refusals), or NULL for no such door. */
const struct http_gate *http_server_door(struct http_server *srv, int door);

#endif
