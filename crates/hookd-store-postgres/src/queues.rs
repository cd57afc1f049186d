//! Queues: depth by state (for the management API and metrics) and the paused flag.
//! The counts read the partial indexes `jobs_queue_active` and `jobs_queue_finished`;
//! pausing and resuming announce `QueuePaused` to every node.

use std::collections::BTreeMap;

use hookd_store::{Millis, QueueStats, StoreChange, StoreError};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::PgResultExt;
use crate::publish::commit_and_publish;
use crate::rows::{get, get_as};

/// Unfinished jobs by queue, state and whether due at `$1`, with the earliest `run_at`.
const ACTIVE_SQL: &str = "
    SELECT queue, state, run_at <= $1 AS due, count(*) AS jobs, min(run_at) AS first_run_at
    FROM jobs
    WHERE state IN ('scheduled', 'ready', 'running', 'retrying')
    GROUP BY queue, state, due";

/// Finished jobs by queue and state, and how many of them ended at or after `$1`.
const FINISHED_SQL: &str = "
    SELECT queue, state, count(*) AS jobs, count(*) FILTER (WHERE updated_at >= $1) AS recent
    FROM jobs
    WHERE state IN ('succeeded', 'dead')
    GROUP BY queue, state";

/// Counts the jobs of every queue by state as of `now`, and the ones that ended at or
/// after `finished_since`; ordered by queue (byte order, as the SQLite store).
pub(crate) async fn stats(
    store: &PostgresStore,
    now: Millis,
    finished_since: Millis,
) -> Result<Vec<QueueStats>, StoreError> {
    const CONTEXT: &str = "counting the jobs of each queue";
    let client = store.client().await?;
    let (active, finished) = tokio::try_join!(
        client.prepare_cached(ACTIVE_SQL),
        client.prepare_cached(FINISHED_SQL)
    )
    .ctx(CONTEXT)?;
    // Both counts travel in one round trip.
    let active_params: [&(dyn ToSql + Sync); 1] = [&now];
    let finished_params: [&(dyn ToSql + Sync); 1] = [&finished_since];
    let (active, finished) = tokio::try_join!(
        client.query(&active, &active_params),
        client.query(&finished, &finished_params)
    )
    .ctx(CONTEXT)?;

    let mut by_queue: BTreeMap<String, QueueStats> = BTreeMap::new();
    for row in &active {
        let count = count_column(row, "jobs")?;
        let stats = entry(&mut by_queue, get(row, "queue")?);
        match (get::<&str>(row, "state")?, get::<bool>(row, "due")?) {
            ("running", _) => stats.running += count,
            ("scheduled" | "ready" | "retrying", true) | ("ready", false) => {
                stats.ready += count;
                let age = now.saturating_sub(get(row, "first_run_at")?).max(0);
                stats.oldest_ready_age_ms =
                    Some(stats.oldest_ready_age_ms.map_or(age, |a| a.max(age)));
            }
            ("scheduled", false) => stats.scheduled += count,
            ("retrying", false) => stats.retrying += count,
            _ => {}
        }
    }
    for row in &finished {
        let count = count_column(row, "jobs")?;
        let recent = count_column(row, "recent")?;
        let stats = entry(&mut by_queue, get(row, "queue")?);
        match get::<&str>(row, "state")? {
            "succeeded" => stats.succeeded += count,
            "dead" => stats.dead += count,
            _ => {}
        }
        stats.finished_recently += recent;
    }
    Ok(by_queue.into_values().collect())
}

/// A `count(*)` column.
fn count_column(row: &Row, column: &str) -> Result<u64, StoreError> {
    get_as::<i64, u64>(row, column)
}

fn entry(by_queue: &mut BTreeMap<String, QueueStats>, queue: String) -> &mut QueueStats {
    by_queue.entry(queue.clone()).or_insert_with(|| QueueStats {
        queue,
        ..QueueStats::default()
    })
}

/// Records `queue` as paused or not; returns whether that changed anything, and when it
/// did announces [`StoreChange::QueuePaused`] to the other nodes and publishes it after
/// the commit.
pub(crate) async fn set_paused(
    store: &PostgresStore,
    queue: &str,
    paused: bool,
) -> Result<bool, StoreError> {
    const CONTEXT: &str = "pausing or resuming a queue";
    let sql = if paused {
        "INSERT INTO queue_pauses (queue) VALUES ($1) ON CONFLICT (queue) DO NOTHING"
    } else {
        "DELETE FROM queue_pauses WHERE queue = $1"
    };
    let mut client = store.client().await?;
    let tx = client.transaction().await.ctx(CONTEXT)?;
    let changed = tx
        .execute(&tx.prepare_cached(sql).await.ctx(CONTEXT)?, &[&queue])
        .await
        .ctx(CONTEXT)?
        > 0;
    let changes = if changed {
        vec![StoreChange::QueuePaused {
            queue: queue.to_owned(),
            paused,
        }]
    } else {
        Vec::new()
    };
    commit_and_publish(store, tx, changes, CONTEXT).await?;
    Ok(changed)
}

/// The paused queues, by name (byte order).
pub(crate) async fn paused(store: &PostgresStore) -> Result<Vec<String>, StoreError> {
    const CONTEXT: &str = "reading the paused queues";
    let client = store.client().await?;
    client
        .query(
            &client
                .prepare_cached("SELECT queue FROM queue_pauses ORDER BY queue COLLATE \"C\"")
                .await
                .ctx(CONTEXT)?,
            &[],
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| get(row, "queue"))
        .collect()
}
