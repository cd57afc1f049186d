-- 0001: events, their dedup keys, jobs and attempts.
-- Times are unix milliseconds chosen by the caller; the store reads no clock.

-- One row per stored webhook event. Immutable once written.
CREATE TABLE events (
    id                TEXT    NOT NULL PRIMARY KEY,   -- evt_<ULID>
    tenant            TEXT    NOT NULL,
    source            TEXT    NOT NULL,
    event_type        TEXT    NOT NULL,
    provider_event_id TEXT,
    dedup_key         TEXT    NOT NULL,
    occurred_at       INTEGER,
    received_at       INTEGER NOT NULL,
    headers           TEXT    NOT NULL,               -- JSON array of [name, value], in order
    body              BLOB    NOT NULL,               -- raw request body
    unrouted          INTEGER NOT NULL                -- 1 when no route matched
) STRICT;

-- The last event stored under each (source, dedup key). A repeat within the event's
-- window is a duplicate of event_id; a repeat after it replaces the row. No foreign key:
-- the row may outlive its event (retention) and still name the original id.
CREATE TABLE dedup (
    source      TEXT    NOT NULL,
    dedup_key   TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, dedup_key)
) STRICT, WITHOUT ROWID;

-- One unit of work: (event, target). AUTOINCREMENT so ids are never reused: per-key
-- FIFO follows id order.
CREATE TABLE jobs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id           TEXT    NOT NULL REFERENCES events (id),
    tenant             TEXT    NOT NULL,
    queue              TEXT    NOT NULL,
    priority           INTEGER NOT NULL,
    ordering_key       TEXT,
    target             TEXT    NOT NULL,              -- Target::to_storage, e.g. http:app
    state              TEXT    NOT NULL CHECK (state IN
                           ('scheduled', 'ready', 'running', 'retrying', 'succeeded', 'dead')),
    run_at             INTEGER NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,    -- started so far, the running one included
    attempt_started_at INTEGER,                       -- when the running attempt was claimed
    lease_until        INTEGER,
    lease_owner        TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    last_error         TEXT
) STRICT;

CREATE INDEX jobs_event ON jobs (event_id);

-- The claim walks this in (priority, run_at, id) order within one queue and only sees
-- jobs that may become runnable.
CREATE INDEX jobs_claim ON jobs (queue, priority, run_at, id)
    WHERE state IN ('scheduled', 'ready', 'retrying');

-- Per-key FIFO: finds an earlier unfinished sibling of a keyed job.
CREATE INDEX jobs_ordering ON jobs (queue, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state NOT IN ('succeeded', 'dead');

-- The next wake-up of a queue: earliest run_at among jobs waiting for their time.
CREATE INDEX jobs_waiting ON jobs (queue, run_at)
    WHERE state IN ('scheduled', 'retrying');

-- The lease rescuer: running jobs by lease end.
CREATE INDEX jobs_leases ON jobs (lease_until)
    WHERE state = 'running';

-- One row per finished attempt (succeeded, failed, dead, lease_expired).
CREATE TABLE attempts (
    job_id      INTEGER NOT NULL REFERENCES jobs (id),
    number      INTEGER NOT NULL,
    node        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'dead', 'lease_expired')),
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    response    TEXT,
    error       TEXT,
    PRIMARY KEY (job_id, number)
) STRICT, WITHOUT ROWID;
