//! Claiming jobs: the statement that picks the next due jobs of a queue, honouring
//! priority, schedule, id order and per-key FIFO, and moves them to `running`.
//!
//! It runs on the writer thread, so picking and updating happen without any other write
//! in between: no row locks are needed (PostgreSQL uses `FOR UPDATE SKIP LOCKED` for the
//! same guarantee across nodes). For the same reason a queue's cap on running jobs
//! (`JobClaim::max_running`) holds by counting them at the start of the claim: no other
//! claim can start a job between the count and the update.

use hookd_store::{ClaimBatch, ClaimedJob, JobClaim, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{SqliteResultExt, invalid};
use crate::events;
use crate::jobs::{JOB_COLUMNS, job_from_row};

const CONTEXT: &str = "claiming jobs";

/// The due jobs of queue `?1` at time `?2`, in claim order; the caller reads as many as
/// it claims. No `LIMIT ?3`: SQLite plans with a bound limit's value, so binding another
/// one would compile the statement anew on every claim.
///
/// A keyed job is eligible only when no earlier job (lower id) of the same queue and key
/// still blocks it: one that is `ready`, `running` or `retrying`, or `scheduled` and due.
/// Because an earlier due sibling is itself a candidate, one claim never takes two jobs
/// of a key. The state terms repeat the partial-index conditions word for word so that
/// SQLite uses `jobs_claim` and `jobs_ordering`.
pub(crate) const PICK_SQL: &str = "
    SELECT j.id FROM jobs AS j
    WHERE j.queue = ?1
      AND j.state IN ('scheduled', 'ready', 'retrying')
      AND j.run_at <= ?2
      AND (j.ordering_key IS NULL OR NOT EXISTS (
            SELECT 1 FROM jobs AS e
            WHERE e.queue = j.queue
              AND e.ordering_key = j.ordering_key
              AND e.id < j.id
              AND e.ordering_key IS NOT NULL
              AND e.state NOT IN ('succeeded', 'dead')
              AND (e.state <> 'scheduled' OR e.run_at <= ?2)))
    ORDER BY j.priority, j.run_at, j.id";

/// The running jobs of queue `?1`, on every node. The state terms repeat the
/// partial-index condition so that SQLite counts them from `jobs_queue_active` alone.
pub(crate) const RUNNING_SQL: &str = "
    SELECT count(*) FROM jobs
    WHERE queue = ?1
      AND state IN ('scheduled', 'ready', 'running', 'retrying')
      AND state = 'running'";

/// The earliest wake-up of queue `?1` after time `?2`.
pub(crate) const NEXT_RUN_SQL: &str = "
    SELECT run_at FROM jobs
    WHERE queue = ?1 AND state IN ('scheduled', 'retrying') AND run_at > ?2
    ORDER BY run_at
    LIMIT 1";

/// Claims up to `claim.limit` due jobs (fewer when `claim.max_running` leaves less room),
/// counting their attempt and leasing them to `claim.node`, and reports when the queue's
/// next waiting job becomes due.
pub(crate) fn claim(conn: &Connection, claim: &JobClaim) -> Result<ClaimBatch, StoreError> {
    let limit = match claim.max_running {
        None => claim.limit,
        Some(max_running) => {
            let running: i64 = conn
                .prepare_cached(RUNNING_SQL)
                .ctx(CONTEXT)?
                .query_row(params![claim.queue], |row| row.get(0))
                .ctx(CONTEXT)?;
            let room = i64::from(max_running).saturating_sub(running).max(0);
            claim.limit.min(u32::try_from(room).unwrap_or(u32::MAX))
        }
    };
    let ids: Vec<i64> = if limit == 0 {
        Vec::new()
    } else {
        conn.prepare_cached(PICK_SQL)
            .ctx(CONTEXT)?
            .query_map(params![claim.queue, claim.now], |row| row.get(0))
            .ctx(CONTEXT)?
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .collect::<Result<_, _>>()
            .ctx(CONTEXT)?
    };

    let mut jobs = Vec::with_capacity(ids.len());
    // Update, then read the row back by its key: cheaper than `RETURNING`, whose rows
    // SQLite buffers in a temporary table it builds and drops on every execution.
    let mut start = conn
        .prepare_cached(
            "UPDATE jobs
             SET state = 'running', attempts = attempts + 1, attempt_started_at = ?2,
                 lease_until = ?3, lease_owner = ?4, updated_at = ?2
             WHERE id = ?1",
        )
        .ctx(CONTEXT)?;
    let mut read = conn
        .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))
        .ctx(CONTEXT)?;
    for id in ids {
        start
            .execute(params![id, claim.now, claim.lease_until, claim.node])
            .ctx(CONTEXT)?;
        let job = read.query_row([id], job_from_row).ctx(CONTEXT)?;
        let event = events::get(conn, &job.event_id)?.ok_or_else(|| {
            invalid(
                CONTEXT,
                format!("job {} names missing event {}", job.id, job.event_id),
            )
        })?;
        jobs.push(ClaimedJob { job, event });
    }

    let next_run_at = conn
        .prepare_cached(NEXT_RUN_SQL)
        .ctx(CONTEXT)?
        .query_row(params![claim.queue, claim.now], |row| row.get(0))
        .optional()
        .ctx(CONTEXT)?;
    Ok(ClaimBatch { jobs, next_run_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::migrate;

    fn plan(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let rows = stmt
            .query_map(params, |row| row.get::<_, String>(3))
            .expect("plan rows");
        rows.map(|r| r.expect("plan row"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn claim_walks_the_partial_indexes() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        conn.execute_batch("ANALYZE").expect("analyze");
        let pick = plan(&conn, PICK_SQL, params!["q", 0]);
        assert!(pick.contains("jobs_claim"), "pick uses jobs_claim:\n{pick}");
        assert!(
            pick.contains("jobs_ordering"),
            "key check uses jobs_ordering:\n{pick}"
        );
        assert!(!pick.contains("TEMP B-TREE"), "no sort step:\n{pick}");

        let next = plan(&conn, NEXT_RUN_SQL, params!["q", 0]);
        assert!(
            next.contains("jobs_waiting"),
            "next run uses jobs_waiting:\n{next}"
        );

        let running = plan(&conn, RUNNING_SQL, params!["q"]);
        assert!(
            running.contains("COVERING INDEX jobs_queue_active"),
            "the running count reads jobs_queue_active alone:\n{running}"
        );
    }

    /// A claim runs for every few jobs delivered, so its statements must stay compiled:
    /// SQLite compiles a statement anew when a value bound to it may change its plan
    /// (a bound `LIMIT`, say), which cost more than the claim itself.
    #[test]
    fn claim_statements_are_compiled_once() {
        let mut conn = Connection::open_in_memory().expect("open");
        migrate(&mut conn).expect("migrate");
        for (name, sql) in [
            ("pick", PICK_SQL),
            ("next run", NEXT_RUN_SQL),
            ("running", RUNNING_SQL),
        ] {
            let mut stmt = conn.prepare(sql).expect("prepare");
            for round in 0..3_i64 {
                // The queue, then times and counts: new values for every parameter.
                stmt.raw_bind_parameter(1, format!("queue-{round}"))
                    .expect("bind");
                for index in 2..=stmt.parameter_count() {
                    stmt.raw_bind_parameter(index, 10 + round).expect("bind");
                }
                let mut rows = stmt.raw_query();
                while rows.next().expect("step").is_some() {}
            }
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "the {name} statement was compiled again for new values"
            );
        }
    }
}
