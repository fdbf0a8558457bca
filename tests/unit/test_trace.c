/* The span recorder: off by default, ids and parents, the per-thread
 * current context, and a bounded queue that drops (and counts) instead of
 * waiting when the collector is unreachable, and the OTLP JSON a collector
 * receives (a one-connection receiver on a loopback port). Links libtkt.a
 * only. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/trace.h"

static void tracing_off_records_nothing(void **state)
{
	struct trace_stats st;

	(void)state;
	assert_false(trace_enabled());
	assert_null(trace_span_begin("x", TRACE_SERVER, NULL));
	trace_span_attr(NULL, "k", "v"); /* NULL is a no-op everywhere */
	trace_span_end(NULL);
	trace_get_stats(&st);
	assert_int_equal(st.started, 0);
}

static void children_share_the_trace_and_name_their_parent(void **state)
{
	static const char caller[] =
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	struct traceparent in, root_ctx, child_ctx, prev;
	struct trace_span *root, *child, *fresh;
	char wire[TRACEPARENT_LEN + 1];

	(void)state;
	assert_int_equal(traceparent_parse(caller, &in), 0);
	root = trace_span_begin("GET /x", TRACE_SERVER, &in);
	assert_non_null(root);
	trace_span_context(root, &root_ctx);
	assert_string_equal(root_ctx.trace_id, in.trace_id);
	assert_string_not_equal(root_ctx.parent_id, in.parent_id);
	assert_int_equal(traceparent_format(&root_ctx, wire), 0);

	trace_current_enter(root, &prev);
	assert_string_equal(prev.trace_id, "");
	child = trace_span_begin("child", TRACE_INTERNAL, NULL); /* current */
	trace_span_context(child, &child_ctx);
	assert_string_equal(child_ctx.trace_id, in.trace_id);
	trace_current_set(&prev, NULL);

	fresh = trace_span_begin("fresh", TRACE_INTERNAL, NULL); /* no current */
	trace_span_context(fresh, &child_ctx);
	assert_string_not_equal(child_ctx.trace_id, in.trace_id);
	assert_int_equal(strlen(child_ctx.trace_id), TRACE_ID_LEN);
	trace_span_end(fresh);
	trace_span_end(child);
	trace_span_end(root);
}

static void full_queue_drops_and_counts_without_waiting(void **state)
{
	struct trace_stats st;
	uint64_t t0 = tkt_mono_ns();

	(void)state;
	for (int i = 0; i < 1000; i++) {
		struct trace_span *s = trace_span_begin("burst", TRACE_INTERNAL, NULL);

		trace_span_attr_int(s, "i", i);
		trace_span_end(s);
	}
	/* 1000 spans against a queue of 8: most are dropped, and fast */
	assert_true(tkt_mono_ns() - t0 < 500000000ull);
	trace_get_stats(&st);
	assert_true(st.dropped >= 900);
	assert_int_equal(st.exported, 0);
}

static int start(void **state)
{
	struct trace_opts o = {
		.url = "http://127.0.0.1:9/v1/traces", /* discard port: refused */
		.service_name = "test",
		.queue_max = 8,
		.batch_max = 4,
		.timeout_ms = 200,
		.interval_ms = 50,
	};

	(void)state;
	return trace_start(&o);
}

static int stop(void **state)
{
	uint64_t t0 = tkt_mono_ns();
	struct trace_stats st;

	(void)state;
	trace_stop();
	trace_get_stats(&st);
	/* Stopping waits for one bounded POST at most. */
	return tkt_mono_ns() - t0 < 1000000000ull && !trace_enabled() &&
			       st.exported == 0
		       ? 0
		       : -1;
}

/* A one-request HTTP receiver: keeps the body, answers 200. */
struct receiver {
	int fd;
	char body[16384];
};

static void *receive_one(void *arg)
{
	struct receiver *rc = arg;
	char buf[20000];
	size_t got = 0;
	int c = accept(rc->fd, NULL, NULL);
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				 "Connection: close\r\n\r\n{}";

	while (c >= 0 && got < sizeof(buf) - 1) {
		ssize_t n = read(c, buf + got, sizeof(buf) - 1 - got);
		char *hdr_end, *cl;

		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		hdr_end = strstr(buf, "\r\n\r\n");
		cl = strcasestr(buf, "Content-Length:");
		if (hdr_end && cl &&
		    got >= (size_t)(hdr_end + 4 - buf) + strtoul(cl + 15, NULL, 10)) {
			snprintf(rc->body, sizeof(rc->body), "%s", hdr_end + 4);
			break;
		}
	}
	if (c >= 0) {
		if (write(c, ok, sizeof(ok) - 1) < 0)
			rc->body[0] = '\0';
		close(c);
	}
	return NULL;
}

static const char *attr_of(json_t *span, const char *key, const char *type)
{
	size_t i;
	json_t *a;

	json_array_foreach(json_object_get(span, "attributes"), i, a)
		if (!strcmp(json_string_value(json_object_get(a, "key")), key))
			return json_string_value(
				json_object_get(json_object_get(a, "value"), type));
	return NULL;
}

static void exported_json_is_otlp(void **state)
{
	struct receiver rc = {.fd = socket(AF_INET, SOCK_STREAM, 0)};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	struct trace_opts o = {.service_name = "unit", .interval_ms = 20};
	struct traceparent parent;
	struct trace_stats st;
	struct trace_span *s;
	char url[64];
	pthread_t t;
	json_t *root, *spans, *sp;

	(void)state;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(rc.fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(rc.fd, 1), 0);
	getsockname(rc.fd, (struct sockaddr *)&a, &alen);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/traces", ntohs(a.sin_port));
	o.url = url;
	assert_int_equal(pthread_create(&t, NULL, receive_one, &rc), 0);
	assert_int_equal(trace_start(&o), 0);
	traceparent_parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			  &parent);
	s = trace_span_begin("GET /api/events", TRACE_SERVER, &parent);
	trace_span_attr(s, "http.route", "/api/events");
	trace_span_attr_int(s, "http.response.status_code", 503);
	trace_span_error(s, "server error");
	trace_span_end(s);
	pthread_join(t, NULL);
	trace_stop();
	close(rc.fd);
	trace_get_stats(&st);
	assert_int_equal(st.exported, 1);

	root = json_loads(rc.body, 0, NULL);
	assert_non_null(root);
	spans = json_object_get(json_array_get(json_object_get(json_array_get(
		json_object_get(root, "resourceSpans"), 0), "scopeSpans"), 0), "spans");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(json_array_get(
			json_object_get(json_object_get(json_array_get(json_object_get(
				root, "resourceSpans"), 0), "resource"), "attributes"), 0),
			"value"), "stringValue")),
		"unit");
	sp = json_array_get(spans, 0);
	assert_string_equal(json_string_value(json_object_get(sp, "traceId")),
			    "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(json_string_value(json_object_get(sp, "parentSpanId")),
			    "00f067aa0ba902b7");
	assert_int_equal(strlen(json_string_value(json_object_get(sp, "spanId"))), 16);
	assert_string_equal(json_string_value(json_object_get(sp, "name")), "GET /api/events");
	assert_int_equal(json_integer_value(json_object_get(sp, "kind")), 2);
	/* unix nanoseconds as decimal strings (OTLP JSON's fixed64) */
	assert_true(strtoull(json_string_value(json_object_get(sp, "startTimeUnixNano")),
			     NULL, 10) > 1600000000000000000ull);
	assert_true(strtoull(json_string_value(json_object_get(sp, "endTimeUnixNano")), NULL,
			     10) >=
		    strtoull(json_string_value(json_object_get(sp, "startTimeUnixNano")), NULL,
			     10));
	assert_string_equal(attr_of(sp, "http.route", "stringValue"), "/api/events");
	assert_string_equal(attr_of(sp, "http.response.status_code", "intValue"), "503");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(sp, "status"),
							    "code")),
			 2);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest off[] = {
		cmocka_unit_test(tracing_off_records_nothing),
	};
	const struct CMUnitTest on[] = {
		cmocka_unit_test(children_share_the_trace_and_name_their_parent),
		cmocka_unit_test(full_queue_drops_and_counts_without_waiting),
	};
	const struct CMUnitTest json[] = {
		cmocka_unit_test(exported_json_is_otlp),
	};
	int rc = cmocka_run_group_tests(off, NULL, NULL);

	rc |= cmocka_run_group_tests(on, start, stop);
	/* after stop: the recorder starts again with a reachable URL */
	return rc | cmocka_run_group_tests(json, NULL, NULL);
}
