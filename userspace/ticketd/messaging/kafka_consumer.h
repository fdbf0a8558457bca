/* A Kafka consumer thread for ticketd's own consumers (the saga's payment
 * results, ...): a consumer group subscribed to some topics, one handler
 * call per message, and an offset committed only after the handler said the
 * message is done.
 *
 * Delivery is at least once: after a crash, a rebalance or a failed commit a
 * message can come again, and the outbox relay may publish one twice. A
 * handler de-duplicates by claiming the message id (the `outbox-id` header)
 * with inbox_claim() in the same transaction as its effects.
 *
 * Batches: with a batch handler the thread hands up to batch_max messages
 * that are waiting at once (several partitions mixed, each partition in
 * offset order) to one call, so the handler can claim their ids
 * (inbox_claim_many) and apply their effects in one transaction: one commit
 * for many messages. The batch succeeds or fails as a whole: on failure
 * every partition of the batch is rewound to its first message in it and
 * the whole batch comes again (the rolled-back transaction took the claims
 * with it, so each message is still applied once).
 *
 * Offsets are committed in batches too: stored after the handler, committed
 * every commit_interval_ms (asynchronously), at a rebalance and at stop.
 *
 * Threads: kafka_consumer_start creates one thread that owns the librdkafka
 * consumer and calls the handler; messages of one partition are handled one
 * at a time in offset order. kafka_consumer_stop, _stats and
 * _render_metrics may be called from any other thread. */
#ifndef TICKETD_KAFKA_CONSUMER_H
#define TICKETD_KAFKA_CONSUMER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "userspace/lib/worker.h"

struct trace_span;

#define KAFKA_CONSUMER_MAX_TOPICS 16

/* One message as the handler sees it; valid only during the handler call. */
struct kafka_message {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp_ms; /* Kafka's timestamp, -1 when absent */
	const void *key;      /* NULL when the message has no key */
	size_t key_len;
	const void *payload; /* NULL for a tombstone */
	size_t payload_len;
	/* The `outbox-id` header as a NUL-terminated string ("" when absent)
	 * and as a number (0 when absent or not a number). */
	char outbox_id_str[24];
	uint64_t outbox_id;
	const void *priv; /* the rd_kafka_message_t, for kafka_message_header */
};

/* Handles one message. Return 0 when the message is done: its effects are
 * committed, or it is a duplicate or a message the handler decided to skip
 * (after logging it); its offset is then committed. Return a negative errno
 * to have the same message handed again after a backoff (the partition is
 * rewound to it; later messages of that partition wait). */
typedef int (*kafka_handler_fn)(void *arg, const struct kafka_message *m);

/* Handles n >= 1 messages as one unit: return 0 when all are done (their
 * effects committed, or skipped), or a negative errno to have the whole
 * batch handed again after a backoff (commit nothing then). */
typedef int (*kafka_batch_handler_fn)(void *arg, const struct kafka_message *ms,
				      int n);

struct kafka_consumer_opts {
	const char *group_id;
	const char *topics[KAFKA_CONSUMER_MAX_TOPICS + 1]; /* NULL-terminated */
	kafka_handler_fn handler;      /* one of handler and batch_handler */
	kafka_batch_handler_fn batch_handler;
	int batch_max;                 /* messages per batch_handler call (64) */
	void *arg;                     /* handler's first argument */
	const char *client_id;         /* "ticketd-consumer" */
	/* Static group membership (group.instance.id): a member restarted with
	 * the same id takes its partitions back at once instead of waiting a
	 * session timeout for its dead predecessor. NULL: dynamic membership.
	 * Two live consumers must never share one. */
	const char *instance_id;
	const char *auto_offset_reset; /* where a new group starts: "earliest" */
	int commit_interval_ms;        /* commit handled offsets this often (200) */
	int fetch_wait_ms;             /* fetch.wait.max.ms (100): how long the
					* broker holds a fetch that has fewer
					* than fetch_min_bytes to give */
	int fetch_min_bytes;           /* fetch.min.bytes (65536): the broker
					* answers a fetch once this much is
					* there or fetch_wait_ms passed, so a
					* steady flow is fetched about every
					* fetch_wait_ms in one response, not
					* once per produce request; 1 answers
					* at once (a fetch per arrival) */
	int retry_initial_ms;          /* first backoff after a failure (100) */
	int retry_max_ms;              /* backoff cap (5000) */
};

struct kafka_consumer_stats {
	uint64_t handled;          /* messages the handler finished */
	uint64_t batches;          /* batch_handler calls that succeeded */
	uint64_t handler_failures; /* handler calls that asked for a retry */
	uint64_t errors;           /* consumer errors (broker, commit, ...) */
	uint64_t restarts;         /* consumers recreated after fatal errors */
	bool assigned;             /* has at least one partition */
};

struct kafka_consumer {
	/* Set by start, read-only afterwards; the strings are copies. */
	struct kafka_consumer_opts opts;
	char bootstrap[256], group_id[128], client_id[64], offset_reset[16];
	char instance_id[128];
	char topics[KAFKA_CONSUMER_MAX_TOPICS][256];
	int n_topics;

	struct worker w; /* the consumer thread; stop ends a backoff early */

	atomic_uint_least64_t handled, handler_failures, errors, restarts, batches;
	atomic_int assigned_partitions;

	/* Consumer thread. */
	void *rk;          /* rd_kafka_t */
	void *queue;       /* its consumer queue (rd_kafka_queue_t), batch mode */
	void **batch;      /* batch_max rd_kafka_message_t slots, batch mode */
	struct kafka_message *kms; /* batch_max, batch mode */
	struct trace_span **spans; /* batch_max, batch mode: kafka.consume spans */
	bool commit_due;   /* offsets stored since the last commit */
	int64_t next_commit_ms;
	int backoff_ms;
};

/* Fills opts with the defaults listed in struct kafka_consumer_opts (no
 * group, topics or handler). */
void kafka_consumer_default_opts(struct kafka_consumer_opts *opts);

/* Creates the consumer, subscribes it and starts its thread. opts is
 * copied (group_id, at least one topic and handler are required). Returns 0,
 * or -EINVAL (bad argument or librdkafka configuration, reason in err),
 * -ENOMEM, or -errno of pthread_create; on failure nothing is left
 * running. Kafka being down is not an error: the consumer keeps trying. */
int kafka_consumer_start(struct kafka_consumer *c, const char *bootstrap,
			 const struct kafka_consumer_opts *opts, char *err,
			 size_t errlen);

/* Stops the thread after the current handler call returns, commits the
 * offsets of handled messages, leaves the group and frees the consumer.
 * Safe on a zeroed or stopped consumer. */
void kafka_consumer_stop(struct kafka_consumer *c);

void kafka_consumer_stats(struct kafka_consumer *c,
			  struct kafka_consumer_stats *st);

/* Appends the metrics of n consumers (label consumer="<group id>") in
 * Prometheus text format, each family's HELP and TYPE once. Returns 0 or
 * -ENOMEM. */
int kafka_consumer_render_metrics(struct kafka_consumer *const *cs, int n,
				  char **buf, size_t *len, size_t *cap);

#endif
