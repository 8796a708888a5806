-- A webhook's uid: the caller's own name for it, unique in its tenant
-- (Svix's endpoint uid, which its API takes in place of the id).
ALTER TABLE webhooks ADD COLUMN uid text;
CREATE UNIQUE INDEX webhooks_tenant_uid ON webhooks (tenant_id, uid) WHERE uid IS NOT NULL;
