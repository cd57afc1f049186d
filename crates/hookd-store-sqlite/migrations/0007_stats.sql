-- 0007: stats rollups per source and per queue. One row per (scope, name, period):
-- minute rows (resolution 60000) as nodes add their counts, merged into hour rows
-- (resolution 3600000) once old enough. `data` is a StatsRollup as JSON; every figure
-- in it adds up, so rows merge in any order.
CREATE TABLE stats_rollups (
    scope        TEXT    NOT NULL CHECK (scope IN ('source', 'queue')),
    name         TEXT    NOT NULL,
    resolution   INTEGER NOT NULL CHECK (resolution IN (60000, 3600000)),
    period_start INTEGER NOT NULL,
    tenant       TEXT    NOT NULL,
    data         TEXT    NOT NULL,
    PRIMARY KEY (scope, name, resolution, period_start)
) STRICT, WITHOUT ROWID;

-- Rows by resolution and age, whatever their scope and name: compaction walks it oldest
-- first, and queries over a whole scope read a period of it (the scope is checked in the
-- index; a query for one name uses the primary key instead).
CREATE INDEX stats_rollups_period ON stats_rollups (resolution, period_start, scope);
