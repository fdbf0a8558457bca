/* Client side of the UDP hold protocol: see wire_codec.h. Offsets come from
 * the structs in bpf/ticket_wire.h so that the layout is stated once. */
#include "userspace/lib/wire_codec.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bpf/session_token.h"
#include "userspace/lib/hex.h"

_Static_assert(sizeof(struct tkt_req) == TKT_REQ_LEN, "request length");
_Static_assert(sizeof(struct tkt_reply) == TKT_REPLY_LEN, "reply length");

static const char *const status_names[TKT_STATUS_COUNT] = {
	[TKT_OK] = "OK",
	[TKT_TAKEN] = "TAKEN",
	[TKT_SOLD] = "SOLD",
	[TKT_NO_SUCH_SEAT] = "NO_SUCH_SEAT",
	[TKT_NOT_HOLDER] = "NOT_HOLDER",
	[TKT_BAD_CREDENTIAL] = "BAD_CREDENTIAL",
	[TKT_RATE_LIMITED] = "RATE_LIMITED",
	[TKT_LIMIT_EXCEEDED] = "LIMIT_EXCEEDED",
	[TKT_MALFORMED] = "MALFORMED",
	[TKT_WRONG_NODE] = "WRONG_NODE",
	[TKT_NOT_ADMITTED] = "NOT_ADMITTED",
};

static const char *const op_names[] = {
	[TKT_OP_HOLD] = "HOLD",
	[TKT_OP_RELEASE] = "RELEASE",
	[TKT_OP_EXTEND] = "EXTEND",
	[TKT_OP_QUERY] = "QUERY",
};

static const char *const err_names[TKT_REPLY_ERR_COUNT] = {
	[TKT_REPLY_VALID] = "valid",
	[TKT_REPLY_TOO_SHORT] = "too short",
	[TKT_REPLY_TOO_LONG] = "too long",
	[TKT_REPLY_BAD_MAGIC] = "bad magic",
	[TKT_REPLY_BAD_VERSION] = "bad version",
	[TKT_REPLY_NOT_A_REPLY] = "op without reply bit",
	[TKT_REPLY_BAD_STATUS] = "unknown status",
	[TKT_REPLY_NONZERO_PAD] = "non-zero padding",
	[TKT_REPLY_OP_MISMATCH] = "op does not match request",
	[TKT_REPLY_ID_MISMATCH] = "request id does not match",
	[TKT_REPLY_SEAT_MISMATCH] = "event or seat does not match",
};

static void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

/* Writes all 40 bytes, padding included, so a reused buffer never leaks
 * old bytes into the zero field. */
int tkt_build_request(void *buf, size_t cap,
		      const struct tkt_request_fields *f)
{
	uint8_t *p = buf;

	if (cap < TKT_REQ_LEN)
		return -1;
	memset(p, 0, TKT_REQ_LEN);
	put_be16(p + offsetof(struct tkt_req, magic), TKT_MAGIC);
	p[offsetof(struct tkt_req, version)] = TKT_VERSION;
	p[offsetof(struct tkt_req, op)] = f->op;
	put_be32(p + offsetof(struct tkt_req, req_id), f->req_id);
	put_be32(p + offsetof(struct tkt_req, event_id), f->event_id);
	put_be32(p + offsetof(struct tkt_req, seat_id), f->seat_id);
	memcpy(p + offsetof(struct tkt_req, token), f->token, TKT_TOKEN_LEN);
	put_be16(p + offsetof(struct tkt_req, hold_secs), f->hold_secs);
	return TKT_REQ_LEN;
}

int tkt_build_request_v2(void *buf, size_t cap,
			 const struct tkt_request_fields *f)
{
	uint8_t *p = buf;
	uint64_t mac;
	int i;

	if (cap < TKT_REQ_LEN)
		return -1;
	memset(p, 0, TKT_REQ_LEN);
	put_be16(p + offsetof(struct tkt_req_v2, magic), TKT_MAGIC);
	p[offsetof(struct tkt_req_v2, version)] = TKT_VERSION_2;
	p[offsetof(struct tkt_req_v2, op)] = f->op;
	put_be32(p + offsetof(struct tkt_req_v2, req_id), f->req_id);
	put_be32(p + offsetof(struct tkt_req_v2, event_id), f->event_id);
	put_be32(p + offsetof(struct tkt_req_v2, seat_id), f->seat_id);
	memcpy(p + offsetof(struct tkt_req_v2, session_id), f->token,
	       TKT_SESSION_ID_LEN);
	put_be16(p + offsetof(struct tkt_req_v2, hold_secs), f->hold_secs);
	mac = tkt_v2_mac(f->token, p);
	for (i = 0; i < 8; i++)
		p[TKT_V2_MAC_OFF + i] = (uint8_t)(mac >> (8 * i));
	return TKT_REQ_LEN;
}

/* Checks in wire order, so the error names the first wrong field. */
enum tkt_reply_err tkt_parse_reply(const void *buf, size_t len,
				   struct tkt_reply_fields *out)
{
	const uint8_t *p = buf;
	const uint8_t *zero = p + offsetof(struct tkt_reply, zero);
	uint8_t op;

	if (len < TKT_REPLY_LEN)
		return TKT_REPLY_TOO_SHORT;
	if (len > TKT_REPLY_LEN)
		return TKT_REPLY_TOO_LONG;
	if (get_be16(p + offsetof(struct tkt_reply, magic)) != TKT_MAGIC)
		return TKT_REPLY_BAD_MAGIC;
	if (p[offsetof(struct tkt_reply, version)] != TKT_VERSION &&
	    p[offsetof(struct tkt_reply, version)] != TKT_VERSION_2)
		return TKT_REPLY_BAD_VERSION;
	op = p[offsetof(struct tkt_reply, op)];
	if (!(op & TKT_REPLY_OP_BIT))
		return TKT_REPLY_NOT_A_REPLY;
	if (p[offsetof(struct tkt_reply, status)] >= TKT_STATUS_COUNT)
		return TKT_REPLY_BAD_STATUS;
	if (zero[0] | zero[1] | zero[2])
		return TKT_REPLY_NONZERO_PAD;

	out->version = p[offsetof(struct tkt_reply, version)];
	out->op = (uint8_t)(op & ~TKT_REPLY_OP_BIT);
	out->req_id = get_be32(p + offsetof(struct tkt_reply, req_id));
	out->event_id = get_be32(p + offsetof(struct tkt_reply, event_id));
	out->seat_id = get_be32(p + offsetof(struct tkt_reply, seat_id));
	out->status = p[offsetof(struct tkt_reply, status)];
	out->counter = get_be32(p + offsetof(struct tkt_reply, counter));
	out->expiry_ms = get_be64(p + offsetof(struct tkt_reply, expiry_ms));
	return TKT_REPLY_VALID;
}

enum tkt_reply_err tkt_reply_matches(const struct tkt_reply_fields *r,
				     const struct tkt_request_fields *q)
{
	if (r->op != q->op)
		return TKT_REPLY_OP_MISMATCH;
	if (r->req_id != q->req_id)
		return TKT_REPLY_ID_MISMATCH;
	if (r->event_id != q->event_id || r->seat_id != q->seat_id)
		return TKT_REPLY_SEAT_MISMATCH;
	return TKT_REPLY_VALID;
}

const char *tkt_status_name(unsigned int status)
{
	return status < TKT_STATUS_COUNT ? status_names[status] : "UNKNOWN";
}

const char *tkt_op_name(unsigned int op)
{
	if (op >= sizeof(op_names) / sizeof(op_names[0]) || !op_names[op])
		return "UNKNOWN";
	return op_names[op];
}

const char *tkt_reply_err_name(enum tkt_reply_err err)
{
	if ((unsigned)err >= TKT_REPLY_ERR_COUNT)
		return "unknown error";
	return err_names[err];
}

int tkt_status_from_name(const char *name)
{
	for (int i = 0; i < TKT_STATUS_COUNT; i++)
		if (strcasecmp(name, status_names[i]) == 0)
			return i;
	return -1;
}

int tkt_op_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (op_names[i] && strcasecmp(name, op_names[i]) == 0)
			return (int)i;
	return -1;
}

int tkt_token_from_hex(const char *hex, uint8_t token[TKT_TOKEN_LEN])
{
	uint8_t tmp[TKT_TOKEN_LEN];

	if (hex_decode(hex, tmp, TKT_TOKEN_LEN))
		return -1;
	memcpy(token, tmp, TKT_TOKEN_LEN);
	return 0;
}

void tkt_token_to_hex(const uint8_t token[TKT_TOKEN_LEN],
		      char out[TKT_TOKEN_HEX_LEN + 1])
{
	hex_encode(token, TKT_TOKEN_LEN, out);
}

int tkt_split_endpoint(const char *text, uint16_t default_port, char *host,
		       size_t hcap, uint16_t *port)
{
	const char *h = text, *colon = strrchr(text, ':'), *ps = NULL;
	size_t hlen;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close)
			return -1;
		h = text + 1;
		hlen = (size_t)(close - h);
		if (close[1] == ':')
			ps = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else if (colon && strchr(text, ':') == colon) {
		hlen = (size_t)(colon - text); /* exactly one ':' */
		ps = colon + 1;
	} else {
		hlen = strlen(text); /* no port, or a bare IPv6 address */
	}
	if (hlen == 0 || hlen >= hcap)
		return -1;
	if (ps) {
		unsigned long v = 0;

		if (*ps == '\0' || strlen(ps) > 5)
			return -1;
		for (const char *c = ps; *c; c++) {
			if (*c < '0' || *c > '9')
				return -1;
			v = v * 10 + (unsigned long)(*c - '0');
		}
		if (v == 0 || v > 65535)
			return -1;
		*port = (uint16_t)v;
	} else {
		*port = default_port;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

int tkt_reply_owner(const struct tkt_reply_fields *r, char *buf, size_t len)
{
	uint64_t x = r->expiry_ms; /* bytes 24..31 read big-endian */
	unsigned port = (unsigned)(x >> 16) & 0xffffu;
	int n;

	if (r->status != TKT_WRONG_NODE || !(x >> 32) || !port)
		return -1;
	n = snprintf(buf, len, "%u.%u.%u.%u:%u", (unsigned)(x >> 56) & 0xffu,
		     (unsigned)(x >> 48) & 0xffu, (unsigned)(x >> 40) & 0xffu,
		     (unsigned)(x >> 32) & 0xffu, port);
	return n > 0 && (size_t)n < len ? 0 : -1;
}
