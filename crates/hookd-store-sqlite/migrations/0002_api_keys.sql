-- 0002: API keys, and the indexes the event listing walks.

-- One row per API key. The token itself is never stored, only its SHA-256 (hex).
-- Revoking sets revoked_at; the row stays so the key is still found (and refused).
CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,          -- key_…
    tenant     TEXT    NOT NULL,                      -- '*' for an admin key of every tenant
    scope      TEXT    NOT NULL,                      -- read, write or admin
    name       TEXT,
    token_hash TEXT    NOT NULL UNIQUE,               -- authentication looks keys up by it
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

-- A tenant's keys, oldest first.
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at, id);

-- The event listing pages newest first by id (evt_<ULID>: id order is time order), with
-- the cursor as `id < before_id`. Each index ends in id, so a listing filtered by its
-- leading column walks it backwards from the cursor and stops after `limit` rows, with
-- no sort. Sources belong to one tenant, so (source, id) also serves tenant + source.
CREATE INDEX events_tenant ON events (tenant, id);
CREATE INDEX events_source ON events (source, id);

-- A time window with an upper bound reads just the window (then sorts it by id) rather
-- than walking every newer event first: per tenant, and for admin listings.
CREATE INDEX events_tenant_received ON events (tenant, received_at);
CREATE INDEX events_received ON events (received_at);
