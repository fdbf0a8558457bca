/* Structured logs for every program: one JSON object per line on stderr,
 * {"ts","level","service"?,"msg","traceId"?, ...fields}, with the trace id
 * of the request or job that produced it. */
#ifndef TICKETD_LOG_H
#define TICKETD_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set once by main before any thread starts; read-only afterwards. */
int log_set_level(const char *name);

/* Names the program in every line ("service"); set once by main, before
 * threads start, or never. name must outlive the program. */
void log_set_service(const char *name);

/* True when lines of this level are written (skip building them if not). */
int log_enabled(enum log_level level);

/* Writes {"ts","level","msg","traceId"?, ...fields} as one line. fields is
 * NULL or a jansson object (json_t *) that is consumed. */
void log_json(enum log_level level, const char *trace_id, const char *msg,
	      void *fields);

__attribute__((format(printf, 3, 4))) void
log_msg(enum log_level level, const char *trace_id, const char *fmt, ...);

#endif
