/* libmicrohttpd glue: collects the body (bounded), gives every request a
 * trace id, dispatches through the route table, and records metrics and an
 * access log line when the response is done. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

#include "api/http.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_server_opts opts;
	const struct route *routes;
	size_t n_routes;
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
	int status;
	const char *route; /* pattern, for metrics; static */
	char method[8];
	char trace_id[TRACE_ID_LEN + 1];
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
	if (resp->extra_header_name)
		MHD_add_response_header(r, resp->extra_header_name,
					resp->extra_header_value);
	ctx->status = resp->status;
	ret = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	return ret;
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
	};
	char scratch[512];
	int path_matched = 0;

	memcpy(req.trace_id, ctx->trace_id, sizeof(req.trace_id));
	for (size_t i = 0; i < srv->n_routes; i++) {
		const struct route *rt = &srv->routes[i];

		if (!route_match(rt->pattern, url, req.params, &req.n_params, scratch,
				 sizeof(scratch)))
			continue;
		path_matched = 1;
		if (strcmp(rt->method, method))
			continue;
		ctx->route = rt->pattern;
		rt->handler(&req, resp);
		return;
	}
	if (path_matched)
		http_error(resp, &req, 405, "METHOD_NOT_ALLOWED",
			   "this path does not accept that method", NULL);
	else
		http_error(resp, &req, 404, "NOT_FOUND", "no such route", NULL);
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
		dispatch(srv, ctx, conn, url, method, &resp);
		if (resp.defer_start) {
			/* Suspend first, then start the work, so a quick finish
			 * can never resume a connection that is not suspended. */
			ctx->deferred.conn = conn;
			ctx->deferred.ctx = ctx;
			free(resp.body);
			MHD_suspend_connection(conn);
			resp.defer_start(resp.defer_arg, &ctx->deferred);
			return MHD_YES;
		}
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

	(void)conn;
	if (!ctx)
		return;
	secs = tkt_mono_seconds() - ctx->start;
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
	addr.sin_port = htons((uint16_t)opts->port);
	if (inet_pton(AF_INET, opts->addr, &addr.sin_addr) != 1) {
		snprintf(err, errlen, "http_addr '%s' is not an IPv4 address",
			 opts->addr);
		free(srv);
		return -EINVAL;
	}
	srv->daemon = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		NULL, MHD_OPTION_SOCK_ADDR, &addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)opts->max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_LISTEN_BACKLOG_SIZE,
		4096u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
	if (!srv->daemon) {
		snprintf(err, errlen, "cannot listen on %s:%d (port in use?)",
			 opts->addr, opts->port);
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
	MHD_stop_daemon(srv->daemon);
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
