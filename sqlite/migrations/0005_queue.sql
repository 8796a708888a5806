-- The queue under contention (issue 12).
-- lease_token fences every write about an attempt to the claim that made
-- it: a claim, a manual retry and a release each give the delivery a new
-- one, and an outcome, release or extension is written only where its token
-- is still current. leased tells a claimed delivery from one that waits.
ALTER TABLE deliveries ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN leased INTEGER NOT NULL DEFAULT 0;
-- Claims read one webhook's due deliveries at a time, earliest first; the
-- global due-time index goes (due_webhooks orders webhooks instead).
DROP INDEX deliveries_due;
CREATE INDEX deliveries_queue ON deliveries (webhook_id, next_attempt_at) WHERE status IN ('PENDING', 'RETRYING');
-- The webhooks that have waiting deliveries. due_at is never later than a
-- webhook's earliest waiting delivery (but while a claim defers the webhook
-- on purpose), so a claim takes webhooks oldest-due first, a few rows of
-- each, and no webhook's backlog stands in front of another's.
CREATE TABLE due_webhooks (
    webhook_id TEXT PRIMARY KEY REFERENCES webhooks(id) ON DELETE CASCADE,
    due_at     INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX due_webhooks_due ON due_webhooks (due_at);
INSERT INTO due_webhooks (webhook_id, due_at)
    SELECT webhook_id, min(next_attempt_at) FROM deliveries WHERE status IN ('PENDING', 'RETRYING') GROUP BY webhook_id;
-- A delivery's status is one of the contract's: an outcome that writes
-- anything else fails, and alone (queue.Record splits a batch around it).
-- Inserts are hookd's own SQL with 'PENDING' written in: a trigger there
-- cost a third of the publish rate at fan-out 10, so there is none.
CREATE TRIGGER deliveries_status_update BEFORE UPDATE OF status ON deliveries
    WHEN NEW.status NOT IN ('PENDING', 'RETRYING', 'SUCCESS', 'FAILED', 'CANCELED')
    BEGIN SELECT RAISE(ABORT, 'invalid delivery status'); END;
