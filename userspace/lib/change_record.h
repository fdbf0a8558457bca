/* The XDP program's ring records (bpf/ticket_maps.h): a record is n
 * (1..TKT_CHANGE_BATCH) struct tkt_change back to back, n given by its
 * size. Internal to the program and ticketd; never on the wire. */
#ifndef TKT_CHANGE_RECORD_H
#define TKT_CHANGE_RECORD_H

#include <stddef.h>

struct tkt_change;

/* Hands each change of one ring record of size bytes to cb, in the order
 * the program made them, stopping at the first non-zero result of cb and
 * returning it; 0 when all went through. A record whose size is not that
 * of 1..TKT_CHANGE_BATCH changes is refused whole: -EBADMSG, cb not
 * called. data needs no alignment (each change is copied out). */
int change_record_split(const void *data, size_t size,
			int (*cb)(void *ctx, const struct tkt_change *rec),
			void *ctx);

#endif /* TKT_CHANGE_RECORD_H */
