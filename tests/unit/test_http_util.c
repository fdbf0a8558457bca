/* Trace ids, route matching, ids and times of the HTTP layer; the client
 * address behind trusted proxies (api/forwarded.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "api/forwarded.h"
#include "api/http.h"
#include "userspace/lib/hex.h"

static void route_patterns_capture_parameters(void **state)
{
	const char *params[HTTP_MAX_PARAMS];
	char scratch[128];
	int n;

	(void)state;
	assert_true(route_match("/api/events/{id}/seats", "/api/events/42/seats",
				params, &n, scratch, sizeof(scratch)));
	assert_int_equal(n, 1);
	assert_string_equal(params[0], "42");
	assert_true(route_match("/api/reservations/{e}/{s}/extend",
				"/api/reservations/1/7/extend", params, &n, scratch,
				sizeof(scratch)));
	assert_int_equal(n, 2);
	assert_string_equal(params[1], "7");
	assert_false(route_match("/api/events/{id}", "/api/events/42/seats", params,
				 &n, scratch, sizeof(scratch)));
	assert_false(route_match("/api/events/{id}", "/api/events/", params, &n,
				 scratch, sizeof(scratch)));
	assert_false(route_match("/api/events", "/api/events/", params, &n, scratch,
				 sizeof(scratch)));
}

static void ids_must_be_plain_decimal_u32(void **state)
{
	uint32_t v;

	(void)state;
	assert_int_equal(http_parse_u32("0", &v), 0);
	assert_int_equal(http_parse_u32("4294967295", &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(http_parse_u32("4294967296", &v), -1);
	assert_int_equal(http_parse_u32("-1", &v), -1);
	assert_int_equal(http_parse_u32("1e3", &v), -1);
	assert_int_equal(http_parse_u32("", &v), -1);
	assert_int_equal(http_parse_u32(" 1", &v), -1);
	assert_int_equal(http_parse_u32("99999999999999999999", &v), -1);
}

/* A malformed body is 400 MALFORMED_JSON whatever bytes sit where the
 * parser stopped: jansson's error text may end inside a UTF-8 sequence,
 * which made the error body unbuildable and the answer a 500 (found by
 * fuzz/fuzz_http; seed fuzz/corpus/fuzz_http/regress-json-error-cuts-utf8). */
static void malformed_json_is_400_whatever_its_bytes(void **state)
{
	static const char *const bodies[] = {
		"{\"eventId\":1,\"sr \\u\xd1\x9ep-5}",
		"{\"a\":\xff}",
		"\xe2\x82",
		"{\"\xf0\x9f\x8e\xab\":1,}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct http_req req = {.body = bodies[i], .body_len = strlen(bodies[i])};
		struct http_resp resp = {0};
		json_t *err;

		assert_null(http_body_object(&req, &resp, false));
		assert_int_equal(resp.status, 400);
		err = json_loadb(resp.body, resp.body_len, 0, NULL);
		assert_non_null(err);
		assert_string_equal(json_string_value(json_object_get(err, "code")),
				    "MALFORMED_JSON");
		json_decref(err);
		free(resp.body);
	}
}

/* The in-flight gate of a door: full means refused at once and counted. */
static void full_gate_refuses_at_once_and_frees_on_leave(void **state)
{
	struct http_gate g = {.max = 2};

	(void)state;
	assert_true(http_gate_enter(&g));
	assert_true(http_gate_enter(&g));
	assert_false(http_gate_enter(&g));
	assert_int_equal(atomic_load(&g.inflight), 2);
	assert_int_equal(atomic_load(&g.rejected), 1);
	http_gate_leave(&g);
	assert_true(http_gate_enter(&g));
	assert_false(http_gate_enter(&g));
	assert_int_equal(atomic_load(&g.rejected), 2);
}

static void gate_without_cap_only_counts(void **state)
{
	struct http_gate g = {.max = 0};

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_true(http_gate_enter(&g));
	assert_int_equal(atomic_load(&g.inflight), 1000);
	assert_int_equal(atomic_load(&g.rejected), 0);
}

static void overloaded_is_503_with_retry_after_and_reason(void **state)
{
	struct http_req req = {0};
	struct http_resp resp = {0};
	json_t *body, *details;

	(void)state;
	strcpy(req.trace_id, "0123456789abcdef0123456789abcdef");
	http_overloaded(&resp, &req, 0, "orders", "saga_queue");
	assert_int_equal(resp.status, 503);
	assert_int_equal(resp.retry_after, 1); /* never 0: the header is always sent */
	body = json_loadb(resp.body, resp.body_len, 0, NULL);
	assert_non_null(body);
	assert_string_equal(json_string_value(json_object_get(body, "code")), "OVERLOADED");
	details = json_object_get(body, "details");
	assert_string_equal(json_string_value(json_object_get(details, "door")), "orders");
	assert_string_equal(json_string_value(json_object_get(details, "reason")),
			    "saga_queue");
	json_decref(body);
	free(resp.body);
	memset(&resp, 0, sizeof(resp));
	http_overloaded(&resp, &req, 7, "payments", "inflight");
	assert_int_equal(resp.retry_after, 7);
	free(resp.body);
}

/* ---- trusted proxies and X-Forwarded-For (api/forwarded.h) ---- */

static struct sockaddr_storage sa(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return ss;
}

static bool trusts(const struct http_proxies *p, const char *addr)
{
	struct sockaddr_storage ss = sa(addr);

	return http_proxies_has(p, (struct sockaddr *)&ss);
}

/* The client ticketd sees for a request from peer with these headers, as
 * text ("peer" when the peer itself is the client). */
static const char *client_of(const struct http_proxies *p, const char *peer,
			     const char *const *xff, int n)
{
	static char text[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss = sa(peer), out;

	if (!http_forwarded_client(p, (struct sockaddr *)&ss, xff, n, &out))
		return "peer";
	if (out.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&out)->sin_addr, text,
			  sizeof(text));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&out)->sin6_addr, text,
			  sizeof(text));
	return text;
}

static struct http_proxies proxies(const char *spec)
{
	struct http_proxies p;
	char err[160];

	assert_int_equal(http_proxies_parse(spec, &p, err, sizeof(err)), 0);
	return p;
}

static void trusted_proxies_are_addresses_and_blocks(void **state)
{
	struct http_proxies p = proxies(" 127.0.0.1, ::1 10.0.0.0/8,2001:db8::/32 "
					"192.168.7.129/25");

	(void)state;
	assert_int_equal(p.n, 5);
	assert_true(trusts(&p, "127.0.0.1"));
	assert_false(trusts(&p, "127.0.0.2"));
	assert_true(trusts(&p, "::ffff:127.0.0.1")); /* mapped counts as IPv4 */
	assert_true(trusts(&p, "::1"));
	assert_true(trusts(&p, "10.200.3.4"));
	assert_false(trusts(&p, "11.0.0.1"));
	assert_true(trusts(&p, "2001:db8:ffff::1"));
	assert_false(trusts(&p, "2001:db9::1"));
	assert_true(trusts(&p, "192.168.7.200")); /* host bits of the block ignored */
	assert_false(trusts(&p, "192.168.7.100"));
	p = proxies("::ffff:10.0.0.0/104");
	assert_true(trusts(&p, "10.9.9.9"));
	assert_false(trusts(&p, "11.9.9.9"));
}

static void trusted_proxies_refuse_what_is_not_an_address(void **state)
{
	static const char *const bad[] = {
		"localhost", "10.0.0.0/33", "::/129", "1.2.3.4/", "1.2.3.4/x",
		"1.2.3", "127.0.0.1,10.0.0.0/8,nope", "::ffff:10.0.0.0/8", "1.2.3.4/-1",
	};
	struct http_proxies p;
	char err[160];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(http_proxies_parse(bad[i], &p, err, sizeof(err)), -EINVAL);
		assert_int_equal(p.n, 0);
		assert_non_null(strstr(err, "trusted_proxies"));
	}
	assert_int_equal(http_proxies_parse("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
					    &p, err, sizeof(err)),
			 -EINVAL); /* not addresses, and too many anyway */
	assert_int_equal(http_proxies_parse("1.1.1.1 1.1.1.2 1.1.1.3 1.1.1.4 1.1.1.5 "
					    "1.1.1.6 1.1.1.7 1.1.1.8 1.1.1.9 1.1.1.10 "
					    "1.1.1.11 1.1.1.12 1.1.1.13 1.1.1.14 "
					    "1.1.1.15 1.1.1.16 1.1.1.17",
					    &p, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "more than 16"));
}

static void no_trusted_proxy_means_the_peer_is_the_client(void **state)
{
	static const char *const xff[] = {"198.51.100.7"};
	struct http_proxies p = proxies("");

	(void)state;
	assert_int_equal(p.n, 0);
	assert_string_equal(client_of(&p, "127.0.0.1", xff, 1), "peer");
	p = proxies(" ,  ");
	assert_int_equal(p.n, 0);
	assert_string_equal(client_of(&p, "127.0.0.1", xff, 1), "peer");
}

static void header_from_an_untrusted_peer_is_ignored(void **state)
{
	static const char *const xff[] = {"198.51.100.7"};
	struct http_proxies p = proxies("127.0.0.1");

	(void)state;
	assert_string_equal(client_of(&p, "127.0.0.5", xff, 1), "peer");
	assert_string_equal(client_of(&p, "127.0.0.1", xff, 1), "198.51.100.7");
	assert_string_equal(client_of(&p, "127.0.0.1", NULL, 0), "peer");
}

static void client_cannot_choose_its_address_through_the_proxy(void **state)
{
	/* The client sent "X-Forwarded-For: 10.9.9.9"; the proxy appended the
	 * address it saw. */
	static const char *const xff[] = {"10.9.9.9, 198.51.100.7"};
	struct http_proxies p = proxies("127.0.0.1");

	(void)state;
	assert_string_equal(client_of(&p, "127.0.0.1", xff, 1), "198.51.100.7");
}

static void chain_of_trusted_proxies_is_walked_from_the_right(void **state)
{
	static const char *const one[] = {"203.0.113.9, 10.1.2.3"};
	static const char *const two[] = {"203.0.113.9", "10.1.2.3"};
	static const char *const spoof[] = {"127.0.0.1, 203.0.113.9, 10.1.2.3"};
	static const char *const all[] = {"10.0.0.7"};
	static const char *const self[] = {"127.0.0.1"};
	struct http_proxies p = proxies("127.0.0.1,10.0.0.0/8");

	(void)state;
	assert_string_equal(client_of(&p, "127.0.0.1", one, 1), "203.0.113.9");
	assert_string_equal(client_of(&p, "127.0.0.1", two, 2), "203.0.113.9");
	assert_string_equal(client_of(&p, "127.0.0.1", spoof, 1), "203.0.113.9");
	/* every hop trusted: the leftmost one is the client */
	assert_string_equal(client_of(&p, "127.0.0.1", all, 1), "10.0.0.7");
	assert_string_equal(client_of(&p, "127.0.0.1", self, 1), "peer");
}

static void forwarded_entries_with_ports_brackets_and_mapped_addresses(void **state)
{
	static const char *const cases[][2] = {
		{"198.51.100.7:5678", "198.51.100.7"},
		{"[2001:db8::5]:443", "2001:db8::5"},
		{"[2001:db8::5]", "2001:db8::5"},
		{" 2001:db8::5 ", "2001:db8::5"},
		{"::ffff:198.51.100.7", "198.51.100.7"},
		{"\t198.51.100.7", "198.51.100.7"},
	};
	struct http_proxies p = proxies("127.0.0.1");

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const xff[] = {cases[i][0]};

		assert_string_equal(client_of(&p, "127.0.0.1", xff, 1), cases[i][1]);
	}
}

static void malformed_entry_ends_the_walk_at_the_last_trusted_hop(void **state)
{
	static const char *const bad[] = {
		"unknown", "", " ", "198.51.100.7:", "198.51.100.7:x", "[2001:db8::5",
		"[2001:db8::5]x", "[198.51.100.7]", "2001:db8::5%eth0", "1.2.3.4.5",
		"198.51.100.7,", "a.b.c.d", "[]:80",
	};
	static const char *const mid[] = {"203.0.113.9, unknown, 10.1.2.3"};
	struct http_proxies p = proxies("127.0.0.1,10.0.0.0/8");

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *const xff[] = {bad[i]};

		assert_string_equal(client_of(&p, "127.0.0.1", xff, 1), "peer");
	}
	assert_string_equal(client_of(&p, "127.0.0.1", mid, 1), "10.1.2.3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(route_patterns_capture_parameters),
		cmocka_unit_test(ids_must_be_plain_decimal_u32),
		cmocka_unit_test(malformed_json_is_400_whatever_its_bytes),
		cmocka_unit_test(full_gate_refuses_at_once_and_frees_on_leave),
		cmocka_unit_test(gate_without_cap_only_counts),
		cmocka_unit_test(overloaded_is_503_with_retry_after_and_reason),
		cmocka_unit_test(trusted_proxies_are_addresses_and_blocks),
		cmocka_unit_test(trusted_proxies_refuse_what_is_not_an_address),
		cmocka_unit_test(no_trusted_proxy_means_the_peer_is_the_client),
		cmocka_unit_test(header_from_an_untrusted_peer_is_ignored),
		cmocka_unit_test(client_cannot_choose_its_address_through_the_proxy),
		cmocka_unit_test(chain_of_trusted_proxies_is_walked_from_the_right),
		cmocka_unit_test(forwarded_entries_with_ports_brackets_and_mapped_addresses),
		cmocka_unit_test(malformed_entry_ends_the_walk_at_the_last_trusted_hop),
	};
	return cmocka_run_group_tests_name("http_util", tests, NULL, NULL);
}
