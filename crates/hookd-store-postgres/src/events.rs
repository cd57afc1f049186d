//! Events: committing them with their jobs (after the dedup check) and reading them back.
//! [`insert_jobs`] writes the jobs of an event, for ingest and for a replay alike.

use std::collections::BTreeSet;

use hookd_store::{Event, InsertOutcome, Millis, NewEvent, NewJob, StoreError};
use tokio_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use crate::error::PgResultExt;
use crate::rows::get;

/// The database's clock when the current transaction began, in unix milliseconds: when
/// an event was committed, and when a replay's jobs were created. The one clock the
/// store reads; every other time comes from the caller.
pub(crate) const TRANSACTION_MILLIS: &str =
    "(extract(epoch FROM transaction_timestamp()) * 1000)::bigint";

/// The columns [`event_from_row`] reads (unqualified, so prefix them when joining).
pub(crate) const EVENT_COLUMNS: &str = "id, tenant, source, event_type, provider_event_id, \
     dedup_key, occurred_at, received_at, committed_at, headers, body, unrouted";

const INSERT: &str = "inserting events";

/// Commits each event with its jobs unless its dedup key was stored on the same source
/// less than the event's window before it. Runs inside the caller's transaction, so
/// later events of the call see earlier ones; every queue that got a job is added to
/// `queues`.
///
/// The dedup row is written first and locked: a node committing the same key at the
/// same time waits for this transaction and then sees the key, so a key is stored once
/// however many nodes receive it.
pub(crate) async fn insert_with_jobs(
    client: &impl GenericClient,
    events: &[NewEvent],
    queues: &mut BTreeSet<String>,
) -> Result<Vec<InsertOutcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(events.len());
    for event in events {
        if let Some(original_id) = claim_dedup_key(client, event).await? {
            outcomes.push(InsertOutcome::Duplicate { original_id });
            continue;
        }
        insert_event(client, event).await?;
        insert_jobs(
            client,
            &EventJobs {
                event_id: &event.id,
                tenant: &event.tenant,
                created_at: Some(event.received_at),
                webhook_id: None,
            },
            &event.jobs,
        )
        .await?;
        queues.extend(event.jobs.iter().map(|job| job.queue.clone()));
        outcomes.push(InsertOutcome::Inserted {
            id: event.id.clone(),
        });
    }
    Ok(outcomes)
}

/// Points the event's dedup key at it, unless the key was stored less than the window
/// before it: then the key is left alone (but locked until the commit) and the id of the
/// event it points at is returned. An event whose id is already stored (moved once
/// before from a spool) is a duplicate of itself, and its key is left alone.
async fn claim_dedup_key(
    client: &impl GenericClient,
    event: &NewEvent,
) -> Result<Option<String>, StoreError> {
    // A key stored after this is within the window; the subtraction saturates so that
    // any window works.
    let stale_until = event.received_at.saturating_sub(event.dedup_window_ms);
    let claimed = client
        .query_opt(
            "INSERT INTO dedup (source, dedup_key, event_id, received_at)
             SELECT $1, $2, $3, $4
             WHERE NOT EXISTS (SELECT FROM events WHERE id = $3)
             ON CONFLICT (source, dedup_key) DO UPDATE
                 SET event_id = excluded.event_id, received_at = excluded.received_at
                 WHERE dedup.received_at <= $5
             RETURNING event_id",
            &[
                &event.source,
                &event.dedup_key,
                &event.id,
                &event.received_at,
                &stale_until,
            ],
        )
        .await
        .ctx(INSERT)?;
    if claimed.is_some() {
        return Ok(None);
    }
    // The conflicting row is locked by the statement above, and this new statement sees
    // it even when another transaction committed it a moment ago.
    let row = client
        .query_one(
            "SELECT COALESCE(
                 (SELECT id FROM events WHERE id = $3),
                 (SELECT event_id FROM dedup WHERE source = $1 AND dedup_key = $2)
             ) AS event_id",
            &[&event.source, &event.dedup_key, &event.id],
        )
        .await
        .ctx(INSERT)?;
    get(&row, "event_id").map(Some)
}

async fn insert_event(client: &impl GenericClient, event: &NewEvent) -> Result<(), StoreError> {
    client
        .execute(
            &format!(
                "INSERT INTO events (id, tenant, source, event_type, provider_event_id,
                                     dedup_key, occurred_at, received_at, committed_at,
                                     headers, body, unrouted)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {TRANSACTION_MILLIS}, $9, $10, $11)"
            ),
            &[
                &event.id,
                &event.tenant,
                &event.source,
                &event.event_type,
                &event.provider_event_id,
                &event.dedup_key,
                &event.occurred_at,
                &event.received_at,
                &Json(&event.headers),
                &event.body,
                &event.jobs.is_empty(),
            ],
        )
        .await
        .ctx(INSERT)?;
    Ok(())
}

/// Whose jobs [`insert_jobs`] writes, and what they share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventJobs<'a> {
    /// The event they work off.
    pub(crate) event_id: &'a str,
    /// The event's tenant, which its jobs inherit.
    pub(crate) tenant: &'a str,
    /// When they are created; `None` for when the transaction began by the database's
    /// clock ([`TRANSACTION_MILLIS`]), as a replay wants. A job due later starts
    /// `scheduled`, any other `ready`.
    pub(crate) created_at: Option<Millis>,
    /// The `webhook-id` they are forwarded with; `None` for the event's id.
    pub(crate) webhook_id: Option<&'a str>,
}

/// Inserts `jobs` for one event, in order, and returns their ids. The caller publishes
/// [`hookd_store::StoreChange::JobsReady`] for their queues (scheduled jobs count too: a
/// pool sleeping past their `run_at` learns of them).
pub(crate) async fn insert_jobs(
    client: &impl GenericClient,
    of: &EventJobs<'_>,
    jobs: &[NewJob],
) -> Result<Vec<i64>, StoreError> {
    const CONTEXT: &str = "inserting jobs";
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client
        .prepare(&format!(
            "WITH created (at) AS (SELECT COALESCE($9::bigint, {TRANSACTION_MILLIS}))
             INSERT INTO jobs (event_id, tenant, queue, priority, ordering_key, target, state,
                               run_at, attempts, created_at, updated_at, webhook_id)
             SELECT $1, $2, $3, $4, $5, $6,
                    CASE WHEN $7 > created.at THEN 'scheduled' ELSE 'ready' END,
                    $7, 0, created.at, created.at, $8
             FROM created
             RETURNING id"
        ))
        .await
        .ctx(CONTEXT)?;
    let mut ids = Vec::with_capacity(jobs.len());
    for job in jobs {
        let row = client
            .query_one(
                &statement,
                &[
                    &of.event_id,
                    &of.tenant,
                    &job.queue,
                    &i16::from(job.priority),
                    &job.ordering_key,
                    &job.target.to_storage(),
                    &job.run_at,
                    &of.webhook_id,
                    &of.created_at,
                ],
            )
            .await
            .ctx(CONTEXT)?;
        ids.push(get(&row, "id")?);
    }
    Ok(ids)
}

/// Reads one event.
pub(crate) async fn get_event(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<Event>, StoreError> {
    let row = client
        .query_opt(
            &format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1"),
            &[&id],
        )
        .await
        .ctx("reading an event")?;
    row.as_ref().map(event_from_row).transpose()
}

/// Reads a row selected with [`EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &Row) -> Result<Event, StoreError> {
    let Json(headers) = get::<Json<Vec<(String, String)>>>(row, "headers")?;
    Ok(Event {
        id: get(row, "id")?,
        tenant: get(row, "tenant")?,
        source: get(row, "source")?,
        event_type: get(row, "event_type")?,
        provider_event_id: get(row, "provider_event_id")?,
        dedup_key: get(row, "dedup_key")?,
        occurred_at: get(row, "occurred_at")?,
        received_at: get(row, "received_at")?,
        committed_at: get(row, "committed_at")?,
        headers,
        body: get(row, "body")?,
        unrouted: get(row, "unrouted")?,
    })
}
