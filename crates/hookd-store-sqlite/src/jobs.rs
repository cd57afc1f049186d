//! Reading jobs and their attempts, and the one mapping from a `jobs` row to a [`Job`]
//! that every statement returning jobs shares.

use hookd_store::{Attempt, AttemptOutcome, AttemptRecord, Job, JobState, StoreError, Target};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::{Invalid, SqliteResultExt};

/// The columns [`job_from_row`] reads, in its order.
pub(crate) const JOB_COLUMNS: &str = "id, event_id, tenant, queue, priority, ordering_key, \
     target, state, run_at, attempts, lease_until, lease_owner, created_at, last_error, webhook_id";

/// Reads a row selected with [`JOB_COLUMNS`].
pub(crate) fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let target: String = row.get(6)?;
    let state: String = row.get(7)?;
    Ok(Job {
        id: row.get(0)?,
        event_id: row.get(1)?,
        tenant: row.get(2)?,
        queue: row.get(3)?,
        priority: row.get(4)?,
        ordering_key: row.get(5)?,
        target: Target::from_storage(&target)
            .ok_or_else(|| unreadable(6, format!("unknown job target {target:?}")))?,
        state: JobState::parse(&state)
            .ok_or_else(|| unreadable(7, format!("unknown job state {state:?}")))?,
        run_at: row.get(8)?,
        attempts: row.get(9)?,
        lease_until: row.get(10)?,
        lease_owner: row.get(11)?,
        created_at: row.get(12)?,
        last_error: row.get(13)?,
        webhook_id: row.get(14)?,
    })
}

fn unreadable(column: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(Invalid(message)))
}

/// Reads one job.
pub(crate) fn get(conn: &Connection, id: i64) -> Result<Option<Job>, StoreError> {
    const CONTEXT: &str = "reading a job";
    conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))
        .ctx(CONTEXT)?
        .query_row([id], job_from_row)
        .optional()
        .ctx(CONTEXT)
}

/// Lists the jobs of an event in id order.
pub(crate) fn list_for_event(conn: &Connection, event_id: &str) -> Result<Vec<Job>, StoreError> {
    const CONTEXT: &str = "listing the jobs of an event";
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE event_id = ?1 ORDER BY id"
    ))
    .ctx(CONTEXT)?
    .query_map([event_id], job_from_row)
    .ctx(CONTEXT)?
    .collect::<Result<_, _>>()
    .ctx(CONTEXT)
}

/// Lists the attempts of a job, first attempt first.
pub(crate) fn attempts(conn: &Connection, job_id: i64) -> Result<Vec<Attempt>, StoreError> {
    const CONTEXT: &str = "listing the attempts of a job";
    conn.prepare_cached(
        "SELECT job_id, number, node, outcome, started_at, duration_ms, status_code, response,
                error
         FROM attempts WHERE job_id = ?1 ORDER BY number",
    )
    .ctx(CONTEXT)?
    .query_map([job_id], |row| {
        let outcome: String = row.get(3)?;
        Ok(Attempt {
            job_id: row.get(0)?,
            number: row.get(1)?,
            node: row.get(2)?,
            outcome: AttemptOutcome::parse(&outcome)
                .ok_or_else(|| unreadable(3, format!("unknown attempt outcome {outcome:?}")))?,
            record: AttemptRecord {
                started_at: row.get(4)?,
                duration_ms: row.get(5)?,
                status_code: row.get(6)?,
                response: row.get(7)?,
                error: row.get(8)?,
            },
        })
    })
    .ctx(CONTEXT)?
    .collect::<Result<_, _>>()
    .ctx(CONTEXT)
}

/// Records one finished attempt (part of a completion or a rescue).
pub(crate) fn insert_attempt(conn: &Connection, attempt: &Attempt) -> Result<(), StoreError> {
    const CONTEXT: &str = "recording an attempt";
    let record = &attempt.record;
    conn.prepare_cached(
        "INSERT INTO attempts (job_id, number, node, outcome, started_at, duration_ms,
                               status_code, response, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .ctx(CONTEXT)?
    .execute(rusqlite::params![
        attempt.job_id,
        attempt.number,
        attempt.node,
        attempt.outcome.as_str(),
        record.started_at,
        record.duration_ms,
        record.status_code,
        record.response,
        record.error,
    ])
    .ctx(CONTEXT)?;
    Ok(())
}
