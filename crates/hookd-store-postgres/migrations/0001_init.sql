-- 0001: the whole schema of the shared store. Times are unix milliseconds (BIGINT)
-- chosen by the caller, except events.committed_at, which the database stamps.
-- Every object lives in the schema the store was opened on (search_path), so several
-- hookd installations, or parallel tests, can share one database.
-- Names and ids that are sorted, paged or matched by prefix compare byte-wise
-- (COLLATE "C"), whatever the database's locale: id order is then arrival order and
-- every listing orders names as the embedded store does.

-- One row per stored webhook event. Immutable once written, but for `unrouted`, which a
-- replay clears.
CREATE TABLE events (
    id                TEXT COLLATE "C"    NOT NULL PRIMARY KEY,   -- evt_<ULID>: id order is time order
    tenant            TEXT COLLATE "C"    NOT NULL,
    source            TEXT COLLATE "C"    NOT NULL,
    event_type        TEXT COLLATE "C"    NOT NULL,
    provider_event_id TEXT,
    dedup_key         TEXT COLLATE "C"    NOT NULL,
    occurred_at       BIGINT,
    received_at       BIGINT  NOT NULL,
    committed_at      BIGINT  NOT NULL,
    headers           JSONB   NOT NULL,               -- [[name, value], …] in order
    body              BYTEA   NOT NULL,
    unrouted          BOOLEAN NOT NULL
);

-- Event listing: newest first by id within a filter's leading column.
CREATE INDEX events_tenant ON events (tenant, id);
CREATE INDEX events_source ON events (source, id);
CREATE INDEX events_tenant_received ON events (tenant, received_at);
CREATE INDEX events_received ON events (received_at);

-- The last event stored under each (source, dedup key); may outlive its event.
CREATE TABLE dedup (
    source      TEXT COLLATE "C"   NOT NULL,
    dedup_key   TEXT COLLATE "C"   NOT NULL,
    event_id    TEXT COLLATE "C"   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (source, dedup_key)
);
CREATE INDEX dedup_received ON dedup (received_at);

-- One unit of work: (event, target). Ids come from a sequence and only grow: per-key
-- FIFO follows id order.
CREATE TABLE jobs (
    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id           TEXT COLLATE "C"    NOT NULL REFERENCES events (id),
    tenant             TEXT COLLATE "C"    NOT NULL,
    queue              TEXT COLLATE "C"    NOT NULL,
    priority           SMALLINT NOT NULL,
    ordering_key       TEXT COLLATE "C",
    target             TEXT    NOT NULL,              -- Target::to_storage, e.g. http:app
    state              TEXT    NOT NULL CHECK (state IN
                           ('scheduled', 'ready', 'running', 'retrying', 'succeeded', 'dead')),
    run_at             BIGINT  NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    attempt_started_at BIGINT,
    lease_until        BIGINT,
    lease_owner        TEXT,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL,
    last_error         TEXT,
    webhook_id         TEXT                           -- NULL: the event's id
);

CREATE INDEX jobs_event ON jobs (event_id);
-- The claim walks a queue's waiting jobs in (priority, run_at, id) order.
CREATE INDEX jobs_claim ON jobs (queue, priority, run_at, id)
    WHERE state IN ('scheduled', 'ready', 'retrying');
-- Per-key FIFO: an earlier unfinished sibling of a keyed job.
CREATE INDEX jobs_ordering ON jobs (queue, ordering_key, id)
    WHERE ordering_key IS NOT NULL AND state NOT IN ('succeeded', 'dead');
-- The next wake-up of a queue.
CREATE INDEX jobs_waiting ON jobs (queue, run_at)
    WHERE state IN ('scheduled', 'retrying');
-- The lease rescuer.
CREATE INDEX jobs_leases ON jobs (lease_until) WHERE state = 'running';
-- Depth by state, and finished jobs for throughput and retention.
CREATE INDEX jobs_queue_active ON jobs (queue, state, run_at)
    WHERE state IN ('scheduled', 'ready', 'running', 'retrying');
CREATE INDEX jobs_queue_finished ON jobs (queue, state, updated_at)
    WHERE state IN ('succeeded', 'dead');
-- Dead letters.
CREATE INDEX jobs_dead ON jobs (tenant, queue, id) WHERE state = 'dead';

-- One row per finished attempt.
CREATE TABLE attempts (
    job_id      BIGINT  NOT NULL REFERENCES jobs (id),
    number      INTEGER NOT NULL,
    node        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'dead', 'lease_expired')),
    started_at  BIGINT  NOT NULL,
    duration_ms BIGINT  NOT NULL,
    status_code INTEGER,
    response    TEXT,
    error       TEXT,
    PRIMARY KEY (job_id, number)
);

-- API keys: only the SHA-256 of the token is kept.
CREATE TABLE api_keys (
    id         TEXT COLLATE "C"   NOT NULL PRIMARY KEY,
    tenant     TEXT COLLATE "C"   NOT NULL,
    scope      TEXT   NOT NULL,
    name       TEXT,
    token_hash TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, id);

-- Paused queues.
CREATE TABLE queue_pauses (
    queue TEXT COLLATE "C" NOT NULL PRIMARY KEY
);

-- The audit log of write actions through the API. Append only.
CREATE TABLE audit (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT   NOT NULL,
    tenant TEXT COLLATE "C"   NOT NULL,
    action TEXT   NOT NULL,
    target TEXT   NOT NULL,
    count  BIGINT NOT NULL,
    detail TEXT
);
CREATE INDEX audit_tenant ON audit (tenant, id);

-- Configuration objects written through the API; a NULL body is a deletion.
CREATE TABLE config_objects (
    kind       TEXT   NOT NULL CHECK (kind IN ('source', 'route', 'queue', 'destination')),
    name       TEXT COLLATE "C"   NOT NULL,
    body       TEXT,
    updated_at BIGINT NOT NULL,
    updated_by TEXT   NOT NULL,
    PRIMARY KEY (kind, name)
);

-- Stats rollups: minute rows merged into hour rows; `data` is a StatsRollup.
CREATE TABLE stats_rollups (
    scope        TEXT   NOT NULL CHECK (scope IN ('source', 'queue')),
    name         TEXT COLLATE "C"   NOT NULL,
    resolution   BIGINT NOT NULL CHECK (resolution IN (60000, 3600000)),
    period_start BIGINT NOT NULL,
    tenant       TEXT COLLATE "C"   NOT NULL,
    data         JSONB  NOT NULL,
    PRIMARY KEY (scope, name, resolution, period_start)
);
CREATE INDEX stats_rollups_period ON stats_rollups (resolution, period_start, scope);
