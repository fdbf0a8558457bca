/* ticketd's settings: defaults, then a file, then the environment, then
 * flags. One table (config.c) lists every setting; `ticketd --help` prints
 * it. */
#ifndef TICKETD_CONFIG_H
#define TICKETD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_STR_MAX 256

struct config {
	char http_addr[CONFIG_STR_MAX];
	int http_port;
	int http_threads;
	int http_max_connections;
	long http_max_body;
	char web_root[CONFIG_STR_MAX];

	char db_host[CONFIG_STR_MAX];
	int db_port;
	char db_user[CONFIG_STR_MAX];
	char db_password[CONFIG_STR_MAX];
	char db_name[CONFIG_STR_MAX];
	int db_pool;

	char redis_host[CONFIG_STR_MAX];
	int redis_port;

	char kafka_bootstrap[CONFIG_STR_MAX];

	char hold_path[CONFIG_STR_MAX]; /* auto | xdp | socket */
	char xdp_iface[CONFIG_STR_MAX];
	char xdp_netns[CONFIG_STR_MAX];
	char xdp_peer_iface[CONFIG_STR_MAX];
	char udp_addr[CONFIG_STR_MAX];
	int udp_port;
	int udp_workers;
	int udp_rate_limit;
	int udp_rate_burst;
	/* #12 room */
	int room_max_visitors;
	int room_max_streams;
	int room_frame_ms;
	int room_auto_rate_min, room_auto_rate_max;
	int room_auto_target_ms;
	/* #17 waiting list */
	int waitlist_offer_seconds, waitlist_max_entries, waitlist_max_streams;
	/* #12 shed */
	int http_inflight_orders, http_inflight_payments, http_inflight_holds;
	int http_inflight_sessions, http_inflight_reads;
	int http_request_budget_ms;
	int saga_queue_max;
	int payment_queue_max;
	long outbox_backlog_max;
	int overload_retry_after_seconds;
	/* #11 journal */
	int journal_queue;
	int journal_drain_ms;
	int inbox_keep_hours; /* #11 db */
	/* #13 outbox: relay and producer */
	int outbox_idle_poll_ms;
	int outbox_wake_delay_ms;
	int kafka_linger_ms;
	int kafka_batch_bytes;
	char kafka_compression[CONFIG_STR_MAX];
	/* #11 pay */
	int order_settle_margin_seconds;
	int refund_backoff_ms, refund_backoff_max_ms;
	/* #11 chaos */
	int change_queue_records;
	/* #18 sessions */
	int session_slots;
	long session_slot_grace_seconds;
	int session_prune_seconds;
	int db_wait_ms;
	/* #18 http */
	int http_max_connections_per_addr;
	char trusted_proxies[CONFIG_STR_MAX]; /* #15 nginx: api/forwarded.h */
	int http_header_timeout_ms;
	int sse_max_streams_per_addr;
	int session_rate_per_addr;
	int session_burst_per_addr;
	bool udp_v1; /* #18 wire: serve protocol v1 beside v2 */
	char pin_dir[CONFIG_STR_MAX];
	char state_dir[CONFIG_STR_MAX];

	char payment_url[CONFIG_STR_MAX];
	int payment_timeout_ms;
	int payment_attempts;
	int payment_deadline_seconds;

	int sse_ping_seconds;
	int sse_max_clients;
	int sse_queue_events;
	long sse_queue_bytes;

	long session_ttl;
	int hold_default_seconds;
	int hold_limit;
	int origin_hold_limit;         /* #18 counts */
	int hold_lifetime_max_seconds; /* #18 counts */
	int catalog_refresh_ms;        /* #17 live catalogue (catalog_live.c) */
	char node_id[CONFIG_STR_MAX];
	/* #16 multi-node: on when node_id was given (config file, env or
	 * flag); then node_id is [a-z0-9-]{1,32} */
	bool shards_on;
	int shard_partitions;                /* partitions of ticketing.shards */
	char advertise_udp[CONFIG_STR_MAX];  /* HOST:PORT; "" = udp_addr:udp_port */
	char advertise_http[CONFIG_STR_MAX]; /* HOST:PORT; "" = http_addr:http_port */
	bool demo_data;
	bool dev_mode;
	char log_level[CONFIG_STR_MAX];
	char otlp_traces_url[CONFIG_STR_MAX];   /* #15 tracing: "" = off */
	char otlp_service_name[CONFIG_STR_MAX]; /* #15 tracing */
	int otlp_queue_spans;                   /* #15 tracing */
	int otlp_timeout_ms;                    /* #15 tracing */
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_HELP = 1,  /* --help was asked for; help already printed */
	CONFIG_ERROR = -1 /* message already written to the error buffer */
};

/* Fills cfg from defaults, the file named by --config or TICKETD_CONFIG,
 * TICKETD_* environment variables and the command line, in that order. On
 * CONFIG_ERROR, err holds a one-line reason. */
enum config_result config_load(struct config *cfg, int argc, char **argv,
			       char *err, size_t errlen);

/* Overwrites the values of secret settings (db_password) given as flags in
 * argv with 'x', so /proc/PID/cmdline and `ps` stop showing them, and
 * returns how many there were (*name: one of them) so the caller can warn:
 * they were visible until now. Call after config_load. */
int config_hide_secrets(int argc, char **argv, const char **name);

#endif /* TICKETD_CONFIG_H */
