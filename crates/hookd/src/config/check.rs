//! Configuration loading: TOML text → environment overlay → [`RawConfig`] → checked
//! [`Config`], with every problem named by its key path.
//!
//! Nothing stops at the first mistake. The file is parsed into a TOML table, the `HOOKD_*`
//! overlay is applied ([`env`](mod@env)), and then every section and every source, queue,
//! destination and route is deserialized on its own (`read`): a value of the wrong type is
//! reported with its path, removed, and the entry read again, so one entry reports all its
//! type errors; unknown keys are collected with `serde_ignored`. The semantic
//! checks then run on everything that could be read, and cross-references (a
//! route's source, queue and destination) are checked against every declared name, even one
//! whose own table is broken, so one mistake is not reported twice.
//!
//! Defaults live in the `…_DEFAULT` consts below and are filled in here, in one place.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use globset::{GlobBuilder, GlobSetBuilder};
use hookd_signature::Encoding;
use hookd_signature::standard_webhooks::Secret;
use toml::{Table, Value};

use super::env::{self, Applied};
use super::presets;
use super::raw::{
    ByteSizeValue, HumanDuration, RawConfig, RawDestination, RawFieldRef, RawQueue, RawRoute,
    RawServer, RawSource,
};
use super::read::{Declared, read_raw};
use super::{
    Backoff, BodyFormat, Config, DestinationConfig, FieldRef, Jitter, LogFormat, QueueConfig,
    RouteConfig, ServerConfig, SourceConfig,
};
// Retention.
use super::RetentionConfig;
use super::raw::RawRetention;

// ---- Retention defaults ----
/// `retention.succeeded` when not set: 7 days.
pub(crate) const RETENTION_SUCCEEDED_DEFAULT: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// `retention.dead` when not set: 30 days.
pub(crate) const RETENTION_DEAD_DEFAULT: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// `retention.interval` when not set: 1 minute.
pub(crate) const RETENTION_INTERVAL_DEFAULT: Duration = Duration::from_secs(60);
/// `retention.batch` when not set.
pub(crate) const RETENTION_BATCH_DEFAULT: u32 = 500;
// ---- end Retention defaults ----

// Stats.
use super::StatsConfig;
use super::raw::RawStats;

/// `stats.flush_interval` when not set: 10 seconds.
pub(crate) const STATS_FLUSH_INTERVAL_DEFAULT: Duration = Duration::from_secs(10);
/// `stats.minute_rollups` when not set: 48 hours.
pub(crate) const STATS_MINUTE_ROLLUPS_DEFAULT: Duration = Duration::from_secs(48 * 60 * 60);
/// `stats.keep` when not set: 90 days.
pub(crate) const STATS_KEEP_DEFAULT: Duration = Duration::from_secs(90 * 24 * 60 * 60);

/// `server.listen` when not set.
pub(crate) const LISTEN_DEFAULT: &str = "127.0.0.1:8080";
/// `server.data_dir` when not set.
pub(crate) const DATA_DIR_DEFAULT: &str = "./hookd-data";
/// `server.database_schema` when not set.
pub(crate) const DATABASE_SCHEMA_DEFAULT: &str = "hookd";
/// `server.database_pool_size` when not set.
pub(crate) const DATABASE_POOL_SIZE_DEFAULT: u32 = 16;
/// `server.database_connect_timeout` when not set.
pub(crate) const DATABASE_CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// `server.database_statement_timeout` when not set.
pub(crate) const DATABASE_STATEMENT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// `server.spool_max` when not set, in bytes (1 GiB).
pub(crate) const SPOOL_MAX_DEFAULT: u64 = 1024 * 1024 * 1024;
/// The longest `server.database_schema`: the store's change channel,
/// `hookd_changes.SCHEMA`, must fit the 63 bytes PostgreSQL keeps of a name.
const DATABASE_SCHEMA_MAX_LEN: usize = 49;
/// Host part of the default `server.node_id` when the host name cannot be read.
pub(crate) const NODE_HOST_DEFAULT: &str = "hookd";
/// Where the host name for the default `server.node_id` is read.
const HOSTNAME_FILE: &str = "/proc/sys/kernel/hostname";
/// `server.shutdown_grace` when not set.
pub(crate) const SHUTDOWN_GRACE_DEFAULT: Duration = Duration::from_secs(30);
/// `server.rescue_interval` when not set.
pub(crate) const RESCUE_INTERVAL_DEFAULT: Duration = Duration::from_secs(5);
/// `server.log_level` when not set.
pub(crate) const LOG_LEVEL_DEFAULT: &str = "info";
/// `server.log_format` when not set.
pub(crate) const LOG_FORMAT_DEFAULT: LogFormat = LogFormat::Json;

/// `sources.*.preset` when not set.
pub(crate) const PRESET_DEFAULT: &str = "generic-hmac";
/// `sources.*.tenant` when not set.
pub(crate) const TENANT_DEFAULT: &str = "default";
/// `sources.*.encoding` when not set.
pub(crate) const ENCODING_DEFAULT: Encoding = Encoding::Hex;
/// `sources.*.tolerance` when not set.
pub(crate) const TOLERANCE_DEFAULT: Duration = Duration::from_secs(5 * 60);
/// `sources.*.signed_payload` when not set.
pub(crate) const SIGNED_PAYLOAD_DEFAULT: &str = "{body}";
/// `sources.*.dedup_window` when not set.
pub(crate) const DEDUP_WINDOW_DEFAULT: Duration = Duration::from_secs(24 * 60 * 60);
/// `sources.*.max_body` when not set, in bytes (1 MiB).
pub(crate) const MAX_BODY_DEFAULT: usize = 1024 * 1024;
/// `sources.*.format` when not set.
pub(crate) const FORMAT_DEFAULT: BodyFormat = BodyFormat::Json;

/// The queue that always exists, and `routes.*.queue` when not set.
pub(crate) const QUEUE_DEFAULT: &str = "default";
/// `queues.*.concurrency` when not set.
pub(crate) const CONCURRENCY_DEFAULT: u32 = 10;
/// `queues.*.max_attempts` when not set.
pub(crate) const MAX_ATTEMPTS_DEFAULT: u32 = 8;
/// `queues.*.backoff.base` when not set.
pub(crate) const BACKOFF_BASE_DEFAULT: Duration = Duration::from_secs(2);
/// `queues.*.backoff.max` when not set.
pub(crate) const BACKOFF_MAX_DEFAULT: Duration = Duration::from_secs(60 * 60);
/// `queues.*.backoff.jitter` when not set.
pub(crate) const JITTER_DEFAULT: Jitter = Jitter::Full;
/// `queues.*.lease` when not set.
pub(crate) const LEASE_DEFAULT: Duration = Duration::from_secs(30);

/// `destinations.*.timeout` when not set.
pub(crate) const TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// `destinations.*.allow_private_network` when not set.
pub(crate) const ALLOW_PRIVATE_NETWORK_DEFAULT: bool = false;

/// `routes.*.priority` when not set.
pub(crate) const PRIORITY_DEFAULT: u8 = 3;
/// The highest `routes.*.priority` (runs first).
pub(crate) const PRIORITY_FIRST: u8 = 1;
/// The lowest `routes.*.priority` (runs last).
pub(crate) const PRIORITY_LAST: u8 = 5;
/// `routes.*.delay` when not set.
pub(crate) const DELAY_DEFAULT: Duration = Duration::ZERO;

/// How serious a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The configuration cannot be used.
    Error,
    /// The configuration works, but probably not as intended.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One mistake or doubtful setting in a configuration, named by its key path.
///
/// Displays as `error: sources.shop.secrets: at least one secret is required`, which is
/// the line `hookd config check` prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Key path (`server.listen`, `sources.shop.secrets`, `routes[2].queue`); the file name
    /// when the file cannot be read, the variable name for a `HOOKD_*` variable that cannot
    /// be applied, empty for a TOML syntax error.
    pub path: String,
    /// What is wrong, and where useful what would be right.
    pub message: String,
    /// Whether the configuration can be used anyway.
    pub severity: Severity,
}

impl Problem {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            severity: Severity::Error,
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            severity: Severity::Warning,
        }
    }

    /// Whether this problem makes the configuration unusable.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.severity, self.message)
        } else {
            write!(f, "{}: {}: {}", self.severity, self.path, self.message)
        }
    }
}

/// Reads, overlays and checks the configuration file at `path`.
///
/// `env` is the process environment in production (`std::env::vars()`); see [`load_str`].
///
/// # Errors
///
/// As [`load_str`], plus one problem naming the file when it cannot be read.
pub fn load(
    path: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![Problem::error(
            path.display().to_string(),
            format!("cannot read the configuration file: {e}"),
        )]
    })?;
    load_str(&text, env)
}

/// Parses `text` as `hookd.toml`, applies the `HOOKD_*` variables among `env` and checks the
/// result.
///
/// On success returns the configuration with the warnings found (possibly none).
///
/// # Errors
///
/// Every problem found, errors and warnings, when there is at least one error: first those
/// of the environment overlay, then unknown keys and type errors, then the semantic checks.
pub fn load_str(
    text: &str,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(Config, Vec<Problem>), Vec<Problem>> {
    let mut table: Table = match toml::from_str(text) {
        Ok(table) => table,
        Err(e) => return Err(vec![syntax_problem(text, &e)]),
    };
    let (applied, env_problems) = env::overlay(&mut table, env);

    let mut cx = Checker::default();
    cx.problems.extend(env_problems);
    let file = Arc::new(table.clone());
    let (raw, declared) = read_raw(table, &mut cx);
    let config = build(&raw, &declared, file, &mut cx);

    let mut problems = cx.problems;
    name_variables(&mut problems, &applied);
    match config {
        Some(config) if !problems.iter().any(Problem::is_error) => Ok((config, problems)),
        _ => Err(problems),
    }
}

/// Collects problems while the configuration is read and checked.
#[derive(Debug, Default)]
pub(super) struct Checker {
    pub(super) problems: Vec<Problem>,
    /// Paths whose value had the wrong type and was dropped: later problems under them (a
    /// "required" key that was in fact given) would only repeat the first.
    pub(super) dropped: Vec<String>,
}

impl Checker {
    pub(super) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        if !self.dropped.iter().any(|d| is_under(&path, d)) {
            self.problems.push(Problem::error(path, message));
        }
    }

    pub(super) fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::warning(path, message));
    }

    pub(super) fn error_count(&self) -> usize {
        self.problems.iter().filter(|p| p.is_error()).count()
    }
}

/// Whether `path` is `prefix` or a key path inside it.
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
}

/// `prefix.key`, with `key` quoted when it is not a bare TOML key (`routes[0].match."/status"`).
pub(crate) fn key_path(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// One problem for a file that is not valid TOML, with its line and column.
fn syntax_problem(text: &str, e: &toml::de::Error) -> Problem {
    let message = e.message().trim_end();
    let message = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("invalid TOML at line {line}, column {column}: {message}")
        }
        None => format!("invalid TOML: {message}"),
    };
    Problem::error("", message)
}

/// Appends `(set by HOOKD_…)` to problems about keys that came from the environment.
fn name_variables(problems: &mut [Problem], applied: &[Applied]) {
    for problem in problems {
        if let Some(a) = applied
            .iter()
            .rev()
            .find(|a| is_under(&problem.path, &a.path))
        {
            problem.message = format!("{} (set by {})", problem.message, a.var);
        }
    }
}

/// Checks what `read_raw` made of `file` and builds the validated configuration.
pub(super) fn build(
    raw: &RawConfig,
    declared: &Declared,
    file: Arc<Table>,
    cx: &mut Checker,
) -> Option<Config> {
    let server = build_server(&raw.server, cx);

    let mut sources = BTreeMap::new();
    for (name, source) in &raw.sources {
        if let Some(source) = build_source(name, source, cx) {
            sources.insert(name.clone(), source);
        }
    }

    let mut queues = BTreeMap::new();
    for (name, queue) in &raw.queues {
        if let Some(queue) = build_queue(name, queue, cx) {
            queues.insert(name.clone(), queue);
        }
    }
    if !declared.queues.contains(QUEUE_DEFAULT) {
        queues.insert(
            QUEUE_DEFAULT.to_owned(),
            QueueConfig::defaults(QUEUE_DEFAULT),
        );
    }

    let mut destinations = BTreeMap::new();
    for (name, destination) in &raw.destinations {
        if let Some(destination) = build_destination(name, destination, cx) {
            destinations.insert(name.clone(), destination);
        }
    }

    let mut routes = Vec::new();
    let mut route_names: BTreeMap<String, usize> = BTreeMap::new();
    for (i, route) in raw.routes.iter().enumerate() {
        if let Some(route) = build_route(i, route, raw, declared, cx) {
            routes.push(route);
        }
        let name = route.name.clone().unwrap_or_else(|| format!("routes[{i}]"));
        if let Some(first) = route_names.get(&name) {
            cx.error(
                format!("routes[{i}].name"),
                format!("route name {name:?} is already used by routes[{first}]"),
            );
        } else {
            route_names.insert(name, i);
        }
    }

    warn_unrouted_sources(raw, cx);

    let api = super::api::build_api(&raw.api, cx);

    let retention = build_retention(&raw.retention, cx);

    let stats = build_stats(&raw.stats, cx);
    if let Some(stats) = &stats {
        warn_expected_intervals(&sources, stats, cx);
    }

    let (server, api, retention, stats) = (server?, api?, retention?, stats?);
    Some(Config {
        server,
        sources,
        queues,
        destinations,
        routes,
        api,
        retention,
        stats,
        file,
    })
}

/// `[stats]`: every duration more than zero, and hourly rows kept at least as long as
/// minute rows (else minute rows would be merged into hours already deleted).
fn build_stats(raw: &RawStats, cx: &mut Checker) -> Option<StatsConfig> {
    let errors = cx.error_count();
    let flush_interval = positive(
        cx,
        "stats.flush_interval",
        raw.flush_interval,
        STATS_FLUSH_INTERVAL_DEFAULT,
    );
    let minute_rollups = positive(
        cx,
        "stats.minute_rollups",
        raw.minute_rollups,
        STATS_MINUTE_ROLLUPS_DEFAULT,
    );
    let keep = positive(cx, "stats.keep", raw.keep, STATS_KEEP_DEFAULT);
    if keep < minute_rollups {
        cx.error(
            "stats.keep",
            format!(
                "must be at least stats.minute_rollups ({}), or minute rows would be merged \
                 into hourly rows that are already deleted",
                humantime::format_duration(minute_rollups)
            ),
        );
    }
    (cx.error_count() == errors).then_some(StatsConfig {
        flush_interval,
        minute_rollups,
        keep,
    })
}

/// Warns of each source whose `expected_interval` is not longer than
/// `stats.flush_interval`: its deliveries reach the stats only that often, so it would
/// look disconnected between two flushes.
fn warn_expected_intervals(
    sources: &BTreeMap<String, SourceConfig>,
    stats: &StatsConfig,
    cx: &mut Checker,
) {
    for source in sources.values() {
        if source
            .expected_interval
            .is_some_and(|expected| expected <= stats.flush_interval)
        {
            cx.warning(
                key_path(&key_path("sources", &source.name), "expected_interval"),
                format!(
                    "is not longer than stats.flush_interval ({}): deliveries reach the stats \
                     only that often, so the source would look disconnected between flushes",
                    humantime::format_duration(stats.flush_interval)
                ),
            );
        }
    }
}

/// `[retention]`: every duration more than zero, `batch` a positive count.
fn build_retention(raw: &RawRetention, cx: &mut Checker) -> Option<RetentionConfig> {
    let errors = cx.error_count();
    let succeeded = positive(
        cx,
        "retention.succeeded",
        raw.succeeded,
        RETENTION_SUCCEEDED_DEFAULT,
    );
    let dead = positive(cx, "retention.dead", raw.dead, RETENTION_DEAD_DEFAULT);
    let interval = positive(
        cx,
        "retention.interval",
        raw.interval,
        RETENTION_INTERVAL_DEFAULT,
    );
    let batch = count(cx, "retention.batch", raw.batch, RETENTION_BATCH_DEFAULT);
    (cx.error_count() == errors).then_some(RetentionConfig {
        succeeded,
        dead,
        interval,
        batch,
    })
}

fn build_server(raw: &RawServer, cx: &mut Checker) -> Option<ServerConfig> {
    let errors = cx.error_count();

    let listen_text = raw.listen.as_deref().unwrap_or(LISTEN_DEFAULT);
    let listen = match listen_text.trim().parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            cx.error(
                "server.listen",
                format!(
                    "invalid address {listen_text:?}: expected an IP address and a port such \
                     as \"127.0.0.1:8080\" or \"[::]:8080\""
                ),
            );
            SocketAddr::from(([127, 0, 0, 1], 8080))
        }
    };

    let data_dir = raw.data_dir.as_deref().unwrap_or(DATA_DIR_DEFAULT);
    if data_dir.trim().is_empty() {
        cx.error("server.data_dir", "must not be empty");
    }

    let database_url = raw.database_url.clone();
    if let Some(url) = &database_url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        cx.error(
            "server.database_url",
            "expected a PostgreSQL URL starting with postgres:// or postgresql://",
        );
    }

    let database_schema = raw
        .database_schema
        .clone()
        .unwrap_or_else(|| DATABASE_SCHEMA_DEFAULT.to_owned());
    if let Err(message) = check_schema_name(&database_schema) {
        cx.error("server.database_schema", message);
    }
    let database_pool_size = count(
        cx,
        "server.database_pool_size",
        raw.database_pool_size,
        DATABASE_POOL_SIZE_DEFAULT,
    );
    let database_connect_timeout = positive(
        cx,
        "server.database_connect_timeout",
        raw.database_connect_timeout,
        DATABASE_CONNECT_TIMEOUT_DEFAULT,
    );
    let database_statement_timeout = positive(
        cx,
        "server.database_statement_timeout",
        raw.database_statement_timeout,
        DATABASE_STATEMENT_TIMEOUT_DEFAULT,
    );

    let node_id = match &raw.node_id {
        Some(id) => {
            if id.trim().is_empty() {
                cx.error("server.node_id", "must not be empty");
            }
            id.clone()
        }
        None => default_node_id(),
    };

    let shutdown_grace = raw.shutdown_grace.map_or(SHUTDOWN_GRACE_DEFAULT, |d| d.0);
    let rescue_interval = positive(
        cx,
        "server.rescue_interval",
        raw.rescue_interval,
        RESCUE_INTERVAL_DEFAULT,
    );

    let log_level = raw
        .log_level
        .clone()
        .unwrap_or_else(|| LOG_LEVEL_DEFAULT.to_owned());
    if let Err(message) = check_log_level(&log_level) {
        cx.error("server.log_level", message);
    }

    let log_format = match raw.log_format.as_deref() {
        None => LOG_FORMAT_DEFAULT,
        Some("json") => LogFormat::Json,
        Some("text") => LogFormat::Text,
        Some(other) => {
            cx.error(
                "server.log_format",
                format!("unknown format {other:?}; known: json, text"),
            );
            LOG_FORMAT_DEFAULT
        }
    };

    (cx.error_count() == errors).then(|| ServerConfig {
        listen,
        data_dir: PathBuf::from(data_dir),
        database_url,
        database_schema,
        database_pool_size,
        database_connect_timeout,
        database_statement_timeout,
        spool_max: raw.spool_max.map_or(SPOOL_MAX_DEFAULT, |size| size.0),
        node_id,
        shutdown_grace,
        rescue_interval,
        log_level,
        log_format,
    })
}

/// Checks a PostgreSQL schema name. Only names that need no quoting are taken, so the
/// schema reads the same in `psql` as in the configuration; `pg_` is reserved by
/// PostgreSQL for its own schemas.
fn check_schema_name(name: &str) -> Result<(), String> {
    let rule = "use lower-case letters, digits and _, not starting with a digit";
    match name.chars().next() {
        None => return Err("must not be empty".to_owned()),
        Some(first) if first.is_ascii_digit() => {
            return Err(format!("{name:?} starts with a digit; {rule}"));
        }
        Some(_) => {}
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
    {
        return Err(format!("{name:?} contains {bad:?}; {rule}"));
    }
    if name.len() > DATABASE_SCHEMA_MAX_LEN {
        return Err(format!(
            "must be at most {DATABASE_SCHEMA_MAX_LEN} characters, not {}",
            name.len()
        ));
    }
    if name.starts_with("pg_") {
        return Err(format!(
            "{name:?}: names starting with pg_ are reserved by PostgreSQL"
        ));
    }
    Ok(())
}

/// Checks a `tracing` filter. A lone word must be a level: `EnvFilter` would take `verbose`
/// as a target name and silently log nothing.
fn check_log_level(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let example = "write a level (error, warn, info, debug, trace, off) or a filter such as \
                   \"info,hookd=debug\"";
    let filter = filter.trim();
    if filter.is_empty() {
        return Err(format!("must not be empty; {example}"));
    }
    let is_word = !filter.contains([',', '=', ':', '[']);
    if is_word && !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(filter)) {
        return Err(format!("unknown level {filter:?}; {example}"));
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| format!("invalid log filter {filter:?}: {e}; {example}"))
}

/// The default `server.node_id`: the host name, `-`, and the process id.
fn default_node_id() -> String {
    let host = std::fs::read_to_string(HOSTNAME_FILE)
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| NODE_HOST_DEFAULT.to_owned());
    format!("{host}-{}", std::process::id())
}

fn build_source(name: &str, raw: &RawSource, cx: &mut Checker) -> Option<SourceConfig> {
    let errors = cx.error_count();
    let path = key_path("sources", name);
    let at = |key: &str| key_path(&path, key);

    check_name(cx, &path, name, "source");
    if !name.is_empty()
        && !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        cx.error(
            path.clone(),
            "a source name is part of the URL /in/NAME: use only letters, digits, '-', '_' \
             and '.'",
        );
    }

    let tenant = raw
        .tenant
        .clone()
        .unwrap_or_else(|| TENANT_DEFAULT.to_owned());
    if tenant.trim().is_empty() {
        cx.error(at("tenant"), "must not be empty");
    } else if tenant == "*" {
        cx.error(
            at("tenant"),
            "\"*\" is reserved for admin tokens that see every tenant",
        );
    }

    let format = match raw.format.as_deref() {
        None => FORMAT_DEFAULT,
        Some("json") => BodyFormat::Json,
        Some("raw") => BodyFormat::Raw,
        Some(other) => {
            cx.error(
                at("format"),
                format!("unknown format {other:?}; known: json, raw"),
            );
            FORMAT_DEFAULT
        }
    };

    let event_type = raw
        .event_type
        .as_ref()
        .and_then(|f| field_ref(cx, &at("event_type"), f, format));
    let event_id = raw
        .event_id
        .as_ref()
        .and_then(|f| field_ref(cx, &at("event_id"), f, format));

    let preset = raw.preset.as_deref().unwrap_or(PRESET_DEFAULT);
    let verify = presets::build(cx, &path, preset, raw);

    let dedup_window = positive(
        cx,
        &at("dedup_window"),
        raw.dedup_window,
        DEDUP_WINDOW_DEFAULT,
    );

    let max_body = match raw.max_body {
        None => MAX_BODY_DEFAULT,
        Some(ByteSizeValue(0)) => {
            cx.error(at("max_body"), "must be greater than zero");
            MAX_BODY_DEFAULT
        }
        Some(ByteSizeValue(n)) => usize::try_from(n).unwrap_or_else(|_| {
            cx.error(
                at("max_body"),
                format!("{n} bytes is more than this machine can address"),
            );
            MAX_BODY_DEFAULT
        }),
    };

    let expected_interval = raw.expected_interval.map(|HumanDuration(interval)| {
        if interval.is_zero() {
            cx.error(at("expected_interval"), "must be greater than zero");
        }
        interval
    });

    let verify = verify?;
    (cx.error_count() == errors).then(|| SourceConfig {
        name: name.to_owned(),
        tenant,
        verify,
        event_type,
        event_id,
        dedup_window,
        max_body,
        format,
        expected_interval,
    })
}

/// `{ json = … }` or `{ header = … }` at `path`.
fn field_ref(
    cx: &mut Checker,
    path: &str,
    raw: &RawFieldRef,
    format: BodyFormat,
) -> Option<FieldRef> {
    match (&raw.json, &raw.header) {
        (Some(pointer), None) => {
            let at = key_path(path, "json");
            if format == BodyFormat::Raw {
                cx.error(at, RAW_NO_POINTERS);
                return None;
            }
            json_pointer(cx, &at, pointer).then(|| FieldRef::Json(pointer.clone()))
        }
        (None, Some(header)) => {
            let errors = cx.error_count();
            let name = header_name(cx, &key_path(path, "header"), header);
            (cx.error_count() == errors).then_some(FieldRef::Header(name))
        }
        (Some(_), Some(_)) => {
            cx.error(path, "set either json or header, not both");
            None
        }
        (None, None) => {
            cx.error(path, r#"set json = "/pointer" or header = "name""#);
            None
        }
    }
}

const RAW_NO_POINTERS: &str =
    "the source has format = \"raw\": its body is never parsed, so JSON pointers cannot be used";

/// Checks a header name; returns it lower case.
pub(super) fn header_name(cx: &mut Checker, path: &str, name: &str) -> String {
    if name.is_empty() {
        cx.error(path, "must not be empty");
    } else if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        cx.error(path, format!("{name:?} is not a valid header name"));
    }
    name.to_ascii_lowercase()
}

/// Checks an RFC 6901 JSON pointer: `""` (the whole body) or `/a/b`, with `~0` and `~1`
/// the only escapes.
pub(super) fn json_pointer(cx: &mut Checker, path: &str, pointer: &str) -> bool {
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        cx.error(
            path,
            format!("invalid JSON pointer {pointer:?}: it must be \"\" or start with '/', e.g. \"/{pointer}\""),
        );
        return false;
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            cx.error(
                path,
                format!("invalid JSON pointer {pointer:?}: '~' must be followed by 0 (for '~') or 1 (for '/')"),
            );
            return false;
        }
    }
    true
}

/// A duration that must be more than zero.
pub(super) fn positive(
    cx: &mut Checker,
    path: &str,
    value: Option<HumanDuration>,
    default: Duration,
) -> Duration {
    match value {
        None => default,
        Some(HumanDuration(d)) if d.is_zero() => {
            cx.error(path, "must be greater than zero");
            default
        }
        Some(HumanDuration(d)) => d,
    }
}

/// A whole number that must be at least 1 and fit a `u32`.
fn count(cx: &mut Checker, path: &str, value: Option<i64>, default: u32) -> u32 {
    match value {
        None => default,
        Some(n) if n < 1 => {
            cx.error(path, format!("must be at least 1, not {n}"));
            default
        }
        Some(n) => u32::try_from(n).unwrap_or_else(|_| {
            cx.error(path, format!("must be at most {}, not {n}", u32::MAX));
            default
        }),
    }
}

/// Checks a `[section.NAME]` key.
fn check_name(cx: &mut Checker, path: &str, name: &str, what: &str) {
    if name.trim().is_empty() {
        cx.error(path, format!("a {what} name must not be empty"));
    } else if name.chars().any(|c| c.is_ascii_uppercase()) {
        cx.warning(
            path,
            "this name has upper-case letters, so no HOOKD_ variable can reach it (their key \
             paths are lower-cased)",
        );
    }
}

fn build_queue(name: &str, raw: &RawQueue, cx: &mut Checker) -> Option<QueueConfig> {
    let errors = cx.error_count();
    let path = key_path("queues", name);
    let at = |key: &str| key_path(&path, key);
    check_name(cx, &path, name, "queue");

    let concurrency = count(cx, &at("concurrency"), raw.concurrency, CONCURRENCY_DEFAULT);
    // No default: unset means no cluster-wide cap. A value below `concurrency` is allowed
    // (it is then the tighter limit on every node), so it gets no warning. The fallback
    // only stands in for a wrong value, which rejects the queue anyway.
    let global_concurrency = raw
        .global_concurrency
        .map(|n| count(cx, &at("global_concurrency"), Some(n), concurrency));
    let max_attempts = count(
        cx,
        &at("max_attempts"),
        raw.max_attempts,
        MAX_ATTEMPTS_DEFAULT,
    );

    let backoff_path = at("backoff");
    let backoff = raw.backoff.clone().unwrap_or_default();
    let base = positive(
        cx,
        &key_path(&backoff_path, "base"),
        backoff.base,
        BACKOFF_BASE_DEFAULT,
    );
    let max = positive(
        cx,
        &key_path(&backoff_path, "max"),
        backoff.max,
        BACKOFF_MAX_DEFAULT,
    );
    if base > max {
        cx.error(
            backoff_path.clone(),
            format!(
                "base ({}) is longer than max ({})",
                humantime::format_duration(base),
                humantime::format_duration(max)
            ),
        );
    }
    let jitter = match backoff.jitter.as_deref() {
        None => JITTER_DEFAULT,
        Some("full") => Jitter::Full,
        Some("none") => Jitter::None,
        Some(other) => {
            cx.error(
                key_path(&backoff_path, "jitter"),
                format!("unknown jitter {other:?}; known: full, none"),
            );
            JITTER_DEFAULT
        }
    };

    let lease = positive(cx, &at("lease"), raw.lease, LEASE_DEFAULT);

    (cx.error_count() == errors).then(|| QueueConfig {
        name: name.to_owned(),
        concurrency,
        global_concurrency,
        max_attempts,
        backoff: Backoff { base, max, jitter },
        lease,
    })
}

fn build_destination(
    name: &str,
    raw: &RawDestination,
    cx: &mut Checker,
) -> Option<DestinationConfig> {
    let errors = cx.error_count();
    let path = key_path("destinations", name);
    let at = |key: &str| key_path(&path, key);
    check_name(cx, &path, name, "destination");

    let url = match raw.url.as_deref() {
        None => {
            cx.error(
                at("url"),
                "required: the http or https URL events are forwarded to",
            );
            None
        }
        Some(text) => match reqwest::Url::parse(text) {
            Err(e) => {
                cx.error(at("url"), format!("invalid URL {text:?}: {e}"));
                None
            }
            Ok(url) if !matches!(url.scheme(), "http" | "https") => {
                cx.error(
                    at("url"),
                    format!(
                        "scheme {:?} is not supported; use http or https",
                        url.scheme()
                    ),
                );
                None
            }
            Ok(url) if url.host_str().is_none_or(str::is_empty) => {
                cx.error(at("url"), "the URL has no host");
                None
            }
            Ok(url) => Some(url),
        },
    };

    let secret = match raw.secret.as_deref() {
        None => {
            cx.error(
                at("secret"),
                "required: the Standard Webhooks secret (whsec_…) hookd signs forwarded requests with",
            );
            None
        }
        Some(text) => match Secret::parse(text) {
            Ok(secret) => Some(secret),
            Err(e) => {
                cx.error(
                    at("secret"),
                    format!("not a Standard Webhooks secret (whsec_ + base64): {e}"),
                );
                None
            }
        },
    };

    let timeout = positive(cx, &at("timeout"), raw.timeout, TIMEOUT_DEFAULT);
    let allow_private_network = raw
        .allow_private_network
        .unwrap_or(ALLOW_PRIVATE_NETWORK_DEFAULT);

    let (url, secret) = (url?, secret?);
    (cx.error_count() == errors).then(|| DestinationConfig {
        name: name.to_owned(),
        url,
        secret,
        timeout,
        allow_private_network,
    })
}

fn build_route(
    i: usize,
    raw: &RawRoute,
    config: &RawConfig,
    declared: &Declared,
    cx: &mut Checker,
) -> Option<RouteConfig> {
    let errors = cx.error_count();
    let path = format!("routes[{i}]");
    let at = |key: &str| key_path(&path, key);

    let name = match &raw.name {
        Some(name) if name.trim().is_empty() => {
            cx.error(at("name"), "must not be empty");
            name.clone()
        }
        Some(name) => name.clone(),
        None => path.clone(),
    };

    let sources = raw.source.clone().map(|s| s.0).unwrap_or_default();
    if sources.is_empty() {
        cx.error(
            at("source"),
            "required: the source (or list of sources) whose events this route takes",
        );
    }
    for source in &sources {
        if !declared.sources.contains(source) {
            cx.error(
                at("source"),
                format!(
                    "unknown source {source:?}; {}",
                    declared_list("sources", &declared.sources)
                ),
            );
        }
    }
    let raw_sources: Vec<&str> = sources
        .iter()
        .filter(|s| {
            config
                .sources
                .get(*s)
                .is_some_and(|src| src.format.as_deref() == Some("raw"))
        })
        .map(String::as_str)
        .collect();

    let type_patterns = raw.types.clone().map(|t| t.0).unwrap_or_default();
    let mut globs = GlobSetBuilder::new();
    for (j, pattern) in type_patterns.iter().enumerate() {
        match GlobBuilder::new(pattern).literal_separator(false).build() {
            Ok(glob) => {
                globs.add(glob);
            }
            Err(e) => cx.error(
                format!("{}[{j}]", at("types")),
                format!("invalid glob {pattern:?}: {}", e.kind()),
            ),
        }
    }
    let types = match globs.build() {
        Ok(set) => Some(set),
        Err(e) => {
            cx.error(at("types"), format!("invalid globs: {e}"));
            None
        }
    };

    let mut conditions = Vec::new();
    if let Some(table) = &raw.conditions {
        let match_path = at("match");
        for (pointer, value) in table {
            let key = key_path(&match_path, pointer);
            if !raw_sources.is_empty() {
                cx.error(key, raw_source_message(&raw_sources));
                continue;
            }
            if !json_pointer(cx, &key, pointer) {
                continue;
            }
            match toml_to_json(value) {
                Ok(value) => conditions.push((pointer.clone(), value)),
                Err(message) => cx.error(key, message),
            }
        }
    }

    let queue = raw
        .queue
        .clone()
        .unwrap_or_else(|| QUEUE_DEFAULT.to_owned());
    if queue != QUEUE_DEFAULT && !declared.queues.contains(&queue) {
        let mut known = declared.queues.clone();
        known.insert(QUEUE_DEFAULT.to_owned());
        cx.error(
            at("queue"),
            format!(
                "unknown queue {queue:?}; {}",
                declared_list("queues", &known)
            ),
        );
    }

    let priority = match raw.priority {
        None => PRIORITY_DEFAULT,
        Some(p) => match u8::try_from(p) {
            Ok(p) if (PRIORITY_FIRST..=PRIORITY_LAST).contains(&p) => p,
            _ => {
                cx.error(
                    at("priority"),
                    format!("must be {PRIORITY_FIRST} (runs first) … {PRIORITY_LAST} (runs last), not {p}"),
                );
                PRIORITY_DEFAULT
            }
        },
    };

    let ordering_key = raw.ordering_key.clone().map(|k| k.0).unwrap_or_default();
    if !ordering_key.is_empty() && !raw_sources.is_empty() {
        cx.error(at("ordering_key"), raw_source_message(&raw_sources));
    } else {
        for (j, pointer) in ordering_key.iter().enumerate() {
            json_pointer(cx, &format!("{}[{j}]", at("ordering_key")), pointer);
        }
    }

    let delay = raw.delay.map_or(DELAY_DEFAULT, |d| d.0);

    let destination = match &raw.destination {
        None => {
            cx.error(
                at("destination"),
                "required: the [destinations] entry the jobs are forwarded to",
            );
            String::new()
        }
        Some(d) => {
            if !declared.destinations.contains(d) {
                cx.error(
                    at("destination"),
                    format!(
                        "unknown destination {d:?}; {}",
                        declared_list("destinations", &declared.destinations)
                    ),
                );
            }
            d.clone()
        }
    };

    let types = types?;
    (cx.error_count() == errors).then(|| RouteConfig {
        name,
        sources,
        type_patterns,
        types,
        conditions,
        queue,
        priority,
        ordering_key,
        delay,
        destination,
    })
}

fn raw_source_message(raw_sources: &[&str]) -> String {
    format!(
        "source {} has format = \"raw\": its body is never parsed, so JSON pointers cannot be used",
        raw_sources
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn declared_list(what: &str, names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        format!("no {what} are declared")
    } else {
        format!(
            "declared: {}",
            names
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// A `match` value as JSON. Dates and times become their TOML text.
pub(super) fn toml_to_json(value: &Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Integer(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .ok_or_else(|| format!("{f} is not a number JSON can hold"))?,
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?)
        }
        Value::Table(table) => serde_json::Value::Object(
            table
                .iter()
                .map(|(k, v)| Ok((k.clone(), toml_to_json(v)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

fn warn_unrouted_sources(raw: &RawConfig, cx: &mut Checker) {
    let routed: BTreeSet<&str> = raw
        .routes
        .iter()
        .filter_map(|r| r.source.as_ref())
        .flat_map(|s| s.0.iter().map(String::as_str))
        .collect();
    for name in raw.sources.keys() {
        if !routed.contains(name.as_str()) {
            cx.warning(
                key_path("sources", name),
                "no route takes events of this source; events will be stored as unrouted",
            );
        }
    }
}
