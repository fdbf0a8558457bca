/* The outbox relay: one thread that publishes committed outbox rows to Kafka
 * in id order and marks a row sent only when Kafka's delivery report for it
 * succeeded.
 *
 * Guarantees
 * - At least once: a row is marked sent only after its delivery report
 *   succeeded (idempotent producer, acks=all). A crash between the ack and
 *   the mark, or a retry after a failure, publishes a row again; consumers
 *   de-duplicate by the `outbox-id` header through the inbox (inbox.h).
 * - Order: rows are produced in id order through one idempotent producer
 *   with no message timeout, so one key's rows (one partition) reach Kafka in
 *   id order without gaps. The first occurrence of each id in a partition is
 *   in id order even when retries add duplicates.
 * - Wake-up: outbox_append signals the relay (outbox_relay_notify,
 *   registered by start through outbox_wake_register) from inside the
 *   writer's transaction. The relay reads wake_delay_ms later (the commit
 *   lands meanwhile, and the rows of concurrent transactions are read by
 *   one SELECT); while fewer rows were found than were signalled, it
 *   re-reads after 1, 2, 5, 10, 20, 50, 100, 200 and 500 ms, then gives up
 *   (a rolled-back row is signalled too; a commit later than that is found
 *   by the idle poll). The writers do not kick the relay after their
 *   commit: the signal and its re-reads cover a commit under load, and a
 *   kick per order cost a relay wake-up and read each. idle_poll_ms is
 *   only the safety net for rows no signal
 *   announced (another node's, an operator's replay); delivery reports do
 *   not cause reads.
 * - Rows committed late (a smaller id becoming visible after larger ones
 *   were produced) are picked up: the relay reads from the oldest unsent row
 *   when nothing is in flight (at once when signalled rows are still
 *   missing), and drains at least once a second (rescan_ms) under
 *   continuous load to make that happen.
 * - Kafka down: messages wait in the producer (no message timeout) and rows
 *   stay unsent; librdkafka reconnects with a backoff capped at
 *   backoff_max_ms, and the relay sleeps meanwhile (it never spins).
 * - A row Kafka refuses for good (too large, invalid record, unknown topic
 *   or partition: permanent_error in outbox_relay.c) is moved to
 *   outbox_parked with the error (migration 007), logged and counted
 *   (ticketd_outbox_rows_parked_total, ticketd_outbox_parked_rows). A
 *   permanent error reported for a batch is first isolated: rows go one at
 *   a time until one fails alone, so innocent rows of the batch are not
 *   parked. Order per key: while a row of a (topic, key) is parked, the
 *   later rows of that key stay unsent in outbox (held, counted in the
 *   backlog and lag) until an operator replays or discards the parked row
 *   (docs/operations.md); other keys flow.
 * - Housekeeping (leader only): sent rows older than prune_after_s and
 *   inbox claims older than inbox_keep_s are deleted, prune_batch rows a
 *   statement.
 * - One active relay per database: the relay works only while it holds the
 *   MariaDB user lock opts.lock_name on its own connection, so a second
 *   ticketd node's relay stands by instead of interleaving with this one.
 *
 * Threads: outbox_relay_start creates the relay thread, which alone uses the
 * producer, the relay's own MariaDB connection and everything marked "relay
 * thread" below. outbox_relay_kick and outbox_relay_render_metrics may be
 * called from any thread. librdkafka's internal threads only call
 * queue_event (takes r->w.lock) and the log callback.
 * Lock order: librdkafka's queue lock, then r->w.lock; r->w.lock is never held
 * while calling librdkafka or MariaDB. */
#ifndef TICKETD_OUTBOX_RELAY_H
#define TICKETD_OUTBOX_RELAY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/worker.h"

#include "userspace/ticketd/db/db.h"

#define OUTBOX_RELAY_DELAY_BUCKETS 15

struct outbox_relay_opts {
	int batch_size;         /* rows read per query (500) */
	int max_in_flight;      /* produced, not yet reported (10000) */
	int linger_ms;          /* librdkafka linger.ms (20): rows of several
				 * reads share one produce request (at most
				 * ~50 a second, each a broker request and a
				 * consumer's fetch); every ms here is added
				 * to each commit-to-ack latency */
	int batch_bytes;        /* librdkafka batch.size (1000000) */
	const char *compression; /* compression.codec ("lz4"): one the broker
				  * jars and Debian's librdkafka both have;
				  * lz4 costs the least CPU on either side */
	int idle_poll_ms;       /* look for rows without a signal (1000): rows
				 * of other nodes and operators wait this long */
	int wake_delay_ms;      /* first read after a new-row signal (10) */
	int backoff_initial_ms; /* first wait after a failure (100) */
	int backoff_max_ms;     /* cap of the doubling backoff (5000) */
	int backlog_refresh_ms; /* backlog and lag gauges (1000) */
	int rescan_ms;          /* longest run ahead of the oldest unsent (1000) */
	int prune_interval_ms;  /* how often to prune sent rows (60000) */
	int prune_after_s;      /* keep sent rows this long (3600) */
	int prune_batch;        /* rows deleted per statement (1000) */
	long inbox_keep_s;      /* inbox claims kept this long, 0 for ever
				 * (7 days: Kafka's default retention) */
	const char *lock_name;  /* leader lock ("ticketd.outbox_relay") */
	const char *client_id;  /* Kafka client.id ("ticketd-outbox") */
};

/* A snapshot of the relay's counters and gauges. */
struct outbox_relay_stats {
	uint64_t rows_sent;         /* rows marked sent by this relay */
	uint64_t delivery_failures; /* failed delivery reports and produce calls */
	uint64_t producer_restarts; /* producers recreated after fatal errors */
	uint64_t db_errors;         /* failed MariaDB operations */
	uint64_t rows_pruned;       /* sent rows deleted */
	uint64_t rows_parked;       /* poisoned rows moved to outbox_parked */
	uint64_t inbox_pruned;      /* inbox claims deleted */
	int64_t parked;             /* rows in outbox_parked at the last refresh */
	uint64_t last_sent_id;      /* highest id this relay marked sent */
	int64_t backlog;            /* unsent rows at the last refresh, -1 unknown */
	double lag_seconds;         /* age of the oldest unsent row at that time */
	int64_t in_flight;          /* produced, no delivery report yet */
	bool leader;                /* holds the leader lock */
	uint64_t reads;             /* SELECTs of unsent rows */
	uint64_t empty_reads;       /* of them, those that found none */
	uint64_t signals;           /* rows announced by new-row signals */
};

struct outbox_relay {
	/* Set by start, read-only afterwards. */
	struct outbox_relay_opts opts;
	char bootstrap[256];
	char lock_name[64];
	char client_id[64];
	char compression[16];
	struct db_pool *shared_db; /* settings for the relay's own connection */

	struct worker w; /* the relay thread; kicked by outbox_relay_kick and
			  * by librdkafka's queue events */

	/* Written by the relay thread, read anywhere. */
	atomic_uint_least64_t rows_sent, delivery_failures, producer_restarts,
		db_errors, rows_pruned, last_sent_id, rows_parked, inbox_pruned;
	atomic_int_least64_t backlog, lag_us, in_flight, parked;
	atomic_bool leader;
	atomic_uint_least64_t reads, empty_reads;
	/* New-row signals (outbox_relay_notify) and post-commit kicks
	 * (outbox_relay_kick), from any thread; the relay thread compares. */
	atomic_uint_least64_t signals;
	atomic_bool read_now;
	/* A signal kicked the relay since its current iteration began: later
	 * signals only count (one wake-up per iteration, not one per row). */
	atomic_bool signal_kicked;
	/* Publish delay (insert to acknowledgement) histogram, buckets in
	 * outbox_relay.c. */
	atomic_uint_least64_t delay_buckets[OUTBOX_RELAY_DELAY_BUCKETS];
	atomic_uint_least64_t delay_count, delay_sum_us;

	/* Relay thread. */
	void *priv; /* struct relay_state, outbox_relay.c */
};

/* Fills o with the defaults (the values in the comments above). */
void outbox_relay_default_opts(struct outbox_relay_opts *o);

/* Starts the relay thread. db supplies the MariaDB settings; the relay opens
 * one connection of its own (it holds a session lock and must not shrink the
 * shared pool). bootstrap is Kafka's bootstrap.servers; opts may be NULL
 * (defaults) and is copied. Creates the producer before returning, so a bad
 * configuration fails here; Kafka or MariaDB being down does not (the
 * thread retries with backoff). Returns 0, or -EINVAL (bad argument or
 * producer configuration; reason in err), -ENOMEM, or -errno of
 * pthread_create. On failure nothing is left running. */
int outbox_relay_start(struct outbox_relay *r, struct db_pool *db,
		       const char *bootstrap,
		       const struct outbox_relay_opts *opts, char *err,
		       size_t errlen);

/* Stops the thread and frees everything start took. Rows whose delivery
 * report arrives within a short grace period (up to 2 s) are still marked
 * sent; the rest stay unsent and are published again by the next relay.
 * Safe to call on a relay that was never started or already stopped. */
void outbox_relay_stop(struct outbox_relay *r);

/* Wakes the relay to read now: optional after committing a transaction
 * that appended outbox rows (outbox_append already signalled the relay;
 * a kick saves the wait for the commit). Cheap (a mutex and a condition
 * signal); any thread, between start and stop. */
void outbox_relay_kick(struct outbox_relay *r);

/* The new-row signal (an outbox_wake_fn; arg is the relay): `rows` rows
 * will be committed soon, read them. start registers it with outbox_wake_register
 * when no other relay of this process did; stop clears it. Any thread. */
void outbox_relay_notify(void *relay, unsigned rows);

/* Copies the current counters and gauges. Any thread, also after stop. */
void outbox_relay_stats(struct outbox_relay *r, struct outbox_relay_stats *st);

/* Appends the relay's metrics in Prometheus text format (see
 * metrics_appendf). Returns 0 or -ENOMEM. Any thread. */
int outbox_relay_render_metrics(struct outbox_relay *r, char **buf,
				size_t *len, size_t *cap);

#endif
