//! Checks the crate against the externally sourced provider vectors in `tests/fixtures/`
//! (copies of hookd's `shared/fixtures/providers/*.json`, so a clone can run them alone).
//!
//! Every vector of a scheme built from this crate is run with the vector's `verify_at_unix`
//! as the clock: `valid` ones must verify (and re-signing must reproduce the published
//! signature), and each `invalid (...)` one must fail with exactly the error listed for its
//! id below. An invalid vector missing from those lists, or a listed id missing from the
//! file, fails the test, so vectors cannot be skipped silently.
//!
//! GitHub has no module of its own in this crate; its header handling lives in hookd's
//! ingest preset, which calls [`verify_hmac_sha256`] exactly as the test below does.
//! Stripe's vectors run through [`hookd_signature::stripe`]; HighLevel's, with their
//! public keys, in [`highlevel`].

mod highlevel;

use hookd_signature::standard_webhooks::{self, Secret};
use hookd_signature::{
    Encoding, SignatureError, encode_signature, hmac_sha256, parse_unix_timestamp, stripe,
    verify_hmac_sha256,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Stripe's default tolerance (`stripe-go` `DefaultTolerance = 300 * time.Second`).
const STRIPE_TOLERANCE_SECS: u64 = stripe::DEFAULT_TOLERANCE_SECS;

const STRIPE_NO_TIMESTAMP: SignatureError =
    SignatureError::Malformed("Stripe-Signature has no t= element");
const STRIPE_NO_V1: SignatureError =
    SignatureError::Malformed("Stripe-Signature has no v1 element");

/// One vector, reduced to what the verifiers need.
#[derive(Debug)]
struct Vector {
    id: String,
    scheme: String,
    secret: String,
    headers: Value,
    body: String,
    expected_signature: Option<String>,
    valid: bool,
    verify_at_unix: Option<i64>,
}

impl Vector {
    /// Header value by case-insensitive name, as an HTTP server looks it up.
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| value.as_str())
    }

    /// The clock for this vector; vectors that fail before any clock is read have none.
    fn now(&self) -> i64 {
        self.verify_at_unix.unwrap_or(0)
    }
}

fn load(file: &str) -> Vec<Vector> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    let vectors = json["vectors"].as_array().expect("`vectors` array");
    assert!(!vectors.is_empty(), "{file} has no vectors");
    vectors.iter().map(vector).collect()
}

fn vector(v: &Value) -> Vector {
    let text = |key: &str| v[key].as_str().map(ToOwned::to_owned);
    let id = text("id").expect("vector id");
    let expected = text("expected_result").expect("expected_result");
    let valid = match expected.as_str() {
        "valid" => true,
        reason if reason.starts_with("invalid") => false,
        other => panic!("{id}: unknown expected_result {other:?}"),
    };
    let body = text("body").expect("body");
    if let Some(sha) = v["body_sha256"].as_str() {
        assert_eq!(
            hex::encode(Sha256::digest(body.as_bytes())),
            sha,
            "{id}: the loaded body is not the signed bytes"
        );
    }
    Vector {
        scheme: text("scheme").expect("scheme"),
        secret: text("secret").unwrap_or_default(),
        headers: v["headers"].clone(),
        expected_signature: text("expected_signature"),
        verify_at_unix: v["verify_at_unix"].as_i64(),
        body,
        valid,
        id,
    }
}

/// Checks one vector's outcome against `valid` or its entry in `invalid`, and marks the
/// entry used.
fn check(
    vector: &Vector,
    result: Result<(), SignatureError>,
    invalid: &[(&str, SignatureError)],
    used: &mut Vec<String>,
) {
    match (vector.valid, result) {
        (true, Ok(())) => {}
        (true, Err(error)) => panic!("{}: valid vector rejected: {error}", vector.id),
        (false, Ok(())) => panic!("{}: invalid vector accepted", vector.id),
        (false, Err(error)) => {
            let (_, expected) = invalid
                .iter()
                .find(|(id, _)| *id == vector.id)
                .unwrap_or_else(|| {
                    panic!("{}: invalid vector without an expected error", vector.id)
                });
            assert_eq!(&error, expected, "{}", vector.id);
            used.push(vector.id.clone());
        }
    }
}

fn assert_all_used(invalid: &[(&str, SignatureError)], used: &[String]) {
    for (id, _) in invalid {
        assert!(
            used.iter().any(|u| u == id),
            "{id}: listed but not in the fixtures"
        );
    }
}

#[test]
fn standard_webhooks_vectors() {
    let invalid = [
        ("sw-invalid-last-char", SignatureError::Mismatch),
        (
            "sw-invalid-garbage",
            SignatureError::Malformed(
                "webhook-signature has no v1 entry that is base64 of a 32-byte HMAC-SHA256",
            ),
        ),
        (
            "sw-invalid-timestamp-format",
            SignatureError::TimestampInvalid,
        ),
        (
            "sw-missing-id",
            SignatureError::Malformed("webhook-id is empty"),
        ),
        (
            "sw-future-timestamp",
            SignatureError::TimestampFuture { ahead_secs: 301 },
        ),
    ];
    let mut used = Vec::new();
    let mut checked_valid = 0;
    let mut other_versions = 0;
    for v in load("standard_webhooks.json") {
        let secret = Secret::parse(&v.secret).unwrap_or_else(|e| panic!("{}: {e}", v.id));
        let signatures = v.header("webhook-signature").unwrap_or_default();
        let result = standard_webhooks::verify(
            std::slice::from_ref(&secret),
            v.header("webhook-id").unwrap_or_default(),
            v.header("webhook-timestamp").unwrap_or_default(),
            signatures,
            v.body.as_bytes(),
            v.now(),
            standard_webhooks::DEFAULT_TOLERANCE_SECS,
        );

        if !v.scheme.starts_with("standard-webhooks-v1 ") {
            // v1a (Ed25519) is not implemented here; the HMAC verifier must not accept it.
            assert!(v.scheme.starts_with("standard-webhooks-v1a "), "{}", v.id);
            assert_eq!(
                result,
                Err(SignatureError::Malformed(
                    "webhook-signature has no v1 entry"
                )),
                "{}",
                v.id
            );
            other_versions += 1;
            continue;
        }
        check(&v, result, &invalid, &mut used);

        if v.valid {
            checked_valid += 1;
            let id = v.header("webhook-id").expect("valid vector has an id");
            let ts = parse_unix_timestamp(v.header("webhook-timestamp").expect("timestamp"))
                .expect("valid vector has a numeric timestamp");
            let signed = secret.sign(id, ts, v.body.as_bytes());
            assert_eq!(Some(signed), v.expected_signature, "{}: sign()", v.id);
        }
    }
    assert_all_used(&invalid, &used);
    assert!(checked_valid >= 3, "only {checked_valid} valid v1 vectors");
    assert_eq!(other_versions, 1, "exactly one v1a vector expected");
}

#[test]
fn standard_webhooks_rotation_over_fixture_secrets() {
    let vectors = load("standard_webhooks.json");
    let official = vectors
        .iter()
        .find(|v| v.id == "sw-sign-official")
        .expect("official vector");
    let secrets = [
        Secret::parse("whsec_dGhlIHJldGlyZWQga2V5").expect("retired key parses"),
        Secret::parse(&official.secret).expect("official secret parses"),
    ];
    let result = standard_webhooks::verify(
        &secrets,
        official.header("webhook-id").expect("id"),
        official.header("webhook-timestamp").expect("timestamp"),
        official.header("webhook-signature").expect("signature"),
        official.body.as_bytes(),
        official.now(),
        standard_webhooks::DEFAULT_TOLERANCE_SECS,
    );
    assert_eq!(result, Ok(()));
}

#[test]
fn github_vectors() {
    let invalid = [
        ("gh-tampered-trailing-newline", SignatureError::Mismatch),
        ("gh-wrong-secret", SignatureError::Mismatch),
    ];
    let mut used = Vec::new();
    for v in load("github.json") {
        assert!(
            v.scheme.starts_with("github-x-hub-signature-256 "),
            "{}",
            v.id
        );
        let header = v.header("X-Hub-Signature-256").expect("signature header");
        let result = verify_hmac_sha256(
            &[v.secret.as_bytes()],
            &[v.body.as_bytes()],
            header,
            Encoding::Hex,
            Some("sha256="),
        );
        check(&v, result, &invalid, &mut used);

        if v.valid {
            let mac = hmac_sha256(v.secret.as_bytes(), &[v.body.as_bytes()]);
            let signed = encode_signature(&mac, Encoding::Hex, Some("sha256="));
            assert_eq!(Some(signed), v.expected_signature, "{}: encode", v.id);
        }
    }
    assert_all_used(&invalid, &used);
}

/// Stripe's scheme as the `stripe` preset runs it, with the SDKs' default tolerance.
fn verify_stripe(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    stripe::verify(&[secret], header, body, now, STRIPE_TOLERANCE_SECS)
}

#[test]
fn stripe_vectors() {
    let invalid = [
        ("stripe-only-v0", STRIPE_NO_V1),
        ("stripe-malformed-header", STRIPE_NO_TIMESTAMP),
        ("stripe-secret-misinterpreted", SignatureError::Mismatch),
    ];
    let mut used = Vec::new();
    for v in load("stripe.json") {
        assert!(v.scheme.starts_with("stripe-signature-v1 "), "{}", v.id);
        let header = v.header("Stripe-Signature").expect("signature header");
        let result = verify_stripe(&v.secret, header, v.body.as_bytes(), v.now());
        check(&v, result, &invalid, &mut used);

        if v.valid {
            let t = header
                .strip_prefix("t=")
                .and_then(|rest| rest.split(',').next())
                .expect("valid header starts with t=");
            let mac = hmac_sha256(
                v.secret.as_bytes(),
                &[t.as_bytes(), b".", v.body.as_bytes()],
            );
            let signed = encode_signature(&mac, Encoding::Hex, None);
            assert_eq!(Some(signed), v.expected_signature, "{}: encode", v.id);
        }
    }
    assert_all_used(&invalid, &used);
}

#[test]
fn stripe_basic_vector_is_rejected_outside_the_tolerance() {
    let vectors = load("stripe.json");
    let basic = vectors
        .iter()
        .find(|v| v.id == "stripe-basic")
        .expect("stripe-basic");
    let header = basic.header("Stripe-Signature").expect("header");
    let at = basic.now();
    let tolerance = i64::try_from(STRIPE_TOLERANCE_SECS).expect("fits");
    for (now, expected) in [
        (at + tolerance, Ok(())),
        (at - tolerance, Ok(())),
        (
            at + tolerance + 1,
            Err(SignatureError::TimestampStale {
                age_secs: tolerance + 1,
            }),
        ),
        (
            at - tolerance - 1,
            Err(SignatureError::TimestampFuture {
                ahead_secs: tolerance + 1,
            }),
        ),
    ] {
        assert_eq!(
            verify_stripe(&basic.secret, header, basic.body.as_bytes(), now),
            expected,
            "now = {now}"
        );
    }
}
