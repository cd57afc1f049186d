//! Assembles the HTTP surfaces into one router: ingest (`/in/{source}`), the management
//! API (`/v1`), `/metrics`, `/healthz`, `/readyz`, and a JSON 404 for everything else.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hookd_store::Readiness;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;

use crate::api::auth::JwtVerifier;
use crate::api::{self, ApiState};
use crate::http_error::HttpError;
use crate::ingest::{self, IngestState};
use crate::runtime::Services;
use crate::telemetry::exporter;

/// How long `/readyz` waits for the store before calling it unavailable.
const READY_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);

/// The whole HTTP surface of a node.
pub(crate) fn router(services: &Services) -> Router {
    let ingest = ingest::router(IngestState {
        config: services.config.clone(),
        store: services.store.clone(),
        stats: services.stats.clone(),
    });
    let jwt = services
        .config
        .borrow()
        .api
        .jwt
        .as_ref()
        .map(|jwt| Arc::new(JwtVerifier::new(jwt)));
    let api = api::router(ApiState {
        store: services.store.clone(),
        jwt,
        config: services.config.clone(),
        live: services.live.clone(),
    });
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz).with_state(services.clone()))
        .route("/metrics", get(metrics).with_state(services.clone()))
        .merge(ingest)
        .merge(api)
        .fallback(not_found)
        .layer(CatchPanicLayer::custom(|_| {
            HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request failed inside hookd; it has been logged",
            )
            .into_response()
        }))
}

/// `/healthz`: the process is alive.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// `/readyz`: 200 while webhooks can be accepted durably, `ok` or `degraded` with the
/// reason (spooling while PostgreSQL cannot be reached); 503 when they cannot (the store
/// does not answer and the spool, if any, is full; or the node is shutting down).
async fn readyz(State(services): State<Services>) -> Response {
    if services.shutdown.is_cancelled() {
        return unavailable("shutting down");
    }
    match tokio::time::timeout(READY_TIMEOUT_DEFAULT, services.store.readiness()).await {
        Ok(Ok(Readiness::Ready)) => Json(json!({ "status": "ok" })).into_response(),
        Ok(Ok(Readiness::Degraded { reason })) => {
            Json(json!({ "status": "degraded", "reason": reason })).into_response()
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            unavailable("the store cannot take writes")
        }
        Err(_) => unavailable("the store did not answer in time"),
    }
}

/// `/metrics`: everything recorded in this process, and this node's store and queue
/// figures, in the Prometheus text format. Public, like `/healthz`.
async fn metrics(State(services): State<Services>) -> Response {
    let configured: Vec<String> = services.config.borrow().queues.keys().cloned().collect();
    let text = exporter::render(services.store.as_ref(), configured).await;
    ([(header::CONTENT_TYPE, exporter::CONTENT_TYPE)], text).into_response()
}

fn unavailable(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": reason })),
    )
        .into_response()
}

async fn not_found() -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; webhooks are received on POST /in/{source}",
    )
}
