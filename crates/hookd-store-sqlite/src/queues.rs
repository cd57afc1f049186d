//! Queues: depth by state (for the management API and metrics) and the paused flag.
//! Counts are reads on the read pool, from covering partial indexes of migration 0003;
//! pausing and resuming go through the writer.

use std::collections::BTreeMap;

use hookd_store::{Millis, QueueStats, StoreError};
use rusqlite::Connection;

use crate::error::SqliteResultExt;

/// Counts the jobs of every queue by state as of `now`, and the ones that ended at or
/// after `finished_since`; ordered by queue.
///
/// Two index-only reads: unfinished jobs from `jobs_queue_active`, finished ones from
/// `jobs_queue_finished` (bounded by retention).
pub(crate) fn stats(
    conn: &Connection,
    now: Millis,
    finished_since: Millis,
) -> Result<Vec<QueueStats>, StoreError> {
    const CONTEXT: &str = "counting the jobs of each queue";
    let mut by_queue: BTreeMap<String, QueueStats> = BTreeMap::new();

    let mut active = conn
        .prepare_cached(
            "SELECT queue, state, run_at <= ?1 AS due, COUNT(*), MIN(run_at)
             FROM jobs INDEXED BY jobs_queue_active
             WHERE state IN ('scheduled', 'ready', 'running', 'retrying')
             GROUP BY queue, state, due",
        )
        .ctx(CONTEXT)?;
    let rows = active
        .query_map([now], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, bool>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .ctx(CONTEXT)?;
    for row in rows {
        let (queue, state, due, count, min_run_at) = row.ctx(CONTEXT)?;
        let count = u64::try_from(count).unwrap_or(0);
        let stats = entry(&mut by_queue, queue);
        match (state.as_str(), due) {
            ("running", _) => stats.running += count,
            ("scheduled" | "ready" | "retrying", true) | ("ready", false) => {
                stats.ready += count;
                let age = now.saturating_sub(min_run_at).max(0);
                stats.oldest_ready_age_ms =
                    Some(stats.oldest_ready_age_ms.map_or(age, |a| a.max(age)));
            }
            ("scheduled", false) => stats.scheduled += count,
            ("retrying", false) => stats.retrying += count,
            _ => {}
        }
    }

    let mut finished = conn
        .prepare_cached(
            "SELECT queue, state, COUNT(*), SUM(updated_at >= ?1)
             FROM jobs INDEXED BY jobs_queue_finished
             WHERE state IN ('succeeded', 'dead')
             GROUP BY queue, state",
        )
        .ctx(CONTEXT)?;
    let rows = finished
        .query_map([finished_since], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })
        .ctx(CONTEXT)?;
    for row in rows {
        let (queue, state, count, recent) = row.ctx(CONTEXT)?;
        let count = u64::try_from(count).unwrap_or(0);
        let stats = entry(&mut by_queue, queue);
        match state.as_str() {
            "succeeded" => stats.succeeded += count,
            "dead" => stats.dead += count,
            _ => {}
        }
        stats.finished_recently += u64::try_from(recent).unwrap_or(0);
    }
    Ok(by_queue.into_values().collect())
}

fn entry(by_queue: &mut BTreeMap<String, QueueStats>, queue: String) -> &mut QueueStats {
    by_queue.entry(queue.clone()).or_insert_with(|| QueueStats {
        queue,
        ..QueueStats::default()
    })
}

/// Records `queue` as paused or not; returns whether that changed anything. Runs on
/// the writer.
pub(crate) fn set_paused(conn: &Connection, queue: &str, paused: bool) -> Result<bool, StoreError> {
    const CONTEXT: &str = "pausing or resuming a queue";
    let sql = if paused {
        "INSERT INTO queue_pauses (queue) VALUES (?1) ON CONFLICT (queue) DO NOTHING"
    } else {
        "DELETE FROM queue_pauses WHERE queue = ?1"
    };
    let changed = conn
        .prepare_cached(sql)
        .ctx(CONTEXT)?
        .execute([queue])
        .ctx(CONTEXT)?;
    Ok(changed > 0)
}

/// The paused queues, by name.
pub(crate) fn paused(conn: &Connection) -> Result<Vec<String>, StoreError> {
    const CONTEXT: &str = "reading the paused queues";
    let mut stmt = conn
        .prepare_cached("SELECT queue FROM queue_pauses ORDER BY queue")
        .ctx(CONTEXT)?;
    let rows = stmt.query_map([], |row| row.get(0)).ctx(CONTEXT)?;
    rows.collect::<Result<_, _>>().ctx(CONTEXT)
}

#[cfg(test)]
mod tests {
    /// The plans of the counts: each reads its covering index, never the table.
    #[test]
    fn the_counts_read_only_their_covering_indexes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = crate::connection::open_writer(&dir.path().join("t.db")).expect("open");
        crate::schema::migrate(&mut conn).expect("migrate");
        for sql in [
            "SELECT queue, state, run_at <= 1 AS due, COUNT(*), MIN(run_at)
             FROM jobs INDEXED BY jobs_queue_active
             WHERE state IN ('scheduled', 'ready', 'running', 'retrying')
             GROUP BY queue, state, due",
            "SELECT queue, state, COUNT(*), SUM(updated_at >= 1)
             FROM jobs INDEXED BY jobs_queue_finished
             WHERE state IN ('succeeded', 'dead')
             GROUP BY queue, state",
        ] {
            let mut stmt = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .expect("explain");
            let plan: Vec<String> = stmt
                .query_map([], |row| row.get::<_, String>(3))
                .expect("plan")
                .collect::<Result<_, _>>()
                .expect("plan rows");
            let plan = plan.join("; ");
            assert!(plan.contains("COVERING INDEX"), "{sql}: {plan}");
        }
    }
}
