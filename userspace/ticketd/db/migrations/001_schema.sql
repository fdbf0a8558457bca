-- Catalogue, sessions, orders, sold seats, outbox and inbox.
-- Applied once by ticketd at start (schema_migrations records it).

CREATE TABLE IF NOT EXISTS events (
  id          INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name        VARCHAR(200) NOT NULL,
  venue       VARCHAR(200) NOT NULL,
  starts_at   DATETIME(3)  NOT NULL,
  seat_rows   SMALLINT UNSIGNED NOT NULL,
  seat_cols   SMALLINT UNSIGNED NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  CONSTRAINT events_has_seats CHECK (seat_rows > 0 AND seat_cols > 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- seat_id = r * seat_cols + c, as in the contract.
CREATE TABLE IF NOT EXISTS seats (
  event_id    INT UNSIGNED NOT NULL,
  seat_id     INT UNSIGNED NOT NULL,
  r           SMALLINT UNSIGNED NOT NULL,
  c           SMALLINT UNSIGNED NOT NULL,
  label       VARCHAR(16)  NOT NULL,
  price       INT UNSIGNED NOT NULL,
  PRIMARY KEY (event_id, seat_id),
  CONSTRAINT seats_event FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- slot_seq feeds the 22-bit holder slot carried in the session token
-- (slot = (slot_seq - 1) mod (2^22 - 2) + 1; the last slot is ticketd's).
CREATE SEQUENCE IF NOT EXISTS session_slot_seq START WITH 1 INCREMENT BY 1
  NOCACHE;

CREATE TABLE IF NOT EXISTS sessions (
  slot_seq    BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  session_id  CHAR(16)     NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  expires_at  DATETIME(3)  NOT NULL,
  UNIQUE KEY sessions_id (session_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS orders (
  id                VARCHAR(40)  NOT NULL PRIMARY KEY,
  session_id        CHAR(16)     NOT NULL,
  event_id          INT UNSIGNED NOT NULL,
  status            ENUM('PENDING','CONFIRMED','CANCELLED') NOT NULL,
  reason            VARCHAR(64)  NULL,
  amount            BIGINT UNSIGNED NOT NULL,
  idempotency_key   VARCHAR(64)  NOT NULL,
  request_hash      CHAR(64)     NOT NULL,
  created_at        DATETIME(3)  NOT NULL,
  payment_deadline  DATETIME(3)  NOT NULL,
  updated_at        DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
                                 ON UPDATE CURRENT_TIMESTAMP(3),
  UNIQUE KEY orders_idempotency (session_id, idempotency_key),
  KEY orders_pending_deadline (status, payment_deadline),
  CONSTRAINT orders_event FOREIGN KEY (event_id) REFERENCES events (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS order_seats (
  order_id    VARCHAR(40)  NOT NULL,
  event_id    INT UNSIGNED NOT NULL,
  seat_id     INT UNSIGNED NOT NULL,
  price       INT UNSIGNED NOT NULL,
  PRIMARY KEY (order_id, seat_id),
  KEY order_seats_seat (event_id, seat_id),
  CONSTRAINT order_seats_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The database's last line of defence against a double sale.
CREATE TABLE IF NOT EXISTS sold_seats (
  event_id    INT UNSIGNED NOT NULL,
  seat_id     INT UNSIGNED NOT NULL,
  order_id    VARCHAR(40)  NOT NULL,
  sold_at     DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (event_id, seat_id),
  CONSTRAINT sold_seats_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Transactional outbox: rows written in the same transaction as the change
-- they announce; the relay marks sent_at only on Kafka's delivery report.
CREATE TABLE IF NOT EXISTS outbox (
  id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  topic       VARCHAR(64)  NOT NULL,
  msg_key     VARCHAR(128) NOT NULL,
  payload     MEDIUMTEXT   NOT NULL,
  created_at  DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  sent_at     DATETIME(3)  NULL,
  KEY outbox_unsent (sent_at, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Consumer inbox: a message id is processed at most once per consumer.
CREATE TABLE IF NOT EXISTS inbox (
  consumer     VARCHAR(64)  NOT NULL,
  message_id   VARCHAR(128) NOT NULL,
  processed_at DATETIME(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (consumer, message_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
