/* A server-sent event stream read off an HTTP/1.1 answer, in pieces of
 * any size as they arrive: the head (bench_http_head), then a body that
 * is chunked or runs until the connection closes, cut into events: lines
 * "event: NAME" and "data: TEXT" (more data lines joined by '\n'), an
 * empty line ends one; ':' comments and other fields are skipped. A line
 * longer than BENCH_SSE_LINE - 1 bytes keeps its first bytes. */
#ifndef BENCH_LIB_SSE_H
#define BENCH_LIB_SSE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/lib/conn.h"

#define BENCH_SSE_LINE 512
#define BENCH_SSE_HEAD 2048

enum bench_sse_phase {
	BENCH_SSE_IN_HEAD, /* reading the head */
	BENCH_SSE_IN_BODY, /* a 200 answer: events */
	BENCH_SSE_ENDED,   /* the last chunk came, or the answer was not a
			    * 200 (head.status, head.retry_after_s say what) */
	BENCH_SSE_BROKEN,  /* a head too long or not HTTP, a bad chunk */
};

struct bench_sse {
	enum bench_sse_phase phase;
	struct bench_http_answer head;
	char hbuf[BENCH_SSE_HEAD];
	int hlen;
	uint8_t cstate; /* chunk: 0 size, 1 size extension, 2 data, 3 CRLF */
	bool size_digits;
	uint32_t chunk_left;
	char line[BENCH_SSE_LINE];
	int llen;
	char event[32];
	char data[BENCH_SSE_LINE];
	int dlen;
	bool has_data;
};

/* Called for each complete event: its name ("message" when the event
 * gave none) and its data (NUL-terminated). */
typedef void (*bench_sse_fn)(void *ctx, const char *event, const char *data);

/* Ready to read a new answer. */
void bench_sse_init(struct bench_sse *s);

/* Reads buf[0..n) of the answer, calling fn for each event it completes.
 * Returns the phase after them; bytes after the end are ignored. */
enum bench_sse_phase bench_sse_feed(struct bench_sse *s, const char *buf,
				    size_t n, bench_sse_fn fn, void *ctx);
#endif
