-- When a tenant's name or metadata last changed (Svix's application
-- updatedAt moved on no change before). NULL on rows made before: read as
-- created_at.
ALTER TABLE tenants ADD COLUMN updated_at INTEGER;
