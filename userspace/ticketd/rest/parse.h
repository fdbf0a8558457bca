/* Request parsing of the REST handlers, apart from what they then ask the
 * domain: pure functions of a parsed body, a header value or path
 * parameters. On a refusal each has set the contract's error answer in resp
 * (and returns false or -1); nothing else is touched, so fuzz/fuzz_http.c
 * can drive them with any bytes. */
#ifndef TICKETD_REST_PARSE_H
#define TICKETD_REST_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

/* "eventId" and "seatIds" (1..8 distinct integers) or a single "seatId" of
 * a body; returns the seat count or -1 with the 422 answer set. */
int api_parse_event_and_seats(struct http_req *req, struct http_resp *resp,
			      json_t *body, uint32_t *event_id, uint32_t *ids);

/* The optional "holdSeconds" (5..600) of a reservation body: *secs is left
 * alone when it is absent. */
bool api_parse_hold_seconds(struct http_req *req, struct http_resp *resp,
			    json_t *body, json_int_t *secs);

/* The required "seconds" (5..600) of an extend body. */
bool api_parse_extend_seconds(struct http_req *req, struct http_resp *resp,
			      json_t *body, json_int_t *secs);

/* The {eventId}/{seatId} path parameters (req->params[0] and [1]). */
bool api_parse_path_seat(struct http_req *req, struct http_resp *resp,
			 uint32_t *event_id, uint32_t *seat_id);

/* An Idempotency-Key header value (NULL when absent): 1 to 64 visible
 * ASCII characters. */
bool api_parse_idempotency_key(struct http_req *req, struct http_resp *resp,
			       const char *key);

/* "orderId" and the optional "simulate" (accepted only when dev_mode) of a
 * payment authorization body; the strings point into body. *simulate is
 * NULL when absent. */
bool api_parse_payment(struct http_req *req, struct http_resp *resp,
		       json_t *body, bool dev_mode, const char **order_id,
		       const char **simulate);

#endif
