#include "userspace/ticketd/commerce/payment_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/lib/trace.h"

struct payment_client;

struct job {
	struct job *next;
	struct payment_client *pc;
	char order_id[48];
	char body[256];
	char reply[1024];
	size_t reply_len;
	int attempts;
	bool refund; /* POST /v1/refund, one attempt */
	uint64_t not_before_ms; /* retry backoff */
	CURL *easy;
	payment_done_fn done;
	void *arg;
	struct trace_span *span;   /* #15: the gateway call (NULL: off) */
	struct curl_slist *hdrs;   /* #15: its traceparent header */
};

struct payment_client {
	struct payment_client_opts opts;
	char url[512];
	char refund_url[512];
	CURLM *multi;
	pthread_t thread;
	pthread_mutex_t lock; /* guards incoming and stop */
	struct job *incoming; /* submitted, not yet picked up by the thread */
	bool stop;
	struct job *waiting;  /* backing off before a retry (thread only) */
	int running;          /* easy handles in the multi (thread only) */
	atomic_int pending;   /* jobs alive + reserved places (any thread) */
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct job *j = userdata;
	size_t n = size * nmemb, room = sizeof(j->reply) - 1 - j->reply_len;

	if (n > room)
		n = room; /* a longer reply is not a gateway answer we accept */
	memcpy(j->reply + j->reply_len, ptr, n);
	j->reply_len += n;
	j->reply[j->reply_len] = '\0';
	return size * nmemb;
}

/* #15 tracing: a client span per gateway call (all its attempts), child of
 * the submitter's context; paymentd gets it as traceparent. */
static void payment_span_begin(struct job *j)
{
	struct traceparent ctx;
	char tp[13 + TRACEPARENT_LEN + 1] = "traceparent: ";

	j->span = trace_span_begin(j->refund ? "payment.refund" : "payment.authorize",
				   TRACE_CLIENT, NULL);
	trace_span_attr(j->span, "order.id", j->order_id);
	trace_span_context(j->span, &ctx);
	if (j->span && !traceparent_format(&ctx, tp + 13))
		j->hdrs = curl_slist_append(NULL, tp);
}

/* Ends the call's span; its context is current while done runs (prev gets
 * the thread's context to restore after), so the work done hands off
 * continues the trace. */
static void payment_span_end(struct job *j, enum payment_outcome o,
			     struct traceparent *prev)
{
	static const char *const names[] = {"APPROVED", "DECLINED", "FAILED",
					    "UNKNOWN", "REFUNDED"};

	trace_current_get(prev);
	trace_current_enter(j->span, NULL);
	trace_span_attr(j->span, "payment.outcome", names[o]);
	trace_span_attr_int(j->span, "payment.attempts", j->attempts);
	if (o == PAYMENT_FAILED || o == PAYMENT_UNKNOWN)
		trace_span_error(j->span, names[o]);
	trace_span_end(j->span);
	curl_slist_free_all(j->hdrs);
}

static int start_attempt(struct payment_client *pc, struct job *j)
{
	j->easy = curl_easy_init();
	if (!j->easy)
		return -ENOMEM;
	j->reply_len = 0;
	j->reply[0] = '\0';
	j->attempts++;
	curl_easy_setopt(j->easy, CURLOPT_URL, j->refund ? pc->refund_url : pc->url);
	curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS, (long)pc->opts.timeout_ms);
	curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)pc->opts.timeout_ms);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
	if (curl_multi_add_handle(pc->multi, j->easy) != CURLM_OK) {
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
		return -EIO;
	}
	pc->running++;
	return 0;
}

static void finish(struct job *j, enum payment_outcome o, const char *pid)
{
	struct payment_result r = {.outcome = o, .attempts = j->attempts};

	if (j->refund && o == PAYMENT_REFUNDED) {
		snprintf(r.refund_status, sizeof(r.refund_status), "%s", pid);
	} else if (pid && *pid) {
		snprintf(r.payment_id, sizeof(r.payment_id), "%s", pid);
	} else {
		unsigned char raw[8];
		char hex[17];

		if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
			memset(raw, 0, sizeof(raw));
		for (int i = 0; i < 8; i++)
			snprintf(hex + 2 * i, 3, "%02x", raw[i]);
		snprintf(r.payment_id, sizeof(r.payment_id), "pay_failed_%s", hex);
	}
	struct payment_client *pc = j->pc;
	struct traceparent prev;

	payment_span_end(j, o, &prev); /* #15 tracing */
	j->done(j->arg, &r);
	trace_current_set(&prev, NULL); /* inline on a submitter when stopping */
	free(j);
	atomic_fetch_sub(&pc->pending, 1);
}

/* Decides what one finished attempt means: an answer, or a retry. */
static void attempt_done(struct payment_client *pc, struct job *j, CURLcode cc)
{
	long code = 0;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(pc->multi, j->easy);
	curl_easy_cleanup(j->easy);
	j->easy = NULL;
	pc->running--;
	if (cc == CURLE_OK && code == 200 && j->refund) {
		json_t *root = json_loads(j->reply, 0, NULL);
		const char *st = json_string_value(json_object_get(root, "status"));

		if (st && (!strcmp(st, "REFUNDED") || !strcmp(st, "NOT_CHARGED"))) {
			finish(j, PAYMENT_REFUNDED, st);
			json_decref(root);
			return;
		}
		json_decref(root);
	} else if (cc == CURLE_OK && code == 200) {
		json_t *root = json_loads(j->reply, 0, NULL);
		const char *st = json_string_value(json_object_get(root, "status"));
		const char *pid = json_string_value(json_object_get(root, "paymentId"));

		if (st && pid && (!strcmp(st, "APPROVED") || !strcmp(st, "DECLINED"))) {
			finish(j, !strcmp(st, "APPROVED") ? PAYMENT_APPROVED : PAYMENT_DECLINED,
			       pid);
			json_decref(root);
			return;
		}
		json_decref(root);
	}
	log_msg(LOG_WARN, NULL, "payment gateway %s attempt %d for %s failed: %s (HTTP %ld)",
		j->refund ? "refund" : "authorization", j->attempts, j->order_id,
		cc == CURLE_OK ? "bad answer" : curl_easy_strerror(cc), code);
	if (j->attempts >= (j->refund ? 1 : pc->opts.max_attempts)) {
		finish(j, PAYMENT_FAILED, NULL);
		return;
	}
	j->not_before_ms = (uint64_t)tkt_mono_ms() + ((uint64_t)pc->opts.retry_backoff_ms << (j->attempts - 1));
	j->next = pc->waiting;
	pc->waiting = j;
}

static void *client_loop(void *arg)
{
	struct payment_client *pc = arg;

	for (;;) {
		struct job *in, *j, **pp;
		bool stop;
		CURLMsg *msg;
		int left;

		pthread_mutex_lock(&pc->lock);
		in = pc->incoming;
		pc->incoming = NULL;
		stop = pc->stop;
		pthread_mutex_unlock(&pc->lock);
		while ((j = in)) {
			in = j->next;
			if (stop)
				finish(j, PAYMENT_UNKNOWN, NULL);
			else if (start_attempt(pc, j))
				finish(j, PAYMENT_FAILED, NULL);
		}
		for (pp = &pc->waiting; (j = *pp);) {
			if (!stop && j->not_before_ms > (uint64_t)tkt_mono_ms()) {
				pp = &j->next;
				continue;
			}
			*pp = j->next;
			/* Stopping with a retry pending: the gateway may have
			 * charged on an attempt that timed out. Not FAILED. */
			if (stop)
				finish(j, PAYMENT_UNKNOWN, NULL);
			else if (start_attempt(pc, j))
				finish(j, PAYMENT_FAILED, NULL);
		}
		if (stop && pc->running == 0)
			break;
		curl_multi_perform(pc->multi, &left);
		while ((msg = curl_multi_info_read(pc->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
			attempt_done(pc, j, msg->data.result);
		}
		curl_multi_poll(pc->multi, NULL, 0, 20, NULL);
	}
	return NULL;
}

int payment_client_start(struct payment_client **out,
			 const struct payment_client_opts *opts)
{
	struct payment_client *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return -ENOMEM;
	pc->opts = *opts;
	if (pc->opts.max_attempts < 1)
		pc->opts.max_attempts = 1;
	snprintf(pc->url, sizeof(pc->url), "%s/v1/authorize", opts->base_url);
	snprintf(pc->refund_url, sizeof(pc->refund_url), "%s/v1/refund", opts->base_url);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pc->multi = curl_multi_init();
	if (!pc->multi) {
		free(pc);
		return -ENOMEM;
	}
	/* The gateway is one host: reuse connections, many in flight. */
	curl_multi_setopt(pc->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 256L);
	pthread_mutex_init(&pc->lock, NULL);
	if (pthread_create(&pc->thread, NULL, client_loop, pc)) {
		curl_multi_cleanup(pc->multi);
		free(pc);
		return -EAGAIN;
	}
	*out = pc;
	return 0;
}

static int submit(struct payment_client *pc, const char *order_id,
		  uint64_t amount, const char *simulate, bool refund,
		  bool reserved, payment_done_fn done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	json_t *body;
	char *text;

	if (!j) {
		if (reserved)
			payment_client_unreserve(pc);
		return -ENOMEM;
	}
	j->pc = pc;
	snprintf(j->order_id, sizeof(j->order_id), "%s", order_id);
	j->refund = refund;
	body = refund ? json_pack("{s:s, s:I}", "orderId", order_id, "amount",
				  (json_int_t)amount)
		      : json_pack("{s:s, s:I, s:s}", "orderId", order_id, "amount",
				  (json_int_t)amount, "currency", "EUR");
	if (body && simulate)
		json_object_set_new(body, "simulate", json_string(simulate));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text || strlen(text) >= sizeof(j->body)) {
		free(text);
		free(j);
		if (reserved)
			payment_client_unreserve(pc);
		return -EINVAL;
	}
	strcpy(j->body, text);
	free(text);
	j->done = done;
	j->arg = arg;
	payment_span_begin(j); /* #15 tracing */
	if (!reserved) /* counted from here; finish() gives it back */
		atomic_fetch_add(&pc->pending, 1);
	pthread_mutex_lock(&pc->lock);
	if (pc->stop) {
		pthread_mutex_unlock(&pc->lock);
		finish(j, PAYMENT_UNKNOWN, NULL);
		return 0;
	}
	j->next = pc->incoming;
	pc->incoming = j;
	pthread_mutex_unlock(&pc->lock);
	curl_multi_wakeup(pc->multi);
	return 0;
}

int payment_client_submit(struct payment_client *pc, const char *order_id,
			  uint64_t amount, const char *simulate,
			  payment_done_fn done, void *arg)
{
	return submit(pc, order_id, amount, simulate, false, false, done, arg);
}

int payment_client_submit_reserved(struct payment_client *pc, const char *order_id,
				   uint64_t amount, const char *simulate,
				   payment_done_fn done, void *arg)
{
	return submit(pc, order_id, amount, simulate, false, true, done, arg);
}

int payment_client_reserve(struct payment_client *pc)
{
	int n = atomic_load(&pc->pending);

	do {
		if (pc->opts.max_pending > 0 && n >= pc->opts.max_pending)
			return -EAGAIN;
	} while (!atomic_compare_exchange_weak(&pc->pending, &n, n + 1));
	return 0;
}

void payment_client_unreserve(struct payment_client *pc)
{
	atomic_fetch_sub(&pc->pending, 1);
}

int payment_client_pending(struct payment_client *pc)
{
	return pc ? atomic_load(&pc->pending) : 0;
}

int payment_client_refund(struct payment_client *pc, const char *order_id,
			  uint64_t amount, payment_done_fn done, void *arg)
{
	return submit(pc, order_id, amount, NULL, true, false, done, arg);
}

void payment_client_stop(struct payment_client *pc)
{
	bool was;

	if (!pc)
		return;
	pthread_mutex_lock(&pc->lock);
	was = pc->stop;
	pc->stop = true;
	pthread_mutex_unlock(&pc->lock);
	if (was)
		return;
	curl_multi_wakeup(pc->multi);
	pthread_join(pc->thread, NULL);
}

void payment_client_free(struct payment_client *pc)
{
	if (!pc)
		return;
	payment_client_stop(pc);
	curl_multi_cleanup(pc->multi);
	free(pc);
}
