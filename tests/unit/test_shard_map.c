/* The shard map's pure parts (issue #16): partition of an event, the JSON
 * of tkt:shards and tkt:nodes values, the owner address the UDP reply
 * carries. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/ticketd/shards/shard_map.h"

static void event_belongs_to_its_id_modulo_the_partitions(void **state)
{
	(void)state;
	assert_int_equal(shard_partition_of(0, 16), 0);
	assert_int_equal(shard_partition_of(1, 16), 1);
	assert_int_equal(shard_partition_of(17, 16), 1);
	assert_int_equal(shard_partition_of(4095, 16), 15);
	assert_int_equal(shard_partition_of(5, 4), 1);
	assert_int_equal(shard_partition_of(7, 1), 0);
	assert_int_equal(shard_partition_of(UINT32_MAX, 16), 15);
}

static void owner_json_is_the_published_form_and_parses_back(void **state)
{
	struct shard_owner o = {.node = "n1", .udp = "10.77.1.2:7000",
				.http = "127.0.0.1:18520", .epoch = 7};
	struct shard_owner back;
	char buf[256];

	(void)state;
	assert_true(shard_owner_json(&o, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"node\":\"n1\",\"udp\":\"10.77.1.2:7000\","
				 "\"http\":\"127.0.0.1:18520\",\"epoch\":7}");
	assert_int_equal(shard_owner_parse(buf, &back), 0);
	assert_string_equal(back.node, "n1");
	assert_string_equal(back.udp, "10.77.1.2:7000");
	assert_string_equal(back.http, "127.0.0.1:18520");
	assert_int_equal(back.epoch, 7);
	assert_int_equal(shard_owner_json(&o, buf, 20), -ENOSPC);
}

static void malformed_owner_json_is_refused(void **state)
{
	static const char *const bad[] = {
		"", "[]", "{}", "not json",
		"{\"node\":\"n1\",\"udp\":\"a:1\",\"http\":\"b:2\"}",             /* no epoch */
		"{\"node\":\"n1\",\"udp\":\"a:1\",\"http\":\"b:2\",\"epoch\":-1}",
		"{\"node\":\"\",\"udp\":\"a:1\",\"http\":\"b:2\",\"epoch\":1}",
		"{\"node\":5,\"udp\":\"a:1\",\"http\":\"b:2\",\"epoch\":1}",
		/* longer than a node id */
		("{\"node\":\"n1234567890123456789012345678901234\",\"udp\":\"a:1\","
		 "\"http\":\"b:2\",\"epoch\":1}"),
	};
	struct shard_owner o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(shard_owner_parse(bad[i], &o), -EINVAL);
}

static void node_json_round_trips(void **state)
{
	struct shard_node n = {.udp = "10.77.1.2:7000", .http = "127.0.0.1:18520",
			       .seen_at_ms = 1796546762416};
	struct shard_node back;
	char buf[256];

	(void)state;
	assert_true(shard_node_json(&n, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "{\"udp\":\"10.77.1.2:7000\",\"http\":\"127.0.0.1:18520\","
				 "\"seenAt\":1796546762416}");
	assert_int_equal(shard_node_parse(buf, &back), 0);
	assert_int_equal(back.seen_at_ms, 1796546762416);
	assert_int_equal(shard_node_parse("{\"udp\":\"x:1\"}", &back), -EINVAL);
}

static void owner_udp_address_becomes_reply_bytes_only_for_ipv4(void **state)
{
	uint32_t ip;
	uint16_t port;
	uint8_t b[4];

	(void)state;
	assert_true(shard_addr_ipv4("10.77.1.2:7000", &ip, &port));
	memcpy(b, &ip, 4);
	assert_int_equal(b[0], 10);
	assert_int_equal(b[3], 2);
	assert_int_equal(ntohs(port), 7000);
	assert_false(shard_addr_ipv4("edge1.example:7000", &ip, &port));
	assert_int_equal(ip, 0);
	assert_int_equal(port, 0);
	assert_false(shard_addr_ipv4("[fd77::2]:7000", &ip, &port));
	assert_false(shard_addr_ipv4("10.0.0.1:0", &ip, &port));
	assert_false(shard_addr_ipv4("10.0.0.1:70000", &ip, &port));
	assert_false(shard_addr_ipv4("10.0.0.1", &ip, &port));
	assert_false(shard_addr_ipv4(":7000", &ip, &port));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(event_belongs_to_its_id_modulo_the_partitions),
		cmocka_unit_test(owner_json_is_the_published_form_and_parses_back),
		cmocka_unit_test(malformed_owner_json_is_refused),
		cmocka_unit_test(node_json_round_trips),
		cmocka_unit_test(owner_udp_address_becomes_reply_bytes_only_for_ipv4),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
