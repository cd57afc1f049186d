//! The retry policy: how long a job waits after a failed attempt before the next one.
//!
//! Dispatch calls [`retry_delay`] when a target answers [`Verdict::Retry`] and the job
//! has attempts left; the job goes `retrying` with `run_at = now + delay`. This is the
//! only place that computes such a wait.
//!
//! [`Verdict::Retry`]: crate::targets::http::Verdict::Retry

use std::time::Duration;

use rand::Rng as _;

use crate::config::{Backoff, Jitter};

/// The wait before the next attempt, after failed attempt number `attempt` (1-based).
///
/// The schedule is exponential: `base × 2^(attempt-1)`, capped at `max`. With the
/// defaults (`base = "2s"`, `max = "1h"`) the waits after attempts 1, 2, 3, … are
/// 2s, 4s, 8s, 16s, 32s, 64s, 128s, 256s, 512s, 1024s, 2048s, then 1h for every later
/// one. With [`Jitter::Full`] the wait is drawn uniformly from zero to that value, so
/// that jobs failing together do not come back together; with [`Jitter::None`] it is the
/// value itself.
///
/// A `retry_after` the target asked for (`Retry-After`) replaces the schedule: it is used
/// as is, without jitter, but never longer than `max`.
///
/// Never panics: attempt 0 counts as 1, and very large attempts stay at `max`.
pub(crate) fn retry_delay(
    policy: &Backoff,
    attempt: u32,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(asked) = retry_after {
        return asked.min(policy.max);
    }
    let exponent = attempt.saturating_sub(1);
    // 2^exponent overflows u32 from 32 on; the capped value is the answer then anyway.
    let delay = 1u32
        .checked_shl(exponent)
        .and_then(|factor| policy.base.checked_mul(factor))
        .map_or(policy.max, |delay| delay.min(policy.max));
    match policy.jitter {
        Jitter::None => delay,
        Jitter::Full => full_jitter(delay),
    }
}

/// A uniformly random duration in `[0, upper]`, at nanosecond resolution.
fn full_jitter(upper: Duration) -> Duration {
    // Up to 584 years fit in u64 nanoseconds; anything longer is drawn from that range.
    let nanos = u64::try_from(upper.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn backoff(base: Duration, max: Duration, jitter: Jitter) -> Backoff {
        Backoff { base, max, jitter }
    }

    fn defaults(jitter: Jitter) -> Backoff {
        backoff(2 * SECOND, Duration::from_secs(3600), jitter)
    }

    #[test]
    fn default_schedule_doubles_from_two_seconds_up_to_an_hour() {
        let policy = defaults(Jitter::None);
        let schedule: Vec<u64> = (1..=14)
            .map(|attempt| retry_delay(&policy, attempt, None).as_secs())
            .collect();
        assert_eq!(
            schedule,
            [
                2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3600, 3600, 3600
            ]
        );
    }

    #[test]
    fn attempt_zero_counts_as_the_first() {
        let policy = defaults(Jitter::None);
        assert_eq!(retry_delay(&policy, 0, None), 2 * SECOND);
    }

    #[test]
    fn huge_attempt_numbers_stay_at_max_without_overflow() {
        let policy = defaults(Jitter::None);
        for attempt in [31, 32, 33, 64, 1000, u32::MAX] {
            assert_eq!(retry_delay(&policy, attempt, None), policy.max, "{attempt}");
        }
        let huge = backoff(Duration::MAX, Duration::MAX, Jitter::None);
        assert_eq!(retry_delay(&huge, 2, None), Duration::MAX);
        let huge_full = backoff(Duration::MAX, Duration::MAX, Jitter::Full);
        retry_delay(&huge_full, u32::MAX, None);
    }

    #[test]
    fn max_below_base_caps_the_first_wait_too() {
        let policy = backoff(10 * SECOND, 3 * SECOND, Jitter::None);
        assert_eq!(retry_delay(&policy, 1, None), 3 * SECOND);
    }

    #[test]
    fn zero_base_means_no_wait() {
        let policy = backoff(Duration::ZERO, SECOND, Jitter::Full);
        assert_eq!(retry_delay(&policy, 5, None), Duration::ZERO);
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_computed_wait() {
        let policy = defaults(Jitter::Full);
        let mut draws = Vec::new();
        for _ in 0..1000 {
            let delay = retry_delay(&policy, 3, None);
            assert!(delay <= 8 * SECOND, "{delay:?}");
            draws.push(delay);
        }
        // 1000 uniform draws over [0, 8s] do not all land in one half.
        assert!(draws.iter().any(|d| *d < 4 * SECOND));
        assert!(draws.iter().any(|d| *d > 4 * SECOND));
    }

    #[test]
    fn retry_after_replaces_the_schedule_without_jitter() {
        for jitter in [Jitter::Full, Jitter::None] {
            let policy = defaults(jitter);
            assert_eq!(retry_delay(&policy, 1, Some(7 * SECOND)), 7 * SECOND);
            assert_eq!(retry_delay(&policy, 12, Some(7 * SECOND)), 7 * SECOND);
            assert_eq!(
                retry_delay(&policy, 3, Some(Duration::ZERO)),
                Duration::ZERO
            );
        }
    }

    #[test]
    fn retry_after_is_capped_at_max() {
        let policy = defaults(Jitter::None);
        assert_eq!(
            retry_delay(&policy, 1, Some(Duration::from_secs(86_400))),
            policy.max
        );
        assert_eq!(retry_delay(&policy, 1, Some(Duration::MAX)), policy.max);
    }
}
