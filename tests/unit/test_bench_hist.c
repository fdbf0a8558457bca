/* Unit tests of the load tools' histogram (bench/lib/hist.c) and its one
 * percentile rule, nearest rank: the q-percentile of N values is the value
 * of rank ceil(q * N), exact below 128, at most 1/64 above the true value
 * beyond. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bench/lib/hist.h"

static struct bench_hist *new_hist(void)
{
	struct bench_hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	return h;
}

static void rank_is_ceil_of_q_times_n(void **state)
{
	(void)state;
	assert_int_equal(bench_rank(0.5, 100), 50);
	assert_int_equal(bench_rank(0.5, 101), 51);
	assert_int_equal(bench_rank(0.9, 10), 9);
	assert_int_equal(bench_rank(0.99, 100), 99);
	assert_int_equal(bench_rank(0.99, 101), 100);
	assert_int_equal(bench_rank(0.999, 1000), 999);
	assert_int_equal(bench_rank(0.999, 100), 100);
	/* products that are integers up to rounding stay those integers */
	assert_int_equal(bench_rank(0.07, 100), 7);
	assert_int_equal(bench_rank(0.57, 100), 57);
	assert_int_equal(bench_rank(0.1, 30), 3);
	/* the ends: rank 1 at least, N at most, 0 of nothing */
	assert_int_equal(bench_rank(0, 10), 1);
	assert_int_equal(bench_rank(0.0001, 10), 1);
	assert_int_equal(bench_rank(1, 10), 10);
	assert_int_equal(bench_rank(1.5, 10), 10);
	assert_int_equal(bench_rank(0.5, 1), 1);
	assert_int_equal(bench_rank(0.5, 0), 0);
}

static void small_values_give_exact_nearest_rank(void **state)
{
	struct bench_hist *h = new_hist();

	(void)state;
	/* 1..100 in a shuffled order */
	for (int i = 0; i < 100; i++)
		bench_hist_add(h, (i * 37) % 100 + 1);
	assert_int_equal(h->total, 100);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 100);
	assert_int_equal(bench_hist_percentile(h, 0.5), 50);
	assert_int_equal(bench_hist_percentile(h, 0.9), 90);
	assert_int_equal(bench_hist_percentile(h, 0.99), 99);
	assert_int_equal(bench_hist_percentile(h, 0.999), 100);
	assert_int_equal(bench_hist_percentile(h, 0.1), 10);
	assert_int_equal(bench_hist_percentile(h, 0), 1);
	assert_int_equal(bench_hist_percentile(h, 1), 100);
	assert_true(bench_hist_mean(h) > 50.49 && bench_hist_mean(h) < 50.51);
	free(h);
}

static void rank_lands_on_the_value_not_between_values(void **state)
{
	struct bench_hist *h = new_hist();

	(void)state;
	/* 4 values: p50 is rank 2 (no averaging of ranks 2 and 3) */
	bench_hist_add(h, 10);
	bench_hist_add(h, 20);
	bench_hist_add(h, 30);
	bench_hist_add(h, 40);
	assert_int_equal(bench_hist_percentile(h, 0.5), 20);
	assert_int_equal(bench_hist_percentile(h, 0.51), 30);
	assert_int_equal(bench_hist_percentile(h, 0.75), 30);
	assert_int_equal(bench_hist_percentile(h, 0.76), 40);
	free(h);
}

static void large_values_are_at_most_one_64th_above(void **state)
{
	struct bench_hist *h = new_hist();
	uint64_t want[] = {128, 1000, 65537, 1234567, 987654321, 1ULL << 39};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		uint64_t up = bench_hist_upper(bench_hist_index(want[i]));

		assert_true(up >= want[i]);
		assert_true(up - want[i] <= want[i] / 64);
	}
	/* the one large value of a histogram is reported as itself (clamped
	 * to the maximum and minimum seen) */
	bench_hist_add(h, 1234567);
	assert_int_equal(bench_hist_percentile(h, 0.5), 1234567);
	/* 99 values of 1000 and one of 5000: p99 is 1000's bucket, at most
	 * 1/64 above */
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < 99; i++)
		bench_hist_add(h, 1000);
	bench_hist_add(h, 5000);
	assert_true(bench_hist_percentile(h, 0.99) >= 1000);
	assert_true(bench_hist_percentile(h, 0.99) <= 1000 + 1000 / 64);
	assert_int_equal(bench_hist_percentile(h, 0.999), 5000);
	free(h);
}

static void buckets_are_ordered_and_cover_the_range(void **state)
{
	(void)state;
	for (unsigned i = 1; i < BENCH_HIST_BUCKETS; i++)
		assert_true(bench_hist_upper(i) > bench_hist_upper(i - 1));
	/* every value lands in the bucket whose range holds it */
	for (uint64_t v = 0; v < 100000; v += 7) {
		unsigned i = bench_hist_index(v);

		assert_true(v <= bench_hist_upper(i));
		assert_true(i == 0 || v > bench_hist_upper(i - 1));
	}
	/* values beyond 2^40 go to the last bucket */
	assert_int_equal(bench_hist_index(UINT64_MAX), BENCH_HIST_BUCKETS - 1);
}

static void negative_values_count_as_zero(void **state)
{
	struct bench_hist *h = new_hist();

	(void)state;
	bench_hist_add(h, -5);
	bench_hist_add(h, 3);
	assert_int_equal(h->min, 0);
	assert_int_equal(bench_hist_percentile(h, 0.5), 0);
	assert_int_equal(bench_hist_percentile(h, 1), 3);
	free(h);
}

static void merge_equals_recording_into_one(void **state)
{
	struct bench_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
	struct bench_hist *sum = new_hist();

	(void)state;
	for (int i = 0; i < 500; i++) {
		int64_t v = (int64_t)(i * 7919 % 100000);

		bench_hist_add(i % 3 ? a : b, v);
		bench_hist_add(all, v);
	}
	bench_hist_merge(sum, a);
	bench_hist_merge(sum, b);
	assert_memory_equal(sum->count, all->count, sizeof(all->count));
	assert_int_equal(sum->total, all->total);
	assert_int_equal(sum->min, all->min);
	assert_int_equal(sum->max, all->max);
	/* merging an empty one changes nothing (its min of 0 included) */
	memset(a, 0, sizeof(*a));
	bench_hist_merge(sum, a);
	assert_int_equal(sum->min, all->min);
	assert_int_equal(bench_hist_percentile(sum, 0.9),
			 bench_hist_percentile(all, 0.9));
	free(a);
	free(b);
	free(all);
	free(sum);
}

static void empty_histogram_reports_zeros(void **state)
{
	struct bench_hist *h = new_hist();

	(void)state;
	assert_int_equal(bench_hist_percentile(h, 0.5), 0);
	assert_true(bench_hist_mean(h) == 0.0);
	free(h);
}

static void json_writes_the_fields_asked_for(void **state)
{
	struct bench_hist *h = new_hist();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	for (int i = 1; i <= 100; i++)
		bench_hist_add(h, i); /* exact: all below 128 */
	assert_int_equal(bench_hist_json(f, "lat", h,
					 "n,min,median,p90,p999,max", 10, 1),
			 0);
	fputc('|', f);
	assert_int_equal(bench_hist_json(f, "x", h, "count,p5x", 1, 0), -1);
	fclose(f);
	assert_string_equal(buf, "\"lat\":{\"n\":100,\"min\":0.1,\"median\":5.0,"
				 "\"p90\":9.0,\"p999\":10.0,\"max\":10.0}"
				 "|\"x\":{\"count\":100,\"p5x\":null}");
	free(buf);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rank_is_ceil_of_q_times_n),
		cmocka_unit_test(small_values_give_exact_nearest_rank),
		cmocka_unit_test(rank_lands_on_the_value_not_between_values),
		cmocka_unit_test(large_values_are_at_most_one_64th_above),
		cmocka_unit_test(buckets_are_ordered_and_cover_the_range),
		cmocka_unit_test(negative_values_count_as_zero),
		cmocka_unit_test(merge_equals_recording_into_one),
		cmocka_unit_test(empty_histogram_reports_zeros),
		cmocka_unit_test(json_writes_the_fields_asked_for),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
