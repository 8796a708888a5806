-- Hourly totals of what --retention pruned, per webhook: the attempts by
-- the hour they started and the deliveries by the hour they were created.
-- They hold only pruned rows, so statistics add them to the rows still
-- kept without counting anything twice. A deleted webhook takes its own,
-- as it takes its deliveries.
CREATE TABLE stats_hourly (
    tenant_id          text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    webhook_id         text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    hour               bigint NOT NULL,
    attempts           bigint NOT NULL DEFAULT 0,
    successes          bigint NOT NULL DEFAULT 0,
    answered           bigint NOT NULL DEFAULT 0,
    answered_us        bigint NOT NULL DEFAULT 0,
    delivered_success  bigint NOT NULL DEFAULT 0,
    delivered_failed   bigint NOT NULL DEFAULT 0,
    delivered_canceled bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, webhook_id, hour)
);

-- The same attempts by latency bin (hookd.LatencyBounds; -1: no answer),
-- for the console's charts.
CREATE TABLE stats_hourly_bins (
    tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    webhook_id text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    hour       bigint NOT NULL,
    bin        bigint NOT NULL,
    attempts   bigint NOT NULL,
    successes  bigint NOT NULL,
    PRIMARY KEY (tenant_id, webhook_id, hour, bin)
);
