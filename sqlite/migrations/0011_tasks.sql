-- Long operations a user started (a replay), run in chunks by whichever
-- process holds the lease (lease_token fences its writes). cursor and
-- end_seq are how far it got and where it stops; total and done are what
-- the API reports.
CREATE TABLE tasks (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    params      TEXT NOT NULL,
    prepared    INTEGER NOT NULL DEFAULT 0,
    cursor_seq  INTEGER NOT NULL DEFAULT 0,
    end_seq     INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    done        INTEGER NOT NULL DEFAULT 0,
    error       TEXT NOT NULL DEFAULT '',
    lease_token INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX tasks_running ON tasks (created_at) WHERE status = 'running';
