CREATE TABLE attempts (
    delivery_id      text NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number           integer NOT NULL,
    tenant_id        text NOT NULL,
    webhook_id       text NOT NULL,
    started_at       bigint NOT NULL,
    duration_us      bigint NOT NULL,
    status_code      integer NOT NULL DEFAULT 0,
    error            text NOT NULL DEFAULT '',
    success          boolean NOT NULL,
    request_headers  text NOT NULL,
    response_headers text NOT NULL,
    response_body    bytea,
    PRIMARY KEY (delivery_id, number)
);
CREATE INDEX attempts_tenant_started ON attempts (tenant_id, started_at);
CREATE INDEX attempts_webhook_started ON attempts (webhook_id, started_at);
CREATE INDEX deliveries_tenant_status ON deliveries (tenant_id, status);
