/* Stream versions are never reused, even after kill -9: each start takes a
 * new epoch and an event's versions start at epoch << STREAM_EPOCH_SHIFT.
 * The epoch is the largest of: Redis INCR tkt:stream:epoch, the epoch in
 * the state dir's file stream_epoch plus one, and a floor (the epoch of the
 * newest version in the journal plus one), then written back to both. A
 * version from before the restart is therefore below every version handed
 * out after it, by more than the SSE replay window: a Last-Event-ID from an
 * earlier run always gets a snapshot (docs/api.md). Versions stay below
 * 2^53 (JSON and JavaScript integers) while the epoch is below 2^21. */
#ifndef TICKETD_STREAM_EPOCH_H
#define TICKETD_STREAM_EPOCH_H

#include <stdint.h>

#define STREAM_EPOCH_SHIFT 32
#define STREAM_EPOCH_MAX ((1ull << 21) - 1)

/* Takes this run's epoch into *epoch. 0 when at least one durable copy
 * (Redis or the file) was written, else -EIO (the epoch is still the
 * best known; the caller logs). */
int stream_epoch_take(const char *redis_host, int redis_port,
		      const char *state_dir, uint64_t floor, uint64_t *epoch);

/* The epoch a version belongs to. */
static inline uint64_t stream_epoch_of(uint64_t version)
{
	return version >> STREAM_EPOCH_SHIFT;
}

#endif
