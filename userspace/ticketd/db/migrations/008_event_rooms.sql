-- The waiting room of an event (issue #12; docs/api.md, "Waiting room"),
-- changed through PUT /admin/events/{id}/room (ticketctl room). No row: no
-- room. The queue itself lives in ticketd's memory (room/room.c).
CREATE TABLE IF NOT EXISTS event_rooms (
  event_id       INT UNSIGNED NOT NULL PRIMARY KEY,
  enabled        TINYINT(1)   NOT NULL DEFAULT 0,
  starts_at      DATETIME(3)  NULL,      -- NULL: open at once (no pre-queue)
  rate_per_s     INT UNSIGNED NOT NULL DEFAULT 50,   -- 0: automatic
  active_max     INT UNSIGNED NOT NULL DEFAULT 1000,
  idle_seconds   INT UNSIGNED NOT NULL DEFAULT 120,
  admit_seconds  INT UNSIGNED NOT NULL DEFAULT 600,
  updated_at     DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  CONSTRAINT event_rooms_event FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
