/* GET /healthz, /readyz, /metrics */
#include <stdlib.h>

#include "userspace/lib/clock.h"
#include "userspace/lib/edge.h"
#include "userspace/lib/edge_view.h"
#include "userspace/lib/metrics.h"
#include "userspace/lib/trace.h"
#include "userspace/ticketd/edge_setup.h"
#include "userspace/ticketd/health.h"
#include "userspace/ticketd/live/sse_hub.h"
#include "userspace/ticketd/rest/routes.h"
#include "userspace/ticketd/room/room_service.h"
#include "userspace/ticketd/ticketd.h"
#include "userspace/ticketd/waitlist/waitlist_service.h"

/* The release, for ticketd_build_info; packaging may set it
 * (-DTICKETD_VERSION=...). */
#ifndef TICKETD_VERSION
#define TICKETD_VERSION "0.1.0"
#endif

void route_healthz(struct http_req *req, struct http_resp *resp)
{
	(void)req;
	http_json(resp, 200, json_pack("{s:s}", "status", "UP"));
}

void route_readyz(struct http_req *req, struct http_resp *resp)
{
	struct health *h = &rest_app(req)->health;
	json_t *checks = json_object(), *down = json_array();
	bool ready = atomic_load(&h->checked);

	for (int p = 0; p < HEALTH_N_PARTS; p++) {
		bool up = atomic_load(&h->up[p]);
		char why[160];

		if (up) {
			json_object_set_new(checks, health_part_name(p), json_string("UP"));
			continue;
		}
		ready = false;
		health_why(h, p, why, sizeof(why));
		json_object_set_new(checks, health_part_name(p),
				    json_pack("{s:s, s:s}", "status", "DOWN", "reason", why));
		json_array_append_new(down, json_string(health_part_name(p)));
	}
	struct journal_backlog jb;
	bool draining = drain_on(&rest_app(req)->drain);

	/* Draining (POST /admin/drain): not ready, so load balancers move
	 * the traffic away, whatever the parts say. */
	if (draining)
		ready = false;
	/* The journal behind (Redis slow or away) does not make the node
	 * unready (the seat table is the authority); it is shown. */
	journal_backlog(&rest_app(req)->journal, &jb);
	struct shards *sh = &rest_app(req)->shards;

	http_json(resp, ready ? 200 : 503,
		  json_pack("{s:s, s:i, s:s, s:s?, s:b, s:s, s:o, s:o, s:{s:s, s:i, s:i, s:i}}",
			    "node", rest_app(req)->cfg.node_id, "ownedEvents",
			    (int)shards_owned_events(sh),
			    "status",
			    ready ? "UP" : "DOWN", "reason", draining ? "draining" : NULL,
			    "draining", draining, "holdPath", drain_hold_path(rest_app(req)),
			    "checks", checks, "down", down, "journal", "status",
			    jb.dirty_seats || jb.lag_ms > 1000 ? "BEHIND" : "OK", "queued",
			    (int)jb.queued, "seatsToRepair", (int)jb.dirty_seats, "lagMs",
			    (int)jb.lag_ms));
}

/* The fill of the edge's maps with a limit (the sweeper's sample, every
 * 5 s) and the XDP change ring buffer (read now: two loads). */
static int render_edge_fill(struct ticketd *app, char **buf, size_t *len,
			    size_t *cap)
{
	struct edge_map_fill f;
	uint64_t taken, unread, size;
	int rc;

	rc = metrics_appendf(buf, len, cap,
			     "# HELP ticketd_edge_backend Where the seat table lives: bpf"
			     " (pinned maps, XDP) or shm (a file, socket door only).\n"
			     "# TYPE ticketd_edge_backend gauge\n"
			     "ticketd_edge_backend{backend=\"bpf\"} %d\n"
			     "ticketd_edge_backend{backend=\"shm\"} %d\n",
			     edge_backend(app->edge) == EDGE_BACKEND_BPF,
			     edge_backend(app->edge) == EDGE_BACKEND_SHM);
	if (sweeper_fill(&app->sweeper, &f, &taken) == 0) {
		rc |= metrics_appendf(
			buf, len, cap,
			"# HELP ticketd_bpf_map_entries Entries of the edge's maps with a"
			" limit (shm: their userspace twins), sampled every 5 s.\n"
			"# TYPE ticketd_bpf_map_entries gauge\n");
		for (int m = 0; m < EDGE_MAP_N; m++)
			rc |= metrics_appendf(buf, len, cap,
					      "ticketd_bpf_map_entries{map=\"%s\"} %llu\n",
					      edge_map_name(m),
					      (unsigned long long)f.entries[m]);
		rc |= metrics_appendf(buf, len, cap,
				      "# HELP ticketd_bpf_map_max_entries The limit of each of"
				      " those maps.\n"
				      "# TYPE ticketd_bpf_map_max_entries gauge\n");
		for (int m = 0; m < EDGE_MAP_N; m++)
			rc |= metrics_appendf(buf, len, cap,
					      "ticketd_bpf_map_max_entries{map=\"%s\"} %llu\n",
					      edge_map_name(m),
					      (unsigned long long)f.max_entries[m]);
		rc |= metrics_appendf(buf, len, cap,
				      "# HELP ticketd_bpf_map_sample_age_seconds Age of the"
				      " map-entries sample.\n"
				      "# TYPE ticketd_bpf_map_sample_age_seconds gauge\n"
				      "ticketd_bpf_map_sample_age_seconds %.3f\n",
				      (double)(tkt_mono_ns() - taken) / 1e9);
	}
	if (edge_ring_state(app->edge, &unread, &size) == 0)
		rc |= metrics_appendf(
			buf, len, cap,
			"# HELP ticketd_bpf_ringbuf_unread_bytes Bytes of XDP change records"
			" ticketd has not consumed yet (a full buffer makes XDP answer"
			" RATE_LIMITED: outcome ringbuf_full).\n"
			"# TYPE ticketd_bpf_ringbuf_unread_bytes gauge\n"
			"ticketd_bpf_ringbuf_unread_bytes %llu\n"
			"# HELP ticketd_bpf_ringbuf_size_bytes Size of the change ring buffer.\n"
			"# TYPE ticketd_bpf_ringbuf_size_bytes gauge\n"
			"ticketd_bpf_ringbuf_size_bytes %llu\n",
			(unsigned long long)unread, (unsigned long long)size);
	return rc;
}

/* UDP door outcomes, XDP (summed over CPUs) and userspace doors. */
static int render_edge_stats(struct ticketd *app, char **buf, size_t *len,
			     size_t *cap)
{
	struct edge_stats st;
	int rc;

	struct journal_backlog jb;

	if (!app->edge || edge_stats(app->edge, &st))
		return 0;
	rc = metrics_appendf(buf, len, cap,
			     "# HELP ticketd_udp_outcomes_total UDP hold protocol outcomes by door.\n"
			     "# TYPE ticketd_udp_outcomes_total counter\n");
	for (int i = 0; i < TKT_STAT_COUNT; i++)
		rc |= metrics_appendf(buf, len, cap,
				      "ticketd_udp_outcomes_total{door=\"xdp\",outcome=\"%s\"} %llu\n"
				      "ticketd_udp_outcomes_total{door=\"userspace\",outcome=\"%s\"} %llu\n",
				      edge_stat_name(i), (unsigned long long)st.xdp[i], edge_stat_name(i),
				      (unsigned long long)st.user[i]);
	journal_backlog(&app->journal, &jb);
	rc |= metrics_appendf(buf, len, cap,
			      "ticketd_seat_changes_published_total %llu\n"
			      "ticketd_journal_written_total %llu\n"
			      "ticketd_journal_dropped_total %llu\n"
			      "ticketd_journal_errors_total %llu\n"
			      "ticketd_journal_retries_total %llu\n"
			      "ticketd_journal_deferred_total %llu\n"
			      "ticketd_journal_repaired_total %llu\n"
			      "ticketd_journal_lost_total %llu\n"
			      "ticketd_journal_round_trips_total %llu\n"
			      "ticketd_journal_dels_skipped_total %llu\n"
			      "ticketd_seat_change_batches_total %llu\n"
			      "ticketd_journal_queued %u\n"
			      "ticketd_journal_seats_to_repair %u\n"
			      "ticketd_journal_lag_seconds %.3f\n",
			      (unsigned long long)atomic_load(&app->stream.delivered),
			      (unsigned long long)atomic_load(&app->journal.written),
			      (unsigned long long)atomic_load(&app->journal.dropped),
			      (unsigned long long)atomic_load(&app->journal.errors),
			      (unsigned long long)atomic_load(&app->journal.retries),
			      (unsigned long long)atomic_load(&app->journal.deferred),
			      (unsigned long long)atomic_load(&app->journal.repaired),
			      (unsigned long long)atomic_load(&app->journal.lost),
			      (unsigned long long)atomic_load(&app->journal.round_trips),
			      (unsigned long long)atomic_load(&app->journal.dels_skipped),
			      (unsigned long long)atomic_load(&app->stream.batches),
			      jb.queued, jb.dirty_seats, jb.lag_ms / 1000.0);
	return rc;
}

void route_metrics(struct http_req *req, struct http_resp *resp)
{
	struct ticketd *app = req->app;
	const char *hold_path = drain_hold_path(app);
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = metrics_render_http(&app->metrics, &buf, &len, &cap);

	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_build_info The running release (value 1).\n"
			      "# TYPE ticketd_build_info gauge\n"
			      "ticketd_build_info{version=\"%s\"} 1\n"
			      "# HELP ticketd_uptime_seconds Seconds since this process started.\n"
			      "# TYPE ticketd_uptime_seconds gauge\n"
			      "ticketd_uptime_seconds %.3f\n",
			      TICKETD_VERSION,
			      (double)(tkt_mono_ns() - app->started_mono_ns) / 1e9);
	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_hold_path Which UDP hold door is live.\n"
			      "# TYPE ticketd_hold_path gauge\n"
			      "ticketd_hold_path{path=\"xdp\"} %d\n"
			      "ticketd_hold_path{path=\"socket\"} %d\n",
			      hold_path[0] == 'x', hold_path[0] == 's');
	rc |= render_edge_stats(app, &buf, &len, &cap);
	if (app->edge)
		rc |= render_edge_fill(app, &buf, &len, &cap);
	rc |= edge_setup_render_metrics(app, &buf, &len, &cap);
	rc |= outbox_relay_render_metrics(&app->relay, &buf, &len, &cap);
	rc |= shards_render_metrics(&app->shards, &buf, &len, &cap);
	{
		struct kafka_consumer *consumers[] = {&app->saga.consumer};

		if (app->saga.consumer_on)
			rc |= kafka_consumer_render_metrics(consumers, 1, &buf, &len, &cap);
	}
	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_orders_ended_total Orders the saga ended, by outcome.\n"
			      "# TYPE ticketd_orders_ended_total counter\n"
			      "ticketd_orders_ended_total{status=\"CONFIRMED\"} %llu\n"
			      "ticketd_orders_ended_total{status=\"CANCELLED\"} %llu\n"
			      "ticketd_saga_duplicates_total %llu\n"
			      "# HELP ticketd_orders_deadline_missed_total Orders cancelled because"
			      " their payment did not complete by the payment deadline"
			      " (PAYMENT_DEADLINE, late approvals included).\n"
			      "# TYPE ticketd_orders_deadline_missed_total counter\n"
			      "ticketd_orders_deadline_missed_total %llu\n",
			      (unsigned long long)atomic_load(&app->saga.confirmed),
			      (unsigned long long)atomic_load(&app->saga.cancelled),
			      (unsigned long long)atomic_load(&app->saga.duplicates),
			      (unsigned long long)atomic_load(&app->saga.deadline_missed));
	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_order_cache_total Reads of an order answered from"
			      " the copies of ended orders (hit) or from MariaDB (miss), and"
			      " ended orders copied (stored).\n"
			      "# TYPE ticketd_order_cache_total counter\n"
			      "ticketd_order_cache_total{result=\"hit\"} %llu\n"
			      "ticketd_order_cache_total{result=\"miss\"} %llu\n"
			      "ticketd_order_cache_total{result=\"stored\"} %llu\n",
			      (unsigned long long)atomic_load(&app->order_cache.hits),
			      (unsigned long long)atomic_load(&app->order_cache.misses),
			      (unsigned long long)atomic_load(&app->order_cache.stored));
	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_saga_decisions_rejected_total Payment decisions from"
			      " Kafka dropped because they do not match a recorded payment.\n"
			      "# TYPE ticketd_saga_decisions_rejected_total counter\n");
	for (int i = 0; i < SAGA_REJECT_N; i++)
		rc |= metrics_appendf(&buf, &len, &cap,
				      "ticketd_saga_decisions_rejected_total{reason=\"%s\"} %llu\n",
				      saga_reject_names[i],
				      (unsigned long long)atomic_load(&app->saga.rejected[i]));
#define LD(x) (unsigned long long)atomic_load(&app->saga.x)
	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_refunds_total Refunds: owed (an order cancelled behind"
			      " a payment that may have charged), sent (attempts), done"
			      " (acknowledged by the gateway), failed (attempts the gateway refused).\n"
			      "# TYPE ticketd_refunds_total counter\n"
			      "ticketd_refunds_total{state=\"owed\"} %llu\n"
			      "ticketd_refunds_total{state=\"sent\"} %llu\n"
			      "ticketd_refunds_total{state=\"done\"} %llu\n"
			      "ticketd_refunds_total{state=\"failed\"} %llu\n"
			      "# HELP ticketd_sell_repairs_total Seats of a CONFIRMED order whose word"
			      " was not ORDERED at SELL, repaired to SOLD from the database, or not"
			      " (failed: the seat is retried; retried_sold: a retry made it SOLD).\n"
			      "# TYPE ticketd_sell_repairs_total counter\n"
			      "ticketd_sell_repairs_total{result=\"repaired\"} %llu\n"
			      "ticketd_sell_repairs_total{result=\"failed\"} %llu\n"
			      "ticketd_sell_repairs_total{result=\"retried_sold\"} %llu\n"
			      "# HELP ticketd_saga_unsold_seats Seats of CONFIRMED orders not SOLD in"
			      " the seat table yet (change queue full, or held live), retried every"
			      " 200 ms.\n"
			      "# TYPE ticketd_saga_unsold_seats gauge\n"
			      "ticketd_saga_unsold_seats %u\n"
			      "# HELP ticketd_payments_resumed_total Authorizations left undecided"
			      " (stop or crash) asked of the gateway again at start.\n"
			      "# TYPE ticketd_payments_resumed_total counter\n"
			      "ticketd_payments_resumed_total %llu\n"
			      "# HELP ticketd_payment_requests_pruned_total Rows of decided"
			      " authorizations deleted from payment_requests (in bulk, every"
			      " second, by the deadline loop).\n"
			      "# TYPE ticketd_payment_requests_pruned_total counter\n"
			      "ticketd_payment_requests_pruned_total %llu\n"
			      "# HELP ticketd_saga_settle_batches_total Transactions that settled"
			      " two or more gateway answers together.\n"
			      "# TYPE ticketd_saga_settle_batches_total counter\n"
			      "ticketd_saga_settle_batches_total %llu\n"
			      "# HELP ticketd_saga_settled_in_batches_total Orders settled by those"
			      " transactions.\n"
			      "# TYPE ticketd_saga_settled_in_batches_total counter\n"
			      "ticketd_saga_settled_in_batches_total %llu\n",
			      LD(refunds_owed), LD(refunds_sent), LD(refunds_done),
			      LD(refund_failures), LD(sell_repairs), LD(sell_repair_failures),
			      LD(unsold_resolved), saga_unsold_count(&app->saga.unsold),
			      LD(payments_resumed), LD(requests_pruned), LD(settle_batches),
			      LD(settled_batched));
#undef LD
	rc |= sse_hub_render_metrics(app->sse, &buf, &len, &cap);
	rc |= rooms_render_metrics(app->rooms, &buf, &len, &cap);
	rc |= waitlist_render_metrics(app->waitlist, &buf, &len, &cap);
	rc |= sessions_render_metrics(&app->sessions, &buf, &len, &cap);
	rc |= db_render_metrics(&app->db, &buf, &len, &cap);
	rc |= client_limits_render_metrics(app, &buf, &len, &cap);
	rc |= overload_render_metrics(app, &buf, &len, &cap);
	rc |= seat_metrics_render(&app->seat_metrics, &buf, &len, &cap);
	rc |= drain_render_metrics(app, &buf, &len, &cap);
	rc |= catalog_live_render_metrics(app, &buf, &len, &cap); /* #17 */
	rc |= trace_render_metrics(&buf, &len, &cap); /* #15 tracing */
	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_dependency_up Whether each part /readyz checks is usable.\n"
			      "# TYPE ticketd_dependency_up gauge\n");
	for (int p = 0; p < HEALTH_N_PARTS; p++)
		rc |= metrics_appendf(&buf, &len, &cap, "ticketd_dependency_up{part=\"%s\"} %d\n",
				      health_part_name(p), (int)atomic_load(&app->health.up[p]));
	rc |= metrics_appendf(&buf, &len, &cap,
			      "# HELP ticketd_ready 1 when /readyz answers 200, 0 when it answers 503.\n"
			      "# TYPE ticketd_ready gauge\n"
			      "ticketd_ready %d\n",
			      health_ready(&app->health) && !drain_on(&app->drain));
	if (rc) {
		free(buf);
		http_error(resp, req, 503, "UNAVAILABLE", "out of memory", NULL);
		return;
	}
	free(resp->body);
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4";
	resp->body = buf;
	resp->body_len = len;
}
