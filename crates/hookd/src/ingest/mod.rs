//! Ingest: `POST /in/{source}`.
//!
//! The answer to a provider is the promise of the whole gateway, so the order is fixed:
//! read the body within the source's limit, verify the raw bytes, parse and extract the
//! events, route them, commit every event with its jobs in one store call, and only then
//! answer 200. A provider's retry of an event already stored within the dedup window is
//! answered 200 with the original id and stored nothing. Every rejection is a precise
//! 4xx with the JSON error body, and nothing already accepted is touched by it.

mod error;
pub(crate) mod providers;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hookd_store::{InsertOutcome, Millis, NewEvent, Store};
use serde::Serialize;
use tokio::sync::watch;
use ulid::Ulid;

pub(crate) use error::IngestError;
use providers::{Extracted, Intake, Reply, Unverified};

use crate::clock;
use crate::config::{Config, SourceConfig};
use crate::route::{self, RouteInput};
use crate::telemetry::events::{
    CommittedEvent, EventsCommitted, UnkeyedJob, WebhookDuplicate, WebhookReceived, WebhookRejected,
};
use crate::telemetry::stats::{SourceRef, Stats};

/// What the ingest handlers share.
#[derive(Clone)]
pub(crate) struct IngestState {
    pub(crate) config: watch::Receiver<Arc<Config>>,
    pub(crate) store: Arc<dyn Store>,
    /// This node's stats, which the telemetry events count into.
    pub(crate) stats: Arc<Stats>,
}

/// The ingest routes: `POST /in/{source}`, and `GET` for sources with a handshake.
pub(crate) fn router(state: IngestState) -> Router {
    Router::new()
        .route("/in/{source}", post(receive).get(handshake))
        .with_state(state)
}

/// The 200 answer.
#[derive(Debug, Serialize)]
struct Accepted {
    /// The event's id (the first event's, for a batch); for a duplicate, the id of the
    /// event stored first. `null` for a delivery that carried no event.
    id: Option<String>,
    duplicate: bool,
    /// Every event's id, for a delivery that carried several (or none).
    #[serde(skip_serializing_if = "Option::is_none")]
    ids: Option<Vec<String>>,
    /// How many of them were duplicates, for a delivery that carried several (or none).
    #[serde(skip_serializing_if = "Option::is_none")]
    duplicates: Option<usize>,
}

#[tracing::instrument(name = "ingest", skip_all, fields(source = %name))]
async fn receive(
    State(state): State<IngestState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let config = state.config.borrow().clone();
    let source = config.sources.get(&name).map(SourceRef::from);
    WebhookReceived { source }.emit(&state.stats);
    let result = accept(
        &config,
        &*state.store,
        &state.stats,
        &name,
        query.as_deref(),
        &headers,
        body,
    )
    .await;
    if let Err(rejection) = &result {
        WebhookRejected {
            source,
            reason: rejection.code(),
            detail: rejection,
        }
        .emit(&state.stats);
    }
    result
}

async fn accept(
    config: &Config,
    store: &dyn Store,
    stats: &Stats,
    name: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, IngestError> {
    let source = config
        .sources
        .get(name)
        .ok_or_else(|| IngestError::UnknownSource(name.to_owned()))?;
    let body = read_body(body, headers, source.max_body).await?;
    let received_at = clock::now_millis();
    let request = Unverified {
        headers,
        body: &body,
        query,
    };
    let extracted = match providers::receive(source, request, received_at / 1000)? {
        Intake::Events(events) => events,
        Intake::Reply(reply) => return Ok(reply_response(reply)),
    };

    let stored_headers = stored_headers(headers);
    let events: Vec<NewEvent> = extracted
        .into_iter()
        .map(|event| {
            new_event(
                config,
                name,
                source,
                &stored_headers,
                &body,
                received_at,
                event,
            )
        })
        .collect();

    let outcomes = if events.is_empty() {
        Vec::new()
    } else {
        // What telemetry tells of each event once it is stored: the store takes the events.
        let planned: Vec<Planned> = events.iter().map(Planned::of).collect();
        let started = std::time::Instant::now();
        let outcomes = store
            .event_insert_with_jobs(events)
            .await
            .map_err(|error| {
                tracing::error!(%error, "events could not be committed");
                IngestError::StoreUnavailable
            })?;
        let duration_ms = clock::millis(started.elapsed());
        committed(
            stats,
            SourceRef::from(source),
            &outcomes,
            &planned,
            received_at,
            duration_ms,
        );
        outcomes
    };
    Ok(Json(answer(&outcomes)).into_response())
}

/// What telemetry needs of an event handed to the store.
struct Planned {
    occurred_at: Option<Millis>,
    /// The queue of each of its jobs.
    queues: Vec<String>,
}

impl Planned {
    fn of(event: &NewEvent) -> Self {
        Self {
            occurred_at: event.occurred_at,
            queues: event.jobs.iter().map(|job| job.queue.clone()).collect(),
        }
    }
}

/// Emits what the store's answer says: the new events and each duplicate. `outcomes`
/// and `planned` are in the order of the events.
fn committed(
    stats: &Stats,
    source: SourceRef<'_>,
    outcomes: &[InsertOutcome],
    planned: &[Planned],
    received_at: Millis,
    duration_ms: Millis,
) {
    let mut inserted = Vec::with_capacity(outcomes.len());
    for (outcome, planned) in outcomes.iter().zip(planned) {
        match outcome {
            InsertOutcome::Inserted { id } => inserted.push(CommittedEvent {
                id,
                occurred_at: planned.occurred_at,
                queues: &planned.queues,
            }),
            InsertOutcome::Duplicate { original_id } => WebhookDuplicate {
                source,
                event_id: original_id,
            }
            .emit(stats),
        }
    }
    EventsCommitted {
        source,
        events: &inserted,
        received_at,
        committed_at: clock::now_millis(),
        duration_ms,
    }
    .emit(stats);
}

/// The event to store for one extracted event: routed, with its own body when the
/// delivery was split.
fn new_event(
    config: &Config,
    name: &str,
    source: &SourceConfig,
    headers: &[(String, String)],
    request_body: &Bytes,
    received_at: i64,
    event: Extracted,
) -> NewEvent {
    let plan = route::plan(
        config,
        RouteInput {
            source: name,
            event_type: &event.event_type,
            body: event.json.as_ref(),
            received_at,
        },
    );
    let id = format!("evt_{}", Ulid::new());
    for route in &plan.unkeyed_routes {
        UnkeyedJob {
            route,
            event_id: &id,
        }
        .emit();
    }
    NewEvent {
        id,
        tenant: source.tenant.clone(),
        source: name.to_owned(),
        event_type: event.event_type,
        provider_event_id: event.provider_event_id,
        dedup_key: event.dedup_key,
        dedup_window_ms: clock::millis(source.dedup_window),
        occurred_at: event.occurred_at,
        received_at,
        headers: headers.to_vec(),
        body: event.body.unwrap_or_else(|| request_body.to_vec()),
        jobs: plan.jobs,
    }
}

fn reply_response(reply: Reply) -> Response {
    let mut response = reply.body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    response
}

fn answer(outcomes: &[InsertOutcome]) -> Accepted {
    let ids: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            InsertOutcome::Inserted { id } => id.clone(),
            InsertOutcome::Duplicate { original_id } => original_id.clone(),
        })
        .collect();
    let duplicates = outcomes
        .iter()
        .filter(|o| matches!(o, InsertOutcome::Duplicate { .. }))
        .count();
    let batch = outcomes.len() != 1;
    Accepted {
        id: ids.first().cloned(),
        duplicate: !batch && duplicates == 1,
        ids: batch.then_some(ids),
        duplicates: batch.then_some(duplicates),
    }
}

/// `GET /in/{source}`: the subscription handshake of presets that have one (Meta's
/// `hub.challenge`); 405 for the others.
#[tracing::instrument(name = "handshake", skip_all, fields(source = %name))]
async fn handshake(
    State(state): State<IngestState>,
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, IngestError> {
    let config = state.config.borrow().clone();
    let source = config
        .sources
        .get(&name)
        .ok_or_else(|| IngestError::UnknownSource(name.clone()))?;
    providers::handshake(source, query.as_deref()).map(reply_response)
}

/// Reads the whole body, refusing at once a declared length over `limit` and stopping
/// as soon as the bytes read pass it.
async fn read_body(body: Body, headers: &HeaderMap, limit: usize) -> Result<Bytes, IngestError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(IngestError::BodyTooLarge { limit });
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let over_limit =
            std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |err| {
                err.source()
            })
            .any(|err| err.is::<http_body_util::LengthLimitError>());
        if over_limit {
            IngestError::BodyTooLarge { limit }
        } else {
            IngestError::BodyUnreadable(e.to_string())
        }
    })
}

/// The request headers as stored with the event: names lower case (as HTTP/1.1 parsing
/// gives them), values as text, bytes that are not UTF-8 replaced.
fn stored_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}
