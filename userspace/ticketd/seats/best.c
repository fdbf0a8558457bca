#include "userspace/ticketd/seats/best.h"

#include <stddef.h>
#include <stdint.h>

/* Twice the distance of a span's centre from the row's centre: integers
 * only, and the same for both halves of a symmetric row. */
static uint32_t centre_dist2(uint32_t first, uint32_t width, uint32_t cols)
{
	int64_t d = 2 * (int64_t)first + width - cols;

	return (uint32_t)(d < 0 ? -d : d);
}

static bool is_free(const uint8_t *row, uint32_t cols, int64_t c)
{
	return c >= 0 && c < (int64_t)cols && row[c];
}

/* Does the block [s, s + n) leave a lone free seat on either side? */
static bool leaves_orphan(const uint8_t *row, uint32_t cols, uint32_t s,
			  uint32_t n)
{
	int64_t l = (int64_t)s - 1, r = (int64_t)s + n;

	return (is_free(row, cols, l) && !is_free(row, cols, l - 1)) ||
	       (is_free(row, cols, r) && !is_free(row, cols, r + 1));
}

/* The best block of n adjacent free seats in one row; false if none. */
static bool best_in_row(const uint8_t *row, uint32_t cols, uint32_t n,
			uint32_t *start)
{
	bool found = false, best_orphan = true;
	uint32_t best_d = 0, run = 0;

	for (uint32_t c = 0; c < cols; c++) {
		run = row[c] ? run + 1 : 0;
		if (run < n)
			continue;
		uint32_t s = c + 1 - n, d = centre_dist2(s, n, cols);
		bool orphan = leaves_orphan(row, cols, s, n);

		/* strictly better only: the left block wins a tie */
		if (!found || (best_orphan && !orphan) ||
		    (orphan == best_orphan && d < best_d)) {
			found = true;
			best_orphan = orphan;
			best_d = d;
			*start = s;
		}
	}
	return found;
}

static uint32_t row_free(const uint8_t *row, uint32_t cols)
{
	uint32_t n = 0;

	for (uint32_t c = 0; c < cols; c++)
		n += row[c] != 0;
	return n;
}

static void sort_ids(uint32_t *a, int n)
{
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && a[k - 1] > a[k]; k--) {
			uint32_t t = a[k];

			a[k] = a[k - 1];
			a[k - 1] = t;
		}
}

/* The narrowest band of consecutive rows with at least n free seats
 * (frontmost on a tie), then its n free seats nearest the centre column. */
static enum best_result scattered(uint32_t rows, uint32_t cols,
				  const uint8_t *map, uint32_t n, uint32_t *out)
{
	uint32_t lo = 0, sum = 0, best_lo = 0, best_hi = 0;
	bool found = false;
	struct {
		uint64_t key;
		uint32_t id;
	} pick[BEST_MAX_COUNT];
	uint32_t have = 0;

	/* two pointers over rows: [lo, hi] is the shortest band ending at hi */
	for (uint32_t hi = 0; hi < rows; hi++) {
		sum += row_free(map + (size_t)hi * cols, cols);
		while (lo < hi && sum - row_free(map + (size_t)lo * cols, cols) >= n) {
			sum -= row_free(map + (size_t)lo * cols, cols);
			lo++;
		}
		if (sum >= n && (!found || hi - lo < best_hi - best_lo)) {
			found = true;
			best_lo = lo;
			best_hi = hi;
		}
	}
	if (!found)
		return BEST_NOT_ENOUGH;
	for (uint32_t r = best_lo; r <= best_hi; r++)
		for (uint32_t c = 0; c < cols; c++) {
			uint32_t id = r * cols + c;
			/* centre first, then front, then left: ids are row-major */
			uint64_t key = ((uint64_t)centre_dist2(c, 1, cols) << 32) | id;
			uint32_t k;

			if (!map[id])
				continue;
			if (have == n && key >= pick[n - 1].key)
				continue;
			k = have < n ? have++ : n - 1;
			for (; k > 0 && pick[k - 1].key > key; k--)
				pick[k] = pick[k - 1];
			pick[k].key = key;
			pick[k].id = id;
		}
	for (uint32_t i = 0; i < n; i++)
		out[i] = pick[i].id;
	sort_ids(out, (int)n);
	return BEST_OK;
}

enum best_result best_pick(uint32_t rows, uint32_t cols,
			   const uint8_t *free_map, int count, uint32_t *out,
			   bool *together)
{
	uint32_t n = (uint32_t)count;

	*together = false;
	if (count < 1 || count > BEST_MAX_COUNT || !rows || !cols || !free_map)
		return BEST_BAD_INPUT;
	for (uint32_t r = 0; r < rows; r++) {
		uint32_t s = 0;

		if (n > cols || !best_in_row(free_map + (size_t)r * cols, cols, n, &s))
			continue;
		for (uint32_t i = 0; i < n; i++)
			out[i] = r * cols + s + i;
		*together = true;
		return BEST_OK;
	}
	return scattered(rows, cols, free_map, n, out);
}

/* The best block of n adjacent free seats of a row that contains column a
 * (nearest the row's centre, the left one on a tie); false if none. */
static bool block_around(const uint8_t *row, uint32_t cols, uint32_t a, uint32_t n,
			 uint32_t *start)
{
	bool found = false;
	uint32_t best_d = 0;
	uint32_t lo = a + 1 >= n ? a + 1 - n : 0;

	for (uint32_t s = lo; s <= a && s + n <= cols; s++) {
		uint32_t c = s, d;

		while (c < s + n && row[c])
			c++;
		if (c < s + n)
			continue;
		d = centre_dist2(s, n, cols);
		if (!found || d < best_d) {
			found = true;
			best_d = d;
			*start = s;
		}
	}
	return found;
}

enum best_result best_pick_accessible(uint32_t rows, uint32_t cols,
				      const uint8_t *free_map, const uint8_t *accessible,
				      int count, uint32_t *out, bool *together)
{
	uint32_t n = (uint32_t)count, first = UINT32_MAX;
	uint64_t first_key = UINT64_MAX;
	struct {
		uint64_t key;
		uint32_t id;
	} pick[BEST_MAX_COUNT];
	uint32_t have = 0;

	*together = false;
	if (count < 1 || count > BEST_MAX_COUNT || !rows || !cols || !free_map || !accessible)
		return BEST_BAD_INPUT;
	/* Together: front row first; in it the accessible seats nearest the
	 * centre first, each with the best block of n free seats around it */
	for (uint32_t r = 0; r < rows; r++) {
		const uint8_t *row = free_map + (size_t)r * cols;
		uint32_t best_s = 0, best_d = UINT32_MAX;

		for (uint32_t c = 0; c < cols; c++) {
			uint32_t id = r * cols + c, s, d;

			if (!row[c] || !accessible[id])
				continue;
			d = centre_dist2(c, 1, cols);
			/* front row first, then nearest the centre, then left */
			if (((uint64_t)r << 42 | (uint64_t)d << 21 | c) < first_key) {
				first_key = (uint64_t)r << 42 | (uint64_t)d << 21 | c;
				first = id;
			}
			if (n <= cols && d < best_d && block_around(row, cols, c, n, &s)) {
				best_d = d;
				best_s = s;
			}
		}
		if (best_d != UINT32_MAX) {
			for (uint32_t i = 0; i < n; i++)
				out[i] = r * cols + best_s + i;
			*together = true;
			return BEST_OK;
		}
	}
	if (first == UINT32_MAX)
		return BEST_NOT_ENOUGH; /* no accessible seat is free */
	/* Not together: the frontmost accessible free seat, then the free
	 * seats nearest it (same row first, then the nearest rows) */
	{
		uint32_t ar = first / cols, ac = first % cols;

		pick[have].key = 0;
		pick[have++].id = first;
		for (uint32_t id = 0; id < rows * cols; id++) {
			uint32_t r = id / cols, c = id % cols, k;
			uint64_t dr = r > ar ? r - ar : ar - r, dc = c > ac ? c - ac : ac - c;
			uint64_t key = ((dr << 20 | dc) << 32) | id;

			if (!free_map[id] || id == first || n == 1)
				continue;
			if (have == n && key >= pick[n - 1].key)
				continue;
			k = have < n ? have++ : n - 1;
			for (; k > 1 && pick[k - 1].key > key; k--)
				pick[k] = pick[k - 1];
			pick[k].key = key;
			pick[k].id = id;
		}
	}
	if (have < n)
		return BEST_NOT_ENOUGH;
	for (uint32_t i = 0; i < n; i++)
		out[i] = pick[i].id;
	sort_ids(out, (int)n);
	return BEST_OK;
}
