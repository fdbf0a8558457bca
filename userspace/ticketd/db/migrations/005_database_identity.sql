-- The database's identity: one row, a random UUID made once, when this
-- migration first runs. ticketd stamps it into the seat table (pinned BPF
-- maps or the seat file) after building the table from this database, and
-- at every start compares the two: a table built for another database (a
-- dropped and recreated one, another name, a wiped .run/) is cleared and
-- rebuilt, never served (docs/operations.md, "Seat table identity").
-- `one` is always 1: the primary key keeps the table to a single row, and
-- INSERT IGNORE never replaces the id once it exists.
CREATE TABLE IF NOT EXISTS database_identity (
  one         TINYINT UNSIGNED NOT NULL PRIMARY KEY,
  id          CHAR(36)     NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT IGNORE INTO database_identity (one, id) VALUES (1, UUID());
