/* See parked_stream.h. */
#include "userspace/ticketd/rest/parked_stream.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "api/http.h"
#include "userspace/ticketd/rest/client_limits.h"

struct parked_stream *parked_stream_begin(struct http_req *req, struct http_resp *resp,
					  ssize_t (*read)(void *, char *, size_t),
					  void (*release)(void *))
{
	struct parked_stream *ps = calloc(1, sizeof(*ps));

	if (!ps) {
		http_error(resp, req, 503, "UNAVAILABLE", "out of memory", NULL);
		return NULL;
	}
	ps->app = req->app;
	ps->read = read;
	ps->release = release;
	if (!client_stream_begin(req, resp, &ps->key, &ps->counted)) {
		free(ps);
		return NULL;
	}
	return ps;
}

void parked_stream_abort(struct parked_stream *ps)
{
	if (ps->counted)
		client_stream_end(ps->app, &ps->key);
	free(ps);
}

static ssize_t parked_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct parked_stream *ps = cls;
	ssize_t n = ps->read(ps->st, buf, max);

	(void)pos;
	return n < 0 ? HTTP_STREAM_END : n;
}

static void parked_free(void *cls)
{
	struct parked_stream *ps = cls;

	ps->release(ps->st);
	parked_stream_abort(ps);
}

void parked_stream_answer(struct http_req *req, struct http_resp *resp,
			  struct parked_stream *ps, unsigned user_timeout_ms, int sndbuf)
{
	int fd = http_conn_fd(req->conn);

	if (fd >= 0) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms,
				 sizeof(user_timeout_ms));
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	http_stream(resp, "text/event-stream", parked_reader, parked_free, ps);
}
