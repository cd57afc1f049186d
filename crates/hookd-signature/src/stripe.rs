//! Stripe's `Stripe-Signature` scheme: signing and verification.
//!
//! Used by the `stripe` ingest preset (verify) and by `hookd send --preset stripe` (sign).
//!
//! # Format (docs.stripe.com/webhooks/signature, and the official SDKs)
//!
//! - Header: comma-separated `key=value` elements, `t=<unix seconds>,v1=<hex>`. During a
//!   secret roll Stripe sends one `v1` per active secret; test-mode events also carry a
//!   `v0` element. Elements of other schemes are ignored; any matching `v1` is accepted.
//! - Signed content: `{t}.{raw body}`, `t` exactly as sent.
//! - MAC: HMAC-SHA256 in lower-case hex. The endpoint secret is used verbatim as the key,
//!   `whsec_` prefix included: unlike Standard Webhooks, it is not base64-decoded.
//! - Tolerance: the SDKs reject timestamps more than 300 s away
//!   ([`DEFAULT_TOLERANCE_SECS`]).
//!
//! The header is parsed strictly: no whitespace is trimmed, exactly one `t` is allowed,
//! and an element without `=` belongs to no known scheme and is ignored.

use subtle::{Choice, ConstantTimeEq as _};

use crate::mac::decode_mac;
use crate::{
    Encoding, SignatureError, check_timestamp, encode_signature, hmac_sha256, parse_unix_timestamp,
};

/// Default timestamp tolerance of Stripe's SDKs: 300 s (`stripe-go` `DefaultTolerance`).
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// The header has no `t=` element.
const NO_TIMESTAMP: SignatureError =
    SignatureError::Malformed("Stripe-Signature has no t= element");
/// The header has several `t=` elements, so which one is signed is ambiguous.
const SEVERAL_TIMESTAMPS: SignatureError =
    SignatureError::Malformed("Stripe-Signature has more than one t= element");
/// The header has no `v1=` element (only other schemes, or nothing).
const NO_V1: SignatureError = SignatureError::Malformed("Stripe-Signature has no v1 element");
/// Every `v1=` element fails to decode.
const NO_DECODABLE_V1: SignatureError = SignatureError::Malformed(
    "Stripe-Signature has no v1 element that is hex of a 32-byte HMAC-SHA256",
);

/// The elements of a `Stripe-Signature` header that verification reads.
#[derive(Debug, PartialEq, Eq)]
struct Header<'a> {
    /// The `t` value, as sent.
    timestamp: &'a str,
    /// Every `v1` value, in order.
    v1: Vec<&'a str>,
}

/// Splits a header value into its `t` and `v1` elements.
fn parse(header: &str) -> Result<Header<'_>, SignatureError> {
    let mut timestamp = None;
    let mut v1 = Vec::new();
    for (key, value) in header
        .split(',')
        .filter_map(|element| element.split_once('='))
    {
        match key {
            "t" if timestamp.is_some() => return Err(SEVERAL_TIMESTAMPS),
            "t" => timestamp = Some(value),
            "v1" => v1.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(NO_TIMESTAMP)?;
    if v1.is_empty() {
        return Err(NO_V1);
    }
    Ok(Header { timestamp, v1 })
}

/// Verifies one delivery from its `Stripe-Signature` header value and raw body.
///
/// In order: the header is parsed (`t` and every `v1`); `t` is checked against
/// `now_secs` ± `tolerance_secs` before any MAC is computed; then every `v1` is compared
/// in constant time with the MAC of `{t}.{body}` under every secret (each used as its raw
/// bytes, `whsec_` included). All pairs are always compared, so timing reveals neither the
/// MAC nor which secret matched.
///
/// # Errors
///
/// - [`SignatureError::Malformed`] if the header has no `t`, more than one `t`, no `v1`,
///   or no `v1` that decodes to a 32-byte tag.
/// - [`SignatureError::TimestampInvalid`], [`SignatureError::TimestampStale`] or
///   [`SignatureError::TimestampFuture`] for a `t` that is not unix seconds or lies
///   outside the tolerance.
/// - [`SignatureError::Mismatch`] if some `v1` decodes but none matches any secret (also
///   when `secrets` is empty).
pub fn verify(
    secrets: &[impl AsRef<[u8]>],
    header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<(), SignatureError> {
    let header = parse(header)?;
    check_timestamp(
        parse_unix_timestamp(header.timestamp)?,
        now_secs,
        tolerance_secs,
    )?;

    let content: [&[u8]; 3] = [header.timestamp.as_bytes(), b".", body];
    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .map(|secret| hmac_sha256(secret.as_ref(), &content))
        .collect();

    let mut decoded_any = false;
    let mut matched = Choice::from(0);
    for signature in &header.v1 {
        let Ok(tag) = decode_mac(signature, Encoding::Hex) else {
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
    } else {
        Err(NO_DECODABLE_V1)
    }
}

/// Signs one delivery as Stripe does and returns the whole `Stripe-Signature` value,
/// `t={timestamp},v1={hex HMAC-SHA256 over "{timestamp}.{body}"}`, the secret used as
/// given.
///
/// [`verify`] accepts the result with the same secret and body while `timestamp` is
/// within the tolerance.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    let mac = hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", encode_signature(&mac, Encoding::Hex, None))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{
        DEFAULT_TOLERANCE_SECS, Header, NO_DECODABLE_V1, NO_TIMESTAMP, NO_V1, SEVERAL_TIMESTAMPS,
        parse, sign, verify,
    };
    use crate::SignatureError;

    /// One vector of `tests/fixtures/stripe.json`.
    struct Vector {
        id: String,
        secret: String,
        header: String,
        body: String,
        valid: bool,
        expected_signature: String,
        verify_at: i64,
    }

    /// The vectors of `tests/fixtures/stripe.json` (a copy of hookd's
    /// `shared/fixtures/providers/stripe.json`).
    fn vectors() -> Vec<Vector> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stripe.json");
        let text = std::fs::read_to_string(path).expect("reading stripe.json");
        let json: Value = serde_json::from_str(&text).expect("stripe.json is JSON");
        let text = |v: &Value, key: &str| v[key].as_str().unwrap_or_default().to_owned();
        json["vectors"]
            .as_array()
            .expect("a vectors array")
            .iter()
            .map(|v| Vector {
                id: text(v, "id"),
                secret: text(v, "secret"),
                header: text(&v["headers"], "Stripe-Signature"),
                body: text(v, "body"),
                valid: v["expected_result"] == "valid",
                expected_signature: text(v, "expected_signature"),
                verify_at: v["verify_at_unix"].as_i64().unwrap_or(0),
            })
            .collect()
    }

    fn vector(id: &str) -> Vector {
        vectors()
            .into_iter()
            .find(|v| v.id == id)
            .unwrap_or_else(|| panic!("stripe.json has no vector {id}"))
    }

    fn verify_vector(v: &Vector, now: i64) -> Result<(), SignatureError> {
        verify(
            &[v.secret.as_str()],
            &v.header,
            v.body.as_bytes(),
            now,
            DEFAULT_TOLERANCE_SECS,
        )
    }

    #[test]
    fn every_fixture_vector_has_its_expected_outcome() {
        let invalid = [
            ("stripe-only-v0", NO_V1),
            ("stripe-malformed-header", NO_TIMESTAMP),
            ("stripe-secret-misinterpreted", SignatureError::Mismatch),
        ];
        let vectors = vectors();
        assert!(vectors.len() >= 6, "{} vectors", vectors.len());
        for v in &vectors {
            let result = verify_vector(v, v.verify_at);
            if v.valid {
                assert_eq!(result, Ok(()), "{}", v.id);
            } else {
                let (_, expected) = invalid
                    .iter()
                    .find(|(id, _)| *id == v.id)
                    .unwrap_or_else(|| panic!("{}: invalid vector without an expectation", v.id));
                assert_eq!(result.err().as_ref(), Some(expected), "{}", v.id);
            }
        }
        for (id, _) in &invalid {
            assert!(vectors.iter().any(|v| v.id == *id), "{id} not in fixtures");
        }
    }

    #[test]
    fn sign_reproduces_the_fixture_signatures() {
        for id in ["stripe-basic", "stripe-rolled-secret-new"] {
            let v = vector(id);
            let signed = sign(&v.secret, v.verify_at, v.body.as_bytes());
            assert_eq!(
                signed,
                format!("t={},v1={}", v.verify_at, v.expected_signature),
                "{id}"
            );
            let at = v.verify_at;
            assert_eq!(
                verify_vector(
                    &Vector {
                        header: signed,
                        ..v
                    },
                    at
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn the_secret_is_used_verbatim_not_base64_decoded() {
        let v = vector("stripe-secret-misinterpreted");
        // The vector is signed with the key bytes after `whsec_`; those verify it, the
        // configured secret does not.
        let stripped = v.secret.strip_prefix("whsec_").expect("a whsec_ secret");
        assert_eq!(
            verify(
                &[stripped],
                &v.header,
                v.body.as_bytes(),
                v.verify_at,
                DEFAULT_TOLERANCE_SECS
            ),
            Ok(())
        );
        assert_eq!(
            verify_vector(&v, v.verify_at),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn rotation_accepts_either_secret_and_either_v1() {
        let rolled = vector("stripe-rolled-secret-new");
        let basic = vector("stripe-basic");
        for secrets in [
            vec![basic.secret.as_str()],
            vec![rolled.secret.as_str()],
            vec![basic.secret.as_str(), rolled.secret.as_str()],
            vec![rolled.secret.as_str(), basic.secret.as_str()],
        ] {
            let result = verify(
                &secrets,
                &rolled.header,
                rolled.body.as_bytes(),
                rolled.verify_at,
                DEFAULT_TOLERANCE_SECS,
            );
            assert_eq!(result, Ok(()), "{secrets:?}");
        }
        let retired = verify(
            &["whsec_retired"],
            &rolled.header,
            rolled.body.as_bytes(),
            rolled.verify_at,
            DEFAULT_TOLERANCE_SECS,
        );
        assert_eq!(retired, Err(SignatureError::Mismatch));
        let no_secrets: [&str; 0] = [];
        let none = verify(
            &no_secrets,
            &rolled.header,
            rolled.body.as_bytes(),
            rolled.verify_at,
            DEFAULT_TOLERANCE_SECS,
        );
        assert_eq!(none, Err(SignatureError::Mismatch));
    }

    #[test]
    fn the_tolerance_is_checked_both_ways_before_the_mac() {
        let v = vector("stripe-basic");
        let at = v.verify_at;
        let tolerance = i64::try_from(DEFAULT_TOLERANCE_SECS).expect("fits");
        assert_eq!(verify_vector(&v, at + tolerance), Ok(()));
        assert_eq!(verify_vector(&v, at - tolerance), Ok(()));
        assert_eq!(
            verify_vector(&v, at + tolerance + 1),
            Err(SignatureError::TimestampStale {
                age_secs: tolerance + 1
            })
        );
        assert_eq!(
            verify_vector(&v, at - tolerance - 1),
            Err(SignatureError::TimestampFuture {
                ahead_secs: tolerance + 1
            })
        );
        let garbage = Vector {
            header: format!("t={at},v1=zz"),
            ..vector("stripe-basic")
        };
        assert_eq!(
            verify_vector(&garbage, at + 1000),
            Err(SignatureError::TimestampStale { age_secs: 1000 })
        );
    }

    #[test]
    fn one_changed_body_byte_is_a_mismatch() {
        let v = vector("stripe-basic");
        let mut body = v.body.clone().into_bytes();
        body[10] ^= 1;
        assert_eq!(
            verify(
                &[v.secret.as_str()],
                &v.header,
                &body,
                v.verify_at,
                DEFAULT_TOLERANCE_SECS
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn the_parser_reads_t_and_every_v1_and_ignores_other_schemes() {
        assert_eq!(
            parse("t=1,v1=aa,v0=bb,v1=cc,x=y,novalue"),
            Ok(Header {
                timestamp: "1",
                v1: vec!["aa", "cc"],
            })
        );
        assert_eq!(
            parse("v1=aa,t=7"),
            Ok(Header {
                timestamp: "7",
                v1: vec!["aa"],
            }),
            "order does not matter"
        );
        assert_eq!(
            parse("v1=a=b,t=1"),
            Ok(Header {
                timestamp: "1",
                v1: vec!["a=b"],
            }),
            "a value is everything after the first ="
        );
    }

    #[test]
    fn the_parser_rejects_what_is_not_a_stripe_header() {
        for (header, expected) in [
            ("", NO_TIMESTAMP),
            ("v1=aa", NO_TIMESTAMP),
            ("T=1,v1=aa", NO_TIMESTAMP),
            (" t=1,v1=aa", NO_TIMESTAMP),
            ("t=1", NO_V1),
            ("t=1,v0=aa", NO_V1),
            ("t=1,V1=aa", NO_V1),
            ("t=1, v1=aa", NO_V1),
            ("t=1,t=2,v1=aa", SEVERAL_TIMESTAMPS),
        ] {
            assert_eq!(parse(header), Err(expected), "{header:?}");
        }
    }

    #[test]
    fn undecodable_v1_values_are_malformed_unless_another_decodes() {
        let v = vector("stripe-basic");
        let good = &v.expected_signature;
        let at = v.verify_at;
        let with = |header: String| Vector {
            header,
            ..vector("stripe-basic")
        };
        assert_eq!(
            verify_vector(&with(format!("t={at},v1=xyz,v1={}", &good[..62])), at),
            Err(NO_DECODABLE_V1)
        );
        assert_eq!(
            verify_vector(&with(format!("t={at},v1=xyz,v1={good}")), at),
            Ok(())
        );
        assert_eq!(
            verify_vector(&with(format!("t={at},v1=xyz,v1={}", "ab".repeat(32))), at),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_vector(&with(format!("t=+{at},v1={good}")), at),
            Err(SignatureError::TimestampInvalid)
        );
    }
}
