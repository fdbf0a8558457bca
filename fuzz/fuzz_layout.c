/* libFuzzer harness for the admin API's event description
 * (userspace/ticketd/commerce/event_layout.c). Input: any bytes, parsed
 * as JSON (jansson) and, when it is JSON, handed to event_spec_parse both
 * as a create and as a patch. Whatever the input: a clear answer (0,
 * -EINVAL naming a field, -ENOMEM), never a crash; on 0 with a layout,
 * the grid is rows x cols cells of at most LAYOUT_MAX_SEATS, every cell
 * either a gap (blocked, no label) or a seat whose label fits, and
 * event_spec_apply moves it into an event without a leak.
 * Run: make fuzz (README.md, "Fuzzing"). */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/commerce/event_layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void one(const json_t *body, bool create)
{
	struct event_spec s;
	struct spec_error err;
	struct event_info *e;
	int rc = event_spec_parse(body, create, &s, &err);

	check(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
	if (rc == -EINVAL)
		check(err.field[0] && err.message[0]);
	if (rc == 0 && (s.have & SPEC_LAYOUT)) {
		check(s.n_seats == (uint32_t)s.rows * s.cols);
		check(s.n_seats >= 1 && s.n_seats <= LAYOUT_MAX_SEATS);
		for (uint32_t i = 0; i < s.n_seats; i++) {
			const struct seat_info *si = &s.seats[i];

			check(si->r * (uint32_t)s.cols + si->c == i);
			if (si->flags & SEAT_GAP)
				check((si->flags & SEAT_BLOCKED) && !si->label[0]);
			else
				check(si->label[0] && strlen(si->label) < sizeof(si->label));
		}
	}
	if (rc == 0 && (e = calloc(1, sizeof(*e)))) {
		(void)event_spec_apply(&s, e, &err);
		event_info_free(e);
	}
	event_spec_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);

	if (!body)
		return 0;
	one(body, true);
	one(body, false);
	json_decref(body);
	return 0;
}
