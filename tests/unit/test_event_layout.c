/* The admin API's event description (userspace/ticketd/commerce/
 * event_layout.c): the grid it builds from sections and rows, and the
 * validation errors it names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "userspace/ticketd/commerce/event_layout.h"

static const char *const BASE =
	"{\"name\":\"Gala\",\"venue\":\"Hall\",\"startsAt\":\"2027-05-01T19:00:00Z\","
	"\"categories\":[{\"id\":1,\"name\":\"Premium\",\"price\":15000,\"color\":\"#b03a2e\"},"
	"{\"id\":2,\"name\":\"Standard\",\"price\":8000}],"
	"\"sections\":[{\"id\":1,\"name\":\"Stalls\",\"rows\":["
	"{\"label\":\"A\",\"seats\":6,\"category\":1,\"accessible\":[1],\"companions\":[2],"
	"\"blocked\":[6]},{\"label\":\"B\",\"seats\":4,\"category\":2}]},"
	"{\"id\":7,\"name\":\"Balcony\",\"rows\":[{\"label\":\"C\",\"seats\":5,\"category\":2}]}]}";

static int parse(const char *text, bool create, struct event_spec *s, struct spec_error *err)
{
	json_t *body = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(body);
	rc = event_spec_parse(body, create, s, err);
	json_decref(body);
	return rc;
}

/* The body with one key replaced (or added) by a JSON value. */
static char *with(const char *key, const char *value)
{
	json_t *body = json_loads(BASE, 0, NULL), *v = json_loads(value, JSON_DECODE_ANY, NULL);
	char *out;

	assert_non_null(body);
	assert_non_null(v);
	json_object_set_new(body, key, v);
	out = json_dumps(body, 0);
	json_decref(body);
	return out;
}

static void expect_field(const char *key, const char *value, const char *field)
{
	struct event_spec s;
	struct spec_error err;
	char *text = with(key, value);

	assert_int_equal(parse(text, true, &s, &err), -EINVAL);
	assert_string_equal(err.field, field);
	assert_true(strlen(err.message) > 0);
	event_spec_free(&s);
	free(text);
}

static void sections_stack_and_short_rows_are_centred_with_gaps(void **state)
{
	struct event_spec s;
	struct spec_error err;
	const struct seat_info *a1, *b1, *c1;

	(void)state;
	assert_int_equal(parse(BASE, true, &s, &err), 0);
	assert_int_equal(s.rows, 3);
	assert_int_equal(s.cols, 6);
	assert_int_equal(s.n_seats, 18);
	a1 = &s.seats[0];
	assert_string_equal(a1->label, "A1");
	assert_int_equal(a1->price, 15000);
	assert_int_equal(a1->section, 1);
	assert_int_equal(a1->category, 1);
	assert_true(a1->flags & SEAT_ACCESSIBLE);
	assert_true(s.seats[1].flags & SEAT_COMPANION);
	assert_int_equal(s.seats[5].flags, SEAT_BLOCKED);
	/* B has 4 seats in 6 columns: centred at column 1, gaps at 0 and 5 */
	assert_int_equal(s.seats[6].flags, SEAT_GAP | SEAT_BLOCKED);
	b1 = &s.seats[7];
	assert_string_equal(b1->label, "B1");
	assert_int_equal(b1->price, 8000);
	assert_string_equal(s.seats[10].label, "B4");
	assert_int_equal(s.seats[11].flags, SEAT_GAP | SEAT_BLOCKED);
	/* C (5 seats) starts at column 0 ((6 - 5) / 2), section 7 */
	c1 = &s.seats[12];
	assert_string_equal(c1->label, "C1");
	assert_int_equal(c1->section, 7);
	assert_int_equal(c1->r, 2);
	assert_int_equal(c1->c, 0);
	assert_int_equal(s.seats[17].flags, SEAT_GAP | SEAT_BLOCKED);
	assert_string_equal(s.sections_json,
			    "[{\"id\":1,\"name\":\"Stalls\"},{\"id\":7,\"name\":\"Balcony\"}]");
	assert_non_null(strstr(s.categories_json, "\"color\":\"#888888\""));
	event_spec_free(&s);
}

static void apply_moves_the_grid_and_checks_the_window(void **state)
{
	struct event_spec s;
	struct spec_error err;
	struct event_info *e = calloc(1, sizeof(*e));

	(void)state;
	assert_int_equal(parse(BASE, true, &s, &err), 0);
	assert_int_equal(event_spec_apply(&s, e, &err), 0);
	assert_null(s.seats);
	assert_int_equal(e->n_seats, 18);
	assert_string_equal(e->name, "Gala");
	event_spec_free(&s);
	assert_int_equal(parse("{\"saleStartsAt\":\"2027-04-01T00:00:00Z\","
			       "\"saleEndsAt\":\"2027-03-01T00:00:00Z\"}",
			       false, &s, &err),
			 0);
	assert_int_equal(event_spec_apply(&s, e, &err), -EINVAL);
	assert_string_equal(err.field, "saleEndsAt");
	event_spec_free(&s);
	event_info_free(e);
}

static void a_patch_may_carry_one_field(void **state)
{
	struct event_spec s;
	struct spec_error err;

	(void)state;
	assert_int_equal(parse("{\"holdLimit\":3}", false, &s, &err), 0);
	assert_int_equal(s.have, SPEC_HOLD_LIMIT);
	assert_int_equal(s.hold_limit, 3);
	event_spec_free(&s);
	assert_int_equal(parse("{\"holdLimit\":null}", false, &s, &err), 0);
	assert_int_equal(s.hold_limit, 0);
	event_spec_free(&s);
}

static void every_bad_field_is_named(void **state)
{
	(void)state;
	expect_field("name", "\"\"", "name");
	expect_field("name", "7", "name");
	expect_field("venue", "\"a\\u0001b\"", "venue");
	expect_field("startsAt", "\"tomorrow\"", "startsAt");
	expect_field("saleStartsAt", "\"2027-13-01T00:00:00Z\"", "saleStartsAt");
	expect_field("holdLimit", "0", "holdLimit");
	expect_field("holdLimit", "64", "holdLimit");
	expect_field("holdSeconds", "4", "holdSeconds");
	expect_field("maxHoldSeconds", "20000", "maxHoldSeconds");
	expect_field("colour", "1", "colour");
	expect_field("categories", "[{\"id\":1,\"name\":\"x\",\"price\":-1}]", "categories[0].price");
	expect_field("categories", "[{\"id\":1,\"name\":\"x\",\"price\":1,\"color\":\"red\"}]",
		     "categories[0].color");
	expect_field("categories",
		     "[{\"id\":1,\"name\":\"x\",\"price\":1},{\"id\":1,\"name\":\"y\",\"price\":1}]",
		     "categories[1].id");
	expect_field("sections", "[]", "sections");
	expect_field("sections", "[{\"id\":1,\"name\":\"S\",\"rows\":[{\"label\":\"A\",\"seats\":0}]}]",
		     "sections[0].rows[0].seats");
	expect_field("sections",
		     "[{\"id\":1,\"name\":\"S\",\"rows\":[{\"label\":\"A\",\"seats\":2,"
		     "\"category\":9}]}]",
		     "sections[0].rows[0].category");
	expect_field("sections",
		     "[{\"id\":1,\"name\":\"S\",\"rows\":[{\"label\":\"A\",\"seats\":2,"
		     "\"category\":1,\"blocked\":[3]}]}]",
		     "sections[0].rows[0].blocked");
	expect_field("sections",
		     "[{\"id\":1,\"name\":\"S\",\"rows\":[{\"label\":\"ABCDEFGHI\",\"seats\":2,"
		     "\"category\":1}]}]",
		     "sections[0].rows[0].label");
	expect_field("sections",
		     "[{\"id\":1,\"name\":\"S\",\"rows\":[{\"label\":\"A\",\"seats\":2}]}]",
		     "sections[0].rows[0].category");
}

static void a_grid_over_twenty_thousand_seats_is_refused(void **state)
{
	json_t *body = json_loads(BASE, 0, NULL), *rows = json_array(), *secs;
	struct event_spec s;
	struct spec_error err;

	(void)state;
	/* 21 rows of 1000 seats: 21,000 grid cells */
	for (int i = 0; i < 21; i++)
		json_array_append_new(rows, json_pack("{s:s, s:i, s:i}", "label", "R", "seats",
						      1000, "category", 1));
	secs = json_pack("[{s:i, s:s, s:o}]", "id", 1, "name", "Floor", "rows", rows);
	json_object_set_new(body, "sections", secs);
	assert_int_equal(event_spec_parse(body, true, &s, &err), -EINVAL);
	assert_string_equal(err.field, "sections");
	event_spec_free(&s);
	json_decref(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sections_stack_and_short_rows_are_centred_with_gaps),
		cmocka_unit_test(apply_moves_the_grid_and_checks_the_window),
		cmocka_unit_test(a_patch_may_carry_one_field),
		cmocka_unit_test(every_bad_field_is_named),
		cmocka_unit_test(a_grid_over_twenty_thousand_seats_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
