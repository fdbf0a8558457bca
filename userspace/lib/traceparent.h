/* W3C trace context: every request and job carries a 32-hex trace id,
 * taken from a caller's valid traceparent header or made fresh. */
#ifndef TKT_LIB_TRACEPARENT_H
#define TKT_LIB_TRACEPARENT_H

#include <stdint.h>

#define TRACE_ID_LEN 32
#define SPAN_ID_LEN 16
/* "00-" trace id "-" span id "-" flags: what traceparent_format writes. */
#define TRACEPARENT_LEN 55

/* A parsed traceparent (W3C Trace Context, level 1). An empty trace_id
 * means "no context". */
struct traceparent {
	uint8_t version;
	char trace_id[TRACE_ID_LEN + 1];
	char parent_id[SPAN_ID_LEN + 1]; /* the caller's span */
	uint8_t flags;                   /* bit 0: sampled */
};

/* Parses a traceparent (NULL allowed): version 00 exactly, or a later
 * version with its first four fields (the rest ignored, as the spec
 * asks). Returns 0 and fills out, or -1 and clears out. */
int traceparent_parse(const char *traceparent, struct traceparent *out);

/* Writes version 00 of tp ("00-<trace>-<span>-<flags>") and a NUL into
 * out. Returns 0, or -1 (out set to "") when tp does not hold valid ids. */
int traceparent_format(const struct traceparent *tp,
		       char out[TRACEPARENT_LEN + 1]);

/* Copies the trace id of a valid traceparent (NULL allowed) into out and
 * returns 0, or returns -1 and leaves out alone. */
int trace_id_parse(const char *traceparent, char out[TRACE_ID_LEN + 1]);

/* The trace id of a valid traceparent (NULL allowed), else a random one. */
void trace_id_from_traceparent(const char *traceparent, char out[TRACE_ID_LEN + 1]);

#endif
