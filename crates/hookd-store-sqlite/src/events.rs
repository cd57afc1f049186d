//! Events: committing them with their jobs (after the dedup check) and reading them back.
//! [`insert_jobs`] writes the jobs of an event, for ingest and for a replay alike.

use hookd_store::{Event, InsertOutcome, JobState, Millis, NewEvent, NewJob, StoreError};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Invalid, SqliteResultExt};
use crate::writer::Changes;

const INSERT: &str = "inserting events";

/// Commits each event with its jobs unless its dedup key was stored on the same source
/// less than the event's window before it. Runs inside the writer's transaction, so
/// later events of the call see earlier ones. Each event's `committed_at` is when the
/// group began ([`Changes::began_at`]); every queue that got a job is recorded in
/// `changes`.
pub(crate) fn insert_with_jobs(
    conn: &Connection,
    events: Vec<NewEvent>,
    changes: &mut Changes,
) -> Result<Vec<InsertOutcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(events.len());
    for event in events {
        if let Some(original_id) = duplicate_of(conn, &event)? {
            outcomes.push(InsertOutcome::Duplicate { original_id });
            continue;
        }
        if insert_one(conn, &event, changes)? {
            outcomes.push(InsertOutcome::Inserted { id: event.id });
        } else {
            outcomes.push(InsertOutcome::Duplicate {
                original_id: event.id,
            });
        }
    }
    Ok(outcomes)
}

/// The id of the event this one repeats, if its key was seen within the window.
fn duplicate_of(conn: &Connection, event: &NewEvent) -> Result<Option<String>, StoreError> {
    let seen: Option<(String, i64)> = conn
        .prepare_cached(
            "SELECT event_id, received_at FROM dedup WHERE source = ?1 AND dedup_key = ?2",
        )
        .ctx(INSERT)?
        .query_row(params![event.source, event.dedup_key], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .ctx(INSERT)?;
    Ok(seen.and_then(|(original_id, seen_at)| {
        (event.received_at.saturating_sub(seen_at) < event.dedup_window_ms).then_some(original_id)
    }))
}

/// Stores the event, its dedup key and its jobs; returns false, storing nothing, when an
/// event with its id is already stored (it is then a duplicate of itself).
fn insert_one(
    conn: &Connection,
    event: &NewEvent,
    changes: &mut Changes,
) -> Result<bool, StoreError> {
    let headers = serde_json::to_string(&event.headers).map_err(|err| StoreError::Backend {
        context: "encoding event headers",
        source: Box::new(err),
    })?;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO events (id, tenant, source, event_type, provider_event_id, dedup_key,
                             occurred_at, received_at, headers, body, unrouted, committed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (id) DO NOTHING",
        )
        .ctx(INSERT)?
        .execute(params![
            event.id,
            event.tenant,
            event.source,
            event.event_type,
            event.provider_event_id,
            event.dedup_key,
            event.occurred_at,
            event.received_at,
            headers,
            event.body,
            event.jobs.is_empty(),
            changes.began_at(),
        ])
        .ctx(INSERT)?;
    if inserted == 0 {
        return Ok(false);
    }
    // A key seen before but outside the window now points at this event.
    conn.prepare_cached(
        "INSERT INTO dedup (source, dedup_key, event_id, received_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (source, dedup_key)
         DO UPDATE SET event_id = excluded.event_id, received_at = excluded.received_at",
    )
    .ctx(INSERT)?
    .execute(params![
        event.source,
        event.dedup_key,
        event.id,
        event.received_at
    ])
    .ctx(INSERT)?;

    insert_jobs(
        conn,
        &EventJobs {
            event_id: &event.id,
            tenant: &event.tenant,
            created_at: event.received_at,
            webhook_id: None,
        },
        &event.jobs,
        changes,
    )?;
    Ok(true)
}

/// Whose jobs [`insert_jobs`] writes, and what they share.
pub(crate) struct EventJobs<'a> {
    /// The event they work off.
    pub(crate) event_id: &'a str,
    /// The event's tenant, which its jobs inherit.
    pub(crate) tenant: &'a str,
    /// When they are created: a job due later starts `scheduled`, any other `ready`.
    pub(crate) created_at: Millis,
    /// The `webhook-id` they are forwarded with; `None` for the event's id.
    pub(crate) webhook_id: Option<&'a str>,
}

/// Inserts `jobs` for one event, in order, and returns their ids. Every queue that got
/// a job is recorded in `changes`.
pub(crate) fn insert_jobs(
    conn: &Connection,
    of: &EventJobs<'_>,
    jobs: &[NewJob],
    changes: &mut Changes,
) -> Result<Vec<i64>, StoreError> {
    const CONTEXT: &str = "inserting jobs";
    let mut insert_job = conn
        .prepare_cached(
            "INSERT INTO jobs (event_id, tenant, queue, priority, ordering_key, target, state,
                               run_at, attempts, created_at, updated_at, webhook_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9, ?10)",
        )
        .ctx(CONTEXT)?;
    let mut ids = Vec::with_capacity(jobs.len());
    for job in jobs {
        let state = if job.run_at > of.created_at {
            JobState::Scheduled
        } else {
            JobState::Ready
        };
        // The new id from the connection rather than `RETURNING id`: SQLite buffers a
        // RETURNING statement's rows in a temporary table it builds and drops each time.
        insert_job
            .execute(params![
                of.event_id,
                of.tenant,
                job.queue,
                job.priority,
                job.ordering_key,
                job.target.to_storage(),
                state.as_str(),
                job.run_at,
                of.created_at,
                of.webhook_id,
            ])
            .ctx(CONTEXT)?;
        ids.push(conn.last_insert_rowid());
        // Scheduled jobs count too: a pool sleeping past their run_at learns of them.
        changes.insert(job.queue.clone());
    }
    Ok(ids)
}

/// Reads one event on any connection (the writer uses it for claims).
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Event>, StoreError> {
    const CONTEXT: &str = "reading an event";
    conn.prepare_cached(
        "SELECT id, tenant, source, event_type, provider_event_id, dedup_key, occurred_at,
                received_at, headers, body, unrouted, COALESCE(committed_at, received_at)
         FROM events WHERE id = ?1",
    )
    .ctx(CONTEXT)?
    .query_row([id], event_from_row)
    .optional()
    .ctx(CONTEXT)
}

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let headers: String = row.get(8)?;
    let headers = serde_json::from_str(&headers).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(
            8,
            Type::Text,
            Box::new(Invalid(format!(
                "event headers are not a JSON list of pairs: {err}"
            ))),
        )
    })?;
    Ok(Event {
        id: row.get(0)?,
        tenant: row.get(1)?,
        source: row.get(2)?,
        event_type: row.get(3)?,
        provider_event_id: row.get(4)?,
        dedup_key: row.get(5)?,
        occurred_at: row.get(6)?,
        received_at: row.get(7)?,
        committed_at: row.get(11)?,
        headers,
        body: row.get(9)?,
        unrouted: row.get(10)?,
    })
}
