//! Retention: deleting old, finished events with their jobs and attempts, and expired
//! dedup keys, one bounded batch per call, in one statement.
//!
//! # Plan
//!
//! An event finishes when its last job does, so it cannot have finished before it was
//! received: candidates are walked in `events_received (received_at)` order up to the
//! later of the two cut-offs, and each is checked through `jobs_event` (no pending job;
//! the latest `updated_at` of its jobs, or `received_at` when it has none, before the
//! cut-off of its kind). The walk stops after `limit` matches. Expired dedup keys are
//! found through `dedup_received`. Keys are kept after their event is deleted: a
//! provider retry within the window is still answered as a duplicate of the original id.
//!
//! # Other nodes
//!
//! Chosen events are locked `FOR UPDATE SKIP LOCKED`: two nodes pruning at once take
//! different events, and an event a replay is adding jobs to right now (its new jobs
//! hold a key-share lock on it) is left for a later call. Every delete checks its
//! condition again on the newest row under the row lock, so a job requeued or a dedup
//! key renewed after the statement's snapshot stays; if that leaves an event with a job,
//! its foreign key fails the statement and nothing of the batch is deleted.

use hookd_store::{EventPrune, PruneCount, StoreError};

use crate::PostgresStore;
use crate::error::PgResultExt;
use crate::rows::get_as;

/// `$1` the later cut-off, `$2` succeeded-before, `$3` dead-before, `$4` limit, `$5`
/// dedup-before.
const PRUNE_SQL: &str = "
    WITH doomed AS (
        SELECT e.id FROM events AS e
        WHERE e.received_at < $1
          AND NOT EXISTS (SELECT 1 FROM jobs AS j WHERE j.event_id = e.id
                          AND j.state NOT IN ('succeeded', 'dead'))
          AND COALESCE((SELECT max(j.updated_at) FROM jobs AS j WHERE j.event_id = e.id),
                       e.received_at)
              < CASE WHEN EXISTS (SELECT 1 FROM jobs AS j WHERE j.event_id = e.id
                                  AND j.state = 'dead')
                     THEN $3::bigint ELSE $2::bigint END
        ORDER BY e.received_at
        LIMIT $4
        FOR UPDATE OF e SKIP LOCKED
    ),
    jobs_gone AS (
        DELETE FROM jobs AS j USING doomed
        WHERE j.event_id = doomed.id AND j.state IN ('succeeded', 'dead')
        RETURNING j.id
    ),
    attempts_gone AS (
        DELETE FROM attempts AS a USING jobs_gone WHERE a.job_id = jobs_gone.id
    ),
    events_gone AS (
        DELETE FROM events AS e USING doomed WHERE e.id = doomed.id RETURNING e.id
    ),
    expired AS (
        SELECT source, dedup_key FROM dedup WHERE received_at < $5 LIMIT $4
    ),
    keys_gone AS (
        DELETE FROM dedup AS d USING expired
        WHERE d.source = expired.source AND d.dedup_key = expired.dedup_key
          AND d.received_at < $5
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM events_gone) AS events,
           (SELECT count(*) FROM keys_gone) AS dedup_keys";

/// Deletes one batch; see the module doc.
pub(crate) async fn prune(
    store: &PostgresStore,
    prune: &EventPrune,
) -> Result<PruneCount, StoreError> {
    const CONTEXT: &str = "pruning events";
    let cutoff = prune.succeeded_before.max(prune.dead_before);
    let client = store.client().await?;
    let row = client
        .query_one(
            &client.prepare_cached(PRUNE_SQL).await.ctx(CONTEXT)?,
            &[
                &cutoff,
                &prune.succeeded_before,
                &prune.dead_before,
                &i64::from(prune.limit),
                &prune.dedup_before,
            ],
        )
        .await
        .ctx(CONTEXT)?;
    store.record_commit(1);
    Ok(PruneCount {
        events: get_as::<i64, u64>(&row, "events")?,
        dedup_keys: get_as::<i64, u64>(&row, "dedup_keys")?,
    })
}
