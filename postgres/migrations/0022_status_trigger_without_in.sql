-- SQLite's 0022 rewrites its status trigger, which built an ephemeral
-- index for its IN list on every outcome. PostgreSQL checks the status
-- with a constraint (0005) that costs no such thing; the number is kept so
-- that both engines' schema versions agree.
SELECT 1;
