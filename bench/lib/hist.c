/* The load tools' latency histogram; the rule is in hist.h. */
#include "bench/lib/hist.h"

#include <ctype.h>
#include <string.h>

uint64_t bench_rank(double q, uint64_t n)
{
	double x;
	uint64_t r;

	if (n == 0)
		return 0;
	if (!(q > 0))
		return 1;
	if (q >= 1)
		return n;
	x = q * (double)n;
	r = (uint64_t)x;
	/* ceil(x), but a product that is an integer up to rounding (0.07 *
	 * 100 = 7.000000000000001) stays that integer */
	if ((double)r + 1e-9 * x < x)
		r++;
	if (r < 1)
		r = 1;
	return r > n ? n : r;
}

unsigned bench_hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v >= (1ULL << BENCH_HIST_MAX_BITS))
		v = (1ULL << BENCH_HIST_MAX_BITS) - 1;
	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - BENCH_HIST_SUB_BITS;
	/* v >> shift is in [SUB, 2 * SUB) */
	return shift * BENCH_HIST_SUB + (unsigned)(v >> shift);
}

uint64_t bench_hist_upper(unsigned idx)
{
	unsigned shift, mant;

	if (idx < 2 * BENCH_HIST_SUB)
		return idx;
	shift = idx / BENCH_HIST_SUB - 1;
	mant = idx - shift * BENCH_HIST_SUB;
	return (((uint64_t)mant + 1) << shift) - 1;
}

void bench_hist_add(struct bench_hist *h, int64_t v)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v;

	h->count[bench_hist_index(u)]++;
	h->total++;
	h->sum += (double)u;
	if (u > h->max)
		h->max = u;
	if (h->total == 1 || u < h->min)
		h->min = u;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *h)
{
	if (!h->total)
		return;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++)
		into->count[i] += h->count[i];
	if (!into->total || h->min < into->min)
		into->min = h->min;
	if (h->max > into->max)
		into->max = h->max;
	into->total += h->total;
	into->sum += h->sum;
}

uint64_t bench_hist_percentile(const struct bench_hist *h, double q)
{
	uint64_t want = bench_rank(q, h->total), seen = 0;

	if (!want)
		return 0;
	for (unsigned i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen >= want) {
			uint64_t up = bench_hist_upper(i);

			if (up > h->max)
				up = h->max;
			return up < h->min ? h->min : up;
		}
	}
	return h->max;
}

double bench_hist_mean(const struct bench_hist *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}

/* "p50" -> 0.50, "p999" -> 0.999: two digits of percent, then its
 * decimals. Returns -1 for anything else. */
static double field_quantile(const char *f, size_t len)
{
	double q = 0, scale = 0.1;

	if (len < 3 || f[0] != 'p')
		return -1;
	for (size_t i = 1; i < len; i++) {
		if (!isdigit((unsigned char)f[i]))
			return -1;
		q += (f[i] - '0') * scale;
		scale /= 10;
	}
	return q;
}

/* The value of one field of bench_hist_json: 1 for the count (an
 * integer, *v unset), 0 for a value in *v, -1 for an unknown field. */
static int field_value(const struct bench_hist *h, const char *p, size_t len,
		       double *v)
{
	double q;

	if ((len == 1 && *p == 'n') || (len == 5 && !strncmp(p, "count", 5)))
		return 1;
	if (len == 3 && !strncmp(p, "min", 3))
		*v = (double)h->min;
	else if (len == 3 && !strncmp(p, "max", 3))
		*v = (double)h->max;
	else if (len == 4 && !strncmp(p, "mean", 4))
		*v = bench_hist_mean(h);
	else if (len == 6 && !strncmp(p, "median", 6))
		*v = (double)bench_hist_percentile(h, 0.5);
	else if ((q = field_quantile(p, len)) >= 0)
		*v = (double)bench_hist_percentile(h, q);
	else
		return -1;
	return 0;
}

int bench_hist_json(FILE *f, const char *name, const struct bench_hist *h,
		    const char *fields, double div, int decimals)
{
	const char *p = fields;
	int rc = 0;

	fprintf(f, "\"%s\":{", name);
	while (*p) {
		size_t len = strcspn(p, ",");
		double v = 0;
		int kind = field_value(h, p, len, &v);

		fprintf(f, "%s\"%.*s\":", p == fields ? "" : ",", (int)len, p);
		if (kind == 1)
			fprintf(f, "%llu", (unsigned long long)h->total);
		else if (kind == 0)
			fprintf(f, "%.*f", decimals, v / div);
		else
			fprintf(f, "null");
		if (kind < 0)
			rc = -1;
		p += len;
		if (*p == ',')
			p++;
	}
	fprintf(f, "}");
	return rc;
}
