/* The socket plumbing the load tools repeat: an endpoint from the command
 * line, non-blocking TCP connections in an epoll set, writes that may stop
 * half way, HTTP/1.1 answers with a Content-Length, and the open-file
 * limit. */
#ifndef BENCH_LIB_CONN_H
#define BENCH_LIB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* "host:port", "[v6]:port", or a bare host, resolved once. */
struct bench_endpoint {
	char text[128]; /* as given */
	char host[128];
	uint16_t port;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* Splits and resolves text (a missing port gives default_port; with a
 * default_port of 0 the port is required). Returns 0, or -1 after a
 * message. */
int bench_endpoint_parse(const char *text, uint16_t default_port,
			 struct bench_endpoint *ep);

/* Starts a non-blocking connect to ep and adds the socket to epfd for
 * events with data ptr. The descriptor is stored in *fd_out before the
 * socket joins epfd, so a thread already waiting on epfd never sees the
 * connection without it. Returns 0, or -1 (*fd_out = -1) on failure. */
int bench_tcp_open(const struct bench_endpoint *ep, int epfd, uint32_t events,
		   void *ptr, int *fd_out);

/* A blocking TCP connection to ep; the socket, or -1. */
int bench_tcp_connect(const struct bench_endpoint *ep);

/* Whether the connect of fd, reported by epoll with events, succeeded. */
bool bench_tcp_connected(int fd, uint32_t events);

/* Changes fd's events to EPOLLIN, plus EPOLLOUT when want_write. */
void bench_epoll_want_write(int epfd, int fd, void *ptr, bool want_write);

/* Removes fd from epfd and closes it (nothing when fd < 0). */
void bench_epoll_close(int epfd, int fd);

/* epoll_wait with a nanosecond timeout (epoll_pwait2, Linux 5.11; the
 * millisecond epoll_wait where it is missing): paced schedules keep to
 * tens of microseconds. */
int bench_epoll_wait_ns(int epfd, struct epoll_event *evs, int max,
			int64_t ns);

/* Writes buf[*off..len) to a non-blocking socket. Returns 1 when all of it
 * is written, 0 when the socket is full (wait for EPOLLOUT), -1 when the
 * connection broke. */
int bench_send_pending(int fd, const char *buf, int len, int *off);

/* Reads what a non-blocking socket has into buf[*len..cap), *len grown.
 * Returns 1 after reading, 0 when there is nothing (EAGAIN), -1 when the
 * peer closed, the read failed or the buffer is full. */
int bench_recv_more(int fd, char *buf, int *len, int cap);

/* Raises the soft open-file limit to the hard one; returns the soft limit
 * now in force. */
long bench_raise_nofile(void);

/* Waits until the `pending` connects under way on epfd (bench_tcp_open)
 * have ended, at most timeout_ms: each event goes to ended(ptr, events,
 * ctx), which says whether it ended one of them (bench_tcp_connected
 * tells how). The tools open every connection before their clock starts. */
void bench_await_connects(int epfd, int pending, int timeout_ms,
			  bool (*ended)(void *ptr, uint32_t events, void *ctx),
			  void *ctx);

/* Writes one HTTP/1.1 request into out[cap]: "METHOD path", Host (ep),
 * "Authorization: Bearer token" when token is not NULL, the header lines
 * of extra ("Name: value\r\n" each) when not NULL, and body when not NULL
 * (Content-Length always, Content-Type: application/json when it is not
 * empty). Returns its length, or -1 when it does not fit. */
int bench_http_request(char *out, size_t cap, const char *method,
		       const char *path, const struct bench_endpoint *ep,
		       const char *token, const char *extra, const char *body);

/* One HTTP/1.x answer at the start of a receive buffer. */
struct bench_http_answer {
	int status;
	int body_off, body_len;
	bool close_after;  /* "Connection: close" */
	bool chunked;      /* "Transfer-Encoding: chunked" */
	int retry_after_s; /* "Retry-After: N" (delay-seconds), -1 when
			    * absent or not a number of seconds */
};

/* Parses a complete head, in[0..hlen) up to and including its blank
 * line: the status, Content-Length into body_len, chunked, close_after
 * and retry_after_s (body_off = hlen). Returns 0, or -1 when it is not
 * an HTTP/1.x head or its Content-Length is not a number. */
int bench_http_head(const char *in, int hlen, struct bench_http_answer *a);

/* Parses the answer at the start of in[len] (the buffer holds cap bytes).
 * Returns its length when it is complete, 0 when more bytes are needed,
 * -1 when it is malformed, chunked or larger than cap. */
int bench_http_answer(const char *in, int len, int cap,
		      struct bench_http_answer *a);

/* The string value of "key" in a flat JSON body (its first occurrence)
 * into out[cap]; false when absent or longer than cap - 1 (out empty). */
bool bench_json_str(const char *body, int len, const char *key, char *out,
		    size_t cap);
/* An error answer named for the tallies: "<status> <its JSON code>" ("-"
 * for the code when the body has none) into what[cap]. */
void bench_http_error_what(int status, const char *body, int len, char *what,
			   size_t cap);
/* The number value of "key" in a flat JSON body (its first occurrence)
 * into *out; false when absent, null or not a number (*out unchanged). */
bool bench_json_num(const char *body, int len, const char *key, double *out);

/* Opens /dev/null on whichever of descriptors 0, 1 and 2 is closed (a tool
 * started without standard input), so that no socket ever gets one of
 * them. Call first thing in main. */
void bench_keep_std_fds(void);

#endif
