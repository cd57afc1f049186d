//! Dead letters and the audit log: `GET /v1/dead` lists the tenant's dead jobs with
//! their count per queue; `POST /v1/dead/retry` and `POST /v1/dead/purge` requeue or
//! delete them by ids or by filter; `POST /v1/jobs/{id}/retry` requeues one; `GET
//! /v1/audit` reads the audit log.
//!
//! - Reading needs `read`, the actions `write`, the audit log `admin`. A token sees only
//!   its tenant's jobs (and audit entries); another tenant's job is 404 like a missing one.
//! - Only `dead` jobs are retried: a job in any other state is 409 `conflict` (a
//!   succeeded job is sent again by a replay, not a retry). A retried job becomes `ready`
//!   now and keeps its attempt count and history; see [`hookd_store::JobRetry`].
//! - Every action is recorded in the audit log right after the store has done it: who
//!   (the token's actor), as which tenant, what, on what, how many, with its parameters.
//! - Bulk actions drain in batches of [`BATCH`] so that one call never holds the store's
//!   writer for long.

use axum::extract::{RawQuery, State};
use hookd_store::{self as store, AuditEntry, DeadFilter, JobRetry};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{Principal, Scope};
use super::error::{ApiError, ErrorBody, FieldProblem};
use super::events::JobTarget;
use super::extract::{Json, Path};
use super::page;
use super::query::{self, LIMIT_DEFAULT, QueryReader};
use crate::clock::{self, rfc3339};

/// The routes of this resource.
pub(super) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_dead))
        .routes(routes!(retry_dead))
        .routes(routes!(purge_dead))
        .routes(routes!(retry_job))
        .routes(routes!(list_audit))
}

/// Jobs one store call of a bulk action touches.
const BATCH: u32 = 1000;

/// The most ids one action may name.
const IDS_MAX: usize = 1000;

/// The query of `GET /v1/dead`.
#[derive(Debug, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeadListQuery {
    /// Only dead jobs of this queue.
    queue: Option<String>,
    /// Only dead jobs whose event came in on this source.
    source: Option<String>,
    /// Only dead jobs whose event has this type (exact).
    #[param(rename = "type")]
    event_type: Option<String>,
    /// The `next_cursor` of the previous page; omitted for the first page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    cursor: Option<String>,
    /// Items per page, 1 to 1000; 100 when omitted.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// The query of `GET /v1/audit`.
#[derive(Debug, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditListQuery {
    /// The `next_cursor` of the previous page; omitted for the first page.
    #[param(pattern = r"^[1-9][0-9]{0,17}$")]
    cursor: Option<String>,
    /// Items per page, 1 to 1000; 100 when omitted.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

/// Reads a query string: the filters (queue, source and type) when `filters`, `cursor`
/// (a positive id) and `limit`; every problem is named at once.
fn parse_query(
    query: Option<&str>,
    filters: bool,
) -> Result<(DeadFilter, Option<i64>, u32), ApiError> {
    let known = ["cursor", "limit", "queue", "source", "type"];
    let mut reader = QueryReader::new(query, if filters { &known } else { &known[..2] });
    let text = |value: &str| Ok::<_, String>(value.to_owned());
    let filter = DeadFilter {
        queue: reader.get("queue", text),
        source: reader.get("source", text),
        event_type: reader.get("type", text),
        ..DeadFilter::default()
    };
    let cursor = reader.get("cursor", query::id_cursor);
    let limit = reader.get("limit", query::limit).unwrap_or(LIMIT_DEFAULT);
    reader.finish().map(|()| (filter, cursor, limit))
}

/// A dead job.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadJob {
    /// The job's id.
    id: i64,
    /// The event it works off.
    event_id: String,
    /// The event's tenant.
    tenant: String,
    /// Its queue.
    queue: String,
    /// What it was for.
    target: JobTarget,
    /// Attempts made.
    attempts: u32,
    /// The error of its last failed attempt.
    #[schema(required = true)]
    last_error: Option<String>,
    /// When it was created (RFC 3339).
    created_at: String,
}

impl From<store::Job> for DeadJob {
    fn from(job: store::Job) -> Self {
        Self {
            id: job.id,
            target: JobTarget::from(&job.target),
            event_id: job.event_id,
            tenant: job.tenant,
            queue: job.queue,
            attempts: job.attempts,
            last_error: job.last_error,
            created_at: rfc3339::format_millis(job.created_at),
        }
    }
}

/// How many dead jobs one queue holds (within the filter).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadCount {
    /// The queue.
    queue: String,
    /// Its dead jobs.
    dead: u64,
}

/// One page of dead jobs, newest first, with the count per queue of all that match.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeadPage {
    /// The jobs of this page.
    data: Vec<DeadJob>,
    /// The cursor of the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
    /// Every queue with dead jobs matching the filters, by name.
    counts: Vec<DeadCount>,
}

/// Which dead jobs an action concerns: exactly one of `ids` and `filter`.
#[derive(Debug, Deserialize)]
pub(crate) struct DeadSelection {
    /// Numbers as JSON Schema's `integer` allows them (`7.0` too); see [`job_id`].
    ids: Option<Vec<serde_json::Number>>,
    filter: Option<DeadFilterBody>,
}

/// The body of `POST /v1/dead/retry` and `/purge`, as documented: exactly one of `ids`
/// and `filter`.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)] // documents the body; `DeadSelection` reads it
#[serde(untagged)]
#[schema(title = "DeadSelection")]
pub(crate) enum DeadSelectionDoc {
    /// These jobs (those of them that are dead and of the token's tenant).
    #[schema(title = "ByIds")]
    Ids {
        /// Job ids, at most 1000.
        #[schema(max_items = 1000)]
        ids: Vec<i64>,
    },
    /// Every dead job that matches (of the token's tenant).
    #[schema(title = "ByFilter")]
    Filter {
        /// The filter; an empty one matches every dead job.
        filter: DeadFilterBody,
    },
}

/// A filter over dead jobs; every given field must match.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub(crate) struct DeadFilterBody {
    /// Only jobs of this queue.
    queue: Option<String>,
    /// Only jobs whose event came in on this source.
    source: Option<String>,
    /// Only jobs whose event has this type (exact).
    #[serde(rename = "type")]
    event_type: Option<String>,
}

/// The answer of a retry.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Queued {
    /// Jobs moved back to `ready`.
    queued: u64,
}

/// The answer of a purge.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Purged {
    /// Dead jobs deleted, with their attempts.
    purged: u64,
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditRecordBody {
    /// Its id; ids grow with time.
    id: i64,
    /// When (RFC 3339).
    at: String,
    /// Who: an API key id, or a JWT subject (`jwt` when it has none).
    actor: String,
    /// The tenant the actor acted as (`*` for every tenant).
    tenant: String,
    /// What: `dead.retry`, `dead.purge`, `job.retry`, `event.replay`.
    action: String,
    /// On what: `dead`, `job:ID` or `event:ID`.
    target: String,
    /// How many objects it changed.
    count: u64,
    /// Its parameters, as JSON text.
    #[schema(required = true)]
    detail: Option<String>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditPage {
    /// The entries of this page.
    data: Vec<AuditRecordBody>,
    /// The cursor of the next page; `null` on the last one.
    #[schema(required = true)]
    next_cursor: Option<String>,
}

/// The selection as ids or a store filter, within the principal's tenant; 400 unless
/// exactly one of `ids` and `filter` is given.
fn selection(
    principal: &Principal,
    body: DeadSelection,
) -> Result<(Option<Vec<i64>>, DeadFilter, String), ApiError> {
    let tenant = principal.tenant_filter().map(str::to_owned);
    let detail;
    let chosen = match (body.ids, body.filter) {
        (Some(ids), None) => {
            if ids.len() > IDS_MAX {
                return Err(ApiError::field(
                    "/ids",
                    format!("names {} jobs; at most {IDS_MAX} per call", ids.len()),
                ));
            }
            let mut problems = Vec::new();
            let mut parsed = Vec::with_capacity(ids.len());
            for (i, number) in ids.iter().enumerate() {
                match job_id(number) {
                    Some(id) => parsed.push(id),
                    None => problems.push(FieldProblem {
                        path: format!("/ids/{i}"),
                        problem: format!("`{number}` is not a whole number within int64"),
                    }),
                }
            }
            if !problems.is_empty() {
                return Err(ApiError::Invalid(problems));
            }
            let ids = parsed;
            detail = serde_json::json!({ "ids": ids }).to_string();
            (
                Some(ids),
                DeadFilter {
                    tenant,
                    ..DeadFilter::default()
                },
            )
        }
        (None, Some(f)) => {
            detail = serde_json::json!({ "filter": f }).to_string();
            (
                None,
                DeadFilter {
                    tenant,
                    queue: f.queue,
                    source: f.source,
                    event_type: f.event_type,
                },
            )
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::Invalid(vec![
                FieldProblem {
                    path: "/ids".to_owned(),
                    problem: "is given with filter; give exactly one of ids and filter".to_owned(),
                },
                FieldProblem {
                    path: "/filter".to_owned(),
                    problem: "is given with ids; give exactly one of ids and filter".to_owned(),
                },
            ]));
        }
        (None, None) => {
            return Err(ApiError::field(
                "body",
                "names no jobs: give exactly one of ids and filter",
            ));
        }
    };
    Ok((chosen.0, chosen.1, detail))
}

/// The job id a JSON number stands for: a whole number within `i64` (`7` or `7.0`,
/// as JSON Schema's `integer` allows).
fn job_id(number: &serde_json::Number) -> Option<i64> {
    // 2^53: beyond it a float is not exact, so it cannot say which job it means (a
    // literal just outside int64 reads as ±2^63).
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (-LIMIT..LIMIT).contains(f))
            .map(|f| f as i64)
    })
}

/// Records a write action in the audit log.
pub(super) async fn audit(
    state: &ApiState,
    principal: &Principal,
    action: &str,
    target: String,
    count: u64,
    detail: String,
) -> Result<(), ApiError> {
    state
        .store
        .audit_insert(AuditEntry {
            at: clock::now_millis(),
            actor: principal.actor.clone(),
            tenant: principal.tenant.clone(),
            action: action.to_owned(),
            target,
            count,
            detail: Some(detail),
        })
        .await?;
    Ok(())
}

/// Lists the dead jobs of the token's tenant, newest first, one page at a time, with
/// how many match per queue.
#[utoipa::path(
    get,
    path = "/dead",
    tag = "dead",
    params(DeadListQuery),
    responses(
        (status = 200, description = "One page of dead jobs, newest first", body = DeadPage),
        (status = 400, description = "A query parameter is not valid; `fields` names each", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn list_dead(
    principal: Principal,
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<DeadPage>, ApiError> {
    principal.require(Scope::Read)?;
    let (mut filter, cursor, limit) = parse_query(query.as_deref(), true)?;
    filter.tenant = principal.tenant_filter().map(str::to_owned);
    let mut jobs = state
        .store
        .job_list_dead(filter.clone(), cursor, limit + 1)
        .await?;
    let next_cursor = page::cut(&mut jobs, limit, false, |job| job.id.to_string());
    let counts = state
        .store
        .job_count_dead(filter)
        .await?
        .into_iter()
        .map(|(queue, dead)| DeadCount { queue, dead })
        .collect();
    Ok(Json(DeadPage {
        data: jobs.into_iter().map(Into::into).collect(),
        next_cursor,
        counts,
    }))
}

/// Requeues dead jobs, by ids or by filter: they become `ready` now and run again;
/// answers how many were queued. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/dead/retry",
    tag = "dead",
    request_body = DeadSelectionDoc,
    responses(
        (status = 200, description = "How many dead jobs were queued again", body = Queued),
        (status = 400, description = "The body is not valid; `fields` names each problem", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token's scope is below `write`", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn retry_dead(
    principal: Principal,
    State(state): State<ApiState>,
    Json(body): Json<DeadSelection>,
) -> Result<Json<Queued>, ApiError> {
    principal.require(Scope::Write)?;
    let (ids, filter, detail) = selection(&principal, body)?;
    let queued = retry_all(&state, ids, filter).await?;
    audit(
        &state,
        &principal,
        "dead.retry",
        "dead".to_owned(),
        queued,
        detail,
    )
    .await?;
    tracing::info!(queued, actor = %principal.actor, "dead jobs requeued");
    Ok(Json(Queued { queued }))
}

/// Requeues every dead job of the selection, one batch per store call.
async fn retry_all(
    state: &ApiState,
    ids: Option<Vec<i64>>,
    filter: DeadFilter,
) -> Result<u64, ApiError> {
    let now = clock::now_millis();
    if ids.is_some() {
        return Ok(state
            .store
            .job_retry(JobRetry {
                ids,
                filter,
                now,
                limit: BATCH,
            })
            .await?);
    }
    let mut queued = 0;
    loop {
        let n = state
            .store
            .job_retry(JobRetry {
                ids: None,
                filter: filter.clone(),
                now,
                limit: BATCH,
            })
            .await?;
        queued += n;
        if n < u64::from(BATCH) {
            return Ok(queued);
        }
    }
}

/// Deletes dead jobs, by ids or by filter, with their attempts (their events stay);
/// answers how many. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/dead/purge",
    tag = "dead",
    request_body = DeadSelectionDoc,
    responses(
        (status = 200, description = "How many dead jobs were deleted", body = Purged),
        (status = 400, description = "The body is not valid; `fields` names each problem", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token's scope is below `write`", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn purge_dead(
    principal: Principal,
    State(state): State<ApiState>,
    Json(body): Json<DeadSelection>,
) -> Result<Json<Purged>, ApiError> {
    principal.require(Scope::Write)?;
    let (ids, filter, detail) = selection(&principal, body)?;
    let purged = if ids.is_some() {
        state.store.job_purge_dead(ids, filter, BATCH).await?
    } else {
        let mut purged = 0;
        loop {
            let n = state
                .store
                .job_purge_dead(None, filter.clone(), BATCH)
                .await?;
            purged += n;
            if n < u64::from(BATCH) {
                break purged;
            }
        }
    };
    audit(
        &state,
        &principal,
        "dead.purge",
        "dead".to_owned(),
        purged,
        detail,
    )
    .await?;
    tracing::info!(purged, actor = %principal.actor, "dead jobs purged");
    Ok(Json(Purged { purged }))
}

/// Requeues one dead job: it becomes `ready` now and runs again. A job that is not
/// dead is 409 `conflict` (a succeeded one is sent again by a replay). Recorded in the
/// audit log.
#[utoipa::path(
    post,
    path = "/jobs/{id}/retry",
    tag = "dead",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job was queued again", body = Queued),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token's scope is below `write`", body = ErrorBody),
        (status = 404, description = "No such job for this token's tenant", body = ErrorBody),
        (status = 409, description = "The job is not dead", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn retry_job(
    principal: Principal,
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<Queued>, ApiError> {
    principal.require(Scope::Write)?;
    let job = state
        .store
        .job_get(id)
        .await?
        .filter(|job| principal.sees(&job.tenant))
        .ok_or_else(|| ApiError::NotFound(format!("there is no job {id}")))?;
    let not_dead = || {
        ApiError::Conflict(format!(
            "job {id} is not dead; only dead jobs are retried (replay an event to send it again)"
        ))
    };
    if job.state != store::JobState::Dead {
        return Err(not_dead());
    }
    let queued = state
        .store
        .job_retry(JobRetry {
            ids: Some(vec![id]),
            filter: DeadFilter {
                tenant: principal.tenant_filter().map(str::to_owned),
                ..DeadFilter::default()
            },
            now: clock::now_millis(),
            limit: 1,
        })
        .await?;
    if queued == 0 {
        // It left `dead` between the read and the retry.
        return Err(not_dead());
    }
    let detail = serde_json::json!({ "id": id }).to_string();
    audit(
        &state,
        &principal,
        "job.retry",
        format!("job:{id}"),
        queued,
        detail,
    )
    .await?;
    Ok(Json(Queued { queued }))
}

/// Reads the audit log of the token's tenant (every tenant for `*`), newest first, one
/// page at a time.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    params(AuditListQuery),
    responses(
        (status = 200, description = "One page of the audit log, newest first", body = AuditPage),
        (status = 400, description = "A query parameter is not valid; `fields` names each", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token's scope is below `admin`", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn list_audit(
    principal: Principal,
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<AuditPage>, ApiError> {
    principal.require(Scope::Admin)?;
    let (_, cursor, limit) = parse_query(query.as_deref(), false)?;
    let mut records = state
        .store
        .audit_list(principal.tenant_filter(), cursor, limit + 1)
        .await?;
    let next_cursor = page::cut(&mut records, limit, false, |r| r.id.to_string());
    Ok(Json(AuditPage {
        data: records
            .into_iter()
            .map(|r| AuditRecordBody {
                id: r.id,
                at: rfc3339::format_millis(r.entry.at),
                actor: r.entry.actor,
                tenant: r.entry.tenant,
                action: r.entry.action,
                target: r.entry.target,
                count: r.entry.count,
                detail: r.entry.detail,
            })
            .collect(),
        next_cursor,
    }))
}
