-- The audit log: every change to a tenant's configuration, written in the
-- transaction of the change. seq orders it (and pages it); it goes with
-- its tenant.
CREATE TABLE audit_log (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          text NOT NULL UNIQUE,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at          bigint NOT NULL,
    actor_type  text NOT NULL,
    actor_id    text NOT NULL,
    action      text NOT NULL,
    target_type text NOT NULL,
    target_id   text NOT NULL,
    changes     text NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
