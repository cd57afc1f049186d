//! Claiming jobs: one statement picks the next due jobs of a queue, honouring priority,
//! schedule, id order and per-key FIFO, locks them with `FOR UPDATE SKIP LOCKED` and
//! moves them to `running`; the batch's events follow in one more query.
//!
//! # Per-key FIFO across nodes
//!
//! A keyed job is eligible only when no earlier job (lower id) of its queue and key is
//! `ready`, `running`, `retrying`, or `scheduled` and due (the SQLite store's rule, word
//! for word). Under READ COMMITTED the statement judges that on one snapshot, and the
//! row locks alone make it safe between claims:
//!
//! - Every job a claim could take is itself blocking in that snapshot (it is due and
//!   waiting), so one claim never takes two jobs of a key, and a concurrent claim that
//!   locked it (uncommitted, still `ready` in the snapshot) blocks its later siblings
//!   just the same: eligibility follows the snapshot, never the lock.
//! - A row changed and committed after the snapshot is re-checked on its newest version
//!   when locked, so a job is never claimed twice; one locked by a transaction still
//!   running is skipped.
//!
//! What the snapshot cannot see is a job whose transaction took its id but has not
//! committed: ids come from a sequence when the row is inserted, so a node can commit
//! job 11 of a key while job 10 of the same key is still being written by another. A
//! claim in between would start 11, and 10 would start beside it once committed. So
//! claims and inserts of one queue meet on a transaction-scoped advisory lock keyed by
//! schema and queue ([`lock_queue_for_claim`], [`lock_queues_for_insert`]): a transaction
//! writing jobs holds it shared from before it takes their ids until it commits, and a
//! claim takes it exclusively before its statement begins, which in READ COMMITTED is
//! when the statement's snapshot is taken. A claim therefore waits for every insert
//! whose ids are already drawn, and any id drawn after it is higher than every job it
//! saw. Inserts never wait for each other; claims of one queue run one after the other
//! (each is a few milliseconds), and different queues never meet.
//!
//! # A queue's cap across nodes
//!
//! `JobClaim::max_running` caps the queue's running jobs on every node together. The
//! claim's statement counts them in its own snapshot and lowers its `LIMIT` by that
//! count. Only claims move jobs to `running`, and claims of one queue take turns under
//! the advisory lock, whose holder commits before the next one's snapshot is taken: the
//! count sees every job an earlier claim started, so claims on any number of nodes never
//! exceed the cap together. A job leaving `running` concurrently (a completion, a
//! release, a rescue not yet committed) still counts, which errs on the side of the cap;
//! the freed slot goes to the next claim.
//!
//! `SKIP LOCKED` still matters under that lock: completions, releases, rescues and
//! requeues lock jobs without it, and a claim passes over those rows instead of
//! waiting for them.

use std::collections::{BTreeSet, HashMap};

use hookd_store::{ClaimBatch, ClaimedJob, JobClaim, StoreError};
use tokio_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::error::{PgResultExt, invalid};
use crate::events::{EVENT_COLUMNS, event_from_row};
use crate::jobs::{JOB_COLUMNS, job_from_row};
use crate::rows::get;

const CONTEXT: &str = "claiming jobs";

/// The advisory lock key of queue `$1` in the store's schema (the connection's
/// `search_path`), so that stores on different schemas never wait for each other. A
/// hash collision only makes two queues wait for each other now and then.
const QUEUE_LOCK_KEY: &str =
    "hashtextextended('hookd queue ' || current_schema() || ' ' || $1::text, 0)";

/// Claims up to `$3` due jobs of queue `$1` at time `$2`, leasing them until `$4` to
/// node `$5`; returns the claimed jobs. With a cap `$6` (not null) on the queue's running
/// jobs, it claims at most `$6` minus those already running (counted from
/// `jobs_queue_active`, only when there is a cap).
///
/// The pick repeats the partial-index conditions of `jobs_claim` and `jobs_ordering`
/// word for word so that the planner can use them.
const CLAIM_SQL: &str = "
    WITH picked AS (
        SELECT j.id FROM jobs AS j
        WHERE j.queue = $1
          AND j.state IN ('scheduled', 'ready', 'retrying')
          AND j.run_at <= $2
          AND (j.ordering_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM jobs AS e
                WHERE e.queue = j.queue
                  AND e.ordering_key = j.ordering_key
                  AND e.id < j.id
                  AND e.ordering_key IS NOT NULL
                  AND e.state NOT IN ('succeeded', 'dead')
                  AND (e.state <> 'scheduled' OR e.run_at <= $2)))
        ORDER BY j.priority, j.run_at, j.id
        LIMIT CASE
            WHEN $6::bigint IS NULL THEN $3
            ELSE GREATEST(LEAST($3, $6::bigint - (
                SELECT count(*) FROM jobs AS r
                WHERE r.queue = $1 AND r.state = 'running')), 0)
        END
        FOR UPDATE OF j SKIP LOCKED
    )
    UPDATE jobs AS j
    SET state = 'running', attempts = j.attempts + 1, attempt_started_at = $2,
        lease_until = $4, lease_owner = $5, updated_at = $2
    FROM picked
    WHERE j.id = picked.id";

/// The earliest wake-up of queue `$1` after time `$2`.
const NEXT_RUN_SQL: &str = "
    SELECT min(run_at) AS next_run_at FROM jobs
    WHERE queue = $1 AND state IN ('scheduled', 'retrying') AND run_at > $2";

/// Claims up to `claim.limit` due jobs (fewer when `claim.max_running` leaves less
/// room), counting their attempt and leasing them to `claim.node`, and reports when the
/// queue's next waiting job becomes due; all in one transaction (see the module doc for
/// how claims on several nodes stay apart).
pub(crate) async fn claim(
    store: &PostgresStore,
    claim: &JobClaim,
) -> Result<ClaimBatch, StoreError> {
    let mut client = store.client().await?;
    let tx = client.transaction().await.ctx(CONTEXT)?;
    lock_queue_for_claim(&*tx, &claim.queue).await?;

    let claim_sql = format!("{CLAIM_SQL} RETURNING {}", qualified("j", JOB_COLUMNS));
    let rows = tx
        .query(
            &tx.prepare_cached(&claim_sql).await.ctx(CONTEXT)?,
            &[
                &claim.queue,
                &claim.now,
                &i64::from(claim.limit),
                &claim.lease_until,
                &claim.node,
                &claim.max_running.map(i64::from),
            ],
        )
        .await
        .ctx(CONTEXT)?;
    let mut jobs = rows
        .iter()
        .map(job_from_row)
        .collect::<Result<Vec<_>, _>>()?;
    // RETURNING follows no order: put the batch back in claim order.
    jobs.sort_by_key(|job| (job.priority, job.run_at, job.id));

    let event_ids: Vec<&str> = jobs
        .iter()
        .map(|job| job.event_id.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let events_sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ANY($1)");
    let (events_stmt, next_stmt) = tokio::try_join!(
        tx.prepare_cached(&events_sql),
        tx.prepare_cached(NEXT_RUN_SQL)
    )
    .ctx(CONTEXT)?;
    // Both reads travel in one round trip.
    let events_params: [&(dyn ToSql + Sync); 1] = [&event_ids];
    let next_params: [&(dyn ToSql + Sync); 2] = [&claim.queue, &claim.now];
    let (event_rows, next_row) = tokio::try_join!(
        tx.query(&events_stmt, &events_params),
        tx.query_one(&next_stmt, &next_params)
    )
    .ctx(CONTEXT)?;
    let next_run_at = get(&next_row, "next_run_at")?;
    let events = event_rows
        .iter()
        .map(|row| event_from_row(row).map(|event| (event.id.clone(), event)))
        .collect::<Result<HashMap<_, _>, _>>()?;

    let jobs = jobs
        .into_iter()
        .map(|job| {
            let event = events.get(&job.event_id).cloned().ok_or_else(|| {
                invalid(
                    CONTEXT,
                    format!("job {} names missing event {}", job.id, job.event_id),
                )
            })?;
            Ok(ClaimedJob { job, event })
        })
        .collect::<Result<_, StoreError>>()?;

    tx.commit().await.ctx(CONTEXT)?;
    store.record_commit(1);
    Ok(ClaimBatch { jobs, next_run_at })
}

/// Takes queue `queue`'s advisory lock exclusively until the transaction ends; the
/// claim's statement must come after it (see the module doc).
async fn lock_queue_for_claim(client: &impl GenericClient, queue: &str) -> Result<(), StoreError> {
    client
        .execute(
            &format!("SELECT pg_advisory_xact_lock({QUEUE_LOCK_KEY})"),
            &[&queue],
        )
        .await
        .ctx("locking a queue for a claim")?;
    Ok(())
}

/// Takes the advisory locks of `queues` shared until the transaction ends. Call it in
/// every transaction that inserts jobs, before the first insert (before the ids are
/// drawn), so that no claim runs between drawing a job's id and committing it (see the
/// module doc). Queues are locked in name order, so that two inserts waiting behind
/// claims never wait for each other in a cycle.
pub(crate) async fn lock_queues_for_insert(
    client: &impl GenericClient,
    queues: impl IntoIterator<Item = &str>,
) -> Result<(), StoreError> {
    const LOCK: &str = "locking queues for new jobs";
    let queues: BTreeSet<&str> = queues.into_iter().collect();
    if queues.is_empty() {
        return Ok(());
    }
    let statement = client
        .prepare(&format!(
            "SELECT pg_advisory_xact_lock_shared({QUEUE_LOCK_KEY})"
        ))
        .await
        .ctx(LOCK)?;
    for queue in queues {
        client.execute(&statement, &[&queue]).await.ctx(LOCK)?;
    }
    Ok(())
}

/// `columns` (a comma-separated list) with each column prefixed by `alias.`.
fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(',')
        .map(|column| format!("{alias}.{}", column.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_prefixes_every_column() {
        assert_eq!(qualified("j", "id, queue,state"), "j.id, j.queue, j.state");
        let all = qualified("j", JOB_COLUMNS);
        assert_eq!(all.matches("j.").count(), JOB_COLUMNS.split(',').count());
    }
}
