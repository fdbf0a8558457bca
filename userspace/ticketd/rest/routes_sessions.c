/* POST /api/sessions */
#include "userspace/lib/log.h"
#include "userspace/lib/timefmt.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/rest/client_limits.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

void api_service_busy(struct http_req *req, struct http_resp *resp)
{
	resp->retry_after = 1;
	http_error(resp, req, 503, "SERVICE_BUSY",
		   "the database is busy; nothing changed, retry in a moment", NULL);
}

void route_create_session(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = req->app;
	struct session s;
	char token[33], expires[32];
	json_t *body;
	int rc;

	if (!client_session_allowed(req, resp)) /* before any database work */
		return;
	body = http_body_object(req, resp, true);
	if (!body)
		return;
	json_decref(body); /* no fields are defined yet; any object is fine */
	rc = sessions_create(&app->sessions, http_client_addr(req), &s, token);
	switch (rc) {
	case 0:
		break;
	case SESSIONS_EXHAUSTED:
		/* Every slot is reserved by a live session (or its grace):
		 * refuse; never evict a live session. */
		log_msg(LOG_WARN, req->trace_id,
			"no free session slot: refused a session (SESSIONS_EXHAUSTED)");
		resp->retry_after = 60;
		http_error(resp, req, 503, "SESSIONS_EXHAUSTED",
			   "every session slot is taken by a live session; try again later",
			   NULL);
		return;
	case SESSIONS_DB_BUSY:
		api_service_busy(req, resp);
		return;
	default:
		log_msg(LOG_ERROR, req->trace_id, "creating a session failed");
		resp->retry_after = 1; /* the database failed mid-way */
		http_error(resp, req, 503, "UNAVAILABLE",
			   "sessions cannot be created right now; try again", NULL);
		return;
	}
	tkt_format_rfc3339_ms(s.expires_unix * 1000, expires, sizeof(expires));
	http_json(resp, 201,
		  json_pack("{s:s, s:s, s:s}", "sessionId", s.id_hex, "token", token,
			    "expiresAt", expires));
}
