/* What the event routes of rest/ share (see routes.h). */
#include <stdio.h>

#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

bool api_event_param(struct http_req *req, struct http_resp *resp, uint32_t *id)
{
	char msg[64];

	if (http_parse_u32(req->params[0], id)) {
		http_error(resp, req, 400, "VALIDATION_FAILED",
			   "event id must be a non-negative integer",
			   json_pack("{s:s}", "id", req->params[0]));
		return false;
	}
	if (!catalog_find(&rest_app(req)->catalog, *id)) {
		snprintf(msg, sizeof(msg), "event %u does not exist", *id);
		http_error(resp, req, 404, "EVENT_NOT_FOUND", msg, NULL);
		return false;
	}
	return true;
}

json_t *api_time_or_null(int64_t ms)
{
	char t[TKT_RFC3339_LEN];

	if (!ms || tkt_format_rfc3339_ms(ms, t, sizeof(t)))
		return json_null();
	return json_string(t);
}
