//! The health of a source, judged from its stats: a pure function of what the source's
//! rows say about the recent past ([`HEALTH_WINDOW`]), when it last received something,
//! and how often it is expected to.
//!
//! A source starts at a score of 100 and loses points for each of three problems, by the
//! worst threshold it reaches (thresholds inclusive):
//!
//! | problem | measured as | −10 from | −30 from | −60 from |
//! |---|---|---|---|---|
//! | rejections | deliveries turned away / deliveries | 2 % | 10 % | 50 % |
//! | job failures | (failed + dead) / attempts | 2 % | 10 % | 50 % |
//! | lag | p95 from arrival to first attempt | 10 s | 1 min | 5 min |
//!
//! A route's `delay` is part of the lag. The status follows from the score: 80 or more
//! is `healthy`, 50 or more `degraded`, less `unhealthy`. A source with an
//! `expected_interval` that has received nothing for longer (or nothing at all) is
//! `disconnected` with a score of 0, whatever else holds. Each penalty, and the silence,
//! comes with a reason in words; a healthy source with nothing to say scores 100.

use std::time::Duration;

use hookd_store::{Millis, StatsRollup};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock;

/// How far back the rates and the lag are looked at: long enough to hold a few deliveries
/// of a quiet source, short enough that a fixed problem stops counting soon after.
pub(super) const HEALTH_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Rate thresholds (inclusive) and their penalties, worst first.
const RATE_PENALTIES: [(f64, u32); 3] = [(0.50, 60), (0.10, 30), (0.02, 10)];

/// p95 lag thresholds (inclusive, milliseconds) and their penalties, worst first.
const LAG_PENALTIES: [(Millis, u32); 3] = [(5 * 60_000, 60), (60_000, 30), (10_000, 10)];

/// The lowest score that is `healthy`.
const HEALTHY_FROM: u8 = 80;

/// The lowest score that is `degraded`.
const DEGRADED_FROM: u8 = 50;

/// How a source is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Score 80 or more.
    Healthy,
    /// Score 50 to 79.
    Degraded,
    /// Score below 50.
    Unhealthy,
    /// Silent for longer than its `expected_interval`; score 0.
    Disconnected,
}

/// What a source's stats say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Assessment {
    pub(super) status: Status,
    /// 0 … 100.
    pub(super) score: u8,
    /// Why points were taken, in words; empty at 100.
    pub(super) reasons: Vec<String>,
}

/// What is known of one source at `now`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observed<'a> {
    /// Its rows of the last [`HEALTH_WINDOW`], merged.
    pub(super) recent: &'a StatsRollup,
    /// When it last received a delivery, as far as the stats looked back (at least
    /// `expected_interval`, so that `None` means silence longer than that).
    pub(super) last_received_at: Option<Millis>,
    /// How often it is expected to receive one.
    pub(super) expected_interval: Option<Duration>,
    /// Now.
    pub(super) now: Millis,
}

/// Judges a source: see the module documentation.
pub(super) fn assess(observed: Observed<'_>) -> Assessment {
    let window = humantime::format_duration(HEALTH_WINDOW);
    let recent = observed.recent;
    let mut penalty = 0;
    let mut reasons = Vec::new();

    if let Some(expected) = observed.expected_interval {
        let silent_since = observed
            .last_received_at
            .map(|at| observed.now.saturating_sub(at));
        let expected_ms = clock::millis(expected);
        let every = humantime::format_duration(expected);
        match silent_since {
            Some(silence) if silence <= expected_ms => {}
            Some(silence) => reasons.push(format!(
                "nothing received for {} (expected every {every})",
                whole_seconds(silence)
            )),
            None => reasons.push(format!(
                "nothing received recently (expected every {every})"
            )),
        }
    }
    let disconnected = !reasons.is_empty();

    let rejected = recent.rejected_total();
    let deliveries = recent.received + recent.duplicates + rejected;
    if let Some((points, rate)) = rate_penalty(rejected, deliveries) {
        penalty += points;
        let mostly = most_common(recent.rejected.iter());
        reasons.push(format!(
            "{rejected} of {deliveries} deliveries rejected ({rate}) in the last {window}{mostly}"
        ));
    }

    let failures = recent.failed + recent.dead;
    let attempts = recent.succeeded + failures;
    if let Some((points, rate)) = rate_penalty(failures, attempts) {
        penalty += points;
        let mostly = most_common(recent.errors.iter());
        reasons.push(format!(
            "{failures} of {attempts} attempts failed ({rate}) in the last {window}{mostly}"
        ));
    }

    if let Some(p95) = recent.lag_first_attempt_ms.quantile(0.95)
        && let Some((_, points)) = LAG_PENALTIES.iter().find(|(from, _)| p95 >= *from)
    {
        penalty += points;
        reasons.push(format!(
            "jobs waited up to {} (p95) from arrival to first attempt in the last {window}",
            whole_seconds(p95)
        ));
    }

    let score = if disconnected {
        0
    } else {
        u8::try_from(100_u32.saturating_sub(penalty)).unwrap_or(0)
    };
    let status = if disconnected {
        Status::Disconnected
    } else if score >= HEALTHY_FROM {
        Status::Healthy
    } else if score >= DEGRADED_FROM {
        Status::Degraded
    } else {
        Status::Unhealthy
    };
    Assessment {
        status,
        score,
        reasons,
    }
}

/// The penalty of `part` out of `whole`, and the rate as a percentage; `None` below the
/// lowest threshold.
fn rate_penalty(part: u64, whole: u64) -> Option<(u32, String)> {
    if whole == 0 {
        return None;
    }
    let rate = part as f64 / whole as f64;
    let (_, points) = RATE_PENALTIES.iter().find(|(from, _)| rate >= *from)?;
    Some((*points, format!("{:.0}%", rate * 100.0)))
}

/// `, mostly KEY` for the most frequent key of counts (the first by name on a tie), or
/// nothing when there is none.
fn most_common<'a>(counts: impl Iterator<Item = (&'a String, &'a u64)>) -> String {
    let mut best: Option<(&String, u64)> = None;
    for (key, count) in counts {
        if best.is_none_or(|(_, most)| *count > most) {
            best = Some((key, *count));
        }
    }
    best.map(|(key, _)| format!(", mostly {key}"))
        .unwrap_or_default()
}

/// A duration in milliseconds, in words, to the second.
fn whole_seconds(millis: Millis) -> String {
    let secs = u64::try_from(millis / 1000).unwrap_or(0);
    humantime::format_duration(Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn observed(recent: &StatsRollup) -> Observed<'_> {
        Observed {
            recent,
            last_received_at: Some(NOW - 1_000),
            expected_interval: None,
            now: NOW,
        }
    }

    #[test]
    fn a_source_without_problems_is_healthy_with_100() {
        let mut recent = StatsRollup {
            received: 100,
            succeeded: 100,
            ..StatsRollup::default()
        };
        for _ in 0..100 {
            recent.lag_first_attempt_ms.record(40);
        }
        let got = assess(observed(&recent));
        assert_eq!(
            got,
            Assessment {
                status: Status::Healthy,
                score: 100,
                reasons: Vec::new()
            }
        );
        // Nothing at all, without an expected interval, is no problem either.
        assert_eq!(assess(observed(&StatsRollup::default())).score, 100);
    }

    #[test]
    fn rejections_cost_points_by_their_rate() {
        for (rejected, score, status) in [
            (1, 100, Status::Healthy),
            (2, 90, Status::Healthy),
            (10, 70, Status::Degraded),
            (50, 40, Status::Unhealthy),
        ] {
            let mut recent = StatsRollup {
                received: 100 - rejected,
                ..StatsRollup::default()
            };
            recent
                .rejected
                .insert("signature_mismatch".to_owned(), rejected);
            let got = assess(observed(&recent));
            assert_eq!(
                (got.score, got.status),
                (score, status),
                "{rejected}: {got:?}"
            );
            if score < 100 {
                assert_eq!(
                    got.reasons,
                    [format!(
                        "{rejected} of 100 deliveries rejected ({rejected}%) in the last 15m, \
                         mostly signature_mismatch"
                    )]
                );
            }
        }
    }

    #[test]
    fn job_failures_and_lag_add_up() {
        let mut recent = StatsRollup {
            received: 10,
            succeeded: 8,
            failed: 1,
            dead: 1,
            ..StatsRollup::default()
        };
        recent.count_error("HTTP 503", 2);
        recent.count_error("connect error", 1);
        for _ in 0..10 {
            recent.lag_first_attempt_ms.record(90_000);
        }
        let got = assess(observed(&recent));
        assert_eq!(got.score, 40, "{got:?}");
        assert_eq!(got.status, Status::Unhealthy);
        assert_eq!(
            got.reasons,
            [
                "2 of 10 attempts failed (20%) in the last 15m, mostly HTTP 503",
                "jobs waited up to 1m 32s (p95) from arrival to first attempt in the last 15m",
            ]
        );
    }

    #[test]
    fn silence_beyond_the_expected_interval_is_disconnected_with_0() {
        let recent = StatsRollup::default();
        let expected = Some(Duration::from_secs(60));
        let got = assess(Observed {
            last_received_at: Some(NOW - 61_000),
            expected_interval: expected,
            ..observed(&recent)
        });
        assert_eq!(got.status, Status::Disconnected);
        assert_eq!(got.score, 0);
        assert_eq!(
            got.reasons,
            ["nothing received for 1m 1s (expected every 1m)"]
        );

        let never = assess(Observed {
            last_received_at: None,
            expected_interval: expected,
            ..observed(&recent)
        });
        assert_eq!(never.status, Status::Disconnected);
        assert_eq!(
            never.reasons,
            ["nothing received recently (expected every 1m)"]
        );

        let in_time = assess(Observed {
            last_received_at: Some(NOW - 60_000),
            expected_interval: expected,
            ..observed(&recent)
        });
        assert_eq!((in_time.status, in_time.score), (Status::Healthy, 100));
    }
}
