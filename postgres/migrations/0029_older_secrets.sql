-- A webhook's secrets rotated out before the newest previous one, each in
-- its grace: sealed as one JSON list [{secret, expiresAt}], '' for none.
-- Before, a second rotation within the first one's grace ended the first
-- secret at once, failing a receiver that had not yet switched. The newest
-- previous secret keeps its columns. A constant default: no rewrite.
ALTER TABLE webhooks ADD COLUMN older_secrets text NOT NULL DEFAULT '';
