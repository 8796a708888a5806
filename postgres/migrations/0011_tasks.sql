-- Long operations a user started (a replay), run in chunks by whichever
-- process holds the lease (lease_token fences its writes). cursor and
-- end_seq are how far it got and where it stops; total and done are what
-- the API reports.
CREATE TABLE tasks (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind        text NOT NULL,
    status      text NOT NULL,
    params      text NOT NULL,
    prepared    boolean NOT NULL DEFAULT false,
    cursor_seq  bigint NOT NULL DEFAULT 0,
    end_seq     bigint NOT NULL DEFAULT 0,
    total       bigint NOT NULL DEFAULT 0,
    done        bigint NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    lease_token bigint NOT NULL DEFAULT 0,
    lease_until bigint NOT NULL DEFAULT 0,
    created_at  bigint NOT NULL,
    finished_at bigint
);
CREATE INDEX tasks_running ON tasks (created_at) WHERE status = 'running';
