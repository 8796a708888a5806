-- When a user last enabled the webhook (its new updated_at), which starts
-- its health afresh: an attempt that started before it, recorded after
-- (sent before a disable and answered late), tells nothing of the webhook
-- as it is now. Before, such an attempt's 410 disabled again a webhook its
-- user had just re-enabled, and its failure started the new streak in the
-- past. 0: never enabled again. A constant default: no rewrite.
ALTER TABLE webhooks ADD COLUMN health_reset_at bigint NOT NULL DEFAULT 0;
