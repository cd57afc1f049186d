//! Standard Webhooks, symmetric version `v1`: secrets, signing and verification.
//!
//! Used on both sides of hookd: the `standard_webhooks` ingest preset verifies inbound
//! deliveries with [`verify`], and the `http` target signs every forwarded job with
//! [`Secret::sign`].
//!
//! # Format (per the spec at github.com/standard-webhooks/standard-webhooks)
//!
//! - Secret: `whsec_` followed by standard base64 of the key bytes (the prefix is optional).
//!   The decoded bytes are the HMAC key.
//! - Signed content: `{webhook-id}.{webhook-timestamp}.{raw body}`, the timestamp exactly as
//!   sent in its header (unix seconds).
//! - `webhook-signature`: a space-delimited list of `<version>,<signature>`; `v1` is
//!   HMAC-SHA256 in padded standard base64. Several entries appear during secret rotation.
//!   Other versions (`v1a` is Ed25519) are ignored here.
//! - Tolerance: the official libraries reject timestamps more than 5 minutes away
//!   ([`DEFAULT_TOLERANCE_SECS`]).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use subtle::{Choice, ConstantTimeEq as _};

use crate::mac::decode_mac;
use crate::{Encoding, SignatureError, check_timestamp, hmac_sha256, parse_unix_timestamp};

/// Default timestamp tolerance of the spec's official libraries: 300 s (5 minutes).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Prefix that marks a symmetric Standard Webhooks secret.
const SECRET_PREFIX: &str = "whsec_";

/// A symmetric Standard Webhooks secret: the raw HMAC key bytes.
///
/// Parsed once from configuration with [`Secret::parse`]; `Debug` never prints the key.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Parses a secret as shown to users: `whsec_` + standard base64 (with padding) of the
    /// key bytes. The same text without `whsec_` is accepted too, as the official
    /// libraries do.
    ///
    /// # Errors
    ///
    /// [`SignatureError::Malformed`] if the text after the optional prefix is not valid
    /// base64 or decodes to an empty key.
    pub fn parse(s: &str) -> Result<Secret, SignatureError> {
        // A known copy-paste mistake (standard-webhooks issue #235): `v1,` prefixes a
        // signature, never a secret; name it instead of reporting generic bad base64.
        if s.starts_with("v1,") {
            return Err(SignatureError::Malformed(
                "secret starts with \"v1,\", which prefixes signatures; give the whsec_ secret alone",
            ));
        }
        let encoded = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
        let key = BASE64.decode(encoded).map_err(|_| {
            SignatureError::Malformed("secret is not valid base64 after the optional whsec_ prefix")
        })?;
        if key.is_empty() {
            return Err(SignatureError::Malformed("secret is empty"));
        }
        Ok(Secret(key))
    }

    /// The raw key bytes used as the HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Signs one delivery and returns the `webhook-signature` entry for it:
    /// `v1,<base64 HMAC-SHA256 over "{id}.{timestamp}.{body}">`.
    ///
    /// [`verify`] accepts the result with this secret, the same `id`, `timestamp` (as its
    /// decimal text) and `body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let timestamp = timestamp.to_string();
        let mac = hmac_sha256(&self.0, &signed_content(id, &timestamp, body));
        format!("v1,{}", BASE64.encode(mac))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The parts of the signed content `{id}.{timestamp}.{body}`, fed to the MAC in order.
fn signed_content<'a>(id: &'a str, timestamp: &'a str, body: &'a [u8]) -> [&'a [u8]; 5] {
    [id.as_bytes(), b".", timestamp.as_bytes(), b".", body]
}

/// Verifies one delivery from its three headers and raw body.
///
/// `id`, `timestamp` and `signatures` are the values of `webhook-id`, `webhook-timestamp`
/// and `webhook-signature`. In order:
/// 1. The timestamp is parsed and checked against `now_secs` ± `tolerance_secs`, before any
///    MAC is computed.
/// 2. `id` must not be empty (an absent header is passed as `""`).
/// 3. Every `v1,<base64>` entry of `signatures` is compared in constant time with the MAC
///    under every secret; entries of other versions are ignored. The MAC covers `timestamp`
///    exactly as given.
///
/// # Errors
///
/// - [`SignatureError::TimestampInvalid`], [`SignatureError::TimestampStale`] or
///   [`SignatureError::TimestampFuture`] from step 1.
/// - [`SignatureError::Malformed`] if `id` is empty, if `signatures` holds no `v1` entry,
///   or if no `v1` entry decodes to a 32-byte tag.
/// - [`SignatureError::Mismatch`] if at least one `v1` entry decodes but none matches any
///   secret (also when `secrets` is empty).
pub fn verify(
    secrets: &[Secret],
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    check_timestamp(parse_unix_timestamp(timestamp)?, now_secs, tolerance_secs)?;
    if id.is_empty() {
        return Err(SignatureError::Malformed("webhook-id is empty"));
    }

    let content = signed_content(id, timestamp, body);
    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .map(|secret| hmac_sha256(secret.as_bytes(), &content))
        .collect();

    let mut saw_v1 = false;
    let mut decoded_any = false;
    let mut matched = Choice::from(0);
    for entry in signatures.split(' ').filter(|entry| !entry.is_empty()) {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            continue;
        };
        saw_v1 = true;
        let Ok(tag) = decode_mac(encoded, Encoding::Base64) else {
            continue;
        };
        decoded_any = true;
        for mac in &expected {
            matched |= mac.ct_eq(&tag);
        }
    }

    if bool::from(matched) {
        Ok(())
    } else if decoded_any {
        Err(SignatureError::Mismatch)
    } else if saw_v1 {
        Err(SignatureError::Malformed(
            "webhook-signature has no v1 entry that is base64 of a 32-byte HMAC-SHA256",
        ))
    } else {
        Err(SignatureError::Malformed(
            "webhook-signature has no v1 entry",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_TOLERANCE_SECS, Secret, verify};
    use crate::SignatureError;

    /// The official vector of the JS, Go and Python libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> Secret {
        Secret::parse(SECRET).expect("official secret parses")
    }

    fn verify_at(secrets: &[Secret], signatures: &str, now: i64) -> Result<(), SignatureError> {
        verify(
            secrets,
            ID,
            &TS.to_string(),
            signatures,
            BODY,
            now,
            DEFAULT_TOLERANCE_SECS,
        )
    }

    #[test]
    fn sign_reproduces_official_vector() {
        assert_eq!(secret().sign(ID, TS, BODY), SIGNATURE);
    }

    #[test]
    fn sign_then_verify_roundtrips() {
        let secret = Secret::parse("whsec_c2VjcmV0IGtleSBieXRlcyBmb3IgdGVzdGluZw==").unwrap();
        let body = b"{\"type\":\"contact.created\"}";
        let signature = secret.sign("msg_1", 1_700_000_000, body);
        let ok = verify(
            std::slice::from_ref(&secret),
            "msg_1",
            "1700000000",
            &signature,
            body,
            1_700_000_000,
            DEFAULT_TOLERANCE_SECS,
        );
        assert_eq!(ok, Ok(()));
        let other_id = verify(
            &[secret],
            "msg_2",
            "1700000000",
            &signature,
            body,
            1_700_000_000,
            DEFAULT_TOLERANCE_SECS,
        );
        assert_eq!(other_id, Err(SignatureError::Mismatch));
    }

    #[test]
    fn secret_without_prefix_is_the_same_key() {
        let bare = Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(bare.as_bytes(), secret().as_bytes());
        assert_eq!(bare.as_bytes().len(), 24);
    }

    #[test]
    fn secret_parse_rejects_bad_text() {
        for bad in [
            "whsec_",
            "",
            "whsec_not base64!",
            "v1,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            let err = Secret::parse(bad).expect_err(bad);
            assert!(
                matches!(err, SignatureError::Malformed(_)),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(
            Secret::parse("whsec_").unwrap_err(),
            SignatureError::Malformed("secret is empty")
        );
    }

    #[test]
    fn secret_debug_does_not_leak_the_key() {
        let secret = secret();
        let printed = format!("{secret:?} {:?}", std::slice::from_ref(&secret));
        assert_eq!(printed, "Secret(..) [Secret(..)]");
        assert!(!printed.contains("MfKQ"));
    }

    #[test]
    fn rotation_accepts_when_second_secret_matches() {
        let old = Secret::parse("whsec_b2xkIHNlY3JldA==").unwrap();
        assert_eq!(verify_at(&[old.clone(), secret()], SIGNATURE, TS), Ok(()));
        assert_eq!(verify_at(&[secret(), old.clone()], SIGNATURE, TS), Ok(()));
        assert_eq!(
            verify_at(&[old], SIGNATURE, TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn any_listed_v1_entry_may_match() {
        let list = format!("v1,Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI= v1a,abc {SIGNATURE}");
        assert_eq!(verify_at(&[secret()], &list, TS), Ok(()));
        let padded = format!("  v2,xyz   {SIGNATURE}  ");
        assert_eq!(verify_at(&[secret()], &padded, TS), Ok(()));
    }

    #[test]
    fn other_versions_are_ignored() {
        let list = "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert_eq!(
            verify_at(&[secret()], list, TS),
            Err(SignatureError::Malformed(
                "webhook-signature has no v1 entry"
            ))
        );
        assert_eq!(
            verify_at(&[secret()], "", TS),
            Err(SignatureError::Malformed(
                "webhook-signature has no v1 entry"
            ))
        );
        assert_eq!(
            verify_at(
                &[secret()],
                "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                TS
            ),
            Err(SignatureError::Malformed(
                "webhook-signature has no v1 entry"
            )),
            "the version is case-sensitive"
        );
    }

    #[test]
    fn undecodable_v1_entries_are_malformed_but_a_decodable_one_decides() {
        let truncated = &SIGNATURE[..SIGNATURE.len() - 2];
        assert!(matches!(
            verify_at(&[secret()], truncated, TS),
            Err(SignatureError::Malformed(_))
        ));
        let list = format!("{truncated} {SIGNATURE}");
        assert_eq!(verify_at(&[secret()], &list, TS), Ok(()));
        let wrong = "v1,Zm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyZm9vYmFyMTI=";
        let list = format!("{truncated} {wrong}");
        assert_eq!(
            verify_at(&[secret()], &list, TS),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_rejected_before_the_mac() {
        let tol = i64::try_from(DEFAULT_TOLERANCE_SECS).unwrap();
        assert_eq!(verify_at(&[secret()], SIGNATURE, TS + tol), Ok(()));
        assert_eq!(verify_at(&[secret()], SIGNATURE, TS - tol), Ok(()));
        assert_eq!(
            verify_at(&[secret()], SIGNATURE, TS + tol + 1),
            Err(SignatureError::TimestampStale { age_secs: tol + 1 })
        );
        assert_eq!(
            verify_at(&[secret()], SIGNATURE, TS - tol - 1),
            Err(SignatureError::TimestampFuture {
                ahead_secs: tol + 1
            })
        );
        // The timestamp check comes first even when the signature is garbage.
        assert_eq!(
            verify_at(&[secret()], "garbage", TS + 1000),
            Err(SignatureError::TimestampStale { age_secs: 1000 })
        );
    }

    #[test]
    fn timestamp_must_be_digits() {
        let result = verify(
            &[secret()],
            ID,
            " 1614265330",
            SIGNATURE,
            BODY,
            TS,
            DEFAULT_TOLERANCE_SECS,
        );
        assert_eq!(result, Err(SignatureError::TimestampInvalid));
    }

    #[test]
    fn empty_id_is_malformed() {
        let result = verify(
            &[secret()],
            "",
            "1614265330",
            SIGNATURE,
            BODY,
            TS,
            DEFAULT_TOLERANCE_SECS,
        );
        assert_eq!(
            result,
            Err(SignatureError::Malformed("webhook-id is empty"))
        );
    }

    #[test]
    fn timestamp_text_is_signed_as_sent() {
        // Leading zeros parse to the same instant but are different signed content.
        let result = verify(
            &[secret()],
            ID,
            "01614265330",
            SIGNATURE,
            BODY,
            TS,
            DEFAULT_TOLERANCE_SECS,
        );
        assert_eq!(result, Err(SignatureError::Mismatch));
    }
}
