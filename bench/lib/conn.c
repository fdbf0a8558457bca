/* Socket plumbing of the load tools; see conn.h. */
#include "bench/lib/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/lib/msg.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/wire_codec.h"

int bench_endpoint_parse(const char *text, uint16_t default_port,
			 struct bench_endpoint *ep)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	char port_s[8];
	int rc;

	memset(ep, 0, sizeof(*ep));
	if (strlen(text) >= sizeof(ep->text) ||
	    tkt_split_endpoint(text, default_port, ep->host, sizeof(ep->host),
			       &ep->port) < 0 ||
	    ep->port == 0) {
		bench_err("bad endpoint '%s' (host:port)", text);
		return -1;
	}
	snprintf(ep->text, sizeof(ep->text), "%s", text);
	snprintf(port_s, sizeof(port_s), "%u", ep->port);
	rc = getaddrinfo(ep->host, port_s, &hints, &res);
	if (rc) {
		bench_err("%s: %s", ep->host, gai_strerror(rc));
		return -1;
	}
	memcpy(&ep->addr, res->ai_addr, res->ai_addrlen);
	ep->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int bench_tcp_open(const struct bench_endpoint *ep, int epfd, uint32_t events,
		   void *ptr, int *fd_out)
{
	struct epoll_event ev = {.events = events, .data.ptr = ptr};
	int one = 1;
	int fd = socket(ep->addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	*fd_out = fd;
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if ((connect(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0 &&
	     errno != EINPROGRESS) ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		*fd_out = -1;
		return -1;
	}
	return 0;
}

int bench_tcp_connect(const struct bench_endpoint *ep)
{
	int fd = socket(ep->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&ep->addr, ep->addrlen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool bench_tcp_connected(int fd, uint32_t events)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return false;
	return !err && !(events & (EPOLLERR | EPOLLHUP));
}

void bench_epoll_want_write(int epfd, int fd, void *ptr, bool want_write)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_write ? EPOLLOUT : 0),
				 .data.ptr = ptr};

	epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

void bench_epoll_close(int epfd, int fd)
{
	if (fd < 0)
		return;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

int bench_epoll_wait_ns(int epfd, struct epoll_event *evs, int max,
			int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000LL,
			      .tv_nsec = ns % 1000000000LL};
	int n;

	if (ns < 0)
		ts.tv_sec = ts.tv_nsec = 0;
	n = epoll_pwait2(epfd, evs, max, &ts, NULL);
	if (n < 0 && errno == ENOSYS)
		n = epoll_wait(epfd, evs, max,
			       ns > 0 ? (int)((ns + 999999) / 1000000) : 0);
	return n;
}

int bench_send_pending(int fd, const char *buf, int len, int *off)
{
	while (*off < len) {
		ssize_t k = send(fd, buf + *off, (size_t)(len - *off),
				 MSG_NOSIGNAL);

		if (k < 0)
			return errno == EAGAIN ? 0 : -1;
		*off += (int)k;
	}
	return 1;
}

int bench_recv_more(int fd, char *buf, int *len, int cap)
{
	ssize_t k = recv(fd, buf + *len, (size_t)(cap - *len), 0);

	if (k == 0)
		return -1;
	if (k < 0)
		return errno == EAGAIN ? 0 : -1;
	*len += (int)k;
	return 1;
}

long bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX : (long)rl.rlim_cur;
}

void bench_await_connects(int epfd, int pending, int timeout_ms,
			  bool (*ended)(void *ptr, uint32_t events, void *ctx),
			  void *ctx)
{
	int64_t t0 = tkt_mono_ms();
	struct epoll_event evs[256];

	while (pending > 0) {
		int n, waited_ms;

		waited_ms = (int)(tkt_mono_ms() - t0);
		if (waited_ms >= timeout_ms)
			break;
		n = epoll_wait(epfd, evs, 256, 100);
		for (int i = 0; i < n; i++)
			if (ended(evs[i].data.ptr, evs[i].events, ctx))
				pending--;
	}
}

int bench_http_request(char *out, size_t cap, const char *method,
		       const char *path, const struct bench_endpoint *ep,
		       const char *token, const char *extra, const char *body)
{
	bool v6 = strchr(ep->host, ':') != NULL;
	int n = snprintf(out, cap,
			 "%s %s HTTP/1.1\r\nHost: %s%s%s:%u\r\n%s%s%s%s",
			 method, path, v6 ? "[" : "", ep->host, v6 ? "]" : "",
			 ep->port, token ? "Authorization: Bearer " : "",
			 token ? token : "", token ? "\r\n" : "",
			 extra ? extra : "");

	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (body)
		n += snprintf(out + n, cap - (size_t)n,
			      "%sContent-Length: %zu\r\n\r\n%s",
			      *body ? "Content-Type: application/json\r\n" : "",
			      strlen(body), body);
	else
		n += snprintf(out + n, cap - (size_t)n, "\r\n");
	return (size_t)n < cap ? n : -1;
}

/* The value of the header line at h (after "Name:"), blanks skipped. */
static const char *header_value(const char *h, const char *hend)
{
	while (h < hend && (*h == ' ' || *h == '\t'))
		h++;
	return h;
}

int bench_http_head(const char *in, int hlen, struct bench_http_answer *a)
{
	const char *hend = in + hlen - 2; /* the CRLF of the blank line */

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	if (hlen < 16 || memcmp(in, "HTTP/1.", 7) || in[8] != ' ')
		return -1;
	a->status = atoi(in + 9);
	if (a->status < 100 || a->status > 999)
		return -1;
	a->body_off = hlen;
	for (const char *p = memmem(in, (size_t)hlen, "\r\n", 2); p && p < hend;
	     p = memmem(p + 2, (size_t)(hend - p), "\r\n", 2)) {
		const char *h = p + 2;
		const char *eol = memmem(h, (size_t)(hend + 2 - h), "\r\n", 2);

		if (!eol)
			break;
		if (!strncasecmp(h, "Content-Length:", 15)) {
			char *e;
			long v = strtol(header_value(h + 15, eol), &e, 10);

			if (v < 0 || v > INT_MAX || (e != eol && *e != ' '))
				return -1;
			a->body_len = (int)v;
		} else if (!strncasecmp(h, "Connection:", 11)) {
			for (const char *q = h + 11; q + 5 <= eol; q++)
				if (!strncasecmp(q, "close", 5))
					a->close_after = true;
		} else if (!strncasecmp(h, "Transfer-Encoding:", 18)) {
			for (const char *q = h + 18; q + 7 <= eol; q++)
				if (!strncasecmp(q, "chunked", 7))
					a->chunked = true;
		} else if (!strncasecmp(h, "Retry-After:", 12)) {
			/* delay-seconds only; an HTTP-date stays -1 */
			const char *v = header_value(h + 12, eol);
			long n = 0;
			const char *q = v;

			while (q < eol && *q >= '0' && *q <= '9' && n < 86400)
				n = n * 10 + (*q++ - '0');
			while (q < eol && *q == ' ')
				q++;
			if (q > v && q == eol)
				a->retry_after_s = (int)n;
		}
	}
	return 0;
}

int bench_http_answer(const char *in, int len, int cap,
		      struct bench_http_answer *a)
{
	const char *hend = memmem(in, (size_t)len, "\r\n\r\n", 4);
	int hlen;

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	if (!hend)
		return len >= cap ? -1 : 0;
	hlen = (int)(hend - in) + 4;
	if (bench_http_head(in, hlen, a) < 0)
		return -1;
	if (a->chunked)
		return -1; /* the servers answer with Content-Length */
	if ((long)hlen + a->body_len > cap)
		return -1;
	if (len < hlen + a->body_len)
		return 0;
	return hlen + a->body_len;
}

bool bench_json_str(const char *body, int len, const char *key, char *out,
		    size_t cap)
{
	char pat[64];
	int pl = snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *k, *q;

	out[0] = '\0';
	if (pl <= 0 || (size_t)pl >= sizeof(pat))
		return false;
	k = memmem(body, (size_t)len, pat, (size_t)pl);
	if (!k)
		return false;
	k += pl;
	q = memchr(k, '"', (size_t)(body + len - k));
	if (!q || (size_t)(q - k) >= cap)
		return false;
	memcpy(out, k, (size_t)(q - k));
	out[q - k] = '\0';
	return true;
}

bool bench_json_num(const char *body, int len, const char *key, double *out)
{
	char pat[64], num[40];
	int pl = snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *k, *end = body + len;
	char *e;
	size_t n = 0;
	double v;

	if (pl <= 0 || (size_t)pl >= sizeof(pat))
		return false;
	k = memmem(body, (size_t)len, pat, (size_t)pl);
	if (!k)
		return false;
	for (k += pl; k < end && *k == ' '; k++)
		;
	while (k + n < end && n < sizeof(num) - 1 && strchr("+-.eE0123456789", k[n]))
		n++;
	if (!n)
		return false; /* null, a string, an object */
	memcpy(num, k, n);
	num[n] = '\0';
	v = strtod(num, &e);
	if (*e)
		return false;
	*out = v;
	return true;
}

void bench_keep_std_fds(void)
{
	int fd;

	do
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	while (fd >= 0 && fd <= 2 && fcntl(fd, F_SETFD, 0) == 0);
	if (fd > 2)
		close(fd);
}

void bench_http_error_what(int status, const char *body, int len, char *what,
			   size_t cap)
{
	char code[40];

	if (!bench_json_str(body, len, "code", code, sizeof(code)))
		snprintf(code, sizeof(code), "-");
	snprintf(what, cap, "%d %s", status, code);
}
