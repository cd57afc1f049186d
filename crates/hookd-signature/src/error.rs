//! The one error type of this crate: why a signature or timestamp was rejected.
//!
//! Every verifier returns [`SignatureError`]; ingest maps it to a 4xx answer and shows its
//! `Display` text to the client as `detail`, so messages are precise and never contain a
//! secret.

/// Why a webhook signature (or its signed timestamp) was rejected.
///
/// Callers branch on the variant: [`Malformed`](Self::Malformed) and the timestamp
/// variants mean the request itself is broken or replayed, [`Mismatch`](Self::Mismatch) means
/// it is well formed but not signed with any configured secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature (or secret) text cannot be used at all: wrong or missing prefix, not
    /// valid hex/base64, wrong decoded length, no signature of a supported version. The
    /// detail is a full sentence saying which.
    #[error("{0}")]
    Malformed(&'static str),
    /// The signature decoded fine, but no configured secret produces it for this message.
    #[error("signature does not match")]
    Mismatch,
    /// The timestamp is not an integer number of unix seconds (only ASCII digits allowed).
    #[error("timestamp is not an integer number of unix seconds")]
    TimestampInvalid,
    /// The timestamp is older than the tolerance allows (a possible replay).
    #[error("timestamp is {age_secs} s old, older than the allowed tolerance")]
    TimestampStale {
        /// How many seconds before `now` the timestamp lies (always positive).
        age_secs: i64,
    },
    /// The timestamp lies further in the future than the tolerance allows.
    #[error("timestamp is {ahead_secs} s in the future, further than the allowed tolerance")]
    TimestampFuture {
        /// How many seconds after `now` the timestamp lies (always positive).
        ahead_secs: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::SignatureError;

    #[test]
    fn display_texts_are_client_ready() {
        assert_eq!(
            SignatureError::Malformed("signature is not valid hex").to_string(),
            "signature is not valid hex"
        );
        assert_eq!(
            SignatureError::TimestampStale { age_secs: 412 }.to_string(),
            "timestamp is 412 s old, older than the allowed tolerance"
        );
        assert_eq!(
            SignatureError::TimestampFuture { ahead_secs: 301 }.to_string(),
            "timestamp is 301 s in the future, further than the allowed tolerance"
        );
    }
}
