//! Events: committing them with their jobs (after the dedup check) and reading them back.

use hookd_store::{Event, InsertOutcome, JobState, NewEvent, StoreError};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::{Invalid, SqliteResultExt};
use crate::writer::Changes;

const INSERT: &str = "inserting events";

/// Commits each event with its jobs unless its dedup key was stored on the same source
/// less than the event's window before it. Runs inside the writer's transaction, so
/// later events of the call see earlier ones. Every queue that got a job is recorded in
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
        insert_one(conn, &event, changes)?;
        outcomes.push(InsertOutcome::Inserted { id: event.id });
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

fn insert_one(
    conn: &Connection,
    event: &NewEvent,
    changes: &mut Changes,
) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&event.headers).map_err(|err| StoreError::Backend {
        context: "encoding event headers",
        source: Box::new(err),
    })?;
    conn.prepare_cached(
        "INSERT INTO events (id, tenant, source, event_type, provider_event_id, dedup_key,
                             occurred_at, received_at, headers, body, unrouted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
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
    ])
    .ctx(INSERT)?;
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

    let mut insert_job = conn
        .prepare_cached(
            "INSERT INTO jobs (event_id, tenant, queue, priority, ordering_key, target, state,
                               run_at, attempts, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?9)",
        )
        .ctx(INSERT)?;
    for job in &event.jobs {
        let state = if job.run_at > event.received_at {
            JobState::Scheduled
        } else {
            JobState::Ready
        };
        insert_job
            .execute(params![
                event.id,
                event.tenant,
                job.queue,
                job.priority,
                job.ordering_key,
                job.target.to_storage(),
                state.as_str(),
                job.run_at,
                event.received_at,
            ])
            .ctx(INSERT)?;
        // Scheduled jobs count too: a pool sleeping past their run_at learns of them.
        changes.insert(job.queue.clone());
    }
    Ok(())
}

/// Reads one event on any connection (the writer uses it for claims).
pub(crate) fn get(conn: &Connection, id: &str) -> Result<Option<Event>, StoreError> {
    const CONTEXT: &str = "reading an event";
    conn.prepare_cached(
        "SELECT id, tenant, source, event_type, provider_event_id, dedup_key, occurred_at,
                received_at, headers, body, unrouted
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
        headers,
        body: row.get(9)?,
        unrouted: row.get(10)?,
    })
}
