//! `/v1/events`: the events a tenant's sources received, listed with filters one page at
//! a time, and one event in full with its jobs and every attempt. Both need the `read`
//! scope; a token sees only its tenant's events (`*` sees all), and another tenant's
//! event answers 404 as a missing one does.
//!
//! # Conventions
//!
//! - Times are answered as RFC 3339 strings in UTC with milliseconds
//!   (`2025-04-22T19:30:00.123Z`, see [`rfc3339::format_millis`]). The time filters read
//!   RFC 3339 with any offset, or unix milliseconds (`1745350200123`).
//! - Pages run newest first by event id. `next_cursor` is opaque to clients (it is the
//!   last id of the page) and is `null` once no event follows. Walking with it never repeats
//!   an event nor skips one that existed when the walk began, however many arrive
//!   meanwhile: ids only grow, and each page asks for ids below the previous page's last.
//! - Every query parameter is checked before the store is asked, and every problem is
//!   answered at once: 400 `invalid_request` with one `fields` entry per problem, its
//!   `path` `query.<name>`. Unknown and repeated parameters are problems too, so a typo
//!   never silently widens a filter.
//! - An event's `lag` says how long each step took, in milliseconds from when hookd
//!   received it: from the provider (`provider_ms`, received − occurred), to its commit,
//!   to the first attempt of any of its jobs, and to when the last of its jobs succeeded
//!   (once every job has). A step not reached yet, or not known, is `null`.
//! - A body is answered as text when it is UTF-8 (`body_encoding: "utf8"`), otherwise as
//!   standard base64 (`body_encoding: "base64"`). Headers are `[name, value]` pairs in the
//!   order received, names lower case.

use axum::extract::{RawQuery, State};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hookd_store::{self as store, EventListParams, Millis};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{Principal, Scope};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path};
use super::page;
use super::query::{self, LIMIT_DEFAULT, LIMIT_MAX, QueryReader};
use crate::clock::rfc3339;

/// The routes of this resource.
pub(super) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
}

/// The prefix of every event id (`evt_` + ULID), and so of every cursor.
const EVENT_ID_PREFIX: &str = "evt_";

/// The query parameters of `GET /v1/events`, as read by [`EventListQuery::parse`].
#[derive(Debug, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventListQuery {
    /// Only events of this source (exact name).
    source: Option<String>,
    /// Only events of this type (exact; an empty value finds events whose source names no
    /// type).
    #[param(rename = "type")]
    event_type: Option<String>,
    /// Only events in this status.
    #[param(inline)]
    status: Option<EventStatus>,
    /// Only events received at or after this time: RFC 3339 (`2025-04-22T19:30:00Z`) or
    /// unix milliseconds.
    #[param(value_type = Option<String>, pattern = r"^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))$")]
    received_from: Option<Millis>,
    /// Only events received before this time: RFC 3339 or unix milliseconds; not before
    /// `received_from`.
    #[param(value_type = Option<String>, pattern = r"^([0-9]{1,15}|[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))$")]
    received_until: Option<Millis>,
    /// Only events whose id starts with this text (`evt_01JS`).
    id_prefix: Option<String>,
    /// The `next_cursor` of the previous page; omitted for the first page.
    #[param(pattern = r"^evt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    cursor: Option<String>,
    /// Events per page, 1 to 1000; 100 when omitted.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

impl EventListQuery {
    /// Reads a query string, collecting every problem rather than stopping at the first.
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut reader = QueryReader::new(
            query,
            &[
                "source",
                "type",
                "status",
                "received_from",
                "received_until",
                "id_prefix",
                "cursor",
                "limit",
            ],
        );
        let text = |value: &str| Ok::<_, String>(value.to_owned());
        let parsed = Self {
            source: reader.get("source", text),
            event_type: reader.get("type", text),
            status: reader.get("status", |value| {
                let status = store::EventStatus::parse(value).map(Into::into);
                status.ok_or_else(|| {
                    format!("`{value}` is not a status; use unrouted, pending, succeeded or dead")
                })
            }),
            received_from: reader.get("received_from", parse_time),
            received_until: reader.get("received_until", parse_time),
            id_prefix: reader.get("id_prefix", text),
            cursor: reader.get("cursor", |value| {
                is_event_id(value)
                    .then(|| value.to_owned())
                    .ok_or_else(|| query::NOT_A_CURSOR.to_owned())
            }),
            limit: reader.get("limit", query::limit),
        };
        if let (Some(from), Some(until)) = (parsed.received_from, parsed.received_until)
            && until < from
        {
            reader.refuse("received_until", "is before received_from");
        }
        reader.finish().map(|()| parsed)
    }
}

/// A time filter: unix milliseconds when all digits, otherwise RFC 3339.
fn parse_time(text: &str) -> Result<Millis, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        rfc3339::parse_millis(text)
    }
    .ok_or_else(|| {
        format!(
            "`{text}` is not a time; use RFC 3339 (2025-04-22T19:30:00Z) or unix \
             milliseconds"
        )
    })
}

/// Whether `text` has the shape of an event id: `evt_` and a ULID.
fn is_event_id(text: &str) -> bool {
    text.strip_prefix(EVENT_ID_PREFIX)
        .is_some_and(|ulid| ulid::Ulid::from_string(ulid).is_ok())
}

/// One page of events.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventPage {
    /// The events, newest first.
    data: Vec<EventSummary>,
    /// Pass as `cursor` for the next page; `null` when no event follows (a last page of
    /// exactly 1000 may still carry one, leading to an empty page).
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// Where an event is, derived from its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EventStatus {
    /// No route matched: no job.
    Unrouted,
    /// At least one job is scheduled, ready, running or retrying.
    Pending,
    /// Every job succeeded.
    Succeeded,
    /// No job is pending and at least one is dead.
    Dead,
}

impl From<store::EventStatus> for EventStatus {
    fn from(status: store::EventStatus) -> Self {
        match status {
            store::EventStatus::Unrouted => EventStatus::Unrouted,
            store::EventStatus::Pending => EventStatus::Pending,
            store::EventStatus::Succeeded => EventStatus::Succeeded,
            store::EventStatus::Dead => EventStatus::Dead,
        }
    }
}

impl From<EventStatus> for store::EventStatus {
    fn from(status: EventStatus) -> Self {
        match status {
            EventStatus::Unrouted => store::EventStatus::Unrouted,
            EventStatus::Pending => store::EventStatus::Pending,
            EventStatus::Succeeded => store::EventStatus::Succeeded,
            EventStatus::Dead => store::EventStatus::Dead,
        }
    }
}

impl EventStatus {
    /// The status of an event with these jobs, by the rules of [`EventStatus`] and as
    /// the store's listing derives it: an event is unrouted by its own flag.
    fn of(unrouted: bool, jobs: &[store::Job]) -> Self {
        use store::JobState::{Dead, Ready, Retrying, Running, Scheduled};
        if unrouted {
            EventStatus::Unrouted
        } else if jobs
            .iter()
            .any(|job| matches!(job.state, Scheduled | Ready | Running | Retrying))
        {
            EventStatus::Pending
        } else if jobs.iter().any(|job| job.state == Dead) {
            EventStatus::Dead
        } else {
            EventStatus::Succeeded
        }
    }
}

/// One event of a listing: the event without its body and headers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventSummary {
    /// hookd's id (`evt_…`), forwarded as `webhook-id`.
    id: String,
    /// The tenant of its source.
    tenant: String,
    /// The source it arrived on.
    source: String,
    /// The extracted event type; empty when the source names none.
    #[serde(rename = "type")]
    event_type: String,
    /// The provider's own id for the event, when the source extracts one.
    #[schema(required = true)]
    provider_event_id: Option<String>,
    /// When the provider says it happened, when it says so.
    #[schema(required = true, format = DateTime)]
    occurred_at: Option<String>,
    /// When hookd received it.
    #[schema(format = DateTime)]
    received_at: String,
    /// Where it is, from its jobs.
    status: EventStatus,
    /// How many jobs routing made for it.
    jobs: u32,
}

impl From<store::EventSummary> for EventSummary {
    fn from(event: store::EventSummary) -> Self {
        Self {
            id: event.id,
            tenant: event.tenant,
            source: event.source,
            event_type: event.event_type,
            provider_event_id: event.provider_event_id,
            occurred_at: event.occurred_at.map(rfc3339::format_millis),
            received_at: rfc3339::format_millis(event.received_at),
            status: event.status.into(),
            jobs: event.jobs,
        }
    }
}

/// How [`EventDetail::body`] is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum BodyEncoding {
    /// The body is UTF-8 text, given as is.
    Utf8,
    /// The body is not UTF-8; given in standard base64.
    Base64,
}

/// One event in full: what arrived, what was extracted, and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventDetail {
    /// hookd's id (`evt_…`), forwarded as `webhook-id`.
    id: String,
    /// The tenant of its source.
    tenant: String,
    /// The source it arrived on.
    source: String,
    /// The extracted event type; empty when the source names none.
    #[serde(rename = "type")]
    event_type: String,
    /// The provider's own id for the event, when the source extracts one.
    #[schema(required = true)]
    provider_event_id: Option<String>,
    /// When the provider says it happened, when it says so.
    #[schema(required = true, format = DateTime)]
    occurred_at: Option<String>,
    /// When hookd received it.
    #[schema(format = DateTime)]
    received_at: String,
    /// When the store committed it; an event is acknowledged only after.
    #[schema(format = DateTime)]
    committed_at: String,
    /// How long it took from the provider to its last delivery, step by step.
    lag: EventLag,
    /// Where it is, from its jobs.
    status: EventStatus,
    /// The key under which a provider's retry of this event is recognised as a duplicate.
    dedup_key: String,
    /// The request headers as received: `[name, value]` pairs, names lower case.
    #[schema(value_type = Vec<Vec<String>>)]
    headers: Vec<[String; 2]>,
    /// The raw body, as `body_encoding` says.
    body: String,
    /// `utf8` when `body` is the text itself, `base64` when the bytes are not UTF-8.
    body_encoding: BodyEncoding,
    /// One job per matching route, oldest first; empty for an unrouted event.
    jobs: Vec<JobDetail>,
}

/// How long an event took from the provider to its last delivery: when each step
/// happened (RFC 3339) and how long after its receipt (milliseconds; `provider_ms` is
/// how long before). `null` where a step is not reached yet or not known.
#[derive(Debug, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct EventLag {
    /// When the provider says it happened, when it says so.
    #[schema(required = true, format = DateTime)]
    occurred_at: Option<String>,
    /// When hookd received it.
    #[schema(format = DateTime)]
    received_at: String,
    /// When the store committed it.
    #[schema(format = DateTime)]
    committed_at: String,
    /// When the earliest attempt of any of its jobs started.
    #[schema(required = true, format = DateTime)]
    first_attempt_at: Option<String>,
    /// When the last of its jobs succeeded (the end of its succeeding attempt), once
    /// every job has.
    #[schema(required = true, format = DateTime)]
    succeeded_at: Option<String>,
    /// From when it happened to its receipt: the provider's delay (and any clock skew).
    #[schema(required = true)]
    provider_ms: Option<i64>,
    /// From its receipt to its commit.
    commit_ms: i64,
    /// From its receipt to its first attempt.
    #[schema(required = true)]
    first_attempt_ms: Option<i64>,
    /// From its receipt to when its last job succeeded.
    #[schema(required = true)]
    succeeded_ms: Option<i64>,
}

impl EventLag {
    /// The lag of `event`, whose jobs made `attempts` (one list per job).
    fn of(event: &store::Event, attempts: &[Vec<store::Attempt>]) -> Self {
        let first_attempt_at = attempts
            .iter()
            .flatten()
            .map(|attempt| attempt.record.started_at)
            .min();
        // Each job's succeeding attempt, or `None` for a job that has not succeeded.
        let succeeded: Option<Vec<Millis>> = attempts
            .iter()
            .map(|job| {
                job.iter()
                    .find(|attempt| attempt.outcome == store::AttemptOutcome::Succeeded)
                    .map(|attempt| {
                        attempt
                            .record
                            .started_at
                            .saturating_add(attempt.record.duration_ms)
                    })
            })
            .collect();
        let succeeded_at = succeeded.and_then(|ends| ends.into_iter().max());
        let since = |at: Millis| at.saturating_sub(event.received_at);
        Self {
            occurred_at: event.occurred_at.map(rfc3339::format_millis),
            received_at: rfc3339::format_millis(event.received_at),
            committed_at: rfc3339::format_millis(event.committed_at),
            first_attempt_at: first_attempt_at.map(rfc3339::format_millis),
            succeeded_at: succeeded_at.map(rfc3339::format_millis),
            provider_ms: event
                .occurred_at
                .map(|occurred| event.received_at.saturating_sub(occurred)),
            commit_ms: since(event.committed_at),
            first_attempt_ms: first_attempt_at.map(since),
            succeeded_ms: succeeded_at.map(since),
        }
    }
}

/// A job of an event, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobDetail {
    /// The job's id.
    id: i64,
    /// Its queue.
    queue: String,
    /// 1 runs first … 5 last, within the queue.
    priority: u8,
    /// Where it is in its life.
    state: JobState,
    /// Attempts started so far, including a running one.
    attempts: u32,
    /// When it may run next (scheduled, ready, retrying), or when it last became due.
    #[schema(format = DateTime)]
    run_at: String,
    /// Jobs with the same key in one queue run one at a time, in arrival order.
    #[schema(required = true)]
    ordering_key: Option<String>,
    /// What works it off.
    target: JobTarget,
    /// The error of its last failed attempt.
    #[schema(required = true)]
    last_error: Option<String>,
    /// When it was created.
    #[schema(format = DateTime)]
    created_at: String,
    /// Every attempt, first first.
    attempt_list: Vec<AttemptDetail>,
}

/// The life of a job: `scheduled → ready → running → succeeded`, or
/// `→ retrying → … → dead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobState {
    /// Waiting for its `run_at` (a route delay).
    Scheduled,
    /// May run now.
    Ready,
    /// Claimed by a worker.
    Running,
    /// Failed, waiting for its next `run_at` (back-off).
    Retrying,
    /// The target accepted it.
    Succeeded,
    /// Out of attempts or failed permanently.
    Dead,
}

impl From<store::JobState> for JobState {
    fn from(state: store::JobState) -> Self {
        match state {
            store::JobState::Scheduled => JobState::Scheduled,
            store::JobState::Ready => JobState::Ready,
            store::JobState::Running => JobState::Running,
            store::JobState::Retrying => JobState::Retrying,
            store::JobState::Succeeded => JobState::Succeeded,
            store::JobState::Dead => JobState::Dead,
        }
    }
}

/// What works a job off.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct JobTarget {
    /// `http`: forwarded to a configured destination.
    kind: String,
    /// With `http`: the `[destinations.NAME]` key.
    #[schema(required = true)]
    destination: Option<String>,
}

impl From<&store::Target> for JobTarget {
    fn from(target: &store::Target) -> Self {
        match target {
            store::Target::Http { destination } => JobTarget {
                kind: "http".to_owned(),
                destination: Some(destination.clone()),
            },
            // Target kinds still to come (pull, inbox) show their kind until they get
            // fields of their own here.
            other => JobTarget {
                kind: other
                    .to_storage()
                    .split_once(':')
                    .map_or_else(|| other.to_storage(), |(kind, _)| kind.to_owned()),
                destination: None,
            },
        }
    }
}

/// One try of a job.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptDetail {
    /// 1 for the first attempt.
    number: u32,
    /// The node that ran it.
    node: String,
    /// How it ended.
    outcome: AttemptOutcome,
    /// When it started.
    #[schema(format = DateTime)]
    started_at: String,
    /// How long it took.
    duration_ms: i64,
    /// The target's HTTP status, if it answered.
    #[schema(required = true)]
    status_code: Option<u16>,
    /// The first bytes of the answer (at most 4 KiB), as text.
    #[schema(required = true)]
    response: Option<String>,
    /// Why it failed, if it did.
    #[schema(required = true)]
    error: Option<String>,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AttemptOutcome {
    /// The target accepted the job.
    Succeeded,
    /// It failed and will be tried again.
    Failed,
    /// It failed and the job is dead.
    Dead,
    /// The worker stopped renewing its lease; the job was taken back.
    LeaseExpired,
}

impl From<store::AttemptOutcome> for AttemptOutcome {
    fn from(outcome: store::AttemptOutcome) -> Self {
        match outcome {
            store::AttemptOutcome::Succeeded => AttemptOutcome::Succeeded,
            store::AttemptOutcome::Failed => AttemptOutcome::Failed,
            store::AttemptOutcome::Dead => AttemptOutcome::Dead,
            store::AttemptOutcome::LeaseExpired => AttemptOutcome::LeaseExpired,
        }
    }
}

impl From<store::Attempt> for AttemptDetail {
    fn from(attempt: store::Attempt) -> Self {
        Self {
            number: attempt.number,
            node: attempt.node,
            outcome: attempt.outcome.into(),
            started_at: rfc3339::format_millis(attempt.record.started_at),
            duration_ms: attempt.record.duration_ms,
            status_code: attempt.record.status_code,
            response: attempt.record.response,
            error: attempt.record.error,
        }
    }
}

/// Lists events, newest first, one page at a time.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(EventListQuery),
    responses(
        (status = 200, description = "One page of events, newest first", body = EventPage),
        (status = 400, description = "A query parameter is not valid; `fields` names each", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn list_events(
    principal: Principal,
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<EventPage>, ApiError> {
    principal.require(Scope::Read)?;
    let query = EventListQuery::parse(query.as_deref())?;
    let limit = query.limit.unwrap_or(LIMIT_DEFAULT);
    let mut events = state
        .store
        .event_list(EventListParams {
            tenant: principal.tenant_filter().map(str::to_owned),
            source: query.source,
            event_type: query.event_type,
            status: query.status.map(Into::into),
            received_from: query.received_from,
            received_until: query.received_until,
            id_prefix: query.id_prefix,
            before_id: query.cursor,
            // One more than a page tells whether another page follows.
            limit: limit + 1,
        })
        .await?;
    // Backends cap a listing at `LIMIT_MAX` rows, so a full page of `LIMIT_MAX` may
    // hide more even though one more was asked for: it gets a cursor, which at worst
    // leads to an empty page.
    let capped = limit == LIMIT_MAX && events.len() == LIMIT_MAX as usize;
    let next_cursor = page::cut(&mut events, limit, capped, |event| event.id.clone());
    Ok(Json(EventPage {
        data: events.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}

/// Reads one event in full: headers, body, extracted fields, its jobs and every attempt.
#[utoipa::path(
    get,
    path = "/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The event's id (`evt_…`)")),
    responses(
        (status = 200, description = "The event", body = EventDetail),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 404, description = "No such event for this token's tenant", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn get_event(
    principal: Principal,
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<EventDetail>, ApiError> {
    principal.require(Scope::Read)?;
    let event = state
        .store
        .event_get(&id)
        .await?
        .filter(|event| principal.sees(&event.tenant))
        .ok_or_else(|| ApiError::NotFound(format!("there is no event {id}")))?;
    let jobs = state.store.job_list_for_event(&event.id).await?;
    let attempts =
        futures::future::try_join_all(jobs.iter().map(|job| state.store.attempt_list(job.id)))
            .await?;
    let status = EventStatus::of(event.unrouted, &jobs);
    let lag = EventLag::of(&event, &attempts);
    let (body, body_encoding) = match String::from_utf8(event.body) {
        Ok(text) => (text, BodyEncoding::Utf8),
        Err(error) => (BASE64.encode(error.as_bytes()), BodyEncoding::Base64),
    };
    let jobs = jobs
        .into_iter()
        .zip(attempts)
        .map(|(job, attempts)| JobDetail {
            id: job.id,
            target: JobTarget::from(&job.target),
            queue: job.queue,
            priority: job.priority,
            state: job.state.into(),
            attempts: job.attempts,
            run_at: rfc3339::format_millis(job.run_at),
            ordering_key: job.ordering_key,
            last_error: job.last_error,
            created_at: rfc3339::format_millis(job.created_at),
            attempt_list: attempts.into_iter().map(Into::into).collect(),
        })
        .collect();
    Ok(Json(EventDetail {
        id: event.id,
        tenant: event.tenant,
        source: event.source,
        event_type: event.event_type,
        provider_event_id: event.provider_event_id,
        occurred_at: event.occurred_at.map(rfc3339::format_millis),
        received_at: rfc3339::format_millis(event.received_at),
        committed_at: rfc3339::format_millis(event.committed_at),
        lag,
        status,
        dedup_key: event.dedup_key,
        headers: event
            .headers
            .into_iter()
            .map(|(name, value)| [name, value])
            .collect(),
        body,
        body_encoding,
        jobs,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(query: &str) -> Vec<(String, String)> {
        match EventListQuery::parse(Some(query)) {
            Err(ApiError::Invalid(fields)) => fields
                .into_iter()
                .map(|field| (field.path, field.problem))
                .collect(),
            other => panic!("{query:?} should be refused: {other:?}"),
        }
    }

    #[test]
    fn an_empty_query_asks_for_everything() {
        assert_eq!(
            EventListQuery::parse(None).unwrap(),
            EventListQuery::default()
        );
        assert_eq!(
            EventListQuery::parse(Some("")).unwrap(),
            EventListQuery::default()
        );
    }

    #[test]
    fn every_parameter_is_read() {
        let cursor = format!("evt_{}", ulid::Ulid::new());
        let query = EventListQuery::parse(Some(&format!(
            "source=shop&type=order.paid&status=dead&received_from=2025-04-22T19:30:00Z\
             &received_until=1745350300000&id_prefix=evt_01&cursor={cursor}&limit=7"
        )))
        .unwrap();
        assert_eq!(
            query,
            EventListQuery {
                source: Some("shop".to_owned()),
                event_type: Some("order.paid".to_owned()),
                status: Some(EventStatus::Dead),
                received_from: Some(1_745_350_200_000),
                received_until: Some(1_745_350_300_000),
                id_prefix: Some("evt_01".to_owned()),
                cursor: Some(cursor),
                limit: Some(7),
            }
        );
    }

    #[test]
    fn percent_encoded_offsets_are_read() {
        let query =
            EventListQuery::parse(Some("received_from=2025-04-22T14%3A30%3A00-05%3A00")).unwrap();
        assert_eq!(query.received_from, Some(1_745_350_200_000));
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let found = problems("status=lost&limit=0&received_from=yesterday&cursor=abc&sort=asc");
        let paths: Vec<&str> = found.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "query.status",
                "query.limit",
                "query.received_from",
                "query.cursor",
                "query.sort"
            ]
        );
    }

    #[test]
    fn limits_outside_one_to_a_thousand_are_refused() {
        for bad in ["0", "1001", "-1", "ten", "", "1.5"] {
            assert_eq!(
                problems(&format!("limit={bad}"))[0].0,
                "query.limit",
                "{bad:?}"
            );
        }
        for good in ["1", "1000"] {
            EventListQuery::parse(Some(&format!("limit={good}"))).unwrap();
        }
    }

    #[test]
    fn a_repeated_parameter_and_a_range_that_ends_before_it_starts_are_refused() {
        assert_eq!(
            problems("status=dead&status=pending"),
            [(
                "query.status".to_owned(),
                "is given more than once".to_owned()
            )]
        );
        assert_eq!(
            problems("received_from=2000&received_until=1000")[0].0,
            "query.received_until"
        );
    }

    #[test]
    fn an_event_is_pending_while_any_job_may_still_run() {
        use store::JobState::*;
        let jobs = |states: &[store::JobState]| -> Vec<store::Job> {
            states
                .iter()
                .enumerate()
                .map(|(i, &state)| store::Job {
                    id: i as i64,
                    event_id: "evt_1".to_owned(),
                    tenant: "default".to_owned(),
                    queue: "default".to_owned(),
                    priority: 3,
                    ordering_key: None,
                    target: store::Target::Http {
                        destination: "app".to_owned(),
                    },
                    state,
                    run_at: 0,
                    attempts: 0,
                    lease_until: None,
                    lease_owner: None,
                    created_at: 0,
                    last_error: None,
                    webhook_id: None,
                })
                .collect()
        };
        let of = |states: &[store::JobState]| EventStatus::of(false, &jobs(states));
        assert_eq!(EventStatus::of(true, &[]), EventStatus::Unrouted);
        assert_eq!(of(&[Dead, Retrying]), EventStatus::Pending);
        assert_eq!(of(&[Succeeded, Scheduled]), EventStatus::Pending);
        assert_eq!(of(&[Running]), EventStatus::Pending);
        assert_eq!(of(&[Ready]), EventStatus::Pending);
        assert_eq!(of(&[Succeeded, Dead]), EventStatus::Dead);
        assert_eq!(of(&[Succeeded, Succeeded]), EventStatus::Succeeded);
    }

    #[test]
    fn the_lag_counts_from_receipt_and_succeeds_only_when_every_job_has() {
        const RECEIVED: Millis = 1_745_350_200_000;
        let event = store::Event {
            id: "evt_1".to_owned(),
            tenant: "default".to_owned(),
            source: "shop".to_owned(),
            event_type: "order.paid".to_owned(),
            provider_event_id: None,
            dedup_key: "k".to_owned(),
            occurred_at: Some(RECEIVED - 1_500),
            received_at: RECEIVED,
            committed_at: RECEIVED + 4,
            headers: Vec::new(),
            body: Vec::new(),
            unrouted: false,
        };
        let attempt = |started: Millis, outcome| store::Attempt {
            job_id: 1,
            number: 1,
            node: "node-a".to_owned(),
            outcome,
            record: store::AttemptRecord {
                started_at: RECEIVED + started,
                duration_ms: 10,
                ..store::AttemptRecord::default()
            },
        };
        use store::AttemptOutcome::{Failed, Succeeded};
        let failed_then_succeeded = vec![attempt(20, Failed), attempt(500, Succeeded)];
        let lag = EventLag::of(
            &event,
            &[failed_then_succeeded.clone(), vec![attempt(30, Succeeded)]],
        );
        assert_eq!(
            lag,
            EventLag {
                occurred_at: Some("2025-04-22T19:29:58.500Z".to_owned()),
                received_at: "2025-04-22T19:30:00.000Z".to_owned(),
                committed_at: "2025-04-22T19:30:00.004Z".to_owned(),
                first_attempt_at: Some("2025-04-22T19:30:00.020Z".to_owned()),
                succeeded_at: Some("2025-04-22T19:30:00.510Z".to_owned()),
                provider_ms: Some(1_500),
                commit_ms: 4,
                first_attempt_ms: Some(20),
                succeeded_ms: Some(510),
            }
        );

        let pending = EventLag::of(&event, &[failed_then_succeeded, vec![attempt(30, Failed)]]);
        assert_eq!(pending.succeeded_at, None);
        assert_eq!(pending.succeeded_ms, None);
        assert_eq!(pending.first_attempt_ms, Some(20));

        let unrouted = EventLag::of(
            &store::Event {
                occurred_at: None,
                ..event
            },
            &[],
        );
        assert_eq!(unrouted.provider_ms, None);
        assert_eq!(unrouted.first_attempt_at, None);
        assert_eq!(unrouted.succeeded_at, None);
    }
}
