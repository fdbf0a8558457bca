/* Time formats shown to people and clients. */
#ifndef TKT_LIB_TIMEFMT_H
#define TKT_LIB_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Room for "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL. */
#define TKT_RFC3339_LEN 32

/* Formats Unix milliseconds as RFC 3339 UTC with milliseconds
 * ("2024-11-27T10:36:00.123Z"). Returns 0, or -1 (out set to "" when cap
 * allows) when cap is too small or the time is before 1970 or after the
 * year 9999, which RFC 3339's four-digit year cannot show. */
int tkt_format_rfc3339_ms(int64_t unix_ms, char *out, size_t cap);

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" (1970..9999) as Unix
 * ms in *ms; 0, or -1 if it is not. */
int tkt_parse_rfc3339_ms(const char *s, int64_t *ms);

#endif
