/* libFuzzer harness for the reply parser and the text parsers of
 * userspace/lib/wire_codec.c: whatever the bytes, no crash, no read past the
 * input, and a reply accepted as valid has the properties the parser
 * promises. Build and run: make fuzz-wire. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/hex.h"
#include "userspace/lib/timefmt.h"
#include "userspace/lib/wire_codec.h"

static void check(int cond)
{
	if (!cond)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tkt_reply_fields r;
	struct tkt_request_fields q = {0};
	enum tkt_reply_err err;
	char text[128], host[64], when[40];
	uint8_t out[64], tok[16];
	uint16_t port;

	/* Copy so that ASan catches any read beyond size. */
	uint8_t *copy = malloc(size ? size : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	err = tkt_parse_reply(copy, size, &r);
	check((unsigned)err < TKT_REPLY_ERR_COUNT);
	check(tkt_reply_err_name(err) != NULL);
	if (err == TKT_REPLY_VALID) {
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
	free(copy);

	/* The same bytes as text for the command-line parsers. */
	if (size < sizeof(text)) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (tkt_split_endpoint(text, 7000, host, sizeof(host), &port) ==
		    0)
			check(port != 0 && strlen(host) < sizeof(host));
		check(hex_decode_loose(text, out, sizeof(out)) <= (int)sizeof(out));
		tkt_token_from_hex(text, tok);
		tkt_status_from_name(text);
		tkt_op_from_name(text);
	}
	return 0;
}
