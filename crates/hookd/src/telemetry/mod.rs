//! Telemetry: structured logs and Prometheus metrics. Every line about an event or a job
//! carries its `event_id` and `job_id` fields.
//!
//! - [`events`]: one struct per thing that happens; its `emit()` logs and counts. Stages
//!   emit these and never call a `metrics` macro themselves (clippy.toml bans them).
//! - [`metrics`]: the one list of metric names, labels and descriptions.
//! - [`exporter`]: the process-wide recorder and the text `/metrics` serves.
//! - [`stats`]: this gateway's counts per source and per queue, until the store has them.

pub(crate) mod events;
pub(crate) mod exporter;
pub(crate) mod metrics;
pub(crate) mod stats;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, ServerConfig};

/// Installs the process-wide log subscriber: JSON lines (or text) on stderr, filtered by
/// `log_level`. `HOOKD_LOG`, when set, replaces the filter for one run.
pub(crate) fn init(server: &ServerConfig) {
    let filter = std::env::var("HOOKD_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_new(&server.log_level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests that start several gateways) keeps the first subscriber.
    let _ = match server.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
