//! The Prometheus recorder behind the `metrics` facade, and the text `/metrics` serves.
//!
//! The recorder is global to the process (the facade has one), so it is installed at most
//! once, when the first gateway starts; later gateways in the same process (tests start
//! several) share it and its handle. Label values keep their figures apart. The store's
//! commit figures and queue gauges are not recorded: each scrape reads them from the store
//! of the gateway that serves it, so two gateways in one process never mix theirs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

use hookd_store::{CommitStats, QueueStats, SpoolStats, Store};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use super::metrics::{self, HISTOGRAMS, QUEUE_GAUGES, QUEUE_STATES, SPOOL_STATS, STORE_STATS};
use crate::clock;

/// The `Content-Type` of the Prometheus text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long a scrape waits for the store's queue figures before leaving them out.
const QUEUE_READ_TIMEOUT_DEFAULT: Duration = Duration::from_secs(2);

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

/// The body of a scrape: everything recorded in this process, then the commit figures
/// and the queue gauges of `store`, the store of the gateway being scraped. `configured`
/// names the configured queues, shown even while they hold no job.
///
/// The queue gauges cost one `queue_stats` and one `queue_paused` read, run together.
/// When the store fails or does not answer within [`QUEUE_READ_TIMEOUT_DEFAULT`], they
/// are left out of this scrape (logged) and the rest is served.
pub(crate) async fn render(
    store: &dyn Store,
    configured: impl IntoIterator<Item = String>,
) -> String {
    let now = clock::now_millis();
    let read = async { tokio::try_join!(store.queue_stats(now, now), store.queue_paused()) };
    let queues = match tokio::time::timeout(QUEUE_READ_TIMEOUT_DEFAULT, read).await {
        Ok(Ok((stats, paused))) => Some(queue_rows(configured, stats, &paused)),
        Ok(Err(error)) => {
            tracing::warn!(%error, "/metrics: reading the queue figures failed; left out");
            None
        }
        Err(_) => {
            tracing::warn!("/metrics: the store did not answer in time; queue figures left out");
            None
        }
    };
    let mut text = install().render();
    write_store_stats(&mut text, store.commit_stats());
    if let Some(spool) = store.spool_stats() {
        write_spool_stats(&mut text, spool);
    }
    if let Some(queues) = queues {
        write_queue_gauges(&mut text, &queues);
    }
    text
}

/// One queue's scrape-time figures.
#[derive(Debug, Default, PartialEq)]
struct QueueRow {
    /// The counts, in the order of [`QUEUE_STATES`].
    jobs: [u64; 6],
    /// Seconds; 0 when no job is ready.
    oldest_ready_age: f64,
    paused: bool,
}

/// The rows of every queue that is configured, paused or has jobs, by name.
fn queue_rows(
    configured: impl IntoIterator<Item = String>,
    stats: Vec<QueueStats>,
    paused: &[String],
) -> BTreeMap<String, QueueRow> {
    let paused: BTreeSet<&str> = paused.iter().map(String::as_str).collect();
    let mut rows: BTreeMap<String, QueueRow> = configured
        .into_iter()
        .chain(paused.iter().map(|q| (*q).to_owned()))
        .map(|queue| (queue, QueueRow::default()))
        .collect();
    for s in stats {
        let row = rows.entry(s.queue).or_default();
        row.jobs = [
            s.scheduled,
            s.ready,
            s.running,
            s.retrying,
            s.succeeded,
            s.dead,
        ];
        // Milliseconds to seconds.
        row.oldest_ready_age = s.oldest_ready_age_ms.unwrap_or(0).max(0) as f64 / 1000.0;
    }
    for (queue, row) in &mut rows {
        row.paused = paused.contains(queue.as_str());
    }
    rows
}

/// Appends the [`QUEUE_GAUGES`] families with one sample per queue (and state).
fn write_queue_gauges(text: &mut String, rows: &BTreeMap<String, QueueRow>) {
    let [
        (jobs, jobs_kind, jobs_help),
        (age, age_kind, age_help),
        (paused, paused_kind, paused_help),
    ] = QUEUE_GAUGES;
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "# HELP {jobs} {jobs_help}\n# TYPE {jobs} {jobs_kind}\n"
    );
    for (queue, row) in rows {
        let queue = escape(queue);
        for (state, n) in QUEUE_STATES.iter().zip(row.jobs) {
            let _ = writeln!(text, "{jobs}{{queue=\"{queue}\",state=\"{state}\"}} {n}");
        }
    }
    let _ = write!(text, "\n# HELP {age} {age_help}\n# TYPE {age} {age_kind}\n");
    for (queue, row) in rows {
        let _ = writeln!(
            text,
            "{age}{{queue=\"{}\"}} {}",
            escape(queue),
            row.oldest_ready_age
        );
    }
    let _ = write!(
        text,
        "\n# HELP {paused} {paused_help}\n# TYPE {paused} {paused_kind}\n"
    );
    for (queue, row) in rows {
        let _ = writeln!(
            text,
            "{paused}{{queue=\"{}\"}} {}",
            escape(queue),
            u8::from(row.paused)
        );
    }
    text.push('\n');
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends the [`STORE_STATS`] families with the values of `stats`.
fn write_store_stats(text: &mut String, stats: CommitStats) {
    let values = [stats.commits, stats.operations, stats.largest_batch];
    write_families(text, &STORE_STATS, values);
}

/// Appends the [`SPOOL_STATS`] families with the values of `stats`.
fn write_spool_stats(text: &mut String, stats: SpoolStats) {
    let values = [
        stats.events,
        stats.bytes,
        stats.max_bytes,
        stats.spooled,
        stats.moved,
        stats.dropped_duplicates,
    ];
    write_families(text, &SPOOL_STATS, values);
}

/// Appends one unlabelled sample per `(name, type, help)` family.
fn write_families<const N: usize>(
    text: &mut String,
    families: &[(&str, &str, &str); N],
    values: [u64; N],
) {
    for ((name, kind, help), value) in families.iter().zip(values) {
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
    fn spool_stats_are_written_as_typed_families() {
        let mut text = String::new();
        write_spool_stats(
            &mut text,
            SpoolStats {
                events: 12,
                bytes: 3456,
                max_bytes: 1 << 30,
                spooled: 20,
                moved: 8,
                dropped_duplicates: 1,
            },
        );
        assert!(text.contains("# TYPE hookd_spool_events gauge\nhookd_spool_events 12\n"));
        assert!(text.contains("hookd_spool_bytes 3456\n"), "{text}");
        assert!(
            text.contains("hookd_spool_max_bytes 1073741824\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "# TYPE hookd_spool_spooled_total counter\nhookd_spool_spooled_total 20\n"
            )
        );
        assert!(text.contains("hookd_spool_moved_total 8\n"), "{text}");
        assert!(
            text.contains("hookd_spool_dropped_duplicates_total 1\n"),
            "{text}"
        );
    }

    #[test]
    fn queue_gauges_cover_configured_paused_and_busy_queues() {
        let stats = vec![QueueStats {
            queue: "busy".to_owned(),
            ready: 2,
            succeeded: 3,
            dead: 1,
            oldest_ready_age_ms: Some(1_500),
            ..QueueStats::default()
        }];
        let rows = queue_rows(
            ["idle".to_owned(), "busy".to_owned()],
            stats,
            &["held".to_owned(), "busy".to_owned()],
        );
        assert_eq!(rows.keys().collect::<Vec<_>>(), ["busy", "held", "idle"]);
        let mut text = String::new();
        write_queue_gauges(&mut text, &rows);
        assert!(text.contains("# TYPE hookd_queue_jobs gauge\n"), "{text}");
        assert!(text.contains("hookd_queue_jobs{queue=\"busy\",state=\"ready\"} 2\n"));
        assert!(text.contains("hookd_queue_jobs{queue=\"busy\",state=\"succeeded\"} 3\n"));
        assert!(text.contains("hookd_queue_jobs{queue=\"busy\",state=\"dead\"} 1\n"));
        assert!(text.contains("hookd_queue_jobs{queue=\"idle\",state=\"running\"} 0\n"));
        assert!(text.contains("hookd_queue_oldest_ready_age_seconds{queue=\"busy\"} 1.5\n"));
        assert!(text.contains("hookd_queue_oldest_ready_age_seconds{queue=\"idle\"} 0\n"));
        assert!(text.contains("hookd_queue_paused{queue=\"busy\"} 1\n"));
        assert!(text.contains("hookd_queue_paused{queue=\"held\"} 1\n"));
        assert!(text.contains("hookd_queue_paused{queue=\"idle\"} 0\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn the_builder_accepts_every_histogram() {
        let _ = builder().build_recorder();
    }
}
