#include "userspace/lib/timefmt.h"

#include <stdio.h>
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
