-- Fewer pages per commit (issue 19): a tenant's attempts are read through
-- its webhooks (attempts_webhook_started), so the index by tenant goes,
-- and every record's commit writes one page less.
DROP INDEX attempts_tenant_started;
