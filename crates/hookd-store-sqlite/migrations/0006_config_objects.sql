-- 0006: configuration objects written through the API. They win over the file's
-- objects of the same kind and name; a row with a NULL body is a deletion, which also
-- hides the file's object.
CREATE TABLE config_objects (
    kind       TEXT    NOT NULL CHECK (kind IN ('source', 'route', 'queue', 'destination')),
    name       TEXT    NOT NULL,
    body       TEXT,                                   -- JSON object; NULL: deleted
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL,
    PRIMARY KEY (kind, name)
) STRICT, WITHOUT ROWID;
