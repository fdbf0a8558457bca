/* The built web page (web/dist): GET / and GET /assets/{file}. */
#include <stdio.h>

#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/ticketd.h"

void route_index(struct http_req *req, struct http_resp *resp)
{
	http_send_file(req, resp, rest_app(req)->cfg.web_root, "index.html");
}

void route_asset(struct http_req *req, struct http_resp *resp)
{
	char dir[CONFIG_STR_MAX + 8];

	snprintf(dir, sizeof(dir), "%s/assets", rest_app(req)->cfg.web_root);
	http_send_file(req, resp, dir, req->params[0]);
}
