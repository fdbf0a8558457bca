/* ticketd: the ticketing edge daemon. Start-up order matters: the seat
 * table and the catalogue are ready before the HTTP server (or any UDP
 * door) accepts a single request. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "api/routes.h"
#include "userspace/catalog.h"
#include "userspace/config.h"
#include "userspace/db.h"
#include "userspace/edge_setup.h"
#include "userspace/health.h"
#include "userspace/log.h"
#include "userspace/sessions.h"
#include "userspace/ticketd.h"
#include "bpf/seat_word.h"

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

void ticketd_on_seat_event(struct ticketd *app, const struct event_info *e,
			   const struct seat_event *ev,
			   const struct tkt_change *rec)
{
	(void)app;
	(void)e;
	(void)ev;
	(void)rec;
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
	if (seat_stream_init(&app->stream, app, NULL, REPLAY_RING) ||
	    seat_stream_start(&app->stream)) {
		log_msg(LOG_ERROR, NULL, "cannot start the seat change stream");
		goto out;
	}
	stream_on = true;
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
	/* Doors first (no new changes), then the threads that consume them. */
	http_server_stop(app->http);
	if (app->udp || app->edge)
		edge_setup_close_doors(app);
	sweeper_stop(&app->sweeper);
	if (stream_on) {
		seat_stream_stop(&app->stream);
		seat_stream_free(&app->stream);
	}
	if (health_on)
		health_stop(&app->health);
	edge_setup_close(app);
	catalog_free(&app->catalog);
	if (db_open)
		db_pool_close(&app->db);
	metrics_destroy(&app->metrics);
	free(app);
	return rc;
}
