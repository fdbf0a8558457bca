#include "userspace/ticketd/commerce/event_layout.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/lib/timefmt.h"

__attribute__((format(printf, 3, 4)))
static int fail(struct spec_error *err, const char *field, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->field, sizeof(err->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Characters (code points) of a UTF-8 string jansson has validated. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* A string of 1..max characters without control characters. */
static int text_field(const json_t *v, const char *field, size_t max, char *out,
		      size_t cap, struct spec_error *err)
{
	const char *s;

	if (!json_is_string(v))
		return fail(err, field, "%s must be a string", field);
	s = json_string_value(v);
	if (json_string_length(v) != strlen(s))
		return fail(err, field, "%s must not contain NUL", field);
	if (!*s || utf8_chars(s) > max)
		return fail(err, field, "%s must have 1 to %zu characters", field, max);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return fail(err, field, "%s must not contain control characters",
				    field);
	if (strlen(s) >= cap)
		return fail(err, field, "%s is too long", field);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int int_field(const json_t *v, const char *field, json_int_t lo,
		     json_int_t hi, json_int_t *out, struct spec_error *err)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return fail(err, field, "%s must be an integer from %lld to %lld", field,
			    (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

/* An RFC 3339 time, or null when nullable (*out = 0). */
static int time_field(const json_t *v, const char *field, bool nullable,
		      int64_t *out, struct spec_error *err)
{
	if (nullable && json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (!json_is_string(v) || tkt_parse_rfc3339_ms(json_string_value(v), out) ||
	    *out <= 0)
		return fail(err, field, "%s must be an RFC 3339 time%s", field,
			    nullable ? " or null" : "");
	return 0;
}

static int opt_u16(const json_t *body, const char *key, json_int_t lo,
		   json_int_t hi, unsigned bit, uint16_t *out, unsigned *have,
		   struct spec_error *err)
{
	const json_t *v = json_object_get(body, key);
	json_int_t x;

	if (!v)
		return 0;
	*have |= bit;
	if (json_is_null(v)) {
		*out = 0;
		return 0;
	}
	if (int_field(v, key, lo, hi, &x, err))
		return -EINVAL;
	*out = (uint16_t)x;
	return 0;
}

struct category {
	uint16_t id;
	uint32_t price;
};

static int parse_categories(const json_t *arr, struct category *cats, size_t *n,
			    json_t *out, struct spec_error *err)
{
	size_t i;
	const json_t *c;
	char f[96];

	if (!json_is_array(arr) || json_array_size(arr) > LAYOUT_MAX_CATEGORIES)
		return fail(err, "categories", "categories must be an array of at most %d",
			    LAYOUT_MAX_CATEGORIES);
	json_array_foreach(arr, i, c) {
		char name[LAYOUT_LABEL_MAX * 4 + 1], color[8];
		json_int_t id, price;
		const json_t *col;

		if (!json_is_object(c))
			return fail(err, "categories", "categories[%zu] must be an object", i);
		snprintf(f, sizeof(f), "categories[%zu].id", i);
		if (int_field(json_object_get(c, "id"), f, 1, 65535, &id, err))
			return -EINVAL;
		for (size_t k = 0; k < i; k++)
			if (cats[k].id == id)
				return fail(err, f, "category id %lld appears twice", (long long)id);
		snprintf(f, sizeof(f), "categories[%zu].name", i);
		if (text_field(json_object_get(c, "name"), f, LAYOUT_LABEL_MAX, name,
			       sizeof(name), err))
			return -EINVAL;
		snprintf(f, sizeof(f), "categories[%zu].price", i);
		if (int_field(json_object_get(c, "price"), f, 0, LAYOUT_PRICE_MAX, &price, err))
			return -EINVAL;
		snprintf(f, sizeof(f), "categories[%zu].color", i);
		col = json_object_get(c, "color");
		if (!col) {
			snprintf(color, sizeof(color), "#888888");
		} else {
			const char *s = json_is_string(col) ? json_string_value(col) : "";
			bool ok = strlen(s) == 7 && s[0] == '#';

			for (int k = 1; ok && k < 7; k++)
				ok = strchr("0123456789abcdefABCDEF", s[k]) != NULL;
			if (!ok)
				return fail(err, f, "%s must be \"#rrggbb\"", f);
			snprintf(color, sizeof(color), "%s", s);
		}
		cats[i].id = (uint16_t)id;
		cats[i].price = (uint32_t)price;
		if (json_array_append_new(out, json_pack("{s:I, s:s, s:I, s:s}", "id", id,
							 "name", name, "price", price,
							 "color", color)))
			return -ENOMEM;
	}
	*n = json_array_size(arr);
	return 0;
}

/* Seat numbers (1..seats) listed in a row's array field, as a bitmap. */
static int seat_list(const json_t *row, const char *key, const char *rowf,
		     uint32_t seats, uint8_t *mark, uint8_t bit,
		     struct spec_error *err)
{
	const json_t *arr = json_object_get(row, key), *v;
	char f[96];
	size_t i;

	if (!arr)
		return 0;
	snprintf(f, sizeof(f), "%s.%s", rowf, key);
	if (!json_is_array(arr) || json_array_size(arr) > seats)
		return fail(err, f, "%s must be an array of seat numbers 1..%u", f, seats);
	json_array_foreach(arr, i, v) {
		json_int_t n;

		if (int_field(v, f, 1, seats, &n, err))
			return -EINVAL;
		mark[n - 1] |= bit;
	}
	return 0;
}

struct row_in {
	const json_t *json;
	uint16_t section, category;
	uint32_t seats, price;
	char label[LAYOUT_ROW_LABEL_MAX + 1]; /* bytes: a label + number fits seat_info's */
	char field[64];
};

/* Sections and their rows; builds the grid into out. */
static int parse_sections(const json_t *arr, const struct category *cats,
			  size_t n_cats, struct event_spec *out, json_t *secs,
			  struct spec_error *err)
{
	struct row_in *rows = NULL;
	uint16_t sec_ids[LAYOUT_MAX_SECTIONS];
	size_t n_rows = 0, i;
	uint32_t cols = 0;
	const json_t *s;
	char f[96];
	int rc = -EINVAL;

	if (!json_is_array(arr) || !json_array_size(arr) ||
	    json_array_size(arr) > LAYOUT_MAX_SECTIONS)
		return fail(err, "sections", "sections must be an array of 1 to %d sections",
			    LAYOUT_MAX_SECTIONS);
	rows = calloc(LAYOUT_MAX_ROWS, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	json_array_foreach(arr, i, s) {
		char name[LAYOUT_LABEL_MAX * 4 + 1];
		const json_t *rarr, *r;
		json_int_t id;
		size_t k;

		if (!json_is_object(s)) {
			fail(err, "sections", "sections[%zu] must be an object", i);
			goto out;
		}
		snprintf(f, sizeof(f), "sections[%zu].id", i);
		if (int_field(json_object_get(s, "id"), f, 1, 65535, &id, err))
			goto out;
		for (k = 0; k < i; k++)
			if (sec_ids[k] == id) {
				fail(err, f, "section id %lld appears twice", (long long)id);
				goto out;
			}
		sec_ids[i] = (uint16_t)id;
		snprintf(f, sizeof(f), "sections[%zu].name", i);
		if (text_field(json_object_get(s, "name"), f, LAYOUT_LABEL_MAX, name,
			       sizeof(name), err))
			goto out;
		if (json_array_append_new(secs, json_pack("{s:I, s:s}", "id", id, "name", name))) {
			rc = -ENOMEM;
			goto out;
		}
		rarr = json_object_get(s, "rows");
		snprintf(f, sizeof(f), "sections[%zu].rows", i);
		if (!json_is_array(rarr) || !json_array_size(rarr)) {
			fail(err, f, "%s must be a non-empty array", f);
			goto out;
		}
		json_array_foreach(rarr, k, r) {
			struct row_in *ri = &rows[n_rows];
			json_int_t seats, cat = 0;
			const json_t *cv;

			if (n_rows == LAYOUT_MAX_ROWS) {
				fail(err, f, "an event has at most %d rows", LAYOUT_MAX_ROWS);
				goto out;
			}
			snprintf(ri->field, sizeof(ri->field), "sections[%zu].rows[%zu]", i, k);
			if (!json_is_object(r)) {
				fail(err, ri->field, "%s must be an object", ri->field);
				goto out;
			}
			snprintf(f, sizeof(f), "%s.label", ri->field);
			if (text_field(json_object_get(r, "label"), f, LAYOUT_ROW_LABEL_MAX,
				       ri->label, sizeof(ri->label), err))
				goto out;
			snprintf(f, sizeof(f), "%s.seats", ri->field);
			if (int_field(json_object_get(r, "seats"), f, 1, LAYOUT_MAX_COLS, &seats,
				      err))
				goto out;
			cv = json_object_get(r, "category");
			snprintf(f, sizeof(f), "%s.category", ri->field);
			if (cv && !json_is_null(cv)) {
				size_t c;

				if (int_field(cv, f, 1, 65535, &cat, err))
					goto out;
				for (c = 0; c < n_cats && cats[c].id != cat; c++)
					;
				if (c == n_cats) {
					fail(err, f, "category %lld is not among categories",
					     (long long)cat);
					goto out;
				}
				ri->price = cats[c].price;
			} else if (n_cats) {
				fail(err, f, "%s is required when the event has categories", f);
				goto out;
			}
			ri->json = r;
			ri->section = (uint16_t)id;
			ri->category = (uint16_t)cat;
			ri->seats = (uint32_t)seats;
			if (ri->seats > cols)
				cols = ri->seats;
			n_rows++;
		}
	}
	if ((uint64_t)n_rows * cols > LAYOUT_MAX_SEATS) {
		fail(err, "sections",
		     "the grid (%zu rows x %u columns, gaps included) exceeds %d seats",
		     n_rows, cols, LAYOUT_MAX_SEATS);
		goto out;
	}
	out->rows = (uint16_t)n_rows;
	out->cols = (uint16_t)cols;
	out->n_seats = (uint32_t)n_rows * cols;
	out->seats = calloc(out->n_seats, sizeof(*out->seats));
	if (!out->seats) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t r = 0; r < n_rows; r++) {
		const struct row_in *ri = &rows[r];
		uint32_t first = (cols - ri->seats) / 2;
		uint8_t mark[LAYOUT_MAX_COLS] = {0};

		if (seat_list(ri->json, "accessible", ri->field, ri->seats, mark,
			      SEAT_ACCESSIBLE, err) ||
		    seat_list(ri->json, "companions", ri->field, ri->seats, mark,
			      SEAT_COMPANION, err) ||
		    seat_list(ri->json, "blocked", ri->field, ri->seats, mark, SEAT_BLOCKED,
			      err))
			goto out;
		for (uint32_t c = 0; c < cols; c++) {
			struct seat_info *si = &out->seats[r * cols + c];

			si->r = (uint16_t)r;
			si->c = (uint16_t)c;
			si->section = ri->section;
			if (c < first || c >= first + ri->seats) {
				si->flags = SEAT_GAP | SEAT_BLOCKED;
				continue;
			}
			si->category = ri->category;
			si->price = ri->price;
			si->flags = mark[c - first];
			snprintf(si->label, sizeof(si->label), "%s%u", ri->label,
				 c - first + 1);
		}
	}
	rc = 0;
out:
	free(rows);
	return rc;
}

static int parse_layout(const json_t *body, struct event_spec *out,
			struct spec_error *err)
{
	struct category cats[LAYOUT_MAX_CATEGORIES];
	json_t *cj = json_array(), *sj = json_array();
	const json_t *carr = json_object_get(body, "categories");
	size_t n_cats = 0;
	int rc = -ENOMEM;

	if (!cj || !sj)
		goto out;
	if (carr && (rc = parse_categories(carr, cats, &n_cats, cj, err)))
		goto out;
	rc = parse_sections(json_object_get(body, "sections"), cats, n_cats, out, sj, err);
	if (rc)
		goto out;
	out->categories_json = json_dumps(cj, JSON_COMPACT);
	out->sections_json = json_dumps(sj, JSON_COMPACT);
	rc = out->categories_json && out->sections_json ? 0 : -ENOMEM;
	out->have |= SPEC_LAYOUT;
out:
	json_decref(cj);
	json_decref(sj);
	return rc;
}

int event_spec_parse(const json_t *body, bool create, struct event_spec *out,
		     struct spec_error *err)
{
	static const char *const known[] = {
		"name", "venue", "startsAt", "saleStartsAt", "saleEndsAt", "holdLimit",
		"holdSeconds", "maxHoldSeconds", "categories", "sections"};
	const char *key;
	const json_t *v;

	memset(out, 0, sizeof(*out));
	memset(err, 0, sizeof(*err));
	if (!json_is_object(body))
		return fail(err, "body", "the body must be a JSON object");
	json_object_foreach((json_t *)body, key, v) {
		size_t k;

		for (k = 0; k < sizeof(known) / sizeof(known[0]) && strcmp(key, known[k]); k++)
			;
		if (k == sizeof(known) / sizeof(known[0]))
			return fail(err, *key ? key : "body", "unknown field \"%.64s\"", key);
	}
	if (create) {
		static const char *const need[] = {"name", "venue", "startsAt", "sections"};

		for (size_t k = 0; k < sizeof(need) / sizeof(need[0]); k++)
			if (!json_object_get(body, need[k]))
				return fail(err, need[k], "%s is required", need[k]);
	}
	if ((v = json_object_get(body, "name"))) {
		if (text_field(v, "name", LAYOUT_NAME_MAX, out->name, sizeof(out->name), err))
			return -EINVAL;
		out->have |= SPEC_NAME;
	}
	if ((v = json_object_get(body, "venue"))) {
		if (text_field(v, "venue", LAYOUT_NAME_MAX, out->venue, sizeof(out->venue), err))
			return -EINVAL;
		out->have |= SPEC_VENUE;
	}
	if ((v = json_object_get(body, "startsAt"))) {
		if (time_field(v, "startsAt", false, &out->starts_at_ms, err))
			return -EINVAL;
		out->have |= SPEC_STARTS;
	}
	if ((v = json_object_get(body, "saleStartsAt"))) {
		if (time_field(v, "saleStartsAt", true, &out->sale_starts_ms, err))
			return -EINVAL;
		out->have |= SPEC_SALE_STARTS;
	}
	if ((v = json_object_get(body, "saleEndsAt"))) {
		if (time_field(v, "saleEndsAt", true, &out->sale_ends_ms, err))
			return -EINVAL;
		out->have |= SPEC_SALE_ENDS;
	}
	if (opt_u16(body, "holdLimit", 1, LAYOUT_HOLD_LIMIT_MAX, SPEC_HOLD_LIMIT,
		    &out->hold_limit, &out->have, err) ||
	    opt_u16(body, "holdSeconds", 5, 600, SPEC_HOLD_SECONDS, &out->hold_seconds,
		    &out->have, err) ||
	    opt_u16(body, "maxHoldSeconds", 10, LAYOUT_LIFETIME_MAX, SPEC_MAX_HOLD,
		    &out->max_hold_seconds, &out->have, err))
		return -EINVAL;
	if (json_object_get(body, "categories") && !json_object_get(body, "sections"))
		return fail(err, "sections", "categories come with sections");
	if (json_object_get(body, "sections"))
		return parse_layout(body, out, err);
	return 0;
}

void event_spec_free(struct event_spec *s)
{
	free(s->seats);
	free(s->categories_json);
	free(s->sections_json);
	s->seats = NULL;
	s->categories_json = s->sections_json = NULL;
}

int event_spec_apply(struct event_spec *s, struct event_info *e,
		     struct spec_error *err)
{
	if (s->have & SPEC_NAME)
		snprintf(e->name, sizeof(e->name), "%s", s->name);
	if (s->have & SPEC_VENUE)
		snprintf(e->venue, sizeof(e->venue), "%s", s->venue);
	if (s->have & SPEC_STARTS)
		e->starts_at_ms = s->starts_at_ms;
	if (s->have & SPEC_SALE_STARTS)
		e->sale_starts_ms = s->sale_starts_ms;
	if (s->have & SPEC_SALE_ENDS)
		e->sale_ends_ms = s->sale_ends_ms;
	if (s->have & SPEC_HOLD_LIMIT)
		e->hold_limit = s->hold_limit;
	if (s->have & SPEC_HOLD_SECONDS)
		e->hold_seconds = s->hold_seconds;
	if (s->have & SPEC_MAX_HOLD)
		e->max_hold_seconds = s->max_hold_seconds;
	if (s->have & SPEC_LAYOUT) {
		free(e->seats);
		free(e->categories_json);
		free(e->sections_json);
		e->rows = s->rows;
		e->cols = s->cols;
		e->n_seats = s->n_seats;
		e->seats = s->seats;
		e->categories_json = s->categories_json;
		e->sections_json = s->sections_json;
		s->seats = NULL;
		s->categories_json = s->sections_json = NULL;
	}
	if (e->sale_starts_ms && e->sale_ends_ms && e->sale_ends_ms <= e->sale_starts_ms)
		return fail(err, "saleEndsAt", "saleEndsAt must be after saleStartsAt");
	if (e->sale_starts_ms && e->starts_at_ms && e->sale_starts_ms > e->starts_at_ms)
		return fail(err, "saleStartsAt", "saleStartsAt must not be after startsAt");
	if (e->hold_seconds && e->max_hold_seconds && e->hold_seconds > e->max_hold_seconds)
		return fail(err, "holdSeconds", "holdSeconds must not exceed maxHoldSeconds");
	return 0;
}
