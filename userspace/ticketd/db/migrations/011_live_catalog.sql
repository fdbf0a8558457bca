-- Issue #17: a live catalogue changed through the admin API (docs/api.md,
-- "Admin: events"). An event's seat-table range (seat_base) is chosen once,
-- when it is created, after every other event's, and never moves; events
-- written before this migration get the ranges ticketd computed for them
-- (in id order, one after the other). revision grows with every change;
-- catalog_version.version with every change of any event, so other ticketd
-- nodes notice a change with one cheap read.
ALTER TABLE events
  ADD COLUMN IF NOT EXISTS state ENUM('PUBLISHED','DRAFT','CANCELLED')
      NOT NULL DEFAULT 'PUBLISHED',
  ADD COLUMN IF NOT EXISTS seat_base INT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS sale_starts_at DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS sale_ends_at DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS hold_limit SMALLINT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS hold_seconds SMALLINT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS max_hold_seconds SMALLINT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS categories TEXT NULL,  -- JSON array, NULL: []
  ADD COLUMN IF NOT EXISTS sections TEXT NULL,    -- JSON array, NULL: []
  ADD COLUMN IF NOT EXISTS revision BIGINT UNSIGNED NOT NULL DEFAULT 1;

-- section_id / category_id: the layout's ids (NULL: none); flags: 1
-- accessible, 2 companion, 4 blocked (kill seat), 8 gap (no seat).
ALTER TABLE seats
  ADD COLUMN IF NOT EXISTS section_id SMALLINT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS category_id SMALLINT UNSIGNED NULL,
  ADD COLUMN IF NOT EXISTS flags TINYINT UNSIGNED NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS catalog_version (
  id       TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  version  BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;
INSERT IGNORE INTO catalog_version (id, version) VALUES (1, 1);

-- Every admin change, written in the change's own transaction. actor is
-- the first 16 hex digits of SHA-256 of the admin key; client the caller's
-- address.
CREATE TABLE IF NOT EXISTS admin_audit (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at         DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  actor      CHAR(16)     NOT NULL,
  client     VARCHAR(64)  NOT NULL,
  action     VARCHAR(32)  NOT NULL,
  event_id   INT UNSIGNED NULL,
  request    MEDIUMTEXT   NULL,
  result     VARCHAR(255) NOT NULL,
  KEY admin_audit_event (event_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
