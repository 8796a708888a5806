-- The delivery whose running out of attempts marked the webhook's failing
-- streak exhausted, for the disable that --disable-after makes later (with
-- no attempt to name) to say which: the contract logs every disable with
-- its delivery. NULL: none, or a streak from before this column.
ALTER TABLE webhooks ADD COLUMN exhausted_by TEXT;
