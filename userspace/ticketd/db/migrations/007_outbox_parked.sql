-- Outbox rows Kafka refuses for good (too large, unknown topic, invalid
-- record), moved here by the relay (messaging/outbox_relay.c) with the
-- broker's error, so they stop blocking the rows after them. While a row of
-- a (topic, msg_key) is parked, the later unsent rows of that key stay in
-- outbox unsent (held, order per key kept) until an operator replays or
-- discards the parked row (docs/operations.md, "Parked outbox rows").
CREATE TABLE IF NOT EXISTS outbox_parked (
  id          BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  topic       VARCHAR(64)  NOT NULL,
  msg_key     VARCHAR(128) NOT NULL,
  payload     MEDIUMTEXT   NOT NULL,
  created_at  DATETIME(3)  NOT NULL,
  parked_at   DATETIME(3)  NOT NULL,
  error       VARCHAR(255) NOT NULL,
  KEY outbox_parked_key (topic, msg_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The inbox is pruned by age (inbox_keep_hours): the index that walk uses.
ALTER TABLE inbox ADD KEY IF NOT EXISTS inbox_processed (processed_at);
