-- A tenant's metadata: its callers' own key-value pairs (Svix's
-- application metadata), a JSON object; NULL when none.
ALTER TABLE tenants ADD COLUMN metadata TEXT;
