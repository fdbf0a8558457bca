/* ticketctl events: the events this node sells, from ticketd's API
 * (GET /api/events, or /api/events/{id}) and, when the admin key can be
 * read, whether each one's waiting room is on (GET /admin/events/{id}/room):
 *
 *   ticketctl events [EVENT] [--admin URL] [--admin-key-file PATH] [--json]
 *
 * Exit: 0 shown, 1 unreachable, refused or no such event, 2 usage. */
#include "userspace/ticketctl/events_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketctl/ctl_http.h"

static const char events_usage[] =
	"usage: ticketctl events [EVENT] [--admin URL] [--admin-key-file PATH] [--json]\n"
	"  every event (or EVENT): id, name, seats, sold, held, free, waiting room on/off\n"
	"  --admin URL            ticketd's HTTP address (default $TICKET_URL or " CTL_DEFAULT_URL ")\n"
	"  --admin-key-file PATH  to read the waiting rooms (default $TICKET_ADMIN_KEY_FILE\n"
	"                         or " CTL_DEFAULT_KEY_FILE "); without it ROOM shows '-'\n"
	"  --json                 a JSON array\n"
	"exit: 0 shown, 1 unreachable, refused or no such event, 2 usage\n";

#define TIMEOUT_MS 5000L

/* true, false, or null when the room cannot be read. */
static json_t *room_on(const char *base, const char *key, json_int_t id)
{
	char url[512], err[600];
	struct ctl_answer a;
	json_t *j, *on = json_null();

	if (!key)
		return on;
	snprintf(url, sizeof(url), "%s/admin/events/%lld/room", base, (long long)id);
	if (ctl_http("GET", url, key, NULL, TIMEOUT_MS, &a, err, sizeof(err)))
		return on;
	j = a.status == 200 && a.body ? json_loads(a.body, 0, NULL) : NULL;
	if (j && json_is_boolean(json_object_get(j, "enabled"))) {
		json_decref(on);
		on = json_boolean(json_is_true(json_object_get(j, "enabled")));
	}
	json_decref(j);
	ctl_answer_free(&a);
	return on;
}

static json_t *row(const char *base, const char *key, json_t *ev)
{
	json_int_t id = json_integer_value(json_object_get(ev, "id"));
	json_int_t seats = json_integer_value(json_object_get(ev, "rows")) *
			   json_integer_value(json_object_get(ev, "cols"));

	return json_pack("{s:I, s:O?, s:O?, s:O?, s:I, s:O?, s:O?, s:O?, s:o}", "id", id, "name",
			 json_object_get(ev, "name"), "venue", json_object_get(ev, "venue"),
			 "startsAt", json_object_get(ev, "startsAt"), "seats", seats, "sold",
			 json_object_get(ev, "sold"), "held", json_object_get(ev, "held"), "free",
			 json_object_get(ev, "available"), "room", room_on(base, key, id));
}

int ticketctl_events(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"admin", required_argument, NULL, 'A'},
		{"admin-key-file", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = ctl_default_url(), *key_file = ctl_default_key_file();
	char key[80], url[512], err[600], *text, *end;
	struct ctl_answer a = {0};
	json_t *got = NULL, *rows = NULL, *ev;
	bool json = false, have_key;
	long long one = -1;
	size_t i;
	int c, rc = CTL_EXIT_ERROR;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'A':
			base = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(events_usage, stdout);
			return CTL_EXIT_OK;
		default:
			fputs(events_usage, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind > 1)
		goto usage;
	if (argc - optind == 1) {
		errno = 0;
		one = strtoll(argv[optind], &end, 10);
		if (errno || *end || end == argv[optind] || one < 0 || one > 4294967295LL)
			goto usage;
	}
	have_key = !ctl_read_key(key_file, key, sizeof(key), err, sizeof(err));
	if (one >= 0)
		snprintf(url, sizeof(url), "%s/api/events/%lld", base, one);
	else
		snprintf(url, sizeof(url), "%s/api/events", base);
	if (ctl_http("GET", url, NULL, NULL, TIMEOUT_MS, &a, err, sizeof(err)))
		goto fail;
	got = a.body ? json_loads(a.body, 0, NULL) : NULL;
	if (a.status != 200 || !got) {
		json_t *code = json_object_get(got, "code");

		snprintf(err, sizeof(err), "%s: HTTP %ld %s", url, a.status,
			 json_is_string(code) ? json_string_value(code) : "");
		goto fail;
	}
	if (json_is_object(got)) { /* one event */
		json_t *list = json_array();

		json_array_append(list, got);
		json_decref(got);
		got = list;
	}
	rows = json_array();
	json_array_foreach(got, i, ev)
		json_array_append_new(rows, row(base, have_key ? key : NULL, ev));
	if (json) {
		text = json_dumps(rows, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		printf("%10s  %-28s %7s %7s %7s %7s  %s\n", "ID", "NAME", "SEATS", "SOLD", "HELD",
		       "FREE", "ROOM");
		json_array_foreach(rows, i, ev)
		{
			json_t *room = json_object_get(ev, "room");

			printf("%10lld  %-28.28s %7lld %7lld %7lld %7lld  %s\n",
			       json_integer_value(json_object_get(ev, "id")),
			       json_string_value(json_object_get(ev, "name")) ?: "",
			       json_integer_value(json_object_get(ev, "seats")),
			       json_integer_value(json_object_get(ev, "sold")),
			       json_integer_value(json_object_get(ev, "held")),
			       json_integer_value(json_object_get(ev, "free")),
			       json_is_null(room) ? "-" : json_is_true(room) ? "on" : "off");
		}
	}
	rc = CTL_EXIT_OK;
	goto out;
usage:
	fputs(events_usage, stderr);
	return CTL_EXIT_USAGE;
fail:
	fprintf(stderr, "ticketctl: %s\n", err);
	if (json) {
		json_t *j = json_pack("{s:s, s:s}", "error", "events unavailable", "detail", err);

		text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		if (text)
			printf("%s\n", text);
		free(text);
		json_decref(j);
	}
out:
	explicit_bzero(key, sizeof(key));
	ctl_answer_free(&a);
	json_decref(got);
	json_decref(rows);
	return rc;
}
