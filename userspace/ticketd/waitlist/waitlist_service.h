/* The waiting lists of the daemon (docs/api.md, "Waiting list"): one
 * queue (waitlist.h) per catalogue event, kept in Redis, the offer worker
 * that turns freed seats into offers, and the waiters' streams (SSE).
 *
 * Redis (written behind by the store thread, loaded at start):
 *   tkt:wl:{event}     sorted set: session id (hex) by join sequence
 *   tkt:wl:{event}:e   hash: session id -> "slot count sessionExpiresMs
 *                      joinedMs seq offerExpiresMs seat,seat,..."
 * A join is answered from memory and reaches Redis within milliseconds;
 * no request thread ever waits on Redis. A kill -9 in between loses it
 * (a graceful stop writes what is queued, for at most a second).
 *
 * Threads and locks (docs/threads.md, "Waiting list"):
 *   HTTP workers  join, get, leave, stream frames: `lock` (all queues);
 *                 leave releases offered seats under it (edge ops, leaves)
 *   stream thread waitlist_seat_batch_sink: `notes_lock` (a leaf) to queue
 *                 the freed seats of events with waiters; never blocks
 *   offer worker  takes the freed seats off under notes_lock, then `lock`
 *                 to hold seats (holds_reserve) and end offers; every
 *                 250 ms checks the offers; wakes the parked streams
 *                 (streams_lock, a leaf) at once after an offer, else at
 *                 most every 100 ms, and every second
 *   store thread  writes the changes to Redis (store_lock, a leaf taken
 *                 under `lock` by whoever changes a queue)
 * Order: lock -> store_lock; lock -> the edge's locks; notes_lock and
 * streams_lock alone. */
#ifndef TICKETD_WAITLIST_SERVICE_H
#define TICKETD_WAITLIST_SERVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "userspace/ticketd/waitlist/waitlist.h"

struct ticketd;
struct session;
struct seat_change;
struct waitlist;

/* Creates the queues, loads them from Redis (a Redis that does not answer
 * within 2 s: empty lists, logged) and starts the store thread. Before the
 * seat stream starts (its sink is waitlist_seat_batch_sink). 0 or -1 with
 * err filled. */
int waitlist_create(struct waitlist **out, struct ticketd *app, char *err,
		    size_t errlen);
/* Starts the offer worker (once the seat table is recovered and served);
 * it first looks for free seats of every event with waiters. */
int waitlist_start_offers(struct waitlist *wl);
void waitlist_stop_offers(struct waitlist *wl);
/* Ends every waiter stream and refuses new ones; before the HTTP server
 * stops (no connection may stay suspended). */
void waitlist_close(struct waitlist *wl);
/* Writes what is queued for Redis (at most a second) and frees. */
void waitlist_free(struct waitlist *wl);

/* The seat stream's sink (seat_stream.h): freed seats of events with
 * waiters go to the offer worker. ctx is the struct waitlist. */
void waitlist_seat_batch_sink(void *ctx, const struct seat_change *ch, uint32_t n);

enum waitlist_result {
	WLS_OK = 0,
	WLS_EXISTS,          /* join: already on the list (200) */
	WLS_NO_EVENT,        /* 404 EVENT_NOT_FOUND */
	WLS_SEATS_AVAILABLE, /* 409 SEATS_AVAILABLE */
	WLS_FULL,            /* 503 WAITLIST_FULL */
	WLS_NOT_FOUND,       /* 404 NOT_ON_WAITLIST */
	WLS_NOMEM,           /* 503 UNAVAILABLE */
	WLS_CLOSED,          /* 503 UNAVAILABLE: shutting down */
	WLS_TOO_MANY_STREAMS,/* 503 TOO_MANY_STREAMS */
};

struct waitlist_view {
	uint32_t position; /* 1 = next; 0 once the offer has every seat asked for */
	uint8_t count;
	int64_t joined_ms;
	uint8_t n_offer; /* 0: no offer */
	uint32_t offer[WL_COUNT_MAX];
	int64_t offer_expires_ms;
};

enum waitlist_result waitlist_join(struct waitlist *wl, uint32_t event_id,
				   const struct session *s, uint8_t count,
				   struct waitlist_view *out);
enum waitlist_result waitlist_get(struct waitlist *wl, uint32_t event_id,
				  const struct session *s, struct waitlist_view *out);
/* Leaves the list; a live offer's seats are given back. */
enum waitlist_result waitlist_leave(struct waitlist *wl, uint32_t event_id,
				    const struct session *s);

/* ---- waiter streams (SSE) ---- */
struct waitlist_stream;
struct waitlist_conn_ops {
	void (*suspend)(void *conn);
	void (*resume)(void *conn);
};

/* Opens session s's stream of its place on event_id's list (404 when not
 * on it). */
enum waitlist_result waitlist_stream_open(struct waitlist *wl, uint32_t event_id,
					  const struct session *s,
					  const struct waitlist_conn_ops *ops,
					  void *conn, struct waitlist_stream **out);
/* http_stream_read_fn's contract: bytes, -1 end, or 0 after it parked the
 * connection. Only on the connection's thread. */
ssize_t waitlist_stream_read(struct waitlist_stream *st, char *buf, size_t max);
void waitlist_stream_release(struct waitlist_stream *st);

/* Appends ticketd_waitlist_*. 0 or -ENOMEM. */
int waitlist_render_metrics(struct waitlist *wl, char **buf, size_t *len,
			    size_t *cap);

#endif
