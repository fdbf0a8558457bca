/* Read-only looks at the edge's BPF maps by file descriptor, from any
 * process with CAP_BPF or root: what `ticketctl stats` / `ticketctl seat`
 * and ticketd's /metrics need beyond one libbpf call. Nothing here writes
 * a map or consumes the change ring buffer (ticketd is its only consumer).
 *
 * Every loop is bounded by the map's max_entries. Errors are negative
 * errno values. */
#ifndef TKT_LIB_EDGE_PEEK_H
#define TKT_LIB_EDGE_PEEK_H

#include <stdint.h>

/* Opens <dir>/<name> (bpf_obj_get): an fd, or -errno (-ENOENT: no such
 * pin, -EACCES/-EPERM: not allowed). */
int peek_pin_open(const char *dir, const char *name);

/* The map's type (BPF_MAP_TYPE_*) and max_entries (may be NULL). */
int peek_map_limits(int fd, uint32_t *type, uint32_t *max_entries);

/* out[i] = the per-CPU u64 value of key first + i summed over every
 * possible CPU, for i < n. */
int peek_percpu_sum(int fd, uint32_t first, uint32_t n, uint64_t *out);

/* Number of entries of a hash or LRU hash map, by batched lookups (4096
 * keys a call), falling back to key-by-key iteration where batches are
 * refused. For a plain array: the entries whose value is not all zeroes
 * (batched lookups only). Visits at most 2 x max_entries keys; an entry inserted or
 * deleted while it counts may be counted or not. Costs about 1 ms per
 * 10 000 entries: not for every scrape of a large map. */
int peek_count_entries(int fd, uint32_t *count);

/* A BPF ring buffer's state, read from its position pages (mapped
 * read-only for the call): unread = producer - consumer, the bytes the
 * consumer has yet to take (record headers included). */
struct peek_ring {
	uint64_t size; /* data bytes (max_entries) */
	uint64_t consumer_pos;
	uint64_t producer_pos;
	uint64_t unread;
};
int peek_ring(int fd, struct peek_ring *out);

#endif
