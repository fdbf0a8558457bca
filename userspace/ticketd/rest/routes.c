/* The route table: every REST path of the API (docs/api.md) and its handler. */
#include "userspace/ticketd/rest/routes.h"

const struct route api_routes[] = {
	{"GET", "/api/events", route_list_events},
	{"GET", "/api/events/{id}", route_get_event},
	{"GET", "/api/events/{id}/seats", route_get_seats},
	{"GET", "/api/events/{id}/seats/stream", route_seat_stream},
	{"POST", "/api/events/{id}/room", route_room_join},
	{"GET", "/api/events/{id}/room", route_room_poll},
	{"GET", "/api/events/{id}/room/stream", route_room_stream},
	{"GET", "/admin/events/{id}/room", route_admin_room_get},
	{"PUT", "/admin/events/{id}/room", route_admin_room_put},
	{"GET", "/admin/drain", route_admin_drain_get},
	{"POST", "/admin/drain", route_admin_drain_start},
	{"DELETE", "/admin/drain", route_admin_drain_stop},
	{"POST", "/api/sessions", route_create_session},
	{"POST", "/api/reservations", route_create_reservation},
	{"GET", "/api/reservations", route_list_reservations},
	{"POST", "/api/reservations/{eventId}/{seatId}/extend", route_extend_reservation},
	{"DELETE", "/api/reservations/{eventId}/{seatId}", route_delete_reservation},
	{"POST", "/api/orders", route_create_order},
	{"GET", "/api/orders/{id}", route_get_order},
	{"POST", "/api/payments/authorize", route_authorize_payment},
	{"GET", "/", route_index},
	{"GET", "/assets/{file}", route_asset},
	{"GET", "/healthz", route_healthz},
	{"GET", "/readyz", route_readyz},
	{"GET", "/metrics", route_metrics},
};
const size_t api_n_routes = sizeof(api_routes) / sizeof(api_routes[0]);
