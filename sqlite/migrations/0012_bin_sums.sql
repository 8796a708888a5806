-- The answered attempts' response times added up per roll-up bin, so that
-- percentiles over pruned hours are placed by each bin's mean (an
-- endpoint that always takes 2.5 s reads 2.5 s). Roll-ups written before
-- have 0: their bins fall back to the whole bin.
ALTER TABLE stats_hourly_bins ADD COLUMN answered_us INTEGER NOT NULL DEFAULT 0;
