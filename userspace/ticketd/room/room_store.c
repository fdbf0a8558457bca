/* Data access for event_rooms (room_store.h). */
#include "userspace/ticketd/room/room_store.h"

#include <errno.h>
#include <stdlib.h>

#include "userspace/ticketd/db/db.h"

struct load_ctx {
	room_store_row_fn row;
	void *ctx;
};

static int load_row(void *arg, int n, char **v)
{
	struct load_ctx *lc = arg;
	struct room_settings s = {0};

	if (n != 7 || !v[0])
		return -EIO;
	s.enabled = v[1] && atoi(v[1]) != 0;
	s.starts_at_ms = v[2] ? strtoll(v[2], NULL, 10) : 0;
	s.rate_per_s = (uint32_t)strtoul(v[3] ? v[3] : "0", NULL, 10);
	s.active_max = (uint32_t)strtoul(v[4] ? v[4] : "0", NULL, 10);
	s.idle_seconds = (uint32_t)strtoul(v[5] ? v[5] : "0", NULL, 10);
	s.admit_seconds = (uint32_t)strtoul(v[6] ? v[6] : "0", NULL, 10);
	lc->row(lc->ctx, (uint32_t)strtoul(v[0], NULL, 10), &s);
	return 0;
}

long long room_store_load(MYSQL *conn, room_store_row_fn row, void *ctx)
{
	struct load_ctx lc = {row, ctx};

	return db_select(conn,
			 "SELECT event_id, enabled,"
			 " CAST(ROUND(UNIX_TIMESTAMP(starts_at) * 1000) AS SIGNED),"
			 " rate_per_s, active_max, idle_seconds, admit_seconds"
			 " FROM event_rooms ORDER BY event_id",
			 load_row, &lc, "");
}

int room_store_save(MYSQL *conn, uint32_t event_id, const struct room_settings *s)
{
	uint64_t ev = event_id, en = s->enabled, rate = s->rate_per_s,
		 act = s->active_max, idle = s->idle_seconds, admit = s->admit_seconds;
	int64_t starts = s->starts_at_ms;
	long long n = db_exec(
		conn,
		"INSERT INTO event_rooms (event_id, enabled, starts_at, rate_per_s,"
		" active_max, idle_seconds, admit_seconds, updated_at)"
		" VALUES (?, ?, FROM_UNIXTIME(NULLIF(?, 0) / 1000), ?, ?, ?, ?, NOW(3))"
		" ON DUPLICATE KEY UPDATE enabled = VALUES(enabled),"
		" starts_at = VALUES(starts_at), rate_per_s = VALUES(rate_per_s),"
		" active_max = VALUES(active_max), idle_seconds = VALUES(idle_seconds),"
		" admit_seconds = VALUES(admit_seconds), updated_at = NOW(3)",
		"uuiuuuu", ev, en, starts, rate, act, idle, admit);

	return n < 0 ? (int)n : 0;
}
