/* libFuzzer harness for best available's seat choice
 * (userspace/ticketd/seats/best.c). Input: rows (byte 0, 1..40), cols
 * (byte 1, 1..40), count (byte 2, 0..9 so refusals are reached too), then
 * one bit per seat in row-major order, 1 = taken (seats past the input's
 * end are free). Whatever the map: OK exactly when count is 1..8 and there
 * are at least count free seats; the answer is count distinct free seats
 * in ascending order; "together" exactly when some row has count adjacent
 * free seats, and then the seats are adjacent in the first such row.
 * Run: make fuzz (README.md, "Fuzzing"). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "userspace/ticketd/seats/best.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

/* The first row with n adjacent free seats, or rows if none. */
static uint32_t first_block_row(uint32_t rows, uint32_t cols,
				const uint8_t *map, uint32_t n)
{
	for (uint32_t r = 0; r < rows; r++) {
		uint32_t run = 0;

		for (uint32_t c = 0; c < cols; c++) {
			run = map[r * cols + c] ? run + 1 : 0;
			if (run >= n)
				return r;
		}
	}
	return rows;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t map[40 * 40];
	uint32_t out[BEST_MAX_COUNT], rows, cols, n_free = 0, first;
	bool together;
	int count;
	enum best_result res;

	if (size < 3)
		return 0;
	rows = data[0] % 40 + 1;
	cols = data[1] % 40 + 1;
	count = data[2] % 10;
	for (uint32_t i = 0; i < rows * cols; i++) {
		size_t byte = 3 + i / 8;

		map[i] = byte < size ? !(data[byte] >> (i % 8) & 1) : 1;
		n_free += map[i];
	}
	res = best_pick(rows, cols, map, count, out, &together);
	if (count < 1 || count > BEST_MAX_COUNT) {
		check(res == BEST_BAD_INPUT);
		return 0;
	}
	if (n_free < (uint32_t)count) {
		check(res == BEST_NOT_ENOUGH);
		return 0;
	}
	check(res == BEST_OK);
	for (int i = 0; i < count; i++) {
		check(out[i] < rows * cols && map[out[i]]);
		check(i == 0 || out[i - 1] < out[i]); /* ascending, so distinct */
	}
	first = first_block_row(rows, cols, map, (uint32_t)count);
	check(together == (first < rows));
	if (together)
		for (int i = 0; i < count; i++) {
			check(out[i] / cols == first);
			check(out[i] == out[0] + (uint32_t)i);
		}
	return 0;
}
