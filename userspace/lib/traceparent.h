/* W3C trace context: every request and job carries a 32-hex trace id,
 * taken from a caller's valid traceparent header or made fresh. */
#ifndef TKT_LIB_TRACEPARENT_H
#define TKT_LIB_TRACEPARENT_H

#define TRACE_ID_LEN 32

/* Copies the trace id of a valid traceparent (NULL allowed) into out and
 * returns 0, or returns -1 and leaves out alone. */
int trace_id_parse(const char *traceparent, char out[TRACE_ID_LEN + 1]);

/* The trace id of a valid traceparent (NULL allowed), else a random one. */
void trace_id_from_traceparent(const char *traceparent, char out[TRACE_ID_LEN + 1]);

#endif
