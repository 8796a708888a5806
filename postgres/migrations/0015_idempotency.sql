-- Answers to requests made with an idempotency key (the Svix-compatible
-- API), kept 12 hours.
CREATE TABLE idempotency_keys (
    scope      text NOT NULL,
    key        text NOT NULL,
    status     integer NOT NULL,
    body       bytea NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
