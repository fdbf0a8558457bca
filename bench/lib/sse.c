/* Server-sent events off an HTTP/1.1 answer; see sse.h. */
#include "bench/lib/sse.h"

#include <string.h>

#include "userspace/lib/hex.h"

void bench_sse_init(struct bench_sse *s)
{
	memset(s, 0, sizeof(*s));
	s->phase = BENCH_SSE_IN_HEAD;
	s->head.retry_after_s = -1;
}

/* One complete line of the body (without its line end). */
static void body_line(struct bench_sse *s, bench_sse_fn fn, void *ctx)
{
	const char *v;
	int vlen;

	if (s->llen && s->line[s->llen - 1] == '\r')
		s->llen--;
	s->line[s->llen] = '\0';
	if (s->llen == 0) { /* the end of an event */
		if (s->has_data || s->event[0])
			fn(ctx, s->event[0] ? s->event : "message", s->data);
		s->event[0] = '\0';
		s->data[0] = '\0';
		s->dlen = 0;
		s->has_data = false;
		return;
	}
	v = memchr(s->line, ':', (size_t)s->llen);
	if (!v || v == s->line)
		return; /* a comment, or a field without a value */
	vlen = s->llen - (int)(v + 1 - s->line);
	v++;
	if (vlen && *v == ' ') {
		v++;
		vlen--;
	}
	if (!strncmp(s->line, "event:", 6)) {
		int k = vlen < (int)sizeof(s->event) - 1 ? vlen
							 : (int)sizeof(s->event) - 1;

		memcpy(s->event, v, (size_t)k);
		s->event[k] = '\0';
	} else if (!strncmp(s->line, "data:", 5)) {
		int room = (int)sizeof(s->data) - 1 - s->dlen - (s->has_data ? 1 : 0);
		int k = vlen < room ? vlen : room;

		if (k < 0)
			return;
		if (s->has_data)
			s->data[s->dlen++] = '\n';
		memcpy(s->data + s->dlen, v, (size_t)k);
		s->dlen += k;
		s->data[s->dlen] = '\0';
		s->has_data = true;
	}
}

/* Body bytes (chunk framing removed). */
static void body_bytes(struct bench_sse *s, const char *p, size_t n,
		       bench_sse_fn fn, void *ctx)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		size_t room = sizeof(s->line) - 1 - (size_t)s->llen;
		size_t take = seg < room ? seg : room;

		memcpy(s->line + s->llen, p, take);
		s->llen += (int)take;
		if (!nl)
			return;
		body_line(s, fn, ctx);
		s->llen = 0;
		p = nl + 1;
		n -= seg + 1;
	}
}

/* Head bytes; returns how many of buf[0..n) belonged to the head. */
static size_t head_bytes(struct bench_sse *s, const char *buf, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (s->hlen >= (int)sizeof(s->hbuf)) {
			s->phase = BENCH_SSE_BROKEN;
			return i;
		}
		s->hbuf[s->hlen++] = buf[i++];
		if (s->hlen >= 4 && !memcmp(s->hbuf + s->hlen - 4, "\r\n\r\n", 4)) {
			if (bench_http_head(s->hbuf, s->hlen, &s->head) < 0)
				s->phase = BENCH_SSE_BROKEN;
			else if (s->head.status != 200)
				s->phase = BENCH_SSE_ENDED;
			else
				s->phase = BENCH_SSE_IN_BODY;
			return i;
		}
	}
	return i;
}

enum bench_sse_phase bench_sse_feed(struct bench_sse *s, const char *buf,
				    size_t n, bench_sse_fn fn, void *ctx)
{
	size_t i = 0;

	if (s->phase == BENCH_SSE_IN_HEAD)
		i = head_bytes(s, buf, n);
	if (s->phase == BENCH_SSE_IN_BODY && !s->head.chunked) {
		body_bytes(s, buf + i, n - i, fn, ctx);
		return s->phase;
	}
	while (i < n && s->phase == BENCH_SSE_IN_BODY) {
		char ch;
		int d;

		switch (s->cstate) {
		case 0: /* the chunk size: hex digits, then maybe ";ext" */
		case 1:
			ch = buf[i++];
			d = hex_digit(ch);
			if (ch == '\n') {
				if (!s->size_digits) {
					s->phase = BENCH_SSE_BROKEN;
					break;
				}
				s->cstate = s->chunk_left ? 2 : 0;
				s->size_digits = false;
				if (!s->chunk_left)
					s->phase = BENCH_SSE_ENDED; /* the last chunk */
			} else if (s->cstate == 0 && d >= 0) {
				if (s->chunk_left > 0x0fffffffu) {
					s->phase = BENCH_SSE_BROKEN;
					break;
				}
				s->chunk_left = s->chunk_left * 16 + (uint32_t)d;
				s->size_digits = true;
			} else if (ch != '\r') {
				s->cstate = 1;
			}
			break;
		case 2: {
			size_t k = n - i < s->chunk_left ? n - i : s->chunk_left;

			body_bytes(s, buf + i, k, fn, ctx);
			i += k;
			s->chunk_left -= (uint32_t)k;
			if (!s->chunk_left)
				s->cstate = 3;
			break;
		}
		default: /* the CRLF after the data */
			if (buf[i++] == '\n')
				s->cstate = 0;
		}
	}
	return s->phase;
}
