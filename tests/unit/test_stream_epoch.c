/* Stream epochs (userspace/ticketd/seats/stream_epoch.c): every take is
 * above the last one and above the floor, kept in the state dir when Redis
 * does not answer, so versions of a later run are above an earlier run's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "userspace/ticketd/seats/stream_epoch.h"

static void every_take_is_above_the_last_and_the_floor(void **state)
{
	char dir[] = "/tmp/test_stream_epoch.XXXXXX", path[64];
	uint64_t e1, e2, e3, e4;

	(void)state;
	assert_non_null(mkdtemp(dir));
	/* port 1: nothing answers; the file alone keeps the epoch */
	assert_int_equal(stream_epoch_take("127.0.0.1", 1, dir, 1, &e1), 0);
	assert_int_equal(stream_epoch_take("127.0.0.1", 1, dir, 1, &e2), 0);
	assert_true(e1 >= 1);
	assert_true(e2 > e1);
	assert_int_equal(stream_epoch_take("127.0.0.1", 1, dir, e2 + 10, &e3), 0);
	assert_int_equal(e3, e2 + 10);
	assert_int_equal(stream_epoch_take("127.0.0.1", 1, dir, 0, &e4), 0);
	assert_true(e4 > e3);
	assert_true((e4 << STREAM_EPOCH_SHIFT) > (e3 << STREAM_EPOCH_SHIFT) + 0xffffffffull);
	snprintf(path, sizeof(path), "%s/stream_epoch", dir);
	unlink(path);
	rmdir(dir);
}

static void versions_stay_exact_in_json_numbers(void **state)
{
	(void)state;
	assert_true(((STREAM_EPOCH_MAX + 1) << STREAM_EPOCH_SHIFT) <= (1ull << 53));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_take_is_above_the_last_and_the_floor),
		cmocka_unit_test(versions_stay_exact_in_json_numbers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
