#include "userspace/ticketd/shards/shard_map.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>
#include <jansson.h>

int shard_owner_json(const struct shard_owner *o, char *buf, size_t len)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "node", o->node, "udp", o->udp,
			      "http", o->http, "epoch", (json_int_t)o->epoch);
	size_t n;

	if (!j)
		return -EINVAL;
	n = json_dumpb(j, buf, len, JSON_COMPACT);
	json_decref(j);
	if (!n || n >= len)
		return -ENOSPC;
	buf[n] = '\0';
	return (int)n;
}

int shard_node_json(const struct shard_node *nd, char *buf, size_t len)
{
	json_t *j = json_pack("{s:s, s:s, s:I}", "udp", nd->udp, "http", nd->http,
			      "seenAt", (json_int_t)nd->seen_at_ms);
	size_t n;

	if (!j)
		return -EINVAL;
	n = json_dumpb(j, buf, len, JSON_COMPACT);
	json_decref(j);
	if (!n || n >= len)
		return -ENOSPC;
	buf[n] = '\0';
	return (int)n;
}

static int copy_str(json_t *obj, const char *name, char *out, size_t len, bool need)
{
	json_t *v = json_object_get(obj, name);

	if (!v)
		return need ? -EINVAL : 0;
	if (!json_is_string(v) || json_string_length(v) >= len)
		return -EINVAL;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_uint(json_t *obj, const char *name, int64_t *out)
{
	json_t *v = json_object_get(obj, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -EINVAL;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* json as an object with string members "udp" and "http" copied into
 * udp and http; NULL (and -EINVAL in *rc) when it is not one. */
static json_t *load_addrs(const char *json, char *udp, size_t udp_len, char *http,
			  size_t http_len, int *rc)
{
	json_t *j = json_loads(json, 0, NULL);

	if (!json_is_object(j)) {
		json_decref(j);
		*rc = -EINVAL;
		return NULL;
	}
	*rc = copy_str(j, "udp", udp, udp_len, true);
	if (!*rc)
		*rc = copy_str(j, "http", http, http_len, true);
	return j;
}

int shard_owner_parse(const char *json, struct shard_owner *out)
{
	json_t *j;
	int64_t epoch = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	j = load_addrs(json, out->udp, sizeof(out->udp), out->http, sizeof(out->http), &rc);
	if (!j)
		return rc;
	if (!rc)
		rc = copy_str(j, "node", out->node, sizeof(out->node), true);
	if (!rc)
		rc = get_uint(j, "epoch", &epoch);
	out->epoch = (uint64_t)epoch;
	json_decref(j);
	if (!rc && !out->node[0])
		rc = -EINVAL;
	return rc;
}

int shard_node_parse(const char *json, struct shard_node *out)
{
	json_t *j;
	int rc;

	memset(out, 0, sizeof(*out));
	j = load_addrs(json, out->udp, sizeof(out->udp), out->http, sizeof(out->http), &rc);
	if (!j)
		return rc;
	if (!rc)
		rc = get_uint(j, "seenAt", &out->seen_at_ms);
	json_decref(j);
	return rc;
}

bool shard_addr_ipv4(const char *hostport, uint32_t *ip_be, uint16_t *port_be)
{
	const char *colon = strrchr(hostport, ':');
	char host[64], *end;
	struct in_addr a;
	unsigned long port;
	size_t n;

	*ip_be = 0;
	*port_be = 0;
	if (!colon)
		return false;
	n = (size_t)(colon - hostport);
	if (!n || n >= sizeof(host))
		return false;
	memcpy(host, hostport, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return false;
	if (inet_pton(AF_INET, host, &a) != 1)
		return false;
	*ip_be = a.s_addr;
	*port_be = htons((uint16_t)port);
	return true;
}

static int reply_ok(redisReply *r, int type)
{
	int ok = r && r->type == type;

	if (r)
		freeReplyObject(r);
	return ok ? 0 : -EIO;
}

int shard_epoch_take(struct redisContext *c, uint32_t event_id, uint64_t *epoch)
{
	redisReply *r = redisCommand(c, "INCR " SHARD_EPOCH_PREFIX "%u", event_id);
	int rc = -EIO;

	if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
		*epoch = (uint64_t)r->integer;
		rc = 0;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

int shard_map_publish(struct redisContext *c, uint32_t event_id,
		      const struct shard_owner *o)
{
	char json[512], field[16];

	if (shard_owner_json(o, json, sizeof(json)) < 0)
		return -EINVAL;
	snprintf(field, sizeof(field), "%u", event_id);
	return reply_ok(redisCommand(c, "HSET %s %s %s", SHARD_MAP_KEY, field, json),
			REDIS_REPLY_INTEGER);
}

/* Deletes the field only while its JSON names ARGV[2] as the node. */
static const char withdraw_lua[] =
	"local v = redis.call('HGET', KEYS[1], ARGV[1])\n"
	"if v and cjson.decode(v).node == ARGV[2] then\n"
	"  return redis.call('HDEL', KEYS[1], ARGV[1])\n"
	"end\n"
	"return 0\n";

int shard_map_withdraw(struct redisContext *c, uint32_t event_id, const char *node)
{
	char field[16];

	snprintf(field, sizeof(field), "%u", event_id);
	return reply_ok(redisCommand(c, "EVAL %s 1 %s %s %s", withdraw_lua, SHARD_MAP_KEY,
				     field, node),
			REDIS_REPLY_INTEGER);
}

int shard_node_beat(struct redisContext *c, const char *node, const struct shard_node *n)
{
	char json[512];

	if (shard_node_json(n, json, sizeof(json)) < 0)
		return -EINVAL;
	return reply_ok(redisCommand(c, "HSET %s %s %s", SHARD_NODES_KEY, node, json),
			REDIS_REPLY_INTEGER);
}

int shard_map_read(struct redisContext *c,
		   void (*cb)(void *ctx, uint32_t event_id, const struct shard_owner *o),
		   void *ctx)
{
	redisReply *r = redisCommand(c, "HGETALL %s", SHARD_MAP_KEY);
	int n = 0;

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		return -EIO;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		struct shard_owner o;
		char *end;
		unsigned long e;

		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    r->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		errno = 0;
		e = strtoul(r->element[i]->str, &end, 10);
		if (errno || *end || e > UINT32_MAX ||
		    shard_owner_parse(r->element[i + 1]->str, &o))
			continue;
		cb(ctx, (uint32_t)e, &o);
		n++;
	}
	freeReplyObject(r);
	return n;
}
