//! The one internal step the criterion benchmarks under `benches/` call directly: not part
//! of hookd's API, and free to change with any release.
//!
//! Routing is reached publicly only through ingest (behind HTTP, signature verification
//! and an fsynced commit) or replay (of a stored event), whose costs are thousands of times
//! that of matching routes. Measuring route matching therefore needs the planner itself.

use hookd_store::NewJob;
use serde_json::Value;

use crate::config::Config;
use crate::route::{self, RouteInput};

/// Plans the jobs of one event against the routes of `config`, as ingest does for an event
/// that arrived on `source` with `event_type` and the parsed JSON `body` (`None` for a raw
/// source): one job per matching route, in route order. Delays count from time 0.
pub fn route(config: &Config, source: &str, event_type: &str, body: Option<&Value>) -> Vec<NewJob> {
    route::plan(
        config,
        RouteInput {
            source,
            event_type,
            body,
            received_at: 0,
        },
    )
    .jobs
}
