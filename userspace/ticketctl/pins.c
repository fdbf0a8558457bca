/* ticketctl's access to the edge's pinned maps (pins.h). */
#include "userspace/ticketctl/pins.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <jansson.h>

#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge_peek.h"

int pins_parse(int argc, char **argv, const char *usage, struct pins_opts *o,
	       int *first, int *exit_code)
{
	static const struct option longopts[] = {
		{"pin-dir", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *env = getenv("TICKET_PIN_DIR");
	int c;

	o->pin_dir = env && *env ? env : TKT_PIN_DIR_DEFAULT;
	o->json = false;
	optind = 0; /* glibc: a full restart, not the "+" mode of main's scan */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (!*optarg) {
				fprintf(stderr, "ticketctl: --pin-dir is empty\n");
				*exit_code = PINS_EXIT_USAGE;
				return -1;
			}
			o->pin_dir = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			*exit_code = PINS_EXIT_OK;
			return -1;
		default:
			fputs(usage, stderr);
			*exit_code = PINS_EXIT_USAGE;
			return -1;
		}
	}
	*first = optind;
	return 0;
}

void pins_fail(const struct pins_opts *o, const char *error, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ticketctl: %s: %s\n", error, detail);
	if (o->json) {
		json_t *j = json_pack("{s:s, s:s}", "error", error, "detail", detail);
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
	}
}

int pins_dir_check(const struct pins_opts *o)
{
	struct stat st;

	if (stat(o->pin_dir, &st) < 0) {
		int e = errno;

		if (e == EACCES || e == EPERM) {
			pins_fail(o, "not permitted",
				  "%s: %s (the pins are root's: run as root)",
				  o->pin_dir, strerror(e));
			return PINS_EXIT_ERROR;
		}
		pins_fail(o, "no such pin directory",
			  "%s: %s (is ticketd running with another --pin-dir, or "
			  "with the shm backend?)",
			  o->pin_dir, strerror(e));
		return PINS_EXIT_NOT_FOUND;
	}
	if (!S_ISDIR(st.st_mode)) {
		pins_fail(o, "no such pin directory", "%s is not a directory",
			  o->pin_dir);
		return PINS_EXIT_NOT_FOUND;
	}
	return 0;
}

int pins_open(const struct pins_opts *o, const char *name)
{
	int fd = peek_pin_open(o->pin_dir, name);

	if (fd >= 0)
		return fd;
	if (fd == -EACCES || fd == -EPERM) {
		pins_fail(o, "not permitted",
			  "%s/%s: %s (reading pinned maps needs root%s)",
			  o->pin_dir, name, strerror(-fd),
			  geteuid() ? "; you are not" : " and CAP_BPF");
		return -PINS_EXIT_ERROR;
	}
	if (fd == -ENOENT) {
		pins_fail(o, "no such pin",
			  "%s/%s does not exist (not a seat table's pin "
			  "directory, or one from an older ticketd)",
			  o->pin_dir, name);
		return -PINS_EXIT_NOT_FOUND;
	}
	pins_fail(o, "cannot open pin", "%s/%s: %s", o->pin_dir, name,
		  strerror(-fd));
	return -PINS_EXIT_ERROR;
}

uint64_t pins_unix_ms(int config_fd, uint64_t mono_ns)
{
	struct tkt_config cfg;
	__u32 key = 0;
	uint64_t unix_ms;

	if (config_fd >= 0 && bpf_map_lookup_elem(config_fd, &key, &cfg) == 0 &&
	    cfg.unix_offset_ns)
		unix_ms = (mono_ns + cfg.unix_offset_ns) / TKT_NS_PER_MS;
	else
		unix_ms = tkt_unix_ns() / TKT_NS_PER_MS;
	explicit_bzero(&cfg, sizeof(cfg)); /* the token key */
	return unix_ms;
}
