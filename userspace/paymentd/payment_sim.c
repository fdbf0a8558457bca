/* paymentd's decisions and its idempotency ledger (see payment_sim.h). */
#include "userspace/paymentd/payment_sim.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pay_sim_config_check(const struct pay_sim_config *cfg, char *err,
			 size_t errlen)
{
	if (cfg->delay_min_ms > cfg->delay_max_ms) {
		snprintf(err, errlen, "delay_min_ms (%u) is larger than delay_max_ms (%u)",
			 cfg->delay_min_ms, cfg->delay_max_ms);
		return -EINVAL;
	}
	/* Written as !(x >= 0 && x <= 1) so that NaN fails too. */
	if (!(cfg->approve_ratio >= 0.0 && cfg->approve_ratio <= 1.0) ||
	    !(cfg->fail_ratio >= 0.0 && cfg->fail_ratio <= 1.0) ||
	    !(cfg->timeout_ratio >= 0.0 && cfg->timeout_ratio <= 1.0) ||
	    !(cfg->refund_fail_ratio >= 0.0 && cfg->refund_fail_ratio <= 1.0)) {
		snprintf(err, errlen, "ratios must lie in 0..1");
		return -EINVAL;
	}
	if (cfg->fail_ratio + cfg->timeout_ratio > 1.0 + 1e-9) {
		snprintf(err, errlen,
			 "fail_ratio + timeout_ratio must not exceed 1 (got %g + %g)",
			 cfg->fail_ratio, cfg->timeout_ratio);
		return -EINVAL;
	}
	return 0;
}

/* ---- random source ---------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void pay_rng_seed(struct pay_rng *rng, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&x);
}

uint64_t pay_rng_next(struct pay_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double pay_rng_unit(struct pay_rng *rng)
{
	return (double)(pay_rng_next(rng) >> 11) * 0x1.0p-53;
}

static uint64_t fnv1a64(const char *s, size_t len)
{
	uint64_t h = 0xCBF29CE484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001B3ULL;
	}
	return h;
}

uint64_t pay_stream_seed(uint64_t seed, const char *order_id, size_t len,
			 uint32_t attempt)
{
	uint64_t x = seed ^ fnv1a64(order_id, len);
	uint64_t a = splitmix64(&x);

	x = a ^ ((uint64_t)attempt * 0xD6E8FEB86659FD93ULL);
	return splitmix64(&x);
}

/* ---- decisions -------------------------------------------------------- */

int pay_simulate_parse(const char *s, enum pay_simulate *out)
{
	static const struct {
		const char *name;
		enum pay_simulate value;
	} names[] = {
		{"approve", PAY_SIMULATE_APPROVE},
		{"decline", PAY_SIMULATE_DECLINE},
		{"fail", PAY_SIMULATE_FAIL},
		{"timeout", PAY_SIMULATE_TIMEOUT},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name)) {
			*out = names[i].value;
			return 0;
		}
	return -1;
}

const char *pay_status_name(enum pay_status status)
{
	return status == PAY_APPROVED ? "APPROVED" : "DECLINED";
}

void pay_decide(const struct pay_sim_config *cfg, struct pay_rng *rng,
		enum pay_simulate simulate, struct pay_decision *out)
{
	double u_fault = pay_rng_unit(rng);
	double u_approve = pay_rng_unit(rng);
	double u_delay = pay_rng_unit(rng);
	uint64_t id = pay_rng_next(rng);
	uint64_t span = (uint64_t)cfg->delay_max_ms - cfg->delay_min_ms + 1;
	uint64_t extra = (uint64_t)(u_delay * (double)span);

	if (extra >= span) /* u < 1, but keep rounding from ever leaving it */
		extra = span - 1;
	out->delay_ms = cfg->delay_min_ms + (uint32_t)extra;
	out->status = u_approve < cfg->approve_ratio ? PAY_APPROVED : PAY_DECLINED;
	if (u_fault < cfg->fail_ratio)
		out->fault = PAY_FAULT_GATEWAY_ERROR;
	else if (u_fault < cfg->fail_ratio + cfg->timeout_ratio)
		out->fault = PAY_FAULT_TIMEOUT;
	else
		out->fault = PAY_FAULT_NONE;
	switch (simulate) {
	case PAY_SIMULATE_APPROVE:
		out->fault = PAY_FAULT_NONE;
		out->status = PAY_APPROVED;
		break;
	case PAY_SIMULATE_DECLINE:
		out->fault = PAY_FAULT_NONE;
		out->status = PAY_DECLINED;
		break;
	case PAY_SIMULATE_FAIL:
		out->fault = PAY_FAULT_GATEWAY_ERROR;
		break;
	case PAY_SIMULATE_TIMEOUT:
		out->fault = PAY_FAULT_TIMEOUT;
		break;
	case PAY_SIMULATE_NONE:
		break;
	}
	if (out->fault == PAY_FAULT_TIMEOUT)
		out->delay_ms = cfg->timeout_hang_ms;
	out->payment_id = id ? id : 1;
}

/* ---- ledger ----------------------------------------------------------- */

/* Slot and chain links are index + 1, so 0 means "none". */
struct pay_entry {
	char *order_id; /* NULL: slot unused */
	uint64_t hash;
	uint32_t len;
	uint32_t next;            /* next entry of the same bucket */
	uint32_t failed_attempts; /* injected gateway errors so far */
	bool decided;
	bool refunded;            /* refund or void answered */
	uint32_t refund_failures; /* injected refund gateway errors so far */
	struct pay_refund_result refund;
	struct pay_decision decision;
	int64_t amount;
	char currency[PAY_CURRENCY_LEN + 1];
};

struct pay_ledger {
	/* Guards everything below. Held only for a lookup, a decision (a few
	 * dozen arithmetic operations) and an insert: never across I/O. */
	pthread_mutex_t lock;
	struct pay_entry *entries; /* ring, filled in arrival order */
	uint32_t *buckets;
	size_t capacity, count, next_slot, bucket_mask;
};

int pay_ledger_create(struct pay_ledger **out, size_t capacity)
{
	struct pay_ledger *l;
	size_t nb = 16;

	if (capacity < 1 || capacity >= UINT32_MAX / 4)
		return -EINVAL;
	while (nb < capacity * 2)
		nb <<= 1;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	/* calloc of large arrays gives untouched zero pages: memory is only
	 * committed as orders arrive. */
	l->entries = calloc(capacity, sizeof(*l->entries));
	l->buckets = calloc(nb, sizeof(*l->buckets));
	if (!l->entries || !l->buckets || pthread_mutex_init(&l->lock, NULL)) {
		free(l->entries);
		free(l->buckets);
		free(l);
		return -ENOMEM;
	}
	l->capacity = capacity;
	l->bucket_mask = nb - 1;
	*out = l;
	return 0;
}

void pay_ledger_destroy(struct pay_ledger *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->capacity; i++)
		free(l->entries[i].order_id);
	free(l->entries);
	free(l->buckets);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static struct pay_entry *ledger_find(struct pay_ledger *l, uint64_t hash,
				     const char *id, size_t len)
{
	uint32_t link = l->buckets[hash & l->bucket_mask];

	while (link) {
		struct pay_entry *e = &l->entries[link - 1];

		if (e->hash == hash && e->len == len && !memcmp(e->order_id, id, len))
			return e;
		link = e->next;
	}
	return NULL;
}

static void ledger_unlink(struct pay_ledger *l, size_t slot)
{
	struct pay_entry *e = &l->entries[slot];
	uint32_t *link = &l->buckets[e->hash & l->bucket_mask];

	while (*link && *link != slot + 1)
		link = &l->entries[*link - 1].next;
	if (*link)
		*link = e->next;
	free(e->order_id);
	memset(e, 0, sizeof(*e));
	l->count--;
}

/* A new entry in the oldest slot (evicting what it held). */
static struct pay_entry *ledger_insert(struct pay_ledger *l, uint64_t hash,
				       const char *id, size_t len)
{
	size_t slot = l->next_slot;
	struct pay_entry *e = &l->entries[slot];
	char *copy = malloc(len + 1);
	uint32_t *head;

	if (!copy)
		return NULL;
	memcpy(copy, id, len);
	copy[len] = '\0';
	if (e->order_id)
		ledger_unlink(l, slot);
	e->order_id = copy;
	e->len = (uint32_t)len;
	e->hash = hash;
	head = &l->buckets[hash & l->bucket_mask];
	e->next = *head;
	*head = (uint32_t)(slot + 1);
	l->count++;
	l->next_slot = (slot + 1) % l->capacity;
	return e;
}

int pay_ledger_authorize(struct pay_ledger *l, const struct pay_sim_config *cfg,
			 uint64_t seed, const struct pay_request *req,
			 struct pay_result *out)
{
	struct pay_entry *e;
	struct pay_rng rng;
	uint64_t hash;
	int rc = 0;

	if (!req->order_id || req->order_id_len < 1 ||
	    req->order_id_len > PAY_ORDER_ID_MAX ||
	    memchr(req->order_id, '\0', req->order_id_len))
		return -EINVAL;
	hash = fnv1a64(req->order_id, req->order_id_len);
	memset(out, 0, sizeof(*out));

	pthread_mutex_lock(&l->lock);
	e = ledger_find(l, hash, req->order_id, req->order_id_len);
	if (e && e->decided) {
		out->replay = true;
		out->decision = e->decision;
		out->decision.fault = PAY_FAULT_NONE;
		out->decision.delay_ms = 0;
		out->amount = e->amount;
		memcpy(out->currency, e->currency, sizeof(out->currency));
		goto unlock;
	}
	pay_rng_seed(&rng, pay_stream_seed(seed, req->order_id, req->order_id_len,
					   e ? e->failed_attempts : 0));
	pay_decide(cfg, &rng, req->simulate, &out->decision);
	out->amount = req->amount;
	memcpy(out->currency, req->currency, sizeof(out->currency));
	out->currency[PAY_CURRENCY_LEN] = '\0';
	if (!e)
		e = ledger_insert(l, hash, req->order_id, req->order_id_len);
	if (!e) {
		rc = -ENOMEM;
		goto unlock;
	}
	if (out->decision.fault == PAY_FAULT_GATEWAY_ERROR) {
		if (e->failed_attempts < UINT32_MAX)
			e->failed_attempts++;
	} else {
		e->decided = true;
		e->decision = out->decision;
		e->amount = out->amount;
		memcpy(e->currency, out->currency, sizeof(e->currency));
	}
unlock:
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* Refund draws come from their own stream, apart from authorizations'. */
#define REFUND_STREAM 0x524546554E44ULL /* "REFUND" */

int pay_ledger_refund(struct pay_ledger *l, const struct pay_sim_config *cfg,
		      uint64_t seed, const char *order_id, size_t len,
		      int64_t amount, struct pay_refund_result *out)
{
	struct pay_entry *e;
	struct pay_rng rng;
	uint64_t hash;
	int rc = 0;

	if (!order_id || len < 1 || len > PAY_ORDER_ID_MAX || memchr(order_id, '\0', len))
		return -EINVAL;
	hash = fnv1a64(order_id, len);
	memset(out, 0, sizeof(*out));

	pthread_mutex_lock(&l->lock);
	e = ledger_find(l, hash, order_id, len);
	if (e && e->refunded) {
		*out = e->refund;
		out->replay = true;
		goto unlock;
	}
	if (e && e->decided && e->decision.status == PAY_APPROVED && amount != e->amount) {
		rc = -ERANGE;
		goto unlock;
	}
	pay_rng_seed(&rng, pay_stream_seed(seed ^ REFUND_STREAM, order_id, len,
					   e ? e->refund_failures : 0));
	out->refund_id = pay_rng_next(&rng);
	if (!out->refund_id)
		out->refund_id = 1;
	if (!e)
		e = ledger_insert(l, hash, order_id, len);
	if (!e) {
		rc = -ENOMEM;
		goto unlock;
	}
	if (pay_rng_unit(&rng) < cfg->refund_fail_ratio) {
		if (e->refund_failures < UINT32_MAX)
			e->refund_failures++;
		rc = -EAGAIN;
		goto unlock;
	}
	if (e->decided && e->decision.status == PAY_APPROVED) {
		out->status = PAY_REFUNDED;
		out->amount = e->amount;
	} else {
		/* Void: a later authorization of this order is declined. */
		out->status = PAY_NOT_CHARGED;
		if (!e->decided) {
			e->decided = true;
			e->decision.fault = PAY_FAULT_NONE;
			e->decision.status = PAY_DECLINED;
			e->decision.delay_ms = 0;
			e->decision.payment_id = out->refund_id;
			e->amount = amount;
			memcpy(e->currency, "EUR", sizeof(e->currency));
		}
	}
	e->refunded = true;
	e->refund = *out;
unlock:
	pthread_mutex_unlock(&l->lock);
	return rc;
}

const char *pay_refund_status_name(enum pay_refund_status status)
{
	return status == PAY_REFUNDED ? "REFUNDED" : "NOT_CHARGED";
}

size_t pay_ledger_count(struct pay_ledger *l)
{
	size_t n;

	pthread_mutex_lock(&l->lock);
	n = l->count;
	pthread_mutex_unlock(&l->lock);
	return n;
}
