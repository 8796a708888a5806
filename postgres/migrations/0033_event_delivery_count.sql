-- How many deliveries an event's publish created, so that a publish sent
-- again answers what the first one did: counted again each time, a
-- deleted webhook or a replay changed it. NULL: an event from before (its
-- deliveries are counted), or one hookd made itself.
ALTER TABLE events ADD COLUMN delivery_count integer;
