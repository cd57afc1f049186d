-- 0003: paused queues, and the indexes that count a queue's jobs by state.

-- One row per paused queue; resuming deletes it. Kept in the store so a pause survives
-- a restart and every node sees it.
CREATE TABLE queue_pauses (
    queue TEXT NOT NULL PRIMARY KEY
) STRICT, WITHOUT ROWID;

-- Depth by state: unfinished jobs, counted from this covering index alone (run_at tells
-- due from waiting), so the count reads only the jobs that are still in flight.
CREATE INDEX jobs_queue_active ON jobs (queue, state, run_at)
    WHERE state IN ('scheduled', 'ready', 'running', 'retrying');

-- Finished jobs by queue and state, with when they ended (updated_at) for throughput.
-- Counting them reads this index only, never the table; its size is bounded by
-- retention, which prunes finished jobs.
CREATE INDEX jobs_queue_finished ON jobs (queue, state, updated_at)
    WHERE state IN ('succeeded', 'dead');
