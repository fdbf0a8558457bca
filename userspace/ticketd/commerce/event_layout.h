/* An admin's event description (POST/PATCH /admin/events, docs/api.md
 * "Admin: events"): parsed and validated from JSON, and the seat map it
 * describes built into the catalogue's grid. No database, no daemon: unit
 * tested (tests/unit/test_event_layout.c) and fuzzed (fuzz/fuzz_layout.c).
 *
 * The grid: sections stacked top to bottom in the order given, each row of
 * each section one grid row; cols = the longest row; a shorter row is
 * centred (its first seat at column (cols - seats) / 2). The cells left
 * over are gaps: seat ids that exist (seat id = r * cols + c, as the
 * contract wants) but are no seats: blocked for good (SEAT_GAP |
 * SEAT_BLOCKED) and left out of the seat map. A seat's label is its row's
 * label followed by its number (1-based within the row). */
#ifndef TICKETD_EVENT_LAYOUT_H
#define TICKETD_EVENT_LAYOUT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "userspace/ticketd/commerce/catalog.h"

#define LAYOUT_MAX_SEATS 20000      /* grid cells (gaps included) per event */
#define LAYOUT_MAX_COLS 1000
#define LAYOUT_MAX_ROWS 1000
#define LAYOUT_MAX_CATEGORIES 32
#define LAYOUT_MAX_SECTIONS 64
#define LAYOUT_NAME_MAX 200         /* event name and venue, characters */
#define LAYOUT_LABEL_MAX 64         /* category and section names */
#define LAYOUT_ROW_LABEL_MAX 8      /* row labels (seat label = row + number) */
#define LAYOUT_PRICE_MAX 100000000u /* minor units */
#define LAYOUT_HOLD_LIMIT_MAX 63    /* the events map's field */
#define LAYOUT_LIFETIME_MAX 16383   /* seconds, the events map's field */

/* Which fields a body carried. */
#define SPEC_NAME (1u << 0)
#define SPEC_VENUE (1u << 1)
#define SPEC_STARTS (1u << 2)
#define SPEC_SALE_STARTS (1u << 3)
#define SPEC_SALE_ENDS (1u << 4)
#define SPEC_HOLD_LIMIT (1u << 5)
#define SPEC_HOLD_SECONDS (1u << 6)
#define SPEC_MAX_HOLD (1u << 7)
#define SPEC_LAYOUT (1u << 8) /* categories and sections (always together) */

struct event_spec {
	unsigned have; /* SPEC_* */
	char name[LAYOUT_NAME_MAX * 4 + 1];
	char venue[LAYOUT_NAME_MAX * 4 + 1];
	int64_t starts_at_ms;
	int64_t sale_starts_ms, sale_ends_ms; /* 0: null */
	uint16_t hold_limit, hold_seconds, max_hold_seconds; /* 0: null */
	/* SPEC_LAYOUT: the built grid */
	uint16_t rows, cols;
	uint32_t n_seats;
	struct seat_info *seats;
	char *categories_json, *sections_json;
};

struct spec_error {
	char field[96];
	char message[160];
};

/* Parses body (a JSON object). create: name, venue, startsAt, categories
 * and sections are required; otherwise (PATCH) every field is optional,
 * and categories and sections come together or not at all. 0, or -EINVAL
 * with err naming the first bad field, or -ENOMEM. Free with
 * event_spec_free (also after a failure). */
int event_spec_parse(const json_t *body, bool create, struct event_spec *out,
		     struct spec_error *err);

void event_spec_free(struct event_spec *s);

/* Writes what s carries into e (its layout only when SPEC_LAYOUT: the grid
 * and the JSON texts move from s to e). Then checks what needs both (the
 * sale window against the start, hold seconds against the lifetime cap):
 * 0 or -EINVAL with err set. */
int event_spec_apply(struct event_spec *s, struct event_info *e,
		     struct spec_error *err);

#endif
