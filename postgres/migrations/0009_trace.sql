-- The W3C traceparent of the span that published an event, so that its
-- attempts, even hours later, join the publisher's trace.
ALTER TABLE events ADD COLUMN traceparent text;
