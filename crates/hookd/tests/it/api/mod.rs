//! The management API over real HTTP: every operation of `/v1` against a real gateway
//! with real signed webhooks, with the tokens a user would hold.
//!
//! - [`auth`]: bearer tokens: API keys and JWTs, 401 and 403.
//! - [`config`]: configuration objects edited through the API, in force at once and
//!   across restarts, and `hookd config export`.
//! - [`dead`]: dead letters (list, retry, purge) and the audit log.
//! - [`events`]: listing with filters and stable pages; one event in full.
//! - [`keys`]: creating, listing and revoking API keys.
//! - [`openapi`]: the document is public, OpenAPI 3.1, and every operation in it has a
//!   test.
//! - [`queues`]: depth by state; pause and resume, across a restart.
//! - [`stats`]: stats per source and per queue over a period; the health of sources.
//! - [`replay`]: sending an event again, routed anew or to one destination, under its
//!   own `webhook-id` or a fresh one; the lag of an event from provider to delivery.

mod auth;
// Configuration objects.
mod config;
// Dead letters and audit.
mod dead;
mod events;
mod keys;
mod openapi;
// Queues: depth by state, pause and resume.
mod queues;
// Stats and health.
mod stats;
// Replay.
mod replay;

use crate::support::{TestGateway, TestSink, api_token};
use keys::Api;

/// A gateway with two sinks, `app` and `witness`, a client for its API and a root admin
/// token (`*`, `admin`): where the config and queues tests start, each with its own
/// configuration and its own helper methods.
struct Setup {
    gw: TestGateway,
    app: TestSink,
    witness: TestSink,
    api: Api,
    root: String,
}

impl Setup {
    /// Starts the sinks, then the gateway on `config` of them.
    async fn start(config: fn(&TestSink, &TestSink) -> String) -> Self {
        let app = TestSink::ok().await;
        let witness = TestSink::ok().await;
        let gw = TestGateway::start(&config(&app, &witness)).await;
        let api = Api::new(&gw);
        let root = api_token(gw.store(), "*", "admin").await;
        Setup {
            gw,
            app,
            witness,
            api,
            root,
        }
    }
}
