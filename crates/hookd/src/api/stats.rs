//! Stats and health: `GET /v1/stats/sources` and `GET /v1/stats/queues` sum what happened
//! per source and per queue over a period; `GET /v1/health` judges each source from its
//! recent stats ([`super::health`]).
//!
//! - The figures come from the stats rollups every node adds to the store every
//!   `[stats] flush_interval` (so the last seconds may be missing), not from the events:
//!   they outlive retention, at a resolution of a minute for the last
//!   `[stats] minute_rollups` and of an hour after that.
//! - `period` is `1h`, `24h` (when omitted), `7d` or `30d`, and ends now; `from` is the
//!   start of the minute it begins in. Times are RFC 3339 strings in UTC.
//! - Sources need `read`; a token sees its tenant's sources only (`*` sees all): every
//!   configured one, with zeros when nothing happened, and any other source with figures
//!   in the period (a source since removed). `source=NAME` narrows the list to that
//!   source; another tenant's source is absent, as a missing one is. Queues are shared
//!   infrastructure (DESIGN.md, Tenancy): they need an `admin` token of tenant `*`.
//! - Durations (`processing_ms`, `lag_ms`) are percentiles in milliseconds, each within
//!   10 % of the true value, or `null` when nothing was measured. `success_rate` is
//!   succeeded / (succeeded + failed + dead) attempts, `null` without attempts.
//! - Unknown, repeated and bad parameters are 400 with `fields` naming `query.NAME`.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use hookd_store::{Histogram, MINUTE_MS, Millis, StatsQuery, StatsRollup, StatsRow, StatsScope};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ApiState;
use super::auth::{Principal, Scope};
use super::error::{ApiError, ErrorBody};
use super::extract::Json;
use super::health::{self, HEALTH_WINDOW, Observed, Status};
use super::query::QueryReader;
use super::queues::require_root_admin;
use crate::clock::{self, rfc3339};

/// The routes of this resource.
pub(super) fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(source_stats))
        .routes(routes!(queue_stats))
        .routes(routes!(source_health))
}

/// How many errors `top_errors` lists.
const TOP_ERRORS: usize = 10;

/// The period figures are summed over, ending now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) enum Period {
    /// The last hour.
    #[serde(rename = "1h")]
    Hour,
    /// The last 24 hours.
    #[default]
    #[serde(rename = "24h")]
    Day,
    /// The last 7 days.
    #[serde(rename = "7d")]
    Week,
    /// The last 30 days.
    #[serde(rename = "30d")]
    Month,
}

impl Period {
    const ALL: [Period; 4] = [Period::Hour, Period::Day, Period::Week, Period::Month];

    fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "1h",
            Period::Day => "24h",
            Period::Week => "7d",
            Period::Month => "30d",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| format!("`{text}` is not a period; use 1h, 24h, 7d or 30d"))
    }

    fn duration(self) -> Duration {
        const HOUR: u64 = 60 * 60;
        Duration::from_secs(match self {
            Period::Hour => HOUR,
            Period::Day => 24 * HOUR,
            Period::Week => 7 * 24 * HOUR,
            Period::Month => 30 * 24 * HOUR,
        })
    }
}

/// The query of `GET /v1/stats/sources`.
#[derive(Debug, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SourceStatsQuery {
    /// `1h`, `24h`, `7d` or `30d`, ending now; `24h` when omitted.
    #[param(inline)]
    period: Option<Period>,
    /// Only this source (exact name).
    source: Option<String>,
}

impl SourceStatsQuery {
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut reader = QueryReader::new(query, &["period", "source"]);
        let parsed = Self {
            period: reader.get("period", Period::parse),
            source: reader.get("source", |v| Ok(v.to_owned())),
        };
        reader.finish().map(|()| parsed)
    }
}

/// The query of `GET /v1/stats/queues`.
#[derive(Debug, Default, PartialEq, Eq, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct QueueStatsQuery {
    /// `1h`, `24h`, `7d` or `30d`, ending now; `24h` when omitted.
    #[param(inline)]
    period: Option<Period>,
    /// Only this queue (exact name).
    queue: Option<String>,
}

impl QueueStatsQuery {
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut reader = QueryReader::new(query, &["period", "queue"]);
        let parsed = Self {
            period: reader.get("period", Period::parse),
            queue: reader.get("queue", |v| Ok(v.to_owned())),
        };
        reader.finish().map(|()| parsed)
    }
}

/// The 50th, 95th and 99th percentiles of some durations, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct Percentiles {
    /// Half of the durations were at most this.
    p50: i64,
    /// 95 % were at most this.
    p95: i64,
    /// 99 % were at most this.
    p99: i64,
}

impl Percentiles {
    /// `None` when nothing was measured.
    fn of(histogram: &Histogram) -> Option<Self> {
        Some(Self {
            p50: histogram.quantile(0.50)?,
            p95: histogram.quantile(0.95)?,
            p99: histogram.quantile(0.99)?,
        })
    }
}

/// Deliveries turned away.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Rejected {
    /// Every reason together.
    total: u64,
    /// By the error code of the answer (`signature_mismatch`, …).
    by_reason: BTreeMap<String, u64>,
}

/// An error of failed attempts, and how often it occurred.
#[derive(Debug, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) struct ErrorCount {
    /// `HTTP 503` when the target answered, else the kind of the error (`connect error`,
    /// `timed out after 30s`).
    error: String,
    /// Attempts that failed with it.
    count: u64,
}

/// The lags of a source's events, in milliseconds; each `null` when not measured.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceLag {
    /// From when the provider says the event happened to its arrival (presets that read a
    /// provider timestamp only).
    #[schema(required = true)]
    provider: Option<Percentiles>,
    /// From arrival to commit.
    #[schema(required = true)]
    commit: Option<Percentiles>,
    /// From arrival to the start of a job's first attempt (a route's delay included).
    #[schema(required = true)]
    first_attempt: Option<Percentiles>,
    /// From arrival to a job's success (retries included).
    #[schema(required = true)]
    succeeded: Option<Percentiles>,
}

/// The lags of a queue's jobs, in milliseconds; each `null` when not measured.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueLag {
    /// From the event's arrival to the start of a job's first attempt.
    #[schema(required = true)]
    first_attempt: Option<Percentiles>,
    /// From the event's arrival to a job's success.
    #[schema(required = true)]
    succeeded: Option<Percentiles>,
}

/// What happened to one source over a period.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceStats {
    /// The source's name.
    name: String,
    /// Its tenant.
    tenant: String,
    /// The period asked for.
    period: Period,
    /// Where the period starts (RFC 3339).
    from: String,
    /// Where it ends: now (RFC 3339).
    until: String,
    /// Events stored (duplicates are not).
    received: u64,
    /// Deliveries turned away.
    rejected: Rejected,
    /// Events recognised as repeats and not stored again.
    duplicates: u64,
    /// Attempts that succeeded.
    succeeded: u64,
    /// Attempts that failed and were to be tried again.
    failed: u64,
    /// Jobs that went dead.
    dead: u64,
    /// succeeded / (succeeded + failed + dead); `null` without attempts.
    #[schema(required = true)]
    success_rate: Option<f64>,
    /// How long attempts took.
    #[schema(required = true)]
    processing_ms: Option<Percentiles>,
    /// The lags of the source's events.
    lag_ms: SourceLag,
    /// The most frequent errors of failed attempts, at most 10, most frequent first.
    top_errors: Vec<ErrorCount>,
    /// When the latest delivery arrived (RFC 3339); `null` when none did in the period.
    #[schema(required = true)]
    last_received_at: Option<String>,
}

/// What happened to one queue over a period.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueStats {
    /// The queue's name.
    name: String,
    /// The period asked for.
    period: Period,
    /// Where the period starts (RFC 3339).
    from: String,
    /// Where it ends: now (RFC 3339).
    until: String,
    /// Jobs enqueued.
    received: u64,
    /// Attempts that succeeded.
    succeeded: u64,
    /// Attempts that failed and were to be tried again.
    failed: u64,
    /// Jobs that went dead.
    dead: u64,
    /// succeeded / (succeeded + failed + dead); `null` without attempts.
    #[schema(required = true)]
    success_rate: Option<f64>,
    /// How long attempts took.
    #[schema(required = true)]
    processing_ms: Option<Percentiles>,
    /// The lags of the queue's jobs.
    lag_ms: QueueLag,
    /// The most frequent errors of failed attempts, at most 10, most frequent first.
    top_errors: Vec<ErrorCount>,
}

/// The stats of every source the token sees.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceStatsList {
    /// By name, then tenant.
    data: Vec<SourceStats>,
}

/// The stats of every queue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QueueStatsList {
    /// By name.
    data: Vec<QueueStats>,
}

/// The health of one source.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SourceHealth {
    /// The source's name.
    name: String,
    /// Its tenant.
    tenant: String,
    /// `healthy` (score ≥ 80), `degraded` (≥ 50), `unhealthy`, or `disconnected` (silent
    /// for longer than `expected_interval`).
    status: Status,
    /// 0 … 100.
    score: u8,
    /// Why points were taken, in words; empty at 100.
    reasons: Vec<String>,
    /// When the latest delivery arrived (RFC 3339); `null` when none did within the window
    /// looked at (the health window, or the longest `expected_interval` of the sources).
    #[schema(required = true)]
    last_received_at: Option<String>,
    /// The source's `expected_interval` (`"15m"`); `null` when not configured.
    #[schema(required = true)]
    expected_interval: Option<String>,
}

/// The health of every source the token sees.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthReport {
    /// How far back rates and lags are looked at (`"15m"`).
    window: String,
    /// When the report was made (RFC 3339).
    checked_at: String,
    /// Every configured source of the token's tenant, by name.
    data: Vec<SourceHealth>,
}

/// The bounds of `period` ending at `now`: from the start of the minute it begins in, to
/// just after now.
fn bounds(period: Period, now: Millis) -> (Millis, Millis) {
    let from = now.saturating_sub(clock::millis(period.duration()));
    (from - from.rem_euclid(MINUTE_MS), now + 1)
}

/// succeeded / attempts, or `None` without attempts.
fn success_rate(rollup: &StatsRollup) -> Option<f64> {
    let attempts = rollup.succeeded + rollup.failed + rollup.dead;
    (attempts > 0).then(|| rollup.succeeded as f64 / attempts as f64)
}

/// The [`TOP_ERRORS`] most frequent errors, most frequent first, then by text.
fn top_errors(rollup: &StatsRollup) -> Vec<ErrorCount> {
    let mut errors: Vec<ErrorCount> = rollup
        .errors
        .iter()
        .map(|(error, count)| ErrorCount {
            error: error.clone(),
            count: *count,
        })
        .collect();
    errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.error.cmp(&b.error)));
    errors.truncate(TOP_ERRORS);
    errors
}

/// What a period's figures share: the period and its bounds, as answered.
struct Span {
    period: Period,
    from: String,
    until: String,
}

impl SourceStats {
    fn of(name: String, tenant: String, span: &Span, r: &StatsRollup) -> Self {
        Self {
            name,
            tenant,
            period: span.period,
            from: span.from.clone(),
            until: span.until.clone(),
            received: r.received,
            rejected: Rejected {
                total: r.rejected_total(),
                by_reason: r.rejected.clone(),
            },
            duplicates: r.duplicates,
            succeeded: r.succeeded,
            failed: r.failed,
            dead: r.dead,
            success_rate: success_rate(r),
            processing_ms: Percentiles::of(&r.processing_ms),
            lag_ms: SourceLag {
                provider: Percentiles::of(&r.lag_provider_ms),
                commit: Percentiles::of(&r.lag_commit_ms),
                first_attempt: Percentiles::of(&r.lag_first_attempt_ms),
                succeeded: Percentiles::of(&r.lag_succeeded_ms),
            },
            top_errors: top_errors(r),
            last_received_at: r.last_received_at.map(rfc3339::format_millis),
        }
    }
}

impl QueueStats {
    fn of(name: String, span: &Span, r: &StatsRollup) -> Self {
        Self {
            name,
            period: span.period,
            from: span.from.clone(),
            until: span.until.clone(),
            received: r.received,
            succeeded: r.succeeded,
            failed: r.failed,
            dead: r.dead,
            success_rate: success_rate(r),
            processing_ms: Percentiles::of(&r.processing_ms),
            lag_ms: QueueLag {
                first_attempt: Percentiles::of(&r.lag_first_attempt_ms),
                succeeded: Percentiles::of(&r.lag_succeeded_ms),
            },
            top_errors: top_errors(r),
        }
    }
}

/// Sums the rows of `scope` over `[from, until)`, of the principal's tenant (every tenant
/// for `*`) and of the one name given, by (name, tenant).
async fn read_rows(
    state: &ApiState,
    principal: &Principal,
    scope: StatsScope,
    name: Option<String>,
    (from, until): (Millis, Millis),
) -> Result<BTreeMap<(String, String), StatsRollup>, ApiError> {
    let rows = state
        .store
        .stats_read(StatsQuery {
            scope,
            tenant: principal.tenant_filter().map(str::to_owned),
            name,
            from,
            until,
        })
        .await?;
    let mut by_key: BTreeMap<(String, String), StatsRollup> = BTreeMap::new();
    for StatsRow {
        name,
        tenant,
        rollup,
    } in rows
    {
        by_key.entry((name, tenant)).or_default().merge(&rollup);
    }
    Ok(by_key)
}

/// Sums what happened to each source the token sees over a period: deliveries received,
/// rejected by reason and duplicated, job outcomes and success rate, processing time and
/// lags as percentiles, the most frequent errors, and the latest arrival. Every configured
/// source appears, with zeros when nothing happened.
#[utoipa::path(
    get,
    path = "/stats/sources",
    tag = "stats",
    params(SourceStatsQuery),
    responses(
        (status = 200, description = "The stats of every source the token sees, by name", body = SourceStatsList),
        (status = 400, description = "A query parameter is not valid; `fields` names each", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token's scope is below `read`", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn source_stats(
    principal: Principal,
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<SourceStatsList>, ApiError> {
    principal.require(Scope::Read)?;
    let query = SourceStatsQuery::parse(query.as_deref())?;
    let period = query.period.unwrap_or_default();
    let now = clock::now_millis();
    let bounds = bounds(period, now);
    let mut rows = read_rows(
        &state,
        &principal,
        StatsScope::Source,
        query.source.clone(),
        bounds,
    )
    .await?;
    {
        let config = state.config.borrow();
        for source in config.sources.values() {
            let wanted = query
                .source
                .as_ref()
                .is_none_or(|name| *name == source.name);
            if wanted && principal.sees(&source.tenant) {
                rows.entry((source.name.clone(), source.tenant.clone()))
                    .or_default();
            }
        }
    }
    let span = Span {
        period,
        from: rfc3339::format_millis(bounds.0),
        until: rfc3339::format_millis(now),
    };
    Ok(Json(SourceStatsList {
        data: rows
            .into_iter()
            .map(|((name, tenant), rollup)| SourceStats::of(name, tenant, &span, &rollup))
            .collect(),
    }))
}

/// Sums what happened to each queue over a period: jobs enqueued, attempt outcomes and
/// success rate, processing time and lags as percentiles, and the most frequent errors.
/// Every configured queue appears, with zeros when nothing happened.
#[utoipa::path(
    get,
    path = "/stats/queues",
    tag = "stats",
    params(QueueStatsQuery),
    responses(
        (status = 200, description = "The stats of every queue, by name", body = QueueStatsList),
        (status = 400, description = "A query parameter is not valid; `fields` names each", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token is not an admin of every tenant (`*`)", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn queue_stats(
    principal: Principal,
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<QueueStatsList>, ApiError> {
    require_root_admin(&principal)?;
    let query = QueueStatsQuery::parse(query.as_deref())?;
    let period = query.period.unwrap_or_default();
    let now = clock::now_millis();
    let bounds = bounds(period, now);
    let rows = read_rows(
        &state,
        &principal,
        StatsScope::Queue,
        query.queue.clone(),
        bounds,
    )
    .await?;
    let mut by_name: BTreeMap<String, StatsRollup> = rows
        .into_iter()
        .map(|((name, _tenant), rollup)| (name, rollup))
        .collect();
    {
        let config = state.config.borrow();
        for name in config.queues.keys() {
            if query.queue.as_ref().is_none_or(|only| only == name) {
                by_name.entry(name.clone()).or_default();
            }
        }
    }
    let span = Span {
        period,
        from: rfc3339::format_millis(bounds.0),
        until: rfc3339::format_millis(now),
    };
    Ok(Json(QueueStatsList {
        data: by_name
            .into_iter()
            .map(|(name, rollup)| QueueStats::of(name, &span, &rollup))
            .collect(),
    }))
}

/// Judges each configured source of the token's tenant from its stats of the last 15
/// minutes: a score from 100 down, for rejections (of deliveries), job failures (of
/// attempts) and the p95 lag to the first attempt; and `disconnected` when it has been
/// silent for longer than its `expected_interval`. The thresholds are in the README.
#[utoipa::path(
    get,
    path = "/health",
    tag = "stats",
    responses(
        (status = 200, description = "The health of every source the token sees, by name", body = HealthReport),
        (status = 400, description = "A query parameter was given; this operation takes none", body = ErrorBody),
        (status = 401, description = "No token, or a token that is not valid", body = ErrorBody),
        (status = 403, description = "The token's scope is below `read`", body = ErrorBody),
        (status = 503, description = "The store is unavailable; try again", body = ErrorBody),
    )
)]
async fn source_health(
    principal: Principal,
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<HealthReport>, ApiError> {
    principal.require(Scope::Read)?;
    QueryReader::new(query.as_deref(), &[]).finish()?;
    let sources: Vec<(String, String, Option<Duration>)> = {
        let config = state.config.borrow();
        config
            .sources
            .values()
            .filter(|s| principal.sees(&s.tenant))
            .map(|s| (s.name.clone(), s.tenant.clone(), s.expected_interval))
            .collect()
    };
    let now = clock::now_millis();
    let recent_from = now.saturating_sub(clock::millis(HEALTH_WINDOW));
    let recent = read_rows(
        &state,
        &principal,
        StatsScope::Source,
        None,
        (recent_from, now + 1),
    )
    .await?;
    // Silence is judged over the longest expected interval, when that is longer.
    let longest = sources
        .iter()
        .filter_map(|(_, _, expected)| *expected)
        .max()
        .unwrap_or_default();
    let seen = if longest > HEALTH_WINDOW {
        let from = now.saturating_sub(clock::millis(longest));
        read_rows(
            &state,
            &principal,
            StatsScope::Source,
            None,
            (from, now + 1),
        )
        .await?
    } else {
        recent.clone()
    };

    let empty = StatsRollup::default();
    let data = sources
        .into_iter()
        .map(|(name, tenant, expected_interval)| {
            let key = (name, tenant);
            let last_received_at = seen.get(&key).and_then(|r| r.last_received_at);
            let assessment = health::assess(Observed {
                recent: recent.get(&key).unwrap_or(&empty),
                last_received_at,
                expected_interval,
                now,
            });
            let (name, tenant) = key;
            SourceHealth {
                name,
                tenant,
                status: assessment.status,
                score: assessment.score,
                reasons: assessment.reasons,
                last_received_at: last_received_at.map(rfc3339::format_millis),
                expected_interval: expected_interval
                    .map(|d| humantime::format_duration(d).to_string()),
            }
        })
        .collect();
    Ok(Json(HealthReport {
        window: humantime::format_duration(HEALTH_WINDOW).to_string(),
        checked_at: rfc3339::format_millis(now),
        data,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_their_own_names_only() {
        for period in Period::ALL {
            assert_eq!(Period::parse(period.as_str()), Ok(period));
            assert_eq!(
                serde_json::to_value(period).expect("serializes"),
                period.as_str()
            );
        }
        assert!(Period::parse("2h").is_err());
        assert!(Period::parse("").is_err());
    }

    #[test]
    fn a_period_starts_on_a_whole_minute_and_includes_now() {
        let now = 1_000 * MINUTE_MS + 1_234;
        assert_eq!(
            bounds(Period::Hour, now),
            (940 * MINUTE_MS, now + 1),
            "an hour back, to the start of its minute"
        );
    }

    #[test]
    fn top_errors_are_the_most_frequent_ten() {
        let mut rollup = StatsRollup::default();
        for i in 0..12_u64 {
            rollup.count_error(&format!("HTTP 5{i:02}"), i + 1);
        }
        rollup.count_error("connect error", 12);
        let top = top_errors(&rollup);
        assert_eq!(top.len(), TOP_ERRORS);
        assert_eq!(
            top[..3],
            [
                ErrorCount {
                    error: "HTTP 511".to_owned(),
                    count: 12
                },
                ErrorCount {
                    error: "connect error".to_owned(),
                    count: 12
                },
                ErrorCount {
                    error: "HTTP 510".to_owned(),
                    count: 11
                },
            ]
        );
    }

    #[test]
    fn the_success_rate_counts_every_attempt_and_is_none_without() {
        let rollup = StatsRollup {
            succeeded: 3,
            failed: 1,
            ..StatsRollup::default()
        };
        assert_eq!(success_rate(&rollup), Some(0.75));
        assert_eq!(success_rate(&StatsRollup::default()), None);
    }
}
