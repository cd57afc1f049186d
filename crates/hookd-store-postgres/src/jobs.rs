//! Reading jobs and their attempts, and the one mapping from a `jobs` row to a [`Job`]
//! that every statement returning jobs shares.

use hookd_store::{Attempt, AttemptOutcome, AttemptRecord, Job, JobState, StoreError, Target};
use tokio_postgres::{GenericClient, Row};

use crate::error::{PgResultExt, invalid};
use crate::rows::{get, get_as, get_opt_as};

/// The columns [`job_from_row`] reads (unqualified, so prefix them when joining).
pub(crate) const JOB_COLUMNS: &str = "id, event_id, tenant, queue, priority, ordering_key, \
     target, state, run_at, attempts, lease_until, lease_owner, created_at, last_error, webhook_id";

/// Reads a row selected with [`JOB_COLUMNS`].
pub(crate) fn job_from_row(row: &Row) -> Result<Job, StoreError> {
    let target: &str = get(row, "target")?;
    let state: &str = get(row, "state")?;
    Ok(Job {
        id: get(row, "id")?,
        event_id: get(row, "event_id")?,
        tenant: get(row, "tenant")?,
        queue: get(row, "queue")?,
        priority: get_as::<i16, _>(row, "priority")?,
        ordering_key: get(row, "ordering_key")?,
        target: Target::from_storage(target)
            .ok_or_else(|| invalid("reading a job", format!("unknown job target {target:?}")))?,
        state: JobState::parse(state)
            .ok_or_else(|| invalid("reading a job", format!("unknown job state {state:?}")))?,
        run_at: get(row, "run_at")?,
        attempts: get_as::<i32, _>(row, "attempts")?,
        lease_until: get(row, "lease_until")?,
        lease_owner: get(row, "lease_owner")?,
        created_at: get(row, "created_at")?,
        last_error: get(row, "last_error")?,
        webhook_id: get(row, "webhook_id")?,
    })
}

/// Reads one job.
pub(crate) async fn get_job(
    client: &impl GenericClient,
    id: i64,
) -> Result<Option<Job>, StoreError> {
    const CONTEXT: &str = "reading a job";
    let row = client
        .query_opt(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"),
            &[&id],
        )
        .await
        .ctx(CONTEXT)?;
    row.as_ref().map(job_from_row).transpose()
}

/// Lists the jobs of an event in id order.
pub(crate) async fn list_for_event(
    client: &impl GenericClient,
    event_id: &str,
) -> Result<Vec<Job>, StoreError> {
    const CONTEXT: &str = "listing the jobs of an event";
    client
        .query(
            &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE event_id = $1 ORDER BY id"),
            &[&event_id],
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(job_from_row)
        .collect()
}

/// Lists the attempts of a job, first attempt first.
pub(crate) async fn attempts(
    client: &impl GenericClient,
    job_id: i64,
) -> Result<Vec<Attempt>, StoreError> {
    const CONTEXT: &str = "listing the attempts of a job";
    client
        .query(
            "SELECT job_id, number, node, outcome, started_at, duration_ms, status_code,
                    response, error
             FROM attempts WHERE job_id = $1 ORDER BY number",
            &[&job_id],
        )
        .await
        .ctx(CONTEXT)?
        .iter()
        .map(|row| {
            let outcome: &str = get(row, "outcome")?;
            Ok(Attempt {
                job_id: get(row, "job_id")?,
                number: get_as::<i32, _>(row, "number")?,
                node: get(row, "node")?,
                outcome: AttemptOutcome::parse(outcome).ok_or_else(|| {
                    invalid(CONTEXT, format!("unknown attempt outcome {outcome:?}"))
                })?,
                record: AttemptRecord {
                    started_at: get(row, "started_at")?,
                    duration_ms: get(row, "duration_ms")?,
                    status_code: get_opt_as::<i32, _>(row, "status_code")?,
                    response: get(row, "response")?,
                    error: get(row, "error")?,
                },
            })
        })
        .collect()
}
