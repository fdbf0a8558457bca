/* Best available's seat choice (userspace/ticketd/seats/best.c): grids
 * are drawn as strings, one per row, '.' free and 'x' taken. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/ticketd/seats/best.h"

#define MAXS 4096

static uint8_t map[MAXS];
static uint32_t rows, cols;

static void grid(const char *const *lines, uint32_t n)
{
	rows = n;
	cols = (uint32_t)strlen(lines[0]);
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t c = 0; c < cols; c++)
			map[r * cols + c] = lines[r][c] == '.';
}

static void pick(int count, enum best_result want, bool want_together,
		 const uint32_t *want_ids)
{
	uint32_t out[BEST_MAX_COUNT];
	bool together = !want_together;

	assert_int_equal(best_pick(rows, cols, map, count, out, &together), want);
	if (want != BEST_OK)
		return;
	assert_int_equal(together, want_together);
	for (int i = 0; i < count; i++)
		assert_int_equal(out[i], want_ids[i]);
}

static void centre_of_front_row(void **st)
{
	static const char *const g[] = {"..........", "..........", ".........."};
	static const uint32_t two[] = {4, 5}, three[] = {3, 4, 5}, one[] = {4};

	(void)st;
	grid(g, 3);
	pick(2, BEST_OK, true, two);
	pick(3, BEST_OK, true, three); /* a tie: the left block */
	pick(1, BEST_OK, true, one);
}

static void front_row_before_centre(void **st)
{
	/* front row has 2 free at its edge: the front wins over the centre */
	static const char *const g[] = {"xxxxxxxx..", ".........."};
	static const uint32_t want[] = {8, 9};

	(void)st;
	grid(g, 2);
	pick(2, BEST_OK, true, want);
}

static void full_row_is_skipped(void **st)
{
	static const char *const g[] = {"xxxxxxxxxx", "xxxxxxxxxx", "....x....."};
	static const uint32_t want[] = {20, 21, 22, 23};

	(void)st;
	grid(g, 3);
	/* the full rows are skipped; in row 2, 5..8 leaves 9 alone and 6..9
	 * leaves 5 alone, so 0..3 wins although it is further from the
	 * centre */
	pick(4, BEST_OK, true, want);
}

static void no_orphan(void **st)
{
	/* free 2..7 in a 10-seat row; 3 seats: the centred 3..5 leaves 2
	 * alone (1 is taken), so 2..4 (leaving 5..7) is taken instead */
	static const char *const g[] = {"xx......xx"};
	static const uint32_t want[] = {2, 3, 4};

	(void)st;
	grid(g, 1);
	pick(3, BEST_OK, true, want);
}

static void orphan_when_no_choice(void **st)
{
	/* 4 free, 3 wanted: every block leaves one seat; still together */
	static const char *const g[] = {"xxx....xxx"};
	static const uint32_t want[] = {3, 4, 5};

	(void)st;
	grid(g, 1);
	pick(3, BEST_OK, true, want);
}

static void fallback_not_together(void **st)
{
	/* no row has 3 adjacent free; rows 1 and 2 hold 3 free seats between
	 * them (a band of 2 rows), row 0 + row 1 only 2 */
	static const char *const g[] = {"x.xxxxxxxx", "xxxx.xxxxx", ".xxxx.xxxx",
					"xxxxxxxxxx"};
	static const char *const g1[] = {"x.xxxxxxxx", "xxxx.xxxxx", ".xxxx.xxxx",
					 "..x..x..x."};
	static const uint32_t want[] = {14, 20, 25}, want1[] = {33, 34, 36};

	(void)st;
	grid(g, 4); /* rows 1 and 2 hold 3 free seats: the fewest rows */
	pick(3, BEST_OK, false, want);
	grid(g1, 4); /* row 3 alone has 3 free seats: those nearest the centre */
	pick(3, BEST_OK, false, want1);
}

static void not_enough(void **st)
{
	static const char *const g[] = {"xx.xx", "x.xxx"};

	(void)st;
	grid(g, 2);
	pick(3, BEST_NOT_ENOUGH, false, NULL);
}

static void count_8(void **st)
{
	static const char *const g[] = {"xxxx.......xxxx", "..............."};
	static const uint32_t want[] = {18, 19, 20, 21, 22, 23, 24, 25};

	(void)st;
	grid(g, 2);
	/* row 0 has 7 free: row 1, centred (15 seats: 3..10 and 4..11 tie) */
	pick(8, BEST_OK, true, want);
}

static void edge_sizes(void **st)
{
	static const char *const one[] = {"."};
	static const char *const col[] = {".", ".", "."};
	static const char *const narrow[] = {"...", "..."};
	static const uint32_t z[] = {0}, c3[] = {0, 1, 2}, n4[] = {0, 1, 2, 4};
	uint32_t out[BEST_MAX_COUNT];
	bool t;

	(void)st;
	grid(one, 1);
	pick(1, BEST_OK, true, z);
	pick(2, BEST_NOT_ENOUGH, false, NULL);
	assert_int_equal(best_pick(1, 1, map, 0, out, &t), BEST_BAD_INPUT);
	assert_int_equal(best_pick(1, 1, map, 9, out, &t), BEST_BAD_INPUT);
	assert_int_equal(best_pick(0, 1, map, 1, out, &t), BEST_BAD_INPUT);
	grid(col, 3); /* one column: 3 seats in 3 rows, never together */
	pick(3, BEST_OK, false, c3);
	grid(narrow, 2); /* count wider than a row: centre seats of 2 rows */
	pick(4, BEST_OK, false, n4);
}

/* #17 accessible: 'a' an accessible free seat, '.' free, 'x' taken. */
static uint8_t acc[MAXS];

static void agrid(const char *const *lines, uint32_t n)
{
	grid(lines, n);
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t c = 0; c < cols; c++) {
			acc[r * cols + c] = lines[r][c] == 'a';
			map[r * cols + c] |= lines[r][c] == 'a';
		}
}

static void apick(int count, enum best_result want, bool want_together,
		  const uint32_t *want_ids)
{
	uint32_t out[BEST_MAX_COUNT];
	bool together = !want_together;

	assert_int_equal(best_pick_accessible(rows, cols, map, acc, count, out, &together), want);
	if (want != BEST_OK)
		return;
	assert_int_equal(together, want_together);
	for (int i = 0; i < count; i++)
		assert_int_equal(out[i], want_ids[i]);
}

static void accessible_seat_first_with_its_neighbours(void **st)
{
	/* the front row has no accessible seat; row 1 has two: the one
	 * nearer the centre, with a block of 3 around it */
	static const char *const g[] = {"..........", "a....a...x", ".........."};
	static const uint32_t three[] = {13, 14, 15}, one[] = {15}; /* left on a tie */

	(void)st;
	agrid(g, 3);
	apick(3, BEST_OK, true, three);
	apick(1, BEST_OK, true, one);
}

static void accessible_seat_without_a_block_takes_the_nearest(void **st)
{
	static const char *const g[] = {"xxxxaxxxxx", "x........x"};
	static const uint32_t want[] = {4, 13, 14}; /* left on a tie */
	static const char *const none[] = {"..........", ".........."};

	(void)st;
	agrid(g, 2);
	apick(3, BEST_OK, false, want); /* the seat, then the nearest below it */
	agrid(none, 2);
	apick(2, BEST_NOT_ENOUGH, false, NULL); /* no accessible seat */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(centre_of_front_row),
		cmocka_unit_test(front_row_before_centre),
		cmocka_unit_test(full_row_is_skipped),
		cmocka_unit_test(no_orphan),
		cmocka_unit_test(orphan_when_no_choice),
		cmocka_unit_test(fallback_not_together),
		cmocka_unit_test(not_enough),
		cmocka_unit_test(count_8),
		cmocka_unit_test(edge_sizes),
		cmocka_unit_test(accessible_seat_first_with_its_neighbours),
		cmocka_unit_test(accessible_seat_without_a_block_takes_the_nearest),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
