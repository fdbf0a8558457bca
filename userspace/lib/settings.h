/* One settings engine for every program: a table of settings (name, type,
 * offset into the program's config struct, default, range, help) and one
 * loader that applies, later winning: the defaults, a "key = value" file
 * (when the program allows one), <PREFIX><SETTING> environment variables
 * and --setting flags. `PROG --help` prints the table. In the style of
 * xdp-tools' params: the table is the only place a setting is declared. */
#ifndef TKT_LIB_SETTINGS_H
#define TKT_LIB_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum setting_type {
	SETTING_STR,   /* char[size] */
	SETTING_INT,   /* int, in min..max */
	SETTING_LONG,  /* long, in min..max */
	SETTING_U32,   /* uint32_t, in min..max */
	SETTING_U64,   /* uint64_t, any (decimal or 0x hex) */
	SETTING_RATIO, /* double in 0..1 */
	SETTING_BOOL,  /* bool: true/false, yes/no, on/off, 1/0; a bare flag is true */
};

struct setting {
	const char *name; /* snake_case; flags may use '-' for '_' */
	enum setting_type type;
	size_t offset, size; /* of the field in the config struct */
	const char *def;
	long long min, max; /* SETTING_INT, _LONG, _U32 */
	const char *help;
};

/* One table row: SETTING(struct config, http_port, SETTING_INT, "8080", 1,
 * 65535, "HTTP listen port"). */
#define SETTING(type_, field, kind, def, min, max, help)                       \
	{ #field, kind, offsetof(type_, field), sizeof(((type_ *)0)->field),   \
	  def, min, max, help }

struct settings_spec {
	const char *prog;       /* for messages */
	const char *env_prefix; /* "TICKETD_": TICKETD_HTTP_PORT */
	/* Environment variable naming the config file (also --config FILE);
	 * NULL: the program takes no config file. */
	const char *file_env;
	const char *intro, *outro; /* help text around the list (may be NULL) */
	const struct setting *table;
	size_t n;
};

enum settings_result {
	SETTINGS_OK = 0,
	SETTINGS_HELP = 1,  /* --help was asked for; help already printed */
	SETTINGS_ERROR = -1 /* one-line reason in err */
};

/* Fills cfg (zeroed first) from defaults, file, environment, argv. */
enum settings_result settings_load(const struct settings_spec *spec, void *cfg,
				   int argc, char **argv, char *err,
				   size_t errlen);

/* Sets one setting by name ("http_port" or "http-port"); -ENOENT for an
 * unknown name, -EINVAL for a bad value (reason in err). */
int settings_set(const struct settings_spec *spec, void *cfg, const char *name,
		 const char *value, char *err, size_t errlen);

#endif
