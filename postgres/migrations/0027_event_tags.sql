-- An event's tags (Svix's message tags: free-form, for filtering lists),
-- a JSON list; NULL: none.
ALTER TABLE events ADD COLUMN tags text;
