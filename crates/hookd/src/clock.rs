//! The wall clock, read in one place so that the rest of the code takes `now` as a value,
//! and [`rfc3339`], the text form of its instants.

pub(crate) mod rfc3339;

use std::time::{SystemTime, UNIX_EPOCH};

use hookd_store::Millis;

/// Milliseconds since the unix epoch, now.
#[allow(
    clippy::disallowed_methods,
    reason = "this is the one place the clock is read"
)]
pub(crate) fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Seconds since the unix epoch, now.
pub(crate) fn now_secs() -> i64 {
    now_millis() / 1000
}

/// A duration as whole milliseconds, saturating.
pub(crate) fn millis(d: std::time::Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
