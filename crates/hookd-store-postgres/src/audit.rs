//! The audit log of write actions through the API: appending and listing, newest first.

use hookd_store::{AuditEntry, AuditRecord, StoreError};
use tokio_postgres::GenericClient;

use crate::error::PgResultExt;
use crate::rows::{get, get_as};

/// Appends an entry and returns its id (ids grow with time).
pub(crate) async fn insert(
    client: &impl GenericClient,
    entry: &AuditEntry,
) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            "INSERT INTO audit (at, actor, tenant, action, target, count, detail)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &entry.at,
                &entry.actor,
                &entry.tenant,
                &entry.action,
                &entry.target,
                &i64::try_from(entry.count).unwrap_or(i64::MAX),
                &entry.detail,
            ],
        )
        .await
        .ctx("recording an audit entry")?;
    get(&row, "id")
}

/// Lists the entries of `tenant` (`None`: every tenant) below the cursor, newest first.
pub(crate) async fn list(
    client: &impl GenericClient,
    tenant: Option<&str>,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    client
        .query(
            "SELECT id, at, actor, tenant, action, target, count, detail FROM audit
             WHERE ($1::text IS NULL OR tenant = $1) AND ($2::bigint IS NULL OR id < $2)
             ORDER BY id DESC LIMIT $3",
            &[&tenant, &before_id, &i64::from(limit)],
        )
        .await
        .ctx("listing audit entries")?
        .iter()
        .map(|row| {
            Ok(AuditRecord {
                id: get(row, "id")?,
                entry: AuditEntry {
                    at: get(row, "at")?,
                    actor: get(row, "actor")?,
                    tenant: get(row, "tenant")?,
                    action: get(row, "action")?,
                    target: get(row, "target")?,
                    count: get_as::<i64, _>(row, "count")?,
                    detail: get(row, "detail")?,
                },
            })
        })
        .collect()
}
