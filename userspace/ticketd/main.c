/* ticketd: the ticketing edge daemon. Start-up order matters: the seat
 * table and the catalogue are ready before the HTTP server (or any UDP
 * door) accepts a single request. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/config.h"
#include "userspace/ticketd/db/db.h"
#include "userspace/ticketd/edge_setup.h"
#include "userspace/ticketd/health.h"
#include "userspace/lib/log.h"
#include "userspace/ticketd/commerce/payment_client.h"
#include "userspace/ticketd/seats/recovery.h"
#include "userspace/ticketd/commerce/sessions.h"
#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/ticketd.h"
#include "bpf/seat_word.h"
#include "userspace/lib/edge.h"

/* Changes each event keeps for SSE replay by Last-Event-ID. */
#define REPLAY_RING 4096
#define SWEEP_MS 100

bool ticketd_seat_table_usable(const struct ticketd *app)
{
	return app->seats != NULL;
}

uint64_t ticketd_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t ticketd_unix_ms_at(uint32_t *mono_ms)
{
	struct timespec rt;
	uint64_t mono_ns = ticketd_now_ns(), offset_ms;

	clock_gettime(CLOCK_REALTIME, &rt);
	offset_ms = ((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec -
		     mono_ns) / 1000000ull;
	*mono_ms = tkt_ms32(mono_ns);
	return mono_ns / 1000000ull + offset_ms;
}

int64_t ticketd_word_expiry_unix_ms(uint64_t word)
{
	uint32_t now_ms;
	uint64_t now_unix_ms = ticketd_unix_ms_at(&now_ms);

	return (int64_t)tkt_sw_expiry_unix_ms(word, now_ms, now_unix_ms);
}

void ticketd_on_seat_event(struct ticketd *app, const struct event_info *e,
			   const struct seat_event *ev,
			   const struct tkt_change *rec)
{
	struct journal_entry je = {
		.version = ev->version,
		.word = rec->new_word,
		.event_id = e->id,
		.seat_id = ev->seat_id,
		.status = ev->status,
	};

	/* The record's own expiry (even if it has lapsed since: the journal
	 * then writes a key that is already gone, which is harmless). */
	if (tkt_sw_state(rec->new_word) == TKT_SEAT_HELD ||
	    tkt_sw_state(rec->new_word) == TKT_SEAT_ORDERED) {
		uint32_t now_ms;
		uint64_t now_unix_ms = ticketd_unix_ms_at(&now_ms);

		je.expiry_unix_ms = (int64_t)now_unix_ms +
				    (int32_t)(tkt_sw_expiry(rec->new_word) - now_ms);
	}
	journal_push(&app->journal, &je);
	sse_hub_publish(app->sse, e, ev, rec->mono_ns);
}

static int make_dirs(const char *path)
{
	char buf[CONFIG_STR_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

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

int main(int argc, char **argv)
{
	struct ticketd *app = calloc(1, sizeof(*app));
	char err[512], keypath[CONFIG_STR_MAX + 16];
	sigset_t set;
	int rc = 1, created = 0;
	bool db_open = false, health_on = false, stream_on = false;
	bool journal_on = false, relay_on = false;
	uint64_t *versions = NULL;

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
	/* Signals are taken synchronously by main; every other thread inherits
	 * the blocked mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	metrics_init(&app->metrics);
	raise_fd_limit();

	if (make_dirs(app->cfg.state_dir)) {
		log_msg(LOG_ERROR, NULL, "cannot create state_dir %s: %s",
			app->cfg.state_dir, strerror(errno));
		goto out;
	}
	snprintf(keypath, sizeof(keypath), "%s/token.key", app->cfg.state_dir);
	if (sessions_load_key(keypath, &app->token_key, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	if (db_pool_open(&app->db, &app->cfg, 30, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	db_open = true;
	if (db_migrate(&app->db, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	if (app->cfg.demo_data) {
		if (catalog_seed_demo(&app->db, &created, err, sizeof(err))) {
			log_msg(LOG_ERROR, NULL, "%s", err);
			goto out;
		}
		if (created)
			log_msg(LOG_INFO, NULL, "created %d demo events", created);
	}
	if (catalog_load(&app->catalog, &app->db, TKT_MAX_SEATS, err, sizeof(err)) ||
	    edge_setup_open(app, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	if (journal_start(&app->journal, app->cfg.redis_host, app->cfg.redis_port)) {
		log_msg(LOG_ERROR, NULL, "cannot start the Redis journal");
		goto out;
	}
	journal_on = true;
	versions = calloc(app->catalog.n_events + 1, sizeof(*versions));
	if (!versions) {
		log_msg(LOG_ERROR, NULL, "out of memory");
		goto out;
	}
	recovery_versions(app, versions);
	if (sse_hub_start(&app->sse, app)) {
		log_msg(LOG_ERROR, NULL, "cannot start the SSE hub");
		goto out;
	}
	if (seat_stream_init(&app->stream, app, versions, REPLAY_RING) ||
	    seat_stream_start(&app->stream)) {
		log_msg(LOG_ERROR, NULL, "cannot start the seat change stream");
		goto out;
	}
	stream_on = true;
	if (!edge_reused(app->edge)) {
		struct recovery_report rep;

		if (recovery_rebuild(app, &rep, err, sizeof(err))) {
			log_msg(LOG_ERROR, NULL, "recovery: %s", err);
			goto out;
		}
		log_json(LOG_INFO, NULL, "seat table rebuilt",
			 json_pack("{s:i, s:i, s:i, s:i, s:b}", "sold", (int)rep.sold,
				   "holds", (int)rep.holds, "orders", (int)rep.orders,
				   "skipped", (int)rep.skipped, "redis", rep.redis_ok));
	} else {
		struct recovery_report rep;

		if (recovery_sync_sold(app, &rep, err, sizeof(err)))
			log_msg(LOG_WARN, NULL, "recovery: %s", err);
		else if (rep.sold || rep.skipped)
			log_msg(LOG_INFO, NULL, "seat table: %u seats sold meanwhile marked SOLD, %u conflicts",
				rep.sold, rep.skipped);
	}
	if (saga_reconcile(app, !edge_reused(app->edge)))
		log_msg(LOG_WARN, NULL, "saga: reconciling seat words with orders failed");
	if (outbox_relay_start(&app->relay, &app->db, app->cfg.kafka_bootstrap, NULL,
			       err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "outbox relay: %s", err);
		goto out;
	}
	relay_on = true;
	{
		struct payment_client_opts po = {
			.base_url = app->cfg.payment_url,
			.timeout_ms = app->cfg.payment_timeout_ms,
			.max_attempts = app->cfg.payment_attempts,
			.retry_backoff_ms = 100,
		};

		if (payment_client_start(&app->payments, &po)) {
			log_msg(LOG_ERROR, NULL, "cannot start the payment client");
			goto out;
		}
	}
	if (saga_start(&app->saga, app, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "saga: %s", err);
		goto out;
	}
	if (sweeper_start(&app->sweeper, app, SWEEP_MS)) {
		log_msg(LOG_ERROR, NULL, "cannot start the sweeper");
		goto out;
	}
	if (edge_setup_doors(app, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	if (health_start(&app->health, app, err, sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	health_on = true;
	if (http_server_start(&app->http, app, api_routes, api_n_routes, err,
			      sizeof(err))) {
		log_msg(LOG_ERROR, NULL, "%s", err);
		goto out;
	}
	log_json(LOG_INFO, NULL, "ticketd serving",
		 json_pack("{s:s, s:i, s:i, s:s}", "httpAddr", app->cfg.http_addr,
			   "httpPort", app->cfg.http_port, "events",
			   (int)app->catalog.n_events, "holdPath", app->hold_path));
	log_msg(LOG_INFO, NULL, "stopping on signal %d", wait_for_signal());
	rc = 0;
out:
	/* Pending payments are answered first (their HTTP connections are
	 * suspended and need the server), then the doors close (no new
	 * changes), then the threads that consume them stop. */
	payment_client_stop(app->payments);
	saga_quiesce(&app->saga);
	http_server_stop(app->http);
	saga_stop(&app->saga);
	payment_client_free(app->payments);
	if (relay_on)
		outbox_relay_stop(&app->relay);
	if (app->udp || app->edge)
		edge_setup_close_doors(app);
	sweeper_stop(&app->sweeper);
	if (stream_on) {
		seat_stream_stop(&app->stream);
		seat_stream_free(&app->stream);
	}
	sse_hub_stop(app->sse);
	if (journal_on)
		journal_stop(&app->journal);
	if (health_on)
		health_stop(&app->health);
	edge_setup_close(app);
	free(versions);
	catalog_free(&app->catalog);
	if (db_open)
		db_pool_close(&app->db);
	metrics_destroy(&app->metrics);
	free(app);
	return rc;
}
