//! Telemetry events: one struct per thing that happens, whose `emit()` writes its log line
//! and records its metrics, so that the two never drift apart (vector's
//! `internal_events`).
//!
//! Stages build an event where the thing happens and call `emit()`; they never call a
//! `metrics` macro or log the same fact themselves. Levels: what happens per webhook or
//! per job is DEBUG (TRACE for what another line already says); WARN only where an
//! operator should look. Every line about an event carries `event_id`, every line about a
//! job `job_id` and `event_id`.

// The one place the raw macros are allowed (clippy.toml bans them elsewhere).
#![allow(clippy::disallowed_macros)]

use std::fmt::Display;

use hookd_store::{JobOutcome, Millis};
use metrics::{counter, histogram};

use super::metrics::{
    ATTEMPT_DURATION_SECONDS, EVENTS_COMMITTED_TOTAL, EVENTS_DUPLICATE_TOTAL,
    FIRST_ATTEMPT_LAG_SECONDS, JOB_OUTCOMES_TOTAL, JOBS_UNKEYED_TOTAL,
    STORE_COMMIT_DURATION_SECONDS, UNKNOWN_SOURCE, WEBHOOKS_RECEIVED_TOTAL,
    WEBHOOKS_REJECTED_TOTAL,
};

/// The `source` label: the configured source, or [`UNKNOWN_SOURCE`].
fn source_label(source: Option<&str>) -> String {
    source.unwrap_or(UNKNOWN_SOURCE).to_owned()
}

/// Milliseconds as fractional seconds, the unit of every duration metric.
fn seconds(millis: Millis) -> f64 {
    millis.max(0) as f64 / 1000.0
}

/// A delivery reached ingest (`POST /in/{source}`), before any check.
#[derive(Debug)]
pub(crate) struct WebhookReceived<'a> {
    /// The source, or `None` when no source of that name is configured.
    pub(crate) source: Option<&'a str>,
}

impl WebhookReceived<'_> {
    /// Counts the delivery.
    pub(crate) fn emit(&self) {
        tracing::trace!("webhook received");
        counter!(WEBHOOKS_RECEIVED_TOTAL, "source" => source_label(self.source)).increment(1);
    }
}

/// Ingest turned a delivery away; nothing of it was stored.
pub(crate) struct WebhookRejected<'a> {
    /// The source, or `None` when no source of that name is configured.
    pub(crate) source: Option<&'a str>,
    /// The stable error code of the answer (`signature_mismatch`, …).
    pub(crate) reason: &'static str,
    /// What the answer's `detail` says.
    pub(crate) detail: &'a dyn Display,
}

impl WebhookRejected<'_> {
    /// Logs the rejection at DEBUG (a sender's mistake is not the operator's) and counts
    /// it by reason.
    pub(crate) fn emit(&self) {
        tracing::debug!(code = self.reason, rejection = %self.detail, "request rejected");
        counter!(
            WEBHOOKS_REJECTED_TOTAL,
            "source" => source_label(self.source),
            "reason" => self.reason,
        )
        .increment(1);
    }
}

/// An event of a delivery was a repeat of one already stored within the dedup window.
#[derive(Debug)]
pub(crate) struct WebhookDuplicate<'a> {
    /// The source.
    pub(crate) source: &'a str,
    /// The id of the event stored first, which the answer carries.
    pub(crate) event_id: &'a str,
}

impl WebhookDuplicate<'_> {
    /// Logs and counts the duplicate.
    pub(crate) fn emit(&self) {
        tracing::debug!(
            event_id = self.event_id,
            "duplicate of a stored event; not stored again"
        );
        counter!(EVENTS_DUPLICATE_TOTAL, "source" => self.source.to_owned()).increment(1);
    }
}

/// The store committed a delivery's events with their jobs; ingest is about to answer.
#[derive(Debug)]
pub(crate) struct EventsCommitted<'a> {
    /// The source.
    pub(crate) source: &'a str,
    /// The ids of the events stored new (duplicates are not among them).
    pub(crate) event_ids: &'a [&'a str],
    /// How long the store call took, group commit and fsync included.
    pub(crate) duration_ms: Millis,
}

impl EventsCommitted<'_> {
    /// Logs each new event, counts them, and records how long the commit took.
    pub(crate) fn emit(&self) {
        for event_id in self.event_ids {
            tracing::debug!(event_id, "event committed");
        }
        counter!(EVENTS_COMMITTED_TOTAL, "source" => self.source.to_owned())
            .increment(self.event_ids.len() as u64);
        histogram!(STORE_COMMIT_DURATION_SECONDS).record(seconds(self.duration_ms));
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
    /// The job.
    pub(crate) job_id: i64,
    /// Its event.
    pub(crate) event_id: &'a str,
    /// The attempt's number, 1 for the first.
    pub(crate) attempt: u32,
    /// When the event arrived.
    pub(crate) received_at: Millis,
    /// Now.
    pub(crate) started_at: Millis,
}

impl JobStarted<'_> {
    /// Logs the start; for a first attempt, records the lag since the event arrived.
    pub(crate) fn emit(&self) {
        tracing::debug!(
            job_id = self.job_id,
            event_id = self.event_id,
            attempt = self.attempt,
            "job started"
        );
        if self.attempt == 1 {
            histogram!(FIRST_ATTEMPT_LAG_SECONDS, "queue" => self.queue.to_owned())
                .record(seconds(self.started_at.saturating_sub(self.received_at)));
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
    /// The job.
    pub(crate) job_id: i64,
    /// Its event.
    pub(crate) event_id: &'a str,
    /// The attempt's number.
    pub(crate) attempt: u32,
    /// The job's next state.
    pub(crate) outcome: JobOutcome,
    /// Why the attempt failed, if it did.
    pub(crate) error: Option<&'a str>,
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
    /// and counts it.
    pub(crate) fn emit(&self) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::super::exporter;
    use super::*;

    /// Runs `emit` against a fresh recorder of this process's settings and returns what a
    /// scrape would show.
    fn scrape(emit: impl FnOnce()) -> String {
        let recorder = exporter::builder().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, emit);
        handle.render()
    }

    #[test]
    fn ingest_events_count_by_source_and_reason() {
        let text = scrape(|| {
            WebhookReceived {
                source: Some("shop"),
            }
            .emit();
            WebhookReceived { source: None }.emit();
            WebhookRejected {
                source: None,
                reason: "unknown_source",
                detail: &"no source named \"x\"",
            }
            .emit();
            WebhookDuplicate {
                source: "shop",
                event_id: "evt_1",
            }
            .emit();
            EventsCommitted {
                source: "shop",
                event_ids: &["evt_2", "evt_3"],
                duration_ms: 4,
            }
            .emit();
        });
        assert!(
            text.contains("hookd_webhooks_received_total{source=\"shop\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hookd_webhooks_received_total{source=\"(unknown)\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "hookd_webhooks_rejected_total{source=\"(unknown)\",reason=\"unknown_source\"} 1\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("hookd_events_duplicate_total{source=\"shop\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hookd_events_committed_total{source=\"shop\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("hookd_store_commit_duration_seconds_bucket{le=\"0.005\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn job_outcomes_are_counted_by_queue_and_latencies_are_histograms() {
        let finished = |outcome| JobFinished {
            queue: "q",
            job_id: 1,
            event_id: "evt_1",
            attempt: 1,
            outcome,
            error: None,
        };
        let text = scrape(|| {
            finished(JobOutcome::Succeeded).emit();
            finished(JobOutcome::Retry { run_at: 5 }).emit();
            finished(JobOutcome::Retry { run_at: 9 }).emit();
            finished(JobOutcome::Dead).emit();
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
                    job_id: 1,
                    event_id: "evt_1",
                    attempt,
                    received_at: 1_000,
                    started_at: 3_000,
                }
                .emit();
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
            "hookd_jobs_unkeyed_total{route=\"by-customer\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} is missing from:\n{text}");
        }
    }
}
