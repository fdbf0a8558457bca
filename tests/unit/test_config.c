/* Settings: defaults < file < environment < flags, and clear refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userspace/ticketd/config.h"

static enum config_result load(struct config *cfg, char *err, int argc, ...)
{
	char *argv[16] = {"ticketd"};
	va_list ap;

	va_start(ap, argc);
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	return config_load(cfg, argc, argv, err, 256);
}

static void defaults_match_the_contract(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	unsetenv("TICKETD_HTTP_PORT");
	assert_int_equal(load(&cfg, err, 1), CONFIG_OK);
	assert_string_equal(cfg.http_addr, "127.0.0.1");
	assert_int_equal(cfg.http_port, 8080);
	assert_int_equal(cfg.db_port, 3307);
	assert_int_equal(cfg.redis_port, 6380);
	assert_string_equal(cfg.kafka_bootstrap, "127.0.0.1:9092");
	assert_int_equal(cfg.kafka_linger_ms, 20);
	assert_int_equal(cfg.udp_port, 7000);
	assert_int_equal(cfg.hold_default_seconds, 120);
	assert_int_equal(cfg.hold_limit, 8);
	assert_false(cfg.demo_data);
	assert_false(cfg.dev_mode);
}

static void file_then_env_then_flags_win_in_order(void **state)
{
	char path[] = "/tmp/ticketd-config-XXXXXX";
	struct config cfg;
	char err[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	fprintf(f, "# comment\nhttp_port = 9001\nredis-port=7001\ndb_port = 5001\n");
	fclose(f);
	setenv("TICKETD_REDIS_PORT", "7002", 1);
	assert_int_equal(load(&cfg, err, 5, "--config", path, "--db-port", "5003"),
			 CONFIG_OK);
	assert_int_equal(cfg.http_port, 9001); /* file */
	assert_int_equal(cfg.redis_port, 7002); /* env over file */
	assert_int_equal(cfg.db_port, 5003);    /* flag over file */
	unsetenv("TICKETD_REDIS_PORT");
	unlink(path);
}

static void bare_boolean_flag_means_true(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 3, "--demo-data", "--http-port=8181"),
			 CONFIG_OK);
	assert_true(cfg.demo_data);
	assert_int_equal(cfg.http_port, 8181);
}

static void out_of_range_number_is_refused_with_reason(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 3, "--http-port", "70000"), CONFIG_ERROR);
	assert_non_null(strstr(err, "http_port"));
	assert_int_equal(load(&cfg, err, 3, "--hold-default-seconds", "4"),
			 CONFIG_ERROR);
	assert_int_equal(load(&cfg, err, 3, "--http-port", "80x"), CONFIG_ERROR);
}

static void unknown_option_is_refused(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 2, "--no-such-thing"), CONFIG_ERROR);
	assert_non_null(strstr(err, "no-such-thing"));
	assert_int_equal(load(&cfg, err, 2, "stray"), CONFIG_ERROR);
	assert_int_equal(load(&cfg, err, 2, "--db-host"), CONFIG_ERROR);
}

static void bad_hold_path_is_refused(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 3, "--hold-path", "carrier-pigeon"),
			 CONFIG_ERROR);
	assert_int_equal(load(&cfg, err, 3, "--hold-path", "socket"), CONFIG_OK);
}

/* Multi-node (issue #16) is off without node_id, on with a valid one;
 * the advertised addresses default to the listen addresses. */
static void node_id_switches_multi_node_on_and_must_be_a_plain_name(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	unsetenv("TICKETD_NODE_ID");
	assert_int_equal(load(&cfg, err, 1), CONFIG_OK);
	assert_false(cfg.shards_on);
	assert_int_equal(cfg.shard_partitions, 16);
	assert_string_equal(cfg.advertise_udp, "127.0.0.1:7000");
	assert_string_equal(cfg.advertise_http, "127.0.0.1:8080");
	assert_int_equal(load(&cfg, err, 7, "--node-id", "edge-2", "--udp-port", "7002",
			      "--advertise-http", "10.0.0.5:80"),
			 CONFIG_OK);
	assert_true(cfg.shards_on);
	assert_string_equal(cfg.node_id, "edge-2");
	assert_string_equal(cfg.advertise_udp, "127.0.0.1:7002");
	assert_string_equal(cfg.advertise_http, "10.0.0.5:80");
	assert_int_equal(load(&cfg, err, 3, "--node-id", "Edge_2"), CONFIG_ERROR);
	assert_non_null(strstr(err, "node_id"));
	assert_int_equal(load(&cfg, err, 3, "--node-id",
			      "a23456789012345678901234567890123"), CONFIG_ERROR);
	assert_int_equal(load(&cfg, err, 5, "--node-id", "n1", "--advertise-udp", "nohost"),
			 CONFIG_ERROR);
	assert_non_null(strstr(err, "advertise_udp"));
	assert_int_equal(load(&cfg, err, 5, "--node-id", "n1", "--shard-partitions", "0"),
			 CONFIG_ERROR);
}

static void unknown_compression_codec_is_refused(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 3, "--kafka-compression", "brotli"), CONFIG_ERROR);
	assert_non_null(strstr(err, "kafka_compression"));
	assert_int_equal(load(&cfg, err, 3, "--kafka-compression", "zstd"), CONFIG_OK);
}

static void bad_env_value_names_the_variable(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	setenv("TICKETD_DB_POOL", "lots", 1);
	assert_int_equal(load(&cfg, err, 1), CONFIG_ERROR);
	assert_non_null(strstr(err, "TICKETD_DB_POOL"));
	unsetenv("TICKETD_DB_POOL");
}

static void password_flags_are_blanked_in_argv(void **state)
{
	char a1[] = "--db-password", a2[] = "s3cret", a3[] = "--db_password=other",
	     a4[] = "--db-user", a5[] = "ticket", a6[] = "--db-passwordx=keep";
	char *argv[] = {"ticketd", a1, a2, a3, a4, a5, a6};
	const char *name = NULL;
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(config_load(&cfg, 6, argv, err, sizeof(err)), CONFIG_OK);
	assert_string_equal(cfg.db_password, "other");
	assert_int_equal(config_hide_secrets(7, argv, &name), 2);
	assert_string_equal(name, "db_password");
	assert_string_equal(a2, "xxxxxx");
	assert_string_equal(a3, "--db_password=xxxxx");
	assert_string_equal(a5, "ticket"); /* not a secret */
	assert_string_equal(a6, "--db-passwordx=keep");
	assert_string_equal(cfg.db_password, "other"); /* the value was copied */
}

static void no_secret_flag_means_nothing_to_hide(void **state)
{
	char a1[] = "--db-user", a2[] = "ticket";
	char *argv[] = {"ticketd", a1, a2};
	const char *name = NULL;

	(void)state;
	assert_int_equal(config_hide_secrets(3, argv, &name), 0);
	assert_null(name);
}

static void slot_grace_shorter_than_hold_and_payment_is_refused(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 5, "--payment-deadline-seconds", "300",
			      "--session-slot-grace-seconds", "989"),
			 CONFIG_ERROR);
	assert_non_null(strstr(err, "session_slot_grace_seconds"));
	assert_non_null(strstr(err, "990")); /* 600 + 300 + 30 (settle margin) + 60 */
	assert_int_equal(load(&cfg, err, 5, "--payment-deadline-seconds", "300",
			      "--session-slot-grace-seconds", "990"),
			 CONFIG_OK);
}

static void session_defaults_cover_every_slot_and_bound_the_db_wait(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 1), CONFIG_OK);
	assert_int_equal(cfg.session_slots, 4194302);
	assert_int_equal(cfg.session_slot_grace_seconds, 3600);
	assert_int_equal(cfg.db_wait_ms, 250);
}

/* An authorization stays inside ticketd while the gateway takes its time
 * (paymentd's default delay: up to 300 ms): at issue #13's 1000 orders/s
 * about 300 wait there at once, which the payments door and the gateway
 * places must both admit (128 refused a share of them at 500/s). */
static void payment_bounds_admit_the_gateway_delay_at_1000_per_s(void **state)
{
	struct config cfg;
	char err[256];

	(void)state;
	assert_int_equal(load(&cfg, err, 1), CONFIG_OK);
	assert_int_equal(cfg.payment_queue_max, 512);
	assert_int_equal(cfg.http_inflight_payments, 640);
	assert_true(cfg.payment_queue_max >= 1000 * 300 / 1000);
	/* the door also holds those being recorded and settled */
	assert_true(cfg.http_inflight_payments > cfg.payment_queue_max);
	assert_int_equal(cfg.http_inflight_orders, 128);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_match_the_contract),
		cmocka_unit_test(payment_bounds_admit_the_gateway_delay_at_1000_per_s),
		cmocka_unit_test(file_then_env_then_flags_win_in_order),
		cmocka_unit_test(bare_boolean_flag_means_true),
		cmocka_unit_test(out_of_range_number_is_refused_with_reason),
		cmocka_unit_test(unknown_option_is_refused),
		cmocka_unit_test(bad_hold_path_is_refused),
		cmocka_unit_test(unknown_compression_codec_is_refused),
		cmocka_unit_test(node_id_switches_multi_node_on_and_must_be_a_plain_name),
		cmocka_unit_test(slot_grace_shorter_than_hold_and_payment_is_refused),
		cmocka_unit_test(session_defaults_cover_every_slot_and_bound_the_db_wait),
		cmocka_unit_test(bad_env_value_names_the_variable),
		cmocka_unit_test(password_flags_are_blanked_in_argv),
		cmocka_unit_test(no_secret_flag_means_nothing_to_hide),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
