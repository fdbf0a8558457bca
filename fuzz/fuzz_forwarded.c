/* libFuzzer harness for the client address behind trusted proxies
 * (api/forwarded.c). The bytes are split at newlines: the first line is a
 * trusted-proxy list for http_proxies_parse, the next ones (up to 8) are
 * X-Forwarded-For header values. Each header list is walked for IPv4 and
 * IPv6 peers, against the parsed list when it parsed and against a fixed
 * one. Whatever the bytes: no crash, no read past them; a refused list is
 * empty; a client is found only behind a trusted peer and is an IPv4 or
 * IPv6 address (a trusted proxy's own when a malformed entry ends the
 * walk); an untrusted peer is always its own client. Run: make fuzz
 * (README.md, "Fuzzing"). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/forwarded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void walk(const struct http_proxies *p, const char *const *xff, int n)
{
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	struct sockaddr_in stranger = {.sin_family = AF_INET};
	const struct sockaddr *peers[] = {(const struct sockaddr *)&v4,
					  (const struct sockaddr *)&v6};
	struct sockaddr_storage out;

	inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
	inet_pton(AF_INET6, "::1", &v6.sin6_addr);
	inet_pton(AF_INET, "203.0.113.9", &stranger.sin_addr);
	for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
		memset(&out, 0, sizeof(out));
		if (http_forwarded_client(p, peers[i], xff, n, &out)) {
			check(http_proxies_has(p, peers[i]));
			check(out.ss_family == AF_INET || out.ss_family == AF_INET6);
		}
	}
	if (!http_proxies_has(p, (const struct sockaddr *)&stranger))
		check(!http_forwarded_client(p, (const struct sockaddr *)&stranger, xff, n,
					     &out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), err[128], *line, *save = NULL;
	const char *xff[8];
	struct http_proxies parsed, fixed;
	int n = 0, rc;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	line = strtok_r(s, "\n", &save);
	rc = http_proxies_parse(line ? line : "", &parsed, err, sizeof(err));
	if (rc)
		check(parsed.n == 0);
	check(parsed.n >= 0 && parsed.n <= HTTP_MAX_TRUSTED_PROXIES);
	while (n < 8 && (line = strtok_r(NULL, "\n", &save)))
		xff[n++] = line;
	check(!http_proxies_parse("127.0.0.1, ::1, 10.0.0.0/8", &fixed, err, sizeof(err)));
	walk(&fixed, xff, n);
	if (!rc)
		walk(&parsed, xff, n);
	free(s);
	return 0;
}
