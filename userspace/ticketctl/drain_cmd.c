/* ticketctl drain: takes a node out of service before it goes down,
 * through ticketd's admin endpoint /admin/drain (docs/api.md, "Draining"):
 *
 *   ticketctl drain [--wait [--wait-timeout S]] [--undo] [--show]
 *                   [--admin URL] [--admin-key-file PATH] [--json]
 *
 * POST starts draining (new holds refused with 503 DRAINING, UDP door
 * closed, /readyz 503 "draining"); orders in flight keep going. --wait then
 * polls GET /admin/drain once a second, printing progress on stderr, until
 * nothing is in flight or the timeout passes. --undo (DELETE) takes holds
 * again; --show only looks. Exit: 0 done (and idle, with --wait), 1
 * refused or unreachable, 2 usage, 3 --wait timed out with orders still in
 * flight. */
#include "userspace/ticketctl/drain_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "userspace/lib/clock.h"
#include "userspace/ticketctl/ctl_http.h"

static const char drain_usage[] =
	"usage: ticketctl drain [--wait [--wait-timeout S]] [--undo] [--show]\n"
	"                       [--admin URL] [--admin-key-file PATH] [--json]\n"
	"  stop taking holds (REST 503 DRAINING, UDP door closed, /readyz 503) and let\n"
	"  orders in flight finish, before the node goes down\n"
	"  --wait                 then wait until no order is in flight, progress on stderr\n"
	"  --wait-timeout S       give up waiting after S seconds (default 360; 1..86400)\n"
	"  --undo                 take holds again (DELETE /admin/drain)\n"
	"  --show                 only show the drain state (GET /admin/drain)\n"
	"  --admin URL            ticketd's HTTP address (default $TICKET_URL or " CTL_DEFAULT_URL ");\n"
	"                         the admin endpoints answer loopback clients only\n"
	"  --admin-key-file PATH  default $TICKET_ADMIN_KEY_FILE or " CTL_DEFAULT_KEY_FILE "\n"
	"  --json                 the state as one JSON object\n"
	"exit: 0 done, 1 refused or unreachable, 2 usage, 3 --wait timed out with\n"
	"      orders still in flight\n";

#define TIMEOUT_MS 10000L

/* One request; the state object, or NULL after printing why. */
static json_t *call(const char *method, const char *url, const char *key)
{
	char err[600];
	struct ctl_answer a;
	json_t *j;

	if (ctl_http(method, url, key, NULL, TIMEOUT_MS, &a, err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return NULL;
	}
	j = a.body ? json_loads(a.body, 0, NULL) : NULL;
	if (a.status != 200 || !json_is_object(j)) {
		json_t *code = json_object_get(j, "code"), *msg = json_object_get(j, "message");

		fprintf(stderr, "ticketctl: %s %s: HTTP %ld %s%s%s\n", method, url, a.status,
			json_is_string(code) ? json_string_value(code) : "",
			json_is_string(msg) ? ": " : "",
			json_is_string(msg) ? json_string_value(msg) : "");
		json_decref(j);
		j = NULL;
	}
	ctl_answer_free(&a);
	return j;
}

#define IN_FLIGHT(st, k) json_integer_value(json_object_get(json_object_get(st, "inFlight"), k))

static void print_state(const json_t *st)
{
	printf("draining: %s%s%s\n", json_is_true(json_object_get(st, "draining")) ? "yes" : "no",
	       json_is_string(json_object_get(st, "since")) ? " since " : "",
	       json_string_value(json_object_get(st, "since")) ?: "");
	printf("UDP door: %s\n", json_string_value(json_object_get(st, "udpDoor")) ?: "?");
	printf("in flight: %lld seats in pending orders, %lld saga jobs queued, %lld "
	       "confirmed seats not yet sold in the table%s\n",
	       IN_FLIGHT(st, "orderedSeats"), IN_FLIGHT(st, "sagaQueued"),
	       IN_FLIGHT(st, "unsoldSeats"),
	       json_is_true(json_object_get(st, "idle")) ? " (idle)" : "");
}

int ticketctl_drain(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"wait", no_argument, NULL, 'w'},
		{"wait-timeout", required_argument, NULL, 't'},
		{"undo", no_argument, NULL, 'u'},
		{"show", no_argument, NULL, 's'},
		{"admin", required_argument, NULL, 'A'},
		{"admin-key-file", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = ctl_default_url(), *key_file = ctl_default_key_file();
	const char *method = "POST";
	bool json = false, wait = false, timed_out = false;
	long wait_s = 360;
	char key[80] = "", url[512], err[600], *text, *end;
	json_t *st = NULL;
	uint64_t start;
	int c, modes = 0, rc = CTL_EXIT_ERROR;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			wait = true;
			break;
		case 't':
			errno = 0;
			wait_s = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || wait_s < 1 || wait_s > 86400)
				goto usage;
			break;
		case 'u':
			method = "DELETE";
			modes++;
			break;
		case 's':
			method = "GET";
			modes++;
			break;
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
			fputs(drain_usage, stdout);
			return CTL_EXIT_OK;
		default:
			goto usage;
		}
	}
	if (optind != argc || modes > 1 || (wait && !strcmp(method, "DELETE")))
		goto usage;
	if (ctl_read_key(key_file, key, sizeof(key), err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return CTL_EXIT_ERROR;
	}
	snprintf(url, sizeof(url), "%s/admin/drain", base);
	st = call(method, url, key);
	if (!st)
		goto out;
	start = tkt_mono_ns();
	while (wait && !json_is_true(json_object_get(st, "idle"))) {
		uint64_t waited = (tkt_mono_ns() - start) / 1000000000u;
		struct timespec second = {1, 0};
		json_t *next;

		if (waited >= (uint64_t)wait_s) {
			timed_out = true;
			break;
		}
		fprintf(stderr,
			"ticketctl: draining, %llus of %lds: %lld seats in pending orders, "
			"%lld saga jobs queued, %lld seats to sell\n",
			(unsigned long long)waited, wait_s, IN_FLIGHT(st, "orderedSeats"),
			IN_FLIGHT(st, "sagaQueued"), IN_FLIGHT(st, "unsoldSeats"));
		nanosleep(&second, NULL);
		next = call("GET", url, key);
		if (!next)
			goto out;
		json_decref(st);
		st = next;
	}
	if (wait) {
		json_object_set_new(st, "waitedMs",
				    json_integer((json_int_t)((tkt_mono_ns() - start) / 1000000u)));
		json_object_set_new(st, "timedOut", json_boolean(timed_out));
	}
	if (json) {
		text = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		print_state(st);
		if (timed_out)
			printf("still in flight after %lds\n", wait_s);
		else if (wait)
			printf("nothing in flight: the node can go down\n");
	}
	rc = timed_out ? CTL_EXIT_NOT_READY : CTL_EXIT_OK;
	goto out;
usage:
	fputs(drain_usage, stderr);
	return CTL_EXIT_USAGE;
out:
	explicit_bzero(key, sizeof(key));
	json_decref(st);
	return rc;
}
