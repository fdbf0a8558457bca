/* GET /api/events/{id}/seats/stream: the HTTP side of the live seat stream.
 * It parses the request, registers the stream with the SSE hub
 * (userspace/ticketd/live/sse_hub.c, which owns frames, queues and the lock order) and
 * hands libmicrohttpd a streamed response whose reader is the hub's.
 *
 * Liveness: an idle stream is suspended, so libmicrohttpd's connection
 * timeout never runs for it (timeouts restart on resume), and a stream
 * that is sending refreshes it with every write; only a stream whose
 * socket stays unwritable for the whole timeout is cut, which is what we
 * want. Pings every sse_ping_seconds write to every stream; a peer that
 * vanished without a reset is found by TCP_USER_TIMEOUT (unacknowledged
 * data for two ping periods aborts the socket) and the failed write then
 * ends the stream.
 *
 * A stream's socket gets a fixed send buffer (SSE_SNDBUF; the kernel
 * doubles it) instead of autotuning's up to 4 MiB: kernel memory per
 * stream stays bounded, and a client that stops reading shows up in its
 * queue (and is dropped) after that much rather than after megabytes.
 *
 * One client address may have sse_max_streams_per_addr streams open
 * (client_limits.h); a stream gives its place back when libmicrohttpd
 * frees the response, however it ended. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/rest/client_limits.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

#define SSE_SNDBUF 65536

static const struct sse_conn_ops mhd_ops = {
	.suspend = http_conn_suspend,
	.resume = http_conn_resume,
};

/* The streamed response's state: the hub's client and the address place
 * it holds. */
struct stream {
	struct sse_client *c;
	struct ticketd *app;
	struct addr_key key;
	bool counted;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;

	(void)pos;
	return sse_client_read(st->c, buf, max);
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	sse_client_release(st->c);
	if (st->counted)
		client_stream_end(st->app, &st->key);
	free(st);
}

void route_seat_stream(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = req->app;
	struct stream *st;
	enum sse_subscribe_result sub;
	uint32_t id;
	int fd;
	char msg[96];

	if (http_parse_u32(req->params[0], &id)) {
		http_error(resp, req, 400, "VALIDATION_FAILED",
			   "event id must be a non-negative integer",
			   json_pack("{s:s}", "id", req->params[0]));
		return;
	}
	if (catalog_find(&app->catalog, id) && !api_room_gate(req, resp, id))
		return;
	st = calloc(1, sizeof(*st));
	if (!st) {
		http_error(resp, req, 503, "UNAVAILABLE", "out of memory", NULL);
		return;
	}
	st->app = app;
	if (!client_stream_begin(req, resp, &st->key, &st->counted)) {
		free(st);
		return;
	}
	fd = http_conn_fd(req->conn);
	sub = sse_hub_subscribe(app->sse, id, http_header(req, "Last-Event-ID"),
				&mhd_ops, req->conn, fd, &st->c);
	if (sub != SSE_SUBSCRIBED) {
		if (st->counted)
			client_stream_end(app, &st->key);
		free(st);
	}
	switch (sub) {
	case SSE_SUBSCRIBED:
		break;
	case SSE_NO_SUCH_EVENT:
		snprintf(msg, sizeof(msg), "event %u does not exist", id);
		http_error(resp, req, 404, "EVENT_NOT_FOUND", msg, NULL);
		return;
	case SSE_TOO_MANY_STREAMS:
		snprintf(msg, sizeof(msg), "this server already serves %d seat streams",
			 app->cfg.sse_max_clients);
		http_error(resp, req, 503, "TOO_MANY_STREAMS", msg, NULL);
		resp->retry_after = 5;
		return;
	case SSE_SHUTTING_DOWN:
		http_error(resp, req, 503, "UNAVAILABLE", "the server is shutting down",
			   NULL);
		return;
	case SSE_NO_MEMORY:
		http_error(resp, req, 503, "UNAVAILABLE", "out of memory", NULL);
		return;
	}
	if (fd >= 0) {
		unsigned ms = (unsigned)app->cfg.sse_ping_seconds * 2000u + 5000u;
		int sndbuf = SSE_SNDBUF;

		/* Best effort both: without the first a silent peer lingers
		 * until TCP's own retransmission timeout, without the second
		 * a stalled one takes longer to find. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	http_stream(resp, "text/event-stream", stream_read, stream_free, st);
}
