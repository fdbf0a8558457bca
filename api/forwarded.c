/* Trusted proxies and the client behind them (forwarded.h). */
#include "api/forwarded.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An address as compared here: IPv4 (also IPv4-mapped IPv6) or IPv6. */
struct ip {
	int family;
	uint8_t b[16];
};

static const uint8_t V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool ip_from_sockaddr(const struct sockaddr *sa, struct ip *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		ip->family = AF_INET;
		memcpy(ip->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		if (!memcmp(a, V4_MAPPED, sizeof(V4_MAPPED))) {
			ip->family = AF_INET;
			memcpy(ip->b, a + 12, 4);
		} else {
			ip->family = AF_INET6;
			memcpy(ip->b, a, 16);
		}
		return true;
	}
	return false;
}

static void ip_to_sockaddr(const struct ip *ip, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof(*out));
	if (ip->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, ip->b, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		sin6->sin6_family = AF_INET6;
		memcpy(sin6->sin6_addr.s6_addr, ip->b, 16);
	}
}

/* Parses a bare address (no port, no brackets), mapped IPv6 as IPv4. */
static bool ip_parse(const char *s, struct ip *ip)
{
	struct in6_addr a6;

	memset(ip, 0, sizeof(*ip));
	if (inet_pton(AF_INET, s, ip->b) == 1) {
		ip->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &a6) != 1)
		return false;
	if (!memcmp(a6.s6_addr, V4_MAPPED, sizeof(V4_MAPPED))) {
		ip->family = AF_INET;
		memcpy(ip->b, a6.s6_addr + 12, 4);
	} else {
		ip->family = AF_INET6;
		memcpy(ip->b, a6.s6_addr, 16);
	}
	return true;
}

static bool net_has(const struct http_net *n, const struct ip *ip)
{
	int full = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != ip->family)
		return false;
	if (memcmp(n->addr, ip->b, (size_t)full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((n->addr[full] & mask) != (ip->b[full] & mask))
			return false;
	}
	return true;
}

static bool list_has(const struct http_proxies *p, const struct ip *ip)
{
	for (int i = 0; i < p->n; i++)
		if (net_has(&p->nets[i], ip))
			return true;
	return false;
}

bool http_proxies_has(const struct http_proxies *p, const struct sockaddr *sa)
{
	struct ip ip;

	return p && ip_from_sockaddr(sa, &ip) && list_has(p, &ip);
}

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* One entry "addr" or "addr/prefix"; the address bits past the prefix are
 * cleared so that comparing only needs the prefix. */
static bool net_parse(const char *s, struct http_net *n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	struct ip ip;
	int max;

	if (strlen(s) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", s);
	if (slash)
		buf[slash - s] = '\0';
	if (!ip_parse(buf, &ip))
		return false;
	max = ip.family == AF_INET ? 32 : 128;
	n->family = ip.family;
	n->prefix = max;
	if (slash) {
		bool mapped = ip.family == AF_INET && strchr(buf, ':');
		char *end;
		long v;

		if (slash[1] < '0' || slash[1] > '9')
			return false;
		v = strtol(slash + 1, &end, 10);
		/* "::ffff:10.0.0.0/104" names the IPv4 block 10.0.0.0/8 */
		if (mapped) {
			if (v < 96)
				return false;
			v -= 96;
		}
		if (*end || v > max)
			return false;
		n->prefix = (int)v;
	}
	memset(n->addr, 0, sizeof(n->addr));
	memcpy(n->addr, ip.b, (size_t)(n->prefix + 7) / 8);
	if (n->prefix % 8)
		n->addr[n->prefix / 8] &= (uint8_t)(0xff << (8 - n->prefix % 8));
	return true;
}

int http_proxies_parse(const char *spec, struct http_proxies *out, char *err,
		       size_t errlen)
{
	const char *s = spec ? spec : "";

	memset(out, 0, sizeof(*out));
	while (*s) {
		char entry[96];
		size_t len;

		while (is_sep(*s))
			s++;
		if (!*s)
			break;
		for (len = 0; s[len] && !is_sep(s[len]); len++)
			;
		snprintf(entry, sizeof(entry), "%.*s", (int)len, s);
		if (out->n == HTTP_MAX_TRUSTED_PROXIES) {
			snprintf(err, errlen,
				 "trusted_proxies: more than %d addresses or blocks",
				 HTTP_MAX_TRUSTED_PROXIES);
			memset(out, 0, sizeof(*out));
			return -EINVAL;
		}
		if (len >= sizeof(entry) || !net_parse(entry, &out->nets[out->n])) {
			snprintf(err, errlen,
				 "trusted_proxies: '%.*s' is not an IPv4 or IPv6 address "
				 "or block (address/prefix)",
				 (int)(len > 64 ? 64 : len), s);
			memset(out, 0, sizeof(*out));
			return -EINVAL;
		}
		out->n++;
		s += len;
	}
	return 0;
}

/* One X-Forwarded-For entry, blanks around it ignored: "1.2.3.4",
 * "1.2.3.4:5678", "2001:db8::1", "[2001:db8::1]" or "[2001:db8::1]:443". */
static bool entry_parse(const char *s, size_t len, struct ip *ip)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *colon;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len && *s == '[') {
		const char *close = memchr(s, ']', len);
		size_t after;

		if (!close)
			return false;
		after = len - (size_t)(close - s) - 1;
		if (after && (close[1] != ':' || after < 2))
			return false;
		for (size_t i = 2; i <= after; i++)
			if (close[i] < '0' || close[i] > '9')
				return false;
		len = (size_t)(close - s) - 1;
		s++;
		if (!len || !memchr(s, ':', len))
			return false; /* brackets hold an IPv6 address */
	} else if ((colon = memchr(s, ':', len)) &&
		   !memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) &&
		   memchr(s, '.', (size_t)(colon - s))) {
		/* exactly one colon after a dotted address: IPv4 with a port */
		size_t port_len = len - (size_t)(colon - s) - 1;

		if (!port_len)
			return false;
		for (size_t i = 1; i <= port_len; i++)
			if (colon[i] < '0' || colon[i] > '9')
				return false;
		len = (size_t)(colon - s);
	}
	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return ip_parse(buf, ip);
}

bool http_forwarded_client(const struct http_proxies *p,
			   const struct sockaddr *peer, const char *const *xff,
			   int n, struct sockaddr_storage *out)
{
	struct ip cur, first;

	if (!p || !p->n || !ip_from_sockaddr(peer, &cur))
		return false;
	first = cur;
	for (int h = n - 1; h >= 0; h--) {
		const char *s = xff[h] ? xff[h] : "";
		size_t end = strlen(s);

		/* entries from the right: [start, end) between commas */
		for (;;) {
			size_t start = end;
			struct ip next;

			if (!list_has(p, &cur))
				goto done; /* cur is not a proxy: the client */
			while (start > 0 && s[start - 1] != ',')
				start--;
			if (!entry_parse(s + start, end - start, &next))
				goto done; /* malformed: keep the last trusted hop */
			cur = next;
			if (start == 0)
				break;
			end = start - 1;
		}
	}
done:
	if (cur.family == first.family && !memcmp(cur.b, first.b, sizeof(cur.b)))
		return false;
	ip_to_sockaddr(&cur, out);
	return true;
}
