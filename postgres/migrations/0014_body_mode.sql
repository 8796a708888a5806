-- What a webhook's requests carry: the event's envelope, or its data
-- alone (raw, as Svix sends a message's payload).
ALTER TABLE webhooks ADD COLUMN body_mode text NOT NULL DEFAULT 'envelope';
