/* Messages of the load tools: "<tool>: <text>" on stderr. */
#ifndef BENCH_LIB_MSG_H
#define BENCH_LIB_MSG_H

/* The tool's name in front of every message; set once by main. */
extern const char *bench_prog;

/* Prints "<tool>: <text>\n" on stderr. */
__attribute__((format(printf, 1, 2))) void bench_err(const char *fmt, ...);

/* The same, then exit(2). */
__attribute__((format(printf, 1, 2), noreturn)) void bench_die(const char *fmt,
								 ...);

#endif
