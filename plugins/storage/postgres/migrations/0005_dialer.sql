-- 0005_dialer: the dialer looks at unsettled calls every tick (live ones
-- for concurrency, finished ones to settle, a campaign's to complete it).
-- A partial index keeps that proportional to the calls in flight, not to
-- every call an account has ever made.
CREATE INDEX calls_unsettled ON calls(status, campaign_id)
    WHERE settled_at IS NULL;
