/* libFuzzer harness for bench/pkt_gen's reply parser (pg_parse_reply,
 * bench/pkt_gen_frame.c): whatever frame comes off the RX ring, no crash,
 * no read past the frame, and what it accepts is a reply to us whose
 * payload re-encodes to the same 32 bytes. The same bytes also drive the
 * frame builder: a request built from them, answered the way the door
 * answers (pg_reply_for), must parse back to the fields it carried.
 * Run: make fuzz FUZZ_TARGET=fuzz_pkt_gen_reply. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/pkt_gen_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct pg_addrs A = {
	.src_mac = {0x02, 0x74, 0x6b, 0x62, 0x00, 0x01},
	.dst_mac = {0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f},
	.src_ip = 0x0a4f0001,
	.dst_ip = 0x0a4f0002,
	.dst_port = 7000,
};

static void check(int cond)
{
	if (!cond)
		abort();
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The frame as received: its own buffer of exactly size bytes. */
static void fuzz_parse(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	uint8_t req[PG_REQ_FRAME_LEN], again[PG_REPLY_FRAME_LEN];
	struct tkt_request_fields q;
	struct tkt_reply_fields r;
	uint16_t port = 0;
	enum pg_rx_err e;

	check(copy != NULL);
	if (size)
		memcpy(copy, data, size);
	memset(&r, 0, sizeof(r));
	e = pg_parse_reply(copy, size, &A, &r, &port);
	check((unsigned)e < PG_RX_ERR_COUNT);
	if (e == PG_RX_OK) {
		check(size >= PG_REPLY_FRAME_LEN);
		check(r.status < TKT_STATUS_COUNT);
		check(r.version == 1 || r.version == 2);
		check(memcmp(copy, A.src_mac, 6) == 0);
		/* the payload re-encodes to the bytes received */
		memset(&q, 0, sizeof(q));
		q.op = r.op;
		check(pg_build_request(req, sizeof(req), &A, port, 0, &q) ==
		      PG_REQ_FRAME_LEN);
		check(pg_reply_for(again, sizeof(again), req, sizeof(req), &r) ==
		      PG_REPLY_FRAME_LEN);
		check(memcmp(again + PG_HDRS_LEN, copy + PG_HDRS_LEN,
			     TKT_REPLY_LEN) == 0);
	}
	free(copy);
}

/* Fields from the bytes: build, answer, parse back. */
static void fuzz_round_trip(const uint8_t *data, size_t size)
{
	uint8_t req[PG_REQ_FRAME_LEN], rep[PG_REPLY_FRAME_LEN];
	struct tkt_request_fields q;
	struct tkt_reply_fields r, got;
	uint16_t port = 0;

	if (size < 24)
		return;
	memset(&q, 0, sizeof(q));
	q.op = data[0] & 0x7f;
	q.req_id = rd32(data + 1);
	q.event_id = rd32(data + 5);
	q.seat_id = rd32(data + 9);
	q.hold_secs = (uint16_t)(data[13] << 8 | data[14]);
	check(pg_build_request(req, sizeof(req), &A, (uint16_t)(data[15] << 8 | data[16]),
			       (uint16_t)(data[17] << 8 | data[18]), &q) == PG_REQ_FRAME_LEN);
	memset(&r, 0, sizeof(r));
	r.version = (data[19] & 1) + 1;
	r.op = q.op;
	r.req_id = q.req_id;
	r.event_id = q.event_id;
	r.seat_id = q.seat_id;
	r.status = data[20] % TKT_STATUS_COUNT;
	r.counter = rd32(data + 20);
	r.expiry_ms = (uint64_t)rd32(data + 16) << 32 | rd32(data + 12);
	check(pg_reply_for(rep, sizeof(rep), req, sizeof(req), &r) == PG_REPLY_FRAME_LEN);
	check(pg_parse_reply(rep, sizeof(rep), &A, &got, &port) == PG_RX_OK);
	check(port == (uint16_t)(data[15] << 8 | data[16]));
	check(got.op == r.op && got.req_id == r.req_id && got.seat_id == r.seat_id &&
	      got.event_id == r.event_id && got.status == r.status &&
	      got.counter == r.counter && got.expiry_ms == r.expiry_ms &&
	      got.version == r.version);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size);
	fuzz_round_trip(data, size);
	return 0;
}
