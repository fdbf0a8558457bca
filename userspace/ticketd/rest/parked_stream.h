/* The HTTP side of a parked server-sent stream (a waiting room's or a
 * waiting list's: the module parks the connection and resumes it when it
 * has news): the module's stream object with its read and release, and
 * the client address's stream count (client_stream_begin). */
#ifndef TICKETD_REST_PARKED_STREAM_H
#define TICKETD_REST_PARKED_STREAM_H

#include <stdbool.h>
#include <sys/types.h>

#include "userspace/lib/addr_limit.h"

struct http_req;
struct http_resp;
struct ticketd;

struct parked_stream {
	void *st; /* the module's stream, set by the caller once opened */
	ssize_t (*read)(void *st, char *buf, size_t max); /* < 0: ended */
	void (*release)(void *st);
	struct ticketd *app;
	struct addr_key key;
	bool counted;
};

/* One for this request, counted against the client's address. NULL when
 * refused (too many streams: resp answered 429) or out of memory (503). */
struct parked_stream *parked_stream_begin(struct http_req *req, struct http_resp *resp,
					  ssize_t (*read)(void *, char *, size_t),
					  void (*release)(void *));

/* The module did not open its stream: uncounts and frees ps. */
void parked_stream_abort(struct parked_stream *ps);

/* Answers with the stream (text/event-stream, until read ends it; then
 * release and uncount). The socket first gets TCP_USER_TIMEOUT
 * user_timeout_ms, so a vanished peer is found, and a small SO_SNDBUF
 * (best effort both). */
void parked_stream_answer(struct http_req *req, struct http_resp *resp,
			  struct parked_stream *ps, unsigned user_timeout_ms, int sndbuf);

#endif
