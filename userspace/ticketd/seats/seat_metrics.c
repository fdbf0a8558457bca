#include "userspace/ticketd/seats/seat_metrics.h"

#include "userspace/lib/metrics.h"
#include "userspace/ticketd/seats/seat_stream.h"

void seat_metrics_sink(void *metrics, const struct event_info *e,
		       const struct seat_event *ev, const struct tkt_change *rec)
{
	struct seat_metrics *m = metrics;

	(void)e;
	(void)rec;
	if (ev->status <= SEAT_SOLD)
		atomic_fetch_add(&m->to_status[ev->status], 1);
}

void seat_metrics_batch_sink(void *metrics, const struct seat_change *ch, uint32_t n)
{
	struct seat_metrics *m = metrics;
	uint64_t by[SEAT_SOLD + 1] = {0};

	for (uint32_t i = 0; i < n; i++)
		if (ch[i].ev.status <= SEAT_SOLD)
			by[ch[i].ev.status]++;
	for (int s = 0; s <= SEAT_SOLD; s++)
		if (by[s])
			atomic_fetch_add(&m->to_status[s], by[s]);
}

int seat_metrics_render(struct seat_metrics *m, char **buf, size_t *len,
			size_t *cap)
{
	int rc = metrics_appendf(buf, len, cap,
				 "# HELP ticketd_seat_changes_total Published seat changes, by the status they lead to.\n"
				 "# TYPE ticketd_seat_changes_total counter\n");

	for (int s = SEAT_AVAILABLE; s <= SEAT_SOLD; s++)
		rc |= metrics_appendf(buf, len, cap,
				      "ticketd_seat_changes_total{status=\"%s\"} %llu\n",
				      seat_status_name((enum seat_status)s),
				      (unsigned long long)atomic_load(&m->to_status[s]));
	return rc;
}
