/* The client's address behind trusted reverse proxies (nginx in front of
 * ticketd): which peers may say who the client is (X-Forwarded-For), and
 * who it is.
 *
 * Off unless a list is given: then the TCP peer is the client, whatever
 * headers it sends. With a list, a request whose TCP peer is on it is
 * attributed to the address found by walking X-Forwarded-For from the
 * right (the entry the nearest proxy appended) past every address on the
 * list: the first hop that is not a trusted proxy is the client, so a
 * client cannot choose its own address by sending the header itself. A
 * malformed entry ends the walk at the last trusted hop. */
#ifndef TICKETD_FORWARDED_H
#define TICKETD_FORWARDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HTTP_MAX_TRUSTED_PROXIES 16

/* An address block: an IPv4 or IPv6 address and a prefix length. */
struct http_net {
	int family; /* AF_INET or AF_INET6 */
	int prefix; /* 0..32 or 0..128 */
	uint8_t addr[16];
};

struct http_proxies {
	int n;
	struct http_net nets[HTTP_MAX_TRUSTED_PROXIES];
};

/* Parses a list of addresses and CIDR blocks separated by commas and/or
 * blanks ("127.0.0.1, ::1, 10.0.0.0/8"); an empty or blank spec is an
 * empty list (nobody is trusted). Returns 0, or -EINVAL with err naming
 * the entry that is not an address or block (or too many: more than
 * HTTP_MAX_TRUSTED_PROXIES), and *out empty. */
int http_proxies_parse(const char *spec, struct http_proxies *out, char *err,
		       size_t errlen);

/* Is sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts as IPv4)
 * inside one of the list's blocks? */
bool http_proxies_has(const struct http_proxies *p, const struct sockaddr *sa);

/* The client of a request that came from peer with the X-Forwarded-For
 * header values xff[0..n-1] in the order received (several headers read
 * as one list, joined in order). Returns true and fills *out (port 0) when
 * the client is another address than the peer; false when the peer is the
 * client (not trusted, no header, or the walk found no other address). */
bool http_forwarded_client(const struct http_proxies *p,
			   const struct sockaddr *peer, const char *const *xff,
			   int n, struct sockaddr_storage *out);

#endif
