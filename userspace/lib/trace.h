/* Spans, exported over OTLP/HTTP (JSON encoding of
 * ExportTraceServiceRequest) to a collector by one exporter thread.
 *
 * Off by default: until trace_start gets a URL every call here is a cheap
 * no-op (trace_span_begin returns NULL and every other call accepts NULL).
 * A finished span goes into a bounded queue guarded by one lock; when the
 * queue is full the span is dropped and counted, so recording never waits
 * for the collector. The exporter posts batches with a bounded timeout; a
 * batch the collector did not take is dropped and counted too.
 *
 * The recorder is process-wide (like log.c): the HTTP layer, the saga and
 * the relay reach it without a pointer threaded through every call. The
 * current span context is per thread (trace_current_*): work handed to
 * another thread carries a struct traceparent with it and sets it there. */
#ifndef TKT_LIB_TRACE_H
#define TKT_LIB_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/traceparent.h"

/* OTLP SpanKind values. */
enum trace_kind {
	TRACE_INTERNAL = 1,
	TRACE_SERVER = 2,
	TRACE_CLIENT = 3,
	TRACE_PRODUCER = 4,
	TRACE_CONSUMER = 5,
};

#define TRACE_MAX_ATTRS 6
#define TRACE_NAME_MAX 48
#define TRACE_KEY_MAX 32
#define TRACE_VALUE_MAX 96

struct trace_opts {
	const char *url;          /* collector's /v1/traces; NULL or "": off */
	const char *service_name; /* resource attribute service.name */
	int queue_max;            /* finished spans waiting at most (0: 2048) */
	int batch_max;            /* spans per POST at most (0: 256) */
	int timeout_ms;           /* one POST at most (0: 2000) */
	int interval_ms;          /* export at least this often (0: 500) */
};

struct trace_span;

/* Starts the exporter thread when o->url is set. 0 (also when off) or a
 * negative errno. Call once, before any span. */
int trace_start(const struct trace_opts *o);
/* Exports what is queued (bounded by the timeout) and stops the thread. */
void trace_stop(void);
bool trace_enabled(void);

/* A new span named name (copied). parent: its context; NULL: the calling
 * thread's current context (trace_current_get); a context with an empty
 * trace id starts a new trace. NULL when tracing is off or out of memory. */
struct trace_span *trace_span_begin(const char *name, enum trace_kind kind,
				    const struct traceparent *parent);
/* Renames the span (copied; cut to TRACE_NAME_MAX - 1). */
void trace_span_name(struct trace_span *s, const char *name);
/* Attributes past TRACE_MAX_ATTRS are ignored; texts are cut to fit. */
void trace_span_attr(struct trace_span *s, const char *key, const char *value);
void trace_span_attr_int(struct trace_span *s, const char *key, int64_t value);
/* Marks the span failed (OTLP status code ERROR) with a short message. */
void trace_span_error(struct trace_span *s, const char *message);
/* The span's own context (its id as parent_id), to hand to children or
 * put on the wire. Cleared when s is NULL. */
void trace_span_context(const struct trace_span *s, struct traceparent *out);
/* Ends the span and queues it for export (or drops it when the queue is
 * full). s is freed; NULL is a no-op. */
void trace_span_end(struct trace_span *s);

/* The calling thread's current context (empty trace id: none). */
void trace_current_get(struct traceparent *out);
/* Sets it (NULL clears) and returns the previous one in prev (may be NULL). */
void trace_current_set(const struct traceparent *ctx, struct traceparent *prev);
/* trace_span_context(s) becomes current; the previous context goes to prev. */
void trace_current_enter(const struct trace_span *s, struct traceparent *prev);

/* A span for the rest of a C scope, current while the scope runs: one line
 * at a call site (the commerce and messaging hooks),
 *   TRACE_SCOPE(ts, "order.create");
 *   trace_span_attr(ts.span, "order.id", id);
 * ends the span and restores the previous context on every return path
 * (the cleanup attribute, gcc and clang). */
struct trace_scope {
	struct trace_span *span; /* NULL when tracing is off */
	struct traceparent prev;
};
struct trace_scope trace_scope_begin(const char *name, enum trace_kind kind);
void trace_scope_exit(struct trace_scope *sc);
#define TRACE_SCOPE(var, name)                                                \
	struct trace_scope var __attribute__((cleanup(trace_scope_exit))) =   \
		trace_scope_begin((name), TRACE_INTERNAL)

struct trace_stats {
	uint64_t started;  /* spans begun */
	uint64_t exported; /* spans the collector accepted */
	uint64_t dropped;  /* spans lost: queue full or export failed */
	uint64_t export_failures; /* POSTs that failed or timed out */
};
void trace_get_stats(struct trace_stats *out);
/* Appends the counters in Prometheus text (ticketd_trace_spans_*_total;
 * zeros when off) with metrics_appendf. 0 or -ENOMEM. */
int trace_render_metrics(char **buf, size_t *len, size_t *cap);

#endif
