/* Event ownership across ticketd nodes (issue #16), from Kafka's group
 * protocol: event e belongs to partition e % P of the topic
 * ticketing.shards; every node joins the consumer group ticketd-shards
 * (cooperative-sticky assignment, static membership with group.instance.id
 * = node id, a short session timeout) and owns the catalogue events whose
 * partitions the group assigns it. Nothing is ever consumed: the group's
 * assignment is the whole point.
 *
 * Revoked or lost partitions: their events stop being served before the
 * rebalance callback returns (events entry owned = TKT_OWNED_NO: both UDP
 * doors answer WRONG_NODE, REST redirects). Assigned partitions: each event
 * is fenced (INCR tkt:shard:epoch:<event>), its words cleared and rebuilt
 * from MariaDB and its journal keys while it is TKT_OWNED_REBUILD, the
 * node publishes itself in the shard map (shards/shard_map.h), and only
 * then is it TKT_OWNED_YES. Journal writes of an event carry the epoch this
 * node took (seats/journal.c checks it in Redis, atomically with the
 * write); a refusal means another node took the event: it is dropped at
 * once and counted (shards_fenced).
 *
 * Off (no node_id set): no thread, no Kafka group; every event is owned,
 * as on a single node.
 *
 * Threads: one, the shards thread: it polls the consumer (the rebalance
 * callback runs on it), retries events whose takeover failed, beats
 * tkt:nodes and refreshes the cached shard map every second. Its Redis
 * context is its own. `lock` guards the cache (owners, nodes JSON) and
 * epochs; the owned state itself lives in the seat table's events entries
 * (edge_set_event_owned). Lock order: shards.lock is a leaf. */
#ifndef TICKETD_OWNERSHIP_H
#define TICKETD_OWNERSHIP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "userspace/ticketd/shards/shard_map.h"

#define SHARDS_TOPIC "ticketing.shards"
#define SHARDS_GROUP "ticketd-shards"
/* The group's session timeout: a node that stops heartbeating loses its
 * partitions after this long (the broker's group.min.session.timeout.ms
 * must allow it: infra/kafka.sh). */
#define SHARDS_SESSION_TIMEOUT_MS 3000
#define SHARDS_HEARTBEAT_MS 500

struct ticketd;
struct redisContext;

struct shards {
	struct ticketd *app;
	bool on;
	atomic_bool ready; /* on, and the arrays below exist */
	uint32_t partitions;
	char node[SHARD_NODE_MAX];
	void *rk; /* rd_kafka_t, the group member */
	pthread_t thread;
	bool running;
	atomic_bool stop;
	struct redisContext *redis; /* the shards thread's */
	/* per partition: assigned to this node; its events should be served
	 * (the shards thread retries until they are, events published
	 * later included) */
	_Atomic uint8_t *assigned;
	/* per event id: a newer epoch fenced this node off (journal thread);
	 * not taken back until its partition is assigned again */
	_Atomic uint8_t *fenced_out;
	/* the owner address refresh last wrote into each event's entry
	 * (1 << 48 | ip << 16 | port); 0 after any other write of it */
	_Atomic uint64_t *owner_set;
	/* per event id, under lock: an event's seat counts as its
	 * owner last published them (tkt:shard:counts) */
	struct shard_counts {
		uint32_t available, held, sold;
		bool known;
	} *counts;
	pthread_mutex_t lock; /* guards owners, epochs, nodes_json */
	/* per event id (0..TKT_MAX_EVENTS-1) */
	struct shard_owner *owners; /* last read from tkt:shards; node "" unknown */
	_Atomic uint64_t *epochs;   /* our fencing epoch while we serve it, else 0 */
	json_t *nodes_json;         /* tkt:nodes as last read */
	int64_t next_refresh_ms;
	atomic_uint_least32_t owned_events;
	atomic_uint_least64_t rebalances, fenced, takeovers, giveups, take_failures;
	atomic_uint_least64_t rebuild_us_last;
};

/* The state every thread may ask (shards_epoch, shards_where): before
 * the journal starts; freed after it stopped. */
int shards_init(struct shards *s, struct ticketd *app, char *err, size_t errlen);
void shards_free(struct shards *s);
/* Joins the group and starts the shards thread (nothing when off). */
int shards_start(struct shards *s, char *err, size_t errlen);
/* Leaves the group (its events are given up through the revoke callback)
 * and stops the thread. */
void shards_stop(struct shards *s);

enum shard_where {
	SHARD_HERE = 0,  /* this node serves it (always, when off) */
	SHARD_ELSEWHERE, /* *owner names the node that does */
	SHARD_MOVING,    /* nobody known serves it right now */
};

/* Where event_id is served; owner may be NULL. */
enum shard_where shards_where(struct shards *s, uint32_t event_id,
			      struct shard_owner *owner);

/* The epoch journal writes of event_id carry (0: this node does not serve
 * it, the write is dropped; UINT64_MAX: off, no fencing). Any thread. */
uint64_t shards_epoch(struct shards *s, uint32_t event_id);
/* A journal write of event_id was refused by its epoch: another node
 * took the event; stop serving it at once (counted). Any thread. */
void shards_fenced(struct shards *s, uint32_t event_id);

/* The event of an order (multi-node: POST /api/payments/authorize goes to
 * the owner of its order's event, whose saga changes the seat words). 0,
 * -ENOENT (off, or no such order), -EBUSY (no database connection within
 * db_wait_ms) or a negative errno. An HTTP thread. */
int shards_order_event(struct shards *s, const char *order_id, uint32_t *event_id);

/* Whether this node changes event_id's seat words: always when off; else
 * while it serves the event or rebuilds it. The saga skips the words of
 * other nodes' events (their owner applies the outcome). Any thread. */
bool shards_serves(struct shards *s, uint32_t event_id);

/* An event served elsewhere: its counts as its owner published them
 * (within a second or two); false when served here (read the table) or
 * not known yet. */
bool shards_counts(struct shards *s, uint32_t event_id, uint32_t *available, uint32_t *held,
		   uint32_t *sold);

/* Events this node serves: every catalogue event when off. */
uint32_t shards_owned_events(struct shards *s);

/* GET /api/shards: {"partitions","node","nodes":{...},"events":{...}}. */
json_t *shards_json(struct shards *s);

/* /metrics lines (ticketd_shard_*). */
int shards_render_metrics(struct shards *s, char **buf, size_t *len, size_t *cap);

#endif
