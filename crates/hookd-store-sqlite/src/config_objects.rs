//! Configuration objects written through the API (table `config_objects` of migration
//! 0006): listing them on the read pool, creating or replacing one on the writer.
//!
//! The table holds a few objects per source, route, queue and destination, so a list
//! reads all of them and orders them in Rust, by [`ConfigKind`] as the enum orders its
//! kinds, then by name. A deletion is a row with a `NULL` body and is listed like any
//! other.

use hookd_store::{ConfigKind, ConfigObject, StoreError};
use rusqlite::types::Type;
use rusqlite::{Connection, Row, params};

use crate::error::{Invalid, SqliteResultExt};

/// Every stored object, ordered by kind then name. Runs on the read pool.
pub(crate) fn list(conn: &Connection) -> Result<Vec<ConfigObject>, StoreError> {
    const CONTEXT: &str = "listing configuration objects";
    let mut stmt = conn
        .prepare_cached(
            "SELECT kind, name, body, updated_at, updated_by FROM config_objects
             ORDER BY kind, name",
        )
        .ctx(CONTEXT)?;
    let mut objects: Vec<ConfigObject> = stmt
        .query_map([], object_from_row)
        .ctx(CONTEXT)?
        .collect::<Result<_, _>>()
        .ctx(CONTEXT)?;
    // Rows come in name order within a kind; a stable sort by kind keeps it.
    objects.sort_by_key(|object| object.kind);
    Ok(objects)
}

fn object_from_row(row: &Row<'_>) -> rusqlite::Result<ConfigObject> {
    let kind: String = row.get(0)?;
    let kind = ConfigKind::parse(&kind).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            Type::Text,
            Box::new(Invalid(format!("unknown configuration kind {kind:?}"))),
        )
    })?;
    Ok(ConfigObject {
        kind,
        name: row.get(1)?,
        body: row.get(2)?,
        updated_at: row.get(3)?,
        updated_by: row.get(4)?,
    })
}

/// Creates or replaces the object of its kind and name. Runs on the writer.
pub(crate) fn put(conn: &Connection, object: &ConfigObject) -> Result<(), StoreError> {
    const CONTEXT: &str = "storing a configuration object";
    conn.prepare_cached(
        "INSERT INTO config_objects (kind, name, body, updated_at, updated_by)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (kind, name) DO UPDATE
         SET body = excluded.body, updated_at = excluded.updated_at,
             updated_by = excluded.updated_by",
    )
    .ctx(CONTEXT)?
    .execute(params![
        object.kind.as_str(),
        object.name,
        object.body,
        object.updated_at,
        object.updated_by
    ])
    .ctx(CONTEXT)?;
    Ok(())
}
