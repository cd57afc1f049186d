//! Creates the store's schema when missing and applies the embedded migrations it has
//! not seen yet.
//!
//! Everything happens in one transaction under a transaction-level advisory lock keyed
//! by the schema's name: nodes starting together on a fresh database take turns (the
//! second finds the work done), while stores on other schemas are never held up.

use std::collections::BTreeSet;

use hookd_store::StoreError;

use crate::error::{PgResultExt, invalid};
use crate::listener::quote_identifier;

/// One schema change: its version (the file's number) and its SQL.
struct Migration {
    version: i64,
    sql: &'static str,
}

/// Every migration, in version order. Append only: an applied migration never changes.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: include_str!("../migrations/0001_init.sql"),
}];

/// Brings `schema` up to date on `client` (whose `search_path` is that schema) and
/// returns the versions it applied (empty when the schema was current).
///
/// # Errors
///
/// [`StoreError::Backend`] when a migration fails (nothing is applied then) or the
/// schema records a version newer than this build knows; [`StoreError::Unavailable`]
/// when the database cannot be reached, or the lock not had, in time.
pub(crate) async fn migrate(
    client: &mut deadpool_postgres::Object,
    schema: &str,
) -> Result<Vec<i64>, StoreError> {
    let tx = client.transaction().await.ctx(CONTEXT)?;
    match apply(&tx, schema).await {
        Ok(done) => {
            tx.commit().await.ctx(CONTEXT)?;
            Ok(done)
        }
        Err(err) => {
            // Release the lock now rather than whenever the connection is next used.
            if let Err(rollback) = tx.rollback().await {
                tracing::debug!(error = %rollback, "rolling back failed migrations");
            }
            Err(err)
        }
    }
}

const CONTEXT: &str = "applying migrations";

/// The work of [`migrate`] inside its transaction.
async fn apply(
    tx: &deadpool_postgres::Transaction<'_>,
    schema: &str,
) -> Result<Vec<i64>, StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('hookd migrations ' || $1, 0))",
        &[&schema],
    )
    .await
    .ctx(CONTEXT)?;
    let schema_sql = quote_identifier(schema);
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema_sql};
         CREATE TABLE IF NOT EXISTS {schema_sql}.schema_migrations (
             version    BIGINT NOT NULL PRIMARY KEY,
             applied_at BIGINT NOT NULL
         );"
    ))
    .await
    .ctx(CONTEXT)?;
    let applied: BTreeSet<i64> = tx
        .query(
            &format!("SELECT version FROM {schema_sql}.schema_migrations"),
            &[],
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| crate::rows::get(row, "version"))
        .collect::<Result<_, _>>()?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.last()
        && newest > known
    {
        return Err(invalid(
            CONTEXT,
            format!(
                "schema {schema} has version {newest}, this hookd knows up to {known}; \
                 use a newer hookd"
            ),
        ));
    }
    let mut done = Vec::new();
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) {
            continue;
        }
        tx.batch_execute(migration.sql).await.ctx(CONTEXT)?;
        // A record for operators, never compared.
        tx.execute(
            &format!(
                "INSERT INTO {schema_sql}.schema_migrations (version, applied_at)
                 VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)"
            ),
            &[&migration.version],
        )
        .await
        .ctx(CONTEXT)?;
        done.push(migration.version);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(Some(m.version), i64::try_from(i + 1).ok());
        }
    }
}
