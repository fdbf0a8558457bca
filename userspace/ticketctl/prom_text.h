/* Reading samples out of a Prometheus text exposition (ticketd's
 * /metrics) for `ticketctl status`: no HELP/TYPE, no timestamps kept, just
 * name, labels and value of each sample line. */
#ifndef TICKETCTL_PROM_TEXT_H
#define TICKETCTL_PROM_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Parses one line. Returns 1 for a sample (name and labels point into the
 * line: name_len bytes, labels_len bytes between the braces, 0 when
 * none), 0 for a comment or blank line, -1 for a line that is neither. */
int prom_parse_line(const char *line, size_t len, const char **name, size_t *name_len,
		    const char **labels, size_t *labels_len, double *value);

/* The value of label key in a label set as prom_parse_line gives it
 * (escapes \\ \" \n undone) into out; false when absent or too long. */
bool prom_label(const char *labels, size_t labels_len, const char *key, char *out,
		size_t cap);

/* Sums the samples of metric name in text whose labels include every
 * key=value pair of match (a NULL-terminated list of key, value; NULL:
 * any; a value ending in '*' matches by prefix). Returns how many samples were summed (0: none, *sum 0). */
int prom_sum(const char *text, const char *name, const char *const *match, double *sum);

/* The value of label key on the first sample of metric name in text
 * (e.g. version of ticketd_build_info) into out; false when none. */
bool prom_first_label(const char *text, const char *name, const char *key, char *out,
		      size_t cap);

#endif
