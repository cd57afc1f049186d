//! `POST /v1/events/{id}/replay`: sends a stored event again, whatever became of it
//! (delivered, dead, unrouted).
//!
//! - Without `destination`, the event is routed anew through the routes in force now,
//!   as ingest routes a new event: one job per matching route, delays counted from now.
//!   When no route matches now, nothing is queued: 409, naming a destination is the way
//!   out. With `destination`, one unkeyed job goes to it in `queue` (`default`) at
//!   `priority` (3); `queue` and `priority` mean nothing without it.
//! - The new jobs keep the event's `webhook-id`, so a destination that dedupes sees the
//!   same event again; `new_id` forwards them under a fresh one (`msg_` + ULID) instead.
//! - Needs `write`. A token sees only its tenant's events; another tenant's event is 404
//!   like a missing one. Every replay is recorded in the audit log (`event.replay`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use hookd_store::{JobReplay, NewJob, Target};
use serde::{Deserialize, Serialize};
use serde_json::json;
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{Principal, Scope};
use super::dead::audit;
use super::error::{ApiError, ErrorBody, FieldProblem};
use super::extract::{Json, Path};
use crate::clock;
use crate::config::Config;
use crate::ingest::providers::stored_json;
use crate::route::{self, RouteInput};
use crate::telemetry::events::UnkeyedJob;

/// The routes of this resource.
pub(super) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(replay_event))
}

/// The queue of a replay to a destination that names none.
const QUEUE_DEFAULT: &str = "default";

/// The priority of a replay to a destination that names none.
const PRIORITY_DEFAULT: u8 = 3;

/// The priorities a job may have: 1 runs first … 5 last.
const PRIORITIES: std::ops::RangeInclusive<u8> = 1..=5;

/// The prefix of a fresh `webhook-id` (`msg_` + ULID), as Standard Webhooks names them.
const WEBHOOK_ID_PREFIX: &str = "msg_";

/// What a replay asks for; every field is optional, and so is the body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayRequest {
    /// Send one job to this destination (`[destinations.NAME]`) instead of routing the
    /// event again.
    destination: Option<String>,
    /// With `destination`: the queue of its job; `default` when omitted.
    queue: Option<String>,
    /// With `destination`: the priority of its job, 1 runs first … 5 last; 3 when
    /// omitted.
    #[schema(value_type = Option<u8>, minimum = 1, maximum = 5)]
    priority: Option<i64>,
    /// Forward under a fresh `webhook-id` (`msg_…`), so that a destination that dedupes
    /// takes it as a new event; `false` (the default) keeps the event's.
    #[serde(default)]
    new_id: bool,
}

/// The answer of a replay: what was queued.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// The event sent again.
    event_id: String,
    /// The `webhook-id` the new jobs are forwarded with: the event's id, or the fresh one
    /// asked for with `new_id`.
    webhook_id: String,
    /// The new jobs, one per matching route (or the one to `destination`).
    jobs: Vec<ReplayedJob>,
}

/// A job a replay queued.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReplayedJob {
    /// The job's id.
    id: i64,
    /// Its queue.
    queue: String,
    /// The `[destinations.NAME]` it goes to.
    #[schema(required = true)]
    destination: Option<String>,
}

/// Reads the body: an empty one asks for every default.
fn parse_body(body: &[u8]) -> Result<ReplayRequest, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ReplayRequest::default());
    }
    serde_json::from_slice(body).map_err(|err| ApiError::field("body", err.to_string()))
}

/// Where a checked request sends the event.
#[derive(Debug, PartialEq, Eq)]
enum Aim {
    /// Through the routes in force now.
    Routes,
    /// In one job to a configured destination.
    Destination {
        destination: String,
        queue: String,
        priority: u8,
    },
}

/// Checks the request against the configuration in force and says where it sends the
/// event, naming every problem.
fn check(request: &ReplayRequest, config: &Config) -> Result<Aim, ApiError> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, text: String| {
        problems.push(FieldProblem {
            path: path.to_owned(),
            problem: text,
        });
    };
    let aim = match &request.destination {
        Some(destination) => {
            if !config.destinations.contains_key(destination) {
                problem(
                    "/destination",
                    format!("`{destination}` is not a configured destination"),
                );
            }
            let queue = request.queue.as_deref().unwrap_or(QUEUE_DEFAULT);
            if !config.queues.contains_key(queue) {
                problem("/queue", format!("`{queue}` is not a configured queue"));
            }
            let priority = match request.priority {
                None => PRIORITY_DEFAULT,
                Some(priority) => u8::try_from(priority)
                    .ok()
                    .filter(|p| PRIORITIES.contains(p))
                    .unwrap_or_else(|| {
                        problem(
                            "/priority",
                            format!("`{priority}` is not a priority; use 1 (first) to 5 (last)"),
                        );
                        PRIORITY_DEFAULT
                    }),
            };
            Aim::Destination {
                destination: destination.clone(),
                queue: queue.to_owned(),
                priority,
            }
        }
        None => {
            let without = "is given without destination; a replay through the routes takes \
                           each route's";
            if request.queue.is_some() {
                problem("/queue", format!("{without} queue"));
            }
            if request.priority.is_some() {
                problem("/priority", format!("{without} priority"));
            }
            Aim::Routes
        }
    };
    if problems.is_empty() {
        Ok(aim)
    } else {
        Err(ApiError::Invalid(problems))
    }
}

/// Sends a stored event again: routed anew through the routes in force now, or to one
/// destination. The new jobs keep the event's `webhook-id` unless `new_id` asks for a
/// fresh one. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/events/{id}/replay",
    tag = "events",
    params(("id" = String, Path, description = "The event's id (`evt_…`)")),
    request_body(
        content = Option<ReplayRequest>,
        description = "What to replay to; an empty body routes the event anew under its own `webhook-id`",
    ),
    responses(
        (status = 202, description = "The event is queued again; its new jobs", body = Replayed),
        (status = 400, description = "The body is not valid, or names a destination or queue that is not configured; `fields` names each problem", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token's scope is below `write`", body = ErrorBody),
        (status = 404, description = "No such event for this token's tenant", body = ErrorBody),
        (status = 409, description = "No route matches the event now; name a destination", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn replay_event(
    principal: Principal,
    State(state): State<ApiState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    principal.require(Scope::Write)?;
    let request = parse_body(&body)?;
    let config = state.config.borrow().clone();
    let aim = check(&request, &config)?;
    let not_found = || ApiError::NotFound(format!("there is no event {id}"));
    let event = state
        .store
        .event_get(&id)
        .await?
        .filter(|event| principal.sees(&event.tenant))
        .ok_or_else(not_found)?;

    let now = clock::now_millis();
    let jobs = match aim {
        Aim::Destination {
            destination,
            queue,
            priority,
        } => vec![NewJob {
            queue,
            priority,
            run_at: now,
            ordering_key: None,
            target: Target::Http { destination },
        }],
        Aim::Routes => {
            let json = config
                .sources
                .get(&event.source)
                .and_then(|source| stored_json(source.format, &event.headers, &event.body));
            let plan = route::plan(
                &config,
                RouteInput {
                    source: &event.source,
                    event_type: &event.event_type,
                    body: json.as_ref(),
                    received_at: now,
                },
            );
            if plan.jobs.is_empty() {
                return Err(ApiError::Conflict(format!(
                    "no route matches event {id} now; name a destination to replay it to"
                )));
            }
            for route in &plan.unkeyed_routes {
                UnkeyedJob {
                    route,
                    event_id: &event.id,
                }
                .emit();
            }
            plan.jobs
        }
    };

    // What the answer tells of each job; the jobs themselves go to the store.
    let described: Vec<(String, Option<String>)> = jobs
        .iter()
        .map(|job| {
            let destination = match &job.target {
                Target::Http { destination } => Some(destination.clone()),
                _ => None,
            };
            (job.queue.clone(), destination)
        })
        .collect();
    let webhook_id = request
        .new_id
        .then(|| format!("{WEBHOOK_ID_PREFIX}{}", Ulid::new()));
    let ids = state
        .store
        .job_insert_for_event(JobReplay {
            event_id: event.id.clone(),
            tenant: principal.tenant_filter().map(str::to_owned),
            jobs,
            webhook_id: webhook_id.clone(),
        })
        .await?
        // Deleted (by retention) between the read and the replay.
        .ok_or_else(not_found)?;

    let detail = json!({
        "destination": request.destination,
        "queue": request.queue,
        "priority": request.priority,
        "new_id": request.new_id,
    })
    .to_string();
    audit(
        &state,
        &principal,
        "event.replay",
        format!("event:{}", event.id),
        ids.len() as u64,
        detail,
    )
    .await?;
    tracing::info!(event_id = %event.id, jobs = ids.len(), actor = %principal.actor, "event replayed");

    let jobs = ids
        .into_iter()
        .zip(described)
        .map(|(id, (queue, destination))| ReplayedJob {
            id,
            queue,
            destination,
        })
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(Replayed {
            webhook_id: webhook_id.unwrap_or_else(|| event.id.clone()),
            event_id: event.id,
            jobs,
        }),
    ))
}
