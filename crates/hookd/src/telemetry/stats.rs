//! Stats: what this node counted per source and per queue, one [`StatsRollup`] per
//! (scope, name, tenant, minute), held in memory until the stats duty adds them to the
//! store with [`Store::stats_add`](hookd_store::Store::stats_add).
//!
//! Nothing counts into [`Stats`] directly: the telemetry events of [`super::events`] that
//! matter to the stats take it in their `emit()`, so that a figure of `/metrics`, its log
//! line and its count in the stats never drift apart. Source rows carry the source's
//! tenant; queue rows carry [`QUEUE_TENANT`], since queues are shared by every tenant.
//!
//! Each gateway holds its own [`Stats`] (tests run several gateways in one process), and
//! each count is a short critical section on one mutex.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hookd_store::{MINUTE_MS, Millis, StatsDelta, StatsRollup, StatsScope};

use crate::config::SourceConfig;

/// The tenant of queue rows: queues are shared infrastructure.
pub(crate) const QUEUE_TENANT: &str = "*";

/// The longest error key counted, in characters; a longer kind is cut.
const ERROR_KEY_MAX_CHARS: usize = 80;

/// A configured source, as its stats rows are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceRef<'a> {
    /// The source's name.
    pub(crate) name: &'a str,
    /// Its tenant.
    pub(crate) tenant: &'a str,
}

impl<'a> From<&'a SourceConfig> for SourceRef<'a> {
    fn from(source: &'a SourceConfig) -> Self {
        Self {
            name: &source.name,
            tenant: &source.tenant,
        }
    }
}

/// The key of one in-memory row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RowKey {
    scope: StatsScope,
    name: String,
    tenant: String,
    minute: Millis,
}

/// This node's counts not yet in the store.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    rows: Mutex<HashMap<RowKey, StatsRollup>>,
}

impl Stats {
    /// Counts into the row of `source` for the minute of `at`.
    pub(crate) fn source(
        &self,
        source: SourceRef<'_>,
        at: Millis,
        count: impl FnOnce(&mut StatsRollup),
    ) {
        self.count(StatsScope::Source, source.name, source.tenant, at, count);
    }

    /// Counts into the row of `queue` for the minute of `at`.
    pub(crate) fn queue(&self, queue: &str, at: Millis, count: impl FnOnce(&mut StatsRollup)) {
        self.count(StatsScope::Queue, queue, QUEUE_TENANT, at, count);
    }

    fn count(
        &self,
        scope: StatsScope,
        name: &str,
        tenant: &str,
        at: Millis,
        count: impl FnOnce(&mut StatsRollup),
    ) {
        let key = RowKey {
            scope,
            name: name.to_owned(),
            tenant: tenant.to_owned(),
            minute: minute_of(at),
        };
        count(self.rows().entry(key).or_default());
    }

    /// Takes every row counted so far, leaving none.
    pub(crate) fn take(&self) -> Vec<StatsDelta> {
        std::mem::take(&mut *self.rows())
            .into_iter()
            .map(|(key, rollup)| StatsDelta {
                scope: key.scope,
                name: key.name,
                tenant: key.tenant,
                minute: key.minute,
                rollup,
            })
            .collect()
    }

    /// Adds rows back (taken, but not stored), merged with what was counted since.
    pub(crate) fn restore(&self, deltas: Vec<StatsDelta>) {
        let mut rows = self.rows();
        for delta in deltas {
            let key = RowKey {
                scope: delta.scope,
                name: delta.name,
                tenant: delta.tenant,
                minute: delta.minute,
            };
            rows.entry(key).or_default().merge(&delta.rollup);
        }
    }

    /// The rows, even if a thread panicked while holding them: every count leaves them
    /// whole.
    fn rows(&self) -> MutexGuard<'_, HashMap<RowKey, StatsRollup>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The start of the minute holding `at`.
fn minute_of(at: Millis) -> Millis {
    at - at.rem_euclid(MINUTE_MS)
}

/// The short, stable key under which a failed attempt is counted: `HTTP 503` when the
/// target answered, else the kind of the error, the text before its first `:`
/// (`connect error`, `timed out after 10s`), so that details such as addresses and ids do
/// not make every failure a key of its own.
pub(crate) fn error_key(status_code: Option<u16>, error: Option<&str>) -> String {
    match (status_code, error) {
        (Some(code), _) if !(200..300).contains(&code) => format!("HTTP {code}"),
        (_, Some(text)) => {
            let kind = text.split(':').next().unwrap_or_default().trim();
            kind.chars().take(ERROR_KEY_MAX_CHARS).collect()
        }
        _ => "unknown error".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOP: SourceRef<'static> = SourceRef {
        name: "shop",
        tenant: "acme",
    };

    #[test]
    fn counts_add_up_per_row_and_minute_and_are_taken_once() {
        let stats = Stats::default();
        let at = 10 * MINUTE_MS + 5;
        stats.source(SHOP, at, |r| r.received += 1);
        stats.source(SHOP, at + 30_000, |r| r.received += 2);
        stats.source(SHOP, at + MINUTE_MS, |r| r.duplicates += 1);
        stats.queue("default", at, |r| r.succeeded += 1);

        let mut deltas = stats.take();
        deltas.sort_by_key(|d| (d.scope, d.minute));
        let rows: Vec<_> = deltas
            .iter()
            .map(|d| (d.scope, d.name.as_str(), d.tenant.as_str(), d.minute))
            .collect();
        assert_eq!(
            rows,
            [
                (StatsScope::Source, "shop", "acme", 10 * MINUTE_MS),
                (StatsScope::Source, "shop", "acme", 11 * MINUTE_MS),
                (StatsScope::Queue, "default", QUEUE_TENANT, 10 * MINUTE_MS),
            ]
        );
        assert_eq!(deltas[0].rollup.received, 3);
        assert_eq!(deltas[1].rollup.duplicates, 1);
        assert_eq!(deltas[2].rollup.succeeded, 1);
        assert!(stats.take().is_empty(), "taken rows are gone");
    }

    #[test]
    fn restored_rows_merge_with_what_was_counted_since() {
        let stats = Stats::default();
        stats.source(SHOP, 0, |r| r.received += 1);
        let taken = stats.take();
        stats.source(SHOP, 1, |r| r.received += 4);
        stats.restore(taken);
        let deltas = stats.take();
        assert_eq!(deltas.len(), 1, "{deltas:?}");
        assert_eq!(deltas[0].rollup.received, 5);
    }

    #[test]
    fn minutes_start_on_whole_minutes_before_1970_too() {
        assert_eq!(minute_of(0), 0);
        assert_eq!(minute_of(MINUTE_MS - 1), 0);
        assert_eq!(minute_of(MINUTE_MS), MINUTE_MS);
        assert_eq!(minute_of(-1), -MINUTE_MS);
    }

    #[test]
    fn error_keys_are_the_status_or_the_kind_of_error() {
        assert_eq!(
            error_key(Some(503), Some("HTTP 503 Service Unavailable")),
            "HTTP 503"
        );
        assert_eq!(
            error_key(
                Some(302),
                Some("HTTP 302 Found: redirect not followed; Location: https://x/y?id=1")
            ),
            "HTTP 302"
        );
        assert_eq!(
            error_key(
                None,
                Some("connect error: tcp connect error: Connection refused (os error 111)")
            ),
            "connect error"
        );
        assert_eq!(
            error_key(None, Some("timed out after 10s")),
            "timed out after 10s"
        );
        assert_eq!(
            error_key(None, Some(&"x".repeat(200))).len(),
            ERROR_KEY_MAX_CHARS
        );
        assert_eq!(error_key(None, None), "unknown error");
    }
}
