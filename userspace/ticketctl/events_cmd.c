/* ticketctl events: the events this node sells, from ticketd's API
 * (GET /api/events, or /api/events/{id}) and, when the admin key can be
 * read, whether each one's waiting room is on (GET /admin/events/{id}/room):
 *
 *   ticketctl events [EVENT] [--admin URL] [--admin-key-file PATH] [--json]
 *
 * and the admin API of the live catalogue (#17, docs/api.md "Admin:
 * events"), with the admin key:
 *
 *   ticketctl events create FILE.json | publish ID | cancel ID
 *                    | block ID SEAT... [--unblock] | audit [ID] [--json]
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
	"       ticketctl events create FILE.json | publish ID | cancel ID\n"
	"                        | block ID SEAT... [--unblock] | audit [ID] [options]\n"
	"  every event (or EVENT): id, name, seats, sold, held, free, waiting room on/off\n"
	"  create: a DRAFT from FILE.json (the body of POST /admin/events); publish,\n"
	"  cancel: the event's state; block: kill seats (--unblock frees them);\n"
	"  audit: the newest admin changes (of ID)\n"
	"  --unblock              block: unblock the seats instead\n"
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

/* The body of FILE ("-": stdin), NUL-terminated; NULL with err set. */
static char *read_file(const char *path, char *err, size_t errlen)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!f || !buf) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(buf);
		return NULL;
	}
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		len += n;
		if (len + 1 < cap || len > (1u << 20))
			break;
		cap *= 2;
		char *nb = realloc(buf, cap);

		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
	}
	if (f != stdin)
		fclose(f);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	buf[len] = 0;
	return buf;
}

static bool parse_id(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return !errno && *s && !*end && *out >= 0 && *out <= 4294967295LL;
}

/* One admin request; prints the answer (JSON, or a line). Exit code. */
static int admin_call(const char *verb, const char *method, const char *url,
		      const char *key, const char *body, bool json)
{
	struct ctl_answer a = {0};
	char err[600];
	json_t *got;
	int rc = CTL_EXIT_ERROR;

	if (ctl_http(method, url, key, body, TIMEOUT_MS, &a, err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return CTL_EXIT_ERROR;
	}
	got = a.body ? json_loads(a.body, 0, NULL) : NULL;
	if (a.status < 200 || a.status > 299) {
		json_t *code = json_object_get(got, "code"), *msg = json_object_get(got, "message"),
		       *det = json_object_get(got, "details");
		char *d = det ? json_dumps(det, JSON_COMPACT) : NULL;

		fprintf(stderr, "ticketctl: %s: HTTP %ld %s: %s%s%s\n", verb, a.status,
			json_is_string(code) ? json_string_value(code) : "",
			json_is_string(msg) ? json_string_value(msg) : "", d ? " " : "", d ? d : "");
		free(d);
		if (json && a.body)
			printf("%s\n", a.body);
	} else if (json) {
		char *text = got ? json_dumps(got, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

		printf("%s\n", text ? text : "");
		free(text);
		rc = CTL_EXIT_OK;
	} else if (json_is_array(got)) { /* audit */
		size_t i;
		json_t *r;

		printf("%-24s %-8s %-8s %-16s %-15s %s\n", "AT", "EVENT", "ACTION", "ACTOR", "CLIENT",
		       "RESULT");
		json_array_foreach(got, i, r) {
			json_t *ev = json_object_get(r, "eventId");
			char evs[16] = "-";

			if (json_is_integer(ev))
				snprintf(evs, sizeof(evs), "%lld", (long long)json_integer_value(ev));
			printf("%-24s %-8s %-8s %-16s %-15s %s\n",
			       json_string_value(json_object_get(r, "at")) ?: "", evs,
			       json_string_value(json_object_get(r, "action")) ?: "",
			       json_string_value(json_object_get(r, "actor")) ?: "",
			       json_string_value(json_object_get(r, "client")) ?: "",
			       json_string_value(json_object_get(r, "result")) ?: "");
		}
		rc = CTL_EXIT_OK;
	} else {
		printf("event %lld: %s, %s (%lld seats, %lld blocked)\n",
		       (long long)json_integer_value(json_object_get(got, "id")),
		       json_string_value(json_object_get(got, "state")) ?: "?",
		       json_string_value(json_object_get(got, "name")) ?: "",
		       (long long)json_integer_value(json_object_get(got, "seats")),
		       (long long)json_integer_value(json_object_get(got, "blockedSeats")));
		rc = CTL_EXIT_OK;
	}
	json_decref(got);
	ctl_answer_free(&a);
	return rc;
}

/* ticketctl events VERB ...: the admin API. args[0] is the verb. */
static int events_admin(const char *base, const char *key_file, bool json, bool unblock,
			int n, char **args)
{
	char key[80], url[512], err[600], *body = NULL;
	const char *verb = args[0];
	long long id = -1;
	int rc = CTL_EXIT_USAGE;

	if (ctl_read_key(key_file, key, sizeof(key), err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return CTL_EXIT_ERROR;
	}
	if (!strcmp(verb, "create") && n == 2) {
		body = read_file(args[1], err, sizeof(err));
		if (!body) {
			fprintf(stderr, "ticketctl: %s\n", err);
			rc = CTL_EXIT_ERROR;
			goto out;
		}
		snprintf(url, sizeof(url), "%s/admin/events", base);
		rc = admin_call(verb, "POST", url, key, body, json);
	} else if ((!strcmp(verb, "publish") || !strcmp(verb, "cancel")) && n == 2 &&
		   parse_id(args[1], &id)) {
		snprintf(url, sizeof(url), "%s/admin/events/%lld/%s", base, id, verb);
		rc = admin_call(verb, "POST", url, key, NULL, json);
	} else if (!strcmp(verb, "block") && n >= 3 && parse_id(args[1], &id)) {
		json_t *seats = json_array(), *j;

		for (int i = 2; i < n; i++) {
			long long s;

			if (!parse_id(args[i], &s)) {
				json_decref(seats);
				goto out;
			}
			json_array_append_new(seats, json_integer(s));
		}
		j = json_pack("{s:o, s:b}", "seatIds", seats, "blocked", !unblock);
		body = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		snprintf(url, sizeof(url), "%s/admin/events/%lld/blocked", base, id);
		rc = body ? admin_call(verb, "PUT", url, key, body, json) : CTL_EXIT_ERROR;
	} else if (!strcmp(verb, "audit") && n <= 2 && (n == 1 || parse_id(args[1], &id))) {
		if (id >= 0)
			snprintf(url, sizeof(url), "%s/admin/audit?eventId=%lld&limit=100", base, id);
		else
			snprintf(url, sizeof(url), "%s/admin/audit?limit=100", base);
		rc = admin_call(verb, "GET", url, key, NULL, json);
	}
	if (rc == CTL_EXIT_USAGE)
		fputs(events_usage, stderr);
out:
	explicit_bzero(key, sizeof(key));
	free(body);
	return rc;
}

static bool is_verb(const char *s)
{
	static const char *const verbs[] = {"create", "publish", "cancel", "block", "audit"};

	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(s, verbs[i]))
			return true;
	return false;
}

int ticketctl_events(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"admin", required_argument, NULL, 'A'},
		{"admin-key-file", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"unblock", no_argument, NULL, 'u'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = ctl_default_url(), *key_file = ctl_default_key_file();
	char key[80], url[512], err[600], *text, *end;
	struct ctl_answer a = {0};
	json_t *got = NULL, *rows = NULL, *ev;
	bool json = false, have_key, unblock = false;
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
		case 'u':
			unblock = true;
			break;
		case 'h':
			fputs(events_usage, stdout);
			return CTL_EXIT_OK;
		default:
			fputs(events_usage, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind >= 1 && is_verb(argv[optind]))
		return events_admin(base, key_file, json, unblock, argc - optind, argv + optind);
	if (argc - optind > 1 || unblock)
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
