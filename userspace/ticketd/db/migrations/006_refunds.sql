-- Refunds and authorizations in flight (#11): no buyer is charged for
-- nothing.
--
-- refund_status: NULL = nothing to return; PENDING = the order was
-- cancelled although the gateway approved (late approval, seat already
-- sold, deadline) or may have charged (gateway kept failing): a refund
-- (void) is owed and is sent until the gateway acknowledges it, across
-- restarts; DONE = acknowledged (refund_result says REFUNDED or
-- NOT_CHARGED).
ALTER TABLE payments
  ADD COLUMN IF NOT EXISTS refund_status ENUM('PENDING','DONE') NULL,
  ADD COLUMN IF NOT EXISTS refund_attempts INT UNSIGNED NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS refund_next_at DATETIME(3) NULL,
  ADD COLUMN IF NOT EXISTS refund_result VARCHAR(16) NULL,
  ADD COLUMN IF NOT EXISTS refunded_at DATETIME(3) NULL,
  ADD INDEX IF NOT EXISTS payments_refund_due (refund_status, refund_next_at);

-- An authorization asked of the gateway and not yet recorded in payments:
-- written before the gateway is asked, deleted with the decision's
-- payments row. A row left at start (graceful stop with a retry pending,
-- or a crash) is asked again: the gateway answers an order idempotently.
CREATE TABLE IF NOT EXISTS payment_requests (
  order_id     VARCHAR(40)     NOT NULL PRIMARY KEY,
  amount       BIGINT UNSIGNED NOT NULL,
  requested_at DATETIME(3)     NOT NULL,
  CONSTRAINT payment_requests_order FOREIGN KEY (order_id) REFERENCES orders (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
