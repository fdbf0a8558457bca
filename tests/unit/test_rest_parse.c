/* The REST request parsers (userspace/ticketd/rest/parse.c) and the
 * Last-Event-ID parser of the SSE hub: what they accept, and that each
 * refusal is the contract's error with the field named. fuzz/fuzz_http.c
 * drives the same functions with arbitrary input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/rest/parse.h"
#include "userspace/ticketd/seats/holds.h"

static struct http_req req;
static struct http_resp resp;

static json_t *body_of(const char *text)
{
	json_t *b = json_loads(text, 0, NULL);

	assert_non_null(b);
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	return b;
}

/* The refusal's status and "code", and details.field if given. */
static void assert_refused(int status, const char *code, const char *field)
{
	json_t *b;

	assert_int_equal(resp.status, status);
	b = json_loadb(resp.body, resp.body_len, 0, NULL);
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(b, "code")), code);
	if (field)
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(b, "details"), "field")),
				    field);
	json_decref(b);
	free(resp.body);
	memset(&resp, 0, sizeof(resp));
}

static void seat_lists(void **state)
{
	uint32_t ev, ids[HOLDS_MAX_SEATS];
	json_t *b;

	(void)state;
	b = body_of("{\"eventId\":4294967295,\"seatIds\":[0,7,4294967295]}");
	assert_int_equal(api_parse_event_and_seats(&req, &resp, b, &ev, ids), 3);
	assert_int_equal(ev, UINT32_MAX);
	assert_int_equal(ids[2], UINT32_MAX);
	assert_null(resp.body);
	json_decref(b);

	b = body_of("{\"eventId\":1,\"seatId\":9}");
	assert_int_equal(api_parse_event_and_seats(&req, &resp, b, &ev, ids), 1);
	assert_int_equal(ids[0], 9);
	json_decref(b);

	b = body_of("{\"eventId\":1,\"seatIds\":[1,2,3,4,5,6,7,8,9]}");
	assert_int_equal(api_parse_event_and_seats(&req, &resp, b, &ev, ids), -1);
	assert_refused(422, "VALIDATION_FAILED", "seatIds");
	json_decref(b);

	b = body_of("{\"eventId\":1,\"seatIds\":[3,3]}");
	assert_int_equal(api_parse_event_and_seats(&req, &resp, b, &ev, ids), -1);
	assert_refused(422, "VALIDATION_FAILED", "seatIds");
	json_decref(b);

	b = body_of("{\"eventId\":1,\"seatId\":1,\"seatIds\":[1]}");
	assert_int_equal(api_parse_event_and_seats(&req, &resp, b, &ev, ids), -1);
	assert_refused(422, "VALIDATION_FAILED", "seatIds");
	json_decref(b);

	b = body_of("{\"eventId\":4294967296,\"seatId\":1}");
	assert_int_equal(api_parse_event_and_seats(&req, &resp, b, &ev, ids), -1);
	assert_refused(422, "VALIDATION_FAILED", "eventId");
	json_decref(b);

	b = body_of("{\"eventId\":1,\"seatId\":true}");
	assert_int_equal(api_parse_event_and_seats(&req, &resp, b, &ev, ids), -1);
	assert_refused(422, "VALIDATION_FAILED", "seatId");
	json_decref(b);
}

static void hold_and_extend_seconds(void **state)
{
	json_int_t secs = 120;
	json_t *b;

	(void)state;
	b = body_of("{}");
	assert_true(api_parse_hold_seconds(&req, &resp, b, &secs));
	assert_int_equal(secs, 120); /* absent: the default stays */
	assert_false(api_parse_extend_seconds(&req, &resp, b, &secs));
	assert_refused(422, "VALIDATION_FAILED", "seconds");
	json_decref(b);

	b = body_of("{\"holdSeconds\":600,\"seconds\":5}");
	assert_true(api_parse_hold_seconds(&req, &resp, b, &secs));
	assert_int_equal(secs, 600);
	assert_true(api_parse_extend_seconds(&req, &resp, b, &secs));
	assert_int_equal(secs, 5);
	json_decref(b);

	b = body_of("{\"holdSeconds\":4,\"seconds\":601}");
	assert_false(api_parse_hold_seconds(&req, &resp, b, &secs));
	assert_refused(422, "VALIDATION_FAILED", "holdSeconds");
	assert_false(api_parse_extend_seconds(&req, &resp, b, &secs));
	assert_refused(422, "VALIDATION_FAILED", "seconds");
	json_decref(b);

	b = body_of("{\"holdSeconds\":60.0}");
	assert_false(api_parse_hold_seconds(&req, &resp, b, &secs));
	assert_refused(422, "VALIDATION_FAILED", "holdSeconds");
	json_decref(b);
}

static void path_ids(void **state)
{
	uint32_t ev, seat;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.params[0] = "4294967295";
	req.params[1] = "0";
	assert_true(api_parse_path_seat(&req, &resp, &ev, &seat));
	assert_int_equal(ev, UINT32_MAX);
	assert_int_equal(seat, 0);
	req.params[0] = "4294967296";
	assert_false(api_parse_path_seat(&req, &resp, &ev, &seat));
	assert_refused(422, "VALIDATION_FAILED", NULL);
	req.params[0] = "1";
	req.params[1] = "-1";
	assert_false(api_parse_path_seat(&req, &resp, &ev, &seat));
	assert_refused(422, "VALIDATION_FAILED", NULL);
}

static void idempotency_keys(void **state)
{
	char k65[66];

	(void)state;
	memset(&req, 0, sizeof(req));
	memset(k65, 'k', 65);
	k65[65] = '\0';
	assert_true(api_parse_idempotency_key(&req, &resp, "a"));
	assert_true(api_parse_idempotency_key(&req, &resp, k65 + 1));
	assert_false(api_parse_idempotency_key(&req, &resp, NULL));
	assert_refused(400, "IDEMPOTENCY_KEY_REQUIRED", NULL);
	assert_false(api_parse_idempotency_key(&req, &resp, ""));
	assert_refused(400, "IDEMPOTENCY_KEY_REQUIRED", NULL);
	assert_false(api_parse_idempotency_key(&req, &resp, k65));
	assert_refused(400, "IDEMPOTENCY_KEY_REQUIRED", NULL);
	assert_false(api_parse_idempotency_key(&req, &resp, "a b"));
	assert_refused(400, "IDEMPOTENCY_KEY_REQUIRED", NULL);
	assert_false(api_parse_idempotency_key(&req, &resp, "caf\xc3\xa9"));
	assert_refused(400, "IDEMPOTENCY_KEY_REQUIRED", NULL);
}

static void payment_bodies(void **state)
{
	const char *id, *sim;
	json_t *b;

	(void)state;
	b = body_of("{\"orderId\":\"o-1\"}");
	assert_true(api_parse_payment(&req, &resp, b, false, &id, &sim));
	assert_string_equal(id, "o-1");
	assert_null(sim);
	json_decref(b);

	b = body_of("{\"orderId\":\"o-1\",\"simulate\":\"decline\"}");
	assert_true(api_parse_payment(&req, &resp, b, true, &id, &sim));
	assert_string_equal(sim, "decline");
	assert_false(api_parse_payment(&req, &resp, b, false, &id, &sim));
	assert_refused(422, "VALIDATION_FAILED", "simulate");
	json_decref(b);

	b = body_of("{\"orderId\":\"o-1\",\"simulate\":1}");
	assert_false(api_parse_payment(&req, &resp, b, true, &id, &sim));
	assert_refused(422, "VALIDATION_FAILED", "simulate");
	json_decref(b);

	b = body_of("{\"orderId\":\"\"}");
	assert_false(api_parse_payment(&req, &resp, b, true, &id, &sim));
	assert_refused(422, "VALIDATION_FAILED", "orderId");
	json_decref(b);

	b = body_of("{\"orderId\":\"0123456789012345678901234567890123456789x\"}");
	assert_false(api_parse_payment(&req, &resp, b, true, &id, &sim));
	assert_refused(422, "VALIDATION_FAILED", "orderId");
	json_decref(b);
}

static void last_event_ids(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_true(sse_parse_last_event_id("0", &v));
	assert_int_equal(v, 0);
	assert_true(sse_parse_last_event_id("18446744073709551615", &v));
	assert_true(v == UINT64_MAX);
	assert_false(sse_parse_last_event_id("18446744073709551616", &v));
	assert_false(sse_parse_last_event_id("99999999999999999999", &v));
	assert_false(sse_parse_last_event_id("", &v));
	assert_false(sse_parse_last_event_id(NULL, &v));
	assert_false(sse_parse_last_event_id("12a", &v));
	assert_false(sse_parse_last_event_id("-1", &v));
	assert_false(sse_parse_last_event_id(" 1", &v));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seat_lists),
		cmocka_unit_test(hold_and_extend_seconds),
		cmocka_unit_test(path_ids),
		cmocka_unit_test(idempotency_keys),
		cmocka_unit_test(payment_bodies),
		cmocka_unit_test(last_event_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
