//! Dead letters and the audit log: listing, counting, requeueing and purging `dead`
//! jobs (through the `jobs_dead` partial index of migration 0004), and appending to and
//! reading the audit log. Requeues, purges and audit entries run on the writer; the
//! rest on the read pool.
//!
//! Every dead-letter statement shares one `WHERE` clause ([`DEAD_WHERE`]) over the
//! [`DeadFilter`]: a `NULL` parameter matches everything, and the source and type come
//! from the job's event.

use hookd_store::{AuditEntry, AuditRecord, DeadFilter, Job, JobRetry, StoreError};
use rusqlite::{Connection, params};

use crate::error::SqliteResultExt;
use crate::jobs::{JOB_COLUMNS, job_from_row};
use crate::writer::Changes;

/// The dead jobs matching the filter parameters `?1` tenant, `?2` queue, `?3` source,
/// `?4` event type.
const DEAD_WHERE: &str = "state = 'dead'
       AND (?1 IS NULL OR tenant = ?1)
       AND (?2 IS NULL OR queue = ?2)
       AND (?3 IS NULL AND ?4 IS NULL
            OR EXISTS (SELECT 1 FROM events e WHERE e.id = jobs.event_id
                       AND (?3 IS NULL OR e.source = ?3)
                       AND (?4 IS NULL OR e.event_type = ?4)))";

/// The ids of at most `limit` dead jobs matching `filter` (and among `ids`, when
/// given), lowest first.
fn matching_ids(
    conn: &Connection,
    ids: Option<&[i64]>,
    filter: &DeadFilter,
    limit: u32,
    context: &'static str,
) -> Result<Vec<i64>, StoreError> {
    let f = filter;
    match ids {
        None => conn
            .prepare_cached(&format!(
                "SELECT id FROM jobs WHERE {DEAD_WHERE} ORDER BY id LIMIT ?5"
            ))
            .ctx(context)?
            .query_map(
                params![f.tenant, f.queue, f.source, f.event_type, limit],
                |row| row.get(0),
            )
            .ctx(context)?
            .collect::<Result<_, _>>()
            .ctx(context),
        Some(ids) => {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT id FROM jobs WHERE {DEAD_WHERE} AND id = ?5"
                ))
                .ctx(context)?;
            let mut found = Vec::new();
            let mut sorted = ids.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            for id in sorted {
                if found.len() >= limit as usize {
                    break;
                }
                let mut rows = stmt
                    .query(params![f.tenant, f.queue, f.source, f.event_type, id])
                    .ctx(context)?;
                if rows.next().ctx(context)?.is_some() {
                    found.push(id);
                }
            }
            Ok(found)
        }
    }
}

/// Requeues dead jobs; records their queues in `changes` so that `JobsReady` is
/// published after the commit.
pub(crate) fn retry(
    conn: &Connection,
    retry: &JobRetry,
    changes: &mut Changes,
) -> Result<u64, StoreError> {
    const CONTEXT: &str = "requeueing dead jobs";
    let ids = matching_ids(
        conn,
        retry.ids.as_deref(),
        &retry.filter,
        retry.limit,
        CONTEXT,
    )?;
    let mut update = conn
        .prepare_cached(
            "UPDATE jobs
             SET state = 'ready', run_at = ?2, updated_at = ?2,
                 lease_until = NULL, lease_owner = NULL, attempt_started_at = NULL
             WHERE id = ?1 AND state = 'dead'
             RETURNING queue",
        )
        .ctx(CONTEXT)?;
    let mut moved = 0;
    for id in ids {
        let mut rows = update.query(params![id, retry.now]).ctx(CONTEXT)?;
        if let Some(row) = rows.next().ctx(CONTEXT)? {
            changes.insert(row.get(0).ctx(CONTEXT)?);
            moved += 1;
        }
    }
    Ok(moved)
}

/// Lists dead jobs newest first, below the cursor.
pub(crate) fn list(
    conn: &Connection,
    filter: &DeadFilter,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<Job>, StoreError> {
    const CONTEXT: &str = "listing dead jobs";
    let f = filter;
    conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE {DEAD_WHERE} AND (?5 IS NULL OR id < ?5)
         ORDER BY id DESC LIMIT ?6"
    ))
    .ctx(CONTEXT)?
    .query_map(
        params![f.tenant, f.queue, f.source, f.event_type, before_id, limit],
        job_from_row,
    )
    .ctx(CONTEXT)?
    .collect::<Result<_, _>>()
    .ctx(CONTEXT)
}

/// Counts dead jobs per queue.
pub(crate) fn count(
    conn: &Connection,
    filter: &DeadFilter,
) -> Result<Vec<(String, u64)>, StoreError> {
    const CONTEXT: &str = "counting dead jobs";
    let f = filter;
    conn.prepare_cached(&format!(
        "SELECT queue, COUNT(*) FROM jobs WHERE {DEAD_WHERE} GROUP BY queue ORDER BY queue"
    ))
    .ctx(CONTEXT)?
    .query_map(params![f.tenant, f.queue, f.source, f.event_type], |row| {
        Ok((
            row.get(0)?,
            u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0),
        ))
    })
    .ctx(CONTEXT)?
    .collect::<Result<_, _>>()
    .ctx(CONTEXT)
}

/// Deletes dead jobs with their attempts.
pub(crate) fn purge(
    conn: &Connection,
    ids: Option<&[i64]>,
    filter: &DeadFilter,
    limit: u32,
) -> Result<u64, StoreError> {
    const CONTEXT: &str = "purging dead jobs";
    let ids = matching_ids(conn, ids, filter, limit, CONTEXT)?;
    let mut delete_attempts = conn
        .prepare_cached("DELETE FROM attempts WHERE job_id = ?1")
        .ctx(CONTEXT)?;
    let mut delete_job = conn
        .prepare_cached("DELETE FROM jobs WHERE id = ?1 AND state = 'dead'")
        .ctx(CONTEXT)?;
    let mut purged = 0;
    for id in ids {
        delete_attempts.execute([id]).ctx(CONTEXT)?;
        purged += delete_job.execute([id]).ctx(CONTEXT)? as u64;
    }
    Ok(purged)
}

/// Appends an audit entry; returns its id.
pub(crate) fn audit_insert(conn: &Connection, entry: &AuditEntry) -> Result<i64, StoreError> {
    const CONTEXT: &str = "recording an audit entry";
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, tenant, action, target, count, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
    )
    .ctx(CONTEXT)?
    .query_row(
        params![
            entry.at,
            entry.actor,
            entry.tenant,
            entry.action,
            entry.target,
            i64::try_from(entry.count).unwrap_or(i64::MAX),
            entry.detail,
        ],
        |row| row.get(0),
    )
    .ctx(CONTEXT)
}

/// Lists audit entries newest first, below the cursor.
pub(crate) fn audit_list(
    conn: &Connection,
    tenant: Option<&str>,
    before_id: Option<i64>,
    limit: u32,
) -> Result<Vec<AuditRecord>, StoreError> {
    const CONTEXT: &str = "listing audit entries";
    conn.prepare_cached(
        "SELECT id, at, actor, tenant, action, target, count, detail FROM audit
         WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3",
    )
    .ctx(CONTEXT)?
    .query_map(params![tenant, before_id, limit], |row| {
        Ok(AuditRecord {
            id: row.get(0)?,
            entry: AuditEntry {
                at: row.get(1)?,
                actor: row.get(2)?,
                tenant: row.get(3)?,
                action: row.get(4)?,
                target: row.get(5)?,
                count: u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
                detail: row.get(7)?,
            },
        })
    })
    .ctx(CONTEXT)?
    .collect::<Result<_, _>>()
    .ctx(CONTEXT)
}
