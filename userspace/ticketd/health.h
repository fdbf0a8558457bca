/* Readiness: a checker thread asks Redis, MariaDB and Kafka for real once a
 * second and keeps the verdicts, so /readyz answers at once and never ties
 * up an HTTP thread on a slow dependency. */
#ifndef TICKETD_HEALTH_H
#define TICKETD_HEALTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct ticketd;

/* HEALTH_UDP: the UDP hold door; down when socket door workers died (an
 * XDP door has no threads to lose and counts as up). */
enum health_part { HEALTH_REDIS, HEALTH_DATABASE, HEALTH_KAFKA, HEALTH_SEATS,
		   HEALTH_UDP, HEALTH_N_PARTS };

struct health {
	pthread_t thread;
	atomic_bool stop;
	atomic_bool checked; /* at least one full round done */
	atomic_bool up[HEALTH_N_PARTS];
	pthread_mutex_t lock; /* guards why[] */
	char why[HEALTH_N_PARTS][160];
	struct ticketd *app;
	void *kafka; /* rd_kafka_t used only for metadata requests */
};

int health_start(struct health *h, struct ticketd *app, char *err,
		 size_t errlen);
void health_stop(struct health *h);

const char *health_part_name(enum health_part p);

/* Whether /readyz answers 200: a full round done and every part up. */
bool health_ready(struct health *h);

/* Copies the reason a part is down (empty when up). */
void health_why(struct health *h, enum health_part p, char *out, size_t len);

#endif
