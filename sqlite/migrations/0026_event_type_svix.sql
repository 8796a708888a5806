-- What Svix's API shows of an event type and hookd keeps for it:
-- deprecated, featureFlag and groupName (NULL: none).
ALTER TABLE event_types ADD COLUMN deprecated INTEGER NOT NULL DEFAULT 0;
ALTER TABLE event_types ADD COLUMN feature_flag TEXT;
ALTER TABLE event_types ADD COLUMN group_name TEXT;
