/* Trace ids, route matching, ids and times of the HTTP layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_patterns_capture_parameters),
		cmocka_unit_test(ids_must_be_plain_decimal_u32),
	};
	return cmocka_run_group_tests_name("http_util", tests, NULL, NULL);
}
