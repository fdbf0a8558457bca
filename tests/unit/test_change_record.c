/* Splitting the XDP program's ring records (userspace/lib/change_record.h):
 * a record of one change, one of a full batch in order, a callback that
 * stops the split, and sizes no batch has refused whole. Links libtkt.a
 * only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bpf/ticket_maps.h"
#include "userspace/lib/change_record.h"

struct seen {
	int n;
	int stop_at; /* return -1 at this change (0: never) */
	struct tkt_change rec[TKT_CHANGE_BATCH + 1];
};

static int collect(void *ctx, const struct tkt_change *rec)
{
	struct seen *s = ctx;

	if (s->n < (int)(TKT_CHANGE_BATCH + 1))
		s->rec[s->n] = *rec;
	s->n++;
	return s->n == s->stop_at ? -1 : 0;
}

static void fill(struct tkt_change *r, uint32_t i)
{
	memset(r, 0, sizeof(*r));
	r->seat_index = 100 + i;
	r->old_word = i;
	r->new_word = i + 1;
	r->source = TKT_SRC_XDP;
}

static void a_record_of_one_change_gives_that_change(void **state)
{
	/* unaligned on purpose: the ring gives 8-byte alignment, the
	 * split must not rely on more */
	unsigned char buf[sizeof(struct tkt_change) + 1];
	struct tkt_change r;
	struct seen s = {0};

	(void)state;
	fill(&r, 7);
	memcpy(buf + 1, &r, sizeof(r));
	assert_int_equal(change_record_split(buf + 1, sizeof(r), collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_memory_equal(&s.rec[0], &r, sizeof(r));
}

static void a_record_of_n_changes_gives_them_in_order(void **state)
{
	struct tkt_change recs[TKT_CHANGE_BATCH];
	struct seen s = {0};
	uint32_t n, i;

	(void)state;
	for (i = 0; i < TKT_CHANGE_BATCH; i++)
		fill(&recs[i], i);
	for (n = 2; n <= TKT_CHANGE_BATCH; n += TKT_CHANGE_BATCH - 2) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(change_record_split(recs, n * sizeof(recs[0]),
						     collect, &s),
				 0);
		assert_int_equal(s.n, (int)n);
		for (i = 0; i < n; i++)
			assert_int_equal(s.rec[i].seat_index, 100 + i);
	}
}

static void a_callback_error_stops_the_split(void **state)
{
	struct tkt_change recs[4];
	struct seen s = {.stop_at = 2};
	uint32_t i;

	(void)state;
	for (i = 0; i < 4; i++)
		fill(&recs[i], i);
	assert_int_equal(change_record_split(recs, sizeof(recs), collect, &s), -1);
	assert_int_equal(s.n, 2);
}

static void sizes_no_batch_has_are_refused_whole(void **state)
{
	unsigned char buf[(TKT_CHANGE_BATCH + 1) * sizeof(struct tkt_change)];
	const size_t bad[] = {0, 1, sizeof(struct tkt_change) - 1,
			      sizeof(struct tkt_change) + 8,
			      2 * sizeof(struct tkt_change) + 1,
			      (TKT_CHANGE_BATCH + 1) * sizeof(struct tkt_change)};
	struct seen s = {0};
	size_t i;

	(void)state;
	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(change_record_split(buf, bad[i], collect, &s),
				 -EBADMSG);
	assert_int_equal(s.n, 0);
	assert_int_equal(tkt_change_record_count(TKT_CHANGE_BATCH *
						 sizeof(struct tkt_change)),
			 (int)TKT_CHANGE_BATCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_record_of_one_change_gives_that_change),
		cmocka_unit_test(a_record_of_n_changes_gives_them_in_order),
		cmocka_unit_test(a_callback_error_stops_the_split),
		cmocka_unit_test(sizes_no_batch_has_are_refused_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
