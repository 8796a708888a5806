-- The web console's sessions. A portal link is a row with link_hash set;
-- using it clears link_hash and sets token_hash (the session cookie's hash).
-- A session dies with its tenant and with the API key that signed in.
CREATE TABLE console_sessions (
    id         text PRIMARY KEY,
    tenant_id  text REFERENCES tenants(id) ON DELETE CASCADE,
    key_id     text REFERENCES api_keys(id) ON DELETE CASCADE,
    read_only  boolean NOT NULL,
    link_hash  bytea UNIQUE,
    token_hash bytea UNIQUE,
    expires_at bigint NOT NULL,
    created_at bigint NOT NULL
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
-- The console's statistics read deliveries by creation time.
CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at);
