//! Stats rollups: what happened per source and per queue, one row per minute, compacted
//! into one row per hour, kept long after the events themselves are pruned.
//!
//! Nodes count in memory and add their counts to the store every few seconds
//! ([`Store::stats_add`](crate::Store::stats_add)); rows of several nodes for the same
//! minute add up. Every figure of a [`StatsRollup`] merges by addition (counters, maps of
//! counters, histogram buckets) or by maximum (`last_received_at`), so rows can be added
//! in any order, compacted into coarser rows, and summed over any period with the same
//! result.
//!
//! Durations are kept in [`Histogram`]s with logarithmic buckets, each about 10 % wider
//! than the one before, so a percentile read from merged rows is within 10 % of the true
//! one at any scale from a millisecond to days, in a few hundred bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::records::Millis;

/// One minute, the finest resolution of the rollups.
pub const MINUTE_MS: Millis = 60_000;

/// One hour, the resolution rollups are compacted into.
pub const HOUR_MS: Millis = 60 * MINUTE_MS;

/// How many distinct error texts one rollup keeps; the rest are counted under
/// [`OTHER_ERRORS`].
pub const ERRORS_MAX: usize = 50;

/// The key under which errors beyond [`ERRORS_MAX`] are counted.
pub const OTHER_ERRORS: &str = "(other errors)";

/// What a rollup row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatsScope {
    /// A source: deliveries received, rejected, duplicated, and the outcomes of the jobs
    /// made from its events.
    Source,
    /// A queue: jobs enqueued into it and their outcomes.
    Queue,
}

impl StatsScope {
    /// The lower-case name used in storage and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            StatsScope::Source => "source",
            StatsScope::Queue => "queue",
        }
    }

    /// Reads [`StatsScope::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "source" => Some(StatsScope::Source),
            "queue" => Some(StatsScope::Queue),
            _ => None,
        }
    }
}

/// Counts of one scope over some period: a minute, an hour, or any sum of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsRollup {
    /// Source: events stored (after dedup). Queue: jobs enqueued.
    pub received: u64,
    /// Source: deliveries turned away, by error code (`signature_mismatch`, …).
    pub rejected: BTreeMap<String, u64>,
    /// Source: events recognised as repeats and not stored again.
    pub duplicates: u64,
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed and will be tried again.
    pub failed: u64,
    /// Jobs that went dead.
    pub dead: u64,
    /// How long attempts took, milliseconds.
    pub processing_ms: Histogram,
    /// Source: the provider's timestamp of an event to its receipt, milliseconds (only
    /// events whose preset carries a timestamp).
    pub lag_provider_ms: Histogram,
    /// Source: receipt to commit, milliseconds.
    pub lag_commit_ms: Histogram,
    /// Receipt of the event to the start of a job's first attempt, milliseconds.
    pub lag_first_attempt_ms: Histogram,
    /// Receipt of the event to a job's success, milliseconds.
    pub lag_succeeded_ms: Histogram,
    /// Errors of failed and dead attempts, by their text, at most [`ERRORS_MAX`] keys.
    pub errors: BTreeMap<String, u64>,
    /// Source: when the latest delivery arrived (stored, duplicate or rejected).
    pub last_received_at: Option<Millis>,
}

impl StatsRollup {
    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &StatsRollup) {
        self.received += other.received;
        add_counts(&mut self.rejected, &other.rejected);
        self.duplicates += other.duplicates;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.dead += other.dead;
        self.processing_ms.merge(&other.processing_ms);
        self.lag_provider_ms.merge(&other.lag_provider_ms);
        self.lag_commit_ms.merge(&other.lag_commit_ms);
        self.lag_first_attempt_ms.merge(&other.lag_first_attempt_ms);
        self.lag_succeeded_ms.merge(&other.lag_succeeded_ms);
        for (error, count) in &other.errors {
            self.count_error(error, *count);
        }
        self.last_received_at = self.last_received_at.max(other.last_received_at);
    }

    /// Counts `count` occurrences of `error`, under [`OTHER_ERRORS`] once
    /// [`ERRORS_MAX`] distinct errors are kept.
    pub fn count_error(&mut self, error: &str, count: u64) {
        let key = if self.errors.contains_key(error) || self.errors.len() < ERRORS_MAX - 1 {
            error
        } else {
            OTHER_ERRORS
        };
        *self.errors.entry(key.to_owned()).or_default() += count;
    }

    /// Deliveries turned away, every reason together.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        *self == StatsRollup::default()
    }
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, count) in from {
        *into.entry(key.clone()).or_default() += count;
    }
}

/// A distribution of durations in milliseconds: counts per logarithmic bucket.
///
/// Bucket 0 holds 0 ms; bucket `i > 0` holds values `v` with
/// `GROWTH^(i-1) <= v + 1 < GROWTH^i`, `GROWTH` being 1.1. Stored sparse: only buckets
/// that counted something.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram {
    buckets: BTreeMap<u16, u64>,
}

/// The ratio between the bounds of a bucket.
const GROWTH: f64 = 1.1;

impl Histogram {
    /// Counts one value (negative values count as 0).
    pub fn record(&mut self, millis: i64) {
        *self.buckets.entry(bucket_of(millis)).or_default() += 1;
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Histogram) {
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += count;
        }
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The value below which a fraction `q` (0 … 1) of the counted values lie, within
    /// one bucket (about 10 %): the upper bound of the bucket holding that rank. `None`
    /// when nothing was counted.
    pub fn quantile(&self, q: f64) -> Option<i64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the value asked for, 1-based: the smallest rank covering `q`.
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(upper_bound(*bucket));
            }
        }
        self.buckets.keys().next_back().map(|b| upper_bound(*b))
    }
}

/// The bucket of a value.
fn bucket_of(millis: i64) -> u16 {
    if millis <= 0 {
        return 0;
    }
    let index = ((millis as f64 + 1.0).ln() / GROWTH.ln()).floor() as i64 + 1;
    u16::try_from(index).unwrap_or(u16::MAX)
}

/// The largest value a bucket holds, in whole milliseconds.
fn upper_bound(bucket: u16) -> i64 {
    if bucket == 0 {
        return 0;
    }
    (GROWTH.powi(i32::from(bucket)) - 1.0).ceil() as i64 - 1
}

/// Counts to add to the minute row of one scope and name ([`Store::stats_add`](crate::Store::stats_add)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsDelta {
    /// What the counts are about.
    pub scope: StatsScope,
    /// The source's or queue's name.
    pub name: String,
    /// The tenant of a source; `*` for a queue (shared by every tenant).
    pub tenant: String,
    /// The start of the minute the counts belong to (a multiple of [`MINUTE_MS`]).
    pub minute: Millis,
    /// The counts.
    pub rollup: StatsRollup,
}

/// Which rollups to sum ([`Store::stats_read`](crate::Store::stats_read)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    /// Sources or queues.
    pub scope: StatsScope,
    /// Only rows of this tenant; `None` for every tenant.
    pub tenant: Option<String>,
    /// Only this source or queue; `None` for all.
    pub name: Option<String>,
    /// Rows whose period starts at or after this.
    pub from: Millis,
    /// Rows whose period starts before this.
    pub until: Millis,
}

/// The sum of the rows of one source or queue over a query's period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    /// The source's or queue's name.
    pub name: String,
    /// Its tenant (`*` for a queue).
    pub tenant: String,
    /// Every row of it in the period, merged.
    pub rollup: StatsRollup,
}

/// One bounded batch of rollup upkeep ([`Store::stats_compact`](crate::Store::stats_compact)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsCompact {
    /// Minute rows of minutes that started before this are merged into the row of their
    /// hour and deleted.
    pub minutes_before: Millis,
    /// Hour rows of hours that started before this are deleted.
    pub hours_before: Millis,
    /// At most this many rows compacted, and at most this many deleted, per call.
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_a_bucket_of_the_truth() {
        let mut histogram = Histogram::default();
        for v in 1..=1000 {
            histogram.record(v);
        }
        for (q, truth) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = histogram.quantile(q).expect("counted") as f64;
            assert!(
                got >= truth && got <= truth * GROWTH + 1.0,
                "q{q}: {got} vs {truth}"
            );
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn every_value_lies_within_its_bucket() {
        for v in [0_i64, 1, 2, 3, 9, 10, 11, 99, 100, 1000, 65_432, 86_400_000] {
            let bucket = bucket_of(v);
            assert!(v <= upper_bound(bucket), "{v} > upper({bucket})");
            if bucket > 0 {
                assert!(v > upper_bound(bucket - 1), "{v} <= upper({})", bucket - 1);
            }
        }
    }

    #[test]
    fn merging_adds_everything_and_keeps_the_latest_arrival() {
        let mut a = StatsRollup {
            received: 2,
            last_received_at: Some(10),
            ..StatsRollup::default()
        };
        a.rejected.insert("signature_mismatch".into(), 1);
        a.processing_ms.record(5);
        let mut b = a.clone();
        b.last_received_at = Some(20);
        b.count_error("HTTP 503", 3);
        a.merge(&b);
        assert_eq!(a.received, 4);
        assert_eq!(a.rejected["signature_mismatch"], 2);
        assert_eq!(a.processing_ms.count(), 2);
        assert_eq!(a.errors["HTTP 503"], 3);
        assert_eq!(a.last_received_at, Some(20));
    }

    #[test]
    fn errors_beyond_the_limit_are_counted_together() {
        let mut rollup = StatsRollup::default();
        for i in 0..ERRORS_MAX + 10 {
            rollup.count_error(&format!("error {i}"), 1);
        }
        assert_eq!(rollup.errors.len(), ERRORS_MAX);
        assert_eq!(rollup.errors[OTHER_ERRORS], 11);
        assert_eq!(
            rollup.errors.values().sum::<u64>(),
            (ERRORS_MAX + 10) as u64
        );
    }
}
