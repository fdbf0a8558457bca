#include "userspace/lib/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct setting *find_setting(const struct settings_spec *spec,
					  const char *name, size_t len)
{
	char norm[64];
	size_t i;

	if (len >= sizeof(norm))
		return NULL;
	for (i = 0; i < len; i++)
		norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	norm[len] = '\0';
	for (i = 0; i < spec->n; i++)
		if (!strcmp(spec->table[i].name, norm))
			return &spec->table[i];
	return NULL;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") ||
	    !strcasecmp(v, "on")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") ||
	    !strcasecmp(v, "off")) {
		*out = false;
		return 0;
	}
	return -EINVAL;
}

static int apply(void *cfg, const struct setting *s, const char *value,
		 char *err, size_t errlen)
{
	char *p = (char *)cfg + s->offset;
	char *end;

	errno = 0;
	switch (s->type) {
	case SETTING_STR:
		if (strlen(value) >= s->size) {
			snprintf(err, errlen, "%s: value too long", s->name);
			return -EINVAL;
		}
		strcpy(p, value);
		return 0;
	case SETTING_BOOL:
		if (parse_bool(value, (bool *)p) < 0) {
			snprintf(err, errlen, "%s: expected true or false, got '%s'",
				 s->name, value);
			return -EINVAL;
		}
		return 0;
	case SETTING_INT:
	case SETTING_LONG:
	case SETTING_U32: {
		long long n = strtoll(value, &end, 10);

		if (errno || end == value || *end || n < s->min || n > s->max) {
			snprintf(err, errlen, "%s: expected an integer in %lld..%lld, got '%s'",
				 s->name, s->min, s->max, value);
			return -EINVAL;
		}
		if (s->type == SETTING_INT)
			*(int *)p = (int)n;
		else if (s->type == SETTING_LONG)
			*(long *)p = (long)n;
		else
			*(uint32_t *)p = (uint32_t)n;
		return 0;
	}
	case SETTING_U64: {
		unsigned long long n;

		while (*value == ' ')
			value++;
		n = strtoull(value, &end, 0);
		if (errno || end == value || *end || *value == '-') {
			snprintf(err, errlen, "%s: expected an unsigned 64-bit integer, got '%s'",
				 s->name, value);
			return -EINVAL;
		}
		*(uint64_t *)p = n;
		return 0;
	}
	case SETTING_RATIO: {
		double d = strtod(value, &end);

		if (errno || end == value || *end || !(d >= 0.0 && d <= 1.0)) {
			snprintf(err, errlen, "%s: expected a number in 0..1, got '%s'",
				 s->name, value);
			return -EINVAL;
		}
		*(double *)p = d;
		return 0;
	}
	}
	return -EINVAL;
}

int settings_set(const struct settings_spec *spec, void *cfg, const char *name,
		 const char *value, char *err, size_t errlen)
{
	const struct setting *s = find_setting(spec, name, strlen(name));

	if (!s) {
		snprintf(err, errlen, "unknown setting '%s' (see --help)", name);
		return -ENOENT;
	}
	return apply(cfg, s, value, err, errlen);
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "key = value" lines; '#' starts a comment. */
static int load_file(const struct settings_spec *spec, void *cfg,
		     const char *path, char *err, size_t errlen)
{
	char line[1024], msg[256];
	int lineno = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		int e = errno;

		snprintf(err, errlen, "config file %s: %s", path, strerror(e));
		return -e;
	}
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#'), *eq, *key, *val;

		lineno++;
		if (hash)
			*hash = '\0';
		key = trim(line);
		if (!*key)
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
			fclose(f);
			return -EINVAL;
		}
		*eq = '\0';
		val = trim(eq + 1);
		key = trim(key);
		if (settings_set(spec, cfg, key, val, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			fclose(f);
			return -EINVAL;
		}
	}
	fclose(f);
	return 0;
}

static int load_env(const struct settings_spec *spec, void *cfg, char *err,
		    size_t errlen)
{
	size_t plen = strlen(spec->env_prefix);
	char env[96], msg[256];

	for (size_t i = 0; i < spec->n; i++) {
		const char *v;

		snprintf(env, sizeof(env), "%s%s", spec->env_prefix,
			 spec->table[i].name);
		for (size_t j = plen; env[j]; j++)
			env[j] = (char)toupper((unsigned char)env[j]);
		v = getenv(env);
		if (v && apply(cfg, &spec->table[i], v, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: %s", env, msg);
			return -EINVAL;
		}
	}
	return 0;
}

static void settings_print_help(const struct settings_spec *spec, FILE *out,
			 const char *argv0)
{
	fprintf(out, "usage: %s %s[--SETTING VALUE | --SETTING=VALUE]...\n\n", argv0,
		spec->file_env ? "[--config FILE] " : "");
	if (spec->intro)
		fprintf(out, "%s\n\n", spec->intro);
	fprintf(out, "Each setting comes from, later winning: its default,%s",
		spec->file_env ? " the config file\n(key = value lines), " : "\n");
	fprintf(out,
		"the environment variable %s<SETTING>, the command line\n"
		"(--SETTING; '-' and '_' alike). A bare boolean flag means true.\n\n",
		spec->env_prefix);
	for (size_t i = 0; i < spec->n; i++) {
		const struct setting *s = &spec->table[i];
		char flag[64];

		snprintf(flag, sizeof(flag), "%s", s->name);
		for (size_t j = 0; flag[j]; j++)
			if (flag[j] == '_')
				flag[j] = '-';
		fprintf(out, "  --%-22s %s (default: %s)\n", flag, s->help,
			*s->def ? s->def : "\"\"");
	}
	if (spec->outro)
		fprintf(out, "\n%s\n", spec->outro);
}

enum settings_result settings_load(const struct settings_spec *spec, void *cfg,
				   int argc, char **argv, char *err,
				   size_t errlen)
{
	const char *file = spec->file_env ? getenv(spec->file_env) : NULL;
	char msg[256];
	int a;

	for (size_t i = 0; i < spec->n; i++)
		if (apply(cfg, &spec->table[i], spec->table[i].def, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "bad default: %s", msg);
			return SETTINGS_ERROR;
		}
	/* --help wins, and the config file is named before anything else is
	 * applied. */
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
			settings_print_help(spec, stdout, argv[0]);
			return SETTINGS_HELP;
		}
		if (!spec->file_env)
			continue;
		if (!strcmp(argv[a], "--config") && a + 1 < argc)
			file = argv[a + 1];
		else if (!strncmp(argv[a], "--config=", 9))
			file = argv[a] + 9;
	}
	if (file && *file && load_file(spec, cfg, file, err, errlen) < 0)
		return SETTINGS_ERROR;
	if (load_env(spec, cfg, err, errlen) < 0)
		return SETTINGS_ERROR;

	for (a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq, *val;
		const struct setting *s;
		size_t nlen;

		if (strncmp(arg, "--", 2)) {
			snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
			return SETTINGS_ERROR;
		}
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		if (spec->file_env && nlen == 6 && !strncmp(arg, "config", 6)) {
			if (!eq)
				a++;
			continue;
		}
		s = find_setting(spec, arg, nlen);
		if (!s) {
			snprintf(err, errlen, "unknown option '--%.*s' (see --help)",
				 (int)nlen, arg);
			return SETTINGS_ERROR;
		}
		if (eq) {
			val = eq + 1;
		} else if (s->type == SETTING_BOOL &&
			   (a + 1 >= argc || !strncmp(argv[a + 1], "--", 2))) {
			val = "true";
		} else if (a + 1 < argc) {
			val = argv[++a];
		} else {
			snprintf(err, errlen, "option '--%.*s' needs a value", (int)nlen, arg);
			return SETTINGS_ERROR;
		}
		if (apply(cfg, s, val, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "--%s", msg);
			return SETTINGS_ERROR;
		}
	}
	return SETTINGS_OK;
}
