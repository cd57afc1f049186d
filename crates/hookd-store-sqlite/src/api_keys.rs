//! API keys: storing them, finding one by the hash of its token (every authenticated
//! request), listing and revoking them. Writes go through the writer, reads through the
//! read pool.

use hookd_store::{ApiKey, Millis, NewApiKey, StoreError};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::SqliteResultExt;

/// The columns [`key_from_row`] reads, in its order.
const KEY_COLUMNS: &str = "id, tenant, scope, name, created_at, revoked_at";

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        tenant: row.get(1)?,
        scope: row.get(2)?,
        name: row.get(3)?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
    })
}

/// Stores a new key, never revoked (`key.revoked_at` is ignored). Runs on the writer.
///
/// # Errors
///
/// [`StoreError::Backend`] when the id or the token hash is already stored (the unique
/// constraints refuse it).
pub(crate) fn insert(conn: &Connection, new: &NewApiKey) -> Result<(), StoreError> {
    const CONTEXT: &str = "storing an API key";
    let key = &new.key;
    conn.prepare_cached(
        "INSERT INTO api_keys (id, tenant, scope, name, token_hash, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)",
    )
    .ctx(CONTEXT)?
    .execute(params![
        key.id,
        key.tenant,
        key.scope,
        key.name,
        new.token_hash,
        key.created_at
    ])
    .ctx(CONTEXT)?;
    Ok(())
}

/// The key whose token hashes to `token_hash`, revoked or not (the unique index on
/// `token_hash` makes this one lookup).
pub(crate) fn find(conn: &Connection, token_hash: &str) -> Result<Option<ApiKey>, StoreError> {
    const CONTEXT: &str = "finding an API key";
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE token_hash = ?1"
    ))
    .ctx(CONTEXT)?
    .query_row([token_hash], key_from_row)
    .optional()
    .ctx(CONTEXT)
}

/// The keys of `tenant` (`None`: of every tenant), oldest first; keys created in the
/// same millisecond follow their id.
pub(crate) fn list(conn: &Connection, tenant: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
    const CONTEXT: &str = "listing API keys";
    let mut stmt = match tenant {
        Some(_) => conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = ?1 ORDER BY created_at, id"
        )),
        None => conn.prepare_cached(&format!(
            "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        )),
    }
    .ctx(CONTEXT)?;
    let rows = match tenant {
        Some(tenant) => stmt.query_map([tenant], key_from_row),
        None => stmt.query_map([], key_from_row),
    }
    .ctx(CONTEXT)?;
    rows.collect::<Result<_, _>>().ctx(CONTEXT)
}

/// Revokes key `id` at `now` if it is not revoked yet and, when `tenant` is given,
/// belongs to it; returns whether it did. Runs on the writer.
pub(crate) fn revoke(
    conn: &Connection,
    id: &str,
    tenant: Option<&str>,
    now: Millis,
) -> Result<bool, StoreError> {
    const CONTEXT: &str = "revoking an API key";
    let changed = conn
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = ?3
             WHERE id = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR tenant = ?2)",
        )
        .ctx(CONTEXT)?
        .execute(params![id, tenant, now])
        .ctx(CONTEXT)?;
    Ok(changed > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let rows = stmt
            .query_map([], |row| row.get::<_, String>(3))
            .expect("explain");
        rows.map(|row| row.expect("row"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Authentication is one unique-index lookup; a tenant's listing needs no sort.
    #[test]
    fn lookups_use_their_index() {
        let mut conn = Connection::open_in_memory().expect("open");
        crate::schema::migrate(&mut conn).expect("migrate");
        let find = plan(
            &conn,
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE token_hash = 'h'"),
        );
        assert_eq!(
            find,
            "SEARCH api_keys USING INDEX sqlite_autoindex_api_keys_2 (token_hash=?)"
        );
        let list = plan(
            &conn,
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant = 't' ORDER BY created_at, id"
            ),
        );
        assert_eq!(
            list,
            "SEARCH api_keys USING INDEX api_keys_tenant (tenant=?)"
        );
        let revoke = plan(
            &conn,
            "UPDATE api_keys SET revoked_at = 1 WHERE id = 'k' AND revoked_at IS NULL",
        );
        assert_eq!(
            revoke,
            "SEARCH api_keys USING INDEX sqlite_autoindex_api_keys_1 (id=?)"
        );
    }
}
