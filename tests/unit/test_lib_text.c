/* The shared library's text codecs: hex, W3C trace ids, RFC 3339 times.
 * Links libtkt.a only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "userspace/lib/hex.h"
#include "userspace/lib/timefmt.h"
#include "userspace/lib/traceparent.h"

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

static void times_are_rfc3339_utc_with_millis(void **state)
{
	char out[32];

	(void)state;
	tkt_format_rfc3339_ms(1805139000123LL, out, sizeof(out));
	assert_string_equal(out, "2027-03-15T19:30:00.123Z");
	tkt_format_rfc3339_ms(0, out, sizeof(out));
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

static void hex_decode_skips_separators_and_rejects_odd_input(void **state)
{
	uint8_t b[4];

	(void)state;
	assert_int_equal(hex_decode_loose("54 58:01", b, sizeof(b)), 3);
	assert_int_equal(b[0], 0x54);
	assert_int_equal(b[2], 0x01);
	assert_int_equal(hex_decode_loose("545", b, sizeof(b)), -1);
	assert_int_equal(hex_decode_loose("zz", b, sizeof(b)), -1);
	assert_int_equal(hex_decode_loose("0102030405", b, sizeof(b)), -1);
	assert_int_equal(hex_decode_loose("", b, sizeof(b)), 0);
}

static void rfc3339_prints_utc_with_milliseconds(void **state)
{
	char out[40];

	(void)state;
	assert_int_equal(tkt_format_rfc3339_ms(0, out, sizeof(out)), 0);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
	assert_int_equal(tkt_format_rfc3339_ms(1732703760123LL, out,
					       sizeof(out)),
			 0);
	assert_string_equal(out, "2024-11-27T10:36:00.123Z");
	assert_int_equal(tkt_format_rfc3339_ms(1732703760123LL, out, 24),
			 -1);
	assert_int_equal(tkt_format_rfc3339_ms(INT64_MAX, out, sizeof(out)),
			 -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_traceparent_gives_its_trace_id),
		cmocka_unit_test(invalid_traceparents_get_a_fresh_id),
		cmocka_unit_test(times_are_rfc3339_utc_with_millis),
		cmocka_unit_test(hex_round_trips_and_refuses_junk),
		cmocka_unit_test(hex_decode_skips_separators_and_rejects_odd_input),
		cmocka_unit_test(rfc3339_prints_utc_with_milliseconds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
