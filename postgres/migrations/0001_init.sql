-- Times are Unix microseconds (bigint), as in the SQLite store, so that both
-- engines hold exactly the same values. JSON-valued columns are text.

CREATE TABLE settings (
    key   text PRIMARY KEY,
    value bytea NOT NULL
);

CREATE TABLE tenants (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at bigint NOT NULL
);

CREATE TABLE api_keys (
    id         text PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       text NOT NULL,
    hash       bytea NOT NULL UNIQUE,
    created_at bigint NOT NULL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE event_types (
    name        text PRIMARY KEY,
    description text NOT NULL,
    schema      text,
    archived    boolean NOT NULL DEFAULT false,
    created_at  bigint NOT NULL,
    updated_at  bigint NOT NULL
);

CREATE TABLE webhooks (
    id                         text PRIMARY KEY,
    tenant_id                  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name                       text NOT NULL,
    url                        text NOT NULL,
    events                     text NOT NULL,
    headers                    text NOT NULL,
    timeout_ms                 bigint NOT NULL,
    enabled                    boolean NOT NULL,
    ssl_verification           boolean NOT NULL,
    channels                   text,
    filter                     text,
    max_attempts               integer NOT NULL,
    rate_limit                 integer NOT NULL DEFAULT 0,
    description                text NOT NULL,
    metadata                   text NOT NULL,
    signature                  text,
    secret                     text NOT NULL,
    previous_secret            text NOT NULL DEFAULT '',
    previous_secret_expires_at bigint NOT NULL DEFAULT 0,
    created_at                 bigint NOT NULL,
    updated_at                 bigint NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, id);

CREATE TABLE events (
    seq        bigserial PRIMARY KEY,
    tenant_id  text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    id         text NOT NULL,
    type       text NOT NULL,
    channels   text,
    created_at bigint NOT NULL,
    payload    bytea NOT NULL,
    UNIQUE (tenant_id, id)
);
CREATE INDEX events_tenant_seq ON events (tenant_id, seq);
CREATE INDEX events_tenant_type_seq ON events (tenant_id, type, seq);

CREATE TABLE deliveries (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL,
    event_seq        bigint NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
    webhook_id       text NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    status           text NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  bigint,
    manual           boolean NOT NULL DEFAULT false,
    last_status_code integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    response_time_us bigint NOT NULL DEFAULT 0,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('PENDING', 'RETRYING');
CREATE INDEX deliveries_webhook ON deliveries (webhook_id, id);
CREATE INDEX deliveries_event ON deliveries (event_seq);
CREATE INDEX deliveries_tenant_failed ON deliveries (tenant_id, updated_at) WHERE status = 'FAILED';
