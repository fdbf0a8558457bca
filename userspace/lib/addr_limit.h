/* Per-client-address limits in fixed memory: for each address a GCRA token
 * bucket (a rate with a burst) and a count of things it holds open (streams).
 *
 * Keys: an IPv4 address whole; an IPv6 address by its /64, the smallest
 * block one subscriber gets (an IPv4-mapped IPv6 address counts as IPv4).
 *
 * The table is set-associative: a keyed hash (random seed per table, so a
 * client cannot aim addresses at one set) picks a set of ADDR_LIMIT_WAYS
 * entries. An entry is idle when it holds nothing and its bucket is full
 * again: forgetting it changes no answer. A new address takes a free or
 * idle entry of its set; when there is none it evicts the entry that holds
 * nothing and is closest to idle (forgetting some of a client's rate
 * history, never its open count); only a set whose every entry holds
 * something open refuses (ADDR_LIMIT_FULL). Size the table well above the
 * number of things that can be held open at once (streams) and that never
 * happens in practice (addr_limit_new's comment).
 *
 * Thread-safe: one mutex per set (striped), so threads rarely meet. */
#ifndef TKT_LIB_ADDR_LIMIT_H
#define TKT_LIB_ADDR_LIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define ADDR_LIMIT_WAYS 16

/* An address as the table keys it. */
struct addr_key {
	uint64_t v; /* IPv4: 0xffff00000000 | address; IPv6: the /64 prefix */
};

/* Fills key from an AF_INET or AF_INET6 address. Returns 0, or -EAFNOSUPPORT
 * for another family (or a NULL address). */
int addr_key_from_sockaddr(const struct sockaddr *sa, struct addr_key *key);

enum addr_limit_result {
	ADDR_LIMIT_OK = 0,
	ADDR_LIMIT_OVER = 1, /* over the rate, or at the cap of open things */
	ADDR_LIMIT_FULL = 2, /* no entry to spare: every one in the set is busy */
};

struct addr_limit;

/* A table of about `entries` entries (rounded up to a power of two sets of
 * ADDR_LIMIT_WAYS; about 32 bytes each), a bucket refilling `rate` tokens a
 * second holding up to `burst` tokens. Returns NULL on a bad argument or
 * out of memory. With entries at least four times the number of things that
 * can be open at once, a set filling with busy entries by chance is
 * vanishingly rare (about 1e-9 per set at that load). */
struct addr_limit *addr_limit_new(size_t entries, double rate, uint32_t burst);
void addr_limit_free(struct addr_limit *l);

/* Takes one token of key's bucket at now_ns (a monotonic clock). ADDR_LIMIT_OK
 * when there was one; ADDR_LIMIT_OVER otherwise, with *retry_ns (if not NULL)
 * set to how long until one is there. */
enum addr_limit_result addr_limit_take(struct addr_limit *l,
				       const struct addr_key *key,
				       uint64_t now_ns, uint64_t *retry_ns);

/* Counts one more open thing for key if it holds fewer than max: ADDR_LIMIT_OK
 * (then call addr_limit_release once when it ends) or ADDR_LIMIT_OVER. */
enum addr_limit_result addr_limit_acquire(struct addr_limit *l,
					  const struct addr_key *key,
					  uint32_t max, uint64_t now_ns);

/* Ends one thing addr_limit_acquire counted. */
void addr_limit_release(struct addr_limit *l, const struct addr_key *key);

/* How many things key holds open now (for tests and metrics). */
uint32_t addr_limit_open(struct addr_limit *l, const struct addr_key *key);

/* Addresses the table tracks now (entries in use, idle ones included). */
size_t addr_limit_tracked(struct addr_limit *l);

#endif
