-- The attempt log. number is the delivery's attempt count at the time,
-- plus one; tenant_id and webhook_id are copied so statistics read one
-- index range.
CREATE TABLE attempts (
    delivery_id      TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    number           INTEGER NOT NULL,
    tenant_id        TEXT NOT NULL,
    webhook_id       TEXT NOT NULL,
    started_at       INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    status_code      INTEGER NOT NULL DEFAULT 0,
    error            TEXT NOT NULL DEFAULT '',
    success          INTEGER NOT NULL,
    request_headers  TEXT NOT NULL,
    response_headers TEXT NOT NULL,
    response_body    BLOB,
    PRIMARY KEY (delivery_id, number)
) WITHOUT ROWID;
CREATE INDEX attempts_tenant_started ON attempts (tenant_id, started_at);
CREATE INDEX attempts_webhook_started ON attempts (webhook_id, started_at);
CREATE INDEX deliveries_tenant_status ON deliveries (tenant_id, status);
