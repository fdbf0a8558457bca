#include "userspace/lib/traceparent.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include "userspace/lib/hex.h"

static int is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* W3C trace context: version "00" is exactly 55 characters; a later
 * version may append "-..." fields; version "ff" and all-zero ids are
 * invalid. */
static int traceparent_valid(const char *tp)
{
	size_t len = tp ? strlen(tp) : 0;

	if (len < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-')
		return 0;
	if (!is_lower_hex(tp, 2) || !strncmp(tp, "ff", 2) ||
	    !is_lower_hex(tp + 3, 32) || !is_lower_hex(tp + 36, 16) ||
	    !is_lower_hex(tp + 53, 2))
		return 0;
	if (len > 55 && (!strncmp(tp, "00", 2) || tp[55] != '-'))
		return 0;
	return strspn(tp + 3, "0") < 32 && strspn(tp + 36, "0") < 16;
}

static uint8_t hex_byte(const char *s)
{
	return (uint8_t)(hex_digit(s[0]) << 4 | hex_digit(s[1]));
}

int traceparent_parse(const char *tp, struct traceparent *out)
{
	memset(out, 0, sizeof(*out));
	if (!traceparent_valid(tp))
		return -1;
	out->version = hex_byte(tp);
	memcpy(out->trace_id, tp + 3, TRACE_ID_LEN);
	memcpy(out->parent_id, tp + 36, SPAN_ID_LEN);
	out->flags = hex_byte(tp + 53);
	return 0;
}

int traceparent_format(const struct traceparent *tp,
		       char out[TRACEPARENT_LEN + 1])
{
	out[0] = '\0';
	if (strlen(tp->trace_id) != TRACE_ID_LEN ||
	    strlen(tp->parent_id) != SPAN_ID_LEN ||
	    !is_lower_hex(tp->trace_id, TRACE_ID_LEN) ||
	    !is_lower_hex(tp->parent_id, SPAN_ID_LEN) ||
	    strspn(tp->trace_id, "0") == TRACE_ID_LEN ||
	    strspn(tp->parent_id, "0") == SPAN_ID_LEN)
		return -1;
	snprintf(out, TRACEPARENT_LEN + 1, "00-%s-%s-%02x", tp->trace_id,
		 tp->parent_id, tp->flags);
	return 0;
}

int trace_id_parse(const char *tp, char out[TRACE_ID_LEN + 1])
{
	if (!traceparent_valid(tp))
		return -1;
	memcpy(out, tp + 3, 32);
	out[32] = '\0';
	return 0;
}

void trace_id_from_traceparent(const char *tp, char out[TRACE_ID_LEN + 1])
{
	unsigned char raw[16];

	if (!trace_id_parse(tp, out))
		return;
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		memset(raw, 0x5a, sizeof(raw));
		memcpy(raw, &ts, sizeof(ts) < sizeof(raw) ? sizeof(ts) : sizeof(raw));
	}
	hex_encode(raw, sizeof(raw), out);
}
