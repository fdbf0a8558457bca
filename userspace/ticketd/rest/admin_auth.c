/* The admin endpoints' gate, shared by every /admin route (waiting
 * rooms, drain, events, audit): loopback clients only, with the admin key
 * (<state_dir>/admin.key, 64 hex digits) as Bearer token. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/room/room_service.h"
#include "userspace/ticketd/ticketd.h"

static bool loopback(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (!memcmp(a->s6_addr, mapped, 12) && a->s6_addr[12] == 127);
	}
	return false;
}

bool api_admin_allowed(struct http_req *req, struct http_resp *resp)
{
	const char *auth = http_header(req, "Authorization");

	if (!loopback(http_client_addr(req))) {
		http_error(resp, req, 403, "FORBIDDEN",
			   "the admin endpoints answer loopback clients only", NULL);
		return false;
	}
	if (!auth) {
		http_error(resp, req, 401, "UNAUTHORIZED",
			   "Authorization: Bearer <admin key> is required (state_dir/admin.key)",
			   NULL);
		return false;
	}
	if (!rooms_admin_authorized(rest_app(req)->rooms, auth)) {
		http_error(resp, req, 403, "FORBIDDEN", "wrong admin key", NULL);
		return false;
	}
	return true;
}
