/* A bounded multi-producer, single-consumer queue of change records
 * (struct tkt_change), the userspace twin of the XDP program's ring buffer.
 *
 * A producer reserves a record (NULL when the queue is full), fills it and
 * then submits or discards it; the consumer takes records strictly in the
 * order they were reserved and stops at the first one not yet submitted or
 * discarded, exactly as the BPF ring buffer stops at a reserved but
 * unsubmitted record. So a producer can reserve before it changes a seat
 * word and submit after, and a record is never lost between the two.
 *
 * Threads: reserve, submit and discard from any number of threads
 * (lock-free, CAS on the tail); take from one thread at a time (the caller
 * serialises consumers); init and free with no other call running. */
#ifndef TKT_LIB_CHANGE_QUEUE_H
#define TKT_LIB_CHANGE_QUEUE_H

#include <stdint.h>

#include "bpf/ticket_maps.h"

struct change_queue_cell;

struct change_queue {
	struct change_queue_cell *cells;
	uint64_t mask;
	uint64_t tail __attribute__((aligned(64))); /* producers */
	uint64_t head __attribute__((aligned(64))); /* consumer only */
};

/* Room for cap records, rounded up to a power of two. 0 or -ENOMEM. */
int change_queue_init(struct change_queue *q, unsigned int cap);
void change_queue_free(struct change_queue *q);

/* A record to fill, or NULL when the queue is full. Every reserved record
 * must be submitted or discarded, or the consumer stops at it for good. */
struct tkt_change *change_queue_reserve(struct change_queue *q);
/* Publishes a reserved record to the consumer. */
void change_queue_submit(struct tkt_change *rec);
/* Gives a reserved record back unused: the consumer skips it. */
void change_queue_discard(struct tkt_change *rec);

/* The consumer: takes the next record in reservation order. Returns 1 with
 * *out filled, 0 when it was a discarded reservation (nothing to deliver,
 * call again), -1 when the next record is not submitted yet (or the queue
 * is empty). */
int change_queue_take(struct change_queue *q, struct tkt_change *out);

#endif
