//! Latency recording and its percentiles.
//!
//! An HDR histogram keeps every value within 0.1 % in a fixed few tens of kilobytes
//! however long the run, so each connection records into its own without locks, and the
//! histograms merge without loss at the end; its percentiles are the ones wrk2 and most
//! load tools report, so the figures compare.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// The largest latency told apart from larger ones: one hour. Longer ones count as this.
const HIGHEST_MICROS: u64 = 3_600_000_000;

/// Significant decimal digits kept of every value: 3, so within 0.1 %.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latencies recorded in microseconds.
#[derive(Debug, Clone)]
pub(crate) struct Latencies(Histogram<u64>);

impl Latencies {
    /// An empty recording.
    pub(crate) fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, HIGHEST_MICROS, SIGNIFICANT_DIGITS)
            .expect("the bounds are constants that hdrhistogram accepts");
        Self(histogram)
    }

    /// Records one latency.
    pub(crate) fn record(&mut self, latency: Duration) {
        self.record_micros(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
    }

    /// Records one latency given in microseconds.
    pub(crate) fn record_micros(&mut self, micros: u64) {
        self.0.saturating_record(micros);
    }

    /// Adds every value of `other` to this recording.
    pub(crate) fn merge(&mut self, other: &Self) {
        self.0
            .add(&other.0)
            .expect("recordings made by Latencies::new share their bounds");
    }

    /// The percentiles of what was recorded; all zero when nothing was.
    pub(crate) fn summary(&self) -> LatencySummary {
        let millis = |micros: u64| round3(micros as f64 / 1000.0);
        let at = |quantile: f64| millis(self.0.value_at_quantile(quantile));
        LatencySummary {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p99_9: at(0.999),
            max: millis(self.0.max()),
        }
    }
}

/// Percentiles of a latency recording, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct LatencySummary {
    /// The median.
    pub(crate) p50: f64,
    /// 90 % of the values are at most this.
    pub(crate) p90: f64,
    /// 99 % of the values are at most this.
    pub(crate) p99: f64,
    /// 99.9 % of the values are at most this.
    pub(crate) p99_9: f64,
    /// The largest value.
    pub(crate) max: f64,
}

/// `value` rounded to three decimals (a microsecond, for milliseconds).
pub(crate) fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_merged_recordings_are_those_of_all_values() {
        let mut first = Latencies::new();
        let mut second = Latencies::new();
        for ms in 1..=500 {
            first.record(Duration::from_millis(ms));
        }
        for ms in 501..=1000 {
            second.record(Duration::from_millis(ms));
        }
        first.merge(&second);
        let summary = first.summary();
        // Within the histogram's 0.1 % precision.
        assert!((summary.p50 - 500.0).abs() <= 0.5, "{summary:?}");
        assert!((summary.p99 - 990.0).abs() <= 1.0, "{summary:?}");
        assert!((summary.max - 1000.0).abs() <= 1.0, "{summary:?}");
    }

    #[test]
    fn an_empty_recording_reports_zeros() {
        let summary = Latencies::new().summary();
        assert_eq!(summary.p50, 0.0);
        assert_eq!(summary.max, 0.0);
    }
}
