-- The status trigger of 0005, its check written as comparisons: SQLite
-- builds an IN list of more than two constants as an ephemeral index, a
-- B-tree with a pager and page cache of its own, and a trigger's builds it
-- again every time it runs: once an outcome (an outcome's update sets the
-- status), ~1 % of hookd's CPU at full load. Same rule, same error.
DROP TRIGGER deliveries_status_update;
CREATE TRIGGER deliveries_status_update BEFORE UPDATE OF status ON deliveries
    WHEN NEW.status IS NOT 'PENDING' AND NEW.status IS NOT 'RETRYING' AND NEW.status IS NOT 'SUCCESS'
        AND NEW.status IS NOT 'FAILED' AND NEW.status IS NOT 'CANCELED'
    BEGIN SELECT RAISE(ABORT, 'invalid delivery status'); END;
