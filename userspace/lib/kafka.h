/* Helpers for every librdkafka client of ours (the outbox relay's
 * producer, the saga's consumer, the readiness probe). */
#ifndef TKT_LIB_KAFKA_H
#define TKT_LIB_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* rd_kafka_conf_set that returns 0, or -EINVAL with librdkafka's reason in
 * err, so calls chain with ||. */
int tkt_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
		       const char *value, char *err, size_t errlen);

/* A log callback (rd_kafka_conf_set_log_cb): librdkafka's warnings and
 * errors as our JSON log lines (level is syslog's: 3 error, 4 warning);
 * "FAIL" lines are dropped, the error event reports them. Any librdkafka
 * thread. */
void tkt_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf);

/* Logs one error event (from an error callback): fatal ones as errors,
 * the others (broker down, ...) as warnings. */
void tkt_kafka_log_error(rd_kafka_t *rk, int err, const char *reason);

#endif
