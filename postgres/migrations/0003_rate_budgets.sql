-- A rate-limited webhook's shared send budget: the theoretical arrival time
-- of its next send (hookd.RateAvailable), spent by claims. Claims lock a
-- webhook's row, so replicas spend one budget in turn.
CREATE TABLE rate_budgets (
    webhook_id text PRIMARY KEY REFERENCES webhooks(id) ON DELETE CASCADE,
    tat        bigint NOT NULL
);
