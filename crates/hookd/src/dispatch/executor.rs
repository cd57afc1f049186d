//! Runs one claimed job on its target and records the outcome: `succeeded`, `retrying`
//! with the queue's back-off (or the target's `Retry-After`), or `dead` when the failure
//! is permanent or the attempts are used up.

use hookd_store::{AttemptRecord, ClaimedJob, JobCompletion, JobOutcome, Target};

use super::backoff;
use crate::clock;
use crate::config::{Config, QueueConfig};
use crate::runtime::Services;
use crate::targets::http::{HttpTarget, Verdict};
use crate::telemetry::events::{AttemptFinished, JobFinished, JobStarted};
use crate::telemetry::stats::SourceRef;

/// Runs `claimed` and writes its completion. A completion that cannot be written is
/// logged and left to the lease: the rescuer brings the job back.
pub(super) async fn execute(services: Services, http: &HttpTarget, claimed: ClaimedJob) {
    let config = services.config.borrow().clone();
    let job = &claimed.job;
    let source = SourceRef {
        name: &claimed.event.source,
        tenant: &claimed.event.tenant,
    };
    // A job made with its event waits from the event's arrival; one a replay added
    // later, from when it was made.
    let waiting_since = claimed.event.received_at.max(job.created_at);
    JobStarted {
        queue: &job.queue,
        source,
        job_id: job.id,
        event_id: &job.event_id,
        attempt: job.attempts,
        waiting_since,
        started_at: clock::now_millis(),
    }
    .emit(&services.stats);
    let (verdict, record) = match &job.target {
        Target::Http { destination } => match config.destinations.get(destination) {
            Some(dest) => {
                let webhook_id = job.webhook_id(&claimed.event);
                let delivery = http.deliver(dest, &claimed.event, webhook_id).await;
                (delivery.verdict, delivery.record)
            }
            None => (
                Verdict::Permanent,
                AttemptRecord {
                    started_at: clock::now_millis(),
                    error: Some(format!("destination {destination:?} is not configured")),
                    ..AttemptRecord::default()
                },
            ),
        },
        _ => (
            Verdict::Permanent,
            AttemptRecord {
                started_at: clock::now_millis(),
                error: Some("this node cannot run the job's target".to_owned()),
                ..AttemptRecord::default()
            },
        ),
    };

    AttemptFinished {
        queue: &job.queue,
        job_id: job.id,
        event_id: &job.event_id,
        attempt: job.attempts,
        duration_ms: record.duration_ms,
    }
    .emit();

    let policy = queue_policy(&config, &job.queue);
    let finished_at = clock::now_millis();
    let outcome = decide(&policy, job.attempts, &verdict, finished_at);
    // Logged and counted once the store holds it, so a completion that is refused or
    // lost (the job comes back) is not counted twice.
    let error = record.error.clone();
    let finished = JobFinished {
        queue: &job.queue,
        source,
        job_id: job.id,
        event_id: &job.event_id,
        attempt: job.attempts,
        outcome,
        status_code: record.status_code,
        error: error.as_deref(),
        duration_ms: record.duration_ms,
        waiting_since,
        finished_at,
    };

    let completion = JobCompletion {
        job_id: job.id,
        attempt: job.attempts,
        node: services.node.clone(),
        outcome,
        record,
    };
    match services.store.job_complete_many(vec![completion]).await {
        Ok(applied) if applied.first() == Some(&false) => {
            tracing::info!(job_id = job.id, event_id = %job.event_id, "completion ignored: the lease had passed to another attempt");
        }
        Ok(_) => finished.emit(&services.stats),
        Err(error) => {
            tracing::error!(job_id = job.id, event_id = %job.event_id, %error, "job completion could not be written; the job returns when its lease expires");
        }
    }
}

/// The queue's settings now, or the defaults if the queue has been removed meanwhile.
fn queue_policy(config: &Config, queue: &str) -> QueueConfig {
    config
        .queues
        .get(queue)
        .or_else(|| config.queues.get("default"))
        .cloned()
        .unwrap_or_else(|| crate::config::QueueConfig::defaults(queue))
}

/// What happens to a job after attempt number `attempt` ended with `verdict`.
fn decide(policy: &QueueConfig, attempt: u32, verdict: &Verdict, now: i64) -> JobOutcome {
    match verdict {
        Verdict::Success => JobOutcome::Succeeded,
        Verdict::Permanent => JobOutcome::Dead,
        Verdict::Retry { .. } if attempt >= policy.max_attempts => JobOutcome::Dead,
        Verdict::Retry { retry_after } => {
            let delay = backoff::retry_delay(&policy.backoff, attempt, *retry_after);
            JobOutcome::Retry {
                run_at: now.saturating_add(clock::millis(delay)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{Backoff, Jitter};

    fn policy() -> QueueConfig {
        QueueConfig {
            backoff: Backoff {
                base: Duration::from_secs(2),
                max: Duration::from_secs(60),
                jitter: Jitter::None,
            },
            max_attempts: 3,
            ..QueueConfig::defaults("q")
        }
    }

    #[test]
    fn retries_until_the_last_attempt_then_dies() {
        let retry = Verdict::Retry { retry_after: None };
        assert_eq!(
            decide(&policy(), 1, &retry, 1_000),
            JobOutcome::Retry { run_at: 3_000 }
        );
        assert_eq!(
            decide(&policy(), 2, &retry, 1_000),
            JobOutcome::Retry { run_at: 5_000 }
        );
        assert_eq!(decide(&policy(), 3, &retry, 1_000), JobOutcome::Dead);
    }

    #[test]
    fn permanent_failures_die_at_once_and_successes_succeed() {
        assert_eq!(
            decide(&policy(), 1, &Verdict::Permanent, 0),
            JobOutcome::Dead
        );
        assert_eq!(
            decide(&policy(), 1, &Verdict::Success, 0),
            JobOutcome::Succeeded
        );
    }

    #[test]
    fn retry_after_replaces_the_backoff() {
        let retry = Verdict::Retry {
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            decide(&policy(), 1, &retry, 0),
            JobOutcome::Retry { run_at: 7_000 }
        );
    }
}
