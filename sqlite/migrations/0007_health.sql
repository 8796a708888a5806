-- Endpoint health, kept with the webhook and updated in the transaction that
-- records attempts, so every process agrees; and why a webhook is disabled.
-- Times are Unix microseconds, 0 for none.
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN failing_since INTEGER NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_success_at INTEGER NOT NULL DEFAULT 0;
-- A delivery ended FAILED out of attempts during the current failing streak.
ALTER TABLE webhooks ADD COLUMN exhausted INTEGER NOT NULL DEFAULT 0;
UPDATE webhooks SET disabled_reason = 'manual' WHERE enabled = 0;
