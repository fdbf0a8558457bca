/* ticketctl room: shows and changes an event's waiting room through
 * ticketd's admin endpoints (GET/PUT /admin/events/{id}/room; docs/api.md,
 * "Waiting room"), with the admin key of <state_dir>/admin.key.
 *
 *   ticketctl room EVENT [--on|--off] [--rate N|auto] [--active-max N]
 *                  [--starts-at ISO|none] [--idle-seconds N]
 *                  [--admit-seconds N] [--admin URL] [--admin-key-file PATH]
 *
 * Without a change it prints the room; with one it sends only the given
 * fields and prints the room as stored. Exit: 0 done, 1 ticketd refused
 * (its error printed) or did not answer, 2 usage error. */
#include "userspace/ticketctl/room_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketctl/ctl_http.h"


static void room_usage(FILE *f)
{
	fprintf(f,
		"usage: ticketctl room EVENT [--on|--off] [--rate N|auto] [--active-max N]\n"
		"                 [--starts-at ISO|none] [--idle-seconds N] [--admit-seconds N]\n"
		"                 [--admin URL] [--admin-key-file PATH] [--json]\n"
		"  --admin URL            ticketd's HTTP address (default $TICKET_URL or\n"
		"                         " CTL_DEFAULT_URL ");\n"
		"                         the admin endpoints answer loopback clients only\n"
		"  --admin-key-file PATH  default $TICKET_ADMIN_KEY_FILE or " CTL_DEFAULT_KEY_FILE "\n"
		"  --json                 the room as one line of JSON (default: indented JSON)\n"
		"  --rate N|auto          visitors let through per second (auto: follow\n"
		"                         measured capacity)\n"
		"  --starts-at ISO|none   sale start, e.g. 2030-01-01T20:00:00Z: visitors who\n"
		"                         come before are shuffled at that moment\n"
		"Without a change it prints the room. exit: 0 done, 1 refused or no answer, 2 usage\n");
}

static int parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno || end == s || *end || *out < lo || *out > hi ? -1 : 0;
}

static void print_answer(long status, const struct ctl_answer *a, bool compact, FILE *f)
{
	json_t *j = a->body ? json_loads(a->body, 0, NULL) : NULL;
	char *text = j ? json_dumps(j, (compact ? JSON_COMPACT : JSON_INDENT(2)) |
					       JSON_PRESERVE_ORDER)
		       : NULL;

	if (text)
		fprintf(f, "%s\n", text);
	else
		fprintf(f, "HTTP %ld %s\n", status, a->body ? a->body : "");
	free(text);
	json_decref(j);
}

int ticketctl_room(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"on", no_argument, NULL, 'o'},
		{"off", no_argument, NULL, 'f'},
		{"rate", required_argument, NULL, 'r'},
		{"active-max", required_argument, NULL, 'a'},
		{"starts-at", required_argument, NULL, 's'},
		{"idle-seconds", required_argument, NULL, 'i'},
		{"admit-seconds", required_argument, NULL, 'm'},
		{"admin", required_argument, NULL, 'A'},
		{"admin-key-file", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *admin = ctl_default_url(), *key_file = ctl_default_key_file();
	bool compact = false;
	json_t *body = json_object();
	char key[80] = "", url[512], err[600], *text = NULL;
	struct ctl_answer a = {0};
	long v, event;
	int c, ret = CTL_EXIT_ERROR;

	if (!body)
		return CTL_EXIT_ERROR;
	optind = 0; /* glibc: a full restart, not the "+" mode of main's scan */
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
		case 'f':
			json_object_set_new(body, "enabled", json_boolean(c == 'o'));
			break;
		case 'r':
			if (!strcmp(optarg, "auto"))
				json_object_set_new(body, "ratePerSecond", json_string("auto"));
			else if (!parse_num(optarg, 1, 1000000, &v))
				json_object_set_new(body, "ratePerSecond", json_integer(v));
			else
				goto usage;
			break;
		case 'a':
			if (parse_num(optarg, 1, 10000000, &v))
				goto usage;
			json_object_set_new(body, "activeMax", json_integer(v));
			break;
		case 'i':
		case 'm':
			if (parse_num(optarg, 1, 86400, &v))
				goto usage;
			json_object_set_new(body, c == 'i' ? "idleSeconds" : "admitSeconds",
					    json_integer(v));
			break;
		case 's':
			json_object_set_new(body, "startsAt",
					    strcmp(optarg, "none") ? json_string(optarg) : json_null());
			break;
		case 'A':
			admin = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'j':
			compact = true;
			break;
		case 'h':
			room_usage(stdout);
			json_decref(body);
			return 0;
		default:
			goto usage;
		}
	}
	if (argc - optind != 1 || parse_num(argv[optind], 0, 4294967295L, &event))
		goto usage;
	if (ctl_read_key(key_file, key, sizeof(key), err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		goto out;
	}
	snprintf(url, sizeof(url), "%s/admin/events/%ld/room", admin, event);
	if (json_object_size(body))
		text = json_dumps(body, JSON_COMPACT);
	if (ctl_http(text ? "PUT" : "GET", url, key, text, 10000L, &a, err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		goto out;
	}
	print_answer(a.status, &a, compact, a.status == 200 ? stdout : stderr);
	ret = a.status == 200 ? 0 : 1;
	goto out;
usage:
	room_usage(stderr);
	ret = CTL_EXIT_USAGE;
out:
	explicit_bzero(key, sizeof(key));
	free(text);
	ctl_answer_free(&a);
	json_decref(body);
	return ret;
}
