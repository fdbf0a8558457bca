/* The span recorder: off by default, ids and parents, the per-thread
 * current context, and a bounded queue that drops (and counts) instead of
 * waiting when the collector is unreachable. Links libtkt.a only; the
 * collector URL is a closed loopback port. */
#include <setjmp.h>
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

int main(void)
{
	const struct CMUnitTest off[] = {
		cmocka_unit_test(tracing_off_records_nothing),
	};
	const struct CMUnitTest on[] = {
		cmocka_unit_test(children_share_the_trace_and_name_their_parent),
		cmocka_unit_test(full_queue_drops_and_counts_without_waiting),
	};
	int rc = cmocka_run_group_tests(off, NULL, NULL);

	return rc | cmocka_run_group_tests(on, start, stop);
}
