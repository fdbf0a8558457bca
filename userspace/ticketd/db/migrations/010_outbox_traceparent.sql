-- #15 tracing (docs/ops/tracing.md): the W3C traceparent of the work that
-- wrote an outbox row (NULL: none, or tracing off). The relay runs on its
-- own thread, later; it continues the trace from here and sends the
-- context on as the Kafka message's traceparent header.
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS traceparent VARCHAR(55) NULL;
