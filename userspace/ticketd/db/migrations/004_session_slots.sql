-- Holder slots taken by live sessions (commerce/sessions.c). A row reserves
-- its slot until busy_until = the session's expiry + session_slot_grace_seconds,
-- the longest a seat word can still carry the slot after the token lapsed;
-- a new session takes a slot only when its row is missing or past
-- busy_until, in one atomic statement, so daemons sharing this database
-- never hand one slot to two live tokens. slot_seq is the claim's sequence
-- value, unique per claim (two sessions minted in one second on one slot
-- would have the same session_id).
CREATE TABLE IF NOT EXISTS session_slots (
  slot        INT UNSIGNED NOT NULL PRIMARY KEY,
  slot_seq    BIGINT UNSIGNED NOT NULL,
  session_id  CHAR(16)     NOT NULL,
  busy_until  DATETIME(3)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The slot of each session, and the index the pruning job walks.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS slot INT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD KEY IF NOT EXISTS sessions_expires (expires_at);

-- Sessions minted before this migration reserve their slots too (their
-- token's slot is the first 8 hex digits of the id), for a day past their
-- expiry: longer than any sane grace. Where two live ones already share a
-- slot, the later expiry wins. MariaDB evaluates the assignments left to
-- right: slot_seq and session_id are decided before busy_until changes.
UPDATE sessions SET slot = CONV(LEFT(session_id, 8), 16, 10) WHERE slot = 0;
INSERT INTO session_slots (slot, slot_seq, session_id, busy_until)
  SELECT s.slot, s.slot_seq, s.session_id, s.expires_at + INTERVAL 1 DAY
  FROM sessions s
  WHERE s.expires_at + INTERVAL 1 DAY > NOW(3)
  ON DUPLICATE KEY UPDATE
    slot_seq = IF(VALUES(busy_until) > session_slots.busy_until,
                  VALUES(slot_seq), session_slots.slot_seq),
    session_id = IF(VALUES(busy_until) > session_slots.busy_until,
                    VALUES(session_id), session_slots.session_id),
    busy_until = GREATEST(session_slots.busy_until, VALUES(busy_until));
