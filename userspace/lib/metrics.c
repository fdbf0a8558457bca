#include "userspace/lib/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_bounds[METRICS_N_BUCKETS] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025,  0.05,    0.1,    0.25,  0.5,    1.0,   2.5};

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	pthread_mutex_init(&m->lock, NULL);
}

void metrics_destroy(struct metrics *m)
{
	pthread_mutex_destroy(&m->lock);
}

void metrics_observe_http(struct metrics *m, const char *route,
			  const char *method, int status, double seconds)
{
	struct metrics_series *s = NULL;
	struct metrics_route_hist *h = NULL;
	int i;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_series; i++)
		if (m->series[i].route == route && m->series[i].status == status &&
		    !strcmp(m->series[i].method, method)) {
			s = &m->series[i];
			break;
		}
	if (!s && m->n_series < METRICS_MAX_SERIES) {
		s = &m->series[m->n_series++];
		s->route = route;
		snprintf(s->method, sizeof(s->method), "%s", method);
		s->status = status;
	}
	if (s)
		s->count++;
	for (i = 0; i < m->n_hist; i++)
		if (m->hist[i].route == route) {
			h = &m->hist[i];
			break;
		}
	if (!h && m->n_hist < METRICS_MAX_ROUTES) {
		h = &m->hist[m->n_hist++];
		h->route = route;
	}
	if (h) {
		for (i = 0; i < METRICS_N_BUCKETS; i++)
			if (seconds <= bucket_bounds[i]) {
				h->buckets[i]++;
				break;
			}
		h->count++;
		h->sum_seconds += seconds;
	}
	pthread_mutex_unlock(&m->lock);
}

void metrics_load_snapshot(struct metrics *m, const char *const *routes, int n,
			   int overload_status, struct metrics_load *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->n_hist; i++) {
		const struct metrics_route_hist *h = &m->hist[i];
		uint64_t in_buckets = 0;
		int r;

		for (r = 0; r < n && strcmp(h->route, routes[r]); r++)
			;
		if (r == n)
			continue;
		for (int b = 0; b < METRICS_N_BUCKETS; b++) {
			out->buckets[b] += h->buckets[b];
			in_buckets += h->buckets[b];
		}
		out->buckets[METRICS_N_BUCKETS] += h->count - in_buckets;
	}
	for (int i = 0; i < m->n_series; i++) {
		int r;

		if (m->series[i].status != overload_status)
			continue;
		for (r = 0; r < n && strcmp(m->series[i].route, routes[r]); r++)
			;
		if (r < n)
			out->overloaded += m->series[i].count;
	}
	pthread_mutex_unlock(&m->lock);
}

double metrics_bucket_bound(int i)
{
	return i >= 0 && i < METRICS_N_BUCKETS ? bucket_bounds[i] : 1e300;
}

int metrics_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = *cap - *len;

		va_start(ap, fmt);
		n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if (*buf && (size_t)n < room) {
			*len += (size_t)n;
			return 0;
		}
		size_t ncap = (*cap ? *cap * 2 : 4096) + (size_t)n;
		char *nb = realloc(*buf, ncap);

		if (!nb)
			return -ENOMEM;
		*buf = nb;
		*cap = ncap;
	}
}

int metrics_render_http(struct metrics *m, char **buf, size_t *len,
			size_t *cap)
{
	int rc = 0, i, b;

	pthread_mutex_lock(&m->lock);
	rc |= metrics_appendf(buf, len, cap,
			      "# HELP ticketd_http_requests_total HTTP requests served.\n"
			      "# TYPE ticketd_http_requests_total counter\n");
	for (i = 0; i < m->n_series; i++)
		rc |= metrics_appendf(
			buf, len, cap,
			"ticketd_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
			m->series[i].route, m->series[i].method, m->series[i].status,
			(unsigned long long)m->series[i].count);
	rc |= metrics_appendf(
		buf, len, cap,
		"# HELP ticketd_http_request_duration_seconds Time from request to response.\n"
		"# TYPE ticketd_http_request_duration_seconds histogram\n");
	for (i = 0; i < m->n_hist; i++) {
		const struct metrics_route_hist *h = &m->hist[i];
		uint64_t cum = 0;

		for (b = 0; b < METRICS_N_BUCKETS; b++) {
			cum += h->buckets[b];
			rc |= metrics_appendf(
				buf, len, cap,
				"ticketd_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
				h->route, bucket_bounds[b], (unsigned long long)cum);
		}
		rc |= metrics_appendf(
			buf, len, cap,
			"ticketd_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
			"ticketd_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
			"ticketd_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
			h->route, (unsigned long long)h->count, h->route, h->sum_seconds,
			h->route, (unsigned long long)h->count);
	}
	pthread_mutex_unlock(&m->lock);
	return rc ? -ENOMEM : 0;
}
