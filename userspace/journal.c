#include "userspace/journal.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf/seat_word.h"
#include "userspace/log.h"
#include "userspace/seat_stream.h"

#define BATCH 512

static redisContext *connect_redis(const char *host, int port)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	redisContext *c = redisConnectWithTimeout(host, port, tv);

	if (!c)
		return NULL;
	if (c->err) {
		redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, (struct timeval){.tv_sec = 2, .tv_usec = 0});
	return c;
}

static int append_entry(redisContext *c, const struct journal_entry *e)
{
	char key[64], sid[16], ver[32], val[64], pxat[24], st[4];
	uint32_t state = tkt_sw_state(e->word);
	int n = 0;

	snprintf(key, sizeof(key), "tkt:hold:%u:%u", e->event_id, e->seat_id);
	if ((state == TKT_SEAT_HELD || state == TKT_SEAT_ORDERED) &&
	    e->expiry_unix_ms > 0) {
		snprintf(val, sizeof(val), "%u:%u:%" PRId64, tkt_sw_holder(e->word),
			 state, e->expiry_unix_ms);
		snprintf(pxat, sizeof(pxat), "%" PRId64, e->expiry_unix_ms);
		redisAppendCommand(c, "SET %s %s PXAT %s", key, val, pxat);
	} else {
		redisAppendCommand(c, "DEL %s", key);
	}
	n++;
	snprintf(key, sizeof(key), "tkt:seats:%u", e->event_id);
	snprintf(ver, sizeof(ver), "%" PRIu64 "-0", e->version);
	snprintf(sid, sizeof(sid), "%u", e->seat_id);
	snprintf(st, sizeof(st), "%u", e->status);
	redisAppendCommand(c, "XADD %s MAXLEN ~ %d %s seat %s status %s", key,
			   JOURNAL_STREAM_LEN, ver, sid, st);
	return n + 1;
}

/* Sends one pipelined batch; returns 0 when Redis took every command. A
 * stream id at or below the stream's last one (after a version reset) is
 * not a transport failure: it is counted and skipped. */
static int write_batch(struct journal *j, redisContext *c,
		       const struct journal_entry *batch, uint32_t n)
{
	int cmds = 0, rc = 0;

	for (uint32_t i = 0; i < n; i++)
		cmds += append_entry(c, &batch[i]);
	for (int i = 0; i < cmds; i++) {
		redisReply *r = NULL;

		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			if (r)
				freeReplyObject(r);
			return -EIO;
		}
		if (r->type == REDIS_REPLY_ERROR)
			rc = 1;
		freeReplyObject(r);
	}
	if (rc)
		atomic_fetch_add(&j->failed_batches, 1);
	atomic_fetch_add(&j->written, n);
	return 0;
}

static void *journal_loop(void *arg)
{
	struct journal *j = arg;
	struct journal_entry *batch = calloc(BATCH, sizeof(*batch));
	redisContext *c = NULL;
	unsigned backoff_ms = 50;

	if (!batch)
		return NULL;
	for (;;) {
		uint32_t n = 0;

		pthread_mutex_lock(&j->lock);
		while (!j->len && !j->stop)
			pthread_cond_wait(&j->cond, &j->lock);
		if (!j->len && j->stop) {
			pthread_mutex_unlock(&j->lock);
			break;
		}
		/* Peek: entries leave the queue only once Redis has them. */
		while (n < BATCH && n < j->len) {
			batch[n] = j->q[(j->head + n) % JOURNAL_QUEUE];
			n++;
		}
		pthread_mutex_unlock(&j->lock);

		if (!c)
			c = connect_redis(j->host, j->port);
		if (c && write_batch(j, c, batch, n) == 0) {
			atomic_store(&j->connected, true);
			backoff_ms = 50;
			pthread_mutex_lock(&j->lock);
			j->head = (j->head + n) % JOURNAL_QUEUE;
			j->len -= n;
			pthread_mutex_unlock(&j->lock);
			continue;
		}
		if (c) {
			redisFree(c);
			c = NULL;
		}
		if (atomic_exchange(&j->connected, false))
			log_msg(LOG_WARN, NULL, "journal: Redis %s:%d unreachable; retrying",
				j->host, j->port);
		pthread_mutex_lock(&j->lock);
		if (j->stop) { /* do not hang shutdown on a dead Redis */
			atomic_fetch_add(&j->dropped, j->len);
			j->len = 0;
			pthread_mutex_unlock(&j->lock);
			break;
		}
		pthread_mutex_unlock(&j->lock);
		struct timespec ts = {.tv_sec = backoff_ms / 1000,
				      .tv_nsec = (long)(backoff_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (backoff_ms < 2000)
			backoff_ms *= 2;
	}
	if (c)
		redisFree(c);
	free(batch);
	return NULL;
}

int journal_start(struct journal *j, const char *host, int port)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->host, sizeof(j->host), "%s", host);
	j->port = port;
	j->q = calloc(JOURNAL_QUEUE, sizeof(*j->q));
	if (!j->q)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	if (pthread_create(&j->thread, NULL, journal_loop, j)) {
		free(j->q);
		j->q = NULL;
		return -EAGAIN;
	}
	return 0;
}

void journal_stop(struct journal *j)
{
	if (!j->q)
		return;
	pthread_mutex_lock(&j->lock);
	j->stop = true;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	free(j->q);
	j->q = NULL;
}

void journal_push(struct journal *j, const struct journal_entry *e)
{
	pthread_mutex_lock(&j->lock);
	if (j->len == JOURNAL_QUEUE) {
		/* Drop the oldest: the newest state of a seat matters most. */
		j->head = (j->head + 1) % JOURNAL_QUEUE;
		j->len--;
		atomic_fetch_add(&j->dropped, 1);
	}
	j->q[(j->head + j->len) % JOURNAL_QUEUE] = *e;
	j->len++;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

uint64_t journal_last_version(const char *host, int port, uint32_t event_id)
{
	redisContext *c = connect_redis(host, port);
	redisReply *r;
	uint64_t v = 0;

	if (!c)
		return 0;
	r = redisCommand(c, "XREVRANGE tkt:seats:%u + - COUNT 1", event_id);
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements >= 1 &&
	    r->element[0]->element[0]->type == REDIS_REPLY_STRING)
		v = strtoull(r->element[0]->element[0]->str, NULL, 10);
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return v;
}

static int parse_hold(const char *key, const char *val, struct journal_hold *h)
{
	unsigned slot, state;
	long long expiry;

	if (sscanf(key, "tkt:hold:%u:%u", &h->event_id, &h->seat_id) != 2 ||
	    sscanf(val, "%u:%u:%lld", &slot, &state, &expiry) != 3)
		return -1;
	if (slot == 0 || slot > TKT_SLOT_MAX ||
	    (state != TKT_SEAT_HELD && state != TKT_SEAT_ORDERED))
		return -1;
	h->slot = slot;
	h->state = (uint8_t)state;
	h->expiry_unix_ms = expiry;
	return 0;
}

int journal_scan_holds(const char *host, int port,
		       int (*cb)(void *ctx, const struct journal_hold *h),
		       void *ctx)
{
	redisContext *c = connect_redis(host, port);
	char cursor[32] = "0";
	int n = 0, rc = 0;

	if (!c)
		return -ECONNREFUSED;
	do {
		redisReply *r = redisCommand(c, "SCAN %s MATCH tkt:hold:* COUNT 1000",
					     cursor);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			if (r)
				freeReplyObject(r);
			rc = -EIO;
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements && !rc; i++) {
			const char *key = r->element[1]->element[i]->str;
			redisReply *v = redisCommand(c, "GET %s", key);
			struct journal_hold h;

			if (v && v->type == REDIS_REPLY_STRING &&
			    !parse_hold(key, v->str, &h)) {
				rc = cb(ctx, &h);
				n++;
			}
			if (v)
				freeReplyObject(v);
		}
		freeReplyObject(r);
	} while (!rc && strcmp(cursor, "0"));
	redisFree(c);
	return rc < 0 ? rc : n;
}

int journal_read_since(const char *host, int port, uint32_t event_id,
		       uint64_t after, struct seat_event *out, int max)
{
	redisContext *c = connect_redis(host, port);
	redisReply *r;
	int n = 0;

	if (!c)
		return -ECONNREFUSED;
	r = redisCommand(c, "XRANGE tkt:seats:%u (%" PRIu64 "-0 + COUNT %d",
			 event_id, after, max);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		if (r)
			freeReplyObject(r);
		redisFree(c);
		return -EIO;
	}
	for (size_t i = 0; i < r->elements && n < max; i++) {
		redisReply *e = r->element[i];
		struct seat_event ev = {0};

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		ev.version = strtoull(e->element[0]->str, NULL, 10);
		for (size_t f = 0; f + 1 < e->element[1]->elements; f += 2) {
			const char *k = e->element[1]->element[f]->str;
			const char *v = e->element[1]->element[f + 1]->str;

			if (!strcmp(k, "seat"))
				ev.seat_id = (uint32_t)strtoul(v, NULL, 10);
			else if (!strcmp(k, "status"))
				ev.status = (uint8_t)atoi(v);
		}
		out[n++] = ev;
	}
	freeReplyObject(r);
	redisFree(c);
	return n;
}
