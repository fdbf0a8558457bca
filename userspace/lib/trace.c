/* Span recorder and OTLP/HTTP JSON exporter (see trace.h). */
#include "userspace/lib/trace.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"

struct trace_attr {
	char key[TRACE_KEY_MAX];
	char value[TRACE_VALUE_MAX];
	bool is_int;
	int64_t ival;
};

struct trace_span {
	struct trace_span *next; /* in the export queue */
	char trace_id[TRACE_ID_LEN + 1];
	char span_id[SPAN_ID_LEN + 1];
	char parent_id[SPAN_ID_LEN + 1]; /* "" for a root span */
	uint8_t flags;
	enum trace_kind kind;
	char name[TRACE_NAME_MAX];
	uint64_t start_ns, end_ns; /* unix time */
	bool error;
	char message[TRACE_VALUE_MAX];
	struct trace_attr attrs[TRACE_MAX_ATTRS];
	int n_attrs;
};

/* The recorder. enabled and the counters are atomics; lock guards the
 * queue (head, tail, n) and stopping; cond wakes the exporter. */
static struct {
	atomic_bool enabled;
	char url[512];
	char service[64];
	int queue_max, batch_max, timeout_ms, interval_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct trace_span *head, *tail;
	int n;
	bool stopping;
	pthread_t thread;
	atomic_uint_least64_t started, exported, dropped, failures;
} tr = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static _Thread_local struct traceparent current;

static void random_hex(char *out, size_t bytes)
{
	uint8_t raw[16];

	if (getrandom(raw, bytes, 0) != (ssize_t)bytes) {
		uint64_t t = tkt_mono_ns() ^ (uint64_t)(uintptr_t)out;

		for (size_t i = 0; i < bytes; i++)
			raw[i] = (uint8_t)(t >> (8 * (i % 8))) ^ (uint8_t)(i * 131 + 7);
	}
	raw[0] |= 1; /* never all zero: the W3C spec forbids it */
	hex_encode(raw, bytes, out);
}

bool trace_enabled(void)
{
	return atomic_load_explicit(&tr.enabled, memory_order_relaxed);
}

struct trace_span *trace_span_begin(const char *name, enum trace_kind kind,
				    const struct traceparent *parent)
{
	struct trace_span *s;

	if (!trace_enabled())
		return NULL;
	if (!parent)
		parent = &current;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (parent->trace_id[0]) {
		memcpy(s->trace_id, parent->trace_id, sizeof(s->trace_id));
		memcpy(s->parent_id, parent->parent_id, sizeof(s->parent_id));
		s->flags = parent->flags;
	} else {
		random_hex(s->trace_id, TRACE_ID_LEN / 2);
		s->flags = 1; /* sampled: we record every span we start */
	}
	random_hex(s->span_id, SPAN_ID_LEN / 2);
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "span");
	s->kind = kind;
	s->start_ns = tkt_unix_ns();
	atomic_fetch_add(&tr.started, 1);
	return s;
}

void trace_span_name(struct trace_span *s, const char *name)
{
	if (s && name)
		snprintf(s->name, sizeof(s->name), "%s", name);
}

static struct trace_attr *attr_slot(struct trace_span *s, const char *key)
{
	struct trace_attr *a;

	if (!s || !key || s->n_attrs == TRACE_MAX_ATTRS)
		return NULL;
	a = &s->attrs[s->n_attrs++];
	snprintf(a->key, sizeof(a->key), "%s", key);
	return a;
}

void trace_span_attr(struct trace_span *s, const char *key, const char *value)
{
	struct trace_attr *a = attr_slot(s, key);

	if (a)
		snprintf(a->value, sizeof(a->value), "%s", value ? value : "");
}

void trace_span_attr_int(struct trace_span *s, const char *key, int64_t value)
{
	struct trace_attr *a = attr_slot(s, key);

	if (a) {
		a->is_int = true;
		a->ival = value;
	}
}

void trace_span_error(struct trace_span *s, const char *message)
{
	if (!s)
		return;
	s->error = true;
	snprintf(s->message, sizeof(s->message), "%s", message ? message : "");
}

void trace_span_context(const struct trace_span *s, struct traceparent *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return;
	memcpy(out->trace_id, s->trace_id, sizeof(out->trace_id));
	memcpy(out->parent_id, s->span_id, sizeof(out->parent_id));
	out->flags = s->flags;
}

void trace_span_end(struct trace_span *s)
{
	bool queued = false;

	if (!s)
		return;
	s->end_ns = tkt_unix_ns();
	pthread_mutex_lock(&tr.lock);
	if (tr.n < tr.queue_max && !tr.stopping) {
		if (tr.tail)
			tr.tail->next = s;
		else
			tr.head = s;
		tr.tail = s;
		if (++tr.n >= tr.batch_max)
			pthread_cond_signal(&tr.cond);
		queued = true;
	}
	pthread_mutex_unlock(&tr.lock);
	if (!queued) {
		atomic_fetch_add(&tr.dropped, 1);
		free(s);
	}
}

void trace_current_get(struct traceparent *out)
{
	*out = current;
}

void trace_current_set(const struct traceparent *ctx, struct traceparent *prev)
{
	if (prev)
		*prev = current;
	if (ctx)
		current = *ctx;
	else
		memset(&current, 0, sizeof(current));
}

void trace_current_enter(const struct trace_span *s, struct traceparent *prev)
{
	struct traceparent c;

	trace_span_context(s, &c);
	if (prev)
		*prev = current;
	if (s)
		current = c;
}

struct trace_scope trace_scope_begin(const char *name, enum trace_kind kind)
{
	struct trace_scope sc = {.span = trace_span_begin(name, kind, NULL)};

	if (sc.span)
		trace_current_enter(sc.span, &sc.prev);
	return sc;
}

void trace_scope_exit(struct trace_scope *sc)
{
	if (!sc->span)
		return;
	trace_current_set(&sc->prev, NULL);
	trace_span_end(sc->span);
	sc->span = NULL;
}

void trace_get_stats(struct trace_stats *out)
{
	out->started = atomic_load(&tr.started);
	out->exported = atomic_load(&tr.exported);
	out->dropped = atomic_load(&tr.dropped);
	out->export_failures = atomic_load(&tr.failures);
}

int trace_render_metrics(char **buf, size_t *len, size_t *cap)
{
	struct trace_stats st;

	trace_get_stats(&st);
	return metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_trace_spans_started_total Spans begun (tracing on).\n"
		"# TYPE ticketd_trace_spans_started_total counter\n"
		"ticketd_trace_spans_started_total %" PRIu64 "\n"
		"# HELP ticketd_trace_spans_exported_total Spans the OTLP collector accepted.\n"
		"# TYPE ticketd_trace_spans_exported_total counter\n"
		"ticketd_trace_spans_exported_total %" PRIu64 "\n"
		"# HELP ticketd_trace_spans_dropped_total Spans lost: export queue full or export failed.\n"
		"# TYPE ticketd_trace_spans_dropped_total counter\n"
		"ticketd_trace_spans_dropped_total %" PRIu64 "\n"
		"# HELP ticketd_trace_export_failures_total OTLP POSTs that failed or timed out.\n"
		"# TYPE ticketd_trace_export_failures_total counter\n"
		"ticketd_trace_export_failures_total %" PRIu64 "\n",
		st.started, st.exported, st.dropped, st.export_failures) ? -ENOMEM : 0;
}

/* ---- OTLP JSON (opentelemetry-proto, ExportTraceServiceRequest) ---- */

static json_t *ns_string(uint64_t ns)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, ns);
	return json_string(buf);
}

static json_t *span_json(const struct trace_span *s)
{
	json_t *attrs = json_array(), *j;

	for (int i = 0; i < s->n_attrs; i++) {
		const struct trace_attr *a = &s->attrs[i];
		json_t *v;

		if (a->is_int) {
			char buf[24];

			/* OTLP JSON: int64 values are strings */
			snprintf(buf, sizeof(buf), "%" PRId64, a->ival);
			v = json_pack("{s:s}", "intValue", buf);
		} else {
			v = json_pack("{s:s}", "stringValue", a->value);
		}
		json_array_append_new(attrs, json_pack("{s:s, s:o}", "key", a->key,
						       "value", v));
	}
	j = json_pack("{s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:{s:i}}", "traceId",
		      s->trace_id, "spanId", s->span_id, "name", s->name, "kind",
		      (int)s->kind, "startTimeUnixNano", ns_string(s->start_ns),
		      "endTimeUnixNano", ns_string(s->end_ns), "attributes", attrs,
		      "status", "code", s->error ? 2 : 1);
	if (!j)
		return NULL;
	if (s->parent_id[0])
		json_object_set_new(j, "parentSpanId", json_string(s->parent_id));
	if (s->error && s->message[0])
		json_object_set_new(json_object_get(j, "status"), "message",
				    json_string(s->message));
	return j;
}

static char *otlp_json(struct trace_span *batch)
{
	json_t *spans = json_array(), *root;
	char *text;

	for (struct trace_span *s = batch; s; s = s->next)
		json_array_append_new(spans, span_json(s));
	root = json_pack(
		"{s:[{s:{s:[{s:s, s:{s:s}}]}, s:[{s:{s:s}, s:o}]}]}", "resourceSpans",
		"resource", "attributes", "key", "service.name", "value",
		"stringValue", tr.service, "scopeSpans", "scope", "name", "ticketing",
		"spans", spans);
	if (!root)
		return NULL;
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

/* POSTs one batch; returns 0 when the collector answered 2xx. */
static int post_batch(CURL *curl, struct trace_span *batch)
{
	struct curl_slist *hdrs = NULL;
	char *body = otlp_json(batch);
	long code = 0;
	int rc = -EIO;

	if (!body)
		return -ENOMEM;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, tr.url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)tr.timeout_ms);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)tr.timeout_ms);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard_body);
	if (curl_easy_perform(curl) == CURLE_OK &&
	    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
	    code >= 200 && code < 300)
		rc = 0;
	curl_slist_free_all(hdrs);
	free(body);
	return rc;
}

static void free_batch(struct trace_span *b)
{
	while (b) {
		struct trace_span *n = b->next;

		free(b);
		b = n;
	}
}

/* Takes up to batch_max spans off the queue. Called with lock held. */
static struct trace_span *take_batch(int *n)
{
	struct trace_span *head = tr.head, *last = NULL, *s = head;
	int k = 0;

	while (s && k < tr.batch_max) {
		last = s;
		s = s->next;
		k++;
	}
	if (!last)
		return NULL;
	last->next = NULL;
	tr.head = s;
	if (!s)
		tr.tail = NULL;
	tr.n -= k;
	*n = k;
	return head;
}

static void *exporter_main(void *arg)
{
	CURL *curl = curl_easy_init();
	bool warned = false, last = false;

	(void)arg;
	pthread_mutex_lock(&tr.lock);
	for (;;) {
		struct trace_span *batch;
		int n = 0;

		if (!tr.stopping && tr.n < tr.batch_max) {
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)(tr.interval_ms % 1000) * 1000000L;
			until.tv_sec += tr.interval_ms / 1000 + until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&tr.cond, &tr.lock, &until);
		}
		if (tr.stopping && last) {
			/* One batch at stop: a dead collector must not hold
			 * the shutdown for a timeout per batch. */
			atomic_fetch_add(&tr.dropped, (uint64_t)tr.n);
			free_batch(tr.head);
			tr.head = tr.tail = NULL;
			tr.n = 0;
			break;
		}
		last = tr.stopping;
		batch = take_batch(&n);
		if (!batch && tr.stopping)
			break;
		if (!batch)
			continue;
		pthread_mutex_unlock(&tr.lock);
		if (curl && post_batch(curl, batch) == 0) {
			atomic_fetch_add(&tr.exported, (uint64_t)n);
			warned = false;
		} else {
			atomic_fetch_add(&tr.failures, 1);
			atomic_fetch_add(&tr.dropped, (uint64_t)n);
			if (!warned) /* once per outage, not per batch */
				log_msg(LOG_WARN, NULL,
					"trace export to %s failed; dropping spans", tr.url);
			warned = true;
		}
		free_batch(batch);
		pthread_mutex_lock(&tr.lock);
	}
	pthread_mutex_unlock(&tr.lock);
	if (curl)
		curl_easy_cleanup(curl);
	return NULL;
}

int trace_start(const struct trace_opts *o)
{
	int rc;

	if (!o || !o->url || !*o->url)
		return 0;
	if (strlen(o->url) >= sizeof(tr.url))
		return -EINVAL;
	snprintf(tr.url, sizeof(tr.url), "%s", o->url);
	snprintf(tr.service, sizeof(tr.service), "%s",
		 o->service_name && *o->service_name ? o->service_name : "unknown");
	tr.queue_max = o->queue_max > 0 ? o->queue_max : 2048;
	tr.batch_max = o->batch_max > 0 ? o->batch_max : 256;
	tr.timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 2000;
	tr.interval_ms = o->interval_ms > 0 ? o->interval_ms : 500;
	tr.stopping = false;
	/* Idempotent; the payment client may have done it already. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	rc = pthread_create(&tr.thread, NULL, exporter_main, NULL);
	if (rc)
		return -rc;
	atomic_store(&tr.enabled, true);
	return 0;
}

void trace_stop(void)
{
	if (!trace_enabled())
		return;
	atomic_store(&tr.enabled, false);
	pthread_mutex_lock(&tr.lock);
	tr.stopping = true;
	pthread_cond_signal(&tr.cond);
	pthread_mutex_unlock(&tr.lock);
	pthread_join(tr.thread, NULL);
}
