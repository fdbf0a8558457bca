/* Unit tests of what the room benchmark reads off ticketd's answers
 * (bench/lib/sse.c, bench/lib/conn.c): the heads of HTTP answers with
 * their Retry-After, server-sent events cut anywhere by the network and
 * by chunk framing, and the numbers of JSON bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/lib/conn.h"
#include "bench/lib/sse.h"

struct seen {
	int n;
	char event[8][32];
	char data[8][BENCH_SSE_LINE];
};

static void record(void *ctx, const char *event, const char *data)
{
	struct seen *s = ctx;

	if (s->n >= 8)
		return;
	snprintf(s->event[s->n], sizeof(s->event[0]), "%s", event);
	snprintf(s->data[s->n], sizeof(s->data[0]), "%s", data);
	s->n++;
}

static const char chunked_stream[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	"Transfer-Encoding: chunked\r\n\r\n"
	"39\r\nevent: position\ndata: {\"position\":12,\"state\":\"waiting\"}\n\n\r\n"
	"d;ext=1\r\n: keep-alive\n\r\n"
	"39\r\nevent: admitted\r\ndata: {\"admittedUntil\":\"2030-01-01\"}\r\n\r\n\r\n"
	"0\r\n\r\n";

static void chunked_events_arrive_whole_however_the_bytes_are_cut(void **state)
{
	size_t len = strlen(chunked_stream);

	(void)state;
	for (size_t piece = 1; piece <= len; piece++) {
		struct bench_sse *s = malloc(sizeof(*s));
		struct seen seen = {0};
		enum bench_sse_phase ph = BENCH_SSE_IN_HEAD;

		assert_non_null(s);
		bench_sse_init(s);
		for (size_t off = 0; off < len; off += piece)
			ph = bench_sse_feed(s, chunked_stream + off,
					    len - off < piece ? len - off : piece,
					    record, &seen);
		assert_int_equal(ph, BENCH_SSE_ENDED);
		assert_int_equal(s->head.status, 200);
		assert_int_equal(seen.n, 2);
		assert_string_equal(seen.event[0], "position");
		assert_string_equal(seen.data[0],
				    "{\"position\":12,\"state\":\"waiting\"}");
		assert_string_equal(seen.event[1], "admitted");
		assert_string_equal(seen.data[1], "{\"admittedUntil\":\"2030-01-01\"}");
		free(s);
	}
}

static void unchunked_stream_joins_data_lines_and_names_plain_messages(void **state)
{
	static const char in[] = "HTTP/1.1 200 OK\r\n\r\n"
				 "data: a\ndata: b\n\nid: 7\ndata:c\n\n";
	struct bench_sse s;
	struct seen seen = {0};

	(void)state;
	bench_sse_init(&s);
	assert_int_equal(bench_sse_feed(&s, in, strlen(in), record, &seen),
			 BENCH_SSE_IN_BODY);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.event[0], "message");
	assert_string_equal(seen.data[0], "a\nb");
	assert_string_equal(seen.data[1], "c");
}

static void refusal_ends_the_stream_with_its_status_and_retry_after(void **state)
{
	static const char in[] = "HTTP/1.1 503 Service Unavailable\r\n"
				 "Retry-After: 2\r\nContent-Length: 20\r\n\r\n"
				 "{\"code\":\"OVERLOADED\"}";
	struct bench_sse s;
	struct seen seen = {0};

	(void)state;
	bench_sse_init(&s);
	assert_int_equal(bench_sse_feed(&s, in, strlen(in), record, &seen),
			 BENCH_SSE_ENDED);
	assert_int_equal(s.head.status, 503);
	assert_int_equal(s.head.retry_after_s, 2);
	assert_int_equal(seen.n, 0);
}

static void head_too_long_or_not_http_is_broken(void **state)
{
	struct bench_sse s;
	struct seen seen = {0};
	char big[BENCH_SSE_HEAD + 10];

	(void)state;
	bench_sse_init(&s);
	assert_int_equal(bench_sse_feed(&s, "SSH-2.0\r\n\r\n", 11, record, &seen),
			 BENCH_SSE_BROKEN);
	memset(big, 'x', sizeof(big));
	bench_sse_init(&s);
	assert_int_equal(bench_sse_feed(&s, big, sizeof(big), record, &seen),
			 BENCH_SSE_BROKEN);
	bench_sse_init(&s);
	assert_int_equal(bench_sse_feed(&s,
					"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
					53, record, &seen),
			 BENCH_SSE_BROKEN);
}

static void retry_after_reads_seconds_and_ignores_dates(void **state)
{
	struct bench_http_answer a;
	static const char *const heads[] = {
		"HTTP/1.1 429 Too Many Requests\r\nretry-after:  5 \r\n\r\n",
		"HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n",
		"HTTP/1.1 503 x\r\nRetry-After: -3\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
	};
	static const int want[] = {5, -1, -1, -1};

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(bench_http_head(heads[i], (int)strlen(heads[i]), &a), 0);
		assert_int_equal(a.retry_after_s, want[i]);
	}
	assert_int_equal(a.body_len, 2);
	assert_int_equal(a.body_off, (int)strlen(heads[3]));
}

static void answer_with_body_keeps_status_and_retry_after(void **state)
{
	static const char in[] = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
				 "Content-Length: 4\r\nConnection: close\r\n\r\nbody";
	struct bench_http_answer a;

	(void)state;
	assert_int_equal(bench_http_answer(in, (int)strlen(in) - 1, 4096, &a), 0);
	assert_int_equal(bench_http_answer(in, (int)strlen(in), 4096, &a),
			 (int)strlen(in));
	assert_int_equal(a.status, 503);
	assert_int_equal(a.retry_after_s, 1);
	assert_true(a.close_after);
	assert_int_equal(a.body_len, 4);
	assert_memory_equal(in + a.body_off, "body", 4);
	/* a bad Content-Length, and a head that is not HTTP */
	assert_int_equal(bench_http_answer("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
					   38, 4096, &a),
			 -1);
	assert_int_equal(bench_http_answer("HTTP/1.1 2\r\n\r\n", 14, 4096, &a), -1);
}

static void json_num_reads_numbers_and_refuses_the_rest(void **state)
{
	static const char b[] = "{\"eventId\":7,\"state\":\"waiting\",\"position\": 1234,"
				"\"estimatedWaitSeconds\":2.5,\"startsAt\":null,\"x\":\"1\"}";
	double v = -1;
	int len = (int)strlen(b);

	(void)state;
	assert_true(bench_json_num(b, len, "position", &v));
	assert_true(v == 1234);
	assert_true(bench_json_num(b, len, "estimatedWaitSeconds", &v));
	assert_true(v == 2.5);
	v = -1;
	assert_false(bench_json_num(b, len, "startsAt", &v));
	assert_false(bench_json_num(b, len, "x", &v));
	assert_false(bench_json_num(b, len, "missing", &v));
	assert_true(v == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chunked_events_arrive_whole_however_the_bytes_are_cut),
		cmocka_unit_test(unchunked_stream_joins_data_lines_and_names_plain_messages),
		cmocka_unit_test(refusal_ends_the_stream_with_its_status_and_retry_after),
		cmocka_unit_test(head_too_long_or_not_http_is_broken),
		cmocka_unit_test(retry_after_reads_seconds_and_ignores_dates),
		cmocka_unit_test(answer_with_body_keeps_status_and_retry_after),
		cmocka_unit_test(json_num_reads_numbers_and_refuses_the_rest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
