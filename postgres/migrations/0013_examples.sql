-- An event type's example data objects (a JSON array; NULL: none), shown
-- in the console and sent by a test send of the type without data.
ALTER TABLE event_types ADD COLUMN examples text;
