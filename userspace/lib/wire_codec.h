/* Client side of the UDP hold protocol, versions 1 and 2 (docs/protocol.md): build a
 * request into a caller's buffer, parse and validate a reply into a plain
 * struct. Pure functions: no I/O, no allocation, no global state, so that
 * ticketctl, the load generator, the unit tests and the fuzzer share them.
 * The wire structs themselves live once, in bpf/ticket_wire.h. */
#ifndef TICKET_WIRE_CODEC_H
#define TICKET_WIRE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/ticket_wire.h"

#define TKT_REQ_LEN 40
#define TKT_REPLY_LEN 32
#define TKT_TOKEN_HEX_LEN (2 * TKT_TOKEN_LEN)

/* A request in host byte order. */
struct tkt_request_fields {
	uint8_t op; /* enum tkt_op; not checked, so tests can send bad ones */
	uint32_t req_id;
	uint32_t event_id;
	uint32_t seat_id;
	uint8_t token[TKT_TOKEN_LEN];
	uint16_t hold_secs; /* 0 = server default */
};

/* A reply in host byte order. */
struct tkt_reply_fields {
	uint8_t version; /* 1 or 2 */
	uint8_t op; /* without TKT_REPLY_OP_BIT */
	uint32_t req_id;
	uint32_t event_id;
	uint32_t seat_id;
	uint8_t status; /* enum tkt_status, always < TKT_STATUS_COUNT */
	uint32_t counter;
	uint64_t expiry_ms; /* Unix milliseconds, 0 when none */
};

/* Why a datagram is not a valid reply (or not the reply to our request). */
enum tkt_reply_err {
	TKT_REPLY_VALID = 0,
	TKT_REPLY_TOO_SHORT,     /* fewer than 32 bytes */
	TKT_REPLY_TOO_LONG,      /* more than 32 bytes */
	TKT_REPLY_BAD_MAGIC,     /* bytes 0-1 are not 0x5458 */
	TKT_REPLY_BAD_VERSION,   /* byte 2 is neither 1 nor 2 */
	TKT_REPLY_NOT_A_REPLY,   /* op without the high bit: a request */
	TKT_REPLY_BAD_STATUS,    /* status beyond NOT_ADMITTED */
	TKT_REPLY_NONZERO_PAD,   /* bytes 17-19 not zero */
	TKT_REPLY_OP_MISMATCH,   /* op is not the request's */
	TKT_REPLY_ID_MISMATCH,   /* request id is not the request's */
	TKT_REPLY_SEAT_MISMATCH, /* event or seat id is not the request's */
	TKT_REPLY_ERR_COUNT,
};

/* Writes the 40-byte request for f into buf. Returns the number of bytes
 * written (TKT_REQ_LEN), or -1 when cap is too small (buf untouched). */
int tkt_build_request(void *buf, size_t cap,
		      const struct tkt_request_fields *f);

/* Writes the 40-byte version 2 request for f into buf: the session id
 * (the token's first 8 bytes) instead of the token, and the MAC of bytes
 * 0..31 keyed by the whole token. req_id must grow per session (the edge
 * keeps a 32-id replay window; 0 is never accepted), and a retry takes a
 * new id. Returns TKT_REQ_LEN, or -1 when cap is too small. */
int tkt_build_request_v2(void *buf, size_t cap,
			 const struct tkt_request_fields *f);

/* Parses a datagram of len bytes as a reply. Checks length, magic,
 * version, the reply bit, the status range and the zero bytes; fills *out
 * only when it returns TKT_REPLY_VALID. */
enum tkt_reply_err tkt_parse_reply(const void *buf, size_t len,
				   struct tkt_reply_fields *out);

/* Says whether a parsed reply answers request q: same op, request id,
 * event and seat. */
enum tkt_reply_err tkt_reply_matches(const struct tkt_reply_fields *r,
				     const struct tkt_request_fields *q);

/* Names; never NULL ("UNKNOWN" for values out of range). */
const char *tkt_status_name(unsigned int status);

/* The owner a WRONG_NODE reply names (docs/protocol.md, "WRONG_NODE names
 * the owner"): its IPv4 address and UDP port from the expiry field, as
 * "a.b.c.d:port" into buf. 0, or -1 when r is not WRONG_NODE, names no
 * owner (all zero) or buf is too small. */
int tkt_reply_owner(const struct tkt_reply_fields *r, char *buf, size_t len);
const char *tkt_op_name(unsigned int op);
const char *tkt_reply_err_name(enum tkt_reply_err err);

/* Reverse look-ups, case-insensitive. Return the value, or -1. */
int tkt_status_from_name(const char *name);
int tkt_op_from_name(const char *name);

/* Parses exactly 32 hex digits (either case) into token[16]. Returns 0, or
 * -1 on a wrong length or a non-hex character (token untouched). */
int tkt_token_from_hex(const char *hex, uint8_t token[TKT_TOKEN_LEN]);

/* Writes the token as 32 lowercase hex digits and a NUL into out[33]. */
void tkt_token_to_hex(const uint8_t token[TKT_TOKEN_LEN],
		      char out[TKT_TOKEN_HEX_LEN + 1]);

/* Splits an endpoint as written on command lines ("host:port",
 * "[v6addr]:port", a bare host or a bare IPv6 address) into host[hcap] and
 * *port; a missing port gives default_port. Returns 0, or -1 on an empty
 * host, a bad or zero port, or a host longer than hcap - 1. */
int tkt_split_endpoint(const char *text, uint16_t default_port, char *host,
		       size_t hcap, uint16_t *port);

#endif /* TICKET_WIRE_CODEC_H */
