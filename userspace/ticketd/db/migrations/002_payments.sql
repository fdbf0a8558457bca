-- Payments as the gateway decided them, and the holder slot an order's seat
-- words carry (the saga needs it to move them to SOLD or back).

ALTER TABLE orders ADD COLUMN IF NOT EXISTS slot INT UNSIGNED NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS payments (
  id           VARCHAR(40)  NOT NULL PRIMARY KEY,
  order_id     VARCHAR(40)  NOT NULL,
  status       ENUM('APPROVED','DECLINED','FAILED') NOT NULL,
  attempts     INT UNSIGNED NOT NULL,
  decided_at   DATETIME(3)  NOT NULL,
  UNIQUE KEY payments_order (order_id),
  CONSTRAINT payments_order_fk FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
