-- Hourly totals of what --retention pruned, per webhook: the attempts by
-- the hour they started and the deliveries by the hour they were created.
-- They hold only pruned rows, so statistics add them to the rows still
-- kept without counting anything twice. A deleted webhook takes its own,
-- as it takes its deliveries.
CREATE TABLE stats_hourly (
    tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    webhook_id         TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    hour               INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    successes          INTEGER NOT NULL DEFAULT 0,
    answered           INTEGER NOT NULL DEFAULT 0,
    answered_us        INTEGER NOT NULL DEFAULT 0,
    delivered_success  INTEGER NOT NULL DEFAULT 0,
    delivered_failed   INTEGER NOT NULL DEFAULT 0,
    delivered_canceled INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, webhook_id, hour)
);

-- The same attempts by latency bin (hookd.LatencyBounds; -1: no answer),
-- for the console's charts.
CREATE TABLE stats_hourly_bins (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    hour       INTEGER NOT NULL,
    bin        INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    successes  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, webhook_id, hour, bin)
);
