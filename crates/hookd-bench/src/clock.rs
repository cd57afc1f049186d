//! The wall clock, read in one place. Intervals are measured with `Instant`; the wall
//! clock is only needed where two processes compare times (a send here, a delivery
//! recorded by `hookd sink`) and for the timestamp a signature covers.

use std::time::{SystemTime, UNIX_EPOCH};

/// Microseconds since the unix epoch, now.
#[allow(
    clippy::disallowed_methods,
    reason = "this is the one place the clock is read"
)]
pub(crate) fn now_unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
