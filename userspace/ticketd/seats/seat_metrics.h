/* The seat stream's metrics sink: published seat changes counted by the
 * status they lead to, rendered into /metrics as
 * ticketd_seat_changes_total{status="AVAILABLE"|"HELD"|"SOLD"}. */
#ifndef TICKETD_SEAT_METRICS_H
#define TICKETD_SEAT_METRICS_H

#include <stdatomic.h>
#include <stddef.h>

#include "userspace/ticketd/seats/seat_view.h"

struct event_info;
struct seat_event;
struct tkt_change;

struct seat_metrics {
	atomic_uint_least64_t to_status[SEAT_SOLD + 1]; /* by enum seat_status */
};

/* A seat_sink_fn (ctx is the struct seat_metrics). */
void seat_metrics_sink(void *metrics, const struct event_info *e,
		       const struct seat_event *ev, const struct tkt_change *rec);

/* The same per batch (seat_batch_sink_fn): one atomic add per status. */
struct seat_change;
void seat_metrics_batch_sink(void *metrics, const struct seat_change *ch, uint32_t n);

/* Appends the counters (metrics_appendf); 0 or -ENOMEM. Any thread. */
int seat_metrics_render(struct seat_metrics *m, char **buf, size_t *len,
			size_t *cap);

#endif
