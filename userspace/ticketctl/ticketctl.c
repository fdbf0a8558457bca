/* ticketctl: send one UDP hold-protocol request and print the answer.
 *
 *   ticketctl [options] hold|release|extend|query EVENT SEAT [SECONDS]
 *   ticketctl [options] raw HEX
 *   ticketctl room EVENT [room options]   (room_cmd.c)
 *   ticketctl stats [--pin-dir DIR] [--json]          (stats_cmd.c)
 *   ticketctl seat EVENT SEAT [--pin-dir DIR] [--json] (seat_cmd.c)
 *   ticketctl pins [--pin-dir DIR] [--json]            (pins_cmd.c)
 *   ticketctl status [--admin URL] [--json]            (status_cmd.c)
 *   ticketctl events [EVENT] [--admin URL] [--json]    (events_cmd.c)
 *   ticketctl shards [--admin URL] [--json]            (shards_cmd.c)
 *   ticketctl drain [--wait] [--undo] [--json]         (drain_cmd.c)
 *   ticketctl checkin TICKET | --batch FILE [--json]   (checkin_cmd.c)
 *
 * Exit status, one scheme for every command (userspace/ticketctl/ctl_http.h,
 * docs/ops/ticketctl.md): 0 done (the reply says OK), 1 an error (the reply
 * carries another status, no valid reply before the timeout, a socket
 * error), 2 usage error, 3 not ready or degraded (status, drain --wait). */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bpf/session_token.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/hex.h"
#include "userspace/lib/timefmt.h"
#include "userspace/lib/wire_codec.h"
#include "userspace/ticketctl/checkin_cmd.h"
#include "userspace/ticketctl/drain_cmd.h"
#include "userspace/ticketctl/events_cmd.h"
#include "userspace/ticketctl/pins_cmd.h"
#include "userspace/ticketctl/room_cmd.h"
#include "userspace/ticketctl/shards_cmd.h"
#include "userspace/ticketctl/seat_cmd.h"
#include "userspace/ticketctl/stats_cmd.h"
#include "userspace/ticketctl/status_cmd.h"

enum { EXIT_OK = 0, EXIT_STATUS = 1, EXIT_ERROR = 1, EXIT_USAGE = 2 };

/* The commands with their own options (each has --help). */
static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} commands[] = {
	{"status", ticketctl_status}, {"events", ticketctl_events},
	{"seat", ticketctl_seat},     {"stats", ticketctl_stats},
	{"pins", ticketctl_pins},     {"drain", ticketctl_drain},
	{"room", ticketctl_room},     {"checkin", ticketctl_checkin},
	{"shards", ticketctl_shards},
};

#define DEFAULT_SERVER "127.0.0.1:7000"
#define DEFAULT_TIMEOUT_MS 1000
#define MAX_RAW 2048

struct ctl_opts {
	const char *server;
	const char *token_hex;
	long timeout_ms;
	bool json;
	bool have_req_id;
	bool v2;
	uint32_t req_id;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ticketctl COMMAND [options]   (ticketctl COMMAND --help for its options)\n"
		"operations (every one takes --json):\n"
		"  status                 health, readiness, version, uptime, hold path, counters\n"
		"  events [EVENT]         events: seats, sold, held, free, waiting room on/off\n"
		"  seat EVENT SEAT        one seat word from the pinned maps (root)\n"
		"  stats                  door counters, map fill, seats by state (pinned maps, root)\n"
		"  pins                   maps and programs pinned under the pin dir (root)\n"
		"  drain [--wait|--undo]  stop taking holds, let orders finish (admin key)\n"
		"  room EVENT [...]       show or change an event's waiting room (admin key)\n"
		"  checkin TICKET         let a ticket in, once; --batch FILE uploads offline\n"
		"                         scans (scanner key; exit 3: refused)\n"
		"  shards                 multi-node shard map: nodes, each event's owner\n"
		"UDP hold protocol (one request, one answer):\n"
		"  ticketctl [options] hold|release|extend|query EVENT SEAT [SECONDS]\n"
		"  ticketctl [options] raw HEX\n"
		"options of the UDP commands:\n"
		"  --server HOST:PORT   UDP door (IPv4, name, or [IPv6]:port);\n"
		"                       default $TICKET_SERVER or " DEFAULT_SERVER "\n"
		"  --token HEX32        session token; default $TICKET_TOKEN\n"
		"  --timeout-ms N       wait this long for the reply (default %d)\n"
		"  --req-id N           request id to send (default random; with\n"
		"                       --v2 it must grow per session)\n"
		"  --v2                 speak protocol v2: per-request MAC, the\n"
		"                       token's tag never sent; default request id\n"
		"                       grows with the clock (ms towards expiry)\n"
		"  --json               print the reply as one JSON object\n"
		"SECONDS (hold, extend) is sent as is: 0 means the server default;\n"
		"the server answers MALFORMED outside 5..600.\n"
		"raw sends the bytes of HEX unchanged and prints whatever reply comes.\n"
		"environment: TICKET_URL (ticketd's HTTP address), TICKET_ADMIN_KEY_FILE,\n"
		"  TICKET_PIN_DIR, TICKET_SERVER, TICKET_TOKEN\n"
		"exit (every command): 0 done, 1 error (refused, not found, unreachable,\n"
		"  timeout, a reply other than OK), 2 usage error, 3 not ready or degraded\n"
		"  (status: not ready or draining; drain --wait: orders still in flight;\n"
		"  checkin: refused, e.g. already used)\n",
		DEFAULT_TIMEOUT_MS);
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Opens a UDP socket connected to the endpoint, so only datagrams from the
 * server reach us. Returns the fd, or -1 after printing why. */
static int open_connected(const char *endpoint)
{
	char host[256], port_s[8];
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *res, *ai;
	uint16_t port;
	int fd = -1, rc;

	if (tkt_split_endpoint(endpoint, TKT_DEFAULT_PORT, host, sizeof(host),
			       &port) < 0) {
		fprintf(stderr, "ticketctl: bad --server '%s'\n", endpoint);
		return -1;
	}
	snprintf(port_s, sizeof(port_s), "%u", port);
	rc = getaddrinfo(host, port_s, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "ticketctl: %s: %s\n", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		fprintf(stderr, "ticketctl: cannot reach %s: %s\n", endpoint,
			strerror(errno));
	freeaddrinfo(res);
	return fd;
}

static void print_reply(const struct ctl_opts *o,
			const struct tkt_reply_fields *r, int64_t rtt_us)
{
	char when[40] = "", owner[32];
	bool has_owner = tkt_reply_owner(r, owner, sizeof(owner)) == 0;
	bool has_when = r->status != TKT_WRONG_NODE && r->expiry_ms != 0 &&
			tkt_format_rfc3339_ms(r->expiry_ms, when,
					      sizeof(when)) == 0;

	if (r->status == TKT_WRONG_NODE) {
		/* the expiry field names the owner (docs/protocol.md) */
		if (o->json)
			printf("{\"op\":\"%s\",\"opCode\":%u,\"requestId\":%u,"
			       "\"eventId\":%u,\"seatId\":%u,\"status\":\"%s\","
			       "\"statusCode\":%u,\"owner\":%s%s%s,\"rttUs\":%lld}\n",
			       tkt_op_name(r->op), r->op, r->req_id, r->event_id, r->seat_id,
			       tkt_status_name(r->status), r->status, has_owner ? "\"" : "",
			       has_owner ? owner : "null", has_owner ? "\"" : "",
			       (long long)rtt_us);
		else
			printf("%s event=%u seat=%u: %s owner=%s rtt=%.3fms\n",
			       tkt_op_name(r->op), r->event_id, r->seat_id,
			       tkt_status_name(r->status), has_owner ? owner : "unknown",
			       (double)rtt_us / 1000.0);
		return;
	}
	if (o->json) {
		printf("{\"op\":\"%s\",\"opCode\":%u,\"requestId\":%u,"
		       "\"eventId\":%u,\"seatId\":%u,\"status\":\"%s\","
		       "\"statusCode\":%u,\"counter\":%u,\"expiryMs\":%llu,"
		       "\"expiresAt\":",
		       tkt_op_name(r->op), r->op, r->req_id, r->event_id, r->seat_id,
		       tkt_status_name(r->status), r->status, r->counter,
		       (unsigned long long)r->expiry_ms);
		if (has_when)
			printf("\"%s\"", when);
		else
			printf("null");
		printf(",\"rttUs\":%lld}\n", (long long)rtt_us);
		return;
	}
	printf("%s event=%u seat=%u: %s counter=%u expiry=%llu (%s) "
	       "rtt=%.3fms\n",
	       tkt_op_name(r->op), r->event_id, r->seat_id,
	       tkt_status_name(r->status), r->counter,
	       (unsigned long long)r->expiry_ms,
	       r->expiry_ms == 0 ? "none" : (has_when ? when : "invalid"),
	       (double)rtt_us / 1000.0);
}

static void print_failure(const struct ctl_opts *o, const char *what,
			  const char *detail)
{
	if (o->json)
		printf("{\"error\":\"%s\",\"detail\":\"%s\",\"timeoutMs\":%ld}\n",
		       what, detail, o->timeout_ms);
	fprintf(stderr, "ticketctl: %s%s%s\n", what, *detail ? ": " : "",
		detail);
}

/* Sends len bytes and waits for a valid reply; with q set, only the reply
 * that matches q counts (stray datagrams are skipped). Returns the exit
 * status. */
static int exchange(const struct ctl_opts *o, const uint8_t *msg, size_t len,
		    const struct tkt_request_fields *q)
{
	uint8_t buf[MAX_RAW];
	struct tkt_reply_fields r;
	enum tkt_reply_err last = TKT_REPLY_VALID;
	int64_t start, deadline;
	int fd, ret = EXIT_ERROR;
	unsigned skipped = 0;

	fd = open_connected(o->server);
	if (fd < 0)
		return EXIT_ERROR;
	start = (int64_t)(tkt_mono_ns() / 1000);
	deadline = start + o->timeout_ms * 1000;
	if (send(fd, msg, len, 0) != (ssize_t)len) {
		print_failure(o, "send failed", strerror(errno));
		goto out;
	}
	for (;;) {
		int64_t left = deadline - (int64_t)(tkt_mono_ns() / 1000);
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		enum tkt_reply_err err;
		ssize_t n;
		int pr;

		if (left <= 0)
			break;
		pr = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			print_failure(o, "poll failed", strerror(errno));
			goto out;
		}
		if (pr == 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			/* ECONNREFUSED: ICMP port unreachable, nobody listens */
			print_failure(o, "receive failed", strerror(errno));
			goto out;
		}
		err = tkt_parse_reply(buf, (size_t)n, &r);
		if (err == TKT_REPLY_VALID && q)
			err = tkt_reply_matches(&r, q);
		if (err != TKT_REPLY_VALID) {
			last = err;
			skipped++;
			continue;
		}
		print_reply(o, &r, (int64_t)(tkt_mono_ns() / 1000) - start);
		ret = r.status == TKT_OK ? EXIT_OK : EXIT_STATUS;
		goto out;
	}
	{
		char detail[128] = "";

		if (skipped)
			snprintf(detail, sizeof(detail),
				 "%u invalid datagram(s) ignored, last: %s",
				 skipped, tkt_reply_err_name(last));
		print_failure(o, "timeout", detail);
	}
out:
	close(fd);
	return ret;
}

static int cmd_raw(const struct ctl_opts *o, const char *hex)
{
	uint8_t msg[MAX_RAW];
	int n = hex_decode_loose(hex, msg, sizeof(msg));

	if (n <= 0) {
		fprintf(stderr, "ticketctl: raw needs 1..%d bytes of hex\n",
			MAX_RAW);
		return EXIT_USAGE;
	}
	return exchange(o, msg, (size_t)n, NULL);
}

/* A v2 request id that grows from one call to the next without state:
 * 2^32 - 1 minus the milliseconds left until the session expires (bytes
 * 4..7 of the token). Sessions longer than 49 days start at 1 and need
 * --req-id. */
static uint32_t v2_clock_id(const uint8_t *token)
{
	uint64_t expiry_ms = (uint64_t)tkt_load_be32(token + 4) * 1000u;
	uint64_t now_ms = (uint64_t)tkt_unix_ms();
	uint64_t left = expiry_ms > now_ms ? expiry_ms - now_ms : 0;

	return left >= UINT32_MAX - 1 ? 1 : (uint32_t)(UINT32_MAX - left);
}

static int cmd_op(const struct ctl_opts *o, int op, int argc, char **argv)
{
	struct tkt_request_fields q = {.op = (uint8_t)op};
	uint8_t msg[TKT_REQ_LEN];
	uint32_t secs = 0;
	bool takes_secs = op == TKT_OP_HOLD || op == TKT_OP_EXTEND;

	if (argc < 2 || argc > (takes_secs ? 3 : 2)) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_u32(argv[0], UINT32_MAX, &q.event_id) < 0 ||
	    parse_u32(argv[1], UINT32_MAX, &q.seat_id) < 0 ||
	    (argc == 3 && parse_u32(argv[2], UINT16_MAX, &secs) < 0)) {
		fprintf(stderr, "ticketctl: EVENT and SEAT are 0..%u, "
				"SECONDS 0..65535\n", UINT32_MAX);
		return EXIT_USAGE;
	}
	q.hold_secs = (uint16_t)secs;
	if (!o->token_hex) {
		fprintf(stderr, "ticketctl: no token: give --token or set "
				"TICKET_TOKEN\n");
		return EXIT_USAGE;
	}
	if (tkt_token_from_hex(o->token_hex, q.token) < 0) {
		fprintf(stderr, "ticketctl: the token is 32 hex digits\n");
		return EXIT_USAGE;
	}
	if (o->have_req_id)
		q.req_id = o->req_id;
	else if (o->v2)
		q.req_id = v2_clock_id(q.token);
	else if (getrandom(&q.req_id, sizeof(q.req_id), 0) !=
		 sizeof(q.req_id))
		q.req_id = (uint32_t)(int64_t)(tkt_mono_ns() / 1000) ^ (uint32_t)getpid();
	if (o->v2)
		tkt_build_request_v2(msg, sizeof(msg), &q);
	else
		tkt_build_request(msg, sizeof(msg), &q);
	return exchange(o, msg, sizeof(msg), &q);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"token", required_argument, NULL, 't'},
		{"timeout-ms", required_argument, NULL, 'T'},
		{"req-id", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"v2", no_argument, NULL, '2'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ctl_opts o = {
		.server = getenv("TICKET_SERVER"),
		.token_hex = getenv("TICKET_TOKEN"),
		.timeout_ms = DEFAULT_TIMEOUT_MS,
	};
	uint32_t v;
	int c, op;

	if (!o.server || !*o.server)
		o.server = DEFAULT_SERVER;
	if (o.token_hex && !*o.token_hex)
		o.token_hex = NULL;
	/* '+': stop at the command, so numbers after it are never options */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.server = optarg;
			break;
		case 't':
			o.token_hex = optarg;
			break;
		case 'T':
			if (parse_u32(optarg, 600000, &v) < 0 || v == 0) {
				fprintf(stderr, "ticketctl: --timeout-ms is "
						"1..600000\n");
				return EXIT_USAGE;
			}
			o.timeout_ms = v;
			break;
		case 'r':
			if (parse_u32(optarg, UINT32_MAX, &o.req_id) < 0) {
				fprintf(stderr, "ticketctl: bad --req-id\n");
				return EXIT_USAGE;
			}
			o.have_req_id = true;
			break;
		case 'j':
			o.json = true;
			break;
		case '2':
			o.v2 = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			return commands[i].run(argc - optind, argv + optind);
	if (strcmp(argv[optind], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[optind], "raw") == 0) {
		if (argc - optind != 2) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return cmd_raw(&o, argv[optind + 1]);
	}
	op = tkt_op_from_name(argv[optind]);
	if (op < 0) {
		fprintf(stderr, "ticketctl: unknown command '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return cmd_op(&o, op, argc - optind - 1, argv + optind + 1);
}
