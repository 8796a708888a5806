-- The webhooks --disable-after may disable though no attempt of theirs is
-- being recorded (a dead endpoint with nothing left to send): the delivery
-- engine looks for them every few seconds; few rows are ever in it.
CREATE INDEX webhooks_failing ON webhooks (failing_since) WHERE exhausted = 1 AND enabled = 1;

-- The last references without an index of their own: deleting a tenant
-- scanned console_sessions and tasks whole for its rows, and revoking a
-- key scanned console_sessions. Both tables stay small and are written
-- rarely (a sign-in, a replay), so the indexes cost nothing that matters.
-- A test on each engine (TestReferencesIndexed) keeps every reference
-- indexed.
CREATE INDEX console_sessions_tenant ON console_sessions (tenant_id);
CREATE INDEX console_sessions_key ON console_sessions (key_id);
CREATE INDEX tasks_tenant ON tasks (tenant_id);
