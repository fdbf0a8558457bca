-- Ticket check-in (#17, docs/tickets.md): one row per ticket that entered.
-- The primary key makes a ticket used exactly once: of two scanners that
-- race, one INSERT wins and the other reads the winner's row back.
-- scanned_at_ms is the scanner's clock (an offline scan is uploaded later),
-- received_at the database's.
CREATE TABLE IF NOT EXISTS ticket_checkins (
  order_id       VARCHAR(40)     NOT NULL,
  seat_id        INT UNSIGNED    NOT NULL,
  event_id       INT UNSIGNED    NOT NULL,
  serial         INT UNSIGNED    NOT NULL,
  scanner_id     VARCHAR(64)     NOT NULL,
  scanned_at_ms  BIGINT          NOT NULL,
  received_at    DATETIME(3)     NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (order_id, seat_id),
  KEY ticket_checkins_event (event_id, received_at),
  CONSTRAINT ticket_checkins_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
