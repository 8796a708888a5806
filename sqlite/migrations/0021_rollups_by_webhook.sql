-- Deleting a webhook (or a tenant) cascades to its roll-ups, whose keys
-- lead with tenant_id: without an index on webhook_id each deleted webhook
-- scanned both tables whole (~0.6 s a webhook with a month of roll-ups;
-- minutes for a tenant of a thousand). With the hour, they also serve a
-- tenant's windowed statistics read webhook by webhook (PostgreSQL's
-- generic plan probes them). Only the pruner writes them.
CREATE INDEX stats_hourly_webhook ON stats_hourly (webhook_id, hour);
CREATE INDEX stats_hourly_bins_webhook ON stats_hourly_bins (webhook_id, hour);
