//! The serde mirror of `hookd.toml`: first stage of configuration loading.
//!
//! Every field is optional here (a key left out takes its default in [`check`](super::check)),
//! so that deserialization fails only on a value of the wrong type, and [`check`](super::check)
//! can name each missing or wrong key with its path. Unknown keys are not rejected by serde;
//! [`check`](super::check) collects them with `serde_ignored` and reports each one.
//!
//! Durations are humantime strings (`"250ms"`, `"5m"`, `"24h"`), sizes are a number of bytes
//! or a string with a unit (`"512KiB"`, `"1MiB"`). The doc comment on each field is the
//! user documentation of that key; `hookd.example.toml` repeats it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;

/// The whole file, section by section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawConfig {
    /// `[server]`: the node itself.
    pub(crate) server: RawServer,
    /// `[sources.NAME]`: inbound endpoints, each served at `POST /in/NAME`.
    pub(crate) sources: BTreeMap<String, RawSource>,
    /// `[queues.NAME]`: lanes of work. A queue named `default` always exists.
    pub(crate) queues: BTreeMap<String, RawQueue>,
    /// `[destinations.NAME]`: HTTP endpoints that hookd forwards events to.
    pub(crate) destinations: BTreeMap<String, RawDestination>,
    /// `[[routes]]`: which events go to which queue and destination, in file order.
    pub(crate) routes: Vec<RawRoute>,
    /// `[api]`: how the management API under `/v1` authenticates its callers.
    pub(crate) api: RawApi,
    /// `[retention]`: how long finished events are kept.
    pub(crate) retention: RawRetention,
    /// `[stats]`: how the counts per source and per queue are kept.
    pub(crate) stats: RawStats,
}

/// `[server]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawServer {
    /// Address and port to listen on, e.g. `"0.0.0.0:8080"`. Default `"127.0.0.1:8080"`.
    pub(crate) listen: Option<String>,
    /// Directory of the embedded store (created when missing). Default `"./hookd-data"`.
    /// With `database_url`, it holds only the ingest spool (`spool_max`).
    pub(crate) data_dir: Option<String>,
    /// PostgreSQL URL (`postgres://user:password@host/db`). When set, the node keeps its data
    /// in PostgreSQL instead of the embedded store, and any number of nodes may share it.
    pub(crate) database_url: Option<String>,
    /// With `database_url`: the schema holding hookd's tables, created at start when
    /// missing. Nodes that share a schema share their events, jobs and configuration;
    /// installations on different schemas of one database share nothing. Lower-case
    /// letters, digits and `_`, not starting with a digit or `pg_`, at most 49 characters.
    /// Default `"hookd"`.
    pub(crate) database_schema: Option<String>,
    /// With `database_url`: the most connections this node opens to PostgreSQL for its
    /// work; it opens one more to listen for the other nodes' changes. Default `16`.
    pub(crate) database_pool_size: Option<i64>,
    /// With `database_url`: how long connecting to PostgreSQL may take before the
    /// database counts as unreachable. Default `"5s"`.
    pub(crate) database_connect_timeout: Option<HumanDuration>,
    /// With `database_url`: how long one SQL statement may run before PostgreSQL cancels
    /// it (its `statement_timeout`), and how long a request waits for a free connection,
    /// so that a stuck lock or a silent network never hangs a request. Default `"10s"`.
    pub(crate) database_statement_timeout: Option<HumanDuration>,
    /// With `database_url`: the most the ingest spool may hold (`spool.db` in
    /// `data_dir`). While PostgreSQL cannot be reached, webhooks are kept there, fsynced
    /// before their 200, and moved into PostgreSQL in arrival order once it answers;
    /// beyond this size ingest answers 503 `store_unavailable` with `Retry-After`. Bytes
    /// or a size with a unit; `0` turns the spool off (ingest answers 503 while
    /// PostgreSQL cannot be reached). Default `"1GiB"`.
    pub(crate) spool_max: Option<ByteSizeValue>,
    /// This node's name, recorded in leases and attempts. Default: the host name, `-`, and
    /// the process id.
    pub(crate) node_id: Option<String>,
    /// After SIGTERM, how long running jobs may take to finish before they are released for
    /// another node. Default `"30s"`.
    pub(crate) shutdown_grace: Option<HumanDuration>,
    /// How often jobs whose lease expired (their worker or node died) are looked for and made
    /// ready again. Default `"5s"`.
    pub(crate) rescue_interval: Option<HumanDuration>,
    /// Which log lines are written: a level (`error`, `warn`, `info`, `debug`, `trace`) or
    /// any `tracing` filter directive such as `"info,hookd::dispatch=debug"`. Default `"info"`.
    pub(crate) log_level: Option<String>,
    /// How log lines are written: `"json"` (one object per line) or `"text"`. Default `"json"`.
    pub(crate) log_format: Option<String>,
}

/// `[api]`: the management API. API keys (`hookd token create`) always work; the keys
/// below also accept JWTs, whose claims `tenant` and `scope` say what the caller sees and
/// may do.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawApi {
    /// Accept JWTs signed with HS256 and this shared secret (at least 32 bytes, as RFC
    /// 7518 asks). Set only one of `jwt_hs256_secret`, `jwt_public_key` and `jwks_file`.
    /// Default: none.
    pub(crate) jwt_hs256_secret: Option<String>,
    /// Accept JWTs signed by the private half of this public key, written as PEM
    /// (`-----BEGIN PUBLIC KEY-----` …): an RSA key means RS256, a P-256 key ES256, a
    /// P-384 key ES384, an Ed25519 key EdDSA, unless `jwt_algorithm` says otherwise.
    /// Default: none.
    pub(crate) jwt_public_key: Option<String>,
    /// With `jwt_public_key`: the one algorithm accepted, `"RS256"`, `"RS384"`,
    /// `"RS512"`, `"PS256"`, `"PS384"`, `"PS512"`, `"ES256"`, `"ES384"` or `"EdDSA"`; it
    /// must fit the key. Default: the key's usual algorithm (see `jwt_public_key`).
    pub(crate) jwt_algorithm: Option<String>,
    /// Accept JWTs signed by any signing key of this JSON Web Key Set file (`{"keys":
    /// [...]}`, as identity providers publish it), read once at start; a relative path is
    /// from the directory hookd starts in. A token whose header names a `kid` is checked
    /// against that key only. Default: none.
    pub(crate) jwks_file: Option<String>,
    /// The issuer every JWT must name in its `iss` claim. Default: none (`iss` is not
    /// checked).
    pub(crate) jwt_issuer: Option<String>,
    /// The audience every JWT must name in its `aud` claim. Default: none; a JWT that
    /// names an audience is then refused, since it was meant for someone else.
    pub(crate) jwt_audience: Option<String>,
    /// How far a JWT's `exp` and `nbf` may be off, to allow for clocks that disagree.
    /// Default `"60s"`.
    pub(crate) jwt_leeway: Option<HumanDuration>,
}

/// `[retention]`: finished events, with their jobs and attempts, are deleted in the
/// background once they are old enough, a small batch at a time so that ingest never
/// waits for it. An event's age counts from when it finished (its last job's last
/// change; for an event no route took, from when it was received). Events with a job
/// still to run are never deleted. Dedup keys are kept until the longest `dedup_window`
/// of any source has passed, so a provider's retry is still recognised after its event
/// is gone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawRetention {
    /// Events whose every job succeeded (and events no route took) are deleted this long
    /// after they finished. Default `"7d"`.
    pub(crate) succeeded: Option<HumanDuration>,
    /// Events whose jobs are all finished, at least one of them dead, are deleted this
    /// long after they finished. Default `"30d"`.
    pub(crate) dead: Option<HumanDuration>,
    /// How often old events are looked for. Default `"1m"`.
    pub(crate) interval: Option<HumanDuration>,
    /// Events deleted per batch (one short transaction each); a backlog takes several
    /// batches in a row. Default `500`.
    pub(crate) batch: Option<i64>,
}

/// `[stats]`: every node counts what happens per source and per queue (deliveries
/// received, rejected and duplicated, job outcomes, durations, lags, errors) in memory,
/// and adds its counts to the store every `flush_interval`, one row per minute. Rows
/// older than `minute_rollups` are merged into one row per hour, and hourly rows are
/// deleted after `keep`. The stats do not depend on the events: they outlive
/// `[retention]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawStats {
    /// How often this node adds its counts to the store; what a node counted since is
    /// not in the stats yet. Default `"10s"`.
    pub(crate) flush_interval: Option<HumanDuration>,
    /// How long per-minute rows are kept before they are merged into hourly ones.
    /// Default `"48h"`.
    pub(crate) minute_rollups: Option<HumanDuration>,
    /// How long hourly rows are kept; at least `minute_rollups`. Default `"90d"`.
    pub(crate) keep: Option<HumanDuration>,
}

/// `[sources.NAME]`: one inbound endpoint, `POST /in/NAME`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawSource {
    /// How requests of this source are verified and read: `"generic-hmac"` (HMAC-SHA256
    /// of a template of the request, configured by the keys below), or a provider preset
    /// that knows its scheme, event types and ids: `"standard-webhooks"`, `"github"`,
    /// `"meta"`, `"stripe"`, `"shopify"`, `"slack"`, `"twilio"`, `"highlevel"`,
    /// `"softpro"`. Default `"generic-hmac"`.
    #[schema(value_type = Option<super::schema::PresetName>)]
    pub(crate) preset: Option<String>,
    /// Owner of the events of this source and of everything derived from them; API tokens
    /// of another tenant do not see them. Default `"default"`.
    #[schema(min_length = 1)]
    pub(crate) tenant: Option<String>,
    /// The shared secret, or a list of secrets: a request is genuine when any one of them
    /// verifies it, so that a secret can be rotated without downtime. Required, at least one.
    #[schema(value_type = Option<super::schema::StringOrList>)]
    pub(crate) secrets: Option<OneOrMany<String>>,
    /// The header carrying the signature, e.g. `"x-signature"`. Required.
    #[schema(min_length = 1)]
    pub(crate) signature_header: Option<String>,
    /// How the signature is written in the header: `"hex"` or `"base64"`. Default `"hex"`.
    #[schema(value_type = Option<super::schema::EncodingName>)]
    pub(crate) encoding: Option<String>,
    /// Text the header value starts with before the signature, e.g. `"sha256="`. Default: none.
    pub(crate) prefix: Option<String>,
    /// The header carrying the time the request was sent, in unix seconds. When set,
    /// requests older or newer than `tolerance` are rejected. Default: none.
    #[schema(min_length = 1)]
    pub(crate) timestamp_header: Option<String>,
    /// How far the timestamp may be from now, either way. Default `"5m"`.
    pub(crate) tolerance: Option<HumanDuration>,
    /// What the HMAC covers, as a template: `{body}` (the raw body), `{timestamp}` (the
    /// timestamp header's value), `{id}` (the event id, see `event_id`), `{header:NAME}`
    /// (any header's value), and literal text between them. Default `"{body}"`.
    #[schema(min_length = 1)]
    pub(crate) signed_payload: Option<String>,
    /// Where the event type is: `{ json = "/type" }` (a JSON pointer into the body) or
    /// `{ header = "x-event-type" }`. Default: none (the type is empty).
    pub(crate) event_type: Option<RawFieldRef>,
    /// Where the sender's event id is, as for `event_type`. Repeats of one id within
    /// `dedup_window` are stored once. Default: none (the SHA-256 of the body).
    pub(crate) event_id: Option<RawFieldRef>,
    /// A repeat of the same event id within this window is answered as a duplicate and not
    /// stored again. Default `"24h"`.
    pub(crate) dedup_window: Option<HumanDuration>,
    /// Largest request body accepted: a number of bytes or a size such as `"512KiB"` or
    /// `"1MiB"`. Larger requests are answered 413. Default `"1MiB"`.
    pub(crate) max_body: Option<ByteSizeValue>,
    /// How often deliveries are expected: a source that has received nothing for longer
    /// than this (or nothing at all) is `disconnected` in `GET /v1/health`. Keep it well
    /// above `[stats] flush_interval`. Default: none (silence is never a problem).
    pub(crate) expected_interval: Option<HumanDuration>,
    /// `"json"`: the body must be JSON (400 otherwise) and JSON pointers can be used;
    /// `"raw"`: the body is kept as bytes and never parsed. Default `"json"`.
    #[schema(value_type = Option<super::schema::FormatName>)]
    pub(crate) format: Option<String>,
    /// `meta`: the token Meta sends as `hub.verify_token` in the `GET` subscription
    /// handshake; the challenge is answered only when it matches. Default: none (every
    /// handshake is refused).
    pub(crate) verify_token: Option<String>,
    /// `twilio`: the public URL Twilio calls (as configured in the Twilio console, without
    /// the query string), which Twilio's signature covers. Required for `twilio`.
    pub(crate) public_url: Option<String>,
    /// `highlevel`: the Ed25519 public key (PEM), or several, that verify
    /// `x-ghl-signature`. Default: HighLevel's published key.
    #[schema(value_type = Option<super::schema::StringOrList>)]
    pub(crate) public_key_ed25519: Option<OneOrMany<String>>,
    /// `highlevel`: the RSA public key (PEM), or several, that verify the legacy
    /// `x-wh-signature`. Default: HighLevel's published key.
    #[schema(value_type = Option<super::schema::StringOrList>)]
    pub(crate) public_key_rsa: Option<OneOrMany<String>>,
}

/// `{ json = "/pointer" }` or `{ header = "name" }`: a field of the request.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(
    default,
    expecting = r#"a table such as { json = "/type" } or { header = "x-event-type" }"#
)]
#[schema(as = FieldRef)]
pub(crate) struct RawFieldRef {
    /// A JSON pointer into the body (RFC 6901), e.g. `"/type"` or `"/data/object/id"`.
    pub(crate) json: Option<String>,
    /// A header name, e.g. `"x-event-type"`.
    pub(crate) header: Option<String>,
}

/// `[queues.NAME]`: a lane of work with its own workers and retry policy.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawQueue {
    /// Jobs of this queue that run at once on each node. Default `10`.
    #[schema(minimum = 1)]
    pub(crate) concurrency: Option<i64>,
    /// Jobs of this queue that run at once across every node sharing the store, e.g. to
    /// bound what its destinations receive from the whole cluster: a node claims only
    /// while both this and its own `concurrency` leave room. Default: none (no
    /// cluster-wide cap; the queue runs up to nodes × `concurrency` jobs at once).
    #[schema(minimum = 1)]
    pub(crate) global_concurrency: Option<i64>,
    /// Attempts of one job, the first included, before it goes dead. Default `8`.
    #[schema(minimum = 1)]
    pub(crate) max_attempts: Option<i64>,
    /// Wait between attempts: `{ base = "2s", max = "1h", jitter = "full" }`.
    pub(crate) backoff: Option<RawBackoff>,
    /// How long a running job is held by its worker before another may take it back; renewed
    /// while the job runs, so it only matters when a worker or node dies. Default `"30s"`.
    pub(crate) lease: Option<HumanDuration>,
}

/// `backoff = { base = "2s", max = "1h", jitter = "full" }`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(
    default,
    expecting = r#"a table such as { base = "2s", max = "1h", jitter = "full" }"#
)]
#[schema(as = Backoff)]
pub(crate) struct RawBackoff {
    /// Wait after the first failed attempt; it doubles with each further one. Default `"2s"`.
    pub(crate) base: Option<HumanDuration>,
    /// The longest wait between two attempts. Default `"1h"`.
    pub(crate) max: Option<HumanDuration>,
    /// `"full"`: wait a random time between zero and the computed wait, so that many failed
    /// jobs do not retry at once; `"none"`: wait exactly the computed time. Default `"full"`.
    #[schema(value_type = Option<super::schema::JitterName>)]
    pub(crate) jitter: Option<String>,
}

/// `[destinations.NAME]`: an HTTP endpoint hookd forwards events to.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawDestination {
    /// Where events are POSTed: an `http` or `https` URL. Required.
    #[schema(
        value_type = String,
        required = true,
        pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?([/?#]\S*)?$"
    )]
    pub(crate) url: Option<String>,
    /// The Standard Webhooks secret (`whsec_` + base64) hookd signs each request with, so
    /// that the receiver can verify it. Required. Shown masked (`••••` and its last four
    /// characters); sending the masked value back keeps the secret.
    #[schema(
        value_type = String,
        required = true,
        pattern = r"^(whsec_([A-Za-z0-9+/]{4}){6,16}|••••[A-Za-z0-9+/=]{0,4})$"
    )]
    pub(crate) secret: Option<String>,
    /// Time allowed for one attempt, from connecting to the last byte of the answer.
    /// Default `"30s"`.
    pub(crate) timeout: Option<HumanDuration>,
    /// Allow forwarding to loopback and private network addresses (needed for a local test
    /// sink). Default `false`.
    pub(crate) allow_private_network: Option<bool>,
}

/// `[[routes]]`: one rule; an event gets one job for every route it matches.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default, expecting = "a table")]
pub(crate) struct RawRoute {
    /// A name for the route, shown in the API and dashboard. Default `"routes[N]"` (N counts
    /// from 0 in file order).
    pub(crate) name: Option<String>,
    /// The source, or a list of sources, whose events this route takes. Required.
    #[schema(value_type = super::schema::StringOrList, required = true)]
    pub(crate) source: Option<OneOrMany<String>>,
    /// Globs on the event type, e.g. `["order.*", "refund.created"]`; `*` matches any text,
    /// dots included. Default: every type.
    #[schema(value_type = Option<super::schema::StringOrList>)]
    pub(crate) types: Option<OneOrMany<String>>,
    /// Conditions on the body: JSON pointer = value, all must hold, e.g.
    /// `{ "/status" = "paid" }`. Default: none.
    #[serde(rename = "match")]
    #[schema(value_type = Option<Object>)]
    pub(crate) conditions: Option<BTreeMap<String, toml::Value>>,
    /// The queue the jobs go to. Default `"default"`.
    pub(crate) queue: Option<String>,
    /// Within the queue, `1` runs first … `5` last. Default `3`.
    #[schema(minimum = 1, maximum = 5)]
    pub(crate) priority: Option<i64>,
    /// JSON pointers (one or a list) whose values form the ordering key: jobs with the same
    /// key in one queue run one at a time, oldest first. Default: none (jobs run in parallel).
    #[schema(value_type = Option<super::schema::StringOrList>)]
    pub(crate) ordering_key: Option<OneOrMany<String>>,
    /// How long to wait before the first attempt. Default `"0s"`.
    pub(crate) delay: Option<HumanDuration>,
    /// The `[destinations]` key the jobs are forwarded to. Required.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub(crate) destination: Option<String>,
}

/// A duration written as a humantime string: `"250ms"`, `"30s"`, `"5m"`, `"24h"`, `"1h 30m"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;

        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a duration such as "250ms", "30s", "5m" or "24h""#)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                humantime::parse_duration(v).map(HumanDuration).map_err(|e| {
                    E::custom(format_args!(
                        r#"invalid duration "{v}": {e}; write e.g. "250ms", "30s", "5m" or "24h""#
                    ))
                })
            }
        }

        deserializer.deserialize_str(DurationVisitor)
    }
}

impl Serialize for HumanDuration {
    /// As `humantime` writes it (`"1h 30m"`), which reads back as the same duration.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(self.0))
    }
}

/// A size: a number of bytes (`1048576`) or a string with a unit (`"512KiB"`, `"1MiB"`,
/// `"1MB"` = 1,000,000 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ByteSizeValue(pub(crate) u64);

impl<'de> Deserialize<'de> for ByteSizeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSizeValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a size in bytes such as 1048576 or "1MiB""#)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSizeValue, E> {
                Ok(ByteSizeValue(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ByteSizeValue, E> {
                u64::try_from(v)
                    .map(ByteSizeValue)
                    .map_err(|_| E::custom(format_args!("invalid size {v}: must not be negative")))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSizeValue, E> {
                v.trim()
                    .parse::<bytesize::ByteSize>()
                    .map(|b| ByteSizeValue(b.as_u64()))
                    .map_err(|e| {
                        E::custom(format_args!(
                            r#"invalid size "{v}": {e}; write e.g. 1048576, "512KiB" or "1MiB""#
                        ))
                    })
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

impl Serialize for ByteSizeValue {
    /// As the number of bytes.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

/// One value or a list of them: `secrets = "s"` is `secrets = ["s"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OneOrMany<T>(pub(crate) Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany<T>, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(v))
                    .map(|one| OneOrMany(vec![one]))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(OneOrMany(items))
            }
        }

        deserializer.deserialize_any(OneOrManyVisitor(std::marker::PhantomData))
    }
}

impl<T: Serialize> Serialize for OneOrMany<T> {
    /// As a list, which reads back as the same values.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}
