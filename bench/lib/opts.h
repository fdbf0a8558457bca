/* One option table per tool: each row names a long option, the field of
 * the tool's settings struct it writes (by offsetof, as xdp-tools' params
 * do), how to read its argument and its line of help. bench_opts_parse
 * reads argv into the struct and answers --help from the same table, so
 * the flags, their checks, their defaults and their help cannot drift
 * apart. A row's .def, when set, is applied as if given first and named
 * in the help.
 *
 *   #define BENCH_OPTS_TYPE struct my_opts
 *   static const struct bench_opt table[] = {
 *           BOPT(INT, "threads", threads, .lo = 1, .hi = 64, .arg = "N",
 *                .help = "worker threads (default 1)"),
 *           BOPT2(RANGE, "seats", seat_lo, seat_hi, .arg = "A-B",
 *                 .help = "seat range"),
 *           BENCH_OPTS_END,
 *   };
 */
#ifndef BENCH_LIB_OPTS_H
#define BENCH_LIB_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum bench_opt_kind {
	BENCH_OPT_END,      /* the end of the table */
	BENCH_OPT_TEXT,     /* no option: .help is a heading of the help */
	BENCH_OPT_FLAG,     /* bool = true; no argument */
	BENCH_OPT_SET,      /* int = .lo; no argument */
	BENCH_OPT_STR,      /* const char * = the argument */
	BENCH_OPT_INT,      /* int in .lo .. .hi */
	BENCH_OPT_LONG,     /* long in .lo .. .hi */
	BENCH_OPT_U16,      /* uint16_t in .lo .. .hi */
	BENCH_OPT_U32,      /* uint32_t in .lo .. .hi */
	BENCH_OPT_DOUBLE,   /* double in .lo .. .hi */
	BENCH_OPT_RANGE,    /* "A-B" or "A": uint32_t at .off and at .off2 */
	BENCH_OPT_CHOICE,   /* int = index of the argument in .choices */
	BENCH_OPT_LIST,     /* repeatable: const char *[.hi] at .off, its
			     * int count at .off2 */
	BENCH_OPT_ENDPOINT, /* struct bench_endpoint (conn.h) resolved from
			     * the argument, .lo the default port */
	BENCH_OPT_FUNC,     /* .parse(argument, settings) returns 0 or -1 */
};

struct bench_opt {
	const char *name; /* without "--" */
	enum bench_opt_kind kind;
	size_t off, off2;
	double lo, hi;
	const char *const *choices; /* NULL-terminated */
	int (*parse)(const char *arg, void *settings);
	const char *arg;  /* the argument in the help ("N", "FILE") */
	const char *help; /* may hold '\n' for more lines; not NULL */
	const char *def;  /* the default: applied before argv, and shown
			   * in the help, when not NULL */
};

#define BENCH_OPT(kind_, name_, type_, field_, ...)                          \
	{.name = (name_), .kind = BENCH_OPT_##kind_,                          \
	 .off = offsetof(type_, field_), __VA_ARGS__}
/* A row of two fields: RANGE (low, high) and LIST (array, count). */
#define BENCH_OPT2(kind_, name_, type_, field_, field2_, ...)                \
	{.name = (name_), .kind = BENCH_OPT_##kind_,                          \
	 .off = offsetof(type_, field_), .off2 = offsetof(type_, field2_),    \
	 __VA_ARGS__}
#define BENCH_OPT_HEADING(text_) {.kind = BENCH_OPT_TEXT, .help = (text_)}

/* The same rows for the struct the tool names BENCH_OPTS_TYPE. */
#define BOPT(kind_, name_, field_, ...) \
	BENCH_OPT(kind_, name_, BENCH_OPTS_TYPE, field_, __VA_ARGS__)
#define BOPT2(kind_, name_, field_, field2_, ...) \
	BENCH_OPT2(kind_, name_, BENCH_OPTS_TYPE, field_, field2_, __VA_ARGS__)

/* Rows several tools share: --event E, --seats A-B, --tokens FILE. */
#define BOPT_EVENT(field_)                                                  \
	BOPT(U32, "event", field_, .lo = 0, .hi = UINT32_MAX, .arg = "E",    \
	     .def = "1", .help = "event id")
#define BOPT_SEATS(lo_field_, hi_field_, def_, help_)                       \
	BOPT2(RANGE, "seats", lo_field_, hi_field_, .arg = "A-B",            \
	      .def = (def_), .help = (help_))
#define BOPT_TOKENS(field_, help_)                                          \
	BOPT(STR, "tokens", field_, .arg = "FILE",                           \
	     .help = "session tokens, one 32-hex token a line" help_)
#define BENCH_OPTS_END {.kind = BENCH_OPT_END}

/* Reads argv (no positional arguments) into settings and returns; exits
 * 0 after --help printed the usage (usage, then the table's help) on
 * stdout, 2 after a message on stderr. */
void bench_opts_parse(const struct bench_opt *table, void *settings,
		      const char *usage, int argc, char **argv);

/* A number in lo..hi (the whole string); 0 or -1. */
int bench_parse_double(const char *s, double lo, double hi, double *out);

#endif
