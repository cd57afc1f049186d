//! The management API under `/v1`: bearer tokens with a tenant and a scope, one file per
//! resource, each with its own router, merged here; the OpenAPI document is generated
//! from the handlers themselves and served at `/v1/openapi.json`, the one route that
//! needs no token.

pub(crate) mod auth;
// Configuration objects.
mod config;
// Dead letters and audit.
mod dead;
mod error;
mod events;
mod extract;
// Stats and health.
mod health;
mod keys;
mod openapi;
mod page;
// Queues: depth by state, pause and resume.
mod queues;
// Stats and health.
mod query;
// Replay.
mod replay;
// Stats and health.
mod stats;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use hookd_store::Store;
use tokio::sync::watch;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::config::{Config, Live};

/// What the API handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) store: Arc<dyn Store>,
    /// JWT verification, prepared once at start from `[api]`; `None` when no JWT key is
    /// configured and only API keys authenticate.
    pub(crate) jwt: Option<Arc<auth::JwtVerifier>>,
    /// The configuration in force now.
    pub(crate) config: watch::Receiver<Arc<Config>>,
    /// The configuration in force, and its edits.
    pub(crate) live: Arc<Live>,
}

/// Every `/v1` route, and `/v1/openapi.json`.
pub(crate) fn router(state: ApiState) -> Router {
    let (router, document) = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest(
            "/v1",
            OpenApiRouter::new()
                .merge(events::router())
                .merge(keys::router())
                // Queues: depth by state, pause and resume.
                .merge(queues::router())
                // Dead letters and audit.
                .merge(dead::router())
                // Replay.
                .merge(replay::router())
                // Stats and health.
                .merge(stats::router())
                // Configuration objects.
                .merge(config::router()),
        )
        .split_for_parts();
    let document = Arc::new(document);
    router
        .route(
            "/v1/openapi.json",
            get(move || {
                let document = Arc::clone(&document);
                async move { axum::Json((*document).clone()) }
            }),
        )
        .with_state(state)
}
