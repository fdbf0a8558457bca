/* Trace ids, route matching, ids and times of the HTTP layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "userspace/lib/hex.h"

static void route_patterns_capture_parameters(void **state)
{
	const char *params[HTTP_MAX_PARAMS];
	char scratch[128];
	int n;

	(void)state;
	assert_true(route_match("/api/events/{id}/seats", "/api/events/42/seats",
				params, &n, scratch, sizeof(scratch)));
	assert_int_equal(n, 1);
	assert_string_equal(params[0], "42");
	assert_true(route_match("/api/reservations/{e}/{s}/extend",
				"/api/reservations/1/7/extend", params, &n, scratch,
				sizeof(scratch)));
	assert_int_equal(n, 2);
	assert_string_equal(params[1], "7");
	assert_false(route_match("/api/events/{id}", "/api/events/42/seats", params,
				 &n, scratch, sizeof(scratch)));
	assert_false(route_match("/api/events/{id}", "/api/events/", params, &n,
				 scratch, sizeof(scratch)));
	assert_false(route_match("/api/events", "/api/events/", params, &n, scratch,
				 sizeof(scratch)));
}

static void ids_must_be_plain_decimal_u32(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(http_parse_u32("0", &v), 0);
	assert_int_equal(http_parse_u32("4294967295", &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(http_parse_u32("4294967296", &v), -1);
	assert_int_equal(http_parse_u32("-1", &v), -1);
	assert_int_equal(http_parse_u32("1e3", &v), -1);
	assert_int_equal(http_parse_u32("", &v), -1);
	assert_int_equal(http_parse_u32(" 1", &v), -1);
	assert_int_equal(http_parse_u32("99999999999999999999", &v), -1);
}

/* A malformed body is 400 MALFORMED_JSON whatever bytes sit where the
 * parser stopped: jansson's error text may end inside a UTF-8 sequence,
 * which made the error body unbuildable and the answer a 500 (found by
 * fuzz/fuzz_http; seed fuzz/corpus/fuzz_http/regress-json-error-cuts-utf8). */
static void malformed_json_is_400_whatever_its_bytes(void **state)
{
	static const char *const bodies[] = {
		"{\"eventId\":1,\"sr \\u\xd1\x9ep-5}",
		"{\"a\":\xff}",
		"\xe2\x82",
		"{\"\xf0\x9f\x8e\xab\":1,}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct http_req req = {.body = bodies[i], .body_len = strlen(bodies[i])};
		struct http_resp resp = {0};
		json_t *err;

		assert_null(http_body_object(&req, &resp, false));
		assert_int_equal(resp.status, 400);
		err = json_loadb(resp.body, resp.body_len, 0, NULL);
		assert_non_null(err);
		assert_string_equal(json_string_value(json_object_get(err, "code")),
				    "MALFORMED_JSON");
		json_decref(err);
		free(resp.body);
	}
}

/* The in-flight gate of a door: full means refused at once and counted. */
static void full_gate_refuses_at_once_and_frees_on_leave(void **state)
{
	struct http_gate g = {.max = 2};

	(void)state;
	assert_true(http_gate_enter(&g));
	assert_true(http_gate_enter(&g));
	assert_false(http_gate_enter(&g));
	assert_int_equal(atomic_load(&g.inflight), 2);
	assert_int_equal(atomic_load(&g.rejected), 1);
	http_gate_leave(&g);
	assert_true(http_gate_enter(&g));
	assert_false(http_gate_enter(&g));
	assert_int_equal(atomic_load(&g.rejected), 2);
}

static void gate_without_cap_only_counts(void **state)
{
	struct http_gate g = {.max = 0};

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_true(http_gate_enter(&g));
	assert_int_equal(atomic_load(&g.inflight), 1000);
	assert_int_equal(atomic_load(&g.rejected), 0);
}

static void overloaded_is_503_with_retry_after_and_reason(void **state)
{
	struct http_req req = {0};
	struct http_resp resp = {0};
	json_t *body, *details;

	(void)state;
	strcpy(req.trace_id, "0123456789abcdef0123456789abcdef");
	http_overloaded(&resp, &req, 0, "orders", "saga_queue");
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retry_after, 1); /* never 0: the header is always sent */
	body = json_loadb(resp.body, resp.body_len, 0, NULL);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "code")), "OVERLOADED");
	details = json_object_get(body, "details");
	assert_string_equal(json_string_value(json_object_get(details, "door")), "orders");
	assert_string_equal(json_string_value(json_object_get(details, "reason")),
			    "saga_queue");
	json_decref(body);
	free(resp.body);
	memset(&resp, 0, sizeof(resp));
	http_overloaded(&resp, &req, 7, "payments", "inflight");
	assert_int_equal(resp.retry_after, 7);
	free(resp.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_patterns_capture_parameters),
		cmocka_unit_test(ids_must_be_plain_decimal_u32),
		cmocka_unit_test(malformed_json_is_400_whatever_its_bytes),
		cmocka_unit_test(full_gate_refuses_at_once_and_frees_on_leave),
		cmocka_unit_test(gate_without_cap_only_counts),
		cmocka_unit_test(overloaded_is_503_with_retry_after_and_reason),
	};
	return cmocka_run_group_tests_name("http_util", tests, NULL, NULL);
}
