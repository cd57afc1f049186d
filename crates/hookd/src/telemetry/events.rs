//! Telemetry events: one struct per thing that happens, whose `emit()` writes its log line
//! and records its metrics, so that the two never drift apart (vector's
//! `internal_events`). Events that the per-source and per-queue stats count take the
//! node's [`Stats`] in their `emit()` and count there too.
//!
//! Stages build an event where the thing happens and call `emit()`; they never call a
//! `metrics` macro or log the same fact themselves. Levels: what happens per webhook or
//! per job is DEBUG (TRACE for what another line already says); WARN only where an
//! operator should look. Every line about an event carries `event_id`, every line about a
//! job `job_id` and `event_id`.

// The one place the raw macros are allowed (clippy.toml bans them elsewhere).
#![allow(clippy::disallowed_macros)]

use std::fmt::Display;

use hookd_store::{JobOutcome, Millis, StatsRollup};
use metrics::{counter, histogram};

use super::metrics::{
    ATTEMPT_DURATION_SECONDS, COMMIT_LAG_SECONDS, EVENTS_COMMITTED_TOTAL, EVENTS_DUPLICATE_TOTAL,
    FIRST_ATTEMPT_LAG_SECONDS, JOB_OUTCOMES_TOTAL, JOBS_UNKEYED_TOTAL, PROVIDER_LAG_SECONDS,
    STORE_COMMIT_DURATION_SECONDS, SUCCEEDED_LAG_SECONDS, UNKNOWN_SOURCE, WEBHOOKS_RECEIVED_TOTAL,
    WEBHOOKS_REJECTED_TOTAL,
};
use super::stats::{SourceRef, Stats, error_key};
use crate::clock;

/// The `source` label: the configured source, or [`UNKNOWN_SOURCE`].
fn source_label(source: Option<SourceRef<'_>>) -> String {
    source.map_or(UNKNOWN_SOURCE, |s| s.name).to_owned()
}

/// Milliseconds as fractional seconds, the unit of every duration metric.
fn seconds(millis: Millis) -> f64 {
    millis.max(0) as f64 / 1000.0
}

/// A delivery reached ingest (`POST /in/{source}`), before any check.
#[derive(Debug)]
pub(crate) struct WebhookReceived<'a> {
    /// The source, or `None` when no source of that name is configured.
    pub(crate) source: Option<SourceRef<'a>>,
}

impl WebhookReceived<'_> {
    /// Counts the delivery; for a configured source, the stats note when it arrived.
    pub(crate) fn emit(&self, stats: &Stats) {
        tracing::trace!("webhook received");
        counter!(WEBHOOKS_RECEIVED_TOTAL, "source" => source_label(self.source)).increment(1);
        if let Some(source) = self.source {
            let now = clock::now_millis();
            stats.source(source, now, |r| {
                r.last_received_at = r.last_received_at.max(Some(now));
            });
        }
    }
}

/// Ingest turned a delivery away; nothing of it was stored.
pub(crate) struct WebhookRejected<'a> {
    /// The source, or `None` when no source of that name is configured.
    pub(crate) source: Option<SourceRef<'a>>,
    /// The stable error code of the answer (`signature_mismatch`, …).
    pub(crate) reason: &'static str,
    /// What the answer's `detail` says.
    pub(crate) detail: &'a dyn Display,
}

impl WebhookRejected<'_> {
    /// Logs the rejection at DEBUG (a sender's mistake is not the operator's) and counts
    /// it by reason; the stats count it for a configured source.
    pub(crate) fn emit(&self, stats: &Stats) {
        tracing::debug!(code = self.reason, rejection = %self.detail, "request rejected");
        counter!(
            WEBHOOKS_REJECTED_TOTAL,
            "source" => source_label(self.source),
            "reason" => self.reason,
        )
        .increment(1);
        if let Some(source) = self.source {
            stats.source(source, clock::now_millis(), |r| {
                *r.rejected.entry(self.reason.to_owned()).or_default() += 1;
            });
        }
    }
}

/// An event of a delivery was a repeat of one already stored within the dedup window.
#[derive(Debug)]
pub(crate) struct WebhookDuplicate<'a> {
    /// The source.
    pub(crate) source: SourceRef<'a>,
    /// The id of the event stored first, which the answer carries.
    pub(crate) event_id: &'a str,
}

impl WebhookDuplicate<'_> {
    /// Logs and counts the duplicate, in the metrics and the stats.
    pub(crate) fn emit(&self, stats: &Stats) {
        tracing::debug!(
            event_id = self.event_id,
            "duplicate of a stored event; not stored again"
        );
        counter!(EVENTS_DUPLICATE_TOTAL, "source" => self.source.name.to_owned()).increment(1);
        stats.source(self.source, clock::now_millis(), |r| r.duplicates += 1);
    }
}

/// An event of [`EventsCommitted`] that was stored new.
#[derive(Debug)]
pub(crate) struct CommittedEvent<'a> {
    /// Its id.
    pub(crate) id: &'a str,
    /// When the provider says it happened, if its preset reads that.
    pub(crate) occurred_at: Option<Millis>,
    /// The queue of each of its jobs.
    pub(crate) queues: &'a [String],
}

/// The store committed a delivery's events with their jobs; ingest is about to answer.
#[derive(Debug)]
pub(crate) struct EventsCommitted<'a> {
    /// The source.
    pub(crate) source: SourceRef<'a>,
    /// The events stored new (duplicates are not among them).
    pub(crate) events: &'a [CommittedEvent<'a>],
    /// When the delivery arrived.
    pub(crate) received_at: Millis,
    /// When the commit was done.
    pub(crate) committed_at: Millis,
    /// How long the store call took, group commit and fsync included.
    pub(crate) duration_ms: Millis,
}

impl EventsCommitted<'_> {
    /// Logs each new event, counts them, and records how long the commit took and, per
    /// event, the lags from the provider to hookd and from arrival to commit. The stats
    /// count the events for the source and their jobs for each queue.
    pub(crate) fn emit(&self, stats: &Stats) {
        let commit_lag = self.committed_at.saturating_sub(self.received_at);
        for event in self.events {
            tracing::debug!(event_id = event.id, "event committed");
            histogram!(COMMIT_LAG_SECONDS, "source" => self.source.name.to_owned())
                .record(seconds(commit_lag));
            if let Some(occurred_at) = event.occurred_at {
                histogram!(PROVIDER_LAG_SECONDS, "source" => self.source.name.to_owned())
                    .record(seconds(self.received_at.saturating_sub(occurred_at)));
            }
        }
        counter!(EVENTS_COMMITTED_TOTAL, "source" => self.source.name.to_owned())
            .increment(self.events.len() as u64);
        histogram!(STORE_COMMIT_DURATION_SECONDS).record(seconds(self.duration_ms));

        if self.events.is_empty() {
            return;
        }
        stats.source(self.source, self.received_at, |r| {
            for event in self.events {
                r.received += 1;
                r.lag_commit_ms.record(commit_lag);
                if let Some(occurred_at) = event.occurred_at {
                    r.lag_provider_ms
                        .record(self.received_at.saturating_sub(occurred_at));
                }
            }
        });
        for queue in self.events.iter().flat_map(|e| e.queues) {
            stats.queue(queue, self.received_at, |r| r.received += 1);
        }
    }
}

/// A route with an ordering key made an unkeyed job because a pointer of the key was
/// missing from the event.
#[derive(Debug)]
pub(crate) struct UnkeyedJob<'a> {
    /// The route's name.
    pub(crate) route: &'a str,
    /// The event.
    pub(crate) event_id: &'a str,
}

impl UnkeyedJob<'_> {
    /// Logs and counts the unkeyed job.
    pub(crate) fn emit(&self) {
        tracing::debug!(
            event_id = self.event_id,
            route = self.route,
            "ordering key pointer missing; job is unkeyed"
        );
        counter!(JOBS_UNKEYED_TOTAL, "route" => self.route.to_owned()).increment(1);
    }
}

/// A worker starts an attempt of a claimed job.
#[derive(Debug)]
pub(crate) struct JobStarted<'a> {
    /// The job's queue.
    pub(crate) queue: &'a str,
    /// The source of its event.
    pub(crate) source: SourceRef<'a>,
    /// The job.
    pub(crate) job_id: i64,
    /// Its event.
    pub(crate) event_id: &'a str,
    /// The attempt's number, 1 for the first.
    pub(crate) attempt: u32,
    /// When the job's wait began: when its event arrived, or, for a job a replay added
    /// later, when it was made.
    pub(crate) waiting_since: Millis,
    /// Now.
    pub(crate) started_at: Millis,
}

impl JobStarted<'_> {
    /// Logs the start; for a first attempt, records the lag since the wait began, in the
    /// metrics and in the stats of the queue and of the source.
    pub(crate) fn emit(&self, stats: &Stats) {
        tracing::debug!(
            job_id = self.job_id,
            event_id = self.event_id,
            attempt = self.attempt,
            "job started"
        );
        if self.attempt == 1 {
            let lag = self.started_at.saturating_sub(self.waiting_since);
            histogram!(FIRST_ATTEMPT_LAG_SECONDS, "queue" => self.queue.to_owned())
                .record(seconds(lag));
            let count = |r: &mut StatsRollup| r.lag_first_attempt_ms.record(lag);
            stats.queue(self.queue, self.started_at, count);
            stats.source(self.source, self.started_at, count);
        }
    }
}

/// An attempt of a job ended, whatever its verdict.
#[derive(Debug)]
pub(crate) struct AttemptFinished<'a> {
    /// The job's queue.
    pub(crate) queue: &'a str,
    /// The job.
    pub(crate) job_id: i64,
    /// Its event.
    pub(crate) event_id: &'a str,
    /// The attempt's number.
    pub(crate) attempt: u32,
    /// How long it took.
    pub(crate) duration_ms: Millis,
}

impl AttemptFinished<'_> {
    /// Records the attempt's duration (the outcome is [`JobFinished`]'s line).
    pub(crate) fn emit(&self) {
        tracing::trace!(
            job_id = self.job_id,
            event_id = self.event_id,
            attempt = self.attempt,
            duration_ms = self.duration_ms,
            "attempt finished"
        );
        histogram!(ATTEMPT_DURATION_SECONDS, "queue" => self.queue.to_owned())
            .record(seconds(self.duration_ms));
    }
}

/// The store recorded what an attempt did to its job.
#[derive(Debug)]
pub(crate) struct JobFinished<'a> {
    /// The job's queue.
    pub(crate) queue: &'a str,
    /// The source of its event.
    pub(crate) source: SourceRef<'a>,
    /// The job.
    pub(crate) job_id: i64,
    /// Its event.
    pub(crate) event_id: &'a str,
    /// The attempt's number.
    pub(crate) attempt: u32,
    /// The job's next state.
    pub(crate) outcome: JobOutcome,
    /// The target's HTTP status, if it answered.
    pub(crate) status_code: Option<u16>,
    /// Why the attempt failed, if it did.
    pub(crate) error: Option<&'a str>,
    /// How long the attempt took.
    pub(crate) duration_ms: Millis,
    /// When the job's wait began (see [`JobStarted::waiting_since`]).
    pub(crate) waiting_since: Millis,
    /// When the attempt ended.
    pub(crate) finished_at: Millis,
}

impl JobFinished<'_> {
    /// The `outcome` label.
    fn outcome_label(&self) -> &'static str {
        match self.outcome {
            JobOutcome::Succeeded => "succeeded",
            JobOutcome::Retry { .. } => "retrying",
            JobOutcome::Dead => "dead",
        }
    }

    /// Logs the outcome (WARN for a dead job: it waits for an operator's retry or purge)
    /// and counts it; for a success, records the lag since the wait began. The stats of
    /// the queue and of the source count the outcome, the attempt's duration, the lag
    /// and a failure's [`error_key`].
    pub(crate) fn emit(&self, stats: &Stats) {
        let error = self.error.unwrap_or_default();
        match self.outcome {
            JobOutcome::Succeeded => tracing::debug!(
                job_id = self.job_id,
                event_id = self.event_id,
                attempt = self.attempt,
                "job succeeded"
            ),
            JobOutcome::Retry { run_at } => tracing::debug!(
                job_id = self.job_id,
                event_id = self.event_id,
                attempt = self.attempt,
                run_at,
                error,
                "job will be retried"
            ),
            JobOutcome::Dead => tracing::warn!(
                job_id = self.job_id,
                event_id = self.event_id,
                queue = self.queue,
                attempt = self.attempt,
                error,
                "job is dead"
            ),
        }
        counter!(
            JOB_OUTCOMES_TOTAL,
            "queue" => self.queue.to_owned(),
            "outcome" => self.outcome_label(),
        )
        .increment(1);
        let succeeded_lag = self.finished_at.saturating_sub(self.waiting_since);
        if self.outcome == JobOutcome::Succeeded {
            histogram!(SUCCEEDED_LAG_SECONDS, "queue" => self.queue.to_owned())
                .record(seconds(succeeded_lag));
        }

        let failure = (self.outcome != JobOutcome::Succeeded)
            .then(|| error_key(self.status_code, self.error));
        let count = |r: &mut StatsRollup| {
            r.processing_ms.record(self.duration_ms);
            match self.outcome {
                JobOutcome::Succeeded => {
                    r.succeeded += 1;
                    r.lag_succeeded_ms.record(succeeded_lag);
                }
                JobOutcome::Retry { .. } => r.failed += 1,
                JobOutcome::Dead => r.dead += 1,
            }
            if let Some(key) = &failure {
                r.count_error(key, 1);
            }
        };
        stats.queue(self.queue, self.finished_at, count);
        stats.source(self.source, self.finished_at, count);
    }
}

#[cfg(test)]
mod tests {
    use hookd_store::{StatsDelta, StatsScope};

    use super::super::exporter;
    use super::*;

    const SHOP: SourceRef<'static> = SourceRef {
        name: "shop",
        tenant: "acme",
    };

    /// Runs `emit` against a fresh recorder of this process's settings and returns what a
    /// scrape would show.
    fn scrape(emit: impl FnOnce()) -> String {
        let recorder = exporter::builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, emit);
        handle.render()
    }

    /// Every row `stats` holds, merged per (scope, name), ordered.
    fn rows(stats: &Stats) -> Vec<(StatsScope, String, String, StatsRollup)> {
        let mut merged: Vec<(StatsScope, String, String, StatsRollup)> = Vec::new();
        let mut deltas: Vec<StatsDelta> = stats.take();
        deltas.sort_by(|a, b| (a.scope, &a.name).cmp(&(b.scope, &b.name)));
        for delta in deltas {
            match merged.last_mut() {
                Some((scope, name, _, rollup)) if *scope == delta.scope && *name == delta.name => {
                    rollup.merge(&delta.rollup);
                }
                _ => merged.push((delta.scope, delta.name, delta.tenant, delta.rollup)),
            }
        }
        merged
    }

    #[test]
    fn ingest_events_count_by_source_and_reason() {
        let stats = Stats::default();
        let queues = ["default".to_owned(), "bulk".to_owned()];
        let text = scrape(|| {
            WebhookReceived { source: Some(SHOP) }.emit(&stats);
            WebhookReceived { source: None }.emit(&stats);
            WebhookRejected {
                source: None,
                reason: "unknown_source",
                detail: &"no source named \"x\"",
            }
            .emit(&stats);
            WebhookRejected {
                source: Some(SHOP),
                reason: "signature_mismatch",
                detail: &"no secret produces the signature",
            }
            .emit(&stats);
            WebhookDuplicate {
                source: SHOP,
                event_id: "evt_1",
            }
            .emit(&stats);
            EventsCommitted {
                source: SHOP,
                events: &[
                    CommittedEvent {
                        id: "evt_2",
                        occurred_at: Some(7_000),
                        queues: &queues,
                    },
                    CommittedEvent {
                        id: "evt_3",
                        occurred_at: None,
                        queues: &queues[..1],
                    },
                ],
                received_at: 10_000,
                committed_at: 10_004,
                duration_ms: 4,
            }
            .emit(&stats);
        });
        for line in [
            "hookd_webhooks_received_total{source=\"shop\"} 1\n",
            "hookd_webhooks_received_total{source=\"(unknown)\"} 1\n",
            "hookd_webhooks_rejected_total{source=\"(unknown)\",reason=\"unknown_source\"} 1\n",
            "hookd_webhooks_rejected_total{source=\"shop\",reason=\"signature_mismatch\"} 1\n",
            "hookd_events_duplicate_total{source=\"shop\"} 1\n",
            "hookd_events_committed_total{source=\"shop\"} 2\n",
            "hookd_store_commit_duration_seconds_bucket{le=\"0.005\"} 1\n",
            "hookd_commit_lag_seconds_bucket{source=\"shop\",le=\"0.01\"} 2\n",
            "hookd_commit_lag_seconds_count{source=\"shop\"} 2\n",
            // Only the event with a provider timestamp: 3 s.
            "hookd_provider_lag_seconds_bucket{source=\"shop\",le=\"2.5\"} 0\n",
            "hookd_provider_lag_seconds_bucket{source=\"shop\",le=\"5\"} 1\n",
            "hookd_provider_lag_seconds_count{source=\"shop\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} is missing from:\n{text}");
        }

        // The unknown source is in no row; the queues count the jobs.
        let rows = rows(&stats);
        let keys: Vec<_> = rows
            .iter()
            .map(|(scope, name, tenant, _)| (*scope, name.as_str(), tenant.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                (StatsScope::Source, "shop", "acme"),
                (StatsScope::Queue, "bulk", "*"),
                (StatsScope::Queue, "default", "*"),
            ]
        );
        let shop = &rows[0].3;
        assert_eq!(shop.received, 2);
        assert_eq!(shop.rejected_total(), 1);
        assert_eq!(shop.rejected["signature_mismatch"], 1);
        assert_eq!(shop.duplicates, 1);
        assert!(shop.last_received_at.is_some());
        assert_eq!(shop.lag_commit_ms.count(), 2);
        assert_eq!(shop.lag_commit_ms.quantile(1.0), Some(4));
        assert_eq!(shop.lag_provider_ms.count(), 1);
        assert!(
            shop.lag_provider_ms
                .quantile(0.5)
                .is_some_and(|ms| (3_000..3_300).contains(&ms)),
            "{shop:?}"
        );
        assert_eq!(rows[1].3.received, 1, "bulk: {:?}", rows[1].3);
        assert_eq!(rows[2].3.received, 2, "default: {:?}", rows[2].3);
    }

    #[test]
    fn job_outcomes_are_counted_by_queue_and_latencies_are_histograms() {
        let stats = Stats::default();
        let finished = |outcome, status_code, error| JobFinished {
            queue: "q",
            source: SHOP,
            job_id: 1,
            event_id: "evt_1",
            attempt: 1,
            outcome,
            status_code,
            error,
            duration_ms: 30,
            waiting_since: 1_000,
            finished_at: 5_000,
        };
        let text = scrape(|| {
            finished(JobOutcome::Succeeded, Some(200), None).emit(&stats);
            finished(
                JobOutcome::Retry { run_at: 5 },
                Some(503),
                Some("HTTP 503 Service Unavailable"),
            )
            .emit(&stats);
            finished(
                JobOutcome::Retry { run_at: 9 },
                None,
                Some("connect error: tcp connect error: Connection refused"),
            )
            .emit(&stats);
            finished(
                JobOutcome::Dead,
                Some(503),
                Some("HTTP 503 Service Unavailable"),
            )
            .emit(&stats);
            AttemptFinished {
                queue: "q",
                job_id: 1,
                event_id: "evt_1",
                attempt: 1,
                duration_ms: 30,
            }
            .emit();
            for attempt in [1, 2] {
                JobStarted {
                    queue: "q",
                    source: SHOP,
                    job_id: 1,
                    event_id: "evt_1",
                    attempt,
                    waiting_since: 1_000,
                    started_at: 3_000,
                }
                .emit(&stats);
            }
            UnkeyedJob {
                route: "by-customer",
                event_id: "evt_1",
            }
            .emit();
        });
        for line in [
            "hookd_job_outcomes_total{queue=\"q\",outcome=\"succeeded\"} 1\n",
            "hookd_job_outcomes_total{queue=\"q\",outcome=\"retrying\"} 2\n",
            "hookd_job_outcomes_total{queue=\"q\",outcome=\"dead\"} 1\n",
            "hookd_attempt_duration_seconds_bucket{queue=\"q\",le=\"0.025\"} 0\n",
            "hookd_attempt_duration_seconds_bucket{queue=\"q\",le=\"0.05\"} 1\n",
            "hookd_attempt_duration_seconds_count{queue=\"q\"} 1\n",
            // Only the first attempt measures the lag: 2 s.
            "hookd_first_attempt_lag_seconds_bucket{queue=\"q\",le=\"1\"} 0\n",
            "hookd_first_attempt_lag_seconds_bucket{queue=\"q\",le=\"2.5\"} 1\n",
            "hookd_first_attempt_lag_seconds_count{queue=\"q\"} 1\n",
            // Only the success measures the lag to success: 4 s.
            "hookd_succeeded_lag_seconds_bucket{queue=\"q\",le=\"2.5\"} 0\n",
            "hookd_succeeded_lag_seconds_bucket{queue=\"q\",le=\"5\"} 1\n",
            "hookd_succeeded_lag_seconds_count{queue=\"q\"} 1\n",
            "hookd_jobs_unkeyed_total{route=\"by-customer\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} is missing from:\n{text}");
        }

        // The queue's row and the source's row count the same.
        let rows = rows(&stats);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[0].0, rows[0].2.as_str()),
            (StatsScope::Source, "acme")
        );
        assert_eq!((rows[1].0, rows[1].2.as_str()), (StatsScope::Queue, "*"));
        for (_, name, _, rollup) in &rows {
            assert_eq!(
                (rollup.succeeded, rollup.failed, rollup.dead),
                (1, 2, 1),
                "{name}"
            );
            assert_eq!(rollup.processing_ms.count(), 4, "{name}");
            assert_eq!(rollup.lag_first_attempt_ms.count(), 1, "{name}");
            assert_eq!(rollup.lag_succeeded_ms.count(), 1, "{name}");
            assert_eq!(
                rollup
                    .errors
                    .iter()
                    .map(|(k, v)| (k.as_str(), *v))
                    .collect::<Vec<_>>(),
                [("HTTP 503", 2), ("connect error", 1)],
                "{name}"
            );
        }
    }
}
