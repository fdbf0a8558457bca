/* The SSE hub: live seat streams (GET /api/events/{id}/seats/stream).
 *
 * One topic per event. Every published seat change is formatted once, as a
 * complete SSE frame, and appended to the topic's log: a bounded ring of
 * the last frames (sse_queue_events frames and sse_queue_bytes bytes at
 * most). A subscriber is a cursor into that log plus the frames only it
 * needs first (a snapshot, or the changes it missed by Last-Event-ID).
 * Publishing is O(1) and never waits for a client: a client whose cursor
 * falls behind the log's oldest frame had more than a full queue pending
 * and is dropped; it reconnects with Last-Event-ID.
 *
 * Idle streams are suspended in the HTTP server (no thread, no polling);
 * the hub thread resumes a topic's suspended streams when frames arrive,
 * and all of them every sse_ping_seconds for a ": ping" comment. Liveness
 * is ours to manage (a suspended connection never times out): the hub
 * thread watches every stream's socket for EPOLLRDHUP, so a peer that
 * closes is seen at once, and a ping to a peer that vanished fails (the
 * stream's TCP_USER_TIMEOUT is two ping periods) and ends the stream.
 *
 * Threads and locks (also docs/threads.md, "SSE"):
 *   seat_stream thread   sse_hub_seat_sink: topic->lock only, taken after
 *                        the event_stream lock is released; wakes the hub
 *                        thread through an eventfd.
 *   HTTP worker threads  sse_hub_subscribe: event_stream->lock (through
 *                        seat_stream_with_event), and topic->lock inside it, so a snapshot at version v
 *                        and the log position that continues after v are
 *                        taken together. sse_client_read: topic->lock
 *                        (libmicrohttpd holds the response's mutex around
 *                        the call), and inside it the suspend, which takes
 *                        libmicrohttpd's cleanup mutex. sse_client_release
 *                        (libmicrohttpd's free callback): topic->lock, then
 *                        hub->lock, not nested.
 *   hub thread           resume_lock, and topic->lock inside it; resumes
 *                        the waiters it took off a topic after dropping
 *                        topic->lock; hub->lock (a leaf) for freed clients.
 *   The order of these locks: docs/threads.md, "Lock order". */
#ifndef TICKETD_SSE_HUB_H
#define TICKETD_SSE_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ticketd;
struct event_info;
struct seat_event;
struct sse_hub;
struct sse_client;

/* How the hub parks and wakes a stream's connection (the HTTP layer's). */
struct sse_conn_ops {
	/* Called by sse_client_read on the connection's thread, before it
	 * returns 0: the connection gets no more calls until resume. */
	void (*suspend)(void *conn);
	/* Any thread; only for a connection that suspend parked. */
	void (*resume)(void *conn);
};

enum sse_subscribe_result {
	SSE_SUBSCRIBED = 0,
	SSE_NO_SUCH_EVENT,
	SSE_TOO_MANY_STREAMS,
	SSE_SHUTTING_DOWN,
	SSE_NO_MEMORY,
};

/* Reader results besides a byte count (match libmicrohttpd's). */
#define SSE_READ_END ((ssize_t)-1)   /* finish the stream cleanly */
#define SSE_READ_ABORT ((ssize_t)-2) /* close the connection */

int sse_hub_start(struct sse_hub **out, struct ticketd *app);

/* Ends every stream and refuses new ones; afterwards no connection is
 * suspended by the hub. Call before the HTTP server stops. */
void sse_hub_close(struct sse_hub *hub);

/* Stops the hub thread and frees everything. Call after the HTTP server
 * and the seat change stream have stopped. NULL is fine. */
void sse_hub_stop(struct sse_hub *hub);

/* Ends every open stream of one event cleanly (multi-node, issue #16: the
 * event moved to another node; a client that reconnects is redirected
 * there). Streams that subscribe later are not affected. Any thread. */
void sse_hub_end_event(struct sse_hub *hub, uint32_t event_id);

struct tkt_change;

/* The seat stream's sink (seat_sink_fn; ctx is the hub): appends the change
 * to its event's log and wakes the streams waiting for it. */
void sse_hub_seat_sink(void *hub, const struct event_info *e,
		       const struct seat_event *ev, const struct tkt_change *rec);

/* The same as a batch sink (seat_batch_sink_fn): changes of an event
 * with no stream get no frame (no stream could read them). */
struct seat_change;
void sse_hub_seat_batch_sink(void *hub, const struct seat_change *ch, uint32_t n);

/* Parses a Last-Event-ID value (NULL allowed): a decimal version up to
 * UINT64_MAX, nothing else. */
bool sse_parse_last_event_id(const char *s, uint64_t *out);

/* Registers a stream of event_id for connection conn (socket fd). The
 * stream starts with a snapshot, or with the changes after a valid
 * Last-Event-ID (last_event_id: the header's value or NULL) when the
 * replay ring or the Redis journal still has all of them. */
enum sse_subscribe_result sse_hub_subscribe(struct sse_hub *hub,
					    uint32_t event_id,
					    const char *last_event_id,
					    const struct sse_conn_ops *ops,
					    void *conn, int fd,
					    struct sse_client **out);

/* Fills buf with up to max bytes of the stream. Returns the byte count,
 * SSE_READ_END or SSE_READ_ABORT, or 0 after it suspended the connection
 * (there is nothing to send now). Only on the connection's thread. */
ssize_t sse_client_read(struct sse_client *c, char *buf, size_t max);

/* The connection is gone: unregisters and frees the client. */
void sse_client_release(struct sse_client *c);

/* Appends the hub's Prometheus metrics. Returns 0 or -ENOMEM. */
int sse_hub_render_metrics(struct sse_hub *hub, char **buf, size_t *len,
			   size_t *cap);

#endif
