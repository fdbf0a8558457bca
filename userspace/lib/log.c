#include "userspace/lib/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Written once by main before threads start (see log.h). */
static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_set_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (!strcmp(name, level_names[i])) {
			min_level = (enum log_level)i;
			return 0;
		}
	return -1;
}

int log_enabled(enum log_level level)
{
	return level >= min_level;
}

void log_json(enum log_level level, const char *trace_id, const char *msg,
	      void *fields)
{
	json_t *obj = fields ? (json_t *)fields : json_object();
	struct timespec ts;
	struct tm tm;
	char when[80];
	char *line;

	if (level < min_level || !obj) {
		json_decref(obj);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (long)(ts.tv_nsec / 1000000) % 1000);
	json_object_set_new(obj, "ts", json_string(when));
	json_object_set_new(obj, "level", json_string(level_names[level]));
	json_object_set_new(obj, "msg", json_string(msg));
	if (trace_id && *trace_id)
		json_object_set_new(obj, "traceId", json_string(trace_id));
	line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		/* One write per line so concurrent threads never interleave. */
		fprintf(stderr, "%s\n", line);
		free(line);
	}
	json_decref(obj);
}

void log_msg(enum log_level level, const char *trace_id, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_json(level, trace_id, buf, NULL);
}
