/* CPU sampling from /proc and getrusage for the load tools. */
#include "bench/lib/cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "userspace/lib/clock.h"

/* Reads /proc/stat; returns 0, or -1 (s->ok false). */
static int bench_host_cpu_read(struct bench_host_cpu *s)
{
	FILE *f = fopen("/proc/stat", "r");
	unsigned long long v[BENCH_CPU_FIELDS];
	int n;

	memset(s, 0, sizeof(*s));
	if (!f)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != BENCH_CPU_FIELDS)
		return -1;
	for (int i = 0; i < BENCH_CPU_FIELDS; i++)
		s->ticks[i] = v[i];
	s->ok = true;
	return 0;
}

uint64_t bench_host_busy(const struct bench_host_cpu *s)
{
	const uint64_t *t = s->ticks;

	return t[BENCH_CPU_USER] + t[BENCH_CPU_NICE] + t[BENCH_CPU_SYSTEM] +
	       t[BENCH_CPU_IRQ] + t[BENCH_CPU_SOFTIRQ] + t[BENCH_CPU_STEAL];
}

static uint64_t bench_host_total(const struct bench_host_cpu *s)
{
	return bench_host_busy(s) + s->ticks[BENCH_CPU_IDLE] +
	       s->ticks[BENCH_CPU_IOWAIT];
}

double bench_host_busy_pct(const struct bench_host_cpu *a,
			   const struct bench_host_cpu *b)
{
	uint64_t ta = bench_host_total(a), tb = bench_host_total(b);

	if (!a->ok || !b->ok || tb <= ta)
		return -1;
	return 100.0 * (double)(bench_host_busy(b) - bench_host_busy(a)) /
	       (double)(tb - ta);
}

double bench_tick_ns(void)
{
	return 1e9 / (double)sysconf(_SC_CLK_TCK);
}

double bench_stat_cpu_s(const char *path, char *comm, size_t commcap)
{
	char buf[2048], *open_paren, *close_paren;
	unsigned long long ut, st;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and ')': fields count from the
	 * last ')' */
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (comm && commcap && open_paren && close_paren &&
	    close_paren > open_paren)
		snprintf(comm, commcap, "%.*s",
			 (int)(close_paren - open_paren - 1), open_paren + 1);
	if (!close_paren ||
	    sscanf(close_paren + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		   &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double bench_pid_cpu_s(int pid)
{
	char path[64];

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return bench_stat_cpu_s(path, NULL, 0);
}

long bench_pid_rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static double tv_s(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

double bench_self_cpu_s(double *user_s, double *sys_s)
{
	struct rusage ru;
	double u, s;

	getrusage(RUSAGE_SELF, &ru);
	u = tv_s(&ru.ru_utime);
	s = tv_s(&ru.ru_stime);
	if (user_s)
		*user_s = u;
	if (sys_s)
		*sys_s = s;
	return u + s;
}

void bench_cpu_read(struct bench_cpu_reading *r, int pid)
{
	r->t_ns = (int64_t)tkt_mono_ns();
	bench_self_cpu_s(&r->self_user_s, &r->self_sys_s);
	bench_host_cpu_read(&r->host);
	r->pid_s = bench_pid_cpu_s(pid);
}
