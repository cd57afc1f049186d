//! Retention: deleting old, finished events with their jobs and attempts, and expired
//! dedup keys, one bounded batch per call, inside the writer's group commit.
//!
//! # Plan
//!
//! An event finishes when its last job does, so it cannot have finished before it was
//! received: candidates are walked in `events_received (received_at)` order up to the
//! later of the two cut-offs, and each is checked through `jobs_event` (no pending job;
//! the latest `updated_at` of its jobs, or `received_at` when it has none, before the
//! cut-off of its kind). The walk stops after `limit` matches, so a call holds the writer
//! for one small batch and ingest keeps committing between calls. Old events that must
//! stay (pending jobs, dead events younger than their cut-off) are walked again by each
//! call; they are few next to the events that go.
//!
//! Dedup keys have no index on `received_at`, so their bounded delete scans the table
//! until it has found `limit` expired keys; the table holds one row per key within the
//! longest window, so the scan stays as large as the recent traffic, never the history.
//! Keys are kept after their event is deleted: a provider retry within the window is
//! still answered as a duplicate of the original id.

use hookd_store::{EventPrune, PruneCount, StoreError};
use rusqlite::{Connection, params};

use crate::error::SqliteResultExt;

const CONTEXT: &str = "pruning events";

/// Deletes one batch; see the module doc.
pub(crate) fn prune(conn: &Connection, prune: &EventPrune) -> Result<PruneCount, StoreError> {
    let cutoff = prune.succeeded_before.max(prune.dead_before);
    let ids: Vec<String> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT e.id FROM events e INDEXED BY events_received
                 WHERE e.received_at < ?1
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id
                                   AND j.state NOT IN ('succeeded', 'dead'))
                   AND COALESCE((SELECT max(j.updated_at) FROM jobs j WHERE j.event_id = e.id),
                                e.received_at)
                       < CASE WHEN EXISTS (SELECT 1 FROM jobs j WHERE j.event_id = e.id
                                           AND j.state = 'dead')
                              THEN ?3 ELSE ?2 END
                 ORDER BY e.received_at
                 LIMIT ?4",
            )
            .ctx(CONTEXT)?;
        stmt.query_map(
            params![
                cutoff,
                prune.succeeded_before,
                prune.dead_before,
                prune.limit
            ],
            |row| row.get(0),
        )
        .ctx(CONTEXT)?
        .collect::<Result<_, _>>()
        .ctx(CONTEXT)?
    };

    let mut delete_attempts = conn
        .prepare_cached(
            "DELETE FROM attempts WHERE job_id IN (SELECT id FROM jobs WHERE event_id = ?1)",
        )
        .ctx(CONTEXT)?;
    let mut delete_jobs = conn
        .prepare_cached("DELETE FROM jobs WHERE event_id = ?1")
        .ctx(CONTEXT)?;
    let mut delete_event = conn
        .prepare_cached("DELETE FROM events WHERE id = ?1")
        .ctx(CONTEXT)?;
    let mut events = 0;
    for id in &ids {
        delete_attempts.execute([id]).ctx(CONTEXT)?;
        delete_jobs.execute([id]).ctx(CONTEXT)?;
        events += delete_event.execute([id]).ctx(CONTEXT)? as u64;
    }

    let dedup_keys = conn
        .prepare_cached(
            "DELETE FROM dedup WHERE (source, dedup_key) IN
                 (SELECT source, dedup_key FROM dedup WHERE received_at < ?1 LIMIT ?2)",
        )
        .ctx(CONTEXT)?
        .execute(params![prune.dedup_before, prune.limit])
        .ctx(CONTEXT)? as u64;

    Ok(PruneCount { events, dedup_keys })
}
