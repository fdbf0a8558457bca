/* Session tokens that the edge can check without asking userspace.
 *
 * token = session id (8 bytes) || tag (8 bytes)
 * session id = slot (u32, big-endian, 1..TKT_SLOT_MAX) || expiry (u32,
 *              big-endian, Unix seconds)
 * tag = SipHash-2-4(key, session id), the 64-bit result stored little-endian
 *       (the reference implementation's byte order).
 *
 * The slot is the short holder id that goes into a seat word; the expiry lets
 * the XDP program refuse a lapsed session without a lookup. Only the holder
 * of the 128-bit key (ticketd, which installs it into the config map) can mint
 * a tag. Compiled by the BPF object and by ticketd. */
#ifndef TICKET_SESSION_TOKEN_H
#define TICKET_SESSION_TOKEN_H

#include <linux/types.h>

#include "ticket_wire.h"

#ifndef TKT_INLINE
#define TKT_INLINE static inline __attribute__((always_inline))
#endif

/* Holder slots fit in 22 bits of a seat word; 0 means "nobody". */
#define TKT_SLOT_BITS 22
#define TKT_SLOT_MAX ((1u << TKT_SLOT_BITS) - 1)

struct tkt_token_key {
	__u64 k0;
	__u64 k1;
};

TKT_INLINE __u64 tkt_rotl64(__u64 x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define TKT_SIPROUND(v0, v1, v2, v3)                                          \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = tkt_rotl64(v1, 13);                                       \
		v1 ^= v0;                                                      \
		v0 = tkt_rotl64(v0, 32);                                       \
		v2 += v3;                                                      \
		v3 = tkt_rotl64(v3, 16);                                       \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = tkt_rotl64(v3, 21);                                       \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = tkt_rotl64(v1, 17);                                       \
		v1 ^= v2;                                                      \
		v2 = tkt_rotl64(v2, 32);                                       \
	} while (0)

/* SipHash-2-4's state, in the three steps both message sizes below share:
 * the keyed start, one compression per 8-byte block, and the finish over
 * the message length (a multiple of 8 here: no tail bytes). */
struct tkt_sip {
	__u64 v0, v1, v2, v3;
};

TKT_INLINE void tkt_sip_init(struct tkt_sip *s, const struct tkt_token_key *key)
{
	s->v0 = 0x736f6d6570736575ULL ^ key->k0;
	s->v1 = 0x646f72616e646f6dULL ^ key->k1;
	s->v2 = 0x6c7967656e657261ULL ^ key->k0;
	s->v3 = 0x7465646279746573ULL ^ key->k1;
}

TKT_INLINE void tkt_sip_block(struct tkt_sip *s, __u64 m)
{
	s->v3 ^= m;
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	s->v0 ^= m;
}

TKT_INLINE __u64 tkt_sip_finish(struct tkt_sip *s, __u64 len)
{
	__u64 b = len << 56;

	s->v3 ^= b;
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	s->v0 ^= b;
	s->v2 ^= 0xff;
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	TKT_SIPROUND(s->v0, s->v1, s->v2, s->v3);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* SipHash-2-4 of exactly 8 bytes, the message given as its little-endian
 * 64-bit value m. */
TKT_INLINE __u64 tkt_siphash24_u64(const struct tkt_token_key *key, __u64 m)
{
	struct tkt_sip s;

	tkt_sip_init(&s, key);
	tkt_sip_block(&s, m);
	return tkt_sip_finish(&s, 8);
}

TKT_INLINE __u64 tkt_load_le64(const __u8 *p);

/* SipHash-2-4 of exactly 32 bytes at msg (a v2 request's bytes 0..31). */
TKT_INLINE __u64 tkt_siphash24_32(const struct tkt_token_key *key,
				  const __u8 *msg)
{
	struct tkt_sip s;
	int i;

	tkt_sip_init(&s, key);
	for (i = 0; i < 4; i++) /* constant count: unrolled by clang */
		tkt_sip_block(&s, tkt_load_le64(msg + 8 * i));
	return tkt_sip_finish(&s, 32);
}

TKT_INLINE __u64 tkt_load_le64(const __u8 *p)
{
	return (__u64)p[0] | (__u64)p[1] << 8 | (__u64)p[2] << 16 |
	       (__u64)p[3] << 24 | (__u64)p[4] << 32 | (__u64)p[5] << 40 |
	       (__u64)p[6] << 48 | (__u64)p[7] << 56;
}

TKT_INLINE __u32 tkt_load_be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 |
	       (__u32)p[3];
}

TKT_INLINE void tkt_store_be32(__u8 *p, __u32 v)
{
	p[0] = (__u8)(v >> 24);
	p[1] = (__u8)(v >> 16);
	p[2] = (__u8)(v >> 8);
	p[3] = (__u8)v;
}

/* Writes the tag of the 8-byte session id at id into tag[8]. */
TKT_INLINE void tkt_token_tag(const struct tkt_token_key *key, const __u8 *id,
			      __u8 *tag)
{
	__u64 h = tkt_siphash24_u64(key, tkt_load_le64(id));
	int i;

	for (i = 0; i < 8; i++)
		tag[i] = (__u8)(h >> (8 * i));
}

enum tkt_token_verdict {
	TKT_TOKEN_VALID = 0,
	TKT_TOKEN_FORGED = -1,  /* tag does not match, or slot out of range */
	TKT_TOKEN_EXPIRED = -2, /* genuine but past its expiry */
};

/* Checks a 16-byte token; on success stores its holder slot. now_unix_ms
 * is the caller's wall clock in milliseconds: the expiry (whole seconds)
 * is compared as expiry * 1000, exactly what comparing now_unix_ms / 1000
 * would decide, without a division on the XDP path. Constant work
 * whatever the input. */
TKT_INLINE int tkt_token_check_ms(const struct tkt_token_key *key,
				  const __u8 *token, __u64 now_unix_ms,
				  __u32 *slot)
{
	__u64 want = tkt_siphash24_u64(key, tkt_load_le64(token));
	__u64 got = tkt_load_le64(token + 8);
	__u32 s = tkt_load_be32(token);
	__u32 expiry = tkt_load_be32(token + 4);

	if (want != got || s == 0 || s > TKT_SLOT_MAX)
		return TKT_TOKEN_FORGED;
	if (now_unix_ms >= (__u64)expiry * 1000u)
		return TKT_TOKEN_EXPIRED;
	*slot = s;
	return TKT_TOKEN_VALID;
}

/* The same with the wall clock in seconds. */
TKT_INLINE int tkt_token_check(const struct tkt_token_key *key,
			       const __u8 *token, __u64 now_unix, __u32 *slot)
{
	return tkt_token_check_ms(key, token, now_unix * 1000u, slot);
}

/* Writes the 16-byte token of slot, valid until expiry (Unix seconds): the
 * session id, then its tag. What tkt_token_check accepts; only the holder of
 * the key (ticketd, and tests) can mint. The slot is not range-checked here:
 * tkt_token_check refuses 0 and slots beyond TKT_SLOT_MAX. */
TKT_INLINE void tkt_token_mint(const struct tkt_token_key *key, __u32 slot,
			       __u32 expiry, __u8 *token)
{
	tkt_store_be32(token, slot);
	tkt_store_be32(token + 4, expiry);
	tkt_token_tag(key, token, token + TKT_SESSION_ID_LEN);
}

/* Version 2: the MAC of a request's bytes 0..31 under the session's key,
 * which is the whole token read as a SipHash key. The client has the
 * token; the edge recomputes the tag from the session id, so it stores no
 * per-session key. */
TKT_INLINE __u64 tkt_v2_mac(const __u8 *token, const __u8 *msg)
{
	struct tkt_token_key k = {.k0 = tkt_load_le64(token),
				  .k1 = tkt_load_le64(token + 8)};

	return tkt_siphash24_32(&k, msg);
}

/* Checks a v2 request (40 bytes at req): its session id (bytes 16..23)
 * and MAC (32..39). On success stores the holder slot. Same verdicts as
 * tkt_token_check_ms; the MAC is checked before the expiry. */
TKT_INLINE int tkt_v2_check_ms(const struct tkt_token_key *key,
			       const __u8 *req, __u64 now_unix_ms, __u32 *slot)
{
	__u8 token[TKT_TOKEN_LEN];
	const __u8 *sid = req + 16;
	__u32 s, expiry;
	int i;

	for (i = 0; i < TKT_SESSION_ID_LEN; i++)
		token[i] = sid[i];
	tkt_token_tag(key, token, token + TKT_SESSION_ID_LEN);
	if (tkt_v2_mac(token, req) != tkt_load_le64(req + 32))
		return TKT_TOKEN_FORGED;
	s = tkt_load_be32(sid);
	expiry = tkt_load_be32(sid + 4);
	if (s == 0 || s > TKT_SLOT_MAX)
		return TKT_TOKEN_FORGED;
	if (now_unix_ms >= (__u64)expiry * 1000u)
		return TKT_TOKEN_EXPIRED;
	*slot = s;
	return TKT_TOKEN_VALID;
}

/* The same with the wall clock in seconds. */
TKT_INLINE int tkt_v2_check(const struct tkt_token_key *key, const __u8 *req,
			    __u64 now_unix, __u32 *slot)
{
	return tkt_v2_check_ms(key, req, now_unix * 1000u, slot);
}

#endif /* TICKET_SESSION_TOKEN_H */
