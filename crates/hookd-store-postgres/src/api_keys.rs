//! API keys: storing them, finding one by the hash of its token (every authenticated
//! request), listing and revoking them.

use hookd_store::{ApiKey, Millis, NewApiKey, StoreError};
use tokio_postgres::{GenericClient, Row};

use crate::error::PgResultExt;
use crate::rows::get;

/// The columns [`key_from_row`] reads.
const KEY_COLUMNS: &str = "id, tenant, scope, name, created_at, revoked_at";

fn key_from_row(row: &Row) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        scope: get(row, "scope")?,
        name: get(row, "name")?,
        created_at: get(row, "created_at")?,
        revoked_at: get(row, "revoked_at")?,
    })
}

/// Stores a new key, never revoked (`key.revoked_at` is ignored).
///
/// # Errors
///
/// [`StoreError::Backend`] when the id or the token hash is already stored (the unique
/// constraints refuse it).
pub(crate) async fn insert(client: &impl GenericClient, new: &NewApiKey) -> Result<(), StoreError> {
    let key = &new.key;
    client
        .execute(
            "INSERT INTO api_keys (id, tenant, scope, name, token_hash, created_at, revoked_at)
             VALUES ($1, $2, $3, $4, $5, $6, NULL)",
            &[
                &key.id,
                &key.tenant,
                &key.scope,
                &key.name,
                &new.token_hash,
                &key.created_at,
            ],
        )
        .await
        .ctx("storing an API key")?;
    Ok(())
}

/// The key whose token hashes to `token_hash`, revoked or not (one lookup in the unique
/// index on `token_hash`).
pub(crate) async fn find(
    client: &impl GenericClient,
    token_hash: &str,
) -> Result<Option<ApiKey>, StoreError> {
    client
        .query_opt(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE token_hash = $1"),
            &[&token_hash],
        )
        .await
        .ctx("finding an API key")?
        .as_ref()
        .map(key_from_row)
        .transpose()
}

/// The keys of `tenant` (`None`: of every tenant), oldest first; keys created in the
/// same millisecond follow their id.
pub(crate) async fn list(
    client: &impl GenericClient,
    tenant: Option<&str>,
) -> Result<Vec<ApiKey>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys
                 WHERE $1::text IS NULL OR tenant = $1
                 ORDER BY created_at, id"
            ),
            &[&tenant],
        )
        .await
        .ctx("listing API keys")?
        .iter()
        .map(key_from_row)
        .collect()
}

/// Revokes key `id` at `now` if it is not revoked yet and, when `tenant` is given,
/// belongs to it; returns whether it did.
pub(crate) async fn revoke(
    client: &impl GenericClient,
    id: &str,
    tenant: Option<&str>,
    now: Millis,
) -> Result<bool, StoreError> {
    let changed = client
        .execute(
            "UPDATE api_keys SET revoked_at = $3
             WHERE id = $1 AND revoked_at IS NULL AND ($2::text IS NULL OR tenant = $2)",
            &[&id, &tenant, &now],
        )
        .await
        .ctx("revoking an API key")?;
    Ok(changed > 0)
}
