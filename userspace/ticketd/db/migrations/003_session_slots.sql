-- Holder slots taken by live sessions (commerce/sessions.c). A row reserves
-- its slot until busy_until = the session's expiry + session_slot_grace_seconds,
-- the longest a seat word can still carry the slot after the token lapsed;
-- a new session takes a slot only when its row is missing or past
-- busy_until, in one atomic statement, so daemons sharing this database
-- never hand one slot to two live tokens.
CREATE TABLE IF NOT EXISTS session_slots (
  slot        INT UNSIGNED NOT NULL PRIMARY KEY,
  session_id  CHAR(16)     NOT NULL,
  busy_until  DATETIME(3)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The slot of each session, and the index the pruning job walks.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS slot INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD KEY IF NOT EXISTS sessions_expires (expires_at);
