/* The route table of ticketd's REST API (see CONTRACT.md). */
#ifndef TICKETD_ROUTES_H
#define TICKETD_ROUTES_H

#include "api/http.h"

void route_list_events(struct http_req *req, struct http_resp *resp);
void route_get_event(struct http_req *req, struct http_resp *resp);
void route_get_seats(struct http_req *req, struct http_resp *resp);
void route_create_session(struct http_req *req, struct http_resp *resp);
void route_healthz(struct http_req *req, struct http_resp *resp);
void route_readyz(struct http_req *req, struct http_resp *resp);
void route_metrics(struct http_req *req, struct http_resp *resp);

/* Every route, for http_server_start. */
extern const struct route api_routes[];
extern const size_t api_n_routes;

#endif
