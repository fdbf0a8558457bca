/* The Prometheus text reader of `ticketctl status` (prom_text.c): sample
 * lines with and without labels, escapes, comments, malformed lines, and
 * sums by label with prefix matches. Links prom_text.c only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "userspace/ticketctl/prom_text.h"

static int parse(const char *line, char *name, char *labels, double *v)
{
	const char *n, *l;
	size_t nl, ll;
	int rc = prom_parse_line(line, strlen(line), &n, &nl, &l, &ll, v);

	if (rc == 1) {
		memcpy(name, n, nl);
		name[nl] = '\0';
		memcpy(labels, l ? l : "", ll);
		labels[ll] = '\0';
	}
	return rc;
}

static void sample_without_labels_gives_name_and_value(void **state)
{
	char name[64], labels[128];
	double v;

	(void)state;
	assert_int_equal(parse("ticketd_journal_lag_seconds 0.250", name, labels, &v), 1);
	assert_string_equal(name, "ticketd_journal_lag_seconds");
	assert_string_equal(labels, "");
	assert_true(v == 0.25);
	/* a timestamp after the value is allowed and not kept */
	assert_int_equal(parse("up 1 1700000000000", name, labels, &v), 1);
	assert_true(v == 1);
}

static void sample_with_labels_keeps_the_label_set(void **state)
{
	char name[64], labels[128], got[32];
	double v;

	(void)state;
	assert_int_equal(parse("ticketd_orders_ended_total{status=\"CONFIRMED\"} 42", name, labels,
			       &v),
			 1);
	assert_string_equal(name, "ticketd_orders_ended_total");
	assert_string_equal(labels, "status=\"CONFIRMED\"");
	assert_true(v == 42);
	assert_true(prom_label(labels, strlen(labels), "status", got, sizeof(got)));
	assert_string_equal(got, "CONFIRMED");
	assert_false(prom_label(labels, strlen(labels), "door", got, sizeof(got)));
}

static void quoted_brace_comma_and_escapes_stay_in_the_value(void **state)
{
	const char *line = "m{a=\"x}y\",b=\"q\\\"u\\\\o\\n\"} +Inf";
	char name[64], labels[128], got[32];
	double v;

	(void)state;
	assert_int_equal(parse(line, name, labels, &v), 1);
	assert_true(isinf(v) && v > 0);
	assert_true(prom_label(labels, strlen(labels), "a", got, sizeof(got)));
	assert_string_equal(got, "x}y");
	assert_true(prom_label(labels, strlen(labels), "b", got, sizeof(got)));
	assert_string_equal(got, "q\"u\\o\n");
	/* a value that does not fit is refused, not cut */
	assert_false(prom_label(labels, strlen(labels), "b", got, 3));
}

static void comments_blank_and_broken_lines_are_told_apart(void **state)
{
	char name[64], labels[128];
	double v;

	(void)state;
	assert_int_equal(parse("# HELP x y", name, labels, &v), 0);
	assert_int_equal(parse("", name, labels, &v), 0);
	assert_int_equal(parse("   ", name, labels, &v), 0);
	assert_int_equal(parse("x", name, labels, &v), -1);
	assert_int_equal(parse("x{a=\"1\" 2", name, labels, &v), -1);
	assert_int_equal(parse("x abc", name, labels, &v), -1);
	assert_int_equal(parse("9x 1", name, labels, &v), -1);
	assert_int_equal(parse("x{a=\"1\"}2", name, labels, &v), -1);
}

static void sums_pick_the_metric_and_the_labels(void **state)
{
	const char *text =
		"# TYPE ticketd_http_requests_total counter\n"
		"ticketd_http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 10\n"
		"ticketd_http_requests_total{route=\"/a\",method=\"GET\",status=\"503\"} 2\n"
		"ticketd_http_requests_total{route=\"/b\",method=\"POST\",status=\"500\"} 3\n"
		"ticketd_http_requests_total_other{status=\"500\"} 100\n"
		"ticketd_draining 1";
	const char *fives[] = {"status", "5*", NULL}, *b[] = {"route", "/b", "status", "500", NULL};
	const char *none[] = {"status", "404", NULL};
	double sum;

	(void)state;
	assert_int_equal(prom_sum(text, "ticketd_http_requests_total", fives, &sum), 2);
	assert_true(sum == 5);
	assert_int_equal(prom_sum(text, "ticketd_http_requests_total", b, &sum), 1);
	assert_true(sum == 3);
	assert_int_equal(prom_sum(text, "ticketd_http_requests_total", NULL, &sum), 3);
	assert_true(sum == 15);
	assert_int_equal(prom_sum(text, "ticketd_http_requests_total", none, &sum), 0);
	assert_true(sum == 0);
	/* the last line has no newline */
	assert_int_equal(prom_sum(text, "ticketd_draining", NULL, &sum), 1);
	assert_true(sum == 1);
	assert_int_equal(prom_sum(NULL, "x", NULL, &sum), 0);
}

static void first_label_reads_the_version_of_build_info(void **state)
{
	const char *text = "# HELP ticketd_build_info x\n"
			   "ticketd_build_info_total{version=\"no\"} 1\n"
			   "ticketd_build_info{version=\"1.2.3\"} 1\n"
			   "ticketd_build_info{version=\"later\"} 1\n";
	char v[16];

	(void)state;
	assert_true(prom_first_label(text, "ticketd_build_info", "version", v, sizeof(v)));
	assert_string_equal(v, "1.2.3");
	assert_false(prom_first_label(text, "ticketd_build_info", "commit", v, sizeof(v)));
	assert_false(prom_first_label(text, "absent", "version", v, sizeof(v)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sample_without_labels_gives_name_and_value),
		cmocka_unit_test(sample_with_labels_keeps_the_label_set),
		cmocka_unit_test(quoted_brace_comma_and_escapes_stay_in_the_value),
		cmocka_unit_test(comments_blank_and_broken_lines_are_told_apart),
		cmocka_unit_test(sums_pick_the_metric_and_the_labels),
		cmocka_unit_test(first_label_reads_the_version_of_build_info),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
