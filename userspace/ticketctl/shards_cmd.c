/* ticketctl shards: the shard map of a multi-node deployment (issue #16)
 * as any node publishes it (GET /api/shards): the nodes with their
 * addresses and last heartbeat, then each event's owner and epoch.
 *
 *   ticketctl shards [--admin URL] [--json]
 *
 * Exit: 0 shown, 1 unreachable or refused, 2 usage. */
#include "userspace/ticketctl/shards_cmd.h"

#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "userspace/ticketctl/ctl_http.h"

static const char shards_usage[] =
	"usage: ticketctl shards [--admin URL] [--json]\n"
	"  the shard map: nodes (UDP and HTTP addresses, last heartbeat) and each\n"
	"  event's owner and fencing epoch; a single node shows partitions 0\n"
	"  --admin URL  any node's HTTP address (default $TICKET_URL or " CTL_DEFAULT_URL ")\n"
	"  --json       GET /api/shards as it came\n"
	"exit: 0 shown, 1 unreachable or refused, 2 usage\n";

#define TIMEOUT_MS 5000L

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "-";
}

static int cmp_ids(const void *a, const void *b)
{
	long long x = strtoll(*(const char *const *)a, NULL, 10);
	long long y = strtoll(*(const char *const *)b, NULL, 10);

	return (x > y) - (x < y);
}

static void print_table(json_t *m)
{
	json_t *nodes = json_object_get(m, "nodes"), *events = json_object_get(m, "events"), *v;
	const char *k, **ids;
	size_t n = 0;

	printf("partitions %lld, node asked %s\n\n",
	       (long long)json_integer_value(json_object_get(m, "partitions")), str(m, "node"));
	printf("%-16s %-24s %-24s %s\n", "NODE", "UDP", "HTTP", "SEEN");
	json_object_foreach(nodes, k, v)
	{
		long long ago = (long long)(now_ms() - json_integer_value(json_object_get(v, "seenAt")));

		printf("%-16s %-24s %-24s %.1fs ago\n", k, str(v, "udp"), str(v, "http"),
		       (double)ago / 1000.0);
	}
	printf("\n%10s  %-16s %-24s %-24s %s\n", "EVENT", "NODE", "UDP", "HTTP", "EPOCH");
	ids = calloc(json_object_size(events) + 1, sizeof(*ids));
	if (!ids)
		return;
	json_object_foreach(events, k, v)
		ids[n++] = k;
	qsort(ids, n, sizeof(*ids), cmp_ids);
	for (size_t i = 0; i < n; i++) {
		v = json_object_get(events, ids[i]);
		printf("%10s  %-16s %-24s %-24s %lld\n", ids[i], str(v, "node"), str(v, "udp"),
		       str(v, "http"), (long long)json_integer_value(json_object_get(v, "epoch")));
	}
	free(ids);
}

int ticketctl_shards(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"admin", required_argument, NULL, 'A'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *base = ctl_default_url();
	char url[512], err[600];
	struct ctl_answer a = {0};
	json_t *m = NULL;
	bool json = false;
	int c, rc = CTL_EXIT_ERROR;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'A':
			base = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(shards_usage, stdout);
			return CTL_EXIT_OK;
		default:
			fputs(shards_usage, stderr);
			return CTL_EXIT_USAGE;
		}
	}
	if (argc - optind > 0) {
		fputs(shards_usage, stderr);
		return CTL_EXIT_USAGE;
	}
	snprintf(url, sizeof(url), "%s/api/shards", base);
	if (ctl_http("GET", url, NULL, NULL, TIMEOUT_MS, &a, err, sizeof(err))) {
		fprintf(stderr, "ticketctl: %s\n", err);
		return CTL_EXIT_ERROR;
	}
	m = a.body ? json_loads(a.body, 0, NULL) : NULL;
	if (a.status != 200 || !json_is_object(m)) {
		fprintf(stderr, "ticketctl: %s: HTTP %ld\n", url, a.status);
		goto out;
	}
	if (json) {
		char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

		if (text)
			printf("%s\n", text);
		free(text);
	} else {
		print_table(m);
	}
	rc = CTL_EXIT_OK;
out:
	json_decref(m);
	ctl_answer_free(&a);
	return rc;
}
