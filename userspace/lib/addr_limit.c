/* Per-address token buckets (GCRA) and open counts in a fixed
 * set-associative table (addr_limit.h).
 *
 * GCRA keeps one number per address, the theoretical arrival time (tat):
 * each token moves it one emission interval (1/rate) later, never from
 * before now; a request is over the limit when that would put tat more than
 * burst intervals past now. tat <= now means the bucket is full. */
#include "userspace/lib/addr_limit.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

struct entry {
	uint64_t key;
	uint64_t tat;  /* ns, same clock as the callers' now_ns */
	uint32_t open; /* things acquired and not released */
	bool used;
};

struct set {
	pthread_mutex_t lock; /* guards way[] */
	struct entry way[ADDR_LIMIT_WAYS];
};

struct addr_limit {
	struct set *sets;
	size_t n_sets; /* a power of two */
	uint64_t seed[2];
	uint64_t interval_ns; /* 1 / rate */
	uint64_t window_ns;   /* burst * interval */
};

int addr_key_from_sockaddr(const struct sockaddr *sa, struct addr_key *key)
{
	if (!sa)
		return -EAFNOSUPPORT;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		key->v = 0xffff00000000ull | ntohl(in->sin_addr.s_addr);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		uint64_t v = 0;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			key->v = 0xffff00000000ull | (uint64_t)b[12] << 24 |
				 (uint64_t)b[13] << 16 | (uint64_t)b[14] << 8 | b[15];
			return 0;
		}
		for (int i = 0; i < 8; i++)
			v = v << 8 | b[i];
		/* The /64 prefix; an IPv4 key has zero high bytes, and no
		 * routable /64 starts with 0000:0000. */
		key->v = v;
		return 0;
	}
	return -EAFNOSUPPORT;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static struct set *set_of(struct addr_limit *l, uint64_t key)
{
	uint64_t h = mix64(mix64(key ^ l->seed[0]) + l->seed[1]);

	return &l->sets[h & (l->n_sets - 1)];
}

struct addr_limit *addr_limit_new(size_t entries, double rate, uint32_t burst)
{
	struct addr_limit *l;
	size_t n = 1;

	if (!(rate > 0) || rate > 1e9 || burst == 0 || entries == 0)
		return NULL;
	while (n * ADDR_LIMIT_WAYS < entries)
		n *= 2;
	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->sets = calloc(n, sizeof(*l->sets));
	if (!l->sets) {
		free(l);
		return NULL;
	}
	l->n_sets = n;
	for (size_t i = 0; i < n; i++)
		pthread_mutex_init(&l->sets[i].lock, NULL);
	if (getrandom(l->seed, sizeof(l->seed), 0) != sizeof(l->seed)) {
		struct timespec ts;

		/* Not expected; still better than a fixed seed. */
		clock_gettime(CLOCK_REALTIME, &ts);
		l->seed[0] = mix64((uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)l);
		l->seed[1] = mix64((uint64_t)ts.tv_sec);
	}
	l->interval_ns = (uint64_t)(1e9 / rate);
	if (!l->interval_ns)
		l->interval_ns = 1;
	l->window_ns = l->interval_ns * burst;
	return l;
}

void addr_limit_free(struct addr_limit *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_sets; i++)
		pthread_mutex_destroy(&l->sets[i].lock);
	free(l->sets);
	free(l);
}

static struct entry *find(struct set *s, uint64_t key)
{
	for (int i = 0; i < ADDR_LIMIT_WAYS; i++)
		if (s->way[i].used && s->way[i].key == key)
			return &s->way[i];
	return NULL;
}

/* key's entry, made if missing (s->lock held): a free way, else an idle
 * one, else the one that holds nothing with the earliest tat; NULL when
 * every way holds something open. */
static struct entry *find_or_add(struct set *s, uint64_t key, uint64_t now_ns)
{
	struct entry *e = find(s, key), *victim = NULL;

	if (e)
		return e;
	for (int i = 0; i < ADDR_LIMIT_WAYS; i++) {
		struct entry *w = &s->way[i];

		if (!w->used) {
			victim = w;
			break;
		}
		if (w->open)
			continue;
		if (!victim || w->tat < victim->tat)
			victim = w;
		if (victim->tat <= now_ns)
			break; /* idle: nothing is lost */
	}
	if (victim)
		*victim = (struct entry){.key = key, .used = true};
	return victim;
}

enum addr_limit_result addr_limit_take(struct addr_limit *l,
				       const struct addr_key *key,
				       uint64_t now_ns, uint64_t *retry_ns)
{
	struct set *s = set_of(l, key->v);
	enum addr_limit_result r = ADDR_LIMIT_OK;
	struct entry *e;
	uint64_t tat;

	pthread_mutex_lock(&s->lock);
	e = find_or_add(s, key->v, now_ns);
	if (!e) {
		r = ADDR_LIMIT_FULL;
		goto out;
	}
	tat = (e->tat > now_ns ? e->tat : now_ns) + l->interval_ns;
	if (tat - now_ns > l->window_ns) {
		r = ADDR_LIMIT_OVER;
		if (retry_ns)
			*retry_ns = tat - now_ns - l->window_ns;
	} else {
		e->tat = tat;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return r;
}

enum addr_limit_result addr_limit_acquire(struct addr_limit *l,
					  const struct addr_key *key,
					  uint32_t max, uint64_t now_ns)
{
	struct set *s = set_of(l, key->v);
	enum addr_limit_result r = ADDR_LIMIT_OK;
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find_or_add(s, key->v, now_ns);
	if (!e)
		r = ADDR_LIMIT_FULL;
	else if (e->open >= max)
		r = ADDR_LIMIT_OVER;
	else
		e->open++;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void addr_limit_release(struct addr_limit *l, const struct addr_key *key)
{
	struct set *s = set_of(l, key->v);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, key->v);
	/* An entry with something open is never evicted, so it is there. */
	if (e && e->open)
		e->open--;
	pthread_mutex_unlock(&s->lock);
}

uint32_t addr_limit_open(struct addr_limit *l, const struct addr_key *key)
{
	struct set *s = set_of(l, key->v);
	struct entry *e;
	uint32_t n;

	pthread_mutex_lock(&s->lock);
	e = find(s, key->v);
	n = e ? e->open : 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t addr_limit_tracked(struct addr_limit *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n_sets; i++) {
		pthread_mutex_lock(&l->sets[i].lock);
		for (int w = 0; w < ADDR_LIMIT_WAYS; w++)
			n += l->sets[i].way[w].used;
		pthread_mutex_unlock(&l->sets[i].lock);
	}
	return n;
}
