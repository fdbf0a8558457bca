/* ticketctl checkin: lets a ticket in at the door through ticketd's
 * POST /api/checkin, or uploads scans made offline through
 * POST /api/checkin/batch (docs/tickets.md, docs/api.md):
 *
 *   ticketctl checkin TICKET [--scanner ID] [--url URL] [--scanner-key-file PATH] [--json]
 *   ticketctl checkin --batch FILE [...]
 *
 * FILE holds the scans as a JSON array, {"scans":[...]}, or one JSON object
 * a line, each {"ticket","scannedAt","scanner"}; it is sent 200 scans at a
 * time. Exit: 0 let in (batch: every scan accepted), 1 error (unreachable,
 * wrong key, ticketd failed), 2 usage, 3 refused (already used, invalid,
 * void; batch: any scan not accepted). */
#include "userspace/ticketctl/checkin_cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketctl/ctl_http.h"

#define CTL_EXIT_REFUSED 3
#define BATCH_MAX 200
#define TIMEOUT_MS 30000L
#define DEFAULT_SCANNER_KEY_FILE "/var/lib/ticketd/scanner.key"

static const char checkin_usage[] =
	"usage: ticketctl checkin TICKET [--scanner ID] [--url URL]\n"
	"                         [--scanner-key-file PATH] [--json]\n"
	"       ticketctl checkin --batch FILE [same options]\n"
	"  let a ticket in (POST /api/checkin): each ticket enters once\n"
	"  --batch FILE             upload scans made offline (POST /api/checkin/batch):\n"
	"                           a JSON array, {\"scans\":[...]} or one JSON object a line,\n"
	"                           each {\"ticket\",\"scannedAt\":\"<RFC 3339 UTC>\",\"scanner\"}\n"
	"  --scanner ID             this scanner's name (default \"ticketctl\"; 1-64 of A-Za-z0-9_.:-)\n"
	"  --url URL                ticketd's HTTP address (default $TICKET_URL or " CTL_DEFAULT_URL ")\n"
	"  --scanner-key-file PATH  default $TICKET_SCANNER_KEY_FILE or " DEFAULT_SCANNER_KEY_FILE "\n"
	"  --json                   ticketd's answer as JSON\n"
	"exit: 0 let in (batch: all accepted), 1 error, 2 usage,\n"
	"      3 refused (already used, invalid or void; batch: any scan not accepted)\n";

static const char *default_key_file(void)
{
	const char *e = getenv("TICKET_SCANNER_KEY_FILE");

	return e && *e ? e : DEFAULT_SCANNER_KEY_FILE;
}

static void print_json(const json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (text)
		printf("%s\n", text);
	free(text);
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

/* POSTs body (stolen) to url; the answer's JSON object (NULL when none),
 * its status in *status. -1 after printing why when nothing came back. */
static int post(const char *url, const char *key, json_t *body, long *status, json_t **out)
{
	char err[600], *text = json_dumps(body, JSON_COMPACT);
	struct ctl_answer a;
	int rc;

	json_decref(body);
	if (!text) {
		fprintf(stderr, "ticketctl: out of memory\n");
		return -1;
	}
	rc = ctl_http("POST", url, key, text, TIMEOUT_MS, &a, err, sizeof(err));
	free(text);
	if (rc) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return -1;
	}
	*status = a.status;
	*out = a.body ? json_loads(a.body, 0, NULL) : NULL;
	ctl_answer_free(&a);
	return 0;
}

static int checkin_one(const char *base, const char *key, const char *ticket,
		       const char *scanner, bool json)
{
	json_t *ans = NULL;
	const char *code;
	char url[512];
	long status = 0;
	int rc;

	snprintf(url, sizeof(url), "%s/api/checkin", base);
	if (post(url, key, json_pack("{s:s, s:s}", "ticket", ticket, "scanner", scanner),
		 &status, &ans))
		return CTL_EXIT_ERROR;
	code = str(ans, "code");
	if (status == 200)
		rc = CTL_EXIT_OK;
	else if ((status == 409 || status == 422) &&
		 (!strcmp(code, "ALREADY_USED") || !strcmp(code, "TICKET_INVALID") ||
		  !strcmp(code, "TICKET_VOID")))
		rc = CTL_EXIT_REFUSED;
	else
		rc = CTL_EXIT_ERROR;
	if (json && ans) {
		print_json(ans);
	} else if (status == 200) {
		printf("OK: seat %s (event %lld, seat %lld) of %s, let in by %s at %s\n",
		       str(ans, "seatLabel"), json_integer_value(json_object_get(ans, "eventId")),
		       json_integer_value(json_object_get(ans, "seatId")), str(ans, "orderId"),
		       str(ans, "scanner"), str(ans, "scannedAt"));
	} else if (!strcmp(code, "ALREADY_USED")) {
		json_t *d = json_object_get(ans, "details");

		printf("REFUSED: already used: let in by %s at %s\n", str(d, "scanner"),
		       str(d, "scannedAt"));
	} else if (rc == CTL_EXIT_REFUSED) {
		printf("REFUSED: %s: %s\n", code, str(ans, "message"));
	} else {
		fprintf(stderr, "ticketctl: POST %s: HTTP %ld %s: %s\n", url, status, code,
			str(ans, "message"));
	}
	json_decref(ans);
	return rc;
}

/* The scans of FILE: a JSON array, {"scans":[...]}, or JSON lines. */
static json_t *load_scans(const char *path)
{
	json_error_t e;
	json_t *all = json_load_file(path, JSON_REJECT_DUPLICATES, &e), *scans;
	char line[4096];
	FILE *f;
	int n = 0;

	if (json_is_array(all))
		return all;
	if (json_is_array(json_object_get(all, "scans"))) {
		scans = json_incref(json_object_get(all, "scans"));
		json_decref(all);
		return scans;
	}
	json_decref(all);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "ticketctl: %s: cannot open\n", path);
		return NULL;
	}
	scans = json_array();
	while (scans && fgets(line, sizeof(line), f)) {
		json_t *one;

		n++;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		one = json_loads(line, 0, &e);
		if (!json_is_object(one)) {
			fprintf(stderr, "ticketctl: %s:%d: not a JSON object: %s\n", path, n,
				e.text);
			json_decref(one);
			json_decref(scans);
			scans = NULL;
			break;
		}
		json_array_append_new(scans, one);
	}
	fclose(f);
	return scans;
}

static int checkin_batch(const char *base, const char *key, const char *path, bool json)
{
	json_t *scans = load_scans(path), *report;
	int totals[5] = {0}, rc = CTL_EXIT_OK;
	static const char *const kinds[] = {"accepted", "duplicate", "invalid", "void", "error"};
	char url[512];
	size_t n;

	if (!scans)
		return CTL_EXIT_ERROR;
	n = json_array_size(scans);
	if (n == 0) {
		fprintf(stderr, "ticketctl: %s: no scans\n", path);
		json_decref(scans);
		return CTL_EXIT_ERROR;
	}
	snprintf(url, sizeof(url), "%s/api/checkin/batch", base);
	report = json_array();
	for (size_t at = 0; at < n && rc != CTL_EXIT_ERROR; at += BATCH_MAX) {
		json_t *chunk = json_array(), *ans = NULL, *results;
		long status = 0;
		size_t i;

		for (i = at; i < n && i < at + BATCH_MAX; i++)
			json_array_append(chunk, json_array_get(scans, i));
		fprintf(stderr, "ticketctl: uploading scans %zu-%zu of %zu\n", at + 1, i, n);
		if (post(url, key, json_pack("{s:o}", "scans", chunk), &status, &ans)) {
			rc = CTL_EXIT_ERROR;
			break;
		}
		results = json_object_get(ans, "results");
		if (status != 200 || !json_is_array(results)) {
			fprintf(stderr, "ticketctl: POST %s: HTTP %ld %s: %s\n", url, status,
				str(ans, "code"), str(ans, "message"));
			json_decref(ans);
			rc = CTL_EXIT_ERROR;
			break;
		}
		for (size_t k = 0; k < json_array_size(results); k++) {
			json_t *r = json_array_get(results, k);
			const char *what = str(r, "result");

			/* indexes into FILE, not into the chunk */
			json_object_set_new(r, "index", json_integer((json_int_t)(at + k)));
			for (int t = 0; t < 5; t++)
				if (!strcmp(what, kinds[t]))
					totals[t]++;
			if (!json) {
				if (!strcmp(what, "duplicate"))
					printf("scan %zu: duplicate: first let in by %s at %s\n", at + k,
					       str(json_object_get(r, "firstScan"), "scanner"),
					       str(json_object_get(r, "firstScan"), "scannedAt"));
				else if (strcmp(what, "accepted"))
					printf("scan %zu: %s: %s\n", at + k, what, str(r, "message"));
			}
			json_array_append(report, r);
		}
		json_decref(ans);
	}
	if (rc != CTL_EXIT_ERROR)
		rc = totals[4] ? CTL_EXIT_ERROR
		     : totals[1] + totals[2] + totals[3] ? CTL_EXIT_REFUSED
							 : CTL_EXIT_OK;
	if (json) {
		json_t *all = json_pack("{s:i, s:i, s:i, s:i, s:i, s:O}", kinds[0], totals[0],
					kinds[1], totals[1], kinds[2], totals[2], kinds[3],
					totals[3], kinds[4], totals[4], "results", report);

		print_json(all);
		json_decref(all);
	} else
		printf("%d accepted, %d duplicate, %d invalid, %d void, %d error\n", totals[0],
		       totals[1], totals[2], totals[3], totals[4]);
	json_decref(report);
	json_decref(scans);
	return rc;
}

int ticketctl_checkin(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"batch", required_argument, NULL, 'b'},
		{"scanner", required_argument, NULL, 's'},
		{"url", required_argument, NULL, 'u'},
		{"scanner-key-file", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = ctl_default_url(), *key_file = default_key_file();
	const char *batch = NULL, *scanner = "ticketctl";
	char key[80] = "", err[600];
	bool json = false;
	int c, rc;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			batch = optarg;
			break;
		case 's':
			scanner = optarg;
			break;
		case 'u':
			base = optarg;
			break;
		case 'k':
			key_file = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(checkin_usage, stdout);
			return CTL_EXIT_OK;
		default:
			fputs(checkin_usage, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (batch ? optind != argc : optind != argc - 1 || !argv[optind][0]) {
		fputs(checkin_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	if (ctl_read_key(key_file, key, sizeof(key), err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return CTL_EXIT_ERROR;
	}
	rc = batch ? checkin_batch(base, key, batch, json)
		   : checkin_one(base, key, argv[optind], scanner, json);
	explicit_bzero(key, sizeof(key));
	return rc;
}
