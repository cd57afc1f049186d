//! Applies the embedded migrations that a database has not seen yet.

use std::collections::BTreeSet;

use hookd_store::StoreError;
use rusqlite::{Connection, TransactionBehavior};

use crate::error::{SqliteResultExt, invalid};

/// One schema change: its version (the file's number) and its SQL.
struct Migration {
    version: i64,
    sql: &'static str,
}

/// Every migration, in version order. Append only: an applied migration never changes.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("../../migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("../../migrations/0002_api_keys.sql"),
    },
    Migration {
        version: 3,
        sql: include_str!("../../migrations/0003_queue_pause.sql"),
    },
    Migration {
        version: 4,
        sql: include_str!("../../migrations/0004_audit.sql"),
    },
    Migration {
        version: 5,
        sql: include_str!("../../migrations/0005_replay_lag.sql"),
    },
    Migration {
        version: 6,
        sql: include_str!("../../migrations/0006_config_objects.sql"),
    },
    Migration {
        version: 7,
        sql: include_str!("../../migrations/0007_stats.sql"),
    },
];

/// Brings the schema up to date in one transaction and returns the versions it applied
/// (empty when the database was current).
///
/// # Errors
///
/// [`StoreError::Backend`] when a migration fails (nothing is applied then) or the
/// database records a version newer than this build knows.
pub(crate) fn migrate(conn: &mut Connection) -> Result<Vec<i64>, StoreError> {
    const CONTEXT: &str = "applying migrations";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .ctx(CONTEXT)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER NOT NULL PRIMARY KEY,
             applied_at INTEGER NOT NULL
         ) STRICT",
    )
    .ctx(CONTEXT)?;
    let applied: BTreeSet<i64> = {
        let mut stmt = tx
            .prepare("SELECT version FROM schema_migrations")
            .ctx(CONTEXT)?;
        stmt.query_map([], |row| row.get(0))
            .ctx(CONTEXT)?
            .collect::<Result<_, _>>()
            .ctx(CONTEXT)?
    };
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.last()
        && newest > known
    {
        return Err(invalid(
            CONTEXT,
            format!(
                "the database has schema version {newest}, this hookd knows up to {known}; \
                 use a newer hookd"
            ),
        ));
    }
    let mut done = Vec::new();
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) {
            continue;
        }
        tx.execute_batch(migration.sql).ctx(CONTEXT)?;
        // The one wall-clock read of the store: a record for operators, never compared.
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at)
             VALUES (?1, CAST(unixepoch('subsec') * 1000 AS INTEGER))",
            [migration.version],
        )
        .ctx(CONTEXT)?;
        done.push(migration.version);
    }
    tx.commit().ctx(CONTEXT)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
    }

    #[test]
    fn second_run_applies_nothing() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().ctx("open")?;
        assert_eq!(migrate(&mut conn)?, vec![1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(migrate(&mut conn)?, Vec::<i64>::new());
        Ok(())
    }

    #[test]
    fn a_version_one_database_with_data_is_upgraded() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().ctx("open")?;
        // As a hookd that knew only 0001 left it.
        conn.execute_batch(
            "CREATE TABLE schema_migrations (
                 version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL
             ) STRICT;
             INSERT INTO schema_migrations VALUES (1, 0);",
        )
        .ctx("create")?;
        conn.execute_batch(MIGRATIONS[0].sql).ctx("0001")?;
        conn.execute(
            "INSERT INTO events (id, tenant, source, event_type, dedup_key, received_at,
                                 headers, body, unrouted)
             VALUES ('evt_old', 'acme', 'shop', 't', 'k', 1, '[]', x'', 1)",
            [],
        )
        .ctx("insert")?;
        assert_eq!(migrate(&mut conn)?, vec![2, 3, 4, 5, 6, 7]);
        let old = crate::events::get(&conn, "evt_old")?;
        assert_eq!(
            old.map(|event| event.committed_at),
            Some(1),
            "an event stored before 0005 reads as committed when received"
        );
        let via_index: String = conn
            .query_row(
                "SELECT id FROM events INDEXED BY events_tenant WHERE tenant = 'acme'",
                [],
                |row| row.get(0),
            )
            .ctx("read")?;
        assert_eq!(via_index, "evt_old", "existing rows are indexed");
        let keys: i64 = conn
            .query_row("SELECT count(*) FROM api_keys", [], |row| row.get(0))
            .ctx("count")?;
        assert_eq!(keys, 0);
        Ok(())
    }

    #[test]
    fn newer_database_is_refused() -> Result<(), StoreError> {
        let mut conn = Connection::open_in_memory().ctx("open")?;
        migrate(&mut conn)?;
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)",
            [],
        )
        .ctx("insert")?;
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::Backend { .. })
        ));
        Ok(())
    }
}
