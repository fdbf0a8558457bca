/* The waiting rooms of the daemon (docs/api.md, "Waiting room"): one room
 * core (room.h) per catalogue event behind its own lock, the ticket and
 * admin keys, the settings in MariaDB (room_store.h), the progress file,
 * the ticker thread, the automatic rate and the room streams (SSE).
 *
 * Threads and locks (docs/threads.md, "Waiting room"):
 *   HTTP workers   rooms_visit, rooms_gate, rooms_touch, rooms_put: one
 *                  room's lock at a time (a leaf but for the edge calls it
 *                  makes, whose locks are leaves too); the stream reader
 *                  takes a room's lock, drops it, then streams_lock (a
 *                  leaf) to park its connection.
 *   room ticker    every 100 ms: each room's lock in turn (draw, serving
 *                  counter, idle admissions); every 500 ms with news (or
 *                  every second) it takes the parked streams off under
 *                  streams_lock and resumes them after unlocking; once a
 *                  second the automatic rate and the progress file. */
#ifndef TICKETD_ROOM_SERVICE_H
#define TICKETD_ROOM_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "userspace/ticketd/room/room.h"
#include "userspace/ticketd/room/room_ticket.h"

struct ticketd;
struct session;
struct rooms;

/* How full the purchase doors are now (in-flight over cap, 0 when
 * uncapped), for the automatic rate; main.c wires the HTTP layer's. */
typedef double (*rooms_fill_fn)(struct ticketd *app);

/* Loads the keys (<state_dir>/room.key, <state_dir>/admin.key: created
 * 0600), the settings and the progress file, and starts the ticker. ops
 * marks admissions in the seat table; fill (may be NULL) tells the
 * automatic rate how full the purchase doors are. 0 or -1 with err
 * filled. */
int rooms_start(struct rooms **out, struct ticketd *app,
		const struct room_edge_ops *ops, rooms_fill_fn fill, char *err,
		size_t errlen);
/* Ends every room stream and refuses new ones, and stops the ticker (it
 * reads the HTTP server's gates); before the HTTP server stops: no
 * connection may stay suspended. */
void rooms_close(struct rooms *rs);
/* Stops the ticker (writing the progress file) and frees. NULL is fine. */
void rooms_stop(struct rooms *rs);

enum rooms_result {
	ROOMS_OK = 0,
	ROOMS_NO_EVENT,
	ROOMS_TICKET_MALFORMED,
	ROOMS_TICKET_INVALID,   /* forged, another session's or event's */
	ROOMS_NOT_IN_QUEUE,
	ROOMS_FULL,
	ROOMS_NOMEM,
	ROOMS_DB_BUSY,
	ROOMS_DB_ERROR,
	ROOMS_CLOSED,
	ROOMS_TOO_MANY_STREAMS,
};

struct rooms_answer {
	struct room_view view;
	char ticket[ROOM_TICKET_MAX]; /* "" when state is ROOM_OPEN */
};

/* A join (create true) or poll of session s; ticket is the presented one
 * (NULL or "" when none). */
enum rooms_result rooms_visit(struct rooms *rs, uint32_t event_id,
			      const struct session *s, const char *ticket,
			      bool create, struct rooms_answer *out);

/* May session s (NULL: no session) see the seat map of event_id? True
 * when the event has no active room or s is admitted (its activity is
 * refreshed). */
bool rooms_gate(struct rooms *rs, uint32_t event_id, const struct session *s);

/* Any authenticated request: refreshes an admitted session's activity in
 * every room that is on. */
void rooms_touch(struct rooms *rs, const struct session *s);

/* Admin: the settings and live figures of event_id's room. */
enum rooms_result rooms_get(struct rooms *rs, uint32_t event_id,
			    struct room_settings *set, struct room_stats *st);
/* Admin: stores new settings (MariaDB first), then applies them. */
enum rooms_result rooms_put(struct rooms *rs, uint32_t event_id,
			    const struct room_settings *set);

/* Is value (an Authorization header's) "Bearer <admin key>"? Constant
 * time in the key. */
bool rooms_admin_authorized(struct rooms *rs, const char *value);

/* ---- room streams (SSE) ---- */
struct room_stream;
struct room_conn_ops {
	void (*suspend)(void *conn);
	void (*resume)(void *conn);
};

/* Opens a stream of session s's place in event_id's room (as rooms_visit
 * without create). */
enum rooms_result rooms_stream_open(struct rooms *rs, uint32_t event_id,
				    const struct session *s, const char *ticket,
				    const struct room_conn_ops *ops, void *conn,
				    struct room_stream **out);
/* The stream's reader (http_stream_read_fn's contract): bytes, -1 end,
 * or 0 after it parked the connection. Only on the connection's thread. */
ssize_t room_stream_read(struct room_stream *st, char *buf, size_t max);
/* The connection is gone. */
void room_stream_release(struct room_stream *st);

/* Appends the room metrics (ticketd_room_*). 0 or -ENOMEM. */
int rooms_render_metrics(struct rooms *rs, char **buf, size_t *len, size_t *cap);

#endif
