/* paymentd: a small HTTP service standing in for a card gateway.
 *
 *   POST /v1/authorize  {"orderId","amount","currency"?,"simulate"?}
 *   POST /v1/refund     {"orderId","amount"}  (void or refund, once per order)
 *   GET  /healthz       {"status":"UP"}
 *   GET  /metrics       Prometheus text
 *
 * Decisions (delay, approve/decline, injected failures) and the per-order
 * idempotency ledger live in payment_sim.c; this file is settings, HTTP and
 * the delay timer.
 *
 * Threads and what they own:
 *   - main: parses settings, starts everything, waits for SIGTERM/SIGINT
 *     (its handler writes to a pipe main reads), then stops everything in
 *     order (see main()).
 *   - libmicrohttpd workers (`threads`, epoll): run on_request() and
 *     on_completed(); a request's struct req_ctx belongs to the worker
 *     serving its connection.
 *   - the timer thread: owns nothing but the heap; it resumes connections
 *     whose delay has passed.
 * Shared state: the ledger (its own lock, in payment_sim.c), the timer heap
 * (timer.lock), counters (atomics). Lock order: timer.lock, then
 * libmicrohttpd's internal lock (MHD_suspend_connection is called with
 * timer.lock held; MHD_resume_connection never is). The ledger lock is never
 * held together with another lock.
 *
 * A delayed answer never blocks a worker: the handler decides, stores the
 * reply in the request context, suspends the connection and files it in the
 * timer heap; the timer thread resumes it when due and libmicrohttpd calls
 * the handler again, which sends the stored reply. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/lib/settings.h"
#include "userspace/lib/trace.h"
#include "userspace/lib/traceparent.h"
#include "userspace/paymentd/payment_sim.h"

/* ---- settings --------------------------------------------------------- */

#define CFG_STR_MAX 64

struct pd_config {
	char addr[CFG_STR_MAX];
	int port;
	struct pay_sim_config sim;
	uint64_t seed;
	int threads;
	int max_connections;
	int max_body;
	int ledger_size;
	int idle_timeout_s;
	char log_level[CFG_STR_MAX];
	char otlp_traces_url[256]; /* #15 tracing: "" = off */
};

#define SET(name, field, type, def, min, max, help)                           \
	{ name, type, offsetof(struct pd_config, field),                       \
	  sizeof(((struct pd_config *)0)->field), def, min, max, help }

static const struct setting cfg_settings[] = {
	SET("addr", addr, SETTING_STR, "127.0.0.1", 0, 0, "listen address (IPv4)"),
	SET("port", port, SETTING_INT, "8084", 1, 65535, "listen port"),
	SET("delay_min_ms", sim.delay_min_ms, SETTING_U32, "50", 0, 600000,
	    "shortest simulated processing time, ms"),
	SET("delay_max_ms", sim.delay_max_ms, SETTING_U32, "300", 0, 600000,
	    "longest simulated processing time, ms"),
	SET("approve_ratio", sim.approve_ratio, SETTING_RATIO, "0.8", 0, 0,
	    "fraction of answered authorizations that are APPROVED"),
	SET("fail_ratio", sim.fail_ratio, SETTING_RATIO, "0.0", 0, 0,
	    "fraction of new authorizations answered 503 GATEWAY_ERROR"),
	SET("timeout_ratio", sim.timeout_ratio, SETTING_RATIO, "0.0", 0, 0,
	    "fraction of new authorizations that hang timeout_hang_ms first"),
	SET("timeout_hang_ms", sim.timeout_hang_ms, SETTING_U32, "10000", 0, 3600000,
	    "how long an injected timeout hangs before answering, ms"),
	SET("refund_fail_ratio", sim.refund_fail_ratio, SETTING_RATIO, "0.0", 0, 0,
	    "fraction of refunds answered 503 GATEWAY_ERROR (the caller retries)"),
	SET("seed", seed, SETTING_U64, "0", 0, 0,
	    "random seed; 0 picks one at start (logged); fixed = reproducible"),
	SET("threads", threads, SETTING_INT, "4", 1, 64, "HTTP worker threads (epoll)"),
	SET("max_connections", max_connections, SETTING_INT, "10000", 16, 1000000,
	    "most concurrent HTTP connections (pending ones included)"),
	SET("max_body", max_body, SETTING_INT, "16384", 256, 16777216,
	    "largest accepted request body, bytes (larger: 413)"),
	SET("ledger_size", ledger_size, SETTING_INT, "1000000", 1, 100000000,
	    "orders remembered for idempotent replies (oldest forgotten first)"),
	SET("idle_timeout_s", idle_timeout_s, SETTING_INT, "60", 1, 86400,
	    "close a connection idle this long, seconds"),
	SET("log_level", log_level, SETTING_STR, "info", 0, 0,
	    "debug, info, warn or error"),
	SET("otlp_traces_url", otlp_traces_url, SETTING_STR, "", 0, 0,
	    "OTLP/HTTP JSON traces endpoint for a server span per request "
	    "(docs/ops/tracing.md; empty: off)"),
};

static const struct settings_spec cfg_spec = {
	.prog = "paymentd",
	.env_prefix = "PAYMENTD_",
	.intro = "paymentd simulates a card gateway (e.g. PAYMENTD_FAIL_RATIO=0.1 or\n"
		 "--fail-ratio 0.1 answers 10 % of new authorizations 503).",
	.outro = "Endpoints: POST /v1/authorize, POST /v1/refund, GET /healthz, GET /metrics.\n"
		 "POST /v1/refund {\"orderId\",\"amount\"} returns an order's charge, or\n"
		 "voids an order never charged (a later authorize of it is declined);\n"
		 "once per order: a repeat answers the same (\"replay\":true).\n"
		 "Orders are remembered in memory only: a restart forgets them.",
	.table = cfg_settings,
	.n = sizeof(cfg_settings) / sizeof(cfg_settings[0]),
};

/* ---- counters ----------------------------------------------------------- */

static const unsigned http_codes[] = {200, 400, 404, 405, 413, 422, 500, 503};
#define N_CODES (sizeof(http_codes) / sizeof(http_codes[0]))

struct pd_metrics {
	atomic_ulong approved, declined, gateway_errors; /* new decisions */
	atomic_ulong injected_gateway_errors, injected_timeouts;
	atomic_ulong forced; /* decisions forced by "simulate" */
	atomic_ulong replays;
	atomic_ulong refunded, voided, refund_errors, refund_replays;
	atomic_long pending; /* suspended, waiting for their delay */
	atomic_ulong responses[N_CODES + 1]; /* last: any other code */
};

/* ---- the delay timer ----------------------------------------------------- */

struct timer_item {
	uint64_t due_ns; /* CLOCK_MONOTONIC */
	uint64_t seq;    /* ties resume in arrival order */
	struct MHD_Connection *conn;
};

struct pd_timer {
	/* Guards heap, n, cap, seq and stopping. Invariant: every connection
	 * in the heap is suspended, so it cannot be freed by libmicrohttpd
	 * before the timer thread resumes it. */
	pthread_mutex_t lock;
	pthread_cond_t wake; /* earlier due time or stopping */
	struct timer_item *heap; /* binary min-heap on (due_ns, seq) */
	size_t n, cap;
	uint64_t seq;
	bool stopping;
	pthread_t thread;
};

static bool item_before(const struct timer_item *a, const struct timer_item *b)
{
	return a->due_ns != b->due_ns ? a->due_ns < b->due_ns : a->seq < b->seq;
}

static void heap_push(struct pd_timer *t, struct timer_item it)
{
	size_t i = t->n++;

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!item_before(&it, &t->heap[parent]))
			break;
		t->heap[i] = t->heap[parent];
		i = parent;
	}
	t->heap[i] = it;
}

static struct timer_item heap_pop(struct pd_timer *t)
{
	struct timer_item top = t->heap[0], last = t->heap[--t->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->n)
			break;
		if (c + 1 < t->n && item_before(&t->heap[c + 1], &t->heap[c]))
			c++;
		if (!item_before(&t->heap[c], &last))
			break;
		t->heap[i] = t->heap[c];
		i = c;
	}
	if (t->n)
		t->heap[i] = last;
	return top;
}

#define RESUME_BATCH 256

static void *timer_main(void *arg)
{
	struct pd_timer *t = arg;
	struct MHD_Connection *batch[RESUME_BATCH];

	pthread_mutex_lock(&t->lock);
	for (;;) {
		size_t nb = 0;
		uint64_t now;

		if (t->n == 0) {
			if (t->stopping)
				break;
			pthread_cond_wait(&t->wake, &t->lock);
			continue;
		}
		now = tkt_mono_ns();
		while (t->n && nb < RESUME_BATCH &&
		       (t->stopping || t->heap[0].due_ns <= now))
			batch[nb++] = heap_pop(t).conn;
		if (nb == 0) {
			struct timespec until = {
				.tv_sec = (time_t)(t->heap[0].due_ns / 1000000000ULL),
				.tv_nsec = (long)(t->heap[0].due_ns % 1000000000ULL),
			};

			pthread_cond_timedwait(&t->wake, &t->lock, &until);
			continue;
		}
		/* Resume outside the lock: libmicrohttpd takes its own. */
		pthread_mutex_unlock(&t->lock);
		for (size_t i = 0; i < nb; i++)
			MHD_resume_connection(batch[i]);
		pthread_mutex_lock(&t->lock);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static int timer_start(struct pd_timer *t)
{
	pthread_condattr_t ca;
	int rc;

	memset(t, 0, sizeof(*t));
	if ((rc = pthread_mutex_init(&t->lock, NULL)))
		return -rc;
	if ((rc = pthread_condattr_init(&ca)))
		goto fail_mutex;
	if ((rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)) ||
	    (rc = pthread_cond_init(&t->wake, &ca))) {
		pthread_condattr_destroy(&ca);
		goto fail_mutex;
	}
	pthread_condattr_destroy(&ca);
	if ((rc = pthread_create(&t->thread, NULL, timer_main, t))) {
		pthread_cond_destroy(&t->wake);
		goto fail_mutex;
	}
	return 0;
fail_mutex:
	pthread_mutex_destroy(&t->lock);
	return -rc;
}

/* Suspends conn and files it to be resumed after delay_ms. Called from the
 * access handler (the only place MHD_suspend_connection is allowed).
 * Returns 0 (suspended), -ESHUTDOWN when stopping or -ENOMEM (then conn is
 * untouched and the caller answers at once). */
static int timer_suspend(struct pd_timer *t, struct MHD_Connection *conn,
			 uint32_t delay_ms)
{
	struct timer_item it = {
		.due_ns = tkt_mono_ns() + (uint64_t)delay_ms * 1000000ULL,
		.conn = conn,
	};

	pthread_mutex_lock(&t->lock);
	if (t->stopping) {
		pthread_mutex_unlock(&t->lock);
		return -ESHUTDOWN;
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		struct timer_item *nh = realloc(t->heap, ncap * sizeof(*nh));

		if (!nh) {
			pthread_mutex_unlock(&t->lock);
			return -ENOMEM;
		}
		t->heap = nh;
		t->cap = ncap;
	}
	it.seq = t->seq++;
	/* Suspend before filing: resuming a connection that is not suspended
	 * is undefined, and the timer thread may pop it as soon as we unlock. */
	MHD_suspend_connection(conn);
	heap_push(t, it);
	if (t->heap[0].seq == it.seq)
		pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

/* Resumes every pending connection now and ends the timer thread once the
 * heap is empty; later timer_suspend() calls answer -ESHUTDOWN. */
static void timer_stop(struct pd_timer *t)
{
	pthread_mutex_lock(&t->lock);
	t->stopping = true;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
	pthread_join(t->thread, NULL);
}

/* After timer_stop() and once no handler can run (daemon stopped). */
static void timer_destroy(struct pd_timer *t)
{
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t->heap);
}

/* ---- the service ------------------------------------------------------- */

struct paymentd {
	struct pd_config cfg;
	uint64_t seed; /* effective seed (cfg.seed, or drawn at start) */
	struct pay_ledger *ledger;
	struct pd_timer timer;
	struct pd_metrics m;
	struct MHD_Daemon *daemon;
};

/* Bodies declared larger than this are refused before they are read (the
 * connection is then closed); smaller over-limit bodies are read and
 * dropped so the client gets a clean 413. */
#define DRAIN_LIMIT (1024 * 1024)

enum phase {
	PH_RECEIVING, /* headers or body arriving */
	PH_WAITING,   /* reply decided, connection suspended */
	PH_DONE,      /* reply queued */
};

/* Per request, from the first callback to on_completed. */
struct req_ctx {
	enum phase phase;
	bool too_large;
	char *body; /* NUL-terminated, up to cfg.max_body */
	size_t body_len, body_cap;
	unsigned status;
	char *reply; /* malloc'd body waiting to be sent */
	size_t reply_len;
	const char *content_type; /* static */
	uint64_t start_ns;
	char trace_id[TRACE_ID_LEN + 1];
	struct trace_span *span; /* #15 tracing: NULL when off */
};

static const char CT_JSON[] = "application/json";
static const char CT_PROM[] = "text/plain; version=0.0.4; charset=utf-8";

static void set_reply_json(struct req_ctx *ctx, unsigned status, json_t *body)
{
	free(ctx->reply);
	ctx->reply = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER)
			  : NULL;
	json_decref(body);
	ctx->status = status;
	ctx->content_type = CT_JSON;
	if (!ctx->reply) {
		/* Out of memory: a fixed body instead. */
		ctx->status = 500;
		ctx->reply = strdup("{\"code\":\"INTERNAL\",\"message\":\"out of memory\"}");
	}
	ctx->reply_len = ctx->reply ? strlen(ctx->reply) : 0;
}

static void set_error(struct req_ctx *ctx, unsigned status, const char *code,
		      const char *message)
{
	set_reply_json(ctx, status,
		       json_pack("{s:s, s:s}", "code", code, "message", message));
}

static enum MHD_Result send_reply(struct paymentd *pd,
				  struct MHD_Connection *conn,
				  struct req_ctx *ctx)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t i;

	r = MHD_create_response_from_buffer(ctx->reply_len, ctx->reply,
					    MHD_RESPMEM_MUST_FREE);
	if (!r)
		return MHD_NO; /* ctx->reply is freed in on_completed */
	ctx->reply = NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				ctx->content_type ? ctx->content_type : CT_JSON);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (ctx->status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
	ret = MHD_queue_response(conn, ctx->status, r);
	MHD_destroy_response(r);
	for (i = 0; i < N_CODES && http_codes[i] != ctx->status; i++)
		;
	atomic_fetch_add_explicit(&pd->m.responses[i], 1, memory_order_relaxed);
	ctx->phase = PH_DONE;
	return ret;
}

static void reply_metrics(struct paymentd *pd, struct req_ctx *ctx)
{
	struct pd_metrics *m = &pd->m;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)
	if (!f) {
		set_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	fprintf(f,
		"# HELP paymentd_authorizations_total New authorization decisions, by outcome (idempotent replays not included).\n"
		"# TYPE paymentd_authorizations_total counter\n"
		"paymentd_authorizations_total{outcome=\"approved\"} %lu\n"
		"paymentd_authorizations_total{outcome=\"declined\"} %lu\n"
		"paymentd_authorizations_total{outcome=\"gateway_error\"} %lu\n",
		LOAD(m->approved), LOAD(m->declined), LOAD(m->gateway_errors));
	fprintf(f,
		"# HELP paymentd_injected_failures_total Failures injected by fail_ratio, timeout_ratio or \"simulate\", by kind.\n"
		"# TYPE paymentd_injected_failures_total counter\n"
		"paymentd_injected_failures_total{kind=\"gateway_error\"} %lu\n"
		"paymentd_injected_failures_total{kind=\"timeout\"} %lu\n",
		LOAD(m->injected_gateway_errors), LOAD(m->injected_timeouts));
	fprintf(f,
		"# HELP paymentd_simulate_forced_total Decisions whose outcome a \"simulate\" field forced.\n"
		"# TYPE paymentd_simulate_forced_total counter\n"
		"paymentd_simulate_forced_total %lu\n"
		"# HELP paymentd_idempotent_replays_total Authorizations answered from the ledger (same orderId again).\n"
		"# TYPE paymentd_idempotent_replays_total counter\n"
		"paymentd_idempotent_replays_total %lu\n",
		LOAD(m->forced), LOAD(m->replays));
	fprintf(f,
		"# HELP paymentd_refunds_total Refunds answered, by outcome (refunded: a charge returned; not_charged: a void; gateway_error: injected by refund_fail_ratio; replay: the same refund again).\n"
		"# TYPE paymentd_refunds_total counter\n"
		"paymentd_refunds_total{outcome=\"refunded\"} %lu\n"
		"paymentd_refunds_total{outcome=\"not_charged\"} %lu\n"
		"paymentd_refunds_total{outcome=\"gateway_error\"} %lu\n"
		"paymentd_refunds_total{outcome=\"replay\"} %lu\n",
		LOAD(m->refunded), LOAD(m->voided), LOAD(m->refund_errors),
		LOAD(m->refund_replays));
	fprintf(f,
		"# HELP paymentd_pending_authorizations Authorizations waiting for their simulated delay now.\n"
		"# TYPE paymentd_pending_authorizations gauge\n"
		"paymentd_pending_authorizations %ld\n"
		"# HELP paymentd_ledger_orders Orders remembered for idempotent replies.\n"
		"# TYPE paymentd_ledger_orders gauge\n"
		"paymentd_ledger_orders %zu\n",
		LOAD(m->pending), pay_ledger_count(pd->ledger));
	fprintf(f, "# HELP paymentd_http_responses_total HTTP responses sent, by status code.\n"
		   "# TYPE paymentd_http_responses_total counter\n");
	for (size_t i = 0; i < N_CODES; i++)
		fprintf(f, "paymentd_http_responses_total{code=\"%u\"} %lu\n",
			http_codes[i], LOAD(m->responses[i]));
	fprintf(f, "paymentd_http_responses_total{code=\"other\"} %lu\n",
		LOAD(m->responses[N_CODES]));
#undef LOAD
	if (fclose(f) || !buf) {
		free(buf);
		set_error(ctx, 500, "INTERNAL", "out of memory");
		return;
	}
	free(ctx->reply);
	ctx->reply = buf;
	ctx->reply_len = len;
	ctx->status = 200;
	ctx->content_type = CT_PROM;
}

/* Validates the authorize body into req. On failure it has set the error
 * reply and returns -1. */
static int parse_authorize(struct req_ctx *ctx, json_t **root_out,
			   struct pay_request *req)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *s;

	*root_out = NULL;
	if (!ctx->body_len) {
		set_error(ctx, 400, "MALFORMED_JSON", "request body is empty");
		return -1;
	}
	root = json_loadb(ctx->body, ctx->body_len,
			  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
			  &jerr);
	if (!root) {
		char msg[256];

		if (json_error_code(&jerr) == json_error_numeric_overflow) {
			set_error(ctx, 422, "VALIDATION_FAILED",
				  "amount: number out of range");
			return -1;
		}
		snprintf(msg, sizeof(msg), "body is not valid JSON: %s (at byte %d)",
			 jerr.text, jerr.position);
		set_error(ctx, 400, "MALFORMED_JSON", msg);
		return -1;
	}
	*root_out = root;
	if (!json_is_object(root)) {
		set_error(ctx, 422, "VALIDATION_FAILED", "body must be a JSON object");
		return -1;
	}
	memset(req, 0, sizeof(*req));

	v = json_object_get(root, "orderId");
	if (!json_is_string(v)) {
		set_error(ctx, 422, "VALIDATION_FAILED",
			  v ? "orderId must be a string" : "orderId is required");
		return -1;
	}
	req->order_id = json_string_value(v);
	req->order_id_len = json_string_length(v);
	if (req->order_id_len < 1 || req->order_id_len > PAY_ORDER_ID_MAX ||
	    strlen(req->order_id) != req->order_id_len) {
		set_error(ctx, 422, "VALIDATION_FAILED",
			  "orderId must be 1 to 128 bytes without NUL characters");
		return -1;
	}

	v = json_object_get(root, "amount");
	if (!json_is_integer(v)) {
		set_error(ctx, 422, "VALIDATION_FAILED",
			  v ? "amount must be an integer (minor currency units)"
			    : "amount is required");
		return -1;
	}
	req->amount = (int64_t)json_integer_value(v);
	if (req->amount < 0) {
		set_error(ctx, 422, "VALIDATION_FAILED", "amount must not be negative");
		return -1;
	}

	v = json_object_get(root, "currency");
	if (v && !json_is_null(v)) {
		s = json_is_string(v) ? json_string_value(v) : NULL;
		if (!s || json_string_length(v) != PAY_CURRENCY_LEN ||
		    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != PAY_CURRENCY_LEN) {
			set_error(ctx, 422, "VALIDATION_FAILED",
				  "currency must be three upper-case letters, e.g. \"EUR\"");
			return -1;
		}
		memcpy(req->currency, s, PAY_CURRENCY_LEN + 1);
	} else {
		memcpy(req->currency, "EUR", PAY_CURRENCY_LEN + 1);
	}

	v = json_object_get(root, "simulate");
	req->simulate = PAY_SIMULATE_NONE;
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) ||
	     pay_simulate_parse(json_string_value(v), &req->simulate) < 0)) {
		set_error(ctx, 422, "VALIDATION_FAILED",
			  "simulate must be one of approve, decline, fail, timeout");
		return -1;
	}
	return 0;
}

static const char *fault_name(enum pay_fault f)
{
	return f == PAY_FAULT_GATEWAY_ERROR ? "gateway_error"
	       : f == PAY_FAULT_TIMEOUT     ? "timeout"
					    : "none";
}

/* Decides and prepares the reply; returns the delay before sending it. */
static uint32_t handle_authorize(struct paymentd *pd, struct req_ctx *ctx)
{
	struct pd_metrics *m = &pd->m;
	struct pay_request req;
	struct pay_result res;
	json_t *root, *fields;
	char pid[24];
	int rc;

	if (parse_authorize(ctx, &root, &req) < 0) {
		json_decref(root);
		return 0;
	}
	rc = pay_ledger_authorize(pd->ledger, &pd->cfg.sim, pd->seed, &req, &res);
	if (rc < 0) {
		json_decref(root);
		log_msg(LOG_ERROR, NULL, "ledger: %s", strerror(-rc));
		set_error(ctx, 500, "INTERNAL", "out of memory");
		return 0;
	}
	snprintf(pid, sizeof(pid), "pay_%016" PRIx64, res.decision.payment_id);
	if (res.replay) {
		atomic_fetch_add_explicit(&m->replays, 1, memory_order_relaxed);
		if (res.amount != req.amount)
			log_json(LOG_WARN, NULL, "replay with a different amount",
				 json_pack("{s:s%, s:I, s:I}", "orderId", req.order_id,
					   req.order_id_len, "amount",
					   (json_int_t)req.amount, "recordedAmount",
					   (json_int_t)res.amount));
	} else {
		if (req.simulate != PAY_SIMULATE_NONE)
			atomic_fetch_add_explicit(&m->forced, 1, memory_order_relaxed);
		if (res.decision.fault == PAY_FAULT_GATEWAY_ERROR) {
			atomic_fetch_add_explicit(&m->gateway_errors, 1, memory_order_relaxed);
			atomic_fetch_add_explicit(&m->injected_gateway_errors, 1,
						  memory_order_relaxed);
		} else if (res.decision.status == PAY_APPROVED) {
			atomic_fetch_add_explicit(&m->approved, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&m->declined, 1, memory_order_relaxed);
		}
		if (res.decision.fault == PAY_FAULT_TIMEOUT)
			atomic_fetch_add_explicit(&m->injected_timeouts, 1,
						  memory_order_relaxed);
	}

	fields = json_pack("{s:s%, s:s, s:s, s:s, s:b, s:I}", "orderId",
			   req.order_id, req.order_id_len, "paymentId", pid,
			   "status",
			   res.decision.fault == PAY_FAULT_GATEWAY_ERROR
				   ? "GATEWAY_ERROR"
				   : pay_status_name(res.decision.status),
			   "fault", fault_name(res.decision.fault), "replay",
			   res.replay, "delayMs", (json_int_t)res.decision.delay_ms);
	if (fields && req.simulate != PAY_SIMULATE_NONE)
		json_object_set(fields, "simulate", json_object_get(root, "simulate"));
	log_json(LOG_INFO, ctx->trace_id, "authorize", fields);

	if (res.decision.fault == PAY_FAULT_GATEWAY_ERROR)
		set_error(ctx, 503, "GATEWAY_ERROR",
			  "simulated gateway failure; retry later");
	else
		set_reply_json(ctx, 200,
			       json_pack("{s:s, s:s%, s:s, s:I, s:s}", "paymentId", pid,
					 "orderId", req.order_id, req.order_id_len,
					 "status", pay_status_name(res.decision.status),
					 "amount", (json_int_t)res.amount, "currency",
					 res.currency));
	json_decref(root);
	return res.decision.delay_ms;
}

/* POST /v1/refund {"orderId","amount"}: answered at once, no delay. */
static void handle_refund(struct paymentd *pd, struct req_ctx *ctx)
{
	struct pd_metrics *m = &pd->m;
	struct pay_refund_result res;
	json_error_t jerr;
	json_t *root, *v;
	const char *oid;
	size_t oid_len;
	int64_t amount;
	char rid[24];
	int rc;

	root = ctx->body_len ? json_loadb(ctx->body, ctx->body_len,
					  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr)
			     : NULL;
	if (!root) {
		set_error(ctx, 400, "MALFORMED_JSON", "body must be a JSON object");
		return;
	}
	v = json_object_get(root, "orderId");
	oid = json_string_value(v);
	oid_len = json_string_length(v);
	if (!oid || oid_len < 1 || oid_len > PAY_ORDER_ID_MAX || strlen(oid) != oid_len) {
		json_decref(root);
		set_error(ctx, 422, "VALIDATION_FAILED",
			  "orderId must be a string of 1 to 128 bytes without NUL characters");
		return;
	}
	v = json_object_get(root, "amount");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		json_decref(root);
		set_error(ctx, 422, "VALIDATION_FAILED",
			  "amount must be a non-negative integer (minor currency units)");
		return;
	}
	amount = (int64_t)json_integer_value(v);
	rc = pay_ledger_refund(pd->ledger, &pd->cfg.sim, pd->seed, oid, oid_len, amount, &res);
	if (rc == -EAGAIN) {
		atomic_fetch_add_explicit(&m->refund_errors, 1, memory_order_relaxed);
		json_decref(root);
		set_error(ctx, 503, "GATEWAY_ERROR", "simulated gateway failure; retry later");
		return;
	}
	if (rc == -ERANGE) {
		json_decref(root);
		set_error(ctx, 422, "AMOUNT_DIFFERS", "amount is not the amount charged");
		return;
	}
	if (rc < 0) {
		json_decref(root);
		set_error(ctx, rc == -EINVAL ? 422 : 500, "INTERNAL", strerror(-rc));
		return;
	}
	if (res.replay)
		atomic_fetch_add_explicit(&m->refund_replays, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(res.status == PAY_REFUNDED ? &m->refunded : &m->voided,
					  1, memory_order_relaxed);
	snprintf(rid, sizeof(rid), "ref_%016" PRIx64, res.refund_id);
	log_json(LOG_INFO, ctx->trace_id, "refund",
		 json_pack("{s:s%, s:s, s:s, s:I, s:b}", "orderId", oid, oid_len, "refundId",
			   rid, "status", pay_refund_status_name(res.status), "amount",
			   (json_int_t)res.amount, "replay", res.replay));
	set_reply_json(ctx, 200,
		       json_pack("{s:s, s:s%, s:s, s:I, s:b}", "refundId", rid, "orderId", oid,
				 oid_len, "status", pay_refund_status_name(res.status),
				 "amount", (json_int_t)res.amount, "replay", res.replay));
	json_decref(root);
}

/* Routes a fully received request; returns the delay before replying. */
static uint32_t route(struct paymentd *pd, struct req_ctx *ctx,
		      const char *url, const char *method)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");

	if (ctx->too_large) {
		char msg[96];

		snprintf(msg, sizeof(msg), "request body is larger than %d bytes",
			 pd->cfg.max_body);
		set_error(ctx, 413, "PAYLOAD_TOO_LARGE", msg);
		return 0;
	}
	if (!strcmp(url, "/v1/authorize")) {
		if (strcmp(method, "POST")) {
			set_error(ctx, 405, "METHOD_NOT_ALLOWED",
				  "use POST for /v1/authorize");
			return 0;
		}
		return handle_authorize(pd, ctx);
	}
	if (!strcmp(url, "/v1/refund")) {
		if (strcmp(method, "POST"))
			set_error(ctx, 405, "METHOD_NOT_ALLOWED", "use POST for /v1/refund");
		else
			handle_refund(pd, ctx);
		return 0;
	}
	if (get && !strcmp(url, "/healthz")) {
		set_reply_json(ctx, 200, json_pack("{s:s}", "status", "UP"));
		return 0;
	}
	if (get && !strcmp(url, "/metrics")) {
		reply_metrics(pd, ctx);
		return 0;
	}
	set_error(ctx, 404, "NOT_FOUND", "no such route");
	return 0;
}

/* #15 tracing: a server span per request, child of the caller's
 * traceparent (ticketd's payment.authorize span). */
static struct trace_span *pd_span_begin(struct MHD_Connection *conn,
					const char *method, const char *url)
{
	struct traceparent parent;
	struct trace_span *s;
	char name[TRACE_NAME_MAX];

	if (!trace_enabled())
		return NULL;
	traceparent_parse(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						      "traceparent"),
			  &parent); /* invalid or none: a new trace */
	snprintf(name, sizeof(name), "%s %s", method, url);
	s = trace_span_begin(name, TRACE_SERVER, &parent);
	trace_span_attr(s, "http.request.method", method);
	trace_span_attr(s, "url.path", url);
	return s;
}

static void pd_span_end(struct trace_span *s, unsigned status)
{
	trace_span_attr_int(s, "http.response.status_code", status);
	if (status >= 500)
		trace_span_error(s, "gateway error");
	trace_span_end(s);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_size, void **con_cls)
{
	struct paymentd *pd = cls;
	struct req_ctx *ctx = *con_cls;
	uint32_t delay;

	(void)version;
	if (!ctx) {
		const char *cl;

		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		ctx->start_ns = tkt_mono_ns();
		/* For log correlation only: none when the caller sent none. */
		if (trace_id_parse(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							       "traceparent"),
				   ctx->trace_id))
			ctx->trace_id[0] = '\0';
		ctx->span = pd_span_begin(conn, method, url); /* #15 tracing */
		*con_cls = ctx;
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long n;

			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno || n > (unsigned long long)pd->cfg.max_body)
				ctx->too_large = true;
			if (ctx->too_large && (errno || n > DRAIN_LIMIT)) {
				route(pd, ctx, url, method); /* 413, then close */
				return send_reply(pd, conn, ctx);
			}
		}
		return MHD_YES;
	}
	if (ctx->phase == PH_WAITING) {
		/* Resumed by the timer thread: the reply is ready. */
		atomic_fetch_sub_explicit(&pd->m.pending, 1, memory_order_relaxed);
		return send_reply(pd, conn, ctx);
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (ctx->too_large)
			return MHD_YES; /* drained and dropped */
		if (ctx->body_len + n > (size_t)pd->cfg.max_body) {
			ctx->too_large = true;
			free(ctx->body);
			ctx->body = NULL;
			ctx->body_len = ctx->body_cap = 0;
			return MHD_YES;
		}
		if (ctx->body_len + n + 1 > ctx->body_cap) {
			size_t ncap = (ctx->body_len + n + 1) * 2;
			char *nb = realloc(ctx->body, ncap);

			if (!nb)
				return MHD_NO;
			ctx->body = nb;
			ctx->body_cap = ncap;
		}
		memcpy(ctx->body + ctx->body_len, upload_data, n);
		ctx->body_len += n;
		ctx->body[ctx->body_len] = '\0';
		return MHD_YES;
	}
	if (ctx->phase == PH_DONE)
		return MHD_YES; /* not expected: the reply is already queued */

	delay = route(pd, ctx, url, method);
	if (delay > 0) {
		atomic_fetch_add_explicit(&pd->m.pending, 1, memory_order_relaxed);
		ctx->phase = PH_WAITING;
		if (timer_suspend(&pd->timer, conn, delay) == 0)
			return MHD_YES;
		/* Stopping (or no memory for the heap): answer now. */
		ctx->phase = PH_RECEIVING;
		atomic_fetch_sub_explicit(&pd->m.pending, 1, memory_order_relaxed);
	}
	return send_reply(pd, conn, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
			 void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct paymentd *pd = cls;
	struct req_ctx *ctx = *con_cls;

	(void)conn;
	if (!ctx)
		return;
	if (ctx->phase == PH_WAITING) /* closed before its reply was sent */
		atomic_fetch_sub_explicit(&pd->m.pending, 1, memory_order_relaxed);
	if (log_enabled(LOG_DEBUG) || toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
		json_t *f = json_pack("{s:i, s:f, s:i}", "status", (int)ctx->status,
				      "ms", (double)(tkt_mono_ns() - ctx->start_ns) / 1e6,
				      "termination", (int)toe);

		log_json(toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? LOG_DEBUG : LOG_INFO,
			 ctx->trace_id, "request", f);
	}
	pd_span_end(ctx->span, ctx->status); /* #15 tracing */
	free(ctx->body);
	free(ctx->reply);
	free(ctx);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	vsnprintf(buf, sizeof(buf), fmt, ap);
#pragma GCC diagnostic pop
	buf[strcspn(buf, "\n")] = '\0';
	log_msg(LOG_WARN, NULL, "libmicrohttpd: %s", buf);
}

/* Write end of the stop pipe. The one process-wide variable: a signal
 * handler can reach nothing else. Set before the handlers are installed. */
static int stop_pipe_wr = -1;

/* Async-signal-safe: one byte (the signal number) into the pipe. Whichever
 * thread the kernel picks runs it, so no thread needs a special mask. */
static void on_stop_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	if (write(stop_pipe_wr, &b, 1) < 0) {
		/* Pipe full: a stop is already pending. */
	}
	errno = saved;
}

/* Installs on_stop_signal for SIGTERM and SIGINT; returns the read end of
 * the pipe, or -errno. */
static int stop_signals_install(void)
{
	struct sigaction sa;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	stop_pipe_wr = fds[1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL)) {
		int e = errno;

		close(fds[0]);
		close(fds[1]);
		return -e;
	}
	signal(SIGPIPE, SIG_IGN);
	return fds[0];
}

/* Blocks until a stop signal arrives; returns its number. */
static int stop_signals_wait(int rd)
{
	struct pollfd pfd = {.fd = rd, .events = POLLIN};
	unsigned char b = 0;

	for (;;) {
		if (read(rd, &b, 1) == 1)
			return b;
		if (errno != EAGAIN && errno != EINTR)
			return 0;
		poll(&pfd, 1, -1);
	}
}

/* Lets the process hold max_connections sockets plus some slack. */
/* ---- systemd (infra/systemd/paymentd.service, Type=notify) ----------------
 * Under systemd (NOTIFY_SOCKET set): READY=1 once the listener is up and,
 * when WatchdogSec= is set, a thread that sends WATCHDOG=1 every half
 * period while GET /healthz on our own listener answers 200 within a
 * quarter period. Without NOTIFY_SOCKET nothing of this runs. */
struct notifier {
	pthread_t thread;
	atomic_bool stop;
	bool running;
	struct sockaddr_in addr;
	int64_t period_ms;
};

static bool notifier_alive(const struct sockaddr_in *addr, int64_t timeout_ms)
{
	static const char req[] = "GET /healthz HTTP/1.0\r\nHost: paymentd\r\n\r\n";
	struct timeval tv = {.tv_sec = timeout_ms / 1000,
			     .tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000};
	char buf[32] = {0};
	bool ok = false;
	ssize_t got;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return false;
	/* connect honours SO_SNDTIMEO on Linux */
	if (!setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) &&
	    !setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) &&
	    !connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) &&
	    send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(req) - 1 &&
	    (got = recv(fd, buf, sizeof(buf) - 1, MSG_WAITALL)) > 12)
		ok = !strncmp(buf, "HTTP/1.", 7) && !strncmp(buf + 8, " 200", 4);
	close(fd);
	return ok;
}

static void *notifier_main(void *arg)
{
	struct notifier *n = arg;

	while (!atomic_load(&n->stop)) {
		int64_t next = tkt_mono_ms() + n->period_ms;

		if (notifier_alive(&n->addr, n->period_ms / 2 > 0 ? n->period_ms / 2 : 1))
			sd_notify(0, "WATCHDOG=1");
		else
			log_msg(LOG_WARN, NULL, "systemd watchdog: /healthz did not answer; "
				"no WATCHDOG=1 this time");
		while (!atomic_load(&n->stop) && tkt_mono_ms() < next) {
			struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};

			nanosleep(&tick, NULL);
		}
	}
	return NULL;
}

static void notifier_start(struct notifier *n, const struct sockaddr_in *listen_addr)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	uint64_t usec = 0;

	memset(n, 0, sizeof(*n));
	if (!sock || !*sock)
		return;
	sd_notify(0, "READY=1\nSTATUS=serving");
	log_msg(LOG_INFO, NULL, "systemd: READY=1 sent");
	if (sd_watchdog_enabled(0, &usec) <= 0 || usec < 2000)
		return;
	n->addr = *listen_addr;
	if (n->addr.sin_addr.s_addr == htonl(INADDR_ANY))
		n->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	n->period_ms = (int64_t)(usec / 2000);
	if (pthread_create(&n->thread, NULL, notifier_main, n)) {
		log_msg(LOG_WARN, NULL, "systemd: cannot start the watchdog thread");
		return;
	}
	n->running = true;
}

static void notifier_stop(struct notifier *n)
{
	if (getenv("NOTIFY_SOCKET"))
		sd_notify(0, "STOPPING=1");
	if (!n->running)
		return;
	atomic_store(&n->stop, true);
	pthread_join(n->thread, NULL);
	n->running = false;
}

static void raise_fd_limit(struct pd_config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want
				      ? want
				      : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) && getrlimit(RLIMIT_NOFILE, &rl))
			return;
	}
	if (rl.rlim_cur < want) {
		int lim = rl.rlim_cur > 80 ? (int)(rl.rlim_cur - 64) : 16;

		log_msg(LOG_WARN, NULL,
			"max_connections %d lowered to %d by the open-file limit (%llu)",
			cfg->max_connections, lim, (unsigned long long)rl.rlim_cur);
		cfg->max_connections = lim;
	}
}

int main(int argc, char **argv)
{
	static struct paymentd pd; /* owned by main; static only for its size */
	struct notifier notifier;
	struct sockaddr_in addr = {.sin_family = AF_INET};
	char err[512], seed_text[24];
	int sig, rc, stop_rd;
	uint64_t deadline;

	log_set_service("paymentd");
	switch (settings_load(&cfg_spec, &pd.cfg, argc, argv, err, sizeof(err))) {
	case SETTINGS_HELP:
		return 0;
	case SETTINGS_ERROR:
		log_msg(LOG_ERROR, NULL, "bad settings: %s", err);
		return 2;
	case SETTINGS_OK:
		break;
	}
	if (pay_sim_config_check(&pd.cfg.sim, err, sizeof(err)) < 0) {
		log_msg(LOG_ERROR, NULL, "bad settings: %s", err);
		return 2;
	}
	if (log_set_level(pd.cfg.log_level)) {
		log_msg(LOG_ERROR, NULL, "bad settings: log_level must be debug, info, warn or error");
		return 2;
	}
	addr.sin_port = htons((uint16_t)pd.cfg.port);
	if (inet_pton(AF_INET, pd.cfg.addr, &addr.sin_addr) != 1) {
		log_msg(LOG_ERROR, NULL, "bad settings: addr '%s' is not an IPv4 address",
			pd.cfg.addr);
		return 2;
	}
	pd.seed = pd.cfg.seed;
	while (!pd.seed)
		if (getrandom(&pd.seed, sizeof(pd.seed), 0) != sizeof(pd.seed)) {
			log_msg(LOG_ERROR, NULL, "getrandom: %s", strerror(errno));
			return 1;
		}
	raise_fd_limit(&pd.cfg);

	if ((stop_rd = stop_signals_install()) < 0) {
		log_msg(LOG_ERROR, NULL, "signal handlers: %s", strerror(-stop_rd));
		return 1;
	}
	/* #15 tracing: after the signal mask, which its thread inherits */
	{
		struct trace_opts to = {.url = pd.cfg.otlp_traces_url,
					.service_name = "paymentd"};

		if ((rc = trace_start(&to)) < 0) {
			log_msg(LOG_ERROR, NULL, "trace exporter: %s", strerror(-rc));
			return 1;
		}
	}

	if ((rc = pay_ledger_create(&pd.ledger, (size_t)pd.cfg.ledger_size)) < 0) {
		log_msg(LOG_ERROR, NULL, "ledger: %s", strerror(-rc));
		return 1;
	}
	if ((rc = timer_start(&pd.timer)) < 0) {
		log_msg(LOG_ERROR, NULL, "timer thread: %s", strerror(-rc));
		pay_ledger_destroy(pd.ledger);
		return 1;
	}
	pd.daemon = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, on_request, &pd,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)pd.cfg.threads,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)pd.cfg.max_connections,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)pd.cfg.idle_timeout_s,
		MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096U,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &pd,
		MHD_OPTION_END);
	if (!pd.daemon) {
		log_msg(LOG_ERROR, NULL, "cannot listen on %s:%d (in use, or bad address)",
			pd.cfg.addr, pd.cfg.port);
		timer_stop(&pd.timer);
		timer_destroy(&pd.timer);
		pay_ledger_destroy(pd.ledger);
		return 1;
	}
	snprintf(seed_text, sizeof(seed_text), "%" PRIu64, pd.seed);
	log_json(LOG_INFO, NULL, "listening",
		 json_pack("{s:s, s:i, s:s, s:b, s:i, s:i, s:f, s:f, s:f, s:i, s:i, s:i}",
			   "addr", pd.cfg.addr, "port", pd.cfg.port, "seed",
			   seed_text, "seedFixed", pd.cfg.seed != 0,
			   "delayMinMs", (int)pd.cfg.sim.delay_min_ms, "delayMaxMs",
			   (int)pd.cfg.sim.delay_max_ms, "approveRatio",
			   pd.cfg.sim.approve_ratio, "failRatio", pd.cfg.sim.fail_ratio,
			   "timeoutRatio", pd.cfg.sim.timeout_ratio, "timeoutHangMs",
			   (int)pd.cfg.sim.timeout_hang_ms, "threads", pd.cfg.threads,
			   "maxConnections", pd.cfg.max_connections));
	notifier_start(&notifier, &addr);

	sig = stop_signals_wait(stop_rd);
	notifier_stop(&notifier);
	log_json(LOG_INFO, NULL, "stopping",
		 json_pack("{s:i, s:I}", "signal", sig, "pending",
			   (json_int_t)atomic_load(&pd.m.pending)));

	/* Order matters: libmicrohttpd must not be stopped with suspended
	 * connections. Resume them all (they answer with their decision at
	 * once), give them a moment to be sent, then stop the daemon. */
	timer_stop(&pd.timer);
	deadline = tkt_mono_ns() + 2000000000ULL;
	while (atomic_load(&pd.m.pending) > 0 && tkt_mono_ns() < deadline) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 10000000};

		nanosleep(&ts, NULL);
	}
	MHD_stop_daemon(pd.daemon);
	timer_destroy(&pd.timer);
	pay_ledger_destroy(pd.ledger);
	trace_stop(); /* #15 tracing: after the last request's span */
	log_msg(LOG_INFO, NULL, "stopped");
	return 0;
}
