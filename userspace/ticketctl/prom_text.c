/* Reading samples out of a Prometheus text exposition (prom_text.h). */
#include "userspace/ticketctl/prom_text.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* The end of a label set starting after '{': the index of its '}' (quoted
 * values may hold one), or -1. */
static long labels_end(const char *s, size_t len)
{
	bool quoted = false;

	for (size_t i = 0; i < len; i++) {
		if (quoted && s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == '"')
			quoted = !quoted;
		else if (!quoted && s[i] == '}')
			return (long)i;
	}
	return -1;
}

static int parse_value(const char *s, size_t len, double *value)
{
	char buf[64], *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!strcmp(buf, "+Inf") || !strcmp(buf, "-Inf") || !strcmp(buf, "NaN")) {
		*value = buf[0] == '-' ? -INFINITY : buf[0] == '+' ? INFINITY : NAN;
		return 0;
	}
	errno = 0;
	*value = strtod(buf, &end);
	return errno == ERANGE || end == buf || *end ? -1 : 0;
}

int prom_parse_line(const char *line, size_t len, const char **name, size_t *name_len,
		    const char **labels, size_t *labels_len, double *value)
{
	size_t i = 0, v;

	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#' || line[i] == '\r')
		return 0;
	*name = line + i;
	while (i < len && name_char(line[i], line + i == *name))
		i++;
	*name_len = (size_t)(line + i - *name);
	if (!*name_len)
		return -1;
	*labels = NULL;
	*labels_len = 0;
	if (i < len && line[i] == '{') {
		long e = labels_end(line + i + 1, len - i - 1);

		if (e < 0)
			return -1;
		*labels = line + i + 1;
		*labels_len = (size_t)e;
		i += (size_t)e + 2;
	}
	if (i == len || (line[i] != ' ' && line[i] != '\t'))
		return -1;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	v = i;
	while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
		i++;
	/* an optional timestamp may follow; it is not kept */
	return parse_value(line + v, i - v, value) ? -1 : 1;
}

bool prom_label(const char *labels, size_t labels_len, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key), i = 0;

	while (i < labels_len) {
		size_t k = i, n = 0;

		while (i < labels_len && labels[i] != '=')
			i++;
		if (i + 1 >= labels_len || labels[i + 1] != '"')
			return false;
		bool match = i - k == klen && !memcmp(labels + k, key, klen);

		for (i += 2; i < labels_len && labels[i] != '"'; i++) {
			char c = labels[i];

			if (c == '\\' && i + 1 < labels_len) {
				c = labels[++i];
				if (c == 'n')
					c = '\n';
			}
			if (match) {
				if (n + 1 >= cap)
					return false;
				out[n++] = c;
			}
		}
		if (i >= labels_len)
			return false; /* unterminated */
		if (match) {
			out[n] = '\0';
			return true;
		}
		i++; /* the closing quote */
		while (i < labels_len && (labels[i] == ',' || labels[i] == ' '))
			i++;
	}
	return false;
}

int prom_sum(const char *text, const char *name, const char *const *match, double *sum)
{
	size_t want = strlen(name);
	int n = 0;

	*sum = 0;
	while (text && *text) {
		const char *eol = strchr(text, '\n'), *nm, *lb;
		size_t len = eol ? (size_t)(eol - text) : strlen(text), nl, ll;
		double v;
		bool ok;

		if (prom_parse_line(text, len, &nm, &nl, &lb, &ll, &v) == 1 && nl == want &&
		    !memcmp(nm, name, want)) {
			ok = true;
			for (size_t m = 0; ok && match && match[m]; m += 2) {
				char got[256];

				const char *w = match[m + 1];
				size_t wl = strlen(w);

				/* "5*": any value that starts with 5 */
				ok = prom_label(lb, ll, match[m], got, sizeof(got)) &&
				     (wl && w[wl - 1] == '*' ? !strncmp(got, w, wl - 1)
							     : !strcmp(got, w));
			}
			if (ok) {
				*sum += v;
				n++;
			}
		}
		text = eol ? eol + 1 : NULL;
	}
	return n;
}

bool prom_first_label(const char *text, const char *name, const char *key, char *out,
		      size_t cap)
{
	size_t want = strlen(name);

	while (text && *text) {
		const char *eol = strchr(text, '\n'), *nm, *lb;
		size_t len = eol ? (size_t)(eol - text) : strlen(text), nl, ll;
		double v;

		if (prom_parse_line(text, len, &nm, &nl, &lb, &ll, &v) == 1 && nl == want &&
		    !memcmp(nm, name, want))
			return prom_label(lb, ll, key, out, cap);
		text = eol ? eol + 1 : NULL;
	}
	return false;
}
