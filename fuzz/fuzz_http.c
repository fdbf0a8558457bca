/* libFuzzer harness for the request parsing of the REST API: JSON bodies of
 * reservations, extend, orders and payment authorization
 * (userspace/ticketd/rest/parse.c over api/http_util.c's body reader),
 * route and path parameters, Idempotency-Key, Last-Event-ID, Authorization
 * bearer (commerce/sessions.c) and traceparent (userspace/lib/traceparent.c).
 * No server and no database: each parser gets the bytes as libmicrohttpd
 * would hand them over.
 *
 * The first byte picks the parser (see enum target), the rest is its input
 * (a body, or a header or path as text up to its first NUL). Each refusal
 * must be a well-formed contract error; each acceptance must have the
 * properties the parser promises. Run: make fuzz (README.md, "Fuzzing"). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "bpf/session_token.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/traceparent.h"
#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/rest/parse.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/seats/holds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum target {
	T_BODY,          /* a JSON body through every body parser */
	T_PATH,          /* a URL path through the route table */
	T_IDEMPOTENCY,   /* Idempotency-Key */
	T_LAST_EVENT_ID, /* Last-Event-ID */
	T_BEARER,        /* Authorization, as sent */
	T_BEARER_GENUINE, /* Authorization: the text, then a genuine token */
	T_TRACEPARENT,   /* traceparent */
	T_COUNT,
};

static const struct tkt_token_key key = {0x1122334455667788ull,
					 0x99aabbccddeeff00ull};

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_http: %s\n", what);
		abort();
	}
}

static void init_req(struct http_req *req, const char *body, size_t len)
{
	memset(req, 0, sizeof(*req));
	req->method = "POST";
	req->url = "/api/fuzz";
	req->body = body;
	req->body_len = len;
	memcpy(req->trace_id, "0123456789abcdef0123456789abcdef", TRACE_ID_LEN + 1);
}

/* A refusal: 4xx with the contract's JSON error body. Frees the body. */
static void check_refusal(struct http_resp *resp)
{
	json_t *b, *code;

	check(resp->status >= 400 && resp->status < 500, "refusal is not 4xx");
	check(resp->body != NULL, "refusal has no body");
	b = json_loadb(resp->body, resp->body_len, 0, NULL);
	check(b != NULL, "refusal body is not JSON");
	code = json_object_get(b, "code");
	check(json_is_string(code), "refusal body has no code");
	check(json_is_string(json_object_get(b, "traceId")), "no traceId");
	json_decref(b);
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

static void accepted(struct http_resp *resp)
{
	check(resp->status == 0 && resp->body == NULL,
	      "a parser that accepted set an answer");
}

static void fuzz_body(const uint8_t *data, size_t size)
{
	struct http_req req;
	struct http_resp resp = {0};
	uint32_t event_id, ids[HOLDS_MAX_SEATS];
	const char *order_id, *simulate;
	json_int_t secs;
	json_t *body;
	int n;

	init_req(&req, (const char *)data, size);
	body = http_body_object(&req, &resp, false);
	if (!body) {
		check_refusal(&resp);
		return;
	}
	accepted(&resp);
	check(json_is_object(body), "http_body_object gave a non-object");

	n = api_parse_event_and_seats(&req, &resp, body, &event_id, ids);
	if (n < 0) {
		check(n == -1, "seat parser returned other than -1");
		check_refusal(&resp);
	} else {
		accepted(&resp);
		check(n >= 1 && n <= HOLDS_MAX_SEATS, "seat count out of 1..8");
		for (int i = 0; i < n; i++)
			for (int k = 0; k < i; k++)
				check(ids[i] != ids[k], "seat ids not distinct");
	}

	secs = 4242;
	if (api_parse_hold_seconds(&req, &resp, body, &secs)) {
		accepted(&resp);
		check(secs == 4242 || (secs >= 5 && secs <= 600),
		      "holdSeconds out of 5..600");
	} else {
		check_refusal(&resp);
	}
	if (api_parse_extend_seconds(&req, &resp, body, &secs)) {
		accepted(&resp);
		check(secs >= 5 && secs <= 600, "seconds out of 5..600");
	} else {
		check_refusal(&resp);
	}
	for (int dev = 0; dev < 2; dev++) {
		if (api_parse_payment(&req, &resp, body, dev, &order_id, &simulate)) {
			accepted(&resp);
			check(order_id && *order_id && strlen(order_id) <= ORDER_ID_LEN,
			      "orderId accepted out of shape");
			check(!simulate || (dev && (!strcmp(simulate, "approve") ||
						    !strcmp(simulate, "decline"))),
			      "simulate accepted wrongly");
		} else {
			check_refusal(&resp);
		}
	}
	json_decref(body);
}

static void fuzz_path(const char *path)
{
	char scratch[256];
	const char *params[HTTP_MAX_PARAMS];
	int n;

	for (size_t r = 0; r < api_n_routes; r++) {
		struct http_req req;
		struct http_resp resp = {0};
		uint32_t a, b;

		if (!route_match(api_routes[r].pattern, path, params, &n, scratch,
				 sizeof(scratch)))
			continue;
		check(n >= 0 && n <= HTTP_MAX_PARAMS, "param count out of range");
		for (int i = 0; i < n; i++) {
			check(params[i][0] != '\0', "empty path parameter");
			check(strchr(params[i], '/') == NULL, "parameter spans a '/'");
			if (http_parse_u32(params[i], &a) == 0)
				check(strspn(params[i], "0123456789") == strlen(params[i]) &&
					      strtoull(params[i], NULL, 10) == a,
				      "http_parse_u32 accepted what is not a u32");
		}
		if (n != 2)
			continue;
		init_req(&req, NULL, 0);
		req.params[0] = params[0];
		req.params[1] = params[1];
		req.n_params = 2;
		if (api_parse_path_seat(&req, &resp, &a, &b))
			accepted(&resp);
		else
			check_refusal(&resp);
	}
}

static void fuzz_idempotency(const char *text)
{
	struct http_req req;
	struct http_resp resp = {0};
	size_t n = strlen(text);

	init_req(&req, NULL, 0);
	if (api_parse_idempotency_key(&req, &resp, text)) {
		accepted(&resp);
		check(n >= 1 && n <= 64, "key length out of 1..64");
		for (size_t i = 0; i < n; i++)
			check(text[i] > 0x20 && text[i] < 0x7f, "key not visible ASCII");
	} else {
		check_refusal(&resp);
	}
	if (!api_parse_idempotency_key(&req, &resp, NULL))
		check_refusal(&resp);
	else
		check(0, "missing Idempotency-Key accepted");
}

static void fuzz_last_event_id(const char *text)
{
	uint64_t v = 0;

	if (!sse_parse_last_event_id(text, &v))
		return;
	check(*text && strspn(text, "0123456789") == strlen(text),
	      "Last-Event-ID accepted with a non-digit");
	check(strtoull(text, NULL, 10) == v, "Last-Event-ID value differs");
}

static void fuzz_bearer(const char *header)
{
	struct session s;
	enum session_auth a = sessions_check_bearer(&key, header, &s);

	check(a == SESSION_AUTH_OK || a == SESSION_AUTH_MISSING ||
		      a == SESSION_AUTH_FORGED || a == SESSION_AUTH_EXPIRED,
	      "bearer verdict out of range");
	if (a == SESSION_AUTH_OK)
		check(s.slot >= 1 && s.slot <= TKT_SLOT_MAX &&
			      strlen(s.id_hex) == 2 * TKT_SESSION_ID_LEN,
		      "accepted bearer has no slot");
}

/* text, then the hex of a token the key signs (slot and expiry from the
 * first bytes), so that the fuzzer explores the prefix around a good one. */
static void fuzz_bearer_genuine(const uint8_t *data, size_t size)
{
	uint8_t tok[TKT_TOKEN_LEN];
	char header[160];
	size_t n;
	uint32_t slot;

	if (size < 2)
		return;
	slot = (uint32_t)data[0] << 14 | (uint32_t)data[1];
	tkt_token_mint(&key, slot, UINT32_MAX - 1, tok);
	data += 2;
	size -= 2;
	n = strnlen((const char *)data, size);
	if (n > 100)
		n = 100;
	memcpy(header, data, n);
	hex_encode(tok, sizeof(tok), header + n);
	fuzz_bearer(header);
}

static void fuzz_traceparent(const char *text)
{
	char out[TRACE_ID_LEN + 1];

	memset(out, 'x', sizeof(out));
	if (trace_id_parse(text, out) != 0) {
		check(out[0] == 'x', "refused traceparent wrote the trace id");
		return;
	}
	check(strlen(out) == TRACE_ID_LEN, "trace id not 32 characters");
	check(strspn(out, "0123456789abcdef") == TRACE_ID_LEN,
	      "trace id not lowercase hex");
	check(strspn(out, "0") < TRACE_ID_LEN, "all-zero trace id accepted");
	trace_id_from_traceparent(text, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	enum target t;

	if (size < 1)
		return 0;
	t = (enum target)(data[0] % T_COUNT);
	data++;
	size--;
	if (t == T_BODY) {
		/* exactly size bytes, so ASan sees a read past the body */
		char *copy = malloc(size ? size : 1);

		if (!copy)
			return 0;
		memcpy(copy, data, size);
		fuzz_body((const uint8_t *)copy, size);
		free(copy);
		return 0;
	}
	if (t == T_BEARER_GENUINE) {
		fuzz_bearer_genuine(data, size);
		return 0;
	}
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	switch (t) {
	case T_PATH:
		fuzz_path(text);
		break;
	case T_IDEMPOTENCY:
		fuzz_idempotency(text);
		break;
	case T_LAST_EVENT_ID:
		fuzz_last_event_id(text);
		break;
	case T_BEARER:
		fuzz_bearer(text);
		check(sessions_check_bearer(&key, NULL, &(struct session){0}) ==
			      SESSION_AUTH_MISSING,
		      "no Authorization is not MISSING");
		break;
	case T_TRACEPARENT:
		fuzz_traceparent(text);
		break;
	default:
		break;
	}
	free(text);
	return 0;
}
