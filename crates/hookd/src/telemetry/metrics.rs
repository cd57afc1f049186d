//! The one list of metric names hookd exports on `/metrics`, with their labels, units and
//! descriptions.
//!
//! Names follow Prometheus conventions: `hookd_` prefix, base units (seconds), counters
//! end in `_total`. Labels are bounded by the configuration: `source` (a configured source,
//! or [`UNKNOWN_SOURCE`]), `reason` (an ingest rejection code, as in the README),
//! `queue`, `outcome` and `route`. Only [`super::events`] records values; everything else
//! emits an event.

use metrics::{Unit, describe_counter, describe_histogram};

/// Counter `{source}`: deliveries (`POST /in/{source}` requests) that reached ingest,
/// accepted or not.
pub(crate) const WEBHOOKS_RECEIVED_TOTAL: &str = "hookd_webhooks_received_total";

/// Counter `{source, reason}`: deliveries turned away with a 4xx or 503; `reason` is the
/// error code of the answer (`signature_mismatch`, `body_too_large`, …).
pub(crate) const WEBHOOKS_REJECTED_TOTAL: &str = "hookd_webhooks_rejected_total";

/// Counter `{source}`: events recognised as a repeat of one stored within the dedup
/// window, answered with the original id and not stored again.
pub(crate) const EVENTS_DUPLICATE_TOTAL: &str = "hookd_events_duplicate_total";

/// Counter `{source}`: new events committed to the store (a batched delivery counts each
/// of its events).
pub(crate) const EVENTS_COMMITTED_TOTAL: &str = "hookd_events_committed_total";

/// Histogram, seconds: how long ingest waited for the store to commit one delivery's
/// events with their jobs, group commit and fsync included. This is the time a provider
/// waits on the store before its 200.
pub(crate) const STORE_COMMIT_DURATION_SECONDS: &str = "hookd_store_commit_duration_seconds";

/// Counter `{route}`: jobs made unkeyed because an ordering-key pointer of their route was
/// missing from the event (DESIGN.md, "Routing and ordering rules").
pub(crate) const JOBS_UNKEYED_TOTAL: &str = "hookd_jobs_unkeyed_total";

/// Counter `{queue, outcome}`: what each finished attempt did to its job, counted once
/// the store recorded it: `succeeded`, `retrying` (it runs again) or `dead`.
pub(crate) const JOB_OUTCOMES_TOTAL: &str = "hookd_job_outcomes_total";

/// Histogram `{queue}`, seconds: how long one attempt on the target took.
pub(crate) const ATTEMPT_DURATION_SECONDS: &str = "hookd_attempt_duration_seconds";

/// Histogram `{source}`, seconds: lag from when the provider says an event happened (its
/// `occurred_at`, for presets that carry one) to its arrival. Clock skew between the
/// provider and this node counts as lag (a negative one as 0).
pub(crate) const PROVIDER_LAG_SECONDS: &str = "hookd_provider_lag_seconds";

/// Histogram `{source}`, seconds: lag from an event's arrival (`received_at`) to its
/// commit: verification, routing and the store's commit.
pub(crate) const COMMIT_LAG_SECONDS: &str = "hookd_commit_lag_seconds";

/// Histogram `{queue}`, seconds: lag from the event's arrival (`received_at`) to the start
/// of its job's first attempt; for a job a replay added later, from when it was made. A
/// route's `delay` is part of it.
pub(crate) const FIRST_ATTEMPT_LAG_SECONDS: &str = "hookd_first_attempt_lag_seconds";

/// Histogram `{queue}`, seconds: lag from the event's arrival (`received_at`) to the end
/// of the attempt that made its job succeed; for a job a replay added later, from when it
/// was made. Retries and their back-off are part of it.
pub(crate) const SUCCEEDED_LAG_SECONDS: &str = "hookd_succeeded_lag_seconds";

/// Counter, read from the store at scrape time: transactions the store has committed
/// since it opened.
pub(crate) const STORE_COMMITS_TOTAL: &str = "hookd_store_commits_total";

/// Counter, read from the store at scrape time: operations carried by those transactions;
/// divided by [`STORE_COMMITS_TOTAL`] it gives the mean group-commit batch size.
pub(crate) const STORE_OPERATIONS_TOTAL: &str = "hookd_store_operations_total";

/// Gauge, read from the store at scrape time: the most operations one transaction has
/// carried since the store opened.
pub(crate) const STORE_LARGEST_BATCH: &str = "hookd_store_largest_batch";

/// Gauge `{queue, state}`, read from the store at scrape time: the jobs of a queue in each
/// state ([`QUEUE_STATES`]), as `Store::queue_stats` counts them. Jobs whose `run_at` has
/// come count as `ready`; `succeeded` and `dead` count the jobs not yet pruned.
pub(crate) const QUEUE_JOBS: &str = "hookd_queue_jobs";

/// Gauge `{queue}`, seconds, read from the store at scrape time: how long the oldest due
/// job of a queue has been waiting for a slot (now minus its `run_at`); 0 when no job is
/// ready. A paused queue holding work shows it growing.
pub(crate) const QUEUE_OLDEST_READY_AGE_SECONDS: &str = "hookd_queue_oldest_ready_age_seconds";

/// Gauge `{queue}`, read from the store at scrape time: 1 while the queue is paused, else 0.
pub(crate) const QUEUE_PAUSED: &str = "hookd_queue_paused";

/// Gauge, read from the store at scrape time: events held in the ingest spool, waiting to
/// be moved into PostgreSQL. Only on a node with a spool.
pub(crate) const SPOOL_EVENTS: &str = "hookd_spool_events";

/// Gauge, read from the store at scrape time: bytes those spooled events take.
pub(crate) const SPOOL_BYTES: &str = "hookd_spool_bytes";

/// Gauge, read from the store at scrape time: the most bytes the spool may hold
/// (`spool_max`); beyond it ingest answers 503.
pub(crate) const SPOOL_MAX_BYTES: &str = "hookd_spool_max_bytes";

/// Counter, read from the store at scrape time: events taken into the spool since the
/// node started.
pub(crate) const SPOOL_SPOOLED_TOTAL: &str = "hookd_spool_spooled_total";

/// Counter, read from the store at scrape time: spooled events moved into PostgreSQL
/// since the node started.
pub(crate) const SPOOL_MOVED_TOTAL: &str = "hookd_spool_moved_total";

/// Counter, read from the store at scrape time: spooled events dropped when moved,
/// because PostgreSQL already held an event with their dedup key.
pub(crate) const SPOOL_DROPPED_DUPLICATES_TOTAL: &str = "hookd_spool_dropped_duplicates_total";

/// The scrape-time spool metrics: `(name, type, help)`, in the order of the values
/// [`super::exporter::render`] writes from `Store::spool_stats`.
pub(crate) const SPOOL_STATS: [(&str, &str, &str); 6] = [
    (
        SPOOL_EVENTS,
        "gauge",
        "Events held in the ingest spool, waiting to be moved into PostgreSQL.",
    ),
    (
        SPOOL_BYTES,
        "gauge",
        "Bytes the events held in the ingest spool take.",
    ),
    (
        SPOOL_MAX_BYTES,
        "gauge",
        "The most bytes the ingest spool may hold (spool_max).",
    ),
    (
        SPOOL_SPOOLED_TOTAL,
        "counter",
        "Events taken into the ingest spool since the node started.",
    ),
    (
        SPOOL_MOVED_TOTAL,
        "counter",
        "Spooled events moved into PostgreSQL since the node started.",
    ),
    (
        SPOOL_DROPPED_DUPLICATES_TOTAL,
        "counter",
        "Spooled events dropped when moved: PostgreSQL already held their dedup key.",
    ),
];

/// The values of the `state` label of [`QUEUE_JOBS`], in the order they are written.
pub(crate) const QUEUE_STATES: [&str; 6] = [
    "scheduled",
    "ready",
    "running",
    "retrying",
    "succeeded",
    "dead",
];

/// The scrape-time queue metrics: `(name, type, help)`. They are written by
/// [`super::exporter::render`] from one `queue_stats` and one `queue_paused` call on the
/// store that serves the scrape, for every configured, paused or non-empty queue.
pub(crate) const QUEUE_GAUGES: [(&str, &str, &str); 3] = [
    (
        QUEUE_JOBS,
        "gauge",
        "Jobs of the queue in each state (due jobs count as ready; ended ones until pruned).",
    ),
    (
        QUEUE_OLDEST_READY_AGE_SECONDS,
        "gauge",
        "How long the oldest due job of the queue has waited for a slot; 0 when none is ready.",
    ),
    (
        QUEUE_PAUSED,
        "gauge",
        "1 while the queue is paused, else 0.",
    ),
];

/// The `source` label of a request to a source that is not configured: the path segment
/// is whatever the sender typed, so it never becomes a label value. Parentheses cannot
/// appear in a source name.
pub(crate) const UNKNOWN_SOURCE: &str = "(unknown)";

/// Bucket bounds (seconds) of [`ATTEMPT_DURATION_SECONDS`] and
/// [`STORE_COMMIT_DURATION_SECONDS`]: a millisecond to a minute (a target's timeout).
pub(crate) const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Bucket bounds (seconds) of the lags ([`PROVIDER_LAG_SECONDS`], [`COMMIT_LAG_SECONDS`],
/// [`FIRST_ATTEMPT_LAG_SECONDS`], [`SUCCEEDED_LAG_SECONDS`]): ten milliseconds to a day,
/// since a backlog, a route's delay or retries can hold a job for hours.
pub(crate) const LAG_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0,
    86400.0,
];

/// Each histogram and its bucket bounds; every other histogram would be a summary.
pub(crate) const HISTOGRAMS: &[(&str, &[f64])] = &[
    (STORE_COMMIT_DURATION_SECONDS, LATENCY_BUCKETS),
    (ATTEMPT_DURATION_SECONDS, LATENCY_BUCKETS),
    (PROVIDER_LAG_SECONDS, LAG_BUCKETS),
    (COMMIT_LAG_SECONDS, LAG_BUCKETS),
    (FIRST_ATTEMPT_LAG_SECONDS, LAG_BUCKETS),
    (SUCCEEDED_LAG_SECONDS, LAG_BUCKETS),
];

/// The scrape-time store metrics: `(name, type, help)`. They are written by
/// [`super::exporter::render`] from the store that serves the scrape, not recorded.
pub(crate) const STORE_STATS: [(&str, &str, &str); 3] = [
    (
        STORE_COMMITS_TOTAL,
        "counter",
        "Transactions the store has committed since it opened.",
    ),
    (
        STORE_OPERATIONS_TOTAL,
        "counter",
        "Operations carried by the store's transactions since it opened.",
    ),
    (
        STORE_LARGEST_BATCH,
        "gauge",
        "The most operations one store transaction has carried since the store opened.",
    ),
];

/// Describes every recorded metric to the recorder in force: the `# HELP` lines. Called
/// once when the recorder is installed.
pub(crate) fn describe() {
    describe_counter!(
        WEBHOOKS_RECEIVED_TOTAL,
        Unit::Count,
        "Deliveries (POST /in/{source}) that reached ingest, accepted or not."
    );
    describe_counter!(
        WEBHOOKS_REJECTED_TOTAL,
        Unit::Count,
        "Deliveries turned away, by the error code of the answer."
    );
    describe_counter!(
        EVENTS_DUPLICATE_TOTAL,
        Unit::Count,
        "Events recognised as repeats within the dedup window and not stored again."
    );
    describe_counter!(
        EVENTS_COMMITTED_TOTAL,
        Unit::Count,
        "New events committed to the store."
    );
    describe_histogram!(
        STORE_COMMIT_DURATION_SECONDS,
        Unit::Seconds,
        "How long ingest waited for the store to commit a delivery's events and jobs."
    );
    describe_counter!(
        JOBS_UNKEYED_TOTAL,
        Unit::Count,
        "Jobs left unkeyed because an ordering-key pointer of their route was missing."
    );
    describe_counter!(
        JOB_OUTCOMES_TOTAL,
        Unit::Count,
        "Finished attempts by what they did to the job: succeeded, retrying or dead."
    );
    describe_histogram!(
        ATTEMPT_DURATION_SECONDS,
        Unit::Seconds,
        "How long one attempt on the target took."
    );
    describe_histogram!(
        PROVIDER_LAG_SECONDS,
        Unit::Seconds,
        "From when the provider says an event happened to its arrival."
    );
    describe_histogram!(
        COMMIT_LAG_SECONDS,
        Unit::Seconds,
        "From an event's arrival to its commit to the store."
    );
    describe_histogram!(
        FIRST_ATTEMPT_LAG_SECONDS,
        Unit::Seconds,
        "From an event's arrival to the start of its job's first attempt."
    );
    describe_histogram!(
        SUCCEEDED_LAG_SECONDS,
        Unit::Seconds,
        "From an event's arrival to its job's success."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prometheus_names_and_counters_end_in_total() {
        let recorded = [
            WEBHOOKS_RECEIVED_TOTAL,
            WEBHOOKS_REJECTED_TOTAL,
            EVENTS_DUPLICATE_TOTAL,
            EVENTS_COMMITTED_TOTAL,
            STORE_COMMIT_DURATION_SECONDS,
            JOBS_UNKEYED_TOTAL,
            JOB_OUTCOMES_TOTAL,
            ATTEMPT_DURATION_SECONDS,
            PROVIDER_LAG_SECONDS,
            COMMIT_LAG_SECONDS,
            FIRST_ATTEMPT_LAG_SECONDS,
            SUCCEEDED_LAG_SECONDS,
        ];
        let scraped = STORE_STATS
            .iter()
            .chain(&QUEUE_GAUGES)
            .chain(&SPOOL_STATS)
            .map(|(name, _, _)| *name)
            .collect::<Vec<_>>();
        for name in recorded.iter().chain(&scraped) {
            assert!(name.starts_with("hookd_"), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{name}"
            );
        }
        for (name, kind, _) in STORE_STATS
            .into_iter()
            .chain(QUEUE_GAUGES)
            .chain(SPOOL_STATS)
        {
            assert_eq!(name.ends_with("_total"), kind == "counter", "{name}");
        }
        for (name, buckets) in HISTOGRAMS {
            assert!(name.ends_with("_seconds"), "{name}");
            assert!(buckets.windows(2).all(|w| w[0] < w[1]), "{name}");
        }
    }
}
