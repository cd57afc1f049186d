//! Replay: new jobs for a stored event, written on the writer like an ingest's jobs
//! ([`insert_jobs`]), so the event is no longer `unrouted` and its queues learn of the
//! work after the commit.

use hookd_store::{JobReplay, StoreError};
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::SqliteResultExt;
use crate::events::{EventJobs, insert_jobs};
use crate::writer::Changes;

/// Inserts the replay's jobs for its event, created when the group began
/// ([`Changes::began_at`]), and marks the event routed; `None` when there is no such
/// event of the replay's tenant. Every queue that got a job is recorded in `changes`.
pub(crate) fn insert_for_event(
    conn: &Connection,
    replay: &JobReplay,
    changes: &mut Changes,
) -> Result<Option<Vec<i64>>, StoreError> {
    const CONTEXT: &str = "replaying an event";
    let tenant: Option<String> = conn
        .prepare_cached("SELECT tenant FROM events WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)")
        .ctx(CONTEXT)?
        .query_row(params![replay.event_id, replay.tenant], |row| row.get(0))
        .optional()
        .ctx(CONTEXT)?;
    let Some(tenant) = tenant else {
        return Ok(None);
    };
    let ids = insert_jobs(
        conn,
        &EventJobs {
            event_id: &replay.event_id,
            tenant: &tenant,
            created_at: changes.began_at(),
            webhook_id: replay.webhook_id.as_deref(),
        },
        &replay.jobs,
        changes,
    )?;
    if !ids.is_empty() {
        conn.prepare_cached("UPDATE events SET unrouted = 0 WHERE id = ?1 AND unrouted <> 0")
            .ctx(CONTEXT)?
            .execute([&replay.event_id])
            .ctx(CONTEXT)?;
    }
    Ok(Some(ids))
}
