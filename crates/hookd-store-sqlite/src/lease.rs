//! Leases of running jobs: renewing them, rescuing jobs whose lease expired, and
//! releasing jobs on shutdown.

use hookd_store::{
    Attempt, AttemptOutcome, AttemptRecord, JobLeaseExtend, JobRelease, JobRescue, RescuedJob,
    StoreError,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::SqliteResultExt;
use crate::jobs::insert_attempt;
use crate::writer::Changes;

/// Renews the lease of each `(job, attempt)` still running that attempt under the node;
/// returns how many were renewed.
pub(crate) fn extend(conn: &Connection, extend: &JobLeaseExtend) -> Result<u64, StoreError> {
    const CONTEXT: &str = "extending leases";
    let mut stmt = conn
        .prepare_cached(
            "UPDATE jobs SET lease_until = ?4
             WHERE id = ?1 AND state = 'running' AND attempts = ?2 AND lease_owner = ?3",
        )
        .ctx(CONTEXT)?;
    let mut renewed = 0;
    for &(id, attempt) in &extend.jobs {
        renewed += stmt
            .execute(params![id, attempt, extend.node, extend.lease_until])
            .ctx(CONTEXT)? as u64;
    }
    Ok(renewed)
}

/// Takes back running jobs whose lease ended before `now`: each gets a `lease_expired`
/// attempt naming the node that lost it, then goes `dead` when its queue's
/// `max_attempts` are used up, else `retrying` due at once.
pub(crate) fn rescue_expired(
    conn: &Connection,
    rescue: &JobRescue,
    changes: &mut Changes,
) -> Result<Vec<RescuedJob>, StoreError> {
    const CONTEXT: &str = "rescuing expired leases";
    struct Expired {
        id: i64,
        queue: String,
        attempts: u32,
        owner: String,
        started_at: Option<i64>,
    }
    let expired: Vec<Expired> = conn
        .prepare_cached(
            "SELECT id, queue, attempts, COALESCE(lease_owner, ''), attempt_started_at
             FROM jobs
             WHERE state = 'running' AND lease_until < ?1
             ORDER BY lease_until, id
             LIMIT ?2",
        )
        .ctx(CONTEXT)?
        .query_map(params![rescue.now, rescue.limit], |row| {
            Ok(Expired {
                id: row.get(0)?,
                queue: row.get(1)?,
                attempts: row.get(2)?,
                owner: row.get(3)?,
                started_at: row.get(4)?,
            })
        })
        .ctx(CONTEXT)?
        .collect::<Result<_, _>>()
        .ctx(CONTEXT)?;

    let mut update = conn
        .prepare_cached(
            "UPDATE jobs
             SET state = ?2, run_at = CASE WHEN ?2 = 'retrying' THEN ?3 ELSE run_at END,
                 last_error = ?4, lease_until = NULL, lease_owner = NULL,
                 attempt_started_at = NULL, updated_at = ?3
             WHERE id = ?1",
        )
        .ctx(CONTEXT)?;
    let mut rescued = Vec::with_capacity(expired.len());
    for job in expired {
        let max_attempts = rescue
            .max_attempts
            .get(&job.queue)
            .copied()
            .unwrap_or(rescue.default_max_attempts);
        let dead = job.attempts >= max_attempts;
        let error = format!("lease expired on node {}", job.owner);
        let started_at = job.started_at.unwrap_or(rescue.now);
        insert_attempt(
            conn,
            &Attempt {
                job_id: job.id,
                number: job.attempts,
                node: job.owner.clone(),
                outcome: AttemptOutcome::LeaseExpired,
                record: AttemptRecord {
                    started_at,
                    duration_ms: rescue.now.saturating_sub(started_at).max(0),
                    status_code: None,
                    response: None,
                    error: Some(error.clone()),
                },
            },
        )?;
        let state = if dead { "dead" } else { "retrying" };
        update
            .execute(params![job.id, state, rescue.now, error])
            .ctx(CONTEXT)?;
        changes.insert(job.queue.clone());
        rescued.push(RescuedJob {
            job_id: job.id,
            queue: job.queue,
            lost_by: job.owner,
            dead,
        });
    }
    Ok(rescued)
}

/// Gives back each `(job, attempt)` the node still runs: `ready` at `now`, the attempt
/// uncounted and unrecorded. Returns how many were released.
pub(crate) fn release(
    conn: &Connection,
    release: &JobRelease,
    changes: &mut Changes,
) -> Result<u64, StoreError> {
    const CONTEXT: &str = "releasing jobs";
    let mut stmt = conn
        .prepare_cached(
            "UPDATE jobs
             SET state = 'ready', run_at = ?4, attempts = attempts - 1, lease_until = NULL,
                 lease_owner = NULL, attempt_started_at = NULL, updated_at = ?4
             WHERE id = ?1 AND state = 'running' AND attempts = ?2 AND lease_owner = ?3
             RETURNING queue",
        )
        .ctx(CONTEXT)?;
    let mut released = 0;
    for &(id, attempt) in &release.jobs {
        let queue: Option<String> = stmt
            .query_row(params![id, attempt, release.node, release.now], |row| {
                row.get(0)
            })
            .optional()
            .ctx(CONTEXT)?;
        if let Some(queue) = queue {
            changes.insert(queue);
            released += 1;
        }
    }
    Ok(released)
}
