/* Hexadecimal text <-> bytes, the one codec every program uses (tokens,
 * session ids, raw datagrams on the command line). */
#ifndef TKT_LIB_HEX_H
#define TKT_LIB_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of n bytes and a NUL into out (2n + 1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);

/* Value of one hex digit (either case), or -1. */
int hex_digit(char c);

/* Parses exactly 2n hex digits (either case) followed by the end of the
 * string into out[n]. Returns 0, or -1 on any other input; out may be
 * partly written on failure. */
int hex_decode(const char *in, uint8_t *out, size_t n);

/* Parses an even number of hex digits, ignoring spaces and ':', into out
 * (at most cap bytes). Returns the byte count, or -1 on a bad digit, an odd
 * count or more than cap bytes. */
int hex_decode_loose(const char *in, uint8_t *out, size_t cap);

#endif
