/* What the load tools of the hold protocol read from their command lines:
 * session tokens (a file of 32-hex tokens) and op cycles ("hold,release"). */
#ifndef BENCH_LIB_PROTO_H
#define BENCH_LIB_PROTO_H

#include <stdint.h>

#include "userspace/lib/wire_codec.h"

typedef uint8_t bench_token[TKT_TOKEN_LEN];
typedef char bench_token_hex[TKT_TOKEN_HEX_LEN + 1];

/* The tokens of --tokens FILE (bench_load_tokens) when file is not NULL,
 * else the one of --token HEX32, else one all-zero token. Returns the
 * count and *out (malloc'd), or -1 after a message. */
int bench_tokens_from(const char *file, const char *one_hex, bench_token **out);

/* bench_load_tokens, as lowercase hex text (for HTTP headers): the
 * tokens (malloc'd) and their count in *n, or NULL after a message. */
bench_token_hex *bench_load_tokens_hex(const char *path, int *n);

/* Parses an op cycle, op names (tkt_op_from_name) separated by ',' or
 * '+', into ops[cap]. Returns the number of ops, or -1. */
int bench_parse_mix(const char *mix, uint8_t *ops, int cap);

/* xorshift64: the tools' seeded choice of seats; *s must not be 0. */
static inline uint64_t bench_xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

#endif
