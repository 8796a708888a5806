-- What Svix's API shows of an event type and hookd keeps for it:
-- deprecated, featureFlag and groupName (NULL: none).
ALTER TABLE event_types ADD COLUMN deprecated boolean NOT NULL DEFAULT false;
ALTER TABLE event_types ADD COLUMN feature_flag text;
ALTER TABLE event_types ADD COLUMN group_name text;
