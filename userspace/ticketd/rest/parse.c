/* Request parsing of the REST handlers (see parse.h). */
#include "userspace/ticketd/rest/parse.h"

#include <string.h>

#include "userspace/ticketd/commerce/orders.h"
#include "userspace/ticketd/seats/holds.h"

#define HOLD_SECONDS_MIN 5
#define HOLD_SECONDS_MAX 600

/* A JSON integer within [min, max]; booleans, reals and strings are not. */
static bool json_int_in(const json_t *v, json_int_t min, json_int_t max,
			json_int_t *out)
{
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return *out >= min && *out <= max;
}

static void validation_error(struct http_req *req, struct http_resp *resp,
			     const char *field, const char *message)
{
	http_error(resp, req, 422, "VALIDATION_FAILED", message,
		   json_pack("{s:s}", "field", field));
}

/* Parses "seatIds" (1..8 distinct integers) or a single "seatId". */
static int parse_seat_ids(struct http_req *req, struct http_resp *resp,
			  json_t *body, uint32_t *ids)
{
	json_t *list = json_object_get(body, "seatIds");
	json_t *one = json_object_get(body, "seatId");
	json_int_t v;
	size_t i, n;

	if (list && one) {
		validation_error(req, resp, "seatIds", "give seatIds or seatId, not both");
		return -1;
	}
	if (one) {
		if (!json_int_in(one, 0, UINT32_MAX, &v)) {
			validation_error(req, resp, "seatId",
					 "seatId must be a non-negative integer");
			return -1;
		}
		ids[0] = (uint32_t)v;
		return 1;
	}
	if (!json_is_array(list)) {
		validation_error(req, resp, "seatIds",
				 "seatIds must be an array of 1 to 8 seat ids");
		return -1;
	}
	n = json_array_size(list);
	if (n < 1 || n > HOLDS_MAX_SEATS) {
		validation_error(req, resp, "seatIds",
				 "seatIds must hold 1 to 8 seat ids");
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!json_int_in(json_array_get(list, i), 0, UINT32_MAX, &v)) {
			validation_error(req, resp, "seatIds",
					 "every seat id must be a non-negative integer");
			return -1;
		}
		ids[i] = (uint32_t)v;
		for (size_t k = 0; k < i; k++)
			if (ids[k] == ids[i]) {
				validation_error(req, resp, "seatIds",
						 "seat ids must be distinct");
				return -1;
			}
	}
	return (int)n;
}

int api_parse_event_and_seats(struct http_req *req, struct http_resp *resp,
			      json_t *body, uint32_t *event_id, uint32_t *ids)
{
	json_int_t v;

	if (!json_int_in(json_object_get(body, "eventId"), 0, UINT32_MAX, &v)) {
		validation_error(req, resp, "eventId",
				 "eventId must be a non-negative integer");
		return -1;
	}
	*event_id = (uint32_t)v;
	return parse_seat_ids(req, resp, body, ids);
}

bool api_parse_hold_seconds(struct http_req *req, struct http_resp *resp,
			    json_t *body, json_int_t *secs)
{
	json_t *hs = json_object_get(body, "holdSeconds");

	if (hs && !json_int_in(hs, HOLD_SECONDS_MIN, HOLD_SECONDS_MAX, secs)) {
		validation_error(req, resp, "holdSeconds",
				 "holdSeconds must be an integer from 5 to 600");
		return false;
	}
	return true;
}

bool api_parse_extend_seconds(struct http_req *req, struct http_resp *resp,
			      json_t *body, json_int_t *secs)
{
	if (!json_int_in(json_object_get(body, "seconds"), HOLD_SECONDS_MIN,
			 HOLD_SECONDS_MAX, secs)) {
		validation_error(req, resp, "seconds",
				 "seconds must be an integer from 5 to 600");
		return false;
	}
	return true;
}

bool api_parse_path_seat(struct http_req *req, struct http_resp *resp,
			 uint32_t *event_id, uint32_t *seat_id)
{
	if (http_parse_u32(req->params[0], event_id)) {
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "event id must be a non-negative integer", NULL);
		return false;
	}
	if (http_parse_u32(req->params[1], seat_id)) {
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "seat id must be a non-negative integer", NULL);
		return false;
	}
	return true;
}

static bool valid_key(const char *k)
{
	size_t n = k ? strlen(k) : 0;

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
			return false;
	return true;
}

bool api_parse_idempotency_key(struct http_req *req, struct http_resp *resp,
			       const char *key)
{
	if (!key) {
		http_error(resp, req, 400, "IDEMPOTENCY_KEY_REQUIRED",
			   "the Idempotency-Key header is required (1 to 64 characters)", NULL);
		return false;
	}
	if (!valid_key(key)) {
		http_error(resp, req, 400, "IDEMPOTENCY_KEY_REQUIRED",
			   "Idempotency-Key must be 1 to 64 visible ASCII characters", NULL);
		return false;
	}
	return true;
}

bool api_parse_payment(struct http_req *req, struct http_resp *resp,
		       json_t *body, bool dev_mode, const char **order_id,
		       const char **simulate)
{
	json_t *sim = json_object_get(body, "simulate");

	*order_id = json_string_value(json_object_get(body, "orderId"));
	*simulate = NULL;
	if (!*order_id || !**order_id || strlen(*order_id) > ORDER_ID_LEN) {
		http_error(resp, req, 422, "VALIDATION_FAILED",
			   "orderId must be an order id string",
			   json_pack("{s:s}", "field", "orderId"));
		return false;
	}
	if (sim) {
		*simulate = json_string_value(sim);
		if (!dev_mode || !*simulate ||
		    (strcmp(*simulate, "approve") && strcmp(*simulate, "decline"))) {
			http_error(resp, req, 422, "VALIDATION_FAILED",
				   dev_mode ? "simulate must be \"approve\" or \"decline\""
					    : "simulate is accepted only in development mode",
				   json_pack("{s:s}", "field", "simulate"));
			return false;
		}
	}
	return true;
}
