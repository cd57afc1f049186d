//! `/v1/queues`: the queues of this gateway with their depth by state, and pausing and
//! resuming them. Queues are shared infrastructure (DESIGN.md, Tenancy): every operation
//! needs an `admin` token of tenant `*`; any other token is 403.
//!
//! A paused queue keeps accepting: ingest stores its jobs as usual, and its pools claim
//! none of them until it is resumed (jobs already running finish). The flag lives in the
//! store, so it holds on every node and across restarts.

use std::collections::{BTreeMap, HashSet};

use axum::extract::State;
use hookd_store::QueueStats;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{ALL_TENANTS, Principal, Scope};
use super::error::{ApiError, ErrorBody};
use super::extract::{Json, Path};
use crate::clock;
use crate::config::QueueConfig;

/// The window of `finished_last_minute`.
const THROUGHPUT_WINDOW_MS: i64 = 60_000;

/// The routes of this resource.
pub(super) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_queues))
        .routes(routes!(pause_queue))
        .routes(routes!(resume_queue))
}

/// How many jobs of a queue are in each state. Waiting jobs whose time has come count
/// as `ready`.
#[derive(Debug, Default, Serialize, ToSchema)]
pub(crate) struct QueueDepth {
    /// Waiting for a later first run.
    scheduled: u64,
    /// Due, waiting for a free slot.
    ready: u64,
    /// Running now.
    running: u64,
    /// Waiting for a later retry.
    retrying: u64,
    /// Succeeded (until pruned by retention).
    succeeded: u64,
    /// Failed for good (until pruned by retention).
    dead: u64,
}

/// A queue: its configuration, whether it is paused, and its jobs.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueRecord {
    /// The queue's name, as configured.
    name: String,
    /// Jobs it runs at once on each node.
    concurrency: u32,
    /// Jobs it runs at once across every node; `null` when there is no cluster-wide cap.
    #[schema(required = true)]
    global_concurrency: Option<u32>,
    /// Attempts before a job goes dead.
    max_attempts: u32,
    /// True while it claims nothing (it still accepts and stores jobs).
    paused: bool,
    /// Its jobs by state.
    depth: QueueDepth,
    /// How long the oldest due job has waited, in milliseconds; `null` when none is due.
    #[schema(required = true)]
    oldest_ready_age_ms: Option<i64>,
    /// Jobs that ended (succeeded or dead) in the last minute.
    finished_last_minute: u64,
}

impl QueueRecord {
    fn of(config: &QueueConfig, paused: bool, stats: Option<QueueStats>) -> Self {
        let stats = stats.unwrap_or_default();
        Self {
            name: config.name.clone(),
            concurrency: config.concurrency,
            global_concurrency: config.global_concurrency,
            max_attempts: config.max_attempts,
            paused,
            depth: QueueDepth {
                scheduled: stats.scheduled,
                ready: stats.ready,
                running: stats.running,
                retrying: stats.retrying,
                succeeded: stats.succeeded,
                dead: stats.dead,
            },
            oldest_ready_age_ms: stats.oldest_ready_age_ms,
            finished_last_minute: stats.finished_recently,
        }
    }
}

/// Every configured queue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueList {
    /// By name.
    data: Vec<QueueRecord>,
}

/// 403 unless the token is an admin of every tenant.
pub(super) fn require_root_admin(principal: &Principal) -> Result<(), ApiError> {
    principal.require(Scope::Admin)?;
    if principal.tenant != ALL_TENANTS {
        return Err(ApiError::Forbidden(format!(
            "queues are shared by every tenant; this needs an admin token of tenant {ALL_TENANTS:?}, \
             and this one is of {:?}",
            principal.tenant
        )));
    }
    Ok(())
}

/// The configured queues with their counts, by name; `only` narrows them to one.
async fn queue_records(state: &ApiState, only: Option<&str>) -> Result<Vec<QueueRecord>, ApiError> {
    let configs: Vec<QueueConfig> = {
        let config = state.config.borrow();
        config
            .queues
            .values()
            .filter(|q| only.is_none_or(|name| q.name == name))
            .cloned()
            .collect()
    };
    let now = clock::now_millis();
    let mut stats: BTreeMap<String, QueueStats> = state
        .store
        .queue_stats(now, now.saturating_sub(THROUGHPUT_WINDOW_MS))
        .await?
        .into_iter()
        .map(|s| (s.queue.clone(), s))
        .collect();
    let paused: HashSet<String> = state.store.queue_paused().await?.into_iter().collect();
    Ok(configs
        .iter()
        .map(|q| QueueRecord::of(q, paused.contains(&q.name), stats.remove(&q.name)))
        .collect())
}

/// The one queue `name`, or 404 when it is not configured.
async fn queue_record(state: &ApiState, name: &str) -> Result<QueueRecord, ApiError> {
    queue_records(state, Some(name))
        .await?
        .pop()
        .ok_or_else(|| ApiError::NotFound(format!("there is no queue {name:?}")))
}

/// Whether `name` is a configured queue.
fn is_configured(state: &ApiState, name: &str) -> bool {
    state.config.borrow().queues.contains_key(name)
}

/// Lists every configured queue with its depth by state, the age of its oldest due
/// job, its jobs finished in the last minute and whether it is paused.
#[utoipa::path(
    get,
    path = "/queues",
    tag = "queues",
    responses(
        (status = 200, description = "Every configured queue, by name", body = QueueList),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not an admin of every tenant (`*`)", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn list_queues(
    principal: Principal,
    State(state): State<ApiState>,
) -> Result<Json<QueueList>, ApiError> {
    require_root_admin(&principal)?;
    Ok(Json(QueueList {
        data: queue_records(&state, None).await?,
    }))
}

/// Pauses a queue: it keeps accepting and storing jobs but claims none, on every node,
/// until resumed; running jobs finish. Pausing a paused queue changes nothing.
#[utoipa::path(
    post,
    path = "/queues/{name}/pause",
    tag = "queues",
    params(("name" = String, Path, description = "The queue's name, as configured")),
    responses(
        (status = 200, description = "The queue, now paused", body = QueueRecord),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not an admin of every tenant (`*`)", body = ErrorBody),
        (status = 404, description = "No queue of that name is configured", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn pause_queue(
    principal: Principal,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<QueueRecord>, ApiError> {
    set_paused(&principal, &state, &name, true).await
}

/// Resumes a paused queue: its pools claim its due jobs at once. Resuming a queue that
/// is not paused changes nothing.
#[utoipa::path(
    post,
    path = "/queues/{name}/resume",
    tag = "queues",
    params(("name" = String, Path, description = "The queue's name, as configured")),
    responses(
        (status = 200, description = "The queue, now running", body = QueueRecord),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not an admin of every tenant (`*`)", body = ErrorBody),
        (status = 404, description = "No queue of that name is configured", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn resume_queue(
    principal: Principal,
    State(state): State<ApiState>,
    Path(name): Path<String>,
) -> Result<Json<QueueRecord>, ApiError> {
    set_paused(&principal, &state, &name, false).await
}

async fn set_paused(
    principal: &Principal,
    state: &ApiState,
    name: &str,
    paused: bool,
) -> Result<Json<QueueRecord>, ApiError> {
    require_root_admin(principal)?;
    if !is_configured(state, name) {
        return Err(ApiError::NotFound(format!("there is no queue {name:?}")));
    }
    let changed = state.store.queue_pause(name, paused).await?;
    if changed {
        tracing::info!(queue = %name, paused, by_tenant = %principal.tenant, "queue paused or resumed");
    }
    Ok(Json(queue_record(state, name).await?))
}
