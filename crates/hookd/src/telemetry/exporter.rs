//! The Prometheus recorder behind the `metrics` facade, and the text `/metrics` serves.
//!
//! The recorder is global to the process (the facade has one), so it is installed at most
//! once, when the first gateway starts; later gateways in the same process (tests start
//! several) share it and its handle. Label values keep their figures apart. The store's
//! commit figures are not recorded: each scrape reads them from the store of the gateway
//! that serves it, so two gateways in one process never mix theirs.

use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use hookd_store::CommitStats;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use super::metrics::{self, HISTOGRAMS, STORE_STATS};

/// The `Content-Type` of the Prometheus text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets between scrapes, so that
/// memory stays bounded when nobody scrapes.
const UPKEEP_INTERVAL_DEFAULT: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder on the first call and returns its handle; later
/// calls return the same handle. Events emitted before the first call are not counted.
///
/// When the embedding process already installed a recorder of its own, hookd's events
/// go to that one and `/metrics` shows only the store's figures (logged once).
pub(crate) fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        match ::metrics::set_global_recorder(recorder) {
            Ok(()) => metrics::describe(),
            Err(error) => tracing::warn!(
                %error,
                "another metrics recorder is installed in this process; \
                 /metrics shows only the store's figures"
            ),
        }
        handle
    })
}

/// The recorder's settings: true histograms with the buckets of [`HISTOGRAMS`] (the
/// exporter's default would be summaries, which cannot be aggregated across nodes).
pub(super) fn builder() -> PrometheusBuilder {
    HISTOGRAMS
        .iter()
        .fold(PrometheusBuilder::new(), |builder, (name, buckets)| {
            builder
                .set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)
                .expect("HISTOGRAMS has no empty bucket list (a unit test checks it)")
        })
}

/// The body of a scrape: everything recorded in this process, then `stats`, the commit
/// figures of the store of the gateway being scraped.
pub(crate) fn render(stats: CommitStats) -> String {
    let mut text = install().render();
    write_store_stats(&mut text, stats);
    text
}

/// Appends the [`STORE_STATS`] families with the values of `stats`.
fn write_store_stats(text: &mut String, stats: CommitStats) {
    let values = [stats.commits, stats.operations, stats.largest_batch];
    for ((name, kind, help), value) in STORE_STATS.iter().zip(values) {
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
        );
    }
}

/// Folds histogram samples into buckets every [`UPKEEP_INTERVAL_DEFAULT`] until `shutdown`.
/// Each gateway runs one; with several in a process the extra runs are harmless.
pub(crate) async fn upkeep(shutdown: CancellationToken) {
    let handle = install();
    let mut every = tokio::time::interval(UPKEEP_INTERVAL_DEFAULT);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = every.tick() => handle.run_upkeep(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_stats_are_written_as_typed_families() {
        let mut text = String::new();
        write_store_stats(
            &mut text,
            CommitStats {
                commits: 3,
                operations: 7,
                largest_batch: 4,
            },
        );
        assert!(
            text.contains(
                "# TYPE hookd_store_commits_total counter\nhookd_store_commits_total 3\n"
            )
        );
        assert!(text.contains("hookd_store_operations_total 7\n"));
        assert!(
            text.contains("# TYPE hookd_store_largest_batch gauge\nhookd_store_largest_batch 4\n")
        );
    }

    #[test]
    fn the_builder_accepts_every_histogram() {
        let _ = builder().build_recorder();
    }
}
