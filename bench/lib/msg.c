#include "bench/lib/msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

const char *bench_prog = "bench";

__attribute__((format(printf, 1, 0))) static void vmsg(const char *fmt,
							     va_list ap)
{
	fprintf(stderr, "%s: ", bench_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void bench_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(2);
}
