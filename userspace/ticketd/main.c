/* ticketd: the composition root. It only wires the parts together, as a
 * table of start and stop steps (`steps` below): they start in order and
 * stop in reverse, each stopped only if it started. Start-up order matters:
 * the seat table and the catalogue are ready before the HTTP server (or any
 * UDP door) accepts a single request; at shutdown pending payments are
 * answered first (their HTTP connections are suspended and need the
 * server), then the doors close (no new changes), then the threads that
 * consume them stop. Threads and what they own: docs/threads.md. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <systemd/sd-daemon.h>

#include "api/http.h"
#include "bpf/seat_word.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/log.h"
#include "userspace/lib/metrics.h"
#include "userspace/lib/private_dir.h"
#include "userspace/lib/trace.h"
#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/commerce/payment_client.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/commerce/tickets.h"
#include "userspace/ticketd/config.h"
#include "userspace/ticketd/db/db.h"
#include "userspace/ticketd/edge_setup.h"
#include "userspace/ticketd/health.h"
#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/waitlist/waitlist_service.h"
#include "userspace/ticketd/privileges.h"
#include "userspace/ticketd/rest/client_limits.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/room/room_service.h"
#include "userspace/ticketd/seats/journal.h"
#include "userspace/ticketd/seats/stream_epoch.h"
#include "userspace/ticketd/seats/recovery.h"
#include "userspace/ticketd/ticketd.h"

/* Changes each event keeps for SSE replay by Last-Event-ID. */
#define REPLAY_RING 4096
#define SWEEP_MS 100

/* Streams and UDP sockets need many descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_msg(LOG_WARN, NULL, "cannot raise the open-file limit");
	}
}

static int wait_for_signal(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig))
		return -1;
	return sig;
}

/* ---- systemd (infra/systemd/ticketd.service, Type=notify) ----
 * Under systemd (NOTIFY_SOCKET set) a thread tells the service manager
 * READY=1 once /readyz would answer 200 (the health checker's verdicts),
 * and, when WatchdogSec= is set, WATCHDOG=1 every half period while GET
 * /healthz on our own listener answers 200 within a quarter period. Without
 * NOTIFY_SOCKET no thread starts and sd_notify is never called. */
struct notifier {
	pthread_t thread;
	atomic_bool stop;
	bool running;
	struct ticketd *app;
	uint64_t watchdog_us; /* 0: no watchdog */
};

static bool notifier_ready(struct ticketd *app)
{
	if (!atomic_load(&app->health.checked))
		return false;
	for (int p = 0; p < HEALTH_N_PARTS; p++)
		if (!atomic_load(&app->health.up[p]))
			return false;
	return true;
}

static size_t notifier_discard(char *data, size_t size, size_t n, void *ctx)
{
	(void)data;
	(void)ctx;
	return size * n;
}

static bool notifier_alive(struct ticketd *app, long timeout_ms)
{
	const char *host = app->cfg.http_addr;
	char url[CONFIG_STR_MAX + 64];
	long code = 0;
	CURL *c;

	if (!*host || !strcmp(host, "0.0.0.0"))
		host = "127.0.0.1";
	else if (!strcmp(host, "::"))
		host = "::1";
	snprintf(url, sizeof(url), strchr(host, ':') ? "http://[%s]:%d/healthz" : "http://%s:%d/healthz",
		 host, app->cfg.http_port);
	c = curl_easy_init();
	if (!c)
		return false;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, notifier_discard);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code == 200;
}

static void *notifier_main(void *arg)
{
	struct notifier *n = arg;
	int64_t period_ms = (int64_t)(n->watchdog_us / 2000), next_ping = 0;
	bool ready = false;

	while (!atomic_load(&n->stop)) {
		struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000000L};

		if (!ready && notifier_ready(n->app)) {
			sd_notify(0, "READY=1\nSTATUS=serving");
			log_msg(LOG_INFO, NULL, "systemd: READY=1 sent");
			ready = true;
		}
		if (period_ms > 0 && tkt_mono_ms() >= next_ping) {
			if (notifier_alive(n->app, period_ms / 2 > 0 ? period_ms / 2 : 1))
				sd_notify(0, "WATCHDOG=1");
			else
				log_msg(LOG_WARN, NULL, "systemd watchdog: /healthz did not answer; "
					"no WATCHDOG=1 this time");
			next_ping = tkt_mono_ms() + period_ms;
		}
		nanosleep(&tick, NULL);
	}
	return NULL;
}

static void notifier_start(struct notifier *n, struct ticketd *app)
{
	const char *sock = getenv("NOTIFY_SOCKET");
	uint64_t usec = 0;

	memset(n, 0, sizeof(*n));
	if (!sock || !*sock)
		return;
	n->app = app;
	if (sd_watchdog_enabled(0, &usec) > 0)
		n->watchdog_us = usec;
	if (pthread_create(&n->thread, NULL, notifier_main, n)) {
		log_msg(LOG_WARN, NULL, "systemd: cannot start the notifier thread");
		return;
	}
	n->running = true;
}

static void notifier_stop(struct notifier *n)
{
	if (!n->running)
		return;
	sd_notify(0, "STOPPING=1");
	atomic_store(&n->stop, true);
	pthread_join(n->thread, NULL);
	n->running = false;
}

/* ---- start and stop steps ---- */

static int start_state(struct ticketd *app, char *err, size_t errlen)
{
	char keypath[CONFIG_STR_MAX + 16], why[512];
	int fd, rc;

	if (private_dir_ensure(app->cfg.state_dir, why, sizeof(why))) {
		snprintf(err, errlen, "state_dir: %s", why);
		return -1;
	}
	snprintf(keypath, sizeof(keypath), "%s/token.key", app->cfg.state_dir);
	if (sessions_load_key(keypath, &app->token_key, err, errlen))
		return -1;
	/* Created 0600; one that others can read lets them mint tokens. */
	fd = open(keypath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	rc = fd < 0 ? -errno : private_dir_check_fd(fd, keypath, why, sizeof(why));
	if (fd >= 0)
		close(fd);
	if (rc) {
		snprintf(err, errlen, "token key: %s", rc == -EPERM ? why : strerror(-rc));
		return -1;
	}
	return 0;
}

/* Ended orders kept in memory: about 20 s of orders at 1000/s. */
#define ORDER_CACHE_SLOTS 16384

static int start_db(struct ticketd *app, char *err, size_t errlen)
{
	if (order_cache_init(&app->order_cache, ORDER_CACHE_SLOTS)) {
		snprintf(err, errlen, "order cache: out of memory");
		return -1;
	}
	if (db_pool_open(&app->db, &app->cfg, 30, err, errlen)) {
		order_cache_free(&app->order_cache);
		return -1;
	}
	return 0;
}

static void stop_db(struct ticketd *app)
{
	db_pool_close(&app->db);
	order_cache_free(&app->order_cache);
}

static int start_schema(struct ticketd *app, char *err, size_t errlen)
{
	int created = 0;

	if (db_migrate(&app->db, err, errlen))
		return -1;
	if (!app->cfg.demo_data)
		return 0;
	if (catalog_seed_demo(&app->db, &created, err, errlen))
		return -1;
	if (created)
		log_msg(LOG_INFO, NULL, "created %d demo events", created);
	return 0;
}

static int start_sessions(struct ticketd *app, char *err, size_t errlen)
{
	struct sessions *s = &app->sessions;
	int rc;

	s->db = &app->db;
	s->key = &app->token_key;
	s->ttl = app->cfg.session_ttl;
	s->grace = app->cfg.session_slot_grace_seconds;
	s->n_slots = (uint32_t)app->cfg.session_slots;
	s->wait_ms = app->cfg.db_wait_ms;
	s->prune_ms = app->cfg.session_prune_seconds * 1000;
	s->claim_slot = ticketd_claim_slot; /* the seat table's word on it */
	s->claim_ctx = app;
	rc = sessions_start(s);
	if (rc)
		snprintf(err, errlen, "cannot start the session pruner: %s",
			 strerror(-rc));
	return rc;
}

static void stop_sessions(struct ticketd *app)
{
	sessions_stop(&app->sessions);
}

static int start_catalog(struct ticketd *app, char *err, size_t errlen)
{
	return catalog_load(&app->catalog, &app->db, TKT_MAX_SEATS, err, errlen);
}

static void stop_catalog(struct ticketd *app)
{
	catalog_free(&app->catalog);
}

static int start_edge(struct ticketd *app, char *err, size_t errlen)
{
	return edge_setup_open(app, err, errlen);
}

/* The journal's fencing hooks (multi-node): the epoch this node took for
 * an event, and a refusal, which gives the event up. */
static uint64_t journal_epoch_of(void *ctx, uint32_t event_id)
{
	return shards_epoch(ctx, event_id);
}

static void journal_fenced(void *ctx, uint32_t event_id)
{
	shards_fenced(ctx, event_id);
}

static int start_journal(struct ticketd *app, char *err, size_t errlen)
{
	struct journal_opts o = {
		.host = app->cfg.redis_host,
		.port = app->cfg.redis_port,
		.catalog = &app->catalog,
		.seats = app->seats,
		.queue_cap = (uint32_t)app->cfg.journal_queue,
		.drain_ms = (uint32_t)app->cfg.journal_drain_ms,
		.epoch_of = app->cfg.shards_on ? journal_epoch_of : NULL,
		.on_fenced = journal_fenced,
		.fence_ctx = &app->shards,
	};

	if (!journal_start(&app->journal, &o))
		return 0;
	snprintf(err, errlen, "cannot start the Redis journal");
	return -1;
}

static void stop_journal(struct ticketd *app)
{
	journal_stop(&app->journal);
}

static int start_sse(struct ticketd *app, char *err, size_t errlen)
{
	if (!sse_hub_start(&app->sse, app))
		return 0;
	snprintf(err, errlen, "cannot start the SSE hub");
	return -1;
}

static void stop_sse(struct ticketd *app)
{
	sse_hub_stop(app->sse);
}

/* This run's epoch (seats/stream_epoch.h): above every epoch of an earlier
 * run, and above the newest version in the journal, so no version repeats
 * after kill -9. Every event starts at epoch << STREAM_EPOCH_SHIFT. */
static int start_versions(struct ticketd *app, uint64_t *versions)
{
	uint64_t floor = 1, epoch;

	recovery_versions(app, versions); /* the newest journalled */
	for (uint32_t i = 0; i < CATALOG_MAX_EVENTS; i++)
		if (stream_epoch_of(versions[i]) + 1 > floor)
			floor = stream_epoch_of(versions[i]) + 1;
	if (stream_epoch_take(app->cfg.redis_host, app->cfg.redis_port, app->cfg.state_dir,
			      floor, &epoch))
		log_msg(LOG_WARN, NULL, "seat stream: epoch %llu kept neither in Redis nor in "
			"%s/stream_epoch", (unsigned long long)epoch, app->cfg.state_dir);
	log_msg(LOG_INFO, NULL, "seat stream: epoch %llu, versions start at %llu",
		(unsigned long long)epoch, (unsigned long long)(epoch << STREAM_EPOCH_SHIFT));
	for (uint32_t i = 0; i < CATALOG_MAX_EVENTS; i++)
		versions[i] = epoch << STREAM_EPOCH_SHIFT;
	return 0;
}

/* The change stream, its versions taken from this run's epoch, and its
 * sinks: the journal first (durability), then the live streams, then the
 * counters of /metrics. */
static int start_stream(struct ticketd *app, char *err, size_t errlen)
{
	uint64_t *versions = calloc(CATALOG_MAX_EVENTS, sizeof(*versions));
	int rc;

	if (!versions) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = start_versions(app, versions);
	if (!rc)
		rc = seat_stream_init(&app->stream, &app->catalog, app->edge, versions,
			      REPLAY_RING);
	if (!rc) /* every id's version is the epoch's first */
		seat_stream_set_first_version(&app->stream, versions[0]);
	free(versions);
	if (!rc)
		rc = seat_stream_add_batch_sink(&app->stream, journal_seat_batch_sink, &app->journal);
	if (!rc)
		rc = seat_stream_add_batch_sink(&app->stream, sse_hub_seat_batch_sink, app->sse);
	if (!rc)
		rc = seat_stream_add_batch_sink(&app->stream, seat_metrics_batch_sink, &app->seat_metrics);
	if (!rc)
		rc = seat_stream_add_batch_sink(&app->stream, waitlist_seat_batch_sink, app->waitlist);
	if (!rc && (rc = seat_stream_start(&app->stream)))
		seat_stream_free(&app->stream);
	if (rc)
		snprintf(err, errlen, "cannot start the seat change stream");
	return rc;
}

static void stop_stream(struct ticketd *app)
{
	seat_stream_stop(&app->stream);
	seat_stream_free(&app->stream);
}

/* A fresh node (or one whose stale table edge_setup_open cleared) rebuilds
 * its seat table from MariaDB and Redis, then stamps it with the
 * database's identity; a reused one only marks seats sold meanwhile. Then
 * orders and words agree. */
static int start_recovery(struct ticketd *app, char *err, size_t errlen)
{
	struct recovery_report rep = {0};
	const char *why = app->table_reset_reason;

	if (app->cfg.shards_on) {
		/* multi-node: each event is rebuilt when this node takes it
		 * over (shards/ownership.c); the journal holds other nodes'
		 * events too, so nothing here may rewrite it. The table is
		 * this database's: a restart reuses it (every event's words
		 * are cleared when it is taken over) */
		(void)edge_setup_identify(app);
		return 0;
	}
	if (recovery_claim_journal(app, &rep))
		log_msg(LOG_WARN, NULL, "recovery: cannot check whose Redis journal this is");
	app->journal_foreign = rep.foreign;
	if (!edge_reused(app->edge)) {
		if (recovery_rebuild(app, &rep, err, errlen))
			return -1;
		log_json(LOG_INFO, NULL, "seat table rebuilt",
			 json_pack("{s:i, s:i, s:i, s:i, s:b, s:s, s:i}", "sold",
				   (int)rep.sold, "holds", (int)rep.holds, "orders",
				   (int)rep.orders, "skipped", (int)rep.skipped, "redis",
				   rep.redis_ok, "stale", why ? why : "",
				   "foreign", (int)rep.foreign));
		(void)edge_setup_identify(app);
	} else if (recovery_sync_sold(app, &rep, err, errlen)) {
		log_msg(LOG_WARN, NULL, "recovery: %s", err);
	} else if (rep.sold || rep.skipped) {
		log_msg(LOG_INFO, NULL, "seat table: %u seats sold meanwhile marked SOLD, %u conflicts",
			rep.sold, rep.skipped);
	}
	if (saga_reconcile(app, !edge_reused(app->edge)))
		log_msg(LOG_WARN, NULL, "saga: reconciling seat words with orders failed");
	/* The queue a kill -9 or a stop left unwritten is gone: every hold key
	 * is rewritten from the table, which is now final. */
	journal_repair_all(&app->journal);
	return 0;
}

static int start_relay(struct ticketd *app, char *err, size_t errlen)
{
	struct outbox_relay_opts o;

	outbox_relay_default_opts(&o);
	o.inbox_keep_s = (long)app->cfg.inbox_keep_hours * 3600;
	o.idle_poll_ms = app->cfg.outbox_idle_poll_ms;
	o.wake_delay_ms = app->cfg.outbox_wake_delay_ms;
	o.linger_ms = app->cfg.kafka_linger_ms;
	o.batch_bytes = app->cfg.kafka_batch_bytes;
	o.compression = app->cfg.kafka_compression;
	return outbox_relay_start(&app->relay, &app->db, app->cfg.kafka_bootstrap,
				  &o, err, errlen);
}

static void stop_relay(struct ticketd *app)
{
	outbox_relay_stop(&app->relay);
}

static int start_payments(struct ticketd *app, char *err, size_t errlen)
{
	struct payment_client_opts po = {
		.base_url = app->cfg.payment_url,
		.timeout_ms = app->cfg.payment_timeout_ms,
		.max_attempts = app->cfg.payment_attempts,
		.retry_backoff_ms = 100,
		.max_pending = app->cfg.payment_queue_max,
	};

	if (!payment_client_start(&app->payments, &po))
		return 0;
	snprintf(err, errlen, "cannot start the payment client");
	return -1;
}

static void stop_payments(struct ticketd *app)
{
	payment_client_free(app->payments);
}

static int start_saga(struct ticketd *app, char *err, size_t errlen)
{
	return saga_start(&app->saga, app, err, errlen);
}

static void stop_saga(struct ticketd *app)
{
	saga_stop(&app->saga);
}

static int start_sweeper(struct ticketd *app, char *err, size_t errlen)
{
	if (!sweeper_start(&app->sweeper, app, SWEEP_MS))
		return 0;
	snprintf(err, errlen, "cannot start the sweeper");
	return -1;
}

static void stop_sweeper(struct ticketd *app)
{
	sweeper_stop(&app->sweeper);
}

/* The ticket signing key and the scanners' key, in the state directory. */
static int start_tickets(struct ticketd *app, char *err, size_t errlen)
{
	return ticket_service_open(&app->tickets, app->cfg.state_dir, err, errlen);
}

static void stop_tickets(struct ticketd *app)
{
	ticket_service_close(app->tickets);
	app->tickets = NULL;
}

static int start_doors(struct ticketd *app, char *err, size_t errlen)
{
	return edge_setup_doors(app, err, errlen);
}

/* The waiting rooms' admission marks in the seat table: every door refuses
 * a HOLD on a room event without one (bpf/hold_door.h, TKT_NOT_ADMITTED). */
static int room_edge_set_room(void *ctx, uint32_t event_id, bool on)
{
	return edge_set_event_room(ctx, event_id, on);
}

static int room_edge_admit(void *ctx, uint32_t slot, uint32_t event_id, uint32_t ttl_ms)
{
	return edge_admit(ctx, slot, event_id, ttl_ms);
}

static int room_edge_clear(void *ctx, uint32_t slot)
{
	return edge_admit_clear(ctx, slot);
}

static int start_rooms(struct ticketd *app, char *err, size_t errlen)
{
	const struct room_edge_ops ops = {
		.set_room = room_edge_set_room,
		.admit = room_edge_admit,
		.clear = room_edge_clear,
		.ctx = app->edge,
	};

	return rooms_start(&app->rooms, app, &ops, overload_purchase_fill, err, errlen);
}

static void stop_rooms(struct ticketd *app)
{
	rooms_stop(app->rooms);
}

/* The waiting lists, loaded from Redis before the seat stream (their sink)
 * starts; their offer worker once the table is recovered and served. */
static int start_waitlist(struct ticketd *app, char *err, size_t errlen)
{
	return waitlist_create(&app->waitlist, app, err, errlen);
}

static void stop_waitlist(struct ticketd *app)
{
	waitlist_free(app->waitlist);
	app->waitlist = NULL;
}

static int start_waitlist_offers(struct ticketd *app, char *err, size_t errlen)
{
	if (!waitlist_start_offers(app->waitlist))
		return 0;
	snprintf(err, errlen, "cannot start the waiting list's offer worker");
	return -1;
}

static void stop_waitlist_offers(struct ticketd *app)
{
	waitlist_stop_offers(app->waitlist);
}

/* Multi-node (issue #16): joins the group whose assignment says which
 * events this node serves; off without node_id. */
static int start_shards(struct ticketd *app, char *err, size_t errlen)
{
	return shards_start(&app->shards, err, errlen);
}

/* What the journal's fencing asks (which epoch an event's writes carry)
 * exists before the journal starts and after it stopped. */
static int start_shard_state(struct ticketd *app, char *err, size_t errlen)
{
	return shards_init(&app->shards, app, err, errlen);
}

static void stop_shard_state(struct ticketd *app)
{
	shards_free(&app->shards);
}

static void stop_shards(struct ticketd *app)
{
	shards_stop(&app->shards);
}

static int start_health(struct ticketd *app, char *err, size_t errlen)
{
	return health_start(&app->health, app, err, errlen);
}

static void stop_health(struct ticketd *app)
{
	health_stop(&app->health);
}

static void on_http_done(void *ctx, const char *route, const char *method,
			 int status, double seconds)
{
	struct ticketd *app = ctx;

	metrics_observe_http(&app->metrics, route, method, status, seconds);
	/* A stream's time is its subscription, not a wait. */
	if (!strstr(route, "/stream"))
		overload_observe(&app->overload, seconds);
}

/* libmicrohttpd must not stop with suspended connections: idle streams
 * are woken and end first. */
static void before_http_stop(void *ctx)
{
	struct ticketd *app = ctx;

	sse_hub_close(app->sse);
	rooms_close(app->rooms);
	waitlist_close(app->waitlist);
}

static int start_http(struct ticketd *app, char *err, size_t errlen)
{
	/* Streams, the room and the other routes have no cap here (streams
	 * have sse_max_clients and room_max_streams, the room
	 * room_max_visitors). */
	struct http_door doors[DOOR_N] = {
		[DOOR_OTHER] = {api_door_names[DOOR_OTHER], 0},
		[DOOR_READS] = {api_door_names[DOOR_READS], app->cfg.http_inflight_reads},
		[DOOR_SESSIONS] = {api_door_names[DOOR_SESSIONS], app->cfg.http_inflight_sessions},
		[DOOR_HOLDS] = {api_door_names[DOOR_HOLDS], app->cfg.http_inflight_holds},
		[DOOR_ORDERS] = {api_door_names[DOOR_ORDERS], app->cfg.http_inflight_orders},
		[DOOR_PAYMENTS] = {api_door_names[DOOR_PAYMENTS], app->cfg.http_inflight_payments},
		[DOOR_STREAMS] = {api_door_names[DOOR_STREAMS], 0},
		[DOOR_ROOM] = {api_door_names[DOOR_ROOM], 0},
	};
	struct http_server_opts o = {
		.addr = app->cfg.http_addr,
		.port = app->cfg.http_port,
		.threads = app->cfg.http_threads,
		.max_connections = app->cfg.http_max_connections,
		.max_connections_per_addr = app->cfg.http_max_connections_per_addr,
		.header_timeout_ms = app->cfg.http_header_timeout_ms,
		.max_body = app->cfg.http_max_body,
		.trusted_proxies = app->cfg.trusted_proxies,
		.app = app,
		.on_done = on_http_done,
		.before_stop = before_http_stop,
		.doors = doors,
		.n_doors = DOOR_N,
		.route_door = api_route_door,
		.route_guard = api_route_guard,
		.overload_retry_after = (unsigned)app->cfg.overload_retry_after_seconds,
	};
	int rc;

	if (client_limits_start(app)) {
		snprintf(err, errlen, "out of memory for the per-address limits");
		return -ENOMEM;
	}
	rc = http_server_start(&app->http, &o, api_routes, api_n_routes, err,
			       errlen);
	if (rc)
		client_limits_stop(app);
	return rc;
}

static void stop_http(struct ticketd *app)
{
	http_server_stop(app->http);
	client_limits_stop(app); /* after: ending streams release their places */
}

/* Runs first at shutdown: pending authorizations fail over to the saga
 * workers, which drain (later jobs run inline), while the HTTP server still
 * runs to answer them. */
static void stop_answering_payments(struct ticketd *app)
{
	payment_client_stop(app->payments);
	saga_quiesce(&app->saga);
}

/* Span export (docs/ops/tracing.md): off unless otlp_traces_url is set. */
static int start_tracing(struct ticketd *app, char *err, size_t errlen)
{
	struct trace_opts o = {.url = app->cfg.otlp_traces_url,
			       .service_name = app->cfg.otlp_service_name,
			       .queue_max = app->cfg.otlp_queue_spans,
			       .timeout_ms = app->cfg.otlp_timeout_ms};
	int rc = trace_start(&o);

	if (rc)
		snprintf(err, errlen, "trace exporter: %s", strerror(-rc));
	return rc;
}

static void stop_tracing(struct ticketd *app)
{
	(void)app;
	trace_stop();
}

struct step {
	const char *name;
	int (*start)(struct ticketd *app, char *err, size_t errlen);
	void (*stop)(struct ticketd *app);
};

static const struct step steps[] = {
	{"state", start_state, NULL},
	{"database", start_db, stop_db},
	{"schema", start_schema, NULL},
	{"catalogue", start_catalog, stop_catalog},
	{"seat table", start_edge, edge_setup_close},
	/* before the first thread: every thread inherits the reduced sets */
	{"privileges", privileges_drop, NULL},
	{"tracing", start_tracing, stop_tracing},
	{"sessions", start_sessions, stop_sessions},
	{"shard state", start_shard_state, stop_shard_state},
	{"journal", start_journal, stop_journal},
	{"sse", start_sse, stop_sse},
	{"waitlist", start_waitlist, stop_waitlist},
	{"seat stream", start_stream, stop_stream},
	{"recovery", start_recovery, NULL},
	{"catalogue refresh", catalog_live_start, catalog_live_stop},
	{"outbox relay", start_relay, stop_relay},
	{"payment client", start_payments, stop_payments},
	{"saga", start_saga, stop_saga},
	{"sweeper", start_sweeper, stop_sweeper},
	{"udp doors", start_doors, edge_setup_close_doors},
	{"rooms", start_rooms, stop_rooms},
	{"waitlist offers", start_waitlist_offers, stop_waitlist_offers},
	{"tickets", start_tickets, stop_tickets},
	{"shards", start_shards, stop_shards},
	{"health", start_health, stop_health},
	{"http", start_http, stop_http},
	{"payments drain", NULL, stop_answering_payments},
};

#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

int main(int argc, char **argv)
{
	struct ticketd *app = calloc(1, sizeof(*app));
	struct notifier notifier = {0};
	char err[512];
	sigset_t set;
	size_t started = 0;
	int rc = 1;

	if (!app)
		return 1;
	switch (config_load(&app->cfg, argc, argv, err, sizeof(err))) {
	case CONFIG_HELP:
		free(app);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "ticketd: %s\n", err);
		free(app);
		return 2;
	case CONFIG_OK:
		break;
	}
	if (log_set_level(app->cfg.log_level)) {
		fprintf(stderr, "ticketd: log_level: expected debug, info, warn or error\n");
		free(app);
		return 2;
	}
	{
		const char *secret = NULL;
		char env[64];

		if (config_hide_secrets(argc, argv, &secret)) {
			snprintf(env, sizeof(env), "TICKETD_%s", secret);
			for (char *p = env; *p; p++)
				*p = (char)toupper((unsigned char)*p);
			log_msg(LOG_WARN, NULL,
				"%s was given on the command line, where any local user saw it "
				"(ps, /proc); pass it as %s or in a 0600 --config file",
				secret, env);
		}
	}
	/* Signals are taken synchronously by main; every other thread inherits
	 * the blocked mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	metrics_init(&app->metrics);
	drain_init(&app->drain);
	app->started_mono_ns = tkt_mono_ns();
	raise_fd_limit();

	for (; started < N_STEPS; started++) {
		const struct step *st = &steps[started];

		err[0] = '\0';
		if (st->start && st->start(app, err, sizeof(err))) {
			log_msg(LOG_ERROR, NULL, "%s: %s", st->name,
				err[0] ? err : "failed to start");
			break;
		}
	}
	if (started == N_STEPS) {
		log_json(LOG_INFO, NULL, "ticketd serving",
			 json_pack("{s:s, s:i, s:i, s:s}", "httpAddr", app->cfg.http_addr,
				   "httpPort", app->cfg.http_port, "events",
				   (int)atomic_load(&app->catalog.n_events), "holdPath", app->hold_path));
		notifier_start(&notifier, app);
		log_msg(LOG_INFO, NULL, "stopping on signal %d", wait_for_signal());
		notifier_stop(&notifier);
		rc = 0;
	}
	while (started-- > 0)
		if (steps[started].stop)
			steps[started].stop(app);
	drain_destroy(&app->drain);
	metrics_destroy(&app->metrics);
	free(app);
	return rc;
}
