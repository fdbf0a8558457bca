/* The shared settings engine (userspace/lib/settings.c): defaults, file,
 * environment and flags in that order, every type, and clear errors. Links
 * libtkt.a only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include "userspace/lib/settings.h"

struct demo {
	char name[8];
	int port;
	long big;
	uint32_t ms;
	uint64_t seed;
	double ratio;
	bool on;
};

static const struct setting table[] = {
	SETTING(struct demo, name, SETTING_STR, "abc", 0, 0, "a name"),
	SETTING(struct demo, port, SETTING_INT, "80", 1, 65535, "a port"),
	SETTING(struct demo, big, SETTING_LONG, "5", 0, 10000000000LL, "a long"),
	SETTING(struct demo, ms, SETTING_U32, "7", 0, 100, "a u32"),
	SETTING(struct demo, seed, SETTING_U64, "0", 0, 0, "a u64"),
	SETTING(struct demo, ratio, SETTING_RATIO, "0.5", 0, 0, "a ratio"),
	SETTING(struct demo, on, SETTING_BOOL, "false", 0, 0, "a flag"),
};

static const struct settings_spec spec = {
	.prog = "demo",
	.env_prefix = "TKTDEMO_",
	.file_env = "TKTDEMO_CONFIG",
	.table = table,
	.n = sizeof(table) / sizeof(table[0]),
};

static enum settings_result load(struct demo *d, int argc, char **argv,
				 char *err)
{
	memset(d, 0, sizeof(*d));
	return settings_load(&spec, d, argc, argv, err, 256);
}

static void defaults_fill_every_type(void **state)
{
	char *argv[] = {"demo"};
	struct demo d;
	char err[256];

	(void)state;
	assert_int_equal(load(&d, 1, argv, err), SETTINGS_OK);
	assert_string_equal(d.name, "abc");
	assert_int_equal(d.port, 80);
	assert_int_equal(d.big, 5);
	assert_int_equal(d.ms, 7);
	assert_true(d.seed == 0);
	assert_true(d.ratio == 0.5);
	assert_false(d.on);
}

static void flags_beat_environment_and_file(void **state)
{
	char path[] = "/tmp/tkt-settings-XXXXXX";
	int fd = mkstemp(path);
	char *argv[] = {"demo", "--port=9", "--on", "--big", "6000000000"};
	struct demo d;
	char err[256];
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("# comment\nport = 7\nname = file\nratio=0.25\n", f);
	fclose(f);
	setenv("TKTDEMO_CONFIG", path, 1);
	setenv("TKTDEMO_PORT", "8", 1);
	setenv("TKTDEMO_SEED", "0x10", 1);
	assert_int_equal(load(&d, 5, argv, err), SETTINGS_OK);
	assert_int_equal(d.port, 9);          /* flag over env over file */
	assert_string_equal(d.name, "file");  /* file over default */
	assert_true(d.ratio == 0.25);
	assert_true(d.seed == 16);            /* env, hex */
	assert_true(d.on);                    /* bare flag */
	assert_int_equal(d.big, 6000000000L);
	unsetenv("TKTDEMO_CONFIG");
	unsetenv("TKTDEMO_PORT");
	unsetenv("TKTDEMO_SEED");
	unlink(path);
}

static void bad_values_are_refused_with_the_setting_named(void **state)
{
	static const char *const bad[][2] = {
		{"--port", "0"},       {"--port", "http"}, {"--ms", "101"},
		{"--ratio", "1.5"},    {"--seed", "-1"},   {"--on", "maybe"},
		{"--name", "too-long-for-eight"},
	};
	struct demo d;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[] = {"demo", (char *)bad[i][0], (char *)bad[i][1]};

		assert_int_equal(load(&d, 3, argv, err), SETTINGS_ERROR);
		assert_non_null(strstr(err, bad[i][0] + 2));
	}
}

static void unknown_and_incomplete_options_are_errors(void **state)
{
	char *unknown[] = {"demo", "--nope", "1"};
	char *missing[] = {"demo", "--port"};
	char *stray[] = {"demo", "port"};
	struct demo d;
	char err[256];

	(void)state;
	assert_int_equal(load(&d, 3, unknown, err), SETTINGS_ERROR);
	assert_non_null(strstr(err, "unknown option '--nope'"));
	assert_int_equal(load(&d, 2, missing, err), SETTINGS_ERROR);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(load(&d, 2, stray, err), SETTINGS_ERROR);
	assert_non_null(strstr(err, "unexpected argument"));
}

static void set_takes_dashes_or_underscores(void **state)
{
	struct demo d = {0};
	char err[256];

	(void)state;
	assert_int_equal(settings_set(&spec, &d, "PORT", "42", err, sizeof(err)), 0);
	assert_int_equal(d.port, 42);
	assert_int_equal(settings_set(&spec, &d, "nope", "1", err, sizeof(err)),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_fill_every_type),
		cmocka_unit_test(flags_beat_environment_and_file),
		cmocka_unit_test(bad_values_are_refused_with_the_setting_named),
		cmocka_unit_test(unknown_and_incomplete_options_are_errors),
		cmocka_unit_test(set_takes_dashes_or_underscores),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
