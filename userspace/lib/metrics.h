/* Prometheus text: the HTTP request series (counts by route, method and
 * status; latency histograms by route), fed by a program's http_server_opts
 * on_done callback, and metrics_appendf, with which every other part
 * renders its own counters and gauges into the same /metrics answer. */
#ifndef TICKETD_METRICS_H
#define TICKETD_METRICS_H

#include <pthread.h>
#include <stdint.h>

#define METRICS_MAX_SERIES 256
#define METRICS_MAX_ROUTES 48
#define METRICS_N_BUCKETS 14

struct metrics_series {
	const char *route; /* static string: a route pattern */
	char method[8];
	int status;
	uint64_t count;
};

struct metrics_route_hist {
	const char *route;
	uint64_t buckets[METRICS_N_BUCKETS]; /* cumulative at render time */
	uint64_t count;
	double sum_seconds;
};

struct metrics {
	pthread_mutex_t lock; /* guards everything below */
	struct metrics_series series[METRICS_MAX_SERIES];
	int n_series;
	struct metrics_route_hist hist[METRICS_MAX_ROUTES];
	int n_hist;
};

void metrics_init(struct metrics *m);
void metrics_destroy(struct metrics *m);

/* Records one finished request. route must be a static string. */
void metrics_observe_http(struct metrics *m, const char *route,
			  const char *method, int status, double seconds);

/* Appends the HTTP metrics in Prometheus text format to a malloc'd buffer
 * (*buf, *len, *cap grow as needed). Returns 0 or -ENOMEM. */
int metrics_render_http(struct metrics *m, char **buf, size_t *len,
			size_t *cap);

/* A snapshot of the request series for load-following (the waiting room's
 * automatic rate): for every route whose pattern is in routes (n of them),
 * the latency counts per bucket (non-cumulative; the last entry counts
 * what was slower than the largest bound), and the answers of those
 * routes with status overload_status (another route's 503, a full room
 * door, says nothing of them). Deltas of two snapshots describe the time
 * between them. */
struct metrics_load {
	uint64_t buckets[METRICS_N_BUCKETS + 1];
	uint64_t overloaded;
};
void metrics_load_snapshot(struct metrics *m, const char *const *routes, int n,
			   int overload_status, struct metrics_load *out);
/* The upper bound of latency bucket i in seconds (the last: infinity). */
double metrics_bucket_bound(int i);

/* printf-append helper shared by every metrics producer. */
__attribute__((format(printf, 4, 5))) int
metrics_appendf(char **buf, size_t *len, size_t *cap, const char *fmt, ...);

#endif
