/* The operator's view of seat words and door counters (edge_view.c), as
 * `ticketctl seat` / `ticketctl stats` and /metrics print them. Links
 * libtkt.a only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/seat_word.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/edge_view.h"

/* 2030-01-01T00:00:00Z */
#define NOW_UNIX_MS 1893456000000ull

static void every_door_counter_has_a_distinct_name(void **state)
{
	(void)state;
	for (unsigned i = 0; i < TKT_STAT_COUNT; i++) {
		const char *a = edge_stat_name(i);

		assert_non_null(a);
		for (unsigned j = 0; j < i; j++)
			assert_string_not_equal(a, edge_stat_name(j));
	}
	assert_string_equal(edge_stat_name(TKT_OK), "OK");
	assert_string_equal(edge_stat_name(TKT_NOT_ADMITTED), "NOT_ADMITTED");
	assert_string_equal(edge_stat_name(TKT_STAT_RINGBUF_FULL), "ringbuf_full");
	assert_string_equal(edge_stat_name(TKT_STAT_REPLAY_DROPPED), "replay_dropped");
	assert_null(edge_stat_name(TKT_STAT_COUNT));
}

static void live_hold_decodes_holder_expiry_and_start(void **state)
{
	uint32_t now = 5000000;
	uint64_t w = tkt_sw_pack(TKT_SEAT_HELD, 3, 21, now + 120000);
	struct edge_seat_view v;

	(void)state;
	edge_seat_view_decode(w, now - 2500, now, NOW_UNIX_MS, &v);
	assert_int_equal(v.word, w);
	assert_int_equal(v.state, TKT_SEAT_HELD);
	assert_int_equal(v.effective, TKT_SEAT_HELD);
	assert_int_equal(v.counter, 3);
	assert_int_equal(v.holder, 21);
	assert_true(v.claimed);
	assert_false(v.lapsed);
	assert_int_equal(v.expires_in_ms, 120000);
	assert_int_equal(v.expires_unix_ms, NOW_UNIX_MS + 120000);
	assert_int_equal(v.held_for_ms, 2500);
	assert_int_equal(v.since_unix_ms, NOW_UNIX_MS - 2500);
}

static void expiry_across_the_clock_wrap_is_still_ahead(void **state)
{
	uint32_t now = 0xffffff00u; /* 2^32 ms wrap 256 ms away */
	struct edge_seat_view v;

	(void)state;
	edge_seat_view_decode(tkt_sw_pack(TKT_SEAT_ORDERED, 0, 9, now + 1000),
			      now - 10, now, NOW_UNIX_MS, &v);
	assert_false(v.lapsed);
	assert_int_equal(v.effective, TKT_SEAT_ORDERED);
	assert_int_equal(v.expires_in_ms, 1000);
	assert_int_equal(v.held_for_ms, 10);
}

static void lapsed_hold_reads_available_with_a_negative_time_left(void **state)
{
	uint32_t now = 7000000;
	struct edge_seat_view v;

	(void)state;
	edge_seat_view_decode(tkt_sw_pack(TKT_SEAT_HELD, 1, 4, now - 3000), 0,
			      now, NOW_UNIX_MS, &v);
	assert_int_equal(v.state, TKT_SEAT_HELD);
	assert_int_equal(v.effective, TKT_SEAT_AVAILABLE);
	assert_true(v.lapsed);
	assert_int_equal(v.expires_in_ms, -3000);
	assert_int_equal(v.expires_unix_ms, NOW_UNIX_MS - 3000);
}

static void sold_and_free_words_have_no_expiry(void **state)
{
	struct edge_seat_view v;
	uint64_t sold = tkt_sw_pack(TKT_SEAT_SOLD, 255, 0, 0);

	(void)state;
	edge_seat_view_decode(sold, 123, 1000, NOW_UNIX_MS, &v);
	assert_int_equal(v.state, TKT_SEAT_SOLD);
	assert_int_equal(v.counter, 255);
	assert_false(v.claimed);
	assert_int_equal(v.expires_in_ms, 0);
	assert_int_equal(v.held_for_ms, 0);
	edge_seat_view_decode(0, 0, 1000, NOW_UNIX_MS, &v);
	assert_int_equal(v.state, TKT_SEAT_AVAILABLE);
	assert_string_equal(edge_seat_state_name(v.state), "AVAILABLE");
	assert_string_equal(edge_seat_state_name(TKT_SEAT_SOLD), "SOLD");
}

static void json_carries_the_word_as_hex_and_times_as_rfc3339(void **state)
{
	uint32_t now = 5000000;
	uint64_t w = tkt_sw_pack(TKT_SEAT_SOLD, 2, 0, 0);
	struct edge_seat_view v;
	json_t *j;

	(void)state;
	/* a SOLD word reads negative as a signed 64-bit integer and is above
	 * 2^53: only a string keeps it exact */
	edge_seat_view_decode(w, 0, now, NOW_UNIX_MS, &v);
	j = edge_seat_view_json(&v);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "word")),
			    "0xc080000000000000");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "SOLD");
	assert_true(json_is_null(json_object_get(j, "expiresAt")));
	json_decref(j);

	edge_seat_view_decode(tkt_sw_pack(TKT_SEAT_HELD, 1, 21, now + 60000),
			      now - 1000, now, NOW_UNIX_MS, &v);
	j = edge_seat_view_json(&v);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "holderSlot")), 21);
	assert_int_equal(json_integer_value(json_object_get(j, "expiresInMs")), 60000);
	assert_string_equal(json_string_value(json_object_get(j, "expiresAt")),
			    "2030-01-01T00:01:00.000Z");
	assert_string_equal(json_string_value(json_object_get(j, "heldSince")),
			    "2029-12-31T23:59:59.000Z");
	assert_false(json_is_true(json_object_get(j, "lapsed")));
	json_decref(j);
}

static void text_names_state_holder_and_expiry(void **state)
{
	uint32_t now = 5000000;
	struct edge_seat_view v;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	edge_seat_view_decode(tkt_sw_pack(TKT_SEAT_HELD, 0, 21, now - 1), now - 5,
			      now, NOW_UNIX_MS, &v);
	edge_seat_view_print(f, &v);
	fclose(f);
	assert_non_null(strstr(buf, "word=0x4000001500"));
	assert_non_null(strstr(buf, "state=HELD (lapsed"));
	assert_non_null(strstr(buf, "holder_slot=21\n"));
	assert_non_null(strstr(buf, "expiry=2029-12-31T23:59:59.999Z (-1 ms"));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_door_counter_has_a_distinct_name),
		cmocka_unit_test(live_hold_decodes_holder_expiry_and_start),
		cmocka_unit_test(expiry_across_the_clock_wrap_is_still_ahead),
		cmocka_unit_test(lapsed_hold_reads_available_with_a_negative_time_left),
		cmocka_unit_test(sold_and_free_words_have_no_expiry),
		cmocka_unit_test(json_carries_the_word_as_hex_and_times_as_rfc3339),
		cmocka_unit_test(text_names_state_holder_and_expiry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
