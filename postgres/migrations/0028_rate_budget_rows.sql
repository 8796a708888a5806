-- Every webhook has its rate budget row from its creation (CreateWebhook
-- makes it in the same statement): a claim then never inserts one, and so
-- never waits on another claim's uncommitted insert of it (a claim takes
-- the budgets it can with SKIP LOCKED, and a frozen process's claim held
-- every replica's claims behind its insert).
INSERT INTO rate_budgets (webhook_id, tat) SELECT id, 0 FROM webhooks ON CONFLICT DO NOTHING;
