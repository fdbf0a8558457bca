-- The amount each recorded payment was authorised for. A decision read back
-- from ticketing.payments is applied only if its payment id, order id,
-- status and amount all match this row (rows from before this migration
-- take their order's amount, which is what was charged).

ALTER TABLE payments ADD COLUMN IF NOT EXISTS amount BIGINT UNSIGNED NULL AFTER status;
UPDATE payments p JOIN orders o ON o.id = p.order_id SET p.amount = o.amount
  WHERE p.amount IS NULL;
ALTER TABLE payments MODIFY amount BIGINT UNSIGNED NOT NULL;
