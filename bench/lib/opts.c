/* The load tools' option tables; see opts.h. */
#include "bench/lib/opts.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bench/lib/conn.h"
#include "bench/lib/msg.h"

#define HELP_COLUMN 26

int bench_parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* "A-B" or "A" (then B = A), A <= B, both 32-bit; 0 or -1. */
static int bench_parse_range(const char *s, uint32_t *lo, uint32_t *hi)
{
	unsigned long long a, b;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	a = strtoull(s, &end, 10);
	if (errno || end == s || a > UINT32_MAX)
		return -1;
	b = a;
	if (*end == '-') {
		const char *p = end + 1;

		if (*p < '0' || *p > '9')
			return -1;
		b = strtoull(p, &end, 10);
		if (errno || end == p || b > UINT32_MAX)
			return -1;
	}
	if (*end || b < a)
		return -1;
	*lo = (uint32_t)a;
	*hi = (uint32_t)b;
	return 0;
}

static bool numeric(enum bench_opt_kind k)
{
	return k == BENCH_OPT_INT || k == BENCH_OPT_LONG ||
	       k == BENCH_OPT_U16 || k == BENCH_OPT_U32 ||
	       k == BENCH_OPT_DOUBLE;
}

/* Stores a number already checked against lo..hi. */
static int store_number(const struct bench_opt *o, void *field, double v)
{
	if (o->kind != BENCH_OPT_DOUBLE && v != (double)(long long)v)
		return -1; /* integers only */
	switch (o->kind) {
	case BENCH_OPT_INT:
		*(int *)field = (int)v;
		break;
	case BENCH_OPT_LONG:
		*(long *)field = (long)v;
		break;
	case BENCH_OPT_U16:
		*(uint16_t *)field = (uint16_t)v;
		break;
	case BENCH_OPT_U32:
		*(uint32_t *)field = (uint32_t)v;
		break;
	default:
		*(double *)field = v;
	}
	return 0;
}

static int choice_index(const struct bench_opt *o, const char *arg)
{
	for (int i = 0; o->choices[i]; i++)
		if (!strcmp(o->choices[i], arg))
			return i;
	return -1;
}

/* Applies one option to settings; 0, or -1 after a message. */
static int apply(const struct bench_opt *o, void *settings, const char *arg)
{
	char *base = settings;
	void *field = base + o->off;
	double v;
	int i;

	switch (o->kind) {
	case BENCH_OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case BENCH_OPT_SET:
		*(int *)field = (int)o->lo;
		return 0;
	case BENCH_OPT_STR:
		*(const char **)field = arg;
		return 0;
	case BENCH_OPT_RANGE:
		if (bench_parse_range(arg, field, (uint32_t *)(base + o->off2)) == 0)
			return 0;
		bench_err("--%s: bad range '%s' (A-B or A)", o->name, arg);
		return -1;
	case BENCH_OPT_CHOICE:
		i = choice_index(o, arg);
		if (i >= 0) {
			*(int *)field = i;
			return 0;
		}
		bench_err("--%s: '%s' is not one of its choices", o->name,
			  arg);
		return -1;
	case BENCH_OPT_LIST:
		i = *(int *)(base + o->off2);
		if (i >= (int)o->hi) {
			bench_err("--%s: at most %d times", o->name, (int)o->hi);
			return -1;
		}
		((const char **)field)[i] = arg;
		*(int *)(base + o->off2) = i + 1;
		return 0;
	case BENCH_OPT_ENDPOINT:
		return bench_endpoint_parse(arg, (uint16_t)o->lo, field);
	case BENCH_OPT_FUNC:
		if (o->parse(arg, settings) == 0)
			return 0;
		bench_err("--%s: bad value '%s'", o->name, arg);
		return -1;
	default:
		break;
	}
	if (numeric(o->kind) && bench_parse_double(arg, o->lo, o->hi, &v) == 0 &&
	    store_number(o, field, v) == 0)
		return 0;
	bench_err("--%s: '%s' is not %s in %.15g..%.15g", o->name, arg,
		  o->kind == BENCH_OPT_DOUBLE ? "a number" : "an integer",
		  o->lo, o->hi);
	return -1;
}

static bool takes_arg(enum bench_opt_kind k)
{
	return k != BENCH_OPT_FLAG && k != BENCH_OPT_SET;
}

/* "  --name ARG" (a choice's ARG: its choices, a|b) then the help at
 * HELP_COLUMN, its further lines indented as far, and its default. */
static void usage_row(FILE *f, const struct bench_opt *o)
{
	const char *h = o->help;
	int w = fprintf(f, "  --%s", o->name);

	if (o->kind == BENCH_OPT_CHOICE && !o->arg)
		for (int i = 0; o->choices[i]; i++)
			w += fprintf(f, "%s%s", i ? "|" : " ", o->choices[i]);
	else if (takes_arg(o->kind) && o->arg)
		w += fprintf(f, " %s", o->arg);
	if (w >= HELP_COLUMN - 1) {
		fputc('\n', f);
		w = 0;
	}
	for (;;) {
		size_t n = strcspn(h, "\n");

		w += fprintf(f, "%*s%.*s", HELP_COLUMN - w, "", (int)n, h);
		if (!h[n])
			break;
		fputc('\n', f);
		h += n + 1;
		w = 0;
	}
	if (o->def && w + 11 + (int)strlen(o->def) > 79)
		fprintf(f, "\n%*s(default %s)", HELP_COLUMN, "", o->def);
	else if (o->def)
		fprintf(f, " (default %s)", o->def);
	fputc('\n', f);
}

/* The usage line(s), then one line per option of the table. */
static void bench_opts_usage(FILE *f, const char *usage,
			     const struct bench_opt *table)
{
	fprintf(f, "%s\n", usage);
	for (const struct bench_opt *o = table; o->kind != BENCH_OPT_END; o++) {
		if (o->kind == BENCH_OPT_TEXT)
			fprintf(f, "%s\n", o->help);
		else
			usage_row(f, o);
	}
	usage_row(f, &(struct bench_opt){.name = "help",
					 .kind = BENCH_OPT_FLAG,
					 .help = "this text"});
}

void bench_opts_parse(const struct bench_opt *table, void *settings,
		      const char *usage, int argc, char **argv)
{
	struct option *lo;
	int n = 0, k = 0, c, rc = 0;

	while (table[n].kind != BENCH_OPT_END)
		n++;
	lo = calloc((size_t)n + 2, sizeof(*lo));
	if (!lo)
		bench_die("out of memory");
	for (int i = 0; i < n; i++) {
		if (table[i].kind == BENCH_OPT_TEXT)
			continue;
		if (table[i].def && apply(&table[i], settings, table[i].def) < 0)
			rc = -1;
		lo[k].name = table[i].name;
		lo[k].has_arg = takes_arg(table[i].kind) ? required_argument
							 : no_argument;
		lo[k++].val = 256 + i;
	}
	lo[k].name = "help";
	lo[k].val = 'h';
	while (rc == 0 && (c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (c == 'h')
			rc = 1;
		else if (c < 256 || c - 256 >= n)
			rc = -1; /* getopt said why */
		else if (apply(&table[c - 256], settings, optarg) < 0)
			rc = -1;
	}
	if (rc == 0 && optind < argc) {
		bench_err("unexpected argument '%s'", argv[optind]);
		rc = -1;
	}
	free(lo);
	if (rc == 1) {
		bench_opts_usage(stdout, usage, table);
		exit(0);
	}
	if (rc < 0) {
		fprintf(stderr, "%s\n(%s --help lists the options)\n", usage,
			bench_prog);
		exit(2);
	}
}
