-- 0004: the audit log of write actions, and the index that finds dead jobs.

-- One row per write action through the API: who (actor), as which tenant, what
-- (action, target), how many objects it changed, and its parameters. Append only.
CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    tenant TEXT    NOT NULL,
    action TEXT    NOT NULL,
    target TEXT    NOT NULL,
    count  INTEGER NOT NULL,
    detail TEXT
) STRICT;

-- A tenant's entries, newest first.
CREATE INDEX audit_tenant ON audit (tenant, id);

-- Dead letters: listing, counting, requeueing and purging walk only the dead jobs.
CREATE INDEX jobs_dead ON jobs (tenant, queue, id) WHERE state = 'dead';
