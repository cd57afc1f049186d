//! The test harness: a real gateway ([`TestGateway`]) with its store in a temporary
//! directory or on a PostgreSQL schema of its own ([`TestDatabase`]), the real binary as a
//! child process ([`process`]), real sinks ([`TestSink`]), a signer for `generic-hmac`
//! sources ([`Signer`]), raw HTTP for what `reqwest` cannot send ([`raw`]), and polling
//! ([`eventually`]).
//!
//! Configurations are written as TOML text, as a user would; the snippets below keep the
//! common parts short.

pub(crate) mod auth;
pub(crate) mod capture;
pub(crate) mod gateway;
pub(crate) mod postgres;
pub(crate) mod process;
pub(crate) mod raw;
pub(crate) mod signer;
pub(crate) mod sink;
pub(crate) mod wait;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use auth::api_token;
pub(crate) use gateway::TestGateway;
pub(crate) use postgres::{NodeDatabase, Proxy, TestDatabase};
pub(crate) use signer::Signer;
pub(crate) use sink::{TestSink, sink_options};
pub(crate) use wait::eventually;

/// The secret of the `shop` source of [`SHOP_SOURCE`].
pub(crate) const SOURCE_SECRET: &str = "s3cr3t";

/// The Standard Webhooks secret every test sink verifies with.
pub(crate) const SINK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// How long any wait for the gateway may take before the test fails. Generous: the
/// waits end on a signal or a poll long before this.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A `generic-hmac` source `shop`: hex HMAC-SHA256 of the body in `x-signature`, type at
/// `/type`, event id at `/id`.
pub(crate) const SHOP_SOURCE: &str = r#"
[sources.shop]
preset = "generic-hmac"
secrets = ["s3cr3t"]
signature_header = "x-signature"
event_type = { json = "/type" }
event_id = { json = "/id" }
"#;

/// A back-off short enough for tests, without jitter so that gaps can be asserted.
pub(crate) const FAST_BACKOFF: &str =
    r#"backoff = { base = "50ms", max = "200ms", jitter = "none" }"#;

/// Unix milliseconds now, on the wall clock the gateway and the sink read too.
#[allow(clippy::disallowed_methods)] // tests cannot reach hookd's crate::clock
pub(crate) fn now_millis() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds fit in i64")
}

/// Unix seconds now.
pub(crate) fn now_secs() -> i64 {
    now_millis() / 1000
}
