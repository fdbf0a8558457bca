/* The clocks every program reads, in one place.
 *
 * tkt_mono_ns is CLOCK_MONOTONIC, the clock of seat-word expiries: it is
 * what bpf_ktime_get_ns returns in the XDP program, so the daemon and the
 * kernel compare expiries on one time line. It stops while the machine is
 * suspended and restarts from zero at boot; never store it across a
 * reboot. tkt_unix_ms is wall-clock time for anything shown to people or
 * written to databases. */
#ifndef TKT_LIB_CLOCK_H
#define TKT_LIB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t tkt_timespec_ns(const struct timespec *ts)
{
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t tkt_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return tkt_timespec_ns(&ts);
}

/* CLOCK_MONOTONIC in milliseconds. */
static inline int64_t tkt_mono_ms(void)
{
	return (int64_t)(tkt_mono_ns() / 1000000u);
}

/* CLOCK_MONOTONIC in seconds, as a double (for durations and latencies). */
static inline double tkt_mono_seconds(void)
{
	return (double)tkt_mono_ns() / 1e9;
}

/* Wall clock (CLOCK_REALTIME), Unix nanoseconds. */
static inline uint64_t tkt_unix_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return tkt_timespec_ns(&ts);
}

/* Wall clock (CLOCK_REALTIME), Unix milliseconds. */
static inline int64_t tkt_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* CLOCK_REALTIME - CLOCK_MONOTONIC in nanoseconds now: adds to a monotonic
 * reading to give wall-clock time. The realtime read is bracketed by two
 * monotonic reads, halving the error. */
static inline uint64_t tkt_unix_offset_ns(void)
{
	struct timespec r, m1, m2;

	clock_gettime(CLOCK_MONOTONIC, &m1);
	clock_gettime(CLOCK_REALTIME, &r);
	clock_gettime(CLOCK_MONOTONIC, &m2);
	return tkt_timespec_ns(&r) - (tkt_timespec_ns(&m1) + tkt_timespec_ns(&m2)) / 2;
}

#endif
