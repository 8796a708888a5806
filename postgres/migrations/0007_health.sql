-- Endpoint health, kept with the webhook and updated in the transaction that
-- records attempts, so every process agrees; and why a webhook is disabled.
-- Times are Unix microseconds, 0 for none.
ALTER TABLE webhooks ADD COLUMN disabled_reason text;
ALTER TABLE webhooks ADD COLUMN disabled_at bigint NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN failing_since bigint NOT NULL DEFAULT 0;
ALTER TABLE webhooks ADD COLUMN last_success_at bigint NOT NULL DEFAULT 0;
-- A delivery ended FAILED out of attempts during the current failing streak.
ALTER TABLE webhooks ADD COLUMN exhausted boolean NOT NULL DEFAULT false;
UPDATE webhooks SET disabled_reason = 'manual' WHERE NOT enabled;
