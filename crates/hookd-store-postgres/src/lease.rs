//! Leases of running jobs: renewing them, rescuing jobs whose lease expired, and
//! releasing jobs on shutdown. Each is one statement over the whole batch; the ones that
//! make jobs claimable announce `JobsReady` in their transaction and publish it after
//! the commit.

use hookd_store::{JobLeaseExtend, JobRelease, JobRescue, RescuedJob, StoreError};

use crate::PostgresStore;
use crate::error::PgResultExt;
use crate::publish::{commit_and_publish, jobs_ready};
use crate::rows::get;

/// Renews the lease of each `(job, attempt)` still running that attempt under the node;
/// returns how many were renewed.
pub(crate) async fn extend(
    store: &PostgresStore,
    extend: &JobLeaseExtend,
) -> Result<u64, StoreError> {
    const CONTEXT: &str = "extending leases";
    let (ids, attempts) = split(&extend.jobs);
    let client = store.client().await?;
    let renewed = client
        .execute(
            &client
                .prepare_cached(
                    "UPDATE jobs AS j SET lease_until = $4
                     FROM unnest($1::bigint[], $2::bigint[]) AS held(id, attempt)
                     WHERE j.id = held.id AND j.state = 'running'
                       AND j.attempts = held.attempt AND j.lease_owner = $3",
                )
                .await
                .ctx(CONTEXT)?,
            &[&ids, &attempts, &extend.node, &extend.lease_until],
        )
        .await
        .ctx(CONTEXT)?;
    store.record_commit(1);
    Ok(renewed)
}

/// Takes back running jobs whose lease ended before `$1`, at most `$2`, oldest lease
/// first: each gets a `lease_expired` attempt naming the node that lost it, then goes
/// `dead` when its queue's `max_attempts` (`$3` queues, `$4` their limits, `$5` for any
/// other queue) are used up, else `retrying` due at once.
///
/// `SKIP LOCKED` keeps two rescuers (on two nodes) from taking one job twice, and
/// passes over a job whose completion is being written right now; a job completed
/// after the statement's snapshot is checked again on its newest row and left alone.
const RESCUE_SQL: &str = "
    WITH expired AS (
        SELECT id, queue, attempts, COALESCE(lease_owner, '') AS owner,
               COALESCE(attempt_started_at, $1) AS started_at
        FROM jobs
        WHERE state = 'running' AND lease_until < $1
        ORDER BY lease_until, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
    ),
    decided AS (
        SELECT x.*, x.attempts >= COALESCE(m.max_attempts, $5) AS dead,
               'lease expired on node ' || x.owner AS error
        FROM expired AS x
        LEFT JOIN unnest($3::text[], $4::bigint[]) AS m(queue, max_attempts)
            ON m.queue = x.queue
    ),
    recorded AS (
        INSERT INTO attempts (job_id, number, node, outcome, started_at, duration_ms, error)
        SELECT id, attempts, owner, 'lease_expired', started_at,
               GREATEST($1 - started_at, 0), error
        FROM decided
    )
    UPDATE jobs AS j
    SET state = CASE WHEN d.dead THEN 'dead' ELSE 'retrying' END,
        run_at = CASE WHEN d.dead THEN j.run_at ELSE $1 END,
        last_error = d.error, lease_until = NULL, lease_owner = NULL,
        attempt_started_at = NULL, updated_at = $1
    FROM decided AS d
    WHERE j.id = d.id
    RETURNING j.id, d.queue, d.owner, d.dead";

/// Rescues one batch of expired leases (see [`RESCUE_SQL`]) and announces `JobsReady`
/// for every queue that had one: a retrying job runs again, and a dead one frees its
/// ordering key.
pub(crate) async fn rescue_expired(
    store: &PostgresStore,
    rescue: &JobRescue,
) -> Result<Vec<RescuedJob>, StoreError> {
    const CONTEXT: &str = "rescuing expired leases";
    let (queues, limits): (Vec<&str>, Vec<i64>) = rescue
        .max_attempts
        .iter()
        .map(|(queue, max)| (queue.as_str(), i64::from(*max)))
        .unzip();
    let mut client = store.client().await?;
    let tx = client.transaction().await.ctx(CONTEXT)?;
    let rows = tx
        .query(
            &tx.prepare_cached(RESCUE_SQL).await.ctx(CONTEXT)?,
            &[
                &rescue.now,
                &i64::from(rescue.limit),
                &queues,
                &limits,
                &i64::from(rescue.default_max_attempts),
            ],
        )
        .await
        .ctx(CONTEXT)?;
    let mut rescued = rows
        .iter()
        .map(|row| {
            Ok(RescuedJob {
                job_id: get(row, "id")?,
                queue: get(row, "queue")?,
                lost_by: get(row, "owner")?,
                dead: get(row, "dead")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    rescued.sort_by_key(|job| job.job_id);
    let changes = jobs_ready(rescued.iter().map(|job| job.queue.as_str()));
    commit_and_publish(store, tx, changes, CONTEXT).await?;
    Ok(rescued)
}

/// Gives back each `(job, attempt)` the node still runs: `ready` at `now`, the attempt
/// uncounted and unrecorded. Returns how many were released, and announces `JobsReady`
/// for their queues.
pub(crate) async fn release(
    store: &PostgresStore,
    release: &JobRelease,
) -> Result<u64, StoreError> {
    const CONTEXT: &str = "releasing jobs";
    let (ids, attempts) = split(&release.jobs);
    let mut client = store.client().await?;
    let tx = client.transaction().await.ctx(CONTEXT)?;
    let rows = tx
        .query(
            &tx.prepare_cached(
                "UPDATE jobs AS j
                 SET state = 'ready', run_at = $4, attempts = j.attempts - 1,
                     lease_until = NULL, lease_owner = NULL, attempt_started_at = NULL,
                     updated_at = $4
                 FROM unnest($1::bigint[], $2::bigint[]) AS held(id, attempt)
                 WHERE j.id = held.id AND j.state = 'running'
                   AND j.attempts = held.attempt AND j.lease_owner = $3
                 RETURNING j.queue",
            )
            .await
            .ctx(CONTEXT)?,
            &[&ids, &attempts, &release.node, &release.now],
        )
        .await
        .ctx(CONTEXT)?;
    let queues = rows
        .iter()
        .map(|row| get::<&str>(row, "queue"))
        .collect::<Result<Vec<_>, _>>()?;
    commit_and_publish(store, tx, jobs_ready(queues), CONTEXT).await?;
    Ok(rows.len() as u64)
}

/// `(job, attempt)` pairs as the two arrays the statements unnest.
fn split(jobs: &[(i64, u32)]) -> (Vec<i64>, Vec<i64>) {
    jobs.iter()
        .map(|&(id, attempt)| (id, i64::from(attempt)))
        .unzip()
}
