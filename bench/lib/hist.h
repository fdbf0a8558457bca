/* The one latency histogram of the load tools, and their one percentile
 * rule.
 *
 * Log buckets (HDR style): values below 128 have a bucket each, above that
 * 64 linear sub-buckets per power of two, so a bucket is at most 1/64
 * (1.6 %) of its values wide; values are capped at 2^40 - 1. A histogram is
 * a plain struct (about 18 KiB): one per thread, merged after the join.
 *
 * Percentile rule, nearest rank: the q-percentile of N recorded values is
 * the value of rank ceil(q * N) (at least 1) in ascending order. The
 * histogram reports the highest value of the bucket holding that rank,
 * clamped to the recorded minimum and maximum: exact below 128, otherwise
 * never below the true value and at most 1/64 above it. */
#ifndef BENCH_LIB_HIST_H
#define BENCH_LIB_HIST_H

#include <stdint.h>
#include <stdio.h>

#define BENCH_HIST_SUB_BITS 6
#define BENCH_HIST_SUB (1 << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_MAX_BITS 40
#define BENCH_HIST_BUCKETS \
	((BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t count[BENCH_HIST_BUCKETS];
	uint64_t total;
	uint64_t min, max; /* of the recorded values; 0 when empty */
	double sum;
};

/* The rank (1-based) of the q-percentile of n values: ceil(q * n), at
 * least 1 and at most n; 0 when n is 0. q is a fraction (0.99 for p99). */
uint64_t bench_rank(double q, uint64_t n);

/* Bucket of a value, and the highest value that lands in a bucket. */
unsigned bench_hist_index(uint64_t v);
uint64_t bench_hist_upper(unsigned idx);

/* Records one value; a negative one counts as 0 (a difference of clocks
 * that ran backwards, or a figure below its baseline). */
void bench_hist_add(struct bench_hist *h, int64_t v);

/* Adds h into into. */
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *h);

/* The q-percentile by the rule above; 0 when empty. */
uint64_t bench_hist_percentile(const struct bench_hist *h, double q);

/* Mean of the recorded values (exact, not bucketed); 0 when empty. */
double bench_hist_mean(const struct bench_hist *h);

/* Writes "name":{...} with the fields listed in fields, comma-separated:
 *   n or count  the number of values (an integer)
 *   min, mean, max
 *   median      the 0.5-percentile
 *   pD...       the percentile 0.D... (p50, p90, p99, p999, p10)
 * Every value but n is divided by div (1e3: ns recorded, us written) and
 * written with decimals decimals. Returns 0, or -1 on an unknown field
 * (what was written up to it stays). */
int bench_hist_json(FILE *f, const char *name, const struct bench_hist *h,
		    const char *fields, double div, int decimals);

#endif
