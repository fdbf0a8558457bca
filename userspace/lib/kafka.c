#include "userspace/lib/kafka.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "userspace/lib/log.h"

int tkt_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
		       const char *value, char *err, size_t errlen)
{
	if (rd_kafka_conf_set(conf, name, value, err, errlen) != RD_KAFKA_CONF_OK)
		return -EINVAL;
	return 0;
}

void tkt_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
		   const char *buf)
{
	if (level > 4 || !strcmp(fac, "FAIL"))
		return;
	log_json(level <= 3 ? LOG_ERROR : LOG_WARN, NULL, buf,
		 json_pack("{s:s, s:s, s:s}", "component", "kafka", "client",
			   rd_kafka_name(rk), "facility", fac));
}

void tkt_kafka_log_error(rd_kafka_t *rk, int err, const char *reason)
{
	log_json(err == RD_KAFKA_RESP_ERR__FATAL ? LOG_ERROR : LOG_WARN, NULL,
		 reason,
		 json_pack("{s:s, s:s, s:s}", "component", "kafka", "client",
			   rd_kafka_name(rk), "error",
			   rd_kafka_err2name((rd_kafka_resp_err_t)err)));
}
