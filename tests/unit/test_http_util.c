/* Trace ids, route matching, ids and times of the HTTP layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "api/http.h"
#include "userspace/lib/hex.h"

static void valid_traceparent_gives_its_trace_id(void **state)
{
	char id[33];

	(void)state;
	trace_id_from_traceparent(
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id);
	assert_string_equal(id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

static void invalid_traceparents_get_a_fresh_id(void **state)
{
	static const char *const bad[] = {
		NULL,
		"",
		"garbage",
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
		"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
	};
	char id[33];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		trace_id_from_traceparent(bad[i], id);
		assert_int_equal(strlen(id), 32);
		assert_int_equal(strspn(id, "0123456789abcdef"), 32);
		assert_string_not_equal(id, "4bf92f3577b34da6a3ce929d0e0e4736");
	}
}

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

static void times_are_rfc3339_utc_with_millis(void **state)
{
	char out[32];

	(void)state;
	format_rfc3339_ms(1805139000123LL, out);
	assert_string_equal(out, "2027-03-15T19:30:00.123Z");
	format_rfc3339_ms(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

static void hex_round_trips_and_refuses_junk(void **state)
{
	uint8_t raw[4] = {0xde, 0xad, 0x00, 0x7f}, back[4];
	char hex[9];

	(void)state;
	hex_encode(raw, 4, hex);
	assert_string_equal(hex, "dead007f");
	assert_int_equal(hex_decode("DEAD007F", back, 4), 0);
	assert_memory_equal(raw, back, 4);
	assert_int_equal(hex_decode("dead007", back, 4), -1);
	assert_int_equal(hex_decode("dead007f0", back, 4), -1);
	assert_int_equal(hex_decode("deadzz7f", back, 4), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_traceparent_gives_its_trace_id),
		cmocka_unit_test(invalid_traceparents_get_a_fresh_id),
		cmocka_unit_test(route_patterns_capture_parameters),
		cmocka_unit_test(ids_must_be_plain_decimal_u32),
		cmocka_unit_test(times_are_rfc3339_utc_with_millis),
		cmocka_unit_test(hex_round_trips_and_refuses_junk),
	};
	return cmocka_run_group_tests_name("http_util", tests, NULL, NULL);
}
