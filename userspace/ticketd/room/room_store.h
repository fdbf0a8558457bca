/* Data access for event_rooms (migration 008): the rooms' settings. */
#ifndef TICKETD_ROOM_STORE_H
#define TICKETD_ROOM_STORE_H

#include <mysql.h>
#include <stdint.h>

#include "userspace/ticketd/room/room.h"

typedef void (*room_store_row_fn)(void *ctx, uint32_t event_id,
				  const struct room_settings *s);

/* Calls row for every stored room. Returns the count or a negative errno. */
long long room_store_load(MYSQL *conn, room_store_row_fn row, void *ctx);

/* Inserts or replaces the room of event_id. 0 or a negative errno. */
int room_store_save(MYSQL *conn, uint32_t event_id, const struct room_settings *s);

#endif
