//! Stats rollups: adding the nodes' counts to minute rows, summing rows over a period,
//! and compacting old minute rows into hour rows (table `stats_rollups` of migration
//! 0007). Adds and compaction run on the writer; reads on the read pool.
//!
//! A row's figures are a [`StatsRollup`] kept as JSON in `data`. Every figure merges by
//! addition or by maximum, so a write reads the row, merges in Rust with
//! [`StatsRollup::merge`] and writes it back; the writer's single connection makes that
//! read-modify-write atomic, and a group's savepoint makes each call all or nothing. A
//! row whose `data` does not read as a rollup fails the call rather than being skipped:
//! a sum without it would be silently wrong.
//!
//! # Plan
//!
//! Adds find their row by the primary key `(scope, name, resolution, period_start)`. A
//! read for one name walks that key over the period, both resolutions; a read of a whole
//! scope walks `stats_rollups_period (resolution, period_start, scope)` over the period.
//! Compaction takes the oldest minute rows, and deletes the oldest hour rows, in the
//! order of that index, so a call reads only the rows it changes and holds the writer
//! for one bounded batch.

use std::collections::BTreeMap;
use std::fmt;

use hookd_store::{
    HOUR_MS, MINUTE_MS, Millis, StatsCompact, StatsDelta, StatsQuery, StatsRollup, StatsRow,
    StatsScope, StoreError,
};
use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{SqliteResultExt, invalid};

/// The `data` of one row, by primary key.
const FIND_SQL: &str = "SELECT data FROM stats_rollups
     WHERE scope = ?1 AND name = ?2 AND resolution = ?3 AND period_start = ?4";

/// Creates or replaces one row.
const UPSERT_SQL: &str = "INSERT INTO stats_rollups
         (scope, name, resolution, period_start, tenant, data)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (scope, name, resolution, period_start)
     DO UPDATE SET tenant = excluded.tenant, data = excluded.data";

/// Deletes one row, by primary key.
const DELETE_SQL: &str = "DELETE FROM stats_rollups
     WHERE scope = ?1 AND name = ?2 AND resolution = ?3 AND period_start = ?4";

/// The rows of one name, both resolutions, in a period: `?1` scope, `?2` name, `?3` and
/// `?4` the resolutions, `[?5, ?6)` the period, `?7` the tenant or `NULL`.
const READ_NAME_SQL: &str = "SELECT name, tenant, resolution, period_start, data
     FROM stats_rollups
     WHERE scope = ?1 AND name = ?2 AND resolution IN (?3, ?4)
       AND period_start >= ?5 AND period_start < ?6
       AND (?7 IS NULL OR tenant = ?7)";

/// The rows of a whole scope, both resolutions, in a period: `?1` scope, `?2` and `?3`
/// the resolutions, `[?4, ?5)` the period, `?6` the tenant or `NULL`.
const READ_SCOPE_SQL: &str = "SELECT name, tenant, resolution, period_start, data
     FROM stats_rollups INDEXED BY stats_rollups_period
     WHERE resolution IN (?2, ?3) AND period_start >= ?4 AND period_start < ?5
       AND scope = ?1 AND (?6 IS NULL OR tenant = ?6)";

/// The oldest minute rows before a time: `?1` the minute resolution, `?2` the cut-off,
/// `?3` the limit.
const OLD_MINUTES_SQL: &str = "SELECT scope, name, period_start, tenant, data
     FROM stats_rollups INDEXED BY stats_rollups_period
     WHERE resolution = ?1 AND period_start < ?2
     ORDER BY period_start
     LIMIT ?3";

/// Deletes the oldest hour rows before a time: `?1` the hour resolution, `?2` the
/// cut-off, `?3` the limit.
const DELETE_OLD_HOURS_SQL: &str = "DELETE FROM stats_rollups
     WHERE (scope, name, resolution, period_start) IN
         (SELECT scope, name, resolution, period_start
          FROM stats_rollups INDEXED BY stats_rollups_period
          WHERE resolution = ?1 AND period_start < ?2
          ORDER BY period_start
          LIMIT ?3)";

/// Where a row sits: its primary key.
#[derive(Debug, Clone, Copy)]
struct RowKey<'a> {
    scope: StatsScope,
    name: &'a str,
    resolution: Millis,
    period_start: Millis,
}

impl fmt::Display for RowKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} row of {} {:?} at {}",
            if self.resolution == HOUR_MS {
                "hour"
            } else {
                "minute"
            },
            self.scope.as_str(),
            self.name,
            self.period_start
        )
    }
}

/// Reads a row's `data`.
fn decode(key: RowKey<'_>, data: &str, context: &'static str) -> Result<StatsRollup, StoreError> {
    serde_json::from_str(data)
        .map_err(|err| invalid(context, format!("{key} does not hold a rollup: {err}")))
}

/// Reads a row's `scope`.
fn scope_of(text: &str, context: &'static str) -> Result<StatsScope, StoreError> {
    StatsScope::parse(text).ok_or_else(|| invalid(context, format!("unknown stats scope {text:?}")))
}

/// Merges `rollup` into the row at `key`, creating the row when it is missing; the row
/// takes `tenant`. Runs on the writer.
fn merge_into(
    conn: &Connection,
    key: RowKey<'_>,
    tenant: &str,
    rollup: StatsRollup,
    context: &'static str,
) -> Result<(), StoreError> {
    let scope = key.scope.as_str();
    let existing: Option<String> = conn
        .prepare_cached(FIND_SQL)
        .ctx(context)?
        .query_row(
            params![scope, key.name, key.resolution, key.period_start],
            |row| row.get(0),
        )
        .optional()
        .ctx(context)?;
    let merged = match existing {
        Some(data) => {
            let mut stored = decode(key, &data, context)?;
            stored.merge(&rollup);
            stored
        }
        None => rollup,
    };
    let data = serde_json::to_string(&merged).map_err(|err| StoreError::Backend {
        context,
        source: Box::new(err),
    })?;
    conn.prepare_cached(UPSERT_SQL)
        .ctx(context)?
        .execute(params![
            scope,
            key.name,
            key.resolution,
            key.period_start,
            tenant,
            data
        ])
        .ctx(context)?;
    Ok(())
}

/// Adds each delta to its minute row, in order, so that deltas of one row add up. Runs
/// on the writer.
pub(crate) fn add(conn: &Connection, deltas: Vec<StatsDelta>) -> Result<(), StoreError> {
    const CONTEXT: &str = "adding to stats rollups";
    for delta in deltas {
        let key = RowKey {
            scope: delta.scope,
            name: &delta.name,
            resolution: MINUTE_MS,
            period_start: delta.minute,
        };
        merge_into(conn, key, &delta.tenant, delta.rollup, CONTEXT)?;
    }
    Ok(())
}

/// The sum of one name's rows while a read folds them.
struct Sum {
    /// The tenant of the latest row.
    tenant: String,
    /// The start of the latest row's period.
    latest: Millis,
    /// The rows merged so far.
    rollup: StatsRollup,
}

/// Sums the rows of the query, per name, ordered by name. Runs on the read pool.
pub(crate) fn read(conn: &Connection, query: &StatsQuery) -> Result<Vec<StatsRow>, StoreError> {
    const CONTEXT: &str = "reading stats rollups";
    let scope = query.scope.as_str();
    let (sql, params): (&str, Vec<&dyn ToSql>) = match &query.name {
        Some(name) => (
            READ_NAME_SQL,
            vec![
                &scope,
                name,
                &MINUTE_MS,
                &HOUR_MS,
                &query.from,
                &query.until,
                &query.tenant,
            ],
        ),
        None => (
            READ_SCOPE_SQL,
            vec![
                &scope,
                &MINUTE_MS,
                &HOUR_MS,
                &query.from,
                &query.until,
                &query.tenant,
            ],
        ),
    };
    let mut stmt = conn.prepare_cached(sql).ctx(CONTEXT)?;
    let rows = stmt
        .query_map(params.as_slice(), |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Millis>(2)?,
                row.get::<_, Millis>(3)?,
                row.get::<_, String>(4)?,
            ))
        })
        .ctx(CONTEXT)?;

    let mut sums: BTreeMap<String, Sum> = BTreeMap::new();
    for row in rows {
        let (name, tenant, resolution, period_start, data) = row.ctx(CONTEXT)?;
        let key = RowKey {
            scope: query.scope,
            name: &name,
            resolution,
            period_start,
        };
        let rollup = decode(key, &data, CONTEXT)?;
        match sums.get_mut(&name) {
            Some(sum) => {
                sum.rollup.merge(&rollup);
                if period_start >= sum.latest {
                    sum.latest = period_start;
                    sum.tenant = tenant;
                }
            }
            None => {
                sums.insert(
                    name,
                    Sum {
                        tenant,
                        latest: period_start,
                        rollup,
                    },
                );
            }
        }
    }
    Ok(sums
        .into_iter()
        .map(|(name, sum)| StatsRow {
            name,
            tenant: sum.tenant,
            rollup: sum.rollup,
        })
        .collect())
}

/// Merges the oldest minute rows before `minutes_before` into their hour rows and
/// deletes them, then deletes the oldest hour rows before `hours_before`, at most
/// `limit` of each; returns how many rows were compacted or deleted. Runs on the writer.
pub(crate) fn compact(conn: &Connection, compact: &StatsCompact) -> Result<u64, StoreError> {
    const CONTEXT: &str = "compacting stats rollups";
    let minutes: Vec<(String, String, Millis, String, String)> = conn
        .prepare_cached(OLD_MINUTES_SQL)
        .ctx(CONTEXT)?
        .query_map(
            params![MINUTE_MS, compact.minutes_before, compact.limit],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            },
        )
        .ctx(CONTEXT)?
        .collect::<Result<_, _>>()
        .ctx(CONTEXT)?;

    // (scope, name, hour) -> (tenant of the latest minute, merged minutes)
    let mut hours: BTreeMap<(StatsScope, &str, Millis), (&str, StatsRollup)> = BTreeMap::new();
    let mut delete = conn.prepare_cached(DELETE_SQL).ctx(CONTEXT)?;
    for (scope, name, period_start, tenant, data) in &minutes {
        let key = RowKey {
            scope: scope_of(scope, CONTEXT)?,
            name,
            resolution: MINUTE_MS,
            period_start: *period_start,
        };
        let rollup = decode(key, data, CONTEXT)?;
        let hour = period_start - period_start.rem_euclid(HOUR_MS);
        // Minutes come oldest first, so the latest minute's tenant is the one kept.
        let (hour_tenant, sum) = hours
            .entry((key.scope, name, hour))
            .or_insert_with(|| (tenant, StatsRollup::default()));
        *hour_tenant = tenant;
        sum.merge(&rollup);
        delete
            .execute(params![scope, name, MINUTE_MS, period_start])
            .ctx(CONTEXT)?;
    }
    for ((scope, name, period_start), (tenant, rollup)) in hours {
        let key = RowKey {
            scope,
            name,
            resolution: HOUR_MS,
            period_start,
        };
        merge_into(conn, key, tenant, rollup, CONTEXT)?;
    }

    let deleted = conn
        .prepare_cached(DELETE_OLD_HOURS_SQL)
        .ctx(CONTEXT)?
        .execute(params![HOUR_MS, compact.hours_before, compact.limit])
        .ctx(CONTEXT)?;
    Ok(minutes.len() as u64 + deleted as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        // The plan does not depend on the values bound; any will do.
        let values = vec![0; stmt.parameter_count()];
        let rows: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(3)
            })
            .expect("plan")
            .collect::<Result<_, _>>()
            .expect("plan rows");
        rows.join("; ")
    }

    /// Every statement finds its rows through the primary key or the period index,
    /// never by scanning the table, and the oldest-first walks need no sort.
    #[test]
    fn every_statement_uses_an_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = crate::connection::open_writer(&dir.path().join("t.db")).expect("open");
        crate::schema::migrate(&mut conn).expect("migrate");
        for (sql, index) in [
            (FIND_SQL, "PRIMARY KEY"),
            (DELETE_SQL, "PRIMARY KEY"),
            (READ_NAME_SQL, "PRIMARY KEY"),
            (READ_SCOPE_SQL, "INDEX stats_rollups_period"),
            (OLD_MINUTES_SQL, "INDEX stats_rollups_period"),
            (DELETE_OLD_HOURS_SQL, "INDEX stats_rollups_period"),
        ] {
            let plan = plan(&conn, sql);
            assert!(plan.contains(index), "{sql}: {plan}");
            assert!(!plan.contains("SCAN stats_rollups"), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
    }

    /// A row that does not hold a rollup fails a read and a compaction, naming the row.
    #[test]
    fn an_unreadable_row_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = crate::connection::open_writer(&dir.path().join("t.db")).expect("open");
        crate::schema::migrate(&mut conn).expect("migrate");
        conn.execute(
            "INSERT INTO stats_rollups (scope, name, resolution, period_start, tenant, data)
             VALUES ('source', 'shop', 60000, 0, 'acme', 'not json')",
            [],
        )
        .expect("insert");
        let query = StatsQuery {
            scope: StatsScope::Source,
            tenant: None,
            name: None,
            from: 0,
            until: HOUR_MS,
        };
        let err = read(&conn, &query).expect_err("read");
        assert!(
            matches!(
                err,
                StoreError::Backend {
                    context: "reading stats rollups",
                    ..
                }
            ),
            "{err:?}"
        );
        let compaction = StatsCompact {
            minutes_before: HOUR_MS,
            hours_before: 0,
            limit: 10,
        };
        let err = compact(&conn, &compaction).expect_err("compact");
        let reason = std::error::Error::source(&err).map(ToString::to_string);
        assert!(
            reason.as_deref().is_some_and(|r| r.contains("\"shop\"")),
            "{reason:?}"
        );
    }
}
