/* The shard map (issue #16): which node owns which event, published in
 * Redis so that every node and every client can find an event's owner.
 *
 *   tkt:shards  hash, field = event id (decimal), value =
 *               {"node":"n1","udp":"10.77.1.2:7000","http":"127.0.0.1:18520","epoch":7}
 *               written by the owner once it serves the event, removed
 *               by it (only if still its own) when it gives the event up
 *   tkt:nodes   hash, field = node id, value =
 *               {"udp":"...","http":"...","seenAt":<unix ms>}
 *               refreshed every second by each live node
 *   tkt:shard:epoch:<event>  the event's fencing epoch: INCR by each new
 *               owner; a journal write carries the epoch it was taken with
 *               and is refused when the key holds another one
 *
 * Event e belongs to partition e % P of the Kafka topic ticketing.shards.
 * The encoders and the parser are pure (unit-tested); the Redis calls take
 * a connected hiredis context and are not thread-safe on it. */
#ifndef TICKETD_SHARD_MAP_H
#define TICKETD_SHARD_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_MAP_KEY "tkt:shards"
#define SHARD_NODES_KEY "tkt:nodes"
#define SHARD_EPOCH_PREFIX "tkt:shard:epoch:"
/* hash, field = event id, value = "available:held:sold" as its owner
 * counted them last (every second), for GET /api/events on every node */
#define SHARD_COUNTS_KEY "tkt:shard:counts"
#define SHARD_NODE_MAX 33  /* [a-z0-9-]{1,32} and its NUL */
#define SHARD_ADDR_MAX 128 /* HOST:PORT and its NUL */

struct shard_owner {
	char node[SHARD_NODE_MAX];
	char udp[SHARD_ADDR_MAX];
	char http[SHARD_ADDR_MAX];
	uint64_t epoch;
};

struct shard_node {
	char udp[SHARD_ADDR_MAX];
	char http[SHARD_ADDR_MAX];
	int64_t seen_at_ms;
};

/* The partition of ticketing.shards an event belongs to. */
static inline uint32_t shard_partition_of(uint32_t event_id, uint32_t partitions)
{
	return partitions ? event_id % partitions : 0;
}

/* JSON of one tkt:shards value / tkt:nodes value into buf; the length, or
 * -ENOSPC when it does not fit. */
int shard_owner_json(const struct shard_owner *o, char *buf, size_t len);
int shard_node_json(const struct shard_node *n, char *buf, size_t len);
/* Parses them; 0, or -EINVAL for anything but an object with the fields
 * (strings that fit, a non-negative integer epoch / seenAt). */
int shard_owner_parse(const char *json, struct shard_owner *out);
int shard_node_parse(const char *json, struct shard_node *out);

/* "a.b.c.d:port" into network-order address and port; false for anything
 * else (host names, IPv6): the UDP reply then carries no owner. */
bool shard_addr_ipv4(const char *hostport, uint32_t *ip_be, uint16_t *port_be);

struct redisContext;

/* INCR tkt:shard:epoch:<event> into *epoch. 0 or -EIO. */
int shard_epoch_take(struct redisContext *c, uint32_t event_id, uint64_t *epoch);
/* HSET tkt:shards <event> <owner JSON>. 0 or -EIO. */
int shard_map_publish(struct redisContext *c, uint32_t event_id,
		      const struct shard_owner *o);
/* Removes the event's entry if it still names node (one Lua script, so a
 * new owner's entry is never removed). 0 or -EIO. */
int shard_map_withdraw(struct redisContext *c, uint32_t event_id, const char *node);
/* HSET tkt:nodes <node> <JSON>. 0 or -EIO. */
int shard_node_beat(struct redisContext *c, const char *node,
		    const struct shard_node *n);

/* HGETALL tkt:shards: cb(ctx, event, owner) for each parsable entry.
 * Returns the number of entries, or -EIO. */
int shard_map_read(struct redisContext *c,
		   void (*cb)(void *ctx, uint32_t event_id, const struct shard_owner *o),
		   void *ctx);

#endif
