-- Whether an attempt was made by hand (a retry, a recovery, a test send)
-- or by the schedule: Svix's triggerType, and the attempt log's "manual".
ALTER TABLE attempts ADD COLUMN manual INTEGER NOT NULL DEFAULT 0;
