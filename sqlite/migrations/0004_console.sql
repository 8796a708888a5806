-- The web console's sessions. A portal link is a row with link_hash set;
-- using it clears link_hash and sets token_hash (the session cookie's hash).
-- A session dies with its tenant and with the API key that signed in.
CREATE TABLE console_sessions (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT REFERENCES tenants(id) ON DELETE CASCADE,
    key_id     TEXT REFERENCES api_keys(id) ON DELETE CASCADE,
    read_only  INTEGER NOT NULL,
    link_hash  BLOB UNIQUE,
    token_hash BLOB UNIQUE,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
-- The console's statistics read deliveries by creation time.
CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at);
