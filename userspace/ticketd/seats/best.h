/* Best available: which free seats of an event's grid to offer for a
 * request of `count` seats. A pure function of a free/taken map of the grid
 * (no seat table, no database), so tests/unit/test_best.c and
 * fuzz/fuzz_best.c drive it directly; seats/best_hold.c holds its answer.
 *
 * The default quality rank, derived from the grid (the catalogue has no
 * sections, categories or per-seat ranks yet): row 0 is the front and the
 * best row, then row 1, and so on; within a row, a seat is better the
 * nearer it is to the row's centre. Seat id = row * cols + col. */
#ifndef TICKETD_BEST_H
#define TICKETD_BEST_H

#include <stdbool.h>
#include <stdint.h>

#define BEST_MAX_COUNT 8

enum best_result {
	BEST_OK = 0,
	BEST_NOT_ENOUGH, /* fewer free seats than count in the whole grid */
	BEST_BAD_INPUT,  /* count outside 1..BEST_MAX_COUNT or an empty grid */
};

/* free_map[r * cols + c] is nonzero when that seat is free. On BEST_OK,
 * out[0..count-1] are distinct free seat ids in ascending order and
 * *together says whether they are adjacent seats of one row.
 *
 * Together: the first row (front first) that has `count` adjacent free
 * seats; in it the block whose centre is nearest the row's centre (the
 * left one on a tie), except that a block leaving a single free seat
 * stranded beside it (an "orphan": a free seat whose other neighbour is
 * taken or the row's end) loses to any block of the row that leaves none.
 * Otherwise (not together): the fewest consecutive rows holding `count`
 * free seats (the frontmost such band on a tie), and in them the free
 * seats nearest the centre column (then front first, then left first). */
enum best_result best_pick(uint32_t rows, uint32_t cols,
			   const uint8_t *free_map, int count, uint32_t *out,
			   bool *together);

/* The same with the first seat accessible (accessible[id] nonzero) and the
 * others beside it (its companions or neighbours, which are free seats of
 * free_map): together, the front row that has an accessible free seat
 * inside a block of count adjacent free seats, the accessible seat nearest
 * the row's centre and its block nearest the centre; otherwise the
 * frontmost accessible free seat (nearest the centre) and the free seats
 * nearest it (same row first), not together. BEST_NOT_ENOUGH when no
 * accessible seat is free or the grid has fewer than count free seats. */
enum best_result best_pick_accessible(uint32_t rows, uint32_t cols,
				      const uint8_t *free_map, const uint8_t *accessible,
				      int count, uint32_t *out, bool *together);

#endif
