/* A connection's statement cache (userspace/ticketd/db/stmt_cache.c)
 * against a fake connector: a statement is prepared once per SQL text and
 * then reused; a failed prepare is not cached; an evicted or cleared
 * statement is closed and prepared again when next asked for; a full cache
 * closes its least recently used statement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/ticketd/db/stmt_cache.h"

struct fake {
	int prepares, closes, open;
	int fail_next; /* the next prepare fails with this errno */
	char last_closed[64];
};

struct fake_stmt {
	char sql[64];
};

static void *fake_prepare(void *ctx, const char *sql, int *err)
{
	struct fake *f = ctx;
	struct fake_stmt *st;

	if (f->fail_next) {
		*err = -f->fail_next;
		f->fail_next = 0;
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	assert_non_null(st);
	snprintf(st->sql, sizeof(st->sql), "%s", sql);
	f->prepares++;
	f->open++;
	return st;
}

static void fake_close(void *ctx, void *stmt)
{
	struct fake *f = ctx;
	struct fake_stmt *st = stmt;

	snprintf(f->last_closed, sizeof(f->last_closed), "%s", st->sql);
	f->closes++;
	f->open--;
	free(st);
}

static void same_sql_is_prepared_once_and_reused(void **state)
{
	struct fake f = {0};
	const struct stmt_cache_ops ops = {fake_prepare, fake_close, &f};
	struct stmt_cache c;
	char sql[64];
	bool hit;
	int err;
	void *a, *b;

	(void)state;
	stmt_cache_init(&c);
	a = stmt_cache_get(&c, &ops, "SELECT 1", &hit, &err);
	assert_non_null(a);
	assert_false(hit);
	/* the same text in another buffer is the same statement */
	snprintf(sql, sizeof(sql), "SELECT %d", 1);
	for (int i = 0; i < 100; i++) {
		b = stmt_cache_get(&c, &ops, sql, &hit, &err);
		assert_ptr_equal(a, b);
		assert_true(hit);
	}
	b = stmt_cache_get(&c, &ops, "SELECT 2", &hit, &err);
	assert_ptr_not_equal(a, b);
	assert_false(hit);
	assert_int_equal(f.prepares, 2);
	stmt_cache_clear(&c, &ops);
	assert_int_equal(f.open, 0);
}

static void failed_prepare_is_not_cached(void **state)
{
	struct fake f = {.fail_next = EIO};
	const struct stmt_cache_ops ops = {fake_prepare, fake_close, &f};
	struct stmt_cache c;
	bool hit;
	int err = 0;

	(void)state;
	stmt_cache_init(&c);
	assert_null(stmt_cache_get(&c, &ops, "SELECT bad", &hit, &err));
	assert_int_equal(err, -EIO);
	assert_int_equal(c.n, 0);
	assert_non_null(stmt_cache_get(&c, &ops, "SELECT bad", &hit, &err));
	assert_false(hit);
	assert_int_equal(f.prepares, 1);
	stmt_cache_clear(&c, &ops);
}

static void evicted_statement_is_closed_and_prepared_again(void **state)
{
	struct fake f = {0};
	const struct stmt_cache_ops ops = {fake_prepare, fake_close, &f};
	struct stmt_cache c;
	bool hit;
	int err;
	void *a;

	(void)state;
	stmt_cache_init(&c);
	a = stmt_cache_get(&c, &ops, "UPDATE t SET x = ?", &hit, &err);
	stmt_cache_get(&c, &ops, "SELECT 3", &hit, &err);
	stmt_cache_evict(&c, &ops, a);
	assert_int_equal(f.closes, 1);
	assert_string_equal(f.last_closed, "UPDATE t SET x = ?");
	stmt_cache_evict(&c, &ops, a); /* not cached any more: no-op */
	assert_int_equal(f.closes, 1);
	stmt_cache_get(&c, &ops, "UPDATE t SET x = ?", &hit, &err);
	assert_false(hit);
	stmt_cache_get(&c, &ops, "SELECT 3", &hit, &err);
	assert_true(hit); /* the other one stayed */
	assert_int_equal(f.prepares, 3);
	stmt_cache_clear(&c, &ops);
	assert_int_equal(f.open, 0);
}

/* A reconnect drops the cache (db.c clears it with its connection): every
 * statement is closed, and a new cache prepares again. */
static void cleared_cache_prepares_again(void **state)
{
	struct fake f = {0};
	const struct stmt_cache_ops ops = {fake_prepare, fake_close, &f};
	struct stmt_cache c;
	bool hit;
	int err;

	(void)state;
	stmt_cache_init(&c);
	stmt_cache_get(&c, &ops, "SELECT 1", &hit, &err);
	stmt_cache_get(&c, &ops, "SELECT 2", &hit, &err);
	stmt_cache_clear(&c, &ops);
	assert_int_equal(f.closes, 2);
	assert_int_equal(c.n, 0);
	stmt_cache_get(&c, &ops, "SELECT 1", &hit, &err);
	assert_false(hit);
	assert_int_equal(f.prepares, 3);
	stmt_cache_clear(&c, &ops);
}

static void full_cache_closes_the_least_recently_used(void **state)
{
	struct fake f = {0};
	const struct stmt_cache_ops ops = {fake_prepare, fake_close, &f};
	struct stmt_cache c;
	char sql[64];
	bool hit;
	int err;

	(void)state;
	stmt_cache_init(&c);
	for (int i = 0; i < STMT_CACHE_SLOTS; i++) {
		snprintf(sql, sizeof(sql), "SELECT %d", i);
		stmt_cache_get(&c, &ops, sql, &hit, &err);
	}
	stmt_cache_get(&c, &ops, "SELECT 0", &hit, &err); /* 0 used again: 1 is oldest */
	assert_true(hit);
	stmt_cache_get(&c, &ops, "SELECT new", &hit, &err);
	assert_false(hit);
	assert_int_equal(c.n, STMT_CACHE_SLOTS);
	assert_int_equal(f.closes, 1);
	assert_string_equal(f.last_closed, "SELECT 1");
	assert_int_equal(f.open, STMT_CACHE_SLOTS);
	stmt_cache_get(&c, &ops, "SELECT 0", &hit, &err);
	assert_true(hit);
	stmt_cache_clear(&c, &ops);
	assert_int_equal(f.open, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_sql_is_prepared_once_and_reused),
		cmocka_unit_test(failed_prepare_is_not_cached),
		cmocka_unit_test(evicted_statement_is_closed_and_prepared_again),
		cmocka_unit_test(cleared_cache_prepares_again),
		cmocka_unit_test(full_cache_closes_the_least_recently_used),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
