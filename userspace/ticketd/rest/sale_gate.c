/* The live catalogue's gate for a new hold (#17, docs/api.md "Admin:
 * events"): the state and sale window of an event, as the events map's
 * closed bit gives them to the UDP doors (answered NOT_ADMITTED there). */
#include <stdio.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

static json_t *time_or_null(int64_t ms)
{
	char t[32];

	if (!ms || tkt_format_rfc3339_ms(ms, t, sizeof(t)))
		return json_null();
	return json_string(t);
}

bool api_sale_gate(struct http_req *req, struct http_resp *resp, uint32_t event_id,
		   json_int_t *secs)
{
	const struct event_info *e = catalog_find(&rest_app(req)->catalog, event_id);
	int64_t now = tkt_unix_ms();

	if (!e)
		return true;
	if (e->state == EVENT_CANCELLED) {
		http_error(resp, req, 403, "SALE_NOT_OPEN", "this event is cancelled",
			   json_pack("{s:s}", "state", "CANCELLED"));
		return false;
	}
	if ((e->sale_starts_ms && now < e->sale_starts_ms) ||
	    (e->sale_ends_ms && now >= e->sale_ends_ms)) {
		http_error(resp, req, 403, "SALE_NOT_OPEN",
			   e->sale_starts_ms && now < e->sale_starts_ms
				   ? "the sale of this event has not started"
				   : "the sale of this event has ended",
			   json_pack("{s:o, s:o}", "saleStartsAt", time_or_null(e->sale_starts_ms),
				     "saleEndsAt", time_or_null(e->sale_ends_ms)));
		return false;
	}
	if (secs && e->hold_seconds)
		*secs = e->hold_seconds;
	return true;
}
