-- When a tenant's name or metadata last changed (Svix's application
-- updatedAt moved on no change before). NULL on rows made before: read as
-- created_at. No default: no rewrite of the table.
ALTER TABLE tenants ADD COLUMN updated_at bigint;
