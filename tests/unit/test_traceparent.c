/* W3C traceparent: parse every field, format version 00, refuse what the
 * spec refuses. Links libtkt.a only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "userspace/lib/traceparent.h"

static void valid_traceparent_gives_every_field(void **state)
{
	struct traceparent tp;

	(void)state;
	assert_int_equal(traceparent_parse(
				 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &tp),
			 0);
	assert_int_equal(tp.version, 0);
	assert_string_equal(tp.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(tp.parent_id, "00f067aa0ba902b7");
	assert_int_equal(tp.flags, 1);
}

static void later_version_keeps_its_first_four_fields(void **state)
{
	struct traceparent tp;

	(void)state;
	assert_int_equal(
		traceparent_parse(
			"cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what", &tp),
		0);
	assert_int_equal(tp.version, 0xcc);
	assert_string_equal(tp.parent_id, "00f067aa0ba902b7");
	assert_int_equal(tp.flags, 9);
}

static void invalid_traceparents_are_refused_and_cleared(void **state)
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
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	};
	struct traceparent tp;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&tp, 'x', sizeof(tp));
		assert_int_equal(traceparent_parse(bad[i], &tp), -1);
		assert_string_equal(tp.trace_id, "");
	}
}

static void format_round_trips_as_version_00(void **state)
{
	static const char in[] =
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
	struct traceparent tp;
	char out[TRACEPARENT_LEN + 1];

	(void)state;
	assert_int_equal(traceparent_parse(in, &tp), 0);
	assert_int_equal(traceparent_format(&tp, out), 0);
	assert_string_equal(out, in);
	tp.flags = 0x01;
	tp.version = 0x42; /* we only ever write what we speak */
	assert_int_equal(traceparent_format(&tp, out), 0);
	assert_string_equal(out, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
}

static void format_refuses_empty_or_bad_ids(void **state)
{
	struct traceparent tp = {0};
	char out[TRACEPARENT_LEN + 1];

	(void)state;
	assert_int_equal(traceparent_format(&tp, out), -1);
	assert_string_equal(out, "");
	strcpy(tp.trace_id, "0af7651916cd43dd8448eb211c80319c");
	strcpy(tp.parent_id, "0000000000000000");
	assert_int_equal(traceparent_format(&tp, out), -1);
	strcpy(tp.parent_id, "B7AD6B7169203331");
	assert_int_equal(traceparent_format(&tp, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_traceparent_gives_every_field),
		cmocka_unit_test(later_version_keeps_its_first_four_fields),
		cmocka_unit_test(invalid_traceparents_are_refused_and_cleared),
		cmocka_unit_test(format_round_trips_as_version_00),
		cmocka_unit_test(format_refuses_empty_or_bad_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
