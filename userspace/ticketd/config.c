#include "userspace/ticketd/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum setting_type { T_STR, T_INT, T_LONG, T_BOOL };

struct setting {
	const char *name;
	enum setting_type type;
	size_t offset;
	const char *def;
	long min, max; /* for numbers */
	const char *help;
};

#define S(field, type, def, min, max, help)                                   \
	{ #field, type, offsetof(struct config, field), def, min, max, help }

static const struct setting settings[] = {
	S(http_addr, T_STR, "127.0.0.1", 0, 0, "HTTP listen address"),
	S(http_port, T_INT, "8080", 1, 65535, "HTTP listen port"),
	S(http_threads, T_INT, "2", 1, 64, "HTTP worker threads (epoll)"),
	S(http_max_connections, T_INT, "16000", 16, 1000000,
	  "maximum concurrent HTTP connections"),
	S(http_max_body, T_LONG, "65536", 256, 16777216,
	  "largest accepted request body, bytes (larger: 413)"),
	S(web_root, T_STR, "web/dist", 0, 0,
	  "folder of the built web page served at /"),
	S(db_host, T_STR, "127.0.0.1", 0, 0, "MariaDB host"),
	S(db_port, T_INT, "3307", 1, 65535, "MariaDB port"),
	S(db_user, T_STR, "ticket", 0, 0, "MariaDB user"),
	S(db_password, T_STR, "ticket", 0, 0, "MariaDB password"),
	S(db_name, T_STR, "ticketing", 0, 0, "MariaDB database"),
	S(db_pool, T_INT, "4", 1, 64, "MariaDB connections in the pool"),
	S(redis_host, T_STR, "127.0.0.1", 0, 0, "Redis host"),
	S(redis_port, T_INT, "6380", 1, 65535, "Redis port"),
	S(kafka_bootstrap, T_STR, "127.0.0.1:9092", 0, 0,
	  "Kafka bootstrap servers"),
	S(payment_url, T_STR, "http://127.0.0.1:8084", 0, 0,
	  "payment gateway (paymentd) base URL"),
	S(payment_timeout_ms, T_INT, "2000", 50, 60000,
	  "timeout of one gateway attempt, ms"),
	S(payment_attempts, T_INT, "3", 1, 10,
	  "gateway attempts before a payment counts as failed"),
	S(payment_deadline_seconds, T_INT, "300", 5, 86400,
	  "how long an order keeps its seats waiting for payment"),
	S(hold_path, T_STR, "auto", 0, 0,
	  "UDP hold door: xdp, socket, or auto (xdp when it attaches)"),
	S(xdp_iface, T_STR, "", 0, 0,
	  "interface to attach the XDP program to (empty: socket door)"),
	S(xdp_netns, T_STR, "", 0, 0,
	  "network namespace (/run/netns/NAME) holding xdp_iface"),
	S(xdp_peer_iface, T_STR, "", 0, 0,
	  "host-side veth peer that gets an XDP_PASS program"),
	S(udp_addr, T_STR, "127.0.0.1", 0, 0, "socket door listen address"),
	S(udp_port, T_INT, "7000", 1, 65535, "UDP hold protocol port"),
	S(udp_workers, T_INT, "0", 0, 64,
	  "socket door worker threads (0: one per core)"),
	S(udp_rate_limit, T_INT, "200000", 0, 100000000,
	  "UDP requests per second per source address (0: no limit)"),
	S(udp_rate_burst, T_INT, "20000", 1, 100000000,
	  "UDP burst per source address"),
	S(pin_dir, T_STR, "/sys/fs/bpf/ticket", 0, 0,
	  "bpffs folder where the edge maps are pinned"),
	S(state_dir, T_STR, ".run/ticketd", 0, 0,
	  "folder for the token key and the socket door's seat table"),
	S(sse_ping_seconds, T_INT, "15", 1, 3600,
	  "seconds between ': ping' comments on idle seat streams"),
	S(sse_max_clients, T_INT, "15000", 1, 1000000,
	  "open seat streams at most (more: 503 TOO_MANY_STREAMS)"),
	S(sse_queue_events, T_INT, "1024", 16, 1000000,
	  "changes a seat stream may fall behind before it is dropped"),
	S(sse_queue_bytes, T_LONG, "262144", 4096, 1073741824,
	  "bytes of changes a seat stream may fall behind before it is dropped"),
	S(session_ttl, T_LONG, "86400", 60, 31536000,
	  "session lifetime, seconds"),
	S(hold_default_seconds, T_INT, "120", 5, 600, "default hold, seconds"),
	S(hold_limit, T_INT, "8", 1, 1000,
	  "seats one session may hold per event (both doors + orders)"),
	S(node_id, T_STR, "", 0, 0,
	  "this node's name, unique among live nodes (empty: host:http_port)"),
	S(demo_data, T_BOOL, "false", 0, 0,
	  "create 3 demo events of 10 x 10 seats when there are none"),
	S(dev_mode, T_BOOL, "false", 0, 0,
	  "development mode: allows \"simulate\" on payment authorize"),
	S(log_level, T_STR, "info", 0, 0, "debug, info, warn or error"),
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find_setting(const char *name)
{
	char norm[64];
	size_t i;

	for (i = 0; name[i] && i < sizeof(norm) - 1; i++)
		norm[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
	norm[i] = '\0';
	for (i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].name, norm) == 0)
			return &settings[i];
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

static int apply(struct config *cfg, const struct setting *s, const char *value,
		 char *err, size_t errlen)
{
	char *p = (char *)cfg + s->offset;
	char *end;
	long n;

	switch (s->type) {
	case T_STR:
		if (strlen(value) >= CONFIG_STR_MAX) {
			snprintf(err, errlen, "%s: value too long", s->name);
			return -EINVAL;
		}
		strcpy(p, value);
		return 0;
	case T_BOOL:
		if (parse_bool(value, (bool *)p) < 0) {
			snprintf(err, errlen, "%s: expected true or false, got '%s'",
				 s->name, value);
			return -EINVAL;
		}
		return 0;
	case T_INT:
	case T_LONG:
		errno = 0;
		n = strtol(value, &end, 10);
		if (errno || end == value || *end || n < s->min || n > s->max) {
			snprintf(err, errlen, "%s: expected an integer in %ld..%ld, got '%s'",
				 s->name, s->min, s->max, value);
			return -EINVAL;
		}
		if (s->type == T_INT)
			*(int *)p = (int)n;
		else
			*(long *)p = n;
		return 0;
	}
	return -EINVAL;
}

int config_set(struct config *cfg, const char *name, const char *value,
	       char *err, size_t errlen)
{
	const struct setting *s = find_setting(name);

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
static int load_file(struct config *cfg, const char *path, char *err,
		     size_t errlen)
{
	char line[1024], msg[256];
	int lineno = 0;
	FILE *f = fopen(path, "r");

	if (!f) {
		snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
		return -errno;
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
		if (config_set(cfg, key, val, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			fclose(f);
			return -EINVAL;
		}
	}
	fclose(f);
	return 0;
}

static int load_env(struct config *cfg, char *err, size_t errlen)
{
	char env[96], msg[256];
	size_t i, j;

	for (i = 0; i < N_SETTINGS; i++) {
		const char *v;

		snprintf(env, sizeof(env), "TICKETD_%s", settings[i].name);
		for (j = 8; env[j]; j++)
			env[j] = (char)toupper((unsigned char)env[j]);
		v = getenv(env);
		if (v && apply(cfg, &settings[i], v, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "%s: %s", env, msg);
			return -EINVAL;
		}
	}
	return 0;
}

void config_print_help(FILE *out, const char *prog)
{
	size_t i, j;

	fprintf(out,
		"usage: %s [--config FILE] [--SETTING VALUE | --SETTING=VALUE]...\n\n"
		"Each setting comes from, later winning: its default, the config file\n"
		"(key = value lines), the environment variable TICKETD_<SETTING>, the\n"
		"command line. Booleans given as a bare flag (--demo-data) mean true.\n\n",
		prog);
	for (i = 0; i < N_SETTINGS; i++) {
		char flag[64];

		snprintf(flag, sizeof(flag), "%s", settings[i].name);
		for (j = 0; flag[j]; j++)
			if (flag[j] == '_')
				flag[j] = '-';
		fprintf(out, "  --%-22s %s (default: %s)\n", flag, settings[i].help,
			*settings[i].def ? settings[i].def : "\"\"");
	}
}

enum config_result config_load(struct config *cfg, int argc, char **argv,
			       char *err, size_t errlen)
{
	const char *file = getenv("TICKETD_CONFIG");
	char msg[256];
	size_t i;
	int a;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < N_SETTINGS; i++)
		if (apply(cfg, &settings[i], settings[i].def, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "bad default: %s", msg);
			return CONFIG_ERROR;
		}
	/* The config file is named before anything else is applied. */
	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
			config_print_help(stdout, argv[0]);
			return CONFIG_HELP;
		}
		if (!strcmp(argv[a], "--config") && a + 1 < argc)
			file = argv[a + 1];
		else if (!strncmp(argv[a], "--config=", 9))
			file = argv[a] + 9;
	}
	if (file && *file && load_file(cfg, file, err, errlen) < 0)
		return CONFIG_ERROR;
	if (load_env(cfg, err, errlen) < 0)
		return CONFIG_ERROR;

	for (a = 1; a < argc; a++) {
		char name[64];
		const char *arg = argv[a], *eq, *val;
		const struct setting *s;

		if (strncmp(arg, "--", 2)) {
			snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
			return CONFIG_ERROR;
		}
		arg += 2;
		eq = strchr(arg, '=');
		snprintf(name, sizeof(name), "%.*s",
			 (int)(eq ? (size_t)(eq - arg) : strlen(arg)), arg);
		if (!strcmp(name, "config")) {
			if (!eq)
				a++;
			continue;
		}
		s = find_setting(name);
		if (!s) {
			snprintf(err, errlen, "unknown option '--%s' (see --help)", name);
			return CONFIG_ERROR;
		}
		if (eq) {
			val = eq + 1;
		} else if (s->type == T_BOOL &&
			   (a + 1 >= argc || !strncmp(argv[a + 1], "--", 2))) {
			val = "true";
		} else if (a + 1 < argc) {
			val = argv[++a];
		} else {
			snprintf(err, errlen, "option '--%s' needs a value", name);
			return CONFIG_ERROR;
		}
		if (apply(cfg, s, val, msg, sizeof(msg)) < 0) {
			snprintf(err, errlen, "--%s", msg);
			return CONFIG_ERROR;
		}
	}
	if (!cfg->node_id[0]) {
		char host[128] = "ticketd";

		gethostname(host, sizeof(host) - 1);
		snprintf(cfg->node_id, sizeof(cfg->node_id), "%s:%d", host, cfg->http_port);
	}
	if (strcmp(cfg->hold_path, "auto") && strcmp(cfg->hold_path, "xdp") &&
	    strcmp(cfg->hold_path, "socket")) {
		snprintf(err, errlen, "hold_path: expected auto, xdp or socket, got '%s'",
			 cfg->hold_path);
		return CONFIG_ERROR;
	}
	return CONFIG_OK;
}
