-- A test send's event (POST …/webhooks/{id}/test, the console's, Svix's
-- send-example) is stored for its delivery, but belongs to the webhook it
-- was sent to: replays skip it. Before, a replay to a webhook subscribed
-- to "*" re-sent every other webhook's test pings, types the catalog
-- lacks and data its schemas refuse included. A constant default: no
-- rewrite of the table.
ALTER TABLE events ADD COLUMN test INTEGER NOT NULL DEFAULT 0;
