-- A rate-limited webhook's shared send budget: the theoretical arrival time
-- of its next send (hookd.RateAvailable), spent by claims.
CREATE TABLE rate_budgets (
    webhook_id TEXT PRIMARY KEY REFERENCES webhooks(id) ON DELETE CASCADE,
    tat        INTEGER NOT NULL
) WITHOUT ROWID;
