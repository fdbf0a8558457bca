/* The userspace change queue (see change_queue.h): a bounded MPSC queue
 * with a sequence number per cell. A producer claims a cell by CAS on tail,
 * fills it, then publishes it by storing seq = pos + 1 (release); the
 * consumer takes cells strictly in claim order, acquire-loads seq and stops
 * at the first cell not yet published. Taking a cell hands it back to
 * producers one lap later (seq = pos + capacity). No locks: tail is shared
 * by producers through CAS, head belongs to the consumer, and each cell is
 * owned by whoever its seq says. */
#include "userspace/lib/change_queue.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

struct change_queue_cell {
	uint64_t seq;
	uint64_t pos;
	uint32_t valid; /* 0: discarded */
	uint32_t pad;
	struct tkt_change rec;
};

int change_queue_init(struct change_queue *q, unsigned int cap)
{
	uint64_t n = 1, i;

	while (n < cap)
		n <<= 1;
	q->cells = calloc(n, sizeof(*q->cells));
	if (!q->cells)
		return -ENOMEM;
	for (i = 0; i < n; i++)
		q->cells[i].seq = i;
	q->mask = n - 1;
	q->tail = 0;
	q->head = 0;
	return 0;
}

void change_queue_free(struct change_queue *q)
{
	free(q->cells);
	q->cells = NULL;
}

struct tkt_change *change_queue_reserve(struct change_queue *q)
{
	uint64_t pos = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);

	for (;;) {
		struct change_queue_cell *c = &q->cells[pos & q->mask];
		uint64_t seq = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
		int64_t diff = (int64_t)(seq - pos);

		if (diff == 0) {
			if (__atomic_compare_exchange_n(&q->tail, &pos, pos + 1,
							1, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED)) {
				c->pos = pos;
				return &c->rec;
			}
		} else if (diff < 0) {
			return NULL; /* full */
		} else {
			pos = __atomic_load_n(&q->tail, __ATOMIC_RELAXED);
		}
	}
}

static void publish(struct tkt_change *rec, uint32_t valid)
{
	struct change_queue_cell *c =
		(struct change_queue_cell *)((char *)rec -
					     offsetof(struct change_queue_cell,
						      rec));

	c->valid = valid;
	__atomic_store_n(&c->seq, c->pos + 1, __ATOMIC_RELEASE);
}

void change_queue_submit(struct tkt_change *rec)
{
	publish(rec, 1);
}

void change_queue_discard(struct tkt_change *rec)
{
	publish(rec, 0);
}

int change_queue_take(struct change_queue *q, struct tkt_change *out)
{
	struct change_queue_cell *c = &q->cells[q->head & q->mask];
	int valid;

	if (__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) != q->head + 1)
		return -1;
	valid = c->valid;
	if (valid)
		*out = c->rec;
	__atomic_store_n(&c->seq, q->head + q->mask + 1, __ATOMIC_RELEASE);
	q->head++;
	return valid ? 1 : 0;
}
