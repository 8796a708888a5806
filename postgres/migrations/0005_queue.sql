-- The queue under contention (issue 12); see the SQLite migration of the
-- same number for what each part is for.
ALTER TABLE deliveries ADD COLUMN lease_token bigint NOT NULL DEFAULT 0,
    ADD COLUMN leased boolean NOT NULL DEFAULT false;
DROP INDEX deliveries_due;
CREATE INDEX deliveries_queue ON deliveries (webhook_id, next_attempt_at) WHERE status IN ('PENDING', 'RETRYING');
CREATE TABLE due_webhooks (
    webhook_id text PRIMARY KEY REFERENCES webhooks(id) ON DELETE CASCADE,
    due_at     bigint NOT NULL
);
CREATE INDEX due_webhooks_due ON due_webhooks (due_at);
INSERT INTO due_webhooks (webhook_id, due_at)
    SELECT webhook_id, min(next_attempt_at) FROM deliveries WHERE status IN ('PENDING', 'RETRYING') GROUP BY webhook_id;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_status_valid
    CHECK (status IN ('PENDING', 'RETRYING', 'SUCCESS', 'FAILED', 'CANCELED'));
