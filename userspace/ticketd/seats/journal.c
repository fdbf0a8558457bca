#include "userspace/ticketd/seats/journal.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpf/seat_word.h"
#include "bpf/ticket_maps.h"
#include "userspace/lib/clock.h"
#include "userspace/lib/log.h"
#include "userspace/ticketd/commerce/catalog.h"
#include "userspace/ticketd/seats/seat_stream.h"
#include "userspace/ticketd/seats/seat_view.h"

#define BATCH 4096 /* entries per pipeline (one round trip) */

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

/* One batch becomes, per event, ONE stream entry holding all its changes
 * ("c" = "version:seat:status" joined by ';', the version left out where
 * it is the previous change's next: "version:seat:status;seat:status;...";
 * id = the last version), and,
 * per seat, only the last state of its hold key (SET with PXAT, or one
 * multi-key DEL). A hold and its release in the same batch cost one DEL,
 * or nothing when the writer knows the key is absent (below): Redis work
 * grows with batches and seats, not with every change.
 *
 * The whole batch is one pipeline: its commands are formatted in RESP by
 * hand into one reused buffer (no printf, no allocation per change), sent
 * with one write and answered with one read loop (one round trip). */

/* The writer's buffers, allocated once, on the heap (journal_loop's
 * thread only). */
struct writer {
	struct journal_entry *batch;
	char *out;       /* the pipeline being built, RESP */
	size_t len, cap;
	int cmds;        /* commands in out */
	char *text;      /* an XADD's "c" value */
	/* The batch's seats already given their last state: a bit per seat
	 * table word (TKT_MAX_SEATS), cleared again after each batch; an
	 * event's seats are one range of the table, so a batch touches few
	 * of its cache lines (a hash set's random slots missed the cache on
	 * nearly every change). */
	uint64_t *seen_bits;
	/* The same for a seat index past the table (none in practice): an
	 * open addressing set keyed by (event, seat), valid where gen
	 * matches. */
	struct seen {
		uint64_t key;
		uint32_t gen;
	} *seen;
	uint32_t gen;
	/* Seat table indexes of the pipeline's DELs: their keys are known
	 * absent once Redis has taken it. */
	uint32_t *del_idx;
	uint32_t n_del_idx;
	const char *del_key[BATCH];
	size_t del_len[BATCH];
	char keys[BATCH][40];
	/* per command of out: the event a fenced hold-key write is for,
	 * UINT32_MAX for the others */
	uint32_t cmd_event[2 * BATCH + 2];
	/* the fencing script's SHA1 on this connection ("" until loaded) */
	char sha[41];
};

#define SEEN_SLOTS (BATCH * 4)
#define OUT_PER_ENTRY 192 /* RESP bytes of one entry's SET or DEL key, at most */
#define TEXT_PER_ENTRY 40 /* "version:seat:status;" at most */

static int writer_init(struct writer *w)
{
	memset(w, 0, sizeof(*w));
	w->cap = (size_t)BATCH * (OUT_PER_ENTRY + TEXT_PER_ENTRY) + 4096;
	w->batch = calloc(BATCH, sizeof(*w->batch));
	w->out = malloc(w->cap);
	w->text = malloc((size_t)BATCH * TEXT_PER_ENTRY);
	w->seen = calloc(SEEN_SLOTS, sizeof(*w->seen));
	w->seen_bits = calloc(TKT_MAX_SEATS / 64, sizeof(*w->seen_bits));
	w->del_idx = calloc(BATCH, sizeof(*w->del_idx));
	if (!w->batch || !w->out || !w->text || !w->seen || !w->seen_bits || !w->del_idx)
		return -ENOMEM;
	return 0;
}

static void writer_free(struct writer *w)
{
	free(w->batch);
	free(w->out);
	free(w->text);
	free(w->seen);
	free(w->seen_bits);
	free(w->del_idx);
}

static void pipe_reset(struct writer *w)
{
	w->len = 0;
	w->cmds = 0;
	w->n_del_idx = 0;
}

/* Decimal digits of v, written to end backwards; returns the first. */
static char *dec(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

static void put(struct writer *w, const void *p, size_t n)
{
	memcpy(w->out + w->len, p, n);
	w->len += n;
}

static void put_u64(struct writer *w, uint64_t v)
{
	char tmp[20], *b = dec(tmp + sizeof(tmp), v);

	put(w, b, (size_t)(tmp + sizeof(tmp) - b));
}

/* "*n\r\n" or "$n\r\n" */
static void put_head(struct writer *w, char kind, uint64_t n)
{
	w->out[w->len++] = kind;
	put_u64(w, n);
	put(w, "\r\n", 2);
}

static void put_bulk(struct writer *w, const char *p, size_t n)
{
	put_head(w, '$', n);
	put(w, p, n);
	put(w, "\r\n", 2);
}

static void put_bulk_u64(struct writer *w, uint64_t v)
{
	char tmp[20], *b = dec(tmp + sizeof(tmp), v);

	put_bulk(w, b, (size_t)(tmp + sizeof(tmp) - b));
}

/* Makes sure n more bytes fit in out (grows it; never in practice, the
 * initial size covers a full batch). */
static int pipe_room(struct writer *w, size_t n)
{
	char *nb;
	size_t cap;

	if (w->len + n <= w->cap)
		return 0;
	cap = (w->len + n) * 2;
	nb = realloc(w->out, cap);
	if (!nb)
		return -ENOMEM;
	w->out = nb;
	w->cap = cap;
	return 0;
}

/* "tkt:hold:E:S" into buf (at most 9 + 10 + 1 + 10 bytes); returns its
 * length. */
static size_t hold_key(char buf[40], uint32_t event_id, uint32_t seat_id)
{
	char tmp[24], *p = tmp + sizeof(tmp), *b;
	size_t n;

	b = dec(p, seat_id);
	*--b = ':';
	b = dec(b, event_id);
	n = (size_t)(p - b);
	memcpy(buf, "tkt:hold:", 9);
	memcpy(buf + 9, b, n);
	return 9 + n;
}

/* True the first time (event, seat) is seen since the set was emptied
 * (w->gen advanced). */
static bool seen_first(struct writer *w, uint32_t event_id, uint32_t seat_id)
{
	uint64_t key = (uint64_t)event_id << 32 | seat_id;
	uint32_t i = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 40) & (SEEN_SLOTS - 1);

	while (w->seen[i].gen == w->gen) {
		if (w->seen[i].key == key)
			return false;
		i = (i + 1) & (SEEN_SLOTS - 1);
	}
	w->seen[i].gen = w->gen;
	w->seen[i].key = key;
	return true;
}

/* True the first time x's seat is seen in this batch (append_holds
 * clears the bits when it is done). */
static bool seen_first_entry(struct writer *w, const struct journal_entry *x)
{
	uint64_t bit = 1ull << (x->seat_index % 64), *word;

	if (x->seat_index >= TKT_MAX_SEATS)
		return seen_first(w, x->event_id, x->seat_id);
	word = &w->seen_bits[x->seat_index / 64];
	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}

static bool bit_get(const uint64_t *set, uint32_t words, uint32_t idx)
{
	return idx / 64 < words && (set[idx / 64] >> (idx % 64) & 1);
}

/* Multi-node (issue #16): one hold key's write as a script that checks
 * the event's fencing epoch first, atomically: a node that lost the event
 * without knowing it yet cannot write into the new owner's journal. */
static const char fence_lua[] =
	"if redis.call('GET',KEYS[1])~=ARGV[1] then return redis.error_reply('FENCED') end "
	"if ARGV[2]=='S' then return redis.call('SET',KEYS[2],ARGV[3],'PXAT',ARGV[4]) end "
	"return redis.call('DEL',KEYS[2])";

/* SCRIPT LOAD of fence_lua on c: its SHA1 into sha. 0 or -EIO. */
static int load_fence_script(redisContext *c, char sha[41])
{
	redisReply *r = redisCommand(c, "SCRIPT LOAD %s", fence_lua);
	int rc = -EIO;

	if (r && r->type == REDIS_REPLY_STRING && r->len == 40) {
		memcpy(sha, r->str, 41);
		rc = 0;
	}
	if (r)
		freeReplyObject(r);
	return rc;
}

static void append_fenced(struct journal *j, struct writer *w,
			  const struct journal_entry *x, bool known)
{
	uint64_t epoch = j->epoch_of(j->fence_ctx, x->event_id);
	char key[40], ekey[48], val[64], *p = val + sizeof(val), *v = p;
	size_t klen, elen;
	bool set = tkt_sw_claimed(x->word) && x->expiry_unix_ms > 0;

	if (!epoch) { /* not served here (any more): not ours to write */
		atomic_fetch_add(&j->unowned, 1);
		return;
	}
	if (!set && known && !bit_get(j->maybe_key, j->dirty_words, x->seat_index)) {
		atomic_fetch_add(&j->dels_skipped, 1);
		return;
	}
	klen = hold_key(key, x->event_id, x->seat_id);
	elen = (size_t)snprintf(ekey, sizeof(ekey), "tkt:shard:epoch:%u", x->event_id);
	if (set) {
		v = dec(p, (uint64_t)x->expiry_unix_ms);
		*--v = ':';
		v = dec(v, tkt_sw_state(x->word));
		*--v = ':';
		v = dec(v, tkt_sw_holder(x->word));
	}
	put(w, "*9\r\n$7\r\nEVALSHA\r\n", 17);
	put_bulk(w, w->sha, 40);
	put(w, "$1\r\n2\r\n", 7);
	put_bulk(w, ekey, elen);
	put_bulk(w, key, klen);
	put_bulk_u64(w, epoch);
	put_bulk(w, set ? "S" : "D", 1);
	put_bulk(w, v, (size_t)(p - v));
	put_bulk_u64(w, set ? (uint64_t)x->expiry_unix_ms : 0);
	w->cmd_event[w->cmds++] = x->event_id;
	if (known) {
		if (set)
			j->maybe_key[x->seat_index / 64] |= 1ull << (x->seat_index % 64);
		else
			w->del_idx[w->n_del_idx++] = x->seat_index;
	}
}

/* Hold keys of b[0..n) (in publication order per seat): the last change
 * of each seat wins (walk backwards, skip seats already done). A seat
 * whose last state has no key gets a DEL, unless the writer knows its key
 * is absent already (j->maybe_key). Returns 0 or -ENOMEM. */
static int append_holds(struct journal *j, struct writer *w,
			const struct journal_entry *b, uint32_t n)
{
	int n_del = 0;

	if (++w->gen == 0) { /* wrapped: forget every stamp */
		memset(w->seen, 0, SEEN_SLOTS * sizeof(*w->seen));
		w->gen = 1;
	}
	if (pipe_room(w, (size_t)n * (OUT_PER_ENTRY + (j->epoch_of ? 160 : 0)) + 64))
		return -ENOMEM;
	for (uint32_t i = n; i-- > 0;) {
		const struct journal_entry *x = &b[i];
		bool known = j->maybe_key && x->seat_index / 64 < j->dirty_words;
		char *key;
		size_t klen;

		if (!seen_first_entry(w, x))
			continue;
		if (j->epoch_of) {
			append_fenced(j, w, x, known);
			continue;
		}
		if (tkt_sw_claimed(x->word) && x->expiry_unix_ms > 0) {
			char val[64], *p = val + sizeof(val), *v;

			/* "slot:state:expiry" */
			v = dec(p, (uint64_t)x->expiry_unix_ms);
			*--v = ':';
			v = dec(v, tkt_sw_state(x->word));
			*--v = ':';
			v = dec(v, tkt_sw_holder(x->word));
			klen = hold_key(w->keys[n_del], x->event_id, x->seat_id);
			put(w, "*5\r\n$3\r\nSET\r\n", 13);
			put_bulk(w, w->keys[n_del], klen);
			put_bulk(w, v, (size_t)(p - v));
			put(w, "$4\r\nPXAT\r\n", 10);
			put_bulk_u64(w, (uint64_t)x->expiry_unix_ms);
			w->cmd_event[w->cmds++] = UINT32_MAX;
			/* from now on the key may exist, whatever the reply */
			if (known)
				j->maybe_key[x->seat_index / 64] |= 1ull << (x->seat_index % 64);
			continue;
		}
		if (known && !bit_get(j->maybe_key, j->dirty_words, x->seat_index)) {
			atomic_fetch_add(&j->dels_skipped, 1);
			continue; /* deleted already and not written since */
		}
		key = w->keys[n_del];
		w->del_key[n_del] = key;
		w->del_len[n_del] = hold_key(key, x->event_id, x->seat_id);
		n_del++;
		if (known)
			w->del_idx[w->n_del_idx++] = x->seat_index;
	}
	for (uint32_t i = 0; i < n; i++)
		if (b[i].seat_index < TKT_MAX_SEATS)
			w->seen_bits[b[i].seat_index / 64] = 0;
	if (n_del) {
		put_head(w, '*', (uint64_t)n_del + 1);
		put(w, "$3\r\nDEL\r\n", 9);
		for (int k = 0; k < n_del; k++)
			put_bulk(w, w->del_key[k], w->del_len[k]);
		w->cmd_event[w->cmds++] = UINT32_MAX;
	}
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct journal_entry *x = a, *y = b;

	if (x->event_id != y->event_id)
		return x->event_id < y->event_id ? -1 : 1;
	return x->version < y->version ? -1 : x->version > y->version;
}

/* Appends the pipelined commands of w->batch[0..n) (sorted here by event,
 * version; queued in publication order, so usually sorted already).
 * 0 or -ENOMEM. */
static int append_batch(struct journal *j, struct writer *w, uint32_t n)
{
	struct journal_entry *b = w->batch;
	bool sorted = true;

	for (uint32_t i = 1; i < n && sorted; i++)
		sorted = cmp_entry(&b[i - 1], &b[i]) < 0;
	if (!sorted)
		qsort(b, n, sizeof(*b), cmp_entry);
	for (uint32_t i = 0; i < n;) {
		uint32_t e = b[i].event_id, k = i;
		char *t = w->text;

		for (; k < n && b[k].event_id == e; k++) {
			char tmp[64], *end = tmp + sizeof(tmp), *p;

			p = dec(end, b[k].status);
			*--p = ':';
			p = dec(p, b[k].seat_id);
			/* the version only where it is not the previous one's
			 * next (always the first: versions are 10+ digits) */
			if (k == i || b[k].version != b[k - 1].version + 1) {
				*--p = ':';
				p = dec(p, b[k].version);
			}
			if (k > i)
				*t++ = ';';
			memcpy(t, p, (size_t)(end - p));
			t += end - p;
		}
		if (pipe_room(w, (size_t)(t - w->text) + 256))
			return -ENOMEM;
		/* XADD tkt:seats:E MAXLEN ~ N <last version>-0 c <text> */
		{
			char key[32], id[32], *p;
			size_t klen;

			p = dec(key + sizeof(key), e);
			klen = (size_t)(key + sizeof(key) - p);
			memmove(key + 10, p, klen);
			memcpy(key, "tkt:seats:", 10);
			p = dec(id + sizeof(id) - 2, b[k - 1].version);
			memcpy(id + sizeof(id) - 2, "-0", 2);
			put(w, "*8\r\n$4\r\nXADD\r\n", 14);
			put_bulk(w, key, 10 + klen);
			put(w, "$6\r\nMAXLEN\r\n$1\r\n~\r\n", 19);
			put_bulk_u64(w, JOURNAL_STREAM_LEN);
			put_bulk(w, p, (size_t)(id + sizeof(id) - p));
			put(w, "$1\r\nc\r\n", 7);
			put_bulk(w, w->text, (size_t)(t - w->text));
			w->cmd_event[w->cmds++] = UINT32_MAX;
		}
		i = k;
	}
	return append_holds(j, w, b, n);
}

/* Reads cmds pipelined replies. -EIO: the connection failed (drop it);
 * 1: at least one error reply; 0: Redis took every command. An XADD id at
 * or below the stream's top is a batch already written by an attempt whose
 * replies were lost (versions are never reused, seat_stream.h): success. */
static int read_replies(struct journal *j, redisContext *c, struct writer *w)
{
	int rc = 0, cmds = w->cmds;

	for (int i = 0; i < cmds; i++) {
		redisReply *r = NULL;

		if (redisGetReply(c, (void **)&r) != REDIS_OK) {
			if (r)
				freeReplyObject(r);
			return -EIO;
		}
		if (r->type == REDIS_REPLY_ERROR && strstr(r->str, "FENCED") &&
		    w->cmd_event[i] != UINT32_MAX) {
			/* another node took the event: its write is dropped,
			 * never retried, and the event is given up here */
			atomic_fetch_add(&j->fenced, 1);
			if (j->on_fenced)
				j->on_fenced(j->fence_ctx, w->cmd_event[i]);
		} else if (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "equal or smaller")) {
			if (strstr(r->str, "NOSCRIPT"))
				w->sha[0] = '\0'; /* script cache flushed: load it again */
			if (!rc)
				log_msg(LOG_WARN, NULL, "journal: Redis answered %.120s", r->str);
			rc = 1;
		}
		freeReplyObject(r);
	}
	(void)j;
	return rc;
}

/* Sends the pipeline built in w in one write and reads every reply (one
 * round trip); 0, or the failure as read_replies gives it (-ENOMEM counts
 * as a failed attempt, retried). On success the DELs' keys are known
 * absent. Empties w either way. */
static int pipe_send(struct journal *j, redisContext *c, struct writer *w, int built)
{
	int rc = built;

	if (!rc && w->cmds) {
		atomic_fetch_add(&j->round_trips, 1);
		if (redisAppendFormattedCommand(c, w->out, w->len) != REDIS_OK)
			rc = -EIO;
		else
			rc = read_replies(j, c, w);
	}
	if (rc == -ENOMEM)
		rc = 1;
	if (!rc)
		for (uint32_t i = 0; i < w->n_del_idx; i++)
			j->maybe_key[w->del_idx[i] / 64] &= ~(1ull << (w->del_idx[i] % 64));
	pipe_reset(w);
	return rc;
}

/* ---- the dirty set (under j->lock) ---- */

static void mark_dirty_locked(struct journal *j, uint32_t idx)
{
	uint64_t bit = 1ull << (idx % 64);

	if (!j->dirty || idx / 64 >= j->dirty_words) {
		atomic_fetch_add(&j->lost, 1);
		return;
	}
	if (!(j->dirty[idx / 64] & bit)) {
		j->dirty[idx / 64] |= bit;
		j->n_dirty++;
	}
}

/* ORs a taken set back (its repair failed). */
static void restore_dirty_locked(struct journal *j, const uint64_t *set)
{
	for (uint32_t w = 0; w < j->dirty_words; w++) {
		uint64_t add = set[w] & ~j->dirty[w];

		j->dirty[w] |= add;
		j->n_dirty += (uint32_t)__builtin_popcountll(add);
	}
}

/* A seat's hold key as the seat table has it now. */
static void entry_from_table(const struct journal *j, const struct event_info *e,
			     uint32_t seat, struct journal_entry *out)
{
	uint32_t now_ms;
	uint64_t now_unix_ms = ticketd_unix_ms_at(&now_ms);
	uint64_t w = tkt_load64(&j->seats[e->seat_base + seat]);

	memset(out, 0, sizeof(*out));
	out->event_id = e->id;
	out->seat_id = seat;
	out->seat_index = e->seat_base + seat;
	out->word = w;
	out->expiry_unix_ms = (int64_t)tkt_sw_expiry_unix_ms(w, now_ms, now_unix_ms);
}

/* Rewrites the hold key of every seat in set from the seat table. 0, or
 * the failure as read_replies gives it. */
static int write_repairs(struct journal *j, redisContext *c, const uint64_t *set,
			 struct writer *w)
{
	const struct catalog *cat = j->catalog;
	struct journal_entry *buf = w->batch;
	uint32_t n = 0, done = 0;
	int rc = 0;

	const struct event_info *e;

	for (uint32_t cur = 0; !rc && (e = catalog_next(cat, &cur));) {
		for (uint32_t s = 0; s < e->n_seats && !rc; s++) {
			uint32_t idx = e->seat_base + s;

			if (!(set[idx / 64] >> (idx % 64) & 1))
				continue;
			entry_from_table(j, e, s, &buf[n++]);
			if (n == BATCH) {
				rc = pipe_send(j, c, w, append_holds(j, w, buf, n));
				done += rc ? 0 : n;
				n = 0;
			}
		}
	}
	if (!rc && n) {
		rc = pipe_send(j, c, w, append_holds(j, w, buf, n));
		done += rc ? 0 : n;
	}
	atomic_fetch_add(&j->repaired, done);
	return rc;
}

static int64_t mono_ms(void)
{
	return (int64_t)(tkt_mono_ns() / 1000000ull);
}

/* Sleeps ms, but not past a stop's deadline. */
static void backoff_sleep(struct journal *j, unsigned ms)
{
	int64_t until = mono_ms() + ms;

	pthread_mutex_lock(&j->lock);
	if (j->stop && j->stop_deadline_ms < until)
		until = j->stop_deadline_ms;
	pthread_mutex_unlock(&j->lock);
	ms = until > mono_ms() ? (unsigned)(until - mono_ms()) : 0;
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Waits on j->cond (j->lock held) for at most ms. */
static void cond_wait_ms(struct journal *j, unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&j->cond, &j->lock, &ts);
}

static void *journal_loop(void *arg)
{
	struct journal *j = arg;
	struct writer *w = malloc(sizeof(*w));
	struct journal_entry *batch;
	uint64_t *taken = j->dirty_words ? calloc(j->dirty_words, sizeof(*taken)) : NULL;
	redisContext *c = NULL;
	unsigned backoff_ms = 50;
	uint32_t attempts = 0; /* failed attempts at the current head */
	int64_t last_send_ms = 0; /* monotonic; 0: nothing sent yet */

	if (!w || writer_init(w) || (j->dirty_words && !taken)) {
		log_msg(LOG_ERROR, NULL, "journal: no memory for the writer; not journalling");
		if (w)
			writer_free(w);
		free(w);
		free(taken);
		return NULL;
	}
	batch = w->batch;
	for (;;) {
		uint32_t n = 0;
		bool repair = false;
		int rc = 0;

		pthread_mutex_lock(&j->lock);
		while (!j->len && !j->n_dirty && !j->stop) {
			j->idle = true;
			pthread_cond_wait(&j->cond, &j->lock);
		}
		j->idle = false;
		/* Linger: at most one pipeline per linger_ms unless a full
		 * batch is waiting, so a busy stream's changes go out in few
		 * large batches (fewer round trips, more holds and releases
		 * meeting in one batch) rather than one per poll. */
		while (!j->stop && j->len < BATCH && last_send_ms &&
		       mono_ms() < last_send_ms + j->linger_ms)
			cond_wait_ms(j, (unsigned)(last_send_ms + j->linger_ms - mono_ms()));
		if (j->stop && ((!j->len && !j->n_dirty) || mono_ms() >= j->stop_deadline_ms)) {
			if (j->len || j->n_dirty)
				log_msg(LOG_WARN, NULL,
					"journal: stopping with %u changes and %u seats unwritten; "
					"the next start rewrites holds from the seat table",
					j->len, j->n_dirty);
			atomic_fetch_add(&j->lost, (uint64_t)j->len + j->n_dirty);
			j->len = 0;
			pthread_mutex_unlock(&j->lock);
			break;
		}
		/* Peek: entries leave the queue only once Redis has them (at
		 * most two spans of the ring). */
		n = j->len < BATCH ? j->len : BATCH;
		if (n) {
			uint32_t first = j->cap - j->head < n ? j->cap - j->head : n;

			memcpy(batch, &j->q[j->head], first * sizeof(*batch));
			memcpy(batch + first, j->q, (n - first) * sizeof(*batch));
		}
		/* Repairs go out after every entry queued before them, so an
		 * older queued state never overwrites the repaired one. */
		if (j->n_dirty && j->len <= BATCH) {
			memcpy(taken, j->dirty, j->dirty_words * sizeof(*taken));
			memset(j->dirty, 0, j->dirty_words * sizeof(*j->dirty));
			j->n_dirty = 0;
			repair = true;
		}
		pthread_mutex_unlock(&j->lock);

		last_send_ms = mono_ms();
		if (!c)
			c = connect_redis(j->host, j->port);
		if (c && j->epoch_of && !w->sha[0] && load_fence_script(c, w->sha)) {
			redisFree(c);
			c = NULL;
		}
		if (!c)
			rc = -EIO;
		else if (n)
			rc = pipe_send(j, c, w, append_batch(j, w, n));
		if (!rc && repair)
			rc = write_repairs(j, c, taken, w);
		if (!rc) {
			atomic_store(&j->connected, true);
			if (attempts)
				log_msg(LOG_INFO, NULL, "journal: writing again after %u failed attempts",
					attempts);
			atomic_fetch_add(&j->written, n);
			backoff_ms = 50;
			attempts = 0;
			pthread_mutex_lock(&j->lock);
			j->head = (j->head + n) % j->cap;
			j->len -= n;
			pthread_mutex_unlock(&j->lock);
			continue;
		}
		/* A failure: everything stays (or goes back) for the retry. */
		atomic_fetch_add(&j->errors, 1);
		attempts++;
		pthread_mutex_lock(&j->lock);
		if (repair)
			restore_dirty_locked(j, taken);
		if (rc > 0 && attempts >= j->batch_attempts && j->dirty) {
			/* Redis keeps refusing these: their seats are rewritten
			 * from the table later; the stream entries are lost (a
			 * gap SSE answers with a snapshot). */
			for (uint32_t i = 0; i < n; i++)
				mark_dirty_locked(j, j->q[(j->head + i) % j->cap].seat_index);
			j->head = (j->head + n) % j->cap;
			j->len -= n;
			atomic_fetch_add(&j->deferred, n);
			log_msg(LOG_WARN, NULL,
				"journal: %u changes refused %u times; their seats will be "
				"rewritten from the seat table", n, attempts);
			attempts = 0;
		}
		pthread_mutex_unlock(&j->lock);
		if (rc < 0) {
			if (c) {
				redisFree(c);
				c = NULL;
			}
			w->sha[0] = '\0';
			if (atomic_exchange(&j->connected, false))
				log_msg(LOG_WARN, NULL, "journal: Redis %s:%d unreachable; retrying",
					j->host, j->port);
		}
		atomic_fetch_add(&j->retries, 1);
		backoff_sleep(j, backoff_ms);
		backoff_ms = backoff_ms * 2 > j->backoff_max_ms ? j->backoff_max_ms : backoff_ms * 2;
	}
	if (c)
		redisFree(c);
	writer_free(w);
	free(w);
	free(taken);
	return NULL;
}

int journal_start(struct journal *j, const struct journal_opts *o)
{
	memset(j, 0, sizeof(*j));
	snprintf(j->host, sizeof(j->host), "%s", o->host);
	j->port = o->port;
	j->catalog = o->catalog;
	j->seats = o->seats;
	j->cap = o->queue_cap ? o->queue_cap : JOURNAL_QUEUE;
	j->drain_ms = o->drain_ms;
	j->linger_ms = o->linger_ms ? o->linger_ms : JOURNAL_LINGER_MS;
	j->epoch_of = o->epoch_of;
	j->on_fenced = o->on_fenced;
	j->fence_ctx = o->fence_ctx;
	j->batch_attempts = o->batch_attempts ? o->batch_attempts : 8;
	j->backoff_max_ms = o->backoff_max_ms ? o->backoff_max_ms : 2000;
	if (j->backoff_max_ms < 50)
		j->backoff_max_ms = 50;
	j->q = calloc(j->cap, sizeof(*j->q));
	if (!j->q)
		return -ENOMEM;
	if (o->catalog && o->seats) {
		/* the whole table: events published later take fresh ranges */
		j->dirty_words = (TKT_MAX_SEATS + 63) / 64;
		j->dirty = calloc(j->dirty_words ? j->dirty_words : 1, sizeof(*j->dirty));
		/* every key may exist until this run has deleted it */
		j->maybe_key = malloc((j->dirty_words ? j->dirty_words : 1) * sizeof(*j->maybe_key));
		if (!j->dirty || !j->maybe_key) {
			free(j->q);
			free(j->dirty);
			free(j->maybe_key);
			j->q = NULL;
			j->dirty = NULL;
			j->maybe_key = NULL;
			return -ENOMEM;
		}
		memset(j->maybe_key, 0xff, (j->dirty_words ? j->dirty_words : 1) * sizeof(*j->maybe_key));
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	if (pthread_create(&j->thread, NULL, journal_loop, j)) {
		free(j->q);
		free(j->dirty);
		free(j->maybe_key);
		j->q = NULL;
		j->dirty = NULL;
		j->maybe_key = NULL;
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
	j->stop_deadline_ms = mono_ms() + j->drain_ms;
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
	free(j->q);
	free(j->dirty);
	free(j->maybe_key);
	j->q = NULL;
	j->dirty = NULL;
	j->maybe_key = NULL;
}

/* Queues n entries under one hold of the lock (q: the queue's slots). */
static void push_locked(struct journal *j, const struct journal_entry *e, uint32_t n,
			uint32_t now_ms)
{
	uint32_t before = j->len;
	uint32_t tail = j->cap - j->head > j->len ? j->head + j->len
						   : j->len - (j->cap - j->head);

	for (uint32_t i = 0; i < n; i++) {
		struct journal_entry *slot;

		if (j->len == j->cap) {
			/* Full (Redis away for long): the seat is rewritten
			 * from the seat table once the queue has drained. Only
			 * the writer moves head, so the batch it is writing
			 * stays valid. */
			atomic_fetch_add(&j->dropped, 1);
			mark_dirty_locked(j, e[i].seat_index);
			continue;
		}
		slot = &j->q[tail];
		*slot = e[i];
		slot->queued_ms = now_ms;
		j->len++;
		if (++tail == j->cap)
			tail = 0;
	}
	/* The writer sleeps on an empty queue, or lingers on a short one
	 * until its time is up: wake it when it sleeps and there is work, or
	 * when a full batch is there, not on every push (a wake-up is two
	 * context switches). */
	if ((j->idle && (j->len || j->n_dirty)) || (before < BATCH && j->len >= BATCH))
		pthread_cond_signal(&j->cond);
}

void journal_push(struct journal *j, const struct journal_entry *e)
{
	journal_push_batch(j, e, 1);
}

void journal_push_batch(struct journal *j, const struct journal_entry *e, uint32_t n)
{
	uint32_t now_ms = (uint32_t)mono_ms();

	pthread_mutex_lock(&j->lock);
	push_locked(j, e, n, now_ms);
	pthread_mutex_unlock(&j->lock);
}

void journal_repair_all(struct journal *j)
{
	const struct catalog *cat = j->catalog;

	if (!j->q || !j->dirty)
		return;
	pthread_mutex_lock(&j->lock);
	const struct event_info *e;

	for (uint32_t cur = 0; (e = catalog_next(cat, &cur));)
		for (uint32_t s = 0; s < e->n_seats; s++)
			mark_dirty_locked(j, e->seat_base + s);
	pthread_cond_signal(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

void journal_backlog(struct journal *j, struct journal_backlog *out)
{
	memset(out, 0, sizeof(*out));
	if (!j->q)
		return;
	pthread_mutex_lock(&j->lock);
	out->queued = j->len;
	out->dirty_seats = j->n_dirty;
	if (j->len)
		out->lag_ms = (uint32_t)mono_ms() - j->q[j->head].queued_ms;
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

static int scan_holds(const char *host, int port, const char *match,
		      int (*cb)(void *ctx, const struct journal_hold *h), void *ctx)
{
	redisContext *c = connect_redis(host, port);
	char cursor[32] = "0";
	int n = 0, rc = 0;

	if (!c)
		return -ECONNREFUSED;
	do {
		redisReply *r = redisCommand(c, "SCAN %s MATCH %s COUNT 1000",
					     cursor, match);

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

int journal_scan_holds(const char *host, int port,
		       int (*cb)(void *ctx, const struct journal_hold *h),
		       void *ctx)
{
	return scan_holds(host, port, "tkt:hold:*", cb, ctx);
}

int journal_scan_event_holds(const char *host, int port, uint32_t event_id,
			     int (*cb)(void *ctx, const struct journal_hold *h),
			     void *ctx)
{
	char match[40];

	snprintf(match, sizeof(match), "tkt:hold:%u:*", event_id);
	return scan_holds(host, port, match, cb, ctx);
}

/* Parses up to 3 decimal numbers separated by ':' from *p (stopping at
 * ';' or the end, which it steps over); how many, or -1 when malformed. */
static int parse_token(const char **p, uint64_t f[3])
{
	const char *q = *p;
	int k = 0;

	for (;;) {
		uint64_t v = 0;
		const char *start = q;

		while (*q >= '0' && *q <= '9' && q - start < 20)
			v = v * 10 + (uint64_t)(*q++ - '0');
		if (q == start || k == 3)
			return -1;
		f[k++] = v;
		if (*q == ':') {
			q++;
			continue;
		}
		if (*q == ';')
			q++;
		else if (*q)
			return -1;
		*p = q;
		return k;
	}
}

int journal_unpack_changes(const char *packed, uint64_t after, struct seat_event *out,
			   int max, int *n)
{
	uint64_t prev = 0;
	bool have_prev = false;

	/* "version:seat:status" tokens joined by ';' in version order; a
	 * token without its version ("seat:status") is the previous one's
	 * next */
	for (const char *p = packed; *p && *n < max;) {
		uint64_t f[3], v;
		int k = parse_token(&p, f);

		if (k == 3)
			v = f[0];
		else if (k == 2 && have_prev)
			v = prev + 1;
		else
			return -1;
		prev = v;
		have_prev = true;
		if (v <= after)
			continue;
		out[*n].version = v;
		out[*n].seat_id = (uint32_t)f[k - 2];
		out[*n].status = (uint8_t)f[k - 1];
		(*n)++;
	}
	return 0;
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
		const char *packed = NULL;

		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		ev.version = strtoull(e->element[0]->str, NULL, 10);
		for (size_t f = 0; f + 1 < e->element[1]->elements; f += 2) {
			const char *k = e->element[1]->element[f]->str;
			const char *v = e->element[1]->element[f + 1]->str;

			if (!strcmp(k, "c"))
				packed = v;
			else if (!strcmp(k, "seat"))
				ev.seat_id = (uint32_t)strtoul(v, NULL, 10);
			else if (!strcmp(k, "status"))
				ev.status = (uint8_t)atoi(v);
		}
		if (!packed) { /* one change per entry (older journals) */
			if (ev.version > after)
				out[n++] = ev;
			continue;
		}
		if (journal_unpack_changes(packed, after, out, max, &n) < 0)
			continue; /* a malformed entry: what it gave stands */
	}
	freeReplyObject(r);
	redisFree(c);
	return n;
}

/* A journal entry for one published change; now_ms and now_unix_ms are
 * one clock reading (the record's own expiry, even if it has lapsed since:
 * the journal then writes a key that is already gone, which is harmless). */
static void entry_of(struct journal_entry *je, const struct event_info *e,
		     const struct seat_event *ev, const struct tkt_change *rec,
		     uint32_t now_ms, uint64_t now_unix_ms)
{
	je->version = ev->version;
	je->word = rec->new_word;
	je->expiry_unix_ms = 0;
	je->event_id = e->id;
	je->seat_id = ev->seat_id;
	je->seat_index = e->seat_base + ev->seat_id;
	je->queued_ms = 0;
	je->status = ev->status;
	if (tkt_sw_claimed(rec->new_word))
		je->expiry_unix_ms = (int64_t)now_unix_ms +
				     (int32_t)(tkt_sw_expiry(rec->new_word) - now_ms);
}

void journal_seat_sink(void *journal, const struct event_info *e,
		       const struct seat_event *ev, const struct tkt_change *rec)
{
	struct journal_entry je;
	uint32_t now_ms;
	uint64_t now_unix_ms = ticketd_unix_ms_at(&now_ms);

	if (rec->source == TKT_SRC_SHARD)
		return;
	entry_of(&je, e, ev, rec, now_ms, now_unix_ms);
	journal_push(journal, &je);
}

#define SINK_CHUNK 256

void journal_seat_batch_sink(void *journal, const struct seat_change *ch, uint32_t n)
{
	struct journal *j = journal;
	struct journal_entry buf[SINK_CHUNK];
	uint32_t now_ms;
	uint64_t now_unix_ms = ticketd_unix_ms_at(&now_ms);
	uint32_t mono = (uint32_t)mono_ms();

	for (uint32_t i = 0; i < n;) {
		uint32_t k = 0;

		for (; k < SINK_CHUNK && i < n; i++) {
			/* an event given up (multi-node): its journal is the
			 * new owner's */
			if (ch[i].rec.source == TKT_SRC_SHARD)
				continue;
			entry_of(&buf[k++], ch[i].event, &ch[i].ev, &ch[i].rec, now_ms,
				 now_unix_ms);
		}
		if (!k)
			continue;
		pthread_mutex_lock(&j->lock);
		push_locked(j, buf, k, mono);
		pthread_mutex_unlock(&j->lock);
	}
}
