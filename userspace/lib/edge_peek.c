/* Read-only looks at the edge's BPF maps (edge_peek.h). */
#include "userspace/lib/edge_peek.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define PEEK_BATCH 4096u

int peek_pin_open(const char *dir, const char *name)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd;

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len) < 0)
		return -errno;
	return 0;
}

int peek_map_limits(int fd, uint32_t *type, uint32_t *max_entries)
{
	struct bpf_map_info info;
	int err = map_info(fd, &info);

	if (err)
		return err;
	if (type)
		*type = info.type;
	if (max_entries)
		*max_entries = info.max_entries;
	return 0;
}

int peek_percpu_sum(int fd, uint32_t first, uint32_t n, uint64_t *out)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals;
	int err = 0;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t i = 0; i < n && !err; i++) {
		uint32_t key = first + i;

		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &key, vals) < 0) {
			err = -errno;
			break;
		}
		for (int c = 0; c < ncpus; c++)
			out[i] += vals[c];
	}
	free(vals);
	return err;
}

/* Key by key: get_next_key from the last key seen, at most limit steps. */
static int count_by_keys(int fd, uint32_t key_size, uint64_t limit,
			 uint32_t *count)
{
	unsigned char *key = calloc(2, key_size);
	unsigned char *next = key ? key + key_size : NULL;
	uint64_t n = 0;
	int err = 0;

	if (!key)
		return -ENOMEM;
	for (;;) {
		if (bpf_map_get_next_key(fd, n ? key : NULL, next) < 0) {
			err = errno == ENOENT ? 0 : -errno;
			break;
		}
		memcpy(key, next, key_size);
		if (++n > limit) {
			err = -EAGAIN; /* the map keeps changing under us */
			break;
		}
	}
	free(key);
	*count = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
	return err;
}

/* Values of n entries of size bytes each at vals that are not all zero:
 * the entries in use of an array map (never-declared events, buckets never
 * touched). */
static uint64_t count_nonzero(const unsigned char *vals, uint32_t n,
			      uint32_t size)
{
	uint64_t used = 0;

	for (uint32_t i = 0; i < n; i++) {
		const unsigned char *v = vals + (size_t)i * size;
		unsigned char any = 0;

		for (uint32_t b = 0; b < size; b++)
			any |= v[b];
		used += any != 0;
	}
	return used;
}

int peek_count_entries(int fd, uint32_t *count)
{
	struct bpf_map_info info;
	uint64_t token[8], n = 0, visited = 0, limit;
	unsigned char *keys, *vals;
	bool first = true;
	int err = map_info(fd, &info);

	*count = 0;
	if (err)
		return err;
	limit = 2ull * info.max_entries;
	keys = malloc((size_t)PEEK_BATCH * info.key_size);
	vals = malloc((size_t)PEEK_BATCH * info.value_size);
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 got = PEEK_BATCH;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : token, token,
					      keys, vals, &got, &opts);

		if (rc < 0 && errno != ENOENT) {
			if (first && info.type != BPF_MAP_TYPE_ARRAY &&
			    (errno == EINVAL || errno == ENOTSUP ||
			     errno == EOPNOTSUPP || errno == ENOSPC)) {
				err = count_by_keys(fd, info.key_size, limit,
						    count);
				goto out;
			}
			err = -errno;
			break;
		}
		first = false;
		visited += got;
		if (info.type == BPF_MAP_TYPE_ARRAY)
			n += count_nonzero(vals, got, info.value_size);
		else
			n += got;
		if (rc < 0 || visited > limit) /* ENOENT: the last batch */
			break;
	}
	*count = (uint32_t)(n > UINT32_MAX ? UINT32_MAX : n);
out:
	free(keys);
	free(vals);
	return err;
}

int peek_ring(int fd, struct peek_ring *out)
{
	struct bpf_map_info info;
	long page = sysconf(_SC_PAGESIZE);
	const volatile unsigned long *pos;
	void *m;
	int err = map_info(fd, &info);

	memset(out, 0, sizeof(*out));
	if (err)
		return err;
	if (info.type != BPF_MAP_TYPE_RINGBUF || page <= 0)
		return -EINVAL;
	/* page 0: consumer position, page 1: producer position; read-only
	 * so this mapping can never move the consumer */
	m = mmap(NULL, 2 * (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	pos = m;
	out->consumer_pos = __atomic_load_n(&pos[0], __ATOMIC_ACQUIRE);
	pos = (const volatile unsigned long *)((const char *)m + page);
	out->producer_pos = __atomic_load_n(&pos[0], __ATOMIC_ACQUIRE);
	munmap(m, 2 * (size_t)page);
	out->size = info.max_entries;
	out->unread = out->producer_pos >= out->consumer_pos
			      ? out->producer_pos - out->consumer_pos
			      : 0;
	return 0;
}
