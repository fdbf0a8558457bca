/* CPU time over a measured window, as the load tools report it: the whole
 * machine (/proc/stat), one process or thread (/proc/<pid>/stat), and the
 * tool itself (getrusage). Take a reading at the start and at the end of
 * the window and subtract. */
#ifndef BENCH_LIB_CPU_H
#define BENCH_LIB_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fields of /proc/stat's "cpu" line, all CPUs summed, in clock ticks. */
enum bench_cpu_field {
	BENCH_CPU_USER,
	BENCH_CPU_NICE,
	BENCH_CPU_SYSTEM,
	BENCH_CPU_IDLE,
	BENCH_CPU_IOWAIT,
	BENCH_CPU_IRQ,
	BENCH_CPU_SOFTIRQ,
	BENCH_CPU_STEAL,
	BENCH_CPU_FIELDS,
};

struct bench_host_cpu {
	uint64_t ticks[BENCH_CPU_FIELDS];
	bool ok; /* false when /proc/stat could not be read */
};

/* Busy ticks (user, nice, system, irq, softirq, steal) and all ticks
 * (busy + idle + iowait) of a reading. */
uint64_t bench_host_busy(const struct bench_host_cpu *s);

/* Busy share of all CPUs between two readings in percent, or -1 when
 * either reading failed or no time passed. */
double bench_host_busy_pct(const struct bench_host_cpu *a,
			   const struct bench_host_cpu *b);

/* Nanoseconds of one clock tick (USER_HZ). */
double bench_tick_ns(void);

/* User + system seconds of a /proc/.../stat file (a process's or a
 * thread's, /proc/<pid>/task/<tid>/stat); its command name into
 * comm[commcap] when comm is not NULL. Returns -1 when unreadable. */
double bench_stat_cpu_s(const char *path, char *comm, size_t commcap);

/* The same for process pid; -1 when pid <= 0 or it is gone. */
double bench_pid_cpu_s(int pid);

/* Resident set size of pid in KiB (VmRSS), or -1. */
long bench_pid_rss_kib(int pid);

/* This process's user and system seconds (getrusage RUSAGE_SELF); either
 * pointer may be NULL. Returns their sum. */
double bench_self_cpu_s(double *user_s, double *sys_s);

/* One reading of what the tools report CPU for; a window's figures are
 * the differences of two. */
struct bench_cpu_reading {
	int64_t t_ns;                   /* CLOCK_MONOTONIC */
	double self_user_s, self_sys_s; /* this process */
	struct bench_host_cpu host;     /* the machine */
	double pid_s;                   /* bench_pid_cpu_s(pid), or -1 */
};

/* Takes a reading (pid 0: none). */
void bench_cpu_read(struct bench_cpu_reading *r, int pid);

#endif
