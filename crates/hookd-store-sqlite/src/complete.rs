//! Completing jobs: the end of an attempt moves its job on and records the attempt,
//! but only while that attempt is still the job's current one.

use hookd_store::{Attempt, AttemptOutcome, JobCompletion, JobOutcome, JobState, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::SqliteResultExt;
use crate::jobs::insert_attempt;
use crate::writer::Changes;

const CONTEXT: &str = "completing jobs";

/// Applies each completion whose job is still `running` the same attempt under the same
/// node, and answers per completion whether it was applied. A finished keyed job may
/// unblock the next job of its key, so its queue is recorded in `changes`.
pub(crate) fn complete_many(
    conn: &Connection,
    completions: &[JobCompletion],
    changes: &mut Changes,
) -> Result<Vec<bool>, StoreError> {
    let mut applied = Vec::with_capacity(completions.len());
    for completion in completions {
        applied.push(complete_one(conn, completion, changes)?);
    }
    Ok(applied)
}

fn complete_one(
    conn: &Connection,
    c: &JobCompletion,
    changes: &mut Changes,
) -> Result<bool, StoreError> {
    let (state, outcome, run_at) = match c.outcome {
        JobOutcome::Succeeded => (JobState::Succeeded, AttemptOutcome::Succeeded, None),
        JobOutcome::Retry { run_at } => (JobState::Retrying, AttemptOutcome::Failed, Some(run_at)),
        JobOutcome::Dead => (JobState::Dead, AttemptOutcome::Dead, None),
    };
    let failed = state != JobState::Succeeded;
    let finished_at = c.record.started_at.saturating_add(c.record.duration_ms);
    // Only the attempt that holds the job's lease may end it. The row is read, then
    // updated, rather than updated with `RETURNING`: SQLite buffers returned rows in a
    // temporary table it builds and drops on every execution.
    let moved: Option<(String, Option<String>)> = conn
        .prepare_cached(
            "SELECT queue, ordering_key FROM jobs
             WHERE id = ?1 AND state = 'running' AND attempts = ?2 AND lease_owner = ?3",
        )
        .ctx(CONTEXT)?
        .query_row(params![c.job_id, c.attempt, c.node], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .ctx(CONTEXT)?;
    if moved.is_some() {
        // last_error keeps the error of the last *failed* attempt: a success leaves it.
        conn.prepare_cached(
            "UPDATE jobs
             SET state = ?2,
                 run_at = COALESCE(?3, run_at),
                 last_error = CASE WHEN ?4 THEN ?5 ELSE last_error END,
                 lease_until = NULL, lease_owner = NULL, attempt_started_at = NULL,
                 updated_at = ?6
             WHERE id = ?1",
        )
        .ctx(CONTEXT)?
        .execute(params![
            c.job_id,
            state.as_str(),
            run_at,
            failed,
            c.record.error,
            finished_at,
        ])
        .ctx(CONTEXT)?;
    }
    let Some((queue, ordering_key)) = moved else {
        return Ok(false);
    };
    insert_attempt(
        conn,
        &Attempt {
            job_id: c.job_id,
            number: c.attempt,
            node: c.node.clone(),
            outcome,
            record: c.record.clone(),
        },
    )?;
    if ordering_key.is_some() && state != JobState::Retrying {
        changes.insert(queue);
    }
    Ok(true)
}
