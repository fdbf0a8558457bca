#include "userspace/lib/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int tkt_format_rfc3339_ms(int64_t unix_ms, char *out, size_t cap)
{
	struct tm tm;
	time_t secs;
	size_t n;
	int m;

	if (cap)
		out[0] = '\0';
	if (unix_ms < 0 || unix_ms > 253402300799999LL)
		return -1;
	secs = (time_t)(unix_ms / 1000);
	if (!gmtime_r(&secs, &tm))
		return -1;
	n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return -1;
	m = snprintf(out + n, cap - n, ".%03uZ", (unsigned)(unix_ms % 1000));
	if (m < 0 || (size_t)m >= cap - n) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|+HH:MM|-HH:MM)" as Unix ms; -1 if not. */
int tkt_parse_rfc3339_ms(const char *s, int64_t *ms)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, n = 0, frac_ms = 0, digits = 0;
	int64_t t, off = 0;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
	    n != 19)
		return -1;
	s += n;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 3)
				frac_ms = frac_ms * 10 + (*s - '0');
		if (!digits || digits > 9)
			return -1;
		for (; digits < 3; digits++)
			frac_ms *= 10;
	}
	if (*s == 'Z' && !s[1]) {
		off = 0;
	} else if ((*s == '+' || *s == '-') && strlen(s) == 6 && s[3] == ':' &&
		   s[1] >= '0' && s[1] <= '2' && s[2] >= '0' && s[2] <= '9' &&
		   s[4] >= '0' && s[4] <= '5' && s[5] >= '0' && s[5] <= '9') {
		off = ((s[1] - '0') * 10 + (s[2] - '0')) * 60 + (s[4] - '0') * 10 + (s[5] - '0');
		if (off > 14 * 60)
			return -1;
		off *= *s == '-' ? -60 : 60;
	} else {
		return -1;
	}
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59 || y < 0 || h < 0 || mi < 0 || sec < 0)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	if (tm.tm_mday != d) /* 31 April and the like */
		return -1;
	t -= off;
	if (t < 0)
		return -1;
	*ms = t * 1000 + frac_ms;
	return 0;
}
