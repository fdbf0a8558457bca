/* libFuzzer harness for the UDP request check of both doors
 * (tkt_req_check, bpf/hold_door.h) and the client side of the protocol
 * (userspace/lib/wire_codec.c: reply parser, request builder, token and
 * endpoint text). Whatever the bytes: no crash, no read past the input, and
 * what a parser accepts has the properties it promises.
 *
 * The same bytes go to every parser: as a datagram of their length to
 * tkt_req_check and tkt_parse_reply, and as text to the command-line
 * parsers. Run: make fuzz (README.md, "Fuzzing"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bpf/hold_door.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/timefmt.h"
#include "userspace/lib/wire_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

/* The door's verdict on a datagram of exactly size bytes (in a buffer of
 * that size, so ASan sees any read the check promises not to make). */
static void fuzz_req_check(const uint8_t *copy, size_t size)
{
	const struct tkt_req *req = (const struct tkt_req *)copy;
	struct tkt_reply rep;
	int v = tkt_req_check(req, (__u32)size);

	check(v == TKT_REQ_DROP || v == TKT_MALFORMED || v == TKT_OK);
	if (size != sizeof(struct tkt_req)) {
		check(v == TKT_REQ_DROP); /* only full-length requests are answered */
		return;
	}
	if (((copy[0] << 8) | copy[1]) != TKT_MAGIC) {
		check(v == TKT_REQ_DROP);
		return;
	}
	if (v == TKT_REQ_DROP)
		return; /* a door may drop more than it must */
	if (v == TKT_OK) {
		__u32 secs = (__u32)(copy[32] << 8) | copy[33];

		check(size == sizeof(struct tkt_req));
		check(req->version != 0);
		check(tkt_seat_op_on_wire(req->op));
		if (req->version == 1) {
			for (int i = 0; i < 6; i++)
				check(req->pad[i] == 0);
			if (req->op == TKT_OP_HOLD || req->op == TKT_OP_EXTEND)
				check(secs == 0 || (secs >= TKT_HOLD_SECS_MIN &&
						    secs <= TKT_HOLD_SECS_MAX));
		}
	}
	/* The reply header echoes only the first 16 bytes. */
	tkt_reply_init(&rep, req, (__u8)(v == TKT_OK ? TKT_OK : TKT_MALFORMED));
	check(memcmp(&rep.req_id, copy + 4, 12) == 0);
	check(rep.op == (copy[3] | TKT_REPLY_OP_BIT));
}

static void fuzz_reply(const uint8_t *copy, size_t size)
{
	struct tkt_reply_fields r;
	struct tkt_request_fields q = {0};
	enum tkt_reply_err err = tkt_parse_reply(copy, size, &r);
	uint8_t out[64];
	char when[40];

	check((unsigned)err < TKT_REPLY_ERR_COUNT);
	check(tkt_reply_err_name(err) != NULL);
	if (err != TKT_REPLY_VALID)
		return;
	check(size == TKT_REPLY_LEN);
	check(copy[0] == 0x54 && copy[1] == 0x58 && copy[2] == 1);
	check(copy[3] & TKT_REPLY_OP_BIT);
	check(r.status < TKT_STATUS_COUNT);
	check((r.op & TKT_REPLY_OP_BIT) == 0);
	check(strcmp(tkt_status_name(r.status), "UNKNOWN") != 0);
	/* a request built from the reply's fields matches it */
	q.op = r.op;
	q.req_id = r.req_id;
	q.event_id = r.event_id;
	q.seat_id = r.seat_id;
	check(tkt_reply_matches(&r, &q) == TKT_REPLY_VALID);
	check(tkt_build_request(out, sizeof(out), &q) == TKT_REQ_LEN);
	tkt_format_rfc3339_ms(r.expiry_ms, when, sizeof(when));
}

/* The same bytes as text for the command-line parsers. */
static void fuzz_text(const uint8_t *data, size_t size)
{
	char text[128], host[64], hex[33];
	uint8_t out[64], tok[16];
	uint16_t port;

	if (size >= sizeof(text))
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (tkt_split_endpoint(text, 7000, host, sizeof(host), &port) == 0)
		check(port != 0 && strlen(host) < sizeof(host));
	check(hex_decode_loose(text, out, sizeof(out)) <= (int)sizeof(out));
	if (tkt_token_from_hex(text, tok) == 0) {
		/* round trip: lowercase hex of the same 16 bytes */
		tkt_token_to_hex(tok, hex);
		check(strlen(text) == 32 && strncasecmp(hex, text, 32) == 0);
	}
	tkt_status_from_name(text);
	tkt_op_from_name(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Copy so that ASan catches any read beyond size. */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fuzz_req_check(copy, size);
	fuzz_reply(copy, size);
	free(copy);
	fuzz_text(data, size);
	return 0;
}
