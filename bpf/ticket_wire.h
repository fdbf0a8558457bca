/* UDP hold protocol, versions 1 and 2: the wire structs (docs/protocol.md).
 *
 * Included by the XDP program, ticketd's socket door, ticketctl, the load
 * generator and the tests. All integers on the wire are big-endian. */
#ifndef TICKET_WIRE_H
#define TICKET_WIRE_H

#include <linux/types.h>

#define TKT_MAGIC 0x5458 /* "TX" */
#define TKT_VERSION 1
#define TKT_VERSION_2 2 /* per-request MAC and replay window */
#define TKT_DEFAULT_PORT 7000
#define TKT_REPLY_OP_BIT 0x80

/* A datagram that is not exactly one request (40 bytes) or has a wrong
 * magic is dropped silently; a 40-byte one that is otherwise wrong gets
 * TKT_MALFORMED. A reply (32 bytes) is never larger than its request. */

#define TKT_HOLD_SECS_DEFAULT 120
#define TKT_HOLD_SECS_MIN 5
#define TKT_HOLD_SECS_MAX 600

enum tkt_op {
	TKT_OP_HOLD = 1,
	TKT_OP_RELEASE = 2,
	TKT_OP_EXTEND = 3,
	TKT_OP_QUERY = 4,
};

enum tkt_status {
	TKT_OK = 0,
	TKT_TAKEN = 1,
	TKT_SOLD = 2,
	TKT_NO_SUCH_SEAT = 3,
	TKT_NOT_HOLDER = 4,
	TKT_BAD_CREDENTIAL = 5,
	TKT_RATE_LIMITED = 6,
	TKT_LIMIT_EXCEEDED = 7,
	TKT_MALFORMED = 8,
	TKT_WRONG_NODE = 9,
	/* HOLD on an event with a waiting room (TKT_EVENT_ROOM) by a session
	 * without a live admission to it: join the room over REST first */
	TKT_NOT_ADMITTED = 10,
	TKT_STATUS_COUNT = 11,
};

#define TKT_TOKEN_LEN 16
#define TKT_SESSION_ID_LEN 8
#define TKT_TAG_LEN 8

/* Request, 40 bytes. token = 8-byte session id followed by its 8-byte tag. */
struct tkt_req {
	__be16 magic;
	__u8 version;
	__u8 op;
	__be32 req_id;
	__be32 event_id;
	__be32 seat_id;
	__u8 token[TKT_TOKEN_LEN];
	__be16 hold_secs;
	__u8 pad[6];
} __attribute__((packed));

/* Request of version 2, 40 bytes: the token's tag never travels. mac =
 * SipHash-2-4 over bytes 0..31, keyed by the whole 16-byte token (k0 =
 * le64(session id), k1 = le64(tag)), stored little-endian. */
struct tkt_req_v2 {
	__be16 magic;
	__u8 version;
	__u8 op;
	__be32 req_id;
	__be32 event_id;
	__be32 seat_id;
	__u8 session_id[TKT_SESSION_ID_LEN];
	__be16 hold_secs;
	__u8 pad[6];
	__u8 mac[8];
} __attribute__((packed));

#define TKT_V2_MAC_OFF 32 /* the MAC covers bytes 0..31 */

/* Reply, 32 bytes (both versions; byte 2 says which one answered). */
struct tkt_reply {
	__be16 magic;
	__u8 version;
	__u8 op; /* request op | TKT_REPLY_OP_BIT */
	__be32 req_id;
	__be32 event_id;
	__be32 seat_id;
	__u8 status;
	__u8 zero[3];
	__be32 counter;
	__be64 expiry_ms; /* Unix milliseconds, 0 when none */
} __attribute__((packed));

#define TKT_ASSERT_OFF(type, field, off)                                      \
	_Static_assert(__builtin_offsetof(type, field) == (off),              \
		       #type "." #field " must sit at offset " #off)

_Static_assert(sizeof(struct tkt_req) == 40, "request is 40 bytes");
TKT_ASSERT_OFF(struct tkt_req, magic, 0);
TKT_ASSERT_OFF(struct tkt_req, version, 2);
TKT_ASSERT_OFF(struct tkt_req, op, 3);
TKT_ASSERT_OFF(struct tkt_req, req_id, 4);
TKT_ASSERT_OFF(struct tkt_req, event_id, 8);
TKT_ASSERT_OFF(struct tkt_req, seat_id, 12);
TKT_ASSERT_OFF(struct tkt_req, token, 16);
TKT_ASSERT_OFF(struct tkt_req, hold_secs, 32);
TKT_ASSERT_OFF(struct tkt_req, pad, 34);

_Static_assert(sizeof(struct tkt_req_v2) == 40, "v2 request is 40 bytes");
TKT_ASSERT_OFF(struct tkt_req_v2, magic, 0);
TKT_ASSERT_OFF(struct tkt_req_v2, version, 2);
TKT_ASSERT_OFF(struct tkt_req_v2, op, 3);
TKT_ASSERT_OFF(struct tkt_req_v2, req_id, 4);
TKT_ASSERT_OFF(struct tkt_req_v2, event_id, 8);
TKT_ASSERT_OFF(struct tkt_req_v2, seat_id, 12);
TKT_ASSERT_OFF(struct tkt_req_v2, session_id, 16);
TKT_ASSERT_OFF(struct tkt_req_v2, hold_secs, 24);
TKT_ASSERT_OFF(struct tkt_req_v2, pad, 26);
TKT_ASSERT_OFF(struct tkt_req_v2, mac, TKT_V2_MAC_OFF);

_Static_assert(sizeof(struct tkt_reply) == 32, "reply is 32 bytes");
TKT_ASSERT_OFF(struct tkt_reply, magic, 0);
TKT_ASSERT_OFF(struct tkt_reply, version, 2);
TKT_ASSERT_OFF(struct tkt_reply, op, 3);
TKT_ASSERT_OFF(struct tkt_reply, req_id, 4);
TKT_ASSERT_OFF(struct tkt_reply, event_id, 8);
TKT_ASSERT_OFF(struct tkt_reply, seat_id, 12);
TKT_ASSERT_OFF(struct tkt_reply, status, 16);
TKT_ASSERT_OFF(struct tkt_reply, zero, 17);
TKT_ASSERT_OFF(struct tkt_reply, counter, 20);
TKT_ASSERT_OFF(struct tkt_reply, expiry_ms, 24);

#endif /* TICKET_WIRE_H */
