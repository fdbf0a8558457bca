/* libmicrohttpd glue: collects the body (bounded), gives every request a
 * trace id, dispatches through the route table, records metrics and an
 * access log line when the response is done, and enforces the request
 * deadline (below, "Request deadline"). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#include "api/forwarded.h"
#include "api/http.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/lib/trace.h"

/* One connection's place in the request-deadline queue (its socket
 * context). */
struct conn_watch {
	struct conn_watch *prev, *next; /* srv->watch_head list, while armed */
	uint64_t deadline_ns;           /* CLOCK_MONOTONIC */
	int fd;
	bool armed;
};

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_server_opts opts;
	const struct route *routes;
	size_t n_routes;
	struct http_proxies proxies; /* opts.trusted_proxies, parsed */

	/* Request deadline: the connections still waiting for a whole
	 * request, oldest deadline first (every arm appends now + the same
	 * timeout, so appending keeps the order). */
	uint64_t timeout_ns; /* 0: no deadline, no reaper */
	pthread_mutex_t watch_lock; /* guards the list, every conn_watch, stop */
	pthread_cond_t watch_cond;  /* the reaper waits on it (CLOCK_MONOTONIC) */
	struct conn_watch *watch_head, *watch_tail;
	bool reaper_stop;
	pthread_t reaper;
	bool reaper_on;
	atomic_uint_least64_t reaped;

	/* One gate per door (opts.doors); NULL when no doors were given. */
	struct http_gate *gates;
	int n_gates;
	int *route_gate; /* per route: its door's index in gates */
};

/* A suspended request waiting for http_deferred_finish. */
struct http_deferred {
	struct MHD_Connection *conn;
	struct req_ctx *ctx;
};

/* Per-request state, from the first callback to the completion notice. */
struct req_ctx {
	struct http_deferred deferred;
	atomic_bool deferred_done;
	struct http_resp final_resp; /* set by http_deferred_finish */
	double start; /* tkt_mono_seconds */
	char *body;
	size_t body_len, body_cap;
	int too_large;
	bool request_in; /* the request deadline is disarmed */
	int status;
	const char *route; /* pattern, for metrics; static */
	struct http_gate *gate; /* the door place this request holds, or NULL */
	char method[8];
	char trace_id[TRACE_ID_LEN + 1];
	struct trace_span *span; /* the server span (NULL: tracing off) */
};

static const char ROUTE_UNMATCHED[] = "unmatched";

_Static_assert(HTTP_STREAM_END == MHD_CONTENT_READER_END_OF_STREAM,
	       "stream end code is libmicrohttpd's");
_Static_assert(HTTP_STREAM_ABORT == MHD_CONTENT_READER_END_WITH_ERROR,
	       "stream abort code is libmicrohttpd's");

/* Size of the buffer libmicrohttpd gives a streamed body's reader when it
 * cannot use chunked encoding (HTTP/1.0); with HTTP/1.1 the reader writes
 * straight into the connection's write buffer. */
#define STREAM_BLOCK 1024

void http_stream(struct http_resp *resp, const char *content_type,
		 http_stream_read_fn read, void (*stream_free)(void *cls),
		 void *cls)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->status = 200;
	resp->content_type = content_type;
	resp->stream_read = read;
	resp->stream_free = stream_free;
	resp->stream_cls = cls;
}

static struct MHD_Response *stream_response(struct http_resp *resp)
{
	struct MHD_Response *r = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, STREAM_BLOCK, resp->stream_read, resp->stream_cls,
		resp->stream_free);

	if (!r)
		resp->stream_free(resp->stream_cls);
	resp->stream_read = NULL;
	free(resp->body);
	resp->body = NULL;
	if (r) /* for proxies: do not buffer the stream */
		MHD_add_response_header(r, "X-Accel-Buffering", "no");
	return r;
}

/* The web page's policy: its own scripts, styles and API only (the built
 * page has no inline script or style; its icon is a data: URL), no
 * plugins, no <base>, never framed. */
#define PAGE_CSP                                                              \
	"default-src 'self'; connect-src 'self'; img-src 'self' data: blob:; " \
	"object-src 'none'; base-uri 'none'; form-action 'self'; "           \
	"frame-ancestors 'none'"

/* ---- Request deadline ----
 *
 * libmicrohttpd 0.9.75's MHD_OPTION_CONNECTION_TIMEOUT counts inactivity,
 * so a client that trickles a byte now and then holds a connection for as
 * long as it likes. Here each connection gets a deadline when it opens
 * (MHD_OPTION_NOTIFY_CONNECTION, STARTED) and again after each answer on a
 * kept-alive connection (on_completed); the access handler disarms it once
 * the whole request (headers and body) is in. The reaper thread shuts down
 * (shutdown(2), never close) the socket of every connection past its
 * deadline; libmicrohttpd then sees the connection fail and closes it
 * itself. Connections that got their request, including suspended SSE
 * streams, are never touched.
 *
 * No fd-reuse race: the reaper calls shutdown only under watch_lock and
 * only for an armed watch; notify_connection (CLOSED) takes watch_lock and
 * disarms the watch before libmicrohttpd closes the socket. In 0.9.75
 * MHD_cleanup_connections and the failure path of new_connection_process_
 * both call notify_connection(CLOSED) before MHD_socket_close_chk_, and a
 * connection that never got STARTED (new_connection_close_) never had a
 * watch. So while a watch is armed its fd is still this connection's. */

static void watch_unlink(struct http_server *srv, struct conn_watch *w)
{
	if (!w->armed)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		srv->watch_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		srv->watch_tail = w->prev;
	w->prev = w->next = NULL;
	w->armed = false;
}

/* (Re)starts w's deadline from now. */
static void watch_arm(struct http_server *srv, struct conn_watch *w)
{
	bool was_empty;

	pthread_mutex_lock(&srv->watch_lock);
	watch_unlink(srv, w);
	w->deadline_ns = tkt_mono_ns() + srv->timeout_ns;
	was_empty = !srv->watch_head;
	w->prev = srv->watch_tail;
	if (srv->watch_tail)
		srv->watch_tail->next = w;
	else
		srv->watch_head = w;
	srv->watch_tail = w;
	w->armed = true;
	if (was_empty) /* the reaper may be sleeping with no deadline */
		pthread_cond_signal(&srv->watch_cond);
	pthread_mutex_unlock(&srv->watch_lock);
}

static void watch_disarm(struct http_server *srv, struct conn_watch *w)
{
	pthread_mutex_lock(&srv->watch_lock);
	watch_unlink(srv, w);
	pthread_mutex_unlock(&srv->watch_lock);
}

static struct conn_watch *watch_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
			  void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *srv = cls;
	struct conn_watch *w = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		w = calloc(1, sizeof(*w));
		if (!w) /* no deadline for this one; the idle timeout remains */
			return;
		w->fd = http_conn_fd(conn);
		*socket_context = w;
		if (w->fd >= 0)
			watch_arm(srv, w);
		return;
	}
	if (!w)
		return;
	watch_disarm(srv, w); /* before libmicrohttpd closes the socket */
	free(w);
	*socket_context = NULL;
}

static void *reaper_main(void *arg)
{
	struct http_server *srv = arg;

	pthread_mutex_lock(&srv->watch_lock);
	while (!srv->reaper_stop) {
		uint64_t now = tkt_mono_ns(), wake;
		struct timespec ts;

		while (srv->watch_head && srv->watch_head->deadline_ns <= now) {
			struct conn_watch *w = srv->watch_head;

			watch_unlink(srv, w);
			shutdown(w->fd, SHUT_RDWR);
			atomic_fetch_add(&srv->reaped, 1);
		}
		wake = srv->watch_head ? srv->watch_head->deadline_ns
				       : now + srv->timeout_ns;
		ts.tv_sec = (time_t)(wake / 1000000000u);
		ts.tv_nsec = (long)(wake % 1000000000u);
		pthread_cond_timedwait(&srv->watch_cond, &srv->watch_lock, &ts);
	}
	pthread_mutex_unlock(&srv->watch_lock);
	return NULL;
}

static int reaper_start(struct http_server *srv)
{
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&srv->watch_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->watch_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!srv->timeout_ns)
		return 0;
	rc = pthread_create(&srv->reaper, NULL, reaper_main, srv);
	if (rc)
		return -rc;
	srv->reaper_on = true;
	return 0;
}

static void reaper_stop(struct http_server *srv)
{
	if (srv->reaper_on) {
		pthread_mutex_lock(&srv->watch_lock);
		srv->reaper_stop = true;
		pthread_cond_signal(&srv->watch_cond);
		pthread_mutex_unlock(&srv->watch_lock);
		pthread_join(srv->reaper, NULL);
		srv->reaper_on = false;
	}
	pthread_cond_destroy(&srv->watch_cond);
	pthread_mutex_destroy(&srv->watch_lock);
}

uint64_t http_server_deadline_closes(struct http_server *srv)
{
	return srv ? atomic_load(&srv->reaped) : 0;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn,
				 struct req_ctx *ctx, struct http_resp *resp)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (resp->stream_read) {
		r = stream_response(resp);
		if (!r)
			return MHD_NO;
	} else {
		r = MHD_create_response_from_buffer(resp->body_len, resp->body,
						    MHD_RESPMEM_MUST_FREE);
		if (!r) {
			free(resp->body);
			return MHD_NO;
		}
		resp->body = NULL;
	}
	MHD_add_response_header(r, "Content-Type",
				resp->content_type ? resp->content_type
						   : "application/json");
	MHD_add_response_header(r, "Trace-Id", ctx->trace_id);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	if (resp->page) {
		MHD_add_response_header(r, "Content-Security-Policy", PAGE_CSP);
		MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	}
	if (resp->location[0])
		MHD_add_response_header(r, "Location", resp->location);
	if (resp->retry_after) {
		char secs[16];

		snprintf(secs, sizeof(secs), "%u", resp->retry_after);
		MHD_add_response_header(r, "Retry-After", secs);
	}
	ctx->status = resp->status;
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Collects the values of every X-Forwarded-For header, in order. */
struct xff_values {
	const char *v[8];
	int n;
	bool overflow; /* more headers than v holds */
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind,
				   const char *key, const char *value)
{
	struct xff_values *x = cls;

	(void)kind;
	if (key && value && !strcasecmp(key, "X-Forwarded-For")) {
		if (x->n == (int)(sizeof(x->v) / sizeof(x->v[0]))) {
			x->overflow = true;
			return MHD_NO;
		}
		x->v[x->n++] = value;
	}
	return MHD_YES;
}

/* Fills req->forwarded when a trusted proxy names another client. */
static void resolve_client(struct http_server *srv, struct http_req *req)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct xff_values x = {.n = 0};

	if (!ci || !http_proxies_has(&srv->proxies, ci->client_addr))
		return;
	MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_xff, &x);
	if (x.overflow) /* the last ones, which the proxies added, are unseen */
		return;
	http_forwarded_client(&srv->proxies, ci->client_addr, x.v, x.n,
			      &req->forwarded);
}

static void dispatch(struct http_server *srv, struct req_ctx *ctx,
		     struct MHD_Connection *conn, const char *url,
		     const char *method, struct http_resp *resp)
{
	struct http_req req = {
		.method = method,
		.url = url,
		.body = ctx->body,
		.body_len = ctx->body_len,
		.conn = conn,
		.app = srv->opts.app,
		.start = ctx->start,
	};
	char scratch[512];
	int path_matched = 0;

	memcpy(req.trace_id, ctx->trace_id, sizeof(req.trace_id));
	if (srv->proxies.n)
		resolve_client(srv, &req);
	for (size_t i = 0; i < srv->n_routes; i++) {
		const struct route *rt = &srv->routes[i];

		if (!route_match(rt->pattern, url, req.params, &req.n_params, scratch,
				 sizeof(scratch)))
			continue;
		path_matched = 1;
		if (strcmp(rt->method, method))
			continue;
		ctx->route = rt->pattern;
		if (srv->opts.route_guard &&
		    !srv->opts.route_guard(srv->opts.app, rt, &req, resp))
			return;
		if (srv->n_gates) {
			int door = srv->route_gate[i];
			struct http_gate *g = &srv->gates[door];

			/* A full door answers at once: no handler, no queue. */
			if (!http_gate_enter(g)) {
				http_overloaded(resp, &req, srv->opts.overload_retry_after,
						g->name, "inflight");
				return;
			}
			ctx->gate = g;
		}
		rt->handler(&req, resp);
		return;
	}
	if (path_matched)
		http_error(resp, &req, 405, "METHOD_NOT_ALLOWED",
			   "this path does not accept that method", NULL);
	else
		http_error(resp, &req, 404, "NOT_FOUND", "no such route", NULL);
}

/* The request's server span: the caller's traceparent is its parent,
 * else it starts the trace named by trace_id. NULL when tracing is off. */
static struct trace_span *http_span_begin(struct MHD_Connection *conn,
					  const char *trace_id, const char *method)
{
	struct traceparent parent;
	char name[TRACE_NAME_MAX];

	if (!trace_enabled())
		return NULL;
	if (traceparent_parse(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							   "traceparent"),
			      &parent)) {
		snprintf(parent.trace_id, sizeof(parent.trace_id), "%s", trace_id);
		parent.flags = 1;
	}
	snprintf(name, sizeof(name), "HTTP %s", method);
	return trace_span_begin(name, TRACE_SERVER, &parent);
}

/* Names the span after the route template (low cardinality) and ends it. */
static void http_span_end(struct trace_span *span, const char *method,
			  const char *route, int status)
{
	char name[TRACE_NAME_MAX];

	if (!span)
		return;
	snprintf(name, sizeof(name), "%s %s", method, route);
	trace_span_name(span, name);
	trace_span_attr(span, "http.request.method", method);
	trace_span_attr(span, "http.route", route);
	trace_span_attr_int(span, "http.response.status_code", status);
	if (status >= 500 || !status)
		trace_span_error(span, status ? "server error" : "no answer sent");
	trace_span_end(span);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct req_ctx *ctx = *con_cls;
	struct http_resp resp = {0};
	long max_body = srv->opts.max_body;

	if (!ctx) {
		const char *cl;

		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		ctx->start = tkt_mono_seconds();
		ctx->route = ROUTE_UNMATCHED;
		snprintf(ctx->method, sizeof(ctx->method), "%s", method);
		trace_id_from_traceparent(
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "traceparent"),
			ctx->trace_id);
		ctx->span = http_span_begin(conn, ctx->trace_id, method);
		*con_cls = ctx;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoll(cl, NULL, 10) > max_body)
			ctx->too_large = 1; /* answered below without reading it */
		else
			return MHD_YES;
	}
	if (*upload_size && !ctx->too_large) {
		if (ctx->body_len + *upload_size > (size_t)max_body) {
			ctx->too_large = 1;
			free(ctx->body);
			ctx->body = NULL;
			ctx->body_len = 0;
		} else {
			if (ctx->body_len + *upload_size + 1 > ctx->body_cap) {
				size_t ncap = (ctx->body_len + *upload_size + 1) * 2;
				char *nb = realloc(ctx->body, ncap);

				if (!nb)
					return MHD_NO;
				ctx->body = nb;
				ctx->body_cap = ncap;
			}
			memcpy(ctx->body + ctx->body_len, upload_data, *upload_size);
			ctx->body_len += *upload_size;
			ctx->body[ctx->body_len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size && ctx->too_large) {
		*upload_size = 0; /* chunked upload past the limit: discard */
		return MHD_YES;
	}
	if (srv->timeout_ns && !ctx->request_in) {
		struct conn_watch *w = watch_of(conn);

		ctx->request_in = true; /* the whole request is here */
		if (w)
			watch_disarm(srv, w);
	}
	if (ctx->deferred.conn) {
		/* Resumed by http_deferred_finish: the answer is ready. */
		if (!atomic_load(&ctx->deferred_done))
			return MHD_YES;
		resp = ctx->final_resp;
		ctx->final_resp.body = NULL;
		return send_resp(conn, ctx, &resp);
	}
	if (ctx->too_large) {
		struct http_req req = {.conn = conn};
		char msg[96];

		memcpy(req.trace_id, ctx->trace_id, sizeof(req.trace_id));
		snprintf(msg, sizeof(msg), "request body is larger than %ld bytes",
			 max_body);
		http_error(&resp, &req, 413, "PAYLOAD_TOO_LARGE", msg, NULL);
	} else {
		struct traceparent outer;

		/* Handlers and the work they hand off see the server span as
		 * the current context (trace.h). */
		trace_current_enter(ctx->span, &outer);
		dispatch(srv, ctx, conn, url, method, &resp);
		if (resp.defer_start) {
			/* Suspend first, then start the work, so a quick finish
			 * can never resume a connection that is not suspended. */
			ctx->deferred.conn = conn;
			ctx->deferred.ctx = ctx;
			free(resp.body);
			MHD_suspend_connection(conn);
			resp.defer_start(resp.defer_arg, &ctx->deferred);
			trace_current_set(&outer, NULL);
			return MHD_YES;
		}
		trace_current_set(&outer, NULL);
	}
	(void)version;
	return send_resp(conn, ctx, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct req_ctx *ctx = *con_cls;
	double secs;

	if (srv->timeout_ns && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		/* A kept-alive connection: the next request has a deadline too. */
		struct conn_watch *w = watch_of(conn);

		if (w && w->fd >= 0)
			watch_arm(srv, w);
	}
	if (!ctx)
		return;
	if (ctx->gate) {
		http_gate_leave(ctx->gate);
		ctx->gate = NULL;
	}
	secs = tkt_mono_seconds() - ctx->start;
	http_span_end(ctx->span, ctx->method, ctx->route, ctx->status);
	if (ctx->status && srv->opts.on_done)
		srv->opts.on_done(srv->opts.app, ctx->route, ctx->method,
				  ctx->status, secs);
	if (ctx->status >= 500) /* a dependency or shutdown: not a crash */
		log_json(LOG_WARN, ctx->trace_id,
			 "request", json_pack("{s:s, s:s, s:i, s:f, s:i}", "method",
						ctx->method, "route", ctx->route,
						"status", ctx->status, "seconds", secs,
						"termination", (int)toe));
	else if (log_enabled(LOG_DEBUG)) /* the access log costs a JSON object */
		log_json(LOG_DEBUG, ctx->trace_id, "request",
			 json_pack("{s:s, s:s, s:i, s:f, s:i}", "method", ctx->method,
				   "route", ctx->route, "status", ctx->status,
				   "seconds", secs, "termination", (int)toe));
	free(ctx->body);
	free(ctx->final_resp.body);
	free(ctx);
	*con_cls = NULL;
}

void http_defer(struct http_resp *resp, http_defer_start_fn start, void *arg)
{
	resp->defer_start = start;
	resp->defer_arg = arg;
}

void http_deferred_finish(struct http_deferred *d, struct http_resp *resp)
{
	d->ctx->final_resp = *resp;
	d->ctx->final_resp.defer_start = NULL;
	resp->body = NULL;
	atomic_store(&d->ctx->deferred_done, true);
	MHD_resume_connection(d->conn);
}

const char *http_deferred_trace_id(const struct http_deferred *d)
{
	return d->ctx->trace_id;
}

double http_deferred_age(const struct http_deferred *d)
{
	return tkt_mono_seconds() - d->ctx->start;
}

const struct http_gate *http_server_door(struct http_server *srv, int door)
{
	if (!srv || door < 0 || door >= srv->n_gates)
		return NULL;
	return &srv->gates[door];
}

__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	/* A stream reader's abort is how a program cuts a slow stream on
	 * purpose (and counts it itself): not worth a warning. */
	log_msg(strstr(buf, "application error generating response") ? LOG_DEBUG
								      : LOG_WARN,
		NULL, "libmicrohttpd: %s", buf);
}

int http_server_start(struct http_server **out,
		      const struct http_server_opts *opts,
		      const struct route *routes, size_t n_routes, char *err,
		      size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_in addr = {.sin_family = AF_INET};

	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	srv->opts = *opts;
	srv->routes = routes;
	srv->n_routes = n_routes;
	srv->timeout_ns = opts->header_timeout_ms > 0
				  ? (uint64_t)opts->header_timeout_ms * 1000000u
				  : 0;
	srv->opts.trusted_proxies = NULL; /* the caller's string; parsed here */
	if (http_proxies_parse(opts->trusted_proxies, &srv->proxies, err, errlen)) {
		free(srv);
		return -EINVAL;
	}
	addr.sin_port = htons((uint16_t)opts->port);
	if (inet_pton(AF_INET, opts->addr, &addr.sin_addr) != 1) {
		snprintf(err, errlen, "http_addr '%s' is not an IPv4 address",
			 opts->addr);
		free(srv);
		return -EINVAL;
	}
	if (opts->doors && opts->n_doors > 0) {
		srv->gates = calloc((size_t)opts->n_doors, sizeof(*srv->gates));
		if (!srv->gates) {
			snprintf(err, errlen, "out of memory");
			free(srv);
			return -ENOMEM;
		}
		srv->route_gate = calloc(n_routes ? n_routes : 1, sizeof(int));
		if (!srv->route_gate) {
			snprintf(err, errlen, "out of memory");
			free(srv->gates);
			free(srv);
			return -ENOMEM;
		}
		srv->n_gates = opts->n_doors;
		for (int i = 0; i < opts->n_doors; i++) {
			srv->gates[i].name = opts->doors[i].name;
			srv->gates[i].max = opts->doors[i].max_inflight;
		}
		srv->opts.doors = NULL; /* the caller's array; copied into gates */
		for (size_t i = 0; i < n_routes; i++) {
			int d = opts->route_door ? opts->route_door(opts->app, &routes[i]) : 0;

			srv->route_gate[i] = d >= 0 && d < opts->n_doors ? d : 0;
		}
	}
	if (reaper_start(srv)) {
		snprintf(err, errlen, "cannot start the request deadline thread");
		reaper_stop(srv);
		free(srv->gates);
		free(srv->route_gate);
		free(srv);
		return -EAGAIN;
	}
	srv->daemon = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		NULL, MHD_OPTION_SOCK_ADDR, &addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)opts->max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)(opts->max_connections_per_addr > 0
				   ? opts->max_connections_per_addr
				   : 0),
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
		MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_LISTEN_BACKLOG_SIZE,
		4096u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(err, errlen, "cannot listen on %s:%d (port in use?)",
			 opts->addr, opts->port);
		reaper_stop(srv);
		free(srv->gates);
		free(srv->route_gate);
		free(srv);
		return -EADDRINUSE;
	}
	*out = srv;
	return 0;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	if (srv->opts.before_stop)
		srv->opts.before_stop(srv->opts.app);
	MHD_stop_daemon(srv->daemon); /* closes every connection: no watch left */
	reaper_stop(srv);
	free(srv->gates);
	free(srv->route_gate);
	free(srv);
}

int http_conn_fd(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

void http_conn_suspend(void *conn)
{
	MHD_suspend_connection(conn);
}

void http_conn_resume(void *conn)
{
	MHD_resume_connection(conn);
}
