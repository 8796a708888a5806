-- Portal links are no longer kept for a POST's idempotency-key (a link is
-- a credential, and was stored in clear): those kept before go now rather
-- than at the end of their 12 hours.
DELETE FROM idempotency_keys WHERE scope LIKE 'POST /api/v1/auth/app-portal-access/%';
