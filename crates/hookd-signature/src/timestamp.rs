//! Signed timestamps: parsing unix seconds and checking them against a tolerance.
//!
//! Schemes that sign a timestamp (Standard Webhooks, Stripe, Slack) reject deliveries whose
//! timestamp is too far from the receiver's clock, so a captured request cannot be replayed
//! later. The clock is always passed in (`now_secs`), never read here, so tests pin it.

use crate::SignatureError;

/// Parses a header value carrying unix seconds, such as `webhook-timestamp: 1614265330`.
///
/// Only ASCII digits are accepted: no sign, no whitespace, no fraction, no exponent. Leading
/// zeros are allowed.
///
/// # Errors
///
/// [`SignatureError::TimestampInvalid`] if `s` is empty, holds any other character, or does
/// not fit an `i64`.
pub fn parse_unix_timestamp(s: &str) -> Result<i64, SignatureError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::TimestampInvalid);
    }
    s.parse().map_err(|_| SignatureError::TimestampInvalid)
}

/// Checks that `timestamp_secs` lies within `tolerance_secs` of `now_secs`, in either
/// direction. A distance of exactly `tolerance_secs` is accepted.
///
/// Called by verifiers after parsing the timestamp and before computing any MAC.
///
/// # Errors
///
/// [`SignatureError::TimestampStale`] if `timestamp_secs < now_secs - tolerance_secs`,
/// [`SignatureError::TimestampFuture`] if `timestamp_secs > now_secs + tolerance_secs`. The
/// reported distance saturates at `i64::MAX`.
pub fn check_timestamp(
    timestamp_secs: i64,
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    // i128 holds every difference of two i64 and every u64, so nothing can overflow.
    let age = i128::from(now_secs) - i128::from(timestamp_secs);
    let tolerance = i128::from(tolerance_secs);
    let saturate = |d: i128| i64::try_from(d).unwrap_or(i64::MAX);
    if age > tolerance {
        Err(SignatureError::TimestampStale {
            age_secs: saturate(age),
        })
    } else if -age > tolerance {
        Err(SignatureError::TimestampFuture {
            ahead_secs: saturate(-age),
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{check_timestamp, parse_unix_timestamp};
    use crate::SignatureError;

    #[test]
    fn parses_plain_digits() {
        assert_eq!(parse_unix_timestamp("1614265330"), Ok(1_614_265_330));
        assert_eq!(parse_unix_timestamp("0"), Ok(0));
        assert_eq!(parse_unix_timestamp("007"), Ok(7));
        assert_eq!(
            parse_unix_timestamp("9223372036854775807"),
            Ok(i64::MAX),
            "the largest i64 is still a timestamp"
        );
    }

    #[test]
    fn rejects_anything_but_digits() {
        for bad in [
            "",
            "hello",
            "-1",
            "+1614265330",
            " 1614265330",
            "1614265330 ",
            "1614265330.5",
            "1.6e9",
            "0x10",
            "１２３", // full-width digits are not ASCII digits
            "9223372036854775808",
        ] {
            assert_eq!(
                parse_unix_timestamp(bad),
                Err(SignatureError::TimestampInvalid),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn boundary_of_tolerance_is_accepted() {
        assert_eq!(check_timestamp(1000, 1300, 300), Ok(()));
        assert_eq!(check_timestamp(1300, 1000, 300), Ok(()));
        assert_eq!(check_timestamp(1000, 1000, 0), Ok(()));
    }

    #[test]
    fn stale_timestamp_reports_its_age() {
        assert_eq!(
            check_timestamp(1000, 1301, 300),
            Err(SignatureError::TimestampStale { age_secs: 301 })
        );
        assert_eq!(
            check_timestamp(1000, 1412, 300),
            Err(SignatureError::TimestampStale { age_secs: 412 })
        );
    }

    #[test]
    fn future_timestamp_reports_how_far_ahead() {
        assert_eq!(
            check_timestamp(1301, 1000, 300),
            Err(SignatureError::TimestampFuture { ahead_secs: 301 })
        );
        assert_eq!(
            check_timestamp(1, 0, 0),
            Err(SignatureError::TimestampFuture { ahead_secs: 1 })
        );
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        assert_eq!(
            check_timestamp(i64::MIN, i64::MAX, 300),
            Err(SignatureError::TimestampStale { age_secs: i64::MAX })
        );
        assert_eq!(
            check_timestamp(i64::MAX, i64::MIN, u64::MAX),
            Ok(()),
            "a u64::MAX tolerance admits every i64 pair"
        );
        assert_eq!(
            check_timestamp(i64::MAX, 0, 300),
            Err(SignatureError::TimestampFuture {
                ahead_secs: i64::MAX
            })
        );
    }
}
