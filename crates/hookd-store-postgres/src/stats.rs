//! Stats rollups: adding the nodes' counts to minute rows, summing rows over a period,
//! and compacting old minute rows into hour rows.
//!
//! A row's figures are a [`StatsRollup`] kept as JSONB in `data`. Every figure merges
//! by addition or by maximum ([`StatsRollup::merge`]), which SQL cannot express, so a
//! write merges in Rust under the row's lock ([`merge_into`]): it creates the row when
//! it is missing (`ON CONFLICT DO NOTHING` waits for a node creating the same row and
//! then sees it), otherwise locks it with `SELECT … FOR UPDATE`, merges and writes it
//! back. Nodes adding to one minute row at the same time take turns and every count
//! is kept. A call's deltas are merged per row first and written in key order, so two
//! calls lock their rows in the same order and never deadlock each other.
//!
//! A row whose `data` does not read as a rollup fails the call rather than being
//! skipped: a sum without it would be silently wrong.

use std::collections::BTreeMap;

use hookd_store::{
    HOUR_MS, MINUTE_MS, Millis, StatsCompact, StatsDelta, StatsQuery, StatsRollup, StatsRow,
    StatsScope, StoreError,
};
use tokio_postgres::GenericClient;
use tokio_postgres::types::Json;

use crate::error::{PgResultExt, invalid};
use crate::rows::get;

/// Where a row sits: its primary key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    scope: StatsScope,
    name: String,
    resolution: Millis,
    period_start: Millis,
}

/// Reads a row's `data`, naming the row when it is not a rollup.
fn decode(
    key: &RowKey,
    data: serde_json::Value,
    context: &'static str,
) -> Result<StatsRollup, StoreError> {
    serde_json::from_value(data).map_err(|err| {
        invalid(
            context,
            format!(
                "the {} row of {} {:?} at {} does not hold a rollup: {err}",
                if key.resolution == HOUR_MS {
                    "hour"
                } else {
                    "minute"
                },
                key.scope.as_str(),
                key.name,
                key.period_start
            ),
        )
    })
}

/// Merges `rollup` into the row at `key` under the row's lock, creating the row when
/// it is missing; the row takes `tenant`.
async fn merge_into(
    client: &impl GenericClient,
    key: &RowKey,
    tenant: &str,
    rollup: &StatsRollup,
    context: &'static str,
) -> Result<(), StoreError> {
    let scope = key.scope.as_str();
    loop {
        let created = client
            .execute(
                "INSERT INTO stats_rollups (scope, name, resolution, period_start, tenant, data)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (scope, name, resolution, period_start) DO NOTHING",
                &[
                    &scope,
                    &key.name,
                    &key.resolution,
                    &key.period_start,
                    &tenant,
                    &Json(rollup),
                ],
            )
            .await
            .ctx(context)?;
        if created > 0 {
            return Ok(());
        }
        let stored = client
            .query_opt(
                "SELECT data FROM stats_rollups
                 WHERE scope = $1 AND name = $2 AND resolution = $3 AND period_start = $4
                 FOR UPDATE",
                &[&scope, &key.name, &key.resolution, &key.period_start],
            )
            .await
            .ctx(context)?;
        // None: a compaction deleted the row after the insert saw it; create it anew.
        let Some(stored) = stored else { continue };
        let mut merged = decode(key, get(&stored, "data")?, context)?;
        merged.merge(rollup);
        client
            .execute(
                "UPDATE stats_rollups SET tenant = $5, data = $6
                 WHERE scope = $1 AND name = $2 AND resolution = $3 AND period_start = $4",
                &[
                    &scope,
                    &key.name,
                    &key.resolution,
                    &key.period_start,
                    &tenant,
                    &Json(&merged),
                ],
            )
            .await
            .ctx(context)?;
        return Ok(());
    }
}

/// Adds each delta to its minute row. Deltas of one row are merged first (the row
/// takes the tenant of the last of them), then the rows are written in key order.
pub(crate) async fn add(
    client: &impl GenericClient,
    deltas: Vec<StatsDelta>,
) -> Result<(), StoreError> {
    const CONTEXT: &str = "adding to stats rollups";
    let mut rows: BTreeMap<RowKey, (String, StatsRollup)> = BTreeMap::new();
    for delta in deltas {
        let key = RowKey {
            scope: delta.scope,
            name: delta.name,
            resolution: MINUTE_MS,
            period_start: delta.minute,
        };
        match rows.get_mut(&key) {
            Some((tenant, rollup)) => {
                *tenant = delta.tenant;
                rollup.merge(&delta.rollup);
            }
            None => {
                rows.insert(key, (delta.tenant, delta.rollup));
            }
        }
    }
    for (key, (tenant, rollup)) in &rows {
        merge_into(client, key, tenant, rollup, CONTEXT).await?;
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

/// Sums the rows of the query, both resolutions, per name, ordered by name.
pub(crate) async fn read(
    client: &impl GenericClient,
    query: &StatsQuery,
) -> Result<Vec<StatsRow>, StoreError> {
    const CONTEXT: &str = "reading stats rollups";
    let rows = client
        .query(
            "SELECT name, tenant, resolution, period_start, data FROM stats_rollups
             WHERE resolution IN ($2, $3) AND period_start >= $4 AND period_start < $5
               AND scope = $1 AND ($6::text IS NULL OR name = $6)
               AND ($7::text IS NULL OR tenant = $7)",
            &[
                &query.scope.as_str(),
                &MINUTE_MS,
                &HOUR_MS,
                &query.from,
                &query.until,
                &query.name,
                &query.tenant,
            ],
        )
        .await
        .ctx(CONTEXT)?;
    let mut sums: BTreeMap<String, Sum> = BTreeMap::new();
    for row in &rows {
        let key = RowKey {
            scope: query.scope,
            name: get(row, "name")?,
            resolution: get(row, "resolution")?,
            period_start: get(row, "period_start")?,
        };
        let tenant: String = get(row, "tenant")?;
        let rollup = decode(&key, get(row, "data")?, CONTEXT)?;
        match sums.get_mut(&key.name) {
            Some(sum) => {
                sum.rollup.merge(&rollup);
                if key.period_start >= sum.latest {
                    sum.latest = key.period_start;
                    sum.tenant = tenant;
                }
            }
            None => {
                sums.insert(
                    key.name,
                    Sum {
                        tenant,
                        latest: key.period_start,
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
/// `limit` of each; returns how many rows were compacted or deleted. Rows another
/// node is compacting (or adding to) right now are skipped, not waited for.
pub(crate) async fn compact(
    client: &impl GenericClient,
    compact: &StatsCompact,
) -> Result<u64, StoreError> {
    const CONTEXT: &str = "compacting stats rollups";
    let limit = i64::from(compact.limit);
    let minutes = client
        .query(
            "DELETE FROM stats_rollups
             WHERE (scope, name, resolution, period_start) IN
                 (SELECT scope, name, resolution, period_start FROM stats_rollups
                  WHERE resolution = $1 AND period_start < $2
                  ORDER BY period_start
                  LIMIT $3
                  FOR UPDATE SKIP LOCKED)
             RETURNING scope, name, period_start, tenant, data",
            &[&MINUTE_MS, &compact.minutes_before, &limit],
        )
        .await
        .ctx(CONTEXT)?;
    // The oldest minute first, so that each hour keeps its latest minute's tenant.
    let mut taken = Vec::with_capacity(minutes.len());
    for row in &minutes {
        let scope: &str = get(row, "scope")?;
        let key = RowKey {
            scope: StatsScope::parse(scope)
                .ok_or_else(|| invalid(CONTEXT, format!("unknown stats scope {scope:?}")))?,
            name: get(row, "name")?,
            resolution: MINUTE_MS,
            period_start: get(row, "period_start")?,
        };
        let tenant: String = get(row, "tenant")?;
        let rollup = decode(&key, get(row, "data")?, CONTEXT)?;
        taken.push((key, tenant, rollup));
    }
    taken.sort_by_key(|(key, _, _)| key.period_start);
    let mut hours: BTreeMap<RowKey, (String, StatsRollup)> = BTreeMap::new();
    for (minute, tenant, rollup) in taken {
        let hour = RowKey {
            resolution: HOUR_MS,
            period_start: minute.period_start - minute.period_start.rem_euclid(HOUR_MS),
            ..minute
        };
        let (hour_tenant, sum) = hours.entry(hour).or_default();
        *hour_tenant = tenant;
        sum.merge(&rollup);
    }
    for (key, (tenant, rollup)) in &hours {
        merge_into(client, key, tenant, rollup, CONTEXT).await?;
    }
    let deleted = client
        .execute(
            "DELETE FROM stats_rollups
             WHERE (scope, name, resolution, period_start) IN
                 (SELECT scope, name, resolution, period_start FROM stats_rollups
                  WHERE resolution = $1 AND period_start < $2
                  ORDER BY period_start
                  LIMIT $3
                  FOR UPDATE SKIP LOCKED)",
            &[&HOUR_MS, &compact.hours_before, &limit],
        )
        .await
        .ctx(CONTEXT)?;
    Ok(u64::try_from(minutes.len()).unwrap_or(u64::MAX) + deleted)
}
