/* Unit tests of the client-side wire codec (userspace/lib/wire_codec.c): the
 * byte layouts of the UDP hold protocol, version 1 (docs/protocol.md), written out
 * by hand here so that a change of the structs shows up as a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/lib/hex.h"
#include "userspace/lib/wire_codec.h"

static const uint8_t token[16] = {0x00, 0x00, 0x00, 0x2a, 0x67, 0x45,
				  0x23, 0x01, 0xde, 0xad, 0xbe, 0xef,
				  0x01, 0x02, 0x03, 0x04};

/* HOLD, request id 0x01020304, event 7, seat 0x0a0b, 300 s. */
static const uint8_t hold_bytes[40] = {
	0x54, 0x58, 0x01, 0x01, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00,
	0x00, 0x07, 0x00, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x2a,
	0x67, 0x45, 0x23, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02,
	0x03, 0x04, 0x01, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};

/* Reply to it: OK, counter 0x11223344, expiry 1732703760123 ms. */
static const uint8_t ok_reply[32] = {
	0x54, 0x58, 0x01, 0x81, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00,
	0x07, 0x00, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x11, 0x22,
	0x33, 0x44, 0x00, 0x00, 0x01, 0x93, 0x6d, 0x31, 0x2e, 0xfb,
};

static struct tkt_request_fields hold_request(void)
{
	struct tkt_request_fields q = {
		.op = TKT_OP_HOLD,
		.req_id = 0x01020304,
		.event_id = 7,
		.seat_id = 0x0a0b,
		.hold_secs = 300,
	};

	memcpy(q.token, token, sizeof(token));
	return q;
}

static void build_request_writes_contract_layout(void **state)
{
	struct tkt_request_fields q = hold_request();
	uint8_t buf[64];

	(void)state;
	assert_int_equal(tkt_build_request(buf, sizeof(buf), &q), 40);
	assert_memory_equal(buf, hold_bytes, sizeof(hold_bytes));
}

/* The same HOLD in version 2; the MAC computed independently (Python,
 * tests/integration/conftest.py siphash24). */
static const uint8_t hold_bytes_v2[40] = {
	0x54, 0x58, 0x02, 0x01, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00,
	0x00, 0x07, 0x00, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x2a,
	0x67, 0x45, 0x23, 0x01, 0x01, 0x2c, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x92, 0xb2, 0x6e, 0xb9, 0x5b, 0xcc, 0x53, 0x9a,
};

static void build_request_v2_writes_session_id_and_mac(void **state)
{
	struct tkt_request_fields q = hold_request();
	struct tkt_reply_fields r;
	uint8_t buf[64], rep[32];

	(void)state;
	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(tkt_build_request_v2(buf, sizeof(buf), &q), 40);
	assert_memory_equal(buf, hold_bytes_v2, sizeof(hold_bytes_v2));
	assert_int_equal(tkt_build_request_v2(buf, 39, &q), -1);
	/* a v2 reply parses, and says so */
	memcpy(rep, ok_reply, sizeof(rep));
	rep[2] = 2;
	assert_int_equal(tkt_parse_reply(rep, sizeof(rep), &r), TKT_REPLY_VALID);
	assert_int_equal(r.version, 2);
}

static void build_request_refuses_short_buffer_untouched(void **state)
{
	struct tkt_request_fields q = hold_request();
	uint8_t buf[39];

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(tkt_build_request(buf, sizeof(buf), &q), -1);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

static void build_request_zeroes_padding_of_reused_buffer(void **state)
{
	struct tkt_request_fields q = hold_request();
	uint8_t buf[40];

	(void)state;
	memset(buf, 0xff, sizeof(buf));
	tkt_build_request(buf, sizeof(buf), &q);
	for (int i = 34; i < 40; i++)
		assert_int_equal(buf[i], 0);
}

static void parse_reply_reads_every_field(void **state)
{
	struct tkt_reply_fields r;

	(void)state;
	assert_int_equal(tkt_parse_reply(ok_reply, sizeof(ok_reply), &r),
			 TKT_REPLY_VALID);
	assert_int_equal(r.op, TKT_OP_HOLD);
	assert_int_equal(r.req_id, 0x01020304);
	assert_int_equal(r.event_id, 7);
	assert_int_equal(r.seat_id, 0x0a0b);
	assert_int_equal(r.status, TKT_OK);
	assert_int_equal(r.counter, 0x11223344);
	assert_true(r.expiry_ms == 1732703760123ULL);
}

static void parse_reply_with(const uint8_t *bytes, size_t len,
			     enum tkt_reply_err want)
{
	struct tkt_reply_fields r;

	memset(&r, 0x5a, sizeof(r));
	assert_int_equal(tkt_parse_reply(bytes, len, &r), want);
	/* a rejected datagram leaves the output alone */
	assert_int_equal(r.req_id, 0x5a5a5a5a);
}

static void parse_reply_rejects_wrong_lengths(void **state)
{
	uint8_t longer[33];

	(void)state;
	memcpy(longer, ok_reply, 32);
	longer[32] = 0;
	parse_reply_with(ok_reply, 0, TKT_REPLY_TOO_SHORT);
	parse_reply_with(ok_reply, 31, TKT_REPLY_TOO_SHORT);
	parse_reply_with(longer, 33, TKT_REPLY_TOO_LONG);
}

static void parse_reply_rejects_each_bad_header_field(void **state)
{
	static const struct {
		size_t off;
		uint8_t val;
		enum tkt_reply_err want;
	} cases[] = {
		{0, 0x55, TKT_REPLY_BAD_MAGIC},
		{1, 0x00, TKT_REPLY_BAD_MAGIC},
		{2, 0x03, TKT_REPLY_BAD_VERSION},
		{2, 0x00, TKT_REPLY_BAD_VERSION},
		{3, 0x01, TKT_REPLY_NOT_A_REPLY},
		{16, TKT_STATUS_COUNT, TKT_REPLY_BAD_STATUS},
		{16, 0xff, TKT_REPLY_BAD_STATUS},
		{17, 0x01, TKT_REPLY_NONZERO_PAD},
		{19, 0x80, TKT_REPLY_NONZERO_PAD},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t b[32];

		memcpy(b, ok_reply, sizeof(b));
		b[cases[i].off] = cases[i].val;
		parse_reply_with(b, sizeof(b), cases[i].want);
	}
}

static void parse_reply_accepts_every_status_and_unknown_op(void **state)
{
	struct tkt_reply_fields r;
	uint8_t b[32];

	(void)state;
	memcpy(b, ok_reply, sizeof(b));
	for (unsigned s = 0; s < TKT_STATUS_COUNT; s++) {
		b[16] = (uint8_t)s;
		assert_int_equal(tkt_parse_reply(b, 32, &r), TKT_REPLY_VALID);
		assert_int_equal(r.status, s);
	}
	/* a MALFORMED answer to op 7 echoes 0x87: still a reply */
	b[3] = 0x87;
	b[16] = TKT_MALFORMED;
	assert_int_equal(tkt_parse_reply(b, 32, &r), TKT_REPLY_VALID);
	assert_int_equal(r.op, 7);
}

static void reply_matches_names_the_differing_field(void **state)
{
	struct tkt_request_fields q = hold_request();
	struct tkt_reply_fields r;

	(void)state;
	assert_int_equal(tkt_parse_reply(ok_reply, 32, &r), TKT_REPLY_VALID);
	assert_int_equal(tkt_reply_matches(&r, &q), TKT_REPLY_VALID);
	q.op = TKT_OP_RELEASE;
	assert_int_equal(tkt_reply_matches(&r, &q), TKT_REPLY_OP_MISMATCH);
	q = hold_request();
	q.req_id++;
	assert_int_equal(tkt_reply_matches(&r, &q), TKT_REPLY_ID_MISMATCH);
	q = hold_request();
	q.seat_id++;
	assert_int_equal(tkt_reply_matches(&r, &q), TKT_REPLY_SEAT_MISMATCH);
	q = hold_request();
	q.event_id++;
	assert_int_equal(tkt_reply_matches(&r, &q), TKT_REPLY_SEAT_MISMATCH);
}

static void status_names_follow_the_contract_and_round_trip(void **state)
{
	static const char *const want[] = {
		"OK",		  "TAKEN",	  "SOLD",
		"NO_SUCH_SEAT",	  "NOT_HOLDER",	  "BAD_CREDENTIAL",
		"RATE_LIMITED",	  "LIMIT_EXCEEDED", "MALFORMED",
		"WRONG_NODE",	  "NOT_ADMITTED",
	};

	(void)state;
	for (int i = 0; i < TKT_STATUS_COUNT; i++) {
		assert_string_equal(tkt_status_name((unsigned)i), want[i]);
		assert_int_equal(tkt_status_from_name(want[i]), i);
	}
	assert_string_equal(tkt_status_name(TKT_STATUS_COUNT), "UNKNOWN");
	assert_string_equal(tkt_status_name(255), "UNKNOWN");
	assert_int_equal(tkt_status_from_name("taken"), TKT_TAKEN);
	assert_int_equal(tkt_status_from_name("NOPE"), -1);
}

static void op_names_round_trip_and_reject_unknown(void **state)
{
	(void)state;
	assert_int_equal(tkt_op_from_name("hold"), TKT_OP_HOLD);
	assert_int_equal(tkt_op_from_name("RELEASE"), TKT_OP_RELEASE);
	assert_int_equal(tkt_op_from_name("extend"), TKT_OP_EXTEND);
	assert_int_equal(tkt_op_from_name("query"), TKT_OP_QUERY);
	assert_int_equal(tkt_op_from_name("raw"), -1);
	assert_string_equal(tkt_op_name(TKT_OP_QUERY), "QUERY");
	assert_string_equal(tkt_op_name(0), "UNKNOWN");
	assert_string_equal(tkt_op_name(5), "UNKNOWN");
	assert_string_equal(tkt_op_name(0x81), "UNKNOWN");
}

static void split_endpoint_handles_v4_v6_names_and_defaults(void **state)
{
	static const struct {
		const char *text;
		int rc;
		const char *host;
		uint16_t port;
	} cases[] = {
		{"127.0.0.1:7000", 0, "127.0.0.1", 7000},
		{"10.77.0.2", 0, "10.77.0.2", 7000},
		{"localhost:9", 0, "localhost", 9},
		{"[::1]:7001", 0, "::1", 7001},
		{"[fe80::1%tkb0]", 0, "fe80::1%tkb0", 7000},
		{"::1", 0, "::1", 7000},
		{"host:0", -1, NULL, 0},
		{"host:65536", -1, NULL, 0},
		{"host:", -1, NULL, 0},
		{":7000", -1, NULL, 0},
		{"[::1]x", -1, NULL, 0},
		{"[::1", -1, NULL, 0},
		{"h:12a", -1, NULL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char host[64] = "";
		uint16_t port = 0;

		assert_int_equal(tkt_split_endpoint(cases[i].text, 7000, host,
						    sizeof(host), &port),
				 cases[i].rc);
		if (cases[i].rc == 0) {
			assert_string_equal(host, cases[i].host);
			assert_int_equal(port, cases[i].port);
		}
	}
}

static void token_hex_round_trips_and_rejects_bad_text(void **state)
{
	uint8_t t[16];
	char hex[33];

	(void)state;
	assert_int_equal(tkt_token_from_hex("0000002A67452301DEADBEEF01020304",
					    t),
			 0);
	assert_memory_equal(t, token, 16);
	tkt_token_to_hex(t, hex);
	assert_string_equal(hex, "0000002a67452301deadbeef01020304");
	memset(t, 0x77, sizeof(t));
	assert_int_equal(tkt_token_from_hex("0000002a67452301deadbeef0102030",
					    t),
			 -1);
	assert_int_equal(tkt_token_from_hex("0000002a67452301deadbeef010203045",
					    t),
			 -1);
	assert_int_equal(tkt_token_from_hex("0000002a67452301deadbeef0102030g",
					    t),
			 -1);
	assert_int_equal(t[0], 0x77);
}

/* WRONG_NODE carries the owner in the expiry field (issue #16). */
static void wrong_node_reply_names_its_owner(void **state)
{
	struct tkt_reply_fields r = {.status = TKT_WRONG_NODE,
				     .expiry_ms = 0x0a4d01021b580000ull};
	char buf[32];

	(void)state;
	assert_int_equal(tkt_reply_owner(&r, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "10.77.1.2:7000");
	assert_int_equal(tkt_reply_owner(&r, buf, 8), -1);
	r.expiry_ms = 0;
	assert_int_equal(tkt_reply_owner(&r, buf, sizeof(buf)), -1);
	r.expiry_ms = 0x0a4d01021b580000ull;
	r.status = TKT_TAKEN;
	assert_int_equal(tkt_reply_owner(&r, buf, sizeof(buf)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(token_hex_round_trips_and_rejects_bad_text),
		cmocka_unit_test(build_request_writes_contract_layout),
		cmocka_unit_test(build_request_v2_writes_session_id_and_mac),
		cmocka_unit_test(build_request_refuses_short_buffer_untouched),
		cmocka_unit_test(build_request_zeroes_padding_of_reused_buffer),
		cmocka_unit_test(parse_reply_reads_every_field),
		cmocka_unit_test(parse_reply_rejects_wrong_lengths),
		cmocka_unit_test(parse_reply_rejects_each_bad_header_field),
		cmocka_unit_test(parse_reply_accepts_every_status_and_unknown_op),
		cmocka_unit_test(reply_matches_names_the_differing_field),
		cmocka_unit_test(status_names_follow_the_contract_and_round_trip),
		cmocka_unit_test(op_names_round_trip_and_reject_unknown),
		cmocka_unit_test(split_endpoint_handles_v4_v6_names_and_defaults),
		cmocka_unit_test(wrong_node_reply_names_its_owner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
