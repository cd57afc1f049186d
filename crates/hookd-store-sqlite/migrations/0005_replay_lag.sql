-- 0005: what replays and the lag of each event need.

-- When the transaction that stored the event began (the store's own clock). Rows
-- written before this migration have none; readers take received_at instead.
ALTER TABLE events ADD COLUMN committed_at INTEGER;

-- The webhook-id a job is forwarded with when it is not its event's id (a replay asked
-- for with new_id). NULL: the event's id.
ALTER TABLE jobs ADD COLUMN webhook_id TEXT;
