#include "userspace/ticketd/health.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/kafka.h"
#include "userspace/lib/log.h"
#include "userspace/lib/udp_door.h"
#include "userspace/ticketd/db/db.h"
#include "userspace/ticketd/ticketd.h"

static const char *const part_names[HEALTH_N_PARTS] = {
	"redis", "database", "kafka", "seatTable", "udpDoor"};

const char *health_part_name(enum health_part p)
{
	return part_names[p];
}

static void set_part(struct health *h, enum health_part p, bool up,
		     const char *why)
{
	bool was = atomic_exchange(&h->up[p], up);

	pthread_mutex_lock(&h->lock);
	snprintf(h->why[p], sizeof(h->why[p]), "%s", up ? "" : why);
	pthread_mutex_unlock(&h->lock);
	if (was != up && atomic_load(&h->checked))
		log_msg(up ? LOG_INFO : LOG_WARN, NULL, "%s is %s%s%s", part_names[p],
			up ? "up" : "down", up ? "" : ": ", up ? "" : why);
}

void health_why(struct health *h, enum health_part p, char *out, size_t len)
{
	pthread_mutex_lock(&h->lock);
	snprintf(out, len, "%s", h->why[p]);
	pthread_mutex_unlock(&h->lock);
}

bool health_ready(struct health *h)
{
	if (!atomic_load(&h->checked))
		return false;
	for (int p = 0; p < HEALTH_N_PARTS; p++)
		if (!atomic_load(&h->up[p]))
			return false;
	return true;
}

static void check_redis(struct health *h)
{
	struct timeval tv = {.tv_sec = 0, .tv_usec = 500000};
	redisContext *c = redisConnectWithTimeout(h->app->cfg.redis_host,
						  h->app->cfg.redis_port, tv);
	redisReply *r = NULL;
	char why[160];

	if (!c || c->err) {
		snprintf(why, sizeof(why), "cannot connect to %s:%d: %s",
			 h->app->cfg.redis_host, h->app->cfg.redis_port,
			 c ? c->errstr : "out of memory");
		set_part(h, HEALTH_REDIS, false, why);
		goto out;
	}
	redisSetTimeout(c, tv);
	r = redisCommand(c, "PING");
	if (!r || r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG")) {
		snprintf(why, sizeof(why), "PING failed: %s",
			 r ? (r->str ? r->str : "unexpected reply") : c->errstr);
		set_part(h, HEALTH_REDIS, false, why);
	} else {
		set_part(h, HEALTH_REDIS, true, NULL);
	}
out:
	if (r)
		freeReplyObject(r);
	if (c)
		redisFree(c);
}

static void check_kafka(struct health *h)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;
	char why[160];

	e = rd_kafka_metadata(h->kafka, 0, NULL, &md, 1000);
	if (e) {
		snprintf(why, sizeof(why), "metadata request to %s failed: %s",
			 h->app->cfg.kafka_bootstrap, rd_kafka_err2str(e));
		set_part(h, HEALTH_KAFKA, false, why);
		return;
	}
	if (md->broker_cnt < 1)
		set_part(h, HEALTH_KAFKA, false, "no broker in metadata");
	else
		set_part(h, HEALTH_KAFKA, true, NULL);
	rd_kafka_metadata_destroy(md);
}

/* The socket door's workers end only on an error of their own socket;
 * one that did leaves the door serving fewer flows (or none). */
static void check_udp_door(struct health *h)
{
	char why[160];
	bool serving;

	/* A drain (rest/drain.h) stops and frees the door under this lock */
	pthread_mutex_lock(&h->app->drain.lock);
	serving = !h->app->udp || udp_door_serving(h->app->udp, why, sizeof(why));
	pthread_mutex_unlock(&h->app->drain.lock);
	if (serving)
		set_part(h, HEALTH_UDP, true, NULL);
	else
		set_part(h, HEALTH_UDP, false, why);
}

static void *health_loop(void *arg)
{
	struct health *h = arg;

	while (!atomic_load(&h->stop)) {
		check_redis(h);
		if (db_ping(&h->app->db))
			set_part(h, HEALTH_DATABASE, true, NULL);
		else
			set_part(h, HEALTH_DATABASE, false, "ping failed");
		check_kafka(h);
		if (ticketd_seat_table_usable(h->app))
			set_part(h, HEALTH_SEATS, true, NULL);
		else
			set_part(h, HEALTH_SEATS, false, "seat table not mapped");
		check_udp_door(h);
		atomic_store(&h->checked, true);
		for (int i = 0; i < 10 && !atomic_load(&h->stop); i++)
			usleep(100000);
	}
	return NULL;
}

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac,
		      const char *buf)
{
	/* The readiness verdict already says when Kafka is down; librdkafka's
	 * own retries would repeat it every second. */
	(void)rk;
	(void)level;
	log_msg(LOG_DEBUG, NULL, "kafka health client %s: %s", fac, buf);
}

int health_start(struct health *h, struct ticketd *app, char *err,
		 size_t errlen)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char kerr[256];

	memset(h, 0, sizeof(*h));
	h->app = app;
	pthread_mutex_init(&h->lock, NULL);
	for (int i = 0; i < HEALTH_N_PARTS; i++)
		snprintf(h->why[i], sizeof(h->why[i]), "not checked yet");
	if (tkt_kafka_conf_set(conf, "bootstrap.servers", app->cfg.kafka_bootstrap,
			       kerr, sizeof(kerr)) ||
	    tkt_kafka_conf_set(conf, "client.id", "ticketd-health", kerr,
			       sizeof(kerr))) {
		snprintf(err, errlen, "kafka config: %s", kerr);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	h->kafka = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof(kerr));
	if (!h->kafka) {
		snprintf(err, errlen, "kafka client: %s", kerr);
		return -EINVAL;
	}
	if (pthread_create(&h->thread, NULL, health_loop, h)) {
		snprintf(err, errlen, "cannot start the health thread");
		rd_kafka_destroy(h->kafka);
		h->kafka = NULL;
		return -EAGAIN;
	}
	return 0;
}

void health_stop(struct health *h)
{
	if (!h->kafka)
		return;
	atomic_store(&h->stop, true);
	pthread_join(h->thread, NULL);
	rd_kafka_destroy(h->kafka);
	h->kafka = NULL;
}
