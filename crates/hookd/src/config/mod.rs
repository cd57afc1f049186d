//! Configuration: `hookd.toml` → environment overlay → `RawConfig` → checked [`Config`].
//!
//! Loading happens in two stages. `raw` mirrors the file with serde (read section by
//! section by `read`, which reports unknown keys and type errors); `check` turns it
//! into the validated [`Config`] below (durations parsed, globs compiled, secrets decoded)
//! and reports every problem at once with its key path, which is what
//! `hookd config check` prints. `env` overlays `HOOKD_*` variables on the parsed file
//! before the check, so they are validated the same way; `api` checks `[api]`, parsing
//! every JWT key once so that a bad key is a configuration problem, not a request's.
//! [`load`] and [`load_str`] are the entry points; the defaults are the `…_DEFAULT`
//! consts of `check` (and of `api` for `[api]`).
//!
//! Configuration objects (sources, routes, queues, destinations) edited through the API
//! are stored in the store and laid over the file by `overlay`, on the TOML table before
//! it is read, so they get exactly the file's checks; [`Live`] owns the configuration in
//! force, applies edits one at a time and follows edits made on other nodes.
//!
//! Every other stage reads only the validated types of this file.

mod api;
pub(crate) mod check;
pub(crate) mod env;
mod live;
pub(crate) mod mask;
pub(crate) mod overlay;
pub(crate) mod presets;
pub(crate) mod raw;
mod read;
pub(crate) mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use globset::GlobSet;
use hookd_signature::Encoding;
use hookd_signature::standard_webhooks::Secret;

pub use check::{Problem, Severity, load, load_str};
pub use live::Live;
pub(crate) use live::{EditError, Entry, Origin};

/// The validated configuration of one node.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[sources.NAME]`, by name.
    pub sources: BTreeMap<String, SourceConfig>,
    /// `[queues.NAME]`, by name; always holds `default`.
    pub queues: BTreeMap<String, QueueConfig>,
    /// `[destinations.NAME]`, by name.
    pub destinations: BTreeMap<String, DestinationConfig>,
    /// `[[routes]]`, in file order.
    pub routes: Vec<RouteConfig>,
    /// `[api]`.
    pub api: ApiConfig,
    /// `[retention]`.
    pub retention: RetentionConfig,
    /// `[stats]`.
    pub stats: StatsConfig,
    /// The file after the `HOOKD_*` overlay, as a TOML table: the layer that configuration
    /// objects stored through the API are laid over ([`overlay`]).
    pub(crate) file: Arc<toml::Table>,
}

/// `[stats]`: how the counts per source and per queue reach the store and how long they
/// are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsConfig {
    /// How often this node adds its counts to the store (`flush_interval`, default 10 s).
    pub flush_interval: Duration,
    /// Age at which per-minute rows are merged into hourly ones (`minute_rollups`,
    /// default 48 h).
    pub minute_rollups: Duration,
    /// Age at which hourly rows are deleted (`keep`, default 90 days).
    pub keep: Duration,
}

/// `[retention]`: when finished events are deleted, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// Age after finishing at which succeeded and unrouted events go (`succeeded`,
    /// default 7 days).
    pub succeeded: Duration,
    /// Age after finishing at which events with a dead job go (`dead`, default 30 days).
    pub dead: Duration,
    /// How often the retention duty runs (`interval`, default 1 min).
    pub interval: Duration,
    /// Events deleted per batch (`batch`, default 500).
    pub batch: u32,
}

/// `[api]`: how the management API authenticates its callers.
#[derive(Debug, Clone, Default)]
pub struct ApiConfig {
    /// The keys and checks for JWTs; `None` when no JWT key is configured, and then only
    /// API keys authenticate.
    pub jwt: Option<JwtConfig>,
}

/// How JWTs are verified: by which keys, and which claims must hold.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// Every key a JWT may be signed with (`jwt_hs256_secret`, `jwt_public_key` or the
    /// signing keys of `jwks_file`); at least one.
    pub keys: Vec<JwtKey>,
    /// The `iss` every token must carry (`jwt_issuer`); `None`: not checked.
    pub issuer: Option<String>,
    /// The `aud` every token must carry (`jwt_audience`); `None`: a token naming an
    /// audience is refused.
    pub audience: Option<String>,
    /// Allowed clock difference for `exp` and `nbf` (`jwt_leeway`, default 60 s).
    pub leeway: Duration,
}

/// One key a JWT may be signed with, parsed once when the configuration is loaded.
#[derive(Clone)]
pub struct JwtKey {
    /// The `kid` of a JWKS key; a token naming a `kid` is checked only against keys with
    /// that `kid`.
    pub kid: Option<String>,
    /// The one algorithm this key verifies.
    pub algorithm: jsonwebtoken::Algorithm,
    /// The verification key itself.
    pub key: jsonwebtoken::DecodingKey,
}

impl std::fmt::Debug for JwtKey {
    // The key stays out of logs: for HS256 it is the shared secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (the default).
    Json,
    /// Human-readable text.
    Text,
}

/// `[server]`: the node itself.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (`listen`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// Directory of the embedded store (`data_dir`, default `./hookd-data`); with
    /// `database_url`, of the ingest spool.
    pub data_dir: PathBuf,
    /// PostgreSQL URL (`database_url`); when set, the node uses PostgreSQL instead of the
    /// embedded store.
    pub database_url: Option<String>,
    /// The PostgreSQL schema holding hookd's tables (`database_schema`, default `hookd`).
    pub database_schema: String,
    /// Most connections of this node's PostgreSQL pool (`database_pool_size`, default 16).
    pub database_pool_size: u32,
    /// How long connecting to PostgreSQL may take (`database_connect_timeout`, default
    /// 5 s).
    pub database_connect_timeout: Duration,
    /// How long one PostgreSQL statement may run (`database_statement_timeout`, default
    /// 10 s).
    pub database_statement_timeout: Duration,
    /// With `database_url`: the most bytes the ingest spool (`spool.db` in `data_dir`)
    /// may hold while PostgreSQL cannot be reached (`spool_max`, default 1 GiB); 0 turns
    /// the spool off.
    pub spool_max: u64,
    /// This node's name in leases and attempts (`node_id`, default host name + pid).
    pub node_id: String,
    /// How long running jobs may take to finish after SIGTERM before they are released
    /// (`shutdown_grace`, default 30 s).
    pub shutdown_grace: Duration,
    /// How often expired leases are looked for (`rescue_interval`, default 5 s).
    pub rescue_interval: Duration,
    /// Log filter (`log_level`, default `info`; any `tracing` filter directive).
    pub log_level: String,
    /// Log line format (`log_format`, `json` or `text`, default `json`).
    pub log_format: LogFormat,
}

/// `[sources.NAME]`: one inbound endpoint, `POST /in/NAME`.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// The table key.
    pub name: String,
    /// Owner of everything derived from this source (`tenant`, default `default`).
    pub tenant: String,
    /// How requests are verified (`preset` and its keys).
    pub verify: Verifier,
    /// Where the event type is (`event_type`); `None`: the type is empty.
    pub event_type: Option<FieldRef>,
    /// Where the provider's event id is (`event_id`); `None`: the SHA-256 of the body.
    pub event_id: Option<FieldRef>,
    /// A repeat of the same dedup key within this window is a duplicate
    /// (`dedup_window`, default 24 h).
    pub dedup_window: Duration,
    /// Largest body accepted, in bytes (`max_body`, default 1 MiB).
    pub max_body: usize,
    /// Whether the body must be JSON (`format`, default `json`).
    pub format: BodyFormat,
    /// Silence longer than this makes the source `disconnected` in the health report
    /// (`expected_interval`); `None`: silence is never a problem.
    pub expected_interval: Option<Duration>,
}

/// What the body of a source must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// The body is parsed as JSON; one that does not parse is rejected with 400.
    Json,
    /// The body is kept as bytes and never parsed; JSON pointers cannot be used.
    Raw,
}

/// A field of the request: a header or a JSON pointer into the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// `{ header = "x-event-type" }` (stored lower case).
    Header(String),
    /// `{ json = "/type" }`.
    Json(String),
}

/// The verification scheme of a source, chosen by `preset`, with the keys it needs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Verifier {
    /// `preset = "generic-hmac"`.
    GenericHmac(GenericHmac),
    /// `preset = "standard-webhooks"`: `webhook-id` / `webhook-timestamp` /
    /// `webhook-signature` with `whsec_` secrets.
    StandardWebhooks(StandardWebhooksPreset),
    /// `preset = "github"`: `X-Hub-Signature-256`.
    Github(SecretsPreset),
    /// `preset = "meta"`: WhatsApp Cloud API, Instagram, Messenger.
    Meta(MetaPreset),
    /// `preset = "stripe"`: `Stripe-Signature`.
    Stripe(TimedPreset),
    /// `preset = "shopify"`: `X-Shopify-Hmac-Sha256`.
    Shopify(SecretsPreset),
    /// `preset = "slack"`: `X-Slack-Signature` over `v0:{ts}:{body}`.
    Slack(TimedPreset),
    /// `preset = "twilio"`: `X-Twilio-Signature`.
    Twilio(TwilioPreset),
    /// `preset = "highlevel"`: `x-ghl-signature` (Ed25519) or `x-wh-signature` (RSA).
    HighLevel(HighLevelPreset),
    /// `preset = "softpro"`: HMAC-SHA256 of the body, with the body's `timestamp` checked.
    SoftPro(TimedPreset),
}

impl Verifier {
    /// The `preset` name as written in the configuration.
    pub fn preset(&self) -> &'static str {
        match self {
            Verifier::GenericHmac(_) => "generic-hmac",
            Verifier::StandardWebhooks(_) => "standard-webhooks",
            Verifier::Github(_) => "github",
            Verifier::Meta(_) => "meta",
            Verifier::Stripe(_) => "stripe",
            Verifier::Shopify(_) => "shopify",
            Verifier::Slack(_) => "slack",
            Verifier::Twilio(_) => "twilio",
            Verifier::HighLevel(_) => "highlevel",
            Verifier::SoftPro(_) => "softpro",
        }
    }
}

/// A preset keyed by shared secrets alone (`secrets`, several for rotation).
#[derive(Debug, Clone)]
pub struct SecretsPreset {
    /// `secrets`, used as the raw bytes of the strings.
    pub secrets: Vec<String>,
}

/// A preset keyed by shared secrets whose scheme signs or carries a timestamp.
#[derive(Debug, Clone)]
pub struct TimedPreset {
    /// `secrets`, used as the raw bytes of the strings.
    pub secrets: Vec<String>,
    /// `tolerance`: how far the timestamp may be from now, either way (default 5 min).
    pub tolerance: Duration,
}

/// `standard-webhooks`.
#[derive(Debug, Clone)]
pub struct StandardWebhooksPreset {
    /// `secrets`: `whsec_…` secrets.
    pub secrets: Vec<Secret>,
    /// `tolerance` of `webhook-timestamp` (default 5 min).
    pub tolerance: Duration,
}

/// `meta`.
#[derive(Debug, Clone)]
pub struct MetaPreset {
    /// `secrets`: the app secrets.
    pub secrets: Vec<String>,
    /// `verify_token` of the GET subscription handshake; `None` refuses every handshake.
    pub verify_token: Option<String>,
}

/// `twilio`.
#[derive(Debug, Clone)]
pub struct TwilioPreset {
    /// `secrets`: the account auth tokens.
    pub secrets: Vec<String>,
    /// `public_url`: the URL Twilio calls, which its signature covers.
    pub public_url: reqwest::Url,
}

/// `highlevel`.
#[derive(Debug, Clone)]
pub struct HighLevelPreset {
    /// `public_key_ed25519`: keys for `x-ghl-signature`.
    pub ed25519: Vec<hookd_signature::highlevel::Ed25519Key>,
    /// `public_key_rsa`: keys for the legacy `x-wh-signature`.
    pub rsa: Vec<hookd_signature::highlevel::RsaKey>,
}

/// `generic-hmac`: HMAC-SHA256 over a template of the request.
#[derive(Debug, Clone)]
pub struct GenericHmac {
    /// `secrets`: every one is tried (rotation); raw bytes of the strings.
    pub secrets: Vec<String>,
    /// `signature_header`, lower case.
    pub signature_header: String,
    /// `encoding`: `hex` (default) or `base64`.
    pub encoding: Encoding,
    /// `prefix` the header value must start with exactly (e.g. `sha256=`).
    pub prefix: Option<String>,
    /// `timestamp_header` (lower case) holding unix seconds, when the sender sends one.
    pub timestamp_header: Option<String>,
    /// `tolerance`: how far the timestamp may be from now, either way (default 5 min).
    pub tolerance: Duration,
    /// `signed_payload`: what the HMAC covers (default `{body}`).
    pub signed_payload: Vec<PayloadPart>,
}

/// One piece of a `signed_payload` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadPart {
    /// Text between placeholders.
    Literal(String),
    /// `{body}`: the raw body.
    Body,
    /// `{timestamp}`: the timestamp header's value as sent.
    Timestamp,
    /// `{id}`: the event id as extracted by `event_id`.
    Id,
    /// `{header:NAME}`: that header's value (name lower case).
    Header(String),
}

/// `[queues.NAME]`: a lane of work with its own workers and retry policy.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The table key.
    pub name: String,
    /// Jobs of this queue running at once on this node (`concurrency`, default 10).
    pub concurrency: u32,
    /// Jobs of this queue running at once across every node sharing the store
    /// (`global_concurrency`); `None` (the default) for no cluster-wide cap. The store
    /// enforces it at each claim.
    pub global_concurrency: Option<u32>,
    /// Attempts before a job goes dead (`max_attempts`, default 8).
    pub max_attempts: u32,
    /// Wait between attempts (`backoff`).
    pub backoff: Backoff,
    /// How long a claimed job is held before the rescuer may take it back; renewed while
    /// the job runs (`lease`, default 30 s).
    pub lease: Duration,
}

/// Exponential back-off: attempt *n* waits `base × 2^(n-1)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// `base`, default 2 s.
    pub base: Duration,
    /// `max`, default 1 h.
    pub max: Duration,
    /// `jitter`, default `full`.
    pub jitter: Jitter,
}

/// How back-off delays are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// A uniform random delay between zero and the computed one.
    Full,
    /// The computed delay exactly.
    None,
}

/// `[destinations.NAME]`: an HTTP endpoint hookd forwards to.
#[derive(Debug, Clone)]
pub struct DestinationConfig {
    /// The table key.
    pub name: String,
    /// `url` (http or https).
    pub url: reqwest::Url,
    /// `secret`: the `whsec_` secret hookd signs with.
    pub secret: Secret,
    /// `timeout` of one attempt, connect to last byte (default 30 s).
    pub timeout: Duration,
    /// `allow_private_network`: permits loopback and private addresses once the SSRF
    /// guard exists (default false).
    pub allow_private_network: bool,
}

/// `[[routes]]`: which events go to which queue and destination.
#[derive(Debug, Clone)]
pub struct RouteConfig {
    /// `name`, default `routes[N]`.
    pub name: String,
    /// `source`: one name or a list.
    pub sources: Vec<String>,
    /// `types` as written (globs); empty matches every type.
    pub type_patterns: Vec<String>,
    /// `types` compiled.
    pub types: GlobSet,
    /// `match`: JSON pointer = value, all must hold.
    pub conditions: Vec<(String, serde_json::Value)>,
    /// `queue`, default `default`.
    pub queue: String,
    /// `priority` 1 … 5, default 3.
    pub priority: u8,
    /// `ordering_key`: JSON pointers whose values, joined, form the key.
    pub ordering_key: Vec<String>,
    /// `delay` before the first attempt, default 0.
    pub delay: Duration,
    /// `destination`: a `[destinations]` key.
    pub destination: String,
}

impl QueueConfig {
    /// A queue with every setting at its default: what `[queues.NAME]` with no keys gives,
    /// and what the implicit `default` queue is.
    pub(crate) fn defaults(name: &str) -> Self {
        QueueConfig {
            name: name.to_owned(),
            concurrency: check::CONCURRENCY_DEFAULT,
            global_concurrency: None,
            max_attempts: check::MAX_ATTEMPTS_DEFAULT,
            backoff: Backoff {
                base: check::BACKOFF_BASE_DEFAULT,
                max: check::BACKOFF_MAX_DEFAULT,
                jitter: check::JITTER_DEFAULT,
            },
            lease: check::LEASE_DEFAULT,
        }
    }
}
