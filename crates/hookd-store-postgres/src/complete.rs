//! Completing jobs: the end of an attempt moves its job on and records the attempt, but
//! only while that attempt is still the job's current one.
//!
//! `job_complete_many` calls are committed in groups ([`crate::group`]): the workers of
//! a node each complete their one job at a time, concurrently, and the completions
//! queued meanwhile are written together by one statement in one transaction, so that
//! a busy node pays one commit for many finished jobs. The group's completions are
//! given to the statement in call order, and the statement applies them as if one
//! after the other, so a group behaves exactly like its calls made in turn: of two
//! calls completing the same attempt, the first applies and the second is stale.
//!
//! A completion PostgreSQL refuses (text it cannot store) fails its own call alone: the
//! group's statement is rolled back, and its calls are written again one by one in a
//! new transaction, each under its own savepoint. A failure that says "not now" (a lost
//! connection, a timeout, a deadlock) fails the whole group.

use std::collections::BTreeSet;
use std::sync::Arc;

use hookd_store::{AttemptOutcome, JobCompletion, JobOutcome, JobState, StoreError};

use crate::error::{PgResultExt, from_pool};
use crate::group::{Group, GroupFailure, Shared, under_savepoint};
use crate::rows::get;

const CONTEXT: &str = "completing jobs";

/// Applies the batch given as parallel arrays, one element per completion: `$1` job,
/// `$2` attempt, `$3` node, `$4` new state, `$5` attempt outcome, `$6` retry time,
/// `$7` error, `$8` start, `$9` duration, `$10` status code, `$11` response, `$12` end.
/// Returns, per applied completion, its position in the batch (from 1), its job's queue
/// and ordering key, and the job's new state.
///
/// Completions apply as if one after the other, in batch order: of those naming one
/// job, only the first that matches its current attempt (`running` that attempt under
/// that node) applies, and every later one is stale because the first moved the job on.
/// `chosen` picks it on the statement's snapshot; the `UPDATE` checks the same
/// conditions again on the newest row under its lock, so a rescue or release committed
/// meanwhile wins and the completion is not applied. `last_error` keeps the error of the
/// last *failed* attempt: a success leaves it.
const COMPLETE_SQL: &str = "
    WITH batch AS (
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                             $6::bigint[], $7::text[], $8::bigint[], $9::bigint[],
                             $10::integer[], $11::text[], $12::bigint[])
            WITH ORDINALITY AS b(job_id, attempt, node, state, outcome, run_at, error,
                                 started_at, duration_ms, status_code, response,
                                 finished_at, position)
    ),
    chosen AS (
        SELECT DISTINCT ON (b.job_id) b.*
        FROM batch AS b JOIN jobs AS j ON j.id = b.job_id
        WHERE j.state = 'running' AND j.attempts = b.attempt AND j.lease_owner = b.node
        ORDER BY b.job_id, b.position
    ),
    moved AS (
        UPDATE jobs AS j
        SET state = c.state,
            run_at = COALESCE(c.run_at, j.run_at),
            last_error = CASE WHEN c.state = 'succeeded' THEN j.last_error ELSE c.error END,
            lease_until = NULL, lease_owner = NULL, attempt_started_at = NULL,
            updated_at = c.finished_at
        FROM chosen AS c
        WHERE j.id = c.job_id
          AND j.state = 'running' AND j.attempts = c.attempt AND j.lease_owner = c.node
        RETURNING c.position, j.queue, j.ordering_key, j.state
    ),
    recorded AS (
        INSERT INTO attempts (job_id, number, node, outcome, started_at, duration_ms,
                              status_code, response, error)
        SELECT c.job_id, c.attempt, c.node, c.outcome, c.started_at, c.duration_ms,
               c.status_code, c.response, c.error
        FROM moved AS m JOIN chosen AS c ON c.position = m.position
    )
    SELECT position, queue, ordering_key, state FROM moved";

/// The batch as the columns [`COMPLETE_SQL`] takes.
#[derive(Default)]
struct Columns<'a> {
    job_id: Vec<i64>,
    attempt: Vec<i64>,
    node: Vec<&'a str>,
    state: Vec<&'static str>,
    outcome: Vec<&'static str>,
    run_at: Vec<Option<i64>>,
    error: Vec<Option<&'a str>>,
    started_at: Vec<i64>,
    duration_ms: Vec<i64>,
    status_code: Vec<Option<i32>>,
    response: Vec<Option<&'a str>>,
    finished_at: Vec<i64>,
}

impl<'a> Columns<'a> {
    /// The columns of `completions`, in their order.
    fn new(completions: impl IntoIterator<Item = &'a JobCompletion>) -> Self {
        let mut columns = Columns::default();
        for c in completions {
            let (state, outcome, run_at) = match c.outcome {
                JobOutcome::Succeeded => (JobState::Succeeded, AttemptOutcome::Succeeded, None),
                JobOutcome::Retry { run_at } => {
                    (JobState::Retrying, AttemptOutcome::Failed, Some(run_at))
                }
                JobOutcome::Dead => (JobState::Dead, AttemptOutcome::Dead, None),
            };
            let record = &c.record;
            columns.job_id.push(c.job_id);
            columns.attempt.push(i64::from(c.attempt));
            columns.node.push(&c.node);
            columns.state.push(state.as_str());
            columns.outcome.push(outcome.as_str());
            columns.run_at.push(run_at);
            columns.error.push(record.error.as_deref());
            columns.started_at.push(record.started_at);
            columns.duration_ms.push(record.duration_ms);
            columns.status_code.push(record.status_code.map(i32::from));
            columns.response.push(record.response.as_deref());
            columns
                .finished_at
                .push(record.started_at.saturating_add(record.duration_ms));
        }
        columns
    }
}

/// The savepoint each call runs under when a group is written one call at a time.
const SAVEPOINT: &str = "complete_call";

/// Completing jobs, in groups.
pub(crate) struct Completions {
    /// Connections, channel and feed.
    shared: Arc<Shared>,
}

impl Completions {
    /// The completion group on `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl Group for Completions {
    type Call = Vec<JobCompletion>;
    type Answer = Vec<bool>;

    const NAME: &'static str = "completion";

    /// The group's transaction: every completion of every call in one statement (or,
    /// when PostgreSQL refuses it, each call under its own savepoint), `JobsReady` for
    /// the queues of finished keyed jobs, the commit, then the local feed. A finished
    /// (not retrying) keyed job may unblock the next job of its key.
    async fn commit(
        &self,
        calls: &[Vec<JobCompletion>],
    ) -> Result<Vec<Result<Vec<bool>, StoreError>>, GroupFailure> {
        let shared = &*self.shared;
        let mut client = shared
            .pool
            .get()
            .await
            .map_err(|err| GroupFailure::from_store(&from_pool("getting a connection", err)))?;
        let begin = |err| GroupFailure::from_pg("beginning a transaction", &err);
        let tx = client.transaction().await.map_err(begin)?;
        let mut freed = BTreeSet::new();
        let (tx, results) = match apply(&tx, calls.iter().flatten(), &mut freed).await {
            Ok(applied) => {
                let mut applied = applied.into_iter();
                let results = calls
                    .iter()
                    .map(|call| Ok(applied.by_ref().take(call.len()).collect()))
                    .collect();
                (tx, results)
            }
            Err(StoreError::Backend { .. }) if calls.len() > 1 => {
                tx.rollback()
                    .await
                    .map_err(|err| GroupFailure::from_pg("rolling back", &err))?;
                let tx = client.transaction().await.map_err(begin)?;
                let mut results = Vec::with_capacity(calls.len());
                for completions in calls {
                    let mut call_freed = BTreeSet::new();
                    let write = apply(&tx, completions, &mut call_freed);
                    let result = under_savepoint(&*tx, SAVEPOINT, write).await?;
                    if result.is_ok() {
                        freed.append(&mut call_freed);
                    }
                    results.push(result);
                }
                (tx, results)
            }
            Err(err) => return Err(GroupFailure::from_store(&err)),
        };
        shared.announce_jobs_ready(&*tx, &freed).await?;
        tx.commit()
            .await
            .map_err(|err| GroupFailure::from_pg("committing", &err))?;
        shared.publish_jobs_ready(freed);
        Ok(results)
    }
}

/// Applies each of `completions` whose job is still `running` the same attempt under
/// the same node, in one statement in `tx`, and answers per completion, in order,
/// whether it was applied. Adds to `freed` the queue of each applied completion that
/// finished (not retrying) a keyed job.
async fn apply<'a>(
    tx: &deadpool_postgres::Transaction<'_>,
    completions: impl IntoIterator<Item = &'a JobCompletion>,
    freed: &mut BTreeSet<String>,
) -> Result<Vec<bool>, StoreError> {
    let columns = Columns::new(completions);
    let mut applied = vec![false; columns.job_id.len()];
    if applied.is_empty() {
        return Ok(applied);
    }
    let rows = tx
        .query(
            &tx.prepare_cached(COMPLETE_SQL).await.ctx(CONTEXT)?,
            &[
                &columns.job_id,
                &columns.attempt,
                &columns.node,
                &columns.state,
                &columns.outcome,
                &columns.run_at,
                &columns.error,
                &columns.started_at,
                &columns.duration_ms,
                &columns.status_code,
                &columns.response,
                &columns.finished_at,
            ],
        )
        .await
        .ctx(CONTEXT)?;
    for row in &rows {
        let position: i64 = get(row, "position")?;
        if let Some(slot) = usize::try_from(position - 1)
            .ok()
            .and_then(|index| applied.get_mut(index))
        {
            *slot = true;
        }
        let ordering_key: Option<&str> = get(row, "ordering_key")?;
        let state: &str = get(row, "state")?;
        if ordering_key.is_some() && state != JobState::Retrying.as_str() {
            freed.insert(get::<&str>(row, "queue")?.to_owned());
        }
    }
    Ok(applied)
}
