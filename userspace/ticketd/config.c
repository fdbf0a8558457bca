#include "userspace/ticketd/config.h"

#include "bpf/ticket_wire.h"
#include "userspace/lib/settings.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S(field, type, def, min, max, help)                                   \
	SETTING(struct config, field, type, def, min, max, help)

static const struct setting settings[] = {
	S(http_addr, SETTING_STR, "127.0.0.1", 0, 0, "HTTP listen address"),
	S(http_port, SETTING_INT, "8080", 1, 65535, "HTTP listen port"),
	S(http_threads, SETTING_INT, "2", 1, 64, "HTTP worker threads (epoll)"),
	S(http_max_connections, SETTING_INT, "16000", 16, 1000000,
	  "maximum concurrent HTTP connections"),
	S(http_max_body, SETTING_LONG, "65536", 256, 16777216,
	  "largest accepted request body, bytes (larger: 413)"),
	S(web_root, SETTING_STR, "web/dist", 0, 0,
	  "folder of the built web page served at /"),
	S(db_host, SETTING_STR, "127.0.0.1", 0, 0, "MariaDB host"),
	S(db_port, SETTING_INT, "3307", 1, 65535, "MariaDB port"),
	S(db_user, SETTING_STR, "ticket", 0, 0, "MariaDB user"),
	S(db_password, SETTING_STR, "ticket", 0, 0, "MariaDB password"),
	S(db_name, SETTING_STR, "ticketing", 0, 0, "MariaDB database"),
	S(db_pool, SETTING_INT, "4", 1, 64, "MariaDB connections in the pool"),
	S(redis_host, SETTING_STR, "127.0.0.1", 0, 0, "Redis host"),
	S(redis_port, SETTING_INT, "6380", 1, 65535, "Redis port"),
	S(kafka_bootstrap, SETTING_STR, "127.0.0.1:9092", 0, 0,
	  "Kafka bootstrap servers"),
	S(payment_url, SETTING_STR, "http://127.0.0.1:8084", 0, 0,
	  "payment gateway (paymentd) base URL"),
	S(payment_timeout_ms, SETTING_INT, "2000", 50, 60000,
	  "timeout of one gateway attempt, ms"),
	S(payment_attempts, SETTING_INT, "3", 1, 10,
	  "gateway attempts before a payment counts as failed"),
	S(payment_deadline_seconds, SETTING_INT, "300", 5, 86400,
	  "how long an order keeps its seats waiting for payment"),
	S(hold_path, SETTING_STR, "auto", 0, 0,
	  "UDP hold door: xdp, socket, or auto (xdp when it attaches)"),
	S(xdp_iface, SETTING_STR, "", 0, 0,
	  "interface to attach the XDP program to (empty: socket door)"),
	S(xdp_netns, SETTING_STR, "", 0, 0,
	  "network namespace (/run/netns/NAME) holding xdp_iface"),
	S(xdp_peer_iface, SETTING_STR, "", 0, 0,
	  "host-side veth peer that gets an XDP_PASS program"),
	S(udp_addr, SETTING_STR, "127.0.0.1", 0, 0, "socket door listen address"),
	S(udp_port, SETTING_INT, "7000", 1, 65535, "UDP hold protocol port"),
	S(udp_workers, SETTING_INT, "0", 0, 64,
	  "socket door worker threads (0: one per core)"),
	S(udp_rate_limit, SETTING_INT, "500", 0, 100000000,
	  "UDP requests per second per source address, answered or not "
	  "(0: no limit)"),
	S(udp_rate_burst, SETTING_INT, "500", 1, 100000000,
	  "UDP burst per source address"),
	/* #12 room */
	S(room_max_visitors, SETTING_INT, "200000", 1, 50000000,
	  "visitors one event's waiting room keeps, waiting and admitted (more: "
	  "503 ROOM_FULL); about 56 bytes each, twice for the hash table"),
	S(room_max_streams, SETTING_INT, "20000", 1, 1000000,
	  "open waiting-room streams at most (more: 503 TOO_MANY_STREAMS)"),
	S(room_frame_ms, SETTING_INT, "750", 100, 5000,
	  "a waiting-room stream gets a position frame this often (sooner when "
	  "its turn comes); frames of all streams are spread over the interval"),
	S(room_auto_rate_min, SETTING_INT, "5", 1, 1000000,
	  "automatic room rate (rate_per_s 0): lowest visitors/s"),
	S(room_auto_rate_max, SETTING_INT, "500", 1, 1000000,
	  "automatic room rate: highest visitors/s"),
	S(room_auto_target_ms, SETTING_INT, "500", 1, 60000,
	  "automatic room rate: purchase p95 (POST /api/orders, payments) above "
	  "this many ms, any 503, or purchases in flight at half their cap "
	  "slow admissions down"),
	/* #17 waiting list */
	S(waitlist_offer_seconds, SETTING_INT, "120", 1, 3600,
	  "how long a waiting-list offer holds its seats for the waiter"),
	S(waitlist_max_entries, SETTING_INT, "100000", 1, 10000000,
	  "waiters one event's waiting list keeps (more: 503 WAITLIST_FULL); "
	  "about 72 bytes each"),
	S(waitlist_max_streams, SETTING_INT, "10000", 1, 1000000,
	  "open waiting-list streams at most (more: 503 TOO_MANY_STREAMS)"),
	/* #12 shed */
	S(http_inflight_orders, SETTING_INT, "128", 0, 1000000,
	  "POST /api/orders requests inside ticketd at once, answers pending "
	  "included (more: 503 OVERLOADED at once; 0: no cap)"),
	S(http_inflight_payments, SETTING_INT, "640", 0, 1000000,
	  "POST /api/payments/authorize requests inside ticketd at once, answers "
	  "pending included (more: 503 OVERLOADED; 0: no cap)"),
	S(http_inflight_holds, SETTING_INT, "0", 0, 1000000,
	  "/api/reservations requests being handled at once (more: 503 "
	  "OVERLOADED; 0: no cap beyond http_threads)"),
	S(http_inflight_sessions, SETTING_INT, "0", 0, 1000000,
	  "POST /api/sessions requests being handled at once (more: 503 "
	  "OVERLOADED; 0: no cap beyond http_threads)"),
	S(http_inflight_reads, SETTING_INT, "0", 0, 1000000,
	  "event, seat and order reads being handled at once (more: 503 "
	  "OVERLOADED; 0: no cap beyond http_threads)"),
	S(http_request_budget_ms, SETTING_INT, "2000", 0, 600000,
	  "an order or payment whose work has not started this many ms after its "
	  "request came in is refused (503 OVERLOADED, nothing done; 0: no budget)"),
	S(saga_queue_max, SETTING_INT, "256", 1, 1000000,
	  "new orders and authorizations queued for the saga workers at most "
	  "(more: 503 OVERLOADED); recorded decisions are always queued"),
	S(payment_queue_max, SETTING_INT, "512", 1, 1000000,
	  "authorizations at the payment gateway at once, retries included (more "
	  "new ones: 503 OVERLOADED)"),
	S(outbox_backlog_max, SETTING_LONG, "100000", 0, 1000000000,
	  "unsent outbox rows above which new orders are refused (503 "
	  "OVERLOADED; 0: no limit)"),
	S(overload_retry_after_seconds, SETTING_INT, "1", 1, 3600,
	  "Retry-After of a 503 OVERLOADED answer, seconds"),
	/* #11 journal */
	S(journal_queue, SETTING_INT, "65536", 16, 16777216,
	  "Redis journal queue, changes (a change that does not fit marks its "
	  "seat for a rewrite from the seat table)"),
	S(journal_drain_ms, SETTING_INT, "5000", 0, 600000,
	  "graceful stop: how long the journal keeps writing what is queued, ms"),
	/* #11 db */
	S(inbox_keep_hours, SETTING_INT, "168", 0, 87600,
	  "hours consumer inbox claims are kept (de-duplication window; at "
	  "least the Kafka topics' retention); 0 keeps them for ever"),
	/* #13 outbox */
	S(outbox_idle_poll_ms, SETTING_INT, "1000", 10, 600000,
	  "the outbox relay looks for unsignalled rows (another node's, an "
	  "operator's replay) this often, ms; new rows of this node wake it"),
	S(outbox_wake_delay_ms, SETTING_INT, "10", 0, 1000,
	  "the outbox relay reads this long after a new-row signal, ms (the "
	  "commit lands, concurrent orders share one SELECT)"),
	S(kafka_linger_ms, SETTING_INT, "20", 0, 1000,
	  "outbox producer linger.ms: messages wait this long to share a "
	  "batch (one produce request) with later ones"),
	S(kafka_batch_bytes, SETTING_INT, "1000000", 1024, 100000000,
	  "outbox producer batch.size, bytes (a batch is sent when full)"),
	S(kafka_compression, SETTING_STR, "lz4", 0, 0,
	  "outbox producer compression.codec: none, lz4, zstd, gzip or snappy"),
	/* #11 pay */
	S(order_settle_margin_seconds, SETTING_INT, "30", 1, 3600,
	  "seconds an order's seats stay off sale beyond its payment deadline, "
	  "so a confirmation committed at the deadline still finds them"),
	S(refund_backoff_ms, SETTING_INT, "1000", 10, 600000,
	  "wait before re-sending an unacknowledged refund; doubles per attempt"),
	S(refund_backoff_max_ms, SETTING_INT, "60000", 10, 86400000,
	  "longest wait between refund attempts"),
	/* #11 chaos */
	S(change_queue_records, SETTING_INT, "0", 0, 16777216,
	  "seat change records waiting to be published, at most (0: 65536); "
	  "small values only for fault tests (a full queue answers "
	  "RATE_LIMITED / 503 BUSY)"),
	/* #18 sessions */
	S(session_slots, SETTING_INT, "4194302", 1, 4194302,
	  "holder slots sessions may take (1..N); fewer only for tests and "
	  "small deployments: at most this many live sessions"),
	S(session_slot_grace_seconds, SETTING_LONG, "3600", 0, 31536000,
	  "seconds a slot stays reserved after its session expired; at least "
	  "600 + payment_deadline_seconds + order_settle_margin_seconds + 60"),
	S(session_prune_seconds, SETTING_INT, "60", 1, 86400,
	  "seconds between rounds that delete sessions expired beyond the grace"),
	S(db_wait_ms, SETTING_INT, "250", 0, 60000,
	  "longest an HTTP request waits for a database connection (then 503)"),
	/* #18 http */
	S(http_max_connections_per_addr, SETTING_INT, "256", 0, 1000000,
	  "HTTP connections one client address may have open (0: no cap)"),
	S(trusted_proxies, SETTING_STR, "", 0, 0,
	  "reverse proxies (addresses, address/prefix; comma-separated) whose "
	  "X-Forwarded-For names the client for the per-address limits and the "
	  "admin routes' loopback check (empty: none, the TCP peer is the "
	  "client)"),
	S(http_header_timeout_ms, SETTING_INT, "10000", 0, 600000,
	  "ms a connection has to send a whole request (0: no deadline)"),
	S(sse_max_streams_per_addr, SETTING_INT, "32", 1, 1000000,
	  "open seat streams per client address (more: 429 TOO_MANY_STREAMS)"),
	S(session_rate_per_addr, SETTING_INT, "2", 1, 1000000,
	  "new sessions per second per client address (more: 429 RATE_LIMITED)"),
	S(session_burst_per_addr, SETTING_INT, "20", 1, 1000000,
	  "new sessions one client address may create at once"),
	/* #18 wire */
	S(udp_v1, SETTING_BOOL, "true", 0, 0,
	  "also serve UDP protocol v1 (bearer token, no per-request MAC); "
	  "false: v1 requests get MALFORMED, v2 only"),
	/* #18 counts */
	S(origin_hold_limit, SETTING_INT, "16", 0, 1000000,
	  "seats all sessions created from one client address (IPv6: its /64) "
	  "may hold per event, both doors + orders (0: no limit)"),
	S(hold_lifetime_max_seconds, SETTING_INT, "1800", 10, 604800,
	  "a hold's total lifetime, extensions included, seconds"),
	S(catalog_refresh_ms, SETTING_INT, "2000", 100, 600000,
	  "how often the catalogue is checked for events another node changed, ms"),
	S(pin_dir, SETTING_STR, "/sys/fs/bpf/ticket", 0, 0,
	  "bpffs folder where the edge maps are pinned"),
	S(state_dir, SETTING_STR, ".run/ticketd", 0, 0,
	  "folder for the token key and the socket door's seat table"),
	S(sse_ping_seconds, SETTING_INT, "15", 1, 3600,
	  "seconds between ': ping' comments on idle seat streams"),
	S(sse_max_clients, SETTING_INT, "15000", 1, 1000000,
	  "open seat streams at most (more: 503 TOO_MANY_STREAMS)"),
	S(sse_queue_events, SETTING_INT, "1024", 16, 1000000,
	  "changes a seat stream may fall behind before it is dropped"),
	S(sse_queue_bytes, SETTING_LONG, "262144", 4096, 1073741824,
	  "bytes of changes a seat stream may fall behind before it is dropped"),
	S(session_ttl, SETTING_LONG, "86400", 2, 31536000,
	  "session lifetime, seconds"),
	S(hold_default_seconds, SETTING_INT, "120", 5, 600, "default hold, seconds"),
	S(hold_limit, SETTING_INT, "8", 1, 1000,
	  "seats one session may hold per event (both doors + orders)"),
	S(node_id, SETTING_STR, "", 0, 0,
	  "this node's name, unique among live nodes; setting it ([a-z0-9-], 1 to "
	  "32 characters) turns on multi-node mode: this node owns only the events "
	  "whose partitions of ticketing.shards the group ticketd-shards gives it "
	  "(empty: one node owns every event; named host:http_port)"),
	/* #16 multi-node */
	S(shard_partitions, SETTING_INT, "16", 1, 4096,
	  "multi-node: partitions of the Kafka topic ticketing.shards (created "
	  "with this many; a topic with another count is refused); event e "
	  "belongs to partition e % this"),
	S(advertise_udp, SETTING_STR, "", 0, 0,
	  "multi-node: HOST:PORT published for this node's UDP door (empty: "
	  "udp_addr:udp_port)"),
	S(advertise_http, SETTING_STR, "", 0, 0,
	  "multi-node: HOST:PORT published for this node's REST API (empty: "
	  "http_addr:http_port)"),
	S(demo_data, SETTING_BOOL, "false", 0, 0,
	  "create 3 demo events of 10 x 10 seats when there are none"),
	S(dev_mode, SETTING_BOOL, "false", 0, 0,
	  "development mode: allows \"simulate\" on payment authorize"),
	S(log_level, SETTING_STR, "info", 0, 0, "debug, info, warn or error"),
	/* #15 tracing (docs/ops/tracing.md) */
	S(otlp_traces_url, SETTING_STR, "", 0, 0,
	  "OTLP/HTTP JSON traces endpoint of a collector, e.g. "
	  "http://127.0.0.1:4318/v1/traces (empty: tracing off)"),
	S(otlp_service_name, SETTING_STR, "ticketd", 0, 0,
	  "service.name of the exported spans"),
	S(otlp_queue_spans, SETTING_INT, "2048", 1, 1000000,
	  "finished spans waiting for export at most (more: dropped, counted in "
	  "ticketd_trace_spans_dropped_total)"),
	S(otlp_timeout_ms, SETTING_INT, "2000", 50, 60000,
	  "longest one export POST may take, ms"),
};

static const struct settings_spec spec = {
	.prog = "ticketd",
	.env_prefix = "TICKETD_",
	.file_env = "TICKETD_CONFIG",
	.intro = "ticketd serves seat holds (UDP: XDP or socket door), the REST API,\n"
		 "live seat streams and orders.",
	.table = settings,
	.n = sizeof(settings) / sizeof(settings[0]),
};

enum config_result config_load(struct config *cfg, int argc, char **argv,
			       char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));
	switch (settings_load(&spec, cfg, argc, argv, err, errlen)) {
	case SETTINGS_HELP:
		return CONFIG_HELP;
	case SETTINGS_ERROR:
		return CONFIG_ERROR;
	case SETTINGS_OK:
		break;
	}
	cfg->shards_on = cfg->node_id[0] != '\0';
	if (cfg->shards_on) {
		size_t n = strlen(cfg->node_id);
		bool ok = n >= 1 && n <= 32;

		for (size_t i = 0; ok && i < n; i++) {
			char c = cfg->node_id[i];

			ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
		}
		if (!ok) {
			snprintf(err, errlen,
				 "node_id: expected 1 to 32 of a-z, 0-9 and '-', got '%s'",
				 cfg->node_id);
			return CONFIG_ERROR;
		}
	}
	if (!cfg->advertise_udp[0])
		snprintf(cfg->advertise_udp, sizeof(cfg->advertise_udp), "%.200s:%d",
			 cfg->udp_addr, cfg->udp_port);
	if (!cfg->advertise_http[0])
		snprintf(cfg->advertise_http, sizeof(cfg->advertise_http), "%.200s:%d",
			 cfg->http_addr, cfg->http_port);
	for (int k = 0; k < 2; k++) {
		const char *v = k ? cfg->advertise_http : cfg->advertise_udp;
		const char *colon = strrchr(v, ':');
		long port = colon ? strtol(colon + 1, NULL, 10) : 0;

		if (!colon || colon == v || port < 1 || port > 65535) {
			snprintf(err, errlen, "%s: expected HOST:PORT, got '%s'",
				 k ? "advertise_http" : "advertise_udp", v);
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
	{
		static const char *const codecs[] = {"none", "lz4", "zstd", "gzip", "snappy"};
		bool known = false;

		for (size_t i = 0; i < sizeof(codecs) / sizeof(codecs[0]); i++)
			known |= !strcmp(cfg->kafka_compression, codecs[i]);
		if (!known) {
			snprintf(err, errlen,
				 "kafka_compression: expected none, lz4, zstd, gzip or snappy, "
				 "got '%s'", cfg->kafka_compression);
			return CONFIG_ERROR;
		}
	}
	/* A slot may go to a new session only once no seat word can carry it
	 * for the old one: a hold made just before the token lapsed (up to
	 * TKT_HOLD_SECS_MAX), an order waiting for payment and its un-order,
	 * and a margin for the sweeper. */
	if (cfg->session_slot_grace_seconds <
	    TKT_HOLD_SECS_MAX + (long)cfg->payment_deadline_seconds +
		    cfg->order_settle_margin_seconds + 60) {
		snprintf(err, errlen,
			 "session_slot_grace_seconds: %ld is too short; it must be at "
			 "least %d (longest hold) + %d (payment_deadline_seconds) + %d "
			 "(order_settle_margin_seconds) + 60 = %ld",
			 cfg->session_slot_grace_seconds, TKT_HOLD_SECS_MAX,
			 cfg->payment_deadline_seconds, cfg->order_settle_margin_seconds,
			 TKT_HOLD_SECS_MAX + (long)cfg->payment_deadline_seconds +
				 cfg->order_settle_margin_seconds + 60);
		return CONFIG_ERROR;
	}
	return CONFIG_OK;
}

/* Settings whose values are secrets: they belong in the environment or a
 * 0600 config file, not in argv, which every local user can read. */
static const char *const secret_settings[] = {"db_password"};

/* Does flag (after "--") name setting, with '-' or '_' between words? */
static bool flag_is(const char *flag, size_t len, const char *setting)
{
	if (len != strlen(setting))
		return false;
	for (size_t i = 0; i < len; i++)
		if (flag[i] != setting[i] && !(flag[i] == '-' && setting[i] == '_'))
			return false;
	return true;
}

int config_hide_secrets(int argc, char **argv, const char **name)
{
	int found = 0;

	for (int a = 1; a < argc; a++) {
		const char *arg = argv[a], *eq;
		size_t len;

		if (strncmp(arg, "--", 2))
			continue;
		arg += 2;
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - arg) : strlen(arg);
		for (size_t i = 0; i < sizeof(secret_settings) / sizeof(secret_settings[0]); i++) {
			char *val;

			if (!flag_is(arg, len, secret_settings[i]))
				continue;
			val = eq ? argv[a] + 2 + len + 1 : a + 1 < argc ? argv[a + 1] : NULL;
			if (val)
				memset(val, 'x', strlen(val));
			*name = secret_settings[i];
			found++;
		}
	}
	return found;
}
