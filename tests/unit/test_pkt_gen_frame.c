/* bench/pkt_gen_frame.c: the request frames pkt_gen writes into its TX
 * ring and the parser of the frames it reads off its RX ring. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bench/pkt_gen_frame.h"

static const struct pg_addrs A = {
	.src_mac = {0x02, 0x74, 0x6b, 0x62, 0x00, 0x01},
	.dst_mac = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f},
	.src_ip = 0x0a4f0001, /* 10.79.0.1 */
	.dst_ip = 0x0a4f0002, /* 10.79.0.2 */
	.dst_port = 7000,
};

static struct tkt_request_fields request(void)
{
	struct tkt_request_fields f = {
		.op = TKT_OP_HOLD,
		.req_id = 42,
		.event_id = 1,
		.seat_id = 7,
		.hold_secs = 60,
	};

	for (int i = 0; i < TKT_TOKEN_LEN; i++)
		f.token[i] = (uint8_t)(0xa0 + i);
	return f;
}

static struct tkt_reply_fields reply(void)
{
	struct tkt_reply_fields r = {
		.version = 1,
		.op = TKT_OP_HOLD,
		.req_id = 42,
		.event_id = 1,
		.seat_id = 7,
		.status = TKT_OK,
		.counter = 1,
		.expiry_ms = 1799920860000ULL,
	};

	return r;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* a request frame and the reply frame the door would send for it */
static void pair(uint8_t req[PG_REQ_FRAME_LEN], uint8_t rep[PG_REPLY_FRAME_LEN])
{
	struct tkt_request_fields f = request();
	struct tkt_reply_fields r = reply();

	assert_int_equal(pg_build_request(req, PG_REQ_FRAME_LEN, &A, 40007, 9, &f),
			 PG_REQ_FRAME_LEN);
	assert_int_equal(pg_reply_for(rep, PG_REPLY_FRAME_LEN, req,
				      PG_REQ_FRAME_LEN, &r),
			 PG_REPLY_FRAME_LEN);
}

static void test_request_frame_layout(void **state)
{
	uint8_t b[PG_REQ_FRAME_LEN + 8], want[TKT_REQ_LEN];
	struct tkt_request_fields f = request();

	(void)state;
	memset(b, 0xee, sizeof(b));
	assert_int_equal(pg_build_request(b, sizeof(b), &A, 40007, 9, &f), 82);
	assert_memory_equal(b, A.dst_mac, 6);
	assert_memory_equal(b + 6, A.src_mac, 6);
	assert_int_equal(be16(b + 12), 0x0800);
	/* IPv4: 0x45, total 20 + 8 + 40, id, DF, TTL 64, UDP, addresses */
	assert_int_equal(b[14], 0x45);
	assert_int_equal(be16(b + 16), 68);
	assert_int_equal(be16(b + 18), 9);
	assert_int_equal(be16(b + 20), 0x4000);
	assert_int_equal(b[22], 64);
	assert_int_equal(b[23], 17);
	assert_int_equal(be16(b + 26), 0x0a4f);
	assert_int_equal(be16(b + 32), 2);
	assert_int_equal(pg_csum(b + 14, 20, 0), 0); /* header checksum holds */
	/* UDP: ports, length, a checksum that verifies over the pseudo header */
	assert_int_equal(be16(b + 34), 40007);
	assert_int_equal(be16(b + 36), 7000);
	assert_int_equal(be16(b + 38), 48);
	assert_int_not_equal(be16(b + 40), 0);
	assert_int_equal(pg_csum(b + 34, 48, 0x0a4f + 0x0001 + 0x0a4f + 0x0002 +
						 17 + 48),
			 0);
	/* the payload is the codec's request, byte for byte */
	assert_int_equal(tkt_build_request(want, sizeof(want), &f), TKT_REQ_LEN);
	assert_memory_equal(b + 42, want, TKT_REQ_LEN);
	assert_int_equal(b[82], 0xee); /* nothing written beyond */
}

static void test_request_frame_needs_room(void **state)
{
	uint8_t b[PG_REQ_FRAME_LEN];
	struct tkt_request_fields f = request();

	(void)state;
	memset(b, 0x5a, sizeof(b));
	assert_int_equal(pg_build_request(b, sizeof(b) - 1, &A, 40000, 1, &f), -1);
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0x5a);
}

static void test_reply_parses(void **state)
{
	uint8_t req[PG_REQ_FRAME_LEN], rep[PG_REPLY_FRAME_LEN + 16];
	struct tkt_reply_fields got, want = reply();
	uint16_t port = 0;

	(void)state;
	pair(req, rep);
	assert_int_equal(pg_parse_reply(rep, PG_REPLY_FRAME_LEN, &A, &got, &port),
			 PG_RX_OK);
	assert_int_equal(port, 40007);
	assert_int_equal(got.status, TKT_OK);
	assert_int_equal(got.op, TKT_OP_HOLD);
	assert_int_equal(got.req_id, want.req_id);
	assert_int_equal(got.seat_id, 7);
	assert_int_equal(got.counter, 1);
	assert_true(got.expiry_ms == want.expiry_ms);
	/* Ethernet padding after the IP packet is fine */
	memset(rep + PG_REPLY_FRAME_LEN, 0, 16);
	assert_int_equal(pg_parse_reply(rep, sizeof(rep), &A, &got, NULL), PG_RX_OK);
	/* no UDP checksum (0) is legal over IPv4 */
	rep[40] = rep[41] = 0;
	assert_int_equal(pg_parse_reply(rep, PG_REPLY_FRAME_LEN, &A, &got, NULL),
			 PG_RX_OK);
}

static void test_reply_every_status(void **state)
{
	uint8_t req[PG_REQ_FRAME_LEN], rep[PG_REPLY_FRAME_LEN];
	struct tkt_request_fields f = request();
	struct tkt_reply_fields r = reply(), got;

	(void)state;
	assert_int_equal(pg_build_request(req, sizeof(req), &A, 40001, 1, &f), 82);
	for (unsigned s = 0; s < TKT_STATUS_COUNT; s++) {
		r.status = (uint8_t)s;
		assert_int_equal(pg_reply_for(rep, sizeof(rep), req, sizeof(req), &r), 74);
		assert_int_equal(pg_parse_reply(rep, sizeof(rep), &A, &got, NULL), PG_RX_OK);
		assert_int_equal(got.status, s);
	}
	r.status = TKT_STATUS_COUNT; /* beyond the last status */
	assert_int_equal(pg_reply_for(rep, sizeof(rep), req, sizeof(req), &r), 74);
	assert_int_equal(pg_parse_reply(rep, sizeof(rep), &A, &got, NULL),
			 PG_RX_BAD_REPLY);
}

/* Damages byte off of a good reply with xor x; expects e. */
static void expect_damaged(size_t off, uint8_t x, enum pg_rx_err e)
{
	uint8_t req[PG_REQ_FRAME_LEN], rep[PG_REPLY_FRAME_LEN];
	struct tkt_reply_fields got;

	memset(&got, 0x77, sizeof(got));
	pair(req, rep);
	rep[off] ^= x;
	assert_int_equal(pg_parse_reply(rep, sizeof(rep), &A, &got, NULL), e);
	assert_int_equal(got.status, 0x77); /* untouched unless OK */
}

static void test_reply_rejects_damage(void **state)
{
	(void)state;
	expect_damaged(0, 0x01, PG_RX_FOREIGN);   /* not to our MAC */
	expect_damaged(12, 0x08, PG_RX_FOREIGN);  /* not IPv4 (0x0000) */
	expect_damaged(14, 0x10, PG_RX_FOREIGN);  /* IP version 5 */
	expect_damaged(23, 0x01, PG_RX_FOREIGN);  /* protocol 16 */
	expect_damaged(29, 0x01, PG_RX_FOREIGN);  /* another source address */
	expect_damaged(14, 0x01, PG_RX_BAD_IP);   /* ihl 4 */
	expect_damaged(20, 0x20, PG_RX_BAD_IP);   /* more fragments */
	expect_damaged(24, 0xff, PG_RX_BAD_IP);   /* header checksum */
	expect_damaged(34, 0x01, PG_RX_FOREIGN);  /* not from the door's port */
	expect_damaged(40, 0x01, PG_RX_BAD_UDP);  /* UDP checksum */
	expect_damaged(39, 0x01, PG_RX_BAD_UDP);  /* UDP length */
}

/* Bytes of the payload changed with the checksums fixed again: the
 * reply's own rules decide (tkt_parse_reply). */
static void test_reply_rejects_bad_payload(void **state)
{
	static const struct {
		size_t off;
		uint8_t x;
	} cases[] = {
		{0, 0x01},  /* magic */
		{2, 0x07},  /* version 6 */
		{3, 0x80},  /* op without the reply bit: a request */
		{16, 0x40}, /* status out of range */
		{18, 0x01}, /* zero bytes */
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t req[PG_REQ_FRAME_LEN], rep[PG_REPLY_FRAME_LEN];
		struct tkt_reply_fields got;

		pair(req, rep);
		rep[42 + cases[i].off] ^= cases[i].x;
		rep[40] = rep[41] = 0; /* no UDP checksum */
		assert_int_equal(pg_parse_reply(rep, sizeof(rep), &A, &got, NULL),
				 PG_RX_BAD_REPLY);
	}
}

static void test_reply_rejects_lengths(void **state)
{
	uint8_t req[PG_REQ_FRAME_LEN], rep[PG_REPLY_FRAME_LEN];
	struct tkt_reply_fields got;

	(void)state;
	pair(req, rep);
	/* every truncation: foreign below the Ethernet header, short after */
	for (size_t n = 0; n < PG_REPLY_FRAME_LEN; n++) {
		enum pg_rx_err e = pg_parse_reply(rep, n, &A, &got, NULL);

		assert_int_not_equal(e, PG_RX_OK);
		if (n >= PG_ETH_LEN + PG_IP_LEN)
			assert_int_equal(e, PG_RX_SHORT);
	}
	/* a request frame sent back at us (40-byte payload) is not a reply */
	{
		uint8_t echo[PG_REQ_FRAME_LEN];
		struct tkt_request_fields f = request();
		struct pg_addrs rev = A;

		memcpy(rev.src_mac, A.dst_mac, 6);
		memcpy(rev.dst_mac, A.src_mac, 6);
		rev.src_ip = A.dst_ip;
		rev.dst_ip = A.src_ip;
		assert_int_equal(pg_build_request(echo, sizeof(echo), &rev, 7000, 1, &f), 82);
		assert_int_equal(pg_parse_reply(echo, sizeof(echo), &A, &got, NULL),
				 PG_RX_BAD_REPLY); /* 40 bytes: a request */
	}
	/* an IP total length below its headers */
	rep[16] = 0;
	rep[17] = 20;
	assert_int_not_equal(pg_parse_reply(rep, sizeof(rep), &A, &got, NULL), PG_RX_OK);
}

static void test_mac_and_names(void **state)
{
	uint8_t m[6];

	(void)state;
	assert_int_equal(pg_parse_mac("02:74:6b:62:00:01", m), 0);
	assert_memory_equal(m, A.src_mac, 6);
	assert_int_equal(pg_parse_mac("02:74:6b:62:00", m), -1);
	assert_int_equal(pg_parse_mac("02:74:6b:62:00:01:", m), -1);
	assert_int_equal(pg_parse_mac(NULL, m), -1);
	assert_string_equal(pg_rx_err_name(PG_RX_BAD_UDP), "bad_udp");
	assert_string_equal(pg_rx_err_name(PG_RX_ERR_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_frame_layout),
		cmocka_unit_test(test_request_frame_needs_room),
		cmocka_unit_test(test_reply_parses),
		cmocka_unit_test(test_reply_every_status),
		cmocka_unit_test(test_reply_rejects_damage),
		cmocka_unit_test(test_reply_rejects_bad_payload),
		cmocka_unit_test(test_reply_rejects_lengths),
		cmocka_unit_test(test_mac_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
