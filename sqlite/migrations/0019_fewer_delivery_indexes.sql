-- Fewer pages per commit (issue 19): every index on deliveries is one more
-- page written by each publish's commit, which at a platform's usual rates
-- carries one event (docs/PERFORMANCE.md). status joins the tenant's
-- creation-time index, which then answers status counts by itself (the
-- statistics, windowed or not), and the (tenant_id, status) index goes:
-- counts of one webhook's waiting deliveries read deliveries_queue.
CREATE INDEX deliveries_tenant_created_status ON deliveries (tenant_id, created_at, status);
DROP INDEX deliveries_tenant_created;
DROP INDEX deliveries_tenant_status;
