#include "userspace/lib/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/timefmt.h"

/* Written once by main before threads start (see log.h). */
static enum log_level min_level = LOG_INFO;
static const char *service;

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

void log_set_service(const char *name)
{
	service = name;
}

int log_enabled(enum log_level level)
{
	return level >= min_level;
}

void log_json(enum log_level level, const char *trace_id, const char *msg,
	      void *fields)
{
	json_t *obj;
	char when[TKT_RFC3339_LEN], *line;
	size_t len, off = 0;

	if (level < min_level || !(obj = json_object())) {
		json_decref(fields);
		return;
	}
	tkt_format_rfc3339_ms(tkt_unix_ms(), when, sizeof(when));
	json_object_set_new(obj, "ts", json_string(when));
	json_object_set_new(obj, "level", json_string(level_names[level]));
	if (service)
		json_object_set_new(obj, "service", json_string(service));
	json_object_set_new(obj, "msg", json_string(msg));
	if (trace_id && *trace_id)
		json_object_set_new(obj, "traceId", json_string(trace_id));
	if (fields)
		json_object_update(obj, fields);
	json_decref(fields);
	line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER |
				       JSON_REAL_PRECISION(12));
	json_decref(obj);
	if (!line)
		return;
	len = strlen(line);
	line[len] = '\n'; /* replaces the NUL: one write() per line, so
			   * concurrent threads never interleave */
	while (off < len + 1) {
		ssize_t n = write(STDERR_FILENO, line + off, len + 1 - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(line);
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
