//! HighLevel's two schemes against `tests/fixtures/highlevel.json` (a copy of hookd's
//! `shared/fixtures/providers/highlevel.json`), and sign/verify round trips.
//!
//! HighLevel's private keys are secret, so the fixture's vectors are signed with test
//! keys: an Ed25519 key whose seed is the SHA-256 of
//! `webhook-gateway-test-vector-ed25519` (rebuilt here, so [`sign_ed25519`] must reproduce
//! every Ed25519 signature exactly) and an RSA key whose private half was discarded.
//! Every vector has its expected outcome listed in [`EXPECTED`], so none is skipped
//! silently.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use hookd_signature::SignatureError;
use hookd_signature::highlevel::{
    Ed25519Key, PUBLISHED_ED25519_PEM, PUBLISHED_RSA_PEM, RsaKey, ed25519_public_key_pem,
    sign_ed25519, verify_ed25519, verify_rsa,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Every vector of the fixture and the outcome it must have with its own `public_key_pem`.
const EXPECTED: [(&str, Result<(), SignatureError>); 8] = [
    ("ghl-install-ed25519-testkey", Ok(())),
    ("ghl-install-rsa-testkey", Ok(())),
    ("ghl-contactcreate-rsa-testkey", Ok(())),
    ("ghl-inboundmessage-sms-ed25519-testkey", Ok(())),
    (
        "ghl-contactcreate-with-timestamp-webhookid-ed25519-testkey",
        Ok(()),
    ),
    (
        "ghl-contactcreate-with-timestamp-webhookid-rsa-testkey",
        Ok(()),
    ),
    ("ghl-reserialized-ed25519", Err(SignatureError::Mismatch)),
    (
        "ghl-official-key-cannot-verify-test-sig",
        Err(SignatureError::Mismatch),
    ),
];

/// The fixture, parsed.
fn fixture() -> Value {
    let path = format!(
        "{}/tests/fixtures/highlevel.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"))
}

fn vectors() -> Vec<Value> {
    let vectors = fixture()["vectors"]
        .as_array()
        .expect("`vectors` array")
        .clone();
    assert!(!vectors.is_empty());
    vectors
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no text at {key}", v["id"]))
}

/// A header of a vector, looked up case-insensitively.
fn header<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v["headers"]
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(_, value)| value.as_str())
}

/// The fixture's Ed25519 test key, in PKCS#8 PEM.
fn fixture_private_pem() -> String {
    let seed: [u8; 32] = Sha256::digest(b"webhook-gateway-test-vector-ed25519").into();
    pem_of_seed(seed)
}

fn pem_of_seed(seed: [u8; 32]) -> String {
    SigningKey::from_bytes(&seed)
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PKCS#8 PEM")
        .to_string()
}

/// Verifies a vector as ingest does: Ed25519 when `x-ghl-signature` is there, else RSA.
fn verify_vector(v: &Value) -> Result<(), SignatureError> {
    let body = text(v, "body").as_bytes();
    let pem = text(v, "public_key_pem");
    match (header(v, "x-ghl-signature"), header(v, "x-wh-signature")) {
        (Some(signature), _) => verify_ed25519(&[Ed25519Key::from_pem(pem)?], body, signature),
        (None, Some(signature)) => verify_rsa(&[RsaKey::from_pem(pem)?], body, signature),
        (None, None) => panic!("{}: no signature header", v["id"]),
    }
}

#[test]
fn every_vector_has_its_expected_outcome() {
    let vectors = vectors();
    let ids: Vec<&str> = vectors.iter().map(|v| text(v, "id")).collect();
    for (id, _) in &EXPECTED {
        assert!(ids.contains(id), "{id} is listed but not in the fixture");
    }
    for v in &vectors {
        let id = text(v, "id");
        let body = text(v, "body");
        assert_eq!(
            hex::encode(Sha256::digest(body.as_bytes())),
            text(v, "body_sha256"),
            "{id}: the body is not the exact bytes"
        );
        let expected = EXPECTED
            .iter()
            .find(|(listed, _)| *listed == id)
            .unwrap_or_else(|| panic!("{id} has no expected outcome listed"));
        assert_eq!(verify_vector(v), expected.1, "{id}");
        let is_valid = text(v, "expected_result") == "valid";
        assert_eq!(is_valid, expected.1.is_ok(), "{id}: the fixture disagrees");
    }
}

#[test]
fn the_published_keys_are_those_of_the_fixture() {
    let keys = &fixture()["scheme"]["public_keys"];
    assert_eq!(
        Ed25519Key::from_pem(text(keys, "x-ghl-signature_ed25519_pem")),
        Ed25519Key::from_pem(PUBLISHED_ED25519_PEM)
    );
    assert_eq!(
        text(keys, "x-wh-signature_rsa_pem").trim(),
        PUBLISHED_RSA_PEM.trim()
    );
    // The vector that must fail with HighLevel's real key does carry that key.
    let official = vectors()
        .into_iter()
        .find(|v| v["id"] == "ghl-official-key-cannot-verify-test-sig")
        .expect("the official-key vector");
    assert_eq!(
        Ed25519Key::from_pem(text(&official, "public_key_pem")),
        Ed25519Key::from_pem(PUBLISHED_ED25519_PEM)
    );
}

#[test]
fn signing_with_the_fixture_test_key_reproduces_every_ed25519_signature() {
    let private = fixture_private_pem();
    let mut checked = 0;
    for v in vectors() {
        let Some(signature) = header(&v, "x-ghl-signature") else {
            continue;
        };
        let body = text(&v, "body").as_bytes();
        if text(&v, "expected_result") == "valid" {
            assert_eq!(
                sign_ed25519(&private, body).unwrap(),
                signature,
                "{}",
                v["id"]
            );
            assert_eq!(
                ed25519_public_key_pem(&private).unwrap(),
                text(&v, "public_key_pem"),
                "{}",
                v["id"]
            );
            checked += 1;
        } else if v["id"] == "ghl-official-key-cannot-verify-test-sig" {
            // The signature is genuine for this body: only the key checking it is wrong.
            assert_eq!(sign_ed25519(&private, body).unwrap(), signature);
        } else {
            assert_ne!(
                sign_ed25519(&private, body).unwrap(),
                signature,
                "{}",
                v["id"]
            );
        }
    }
    assert_eq!(checked, 3, "the valid Ed25519 vectors");
}

#[test]
fn the_reserialised_vector_carries_the_signature_of_the_compact_body() {
    let vectors = vectors();
    let by_id = |id: &str| {
        vectors
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let pretty = by_id("ghl-reserialized-ed25519");
    let compact = by_id("ghl-contactcreate-rsa-testkey");
    let same_value: Value = serde_json::from_str(text(pretty, "body")).unwrap();
    assert_eq!(
        same_value,
        serde_json::from_str::<Value>(text(compact, "body")).unwrap()
    );
    let key = Ed25519Key::from_pem(text(pretty, "public_key_pem")).unwrap();
    let signature = header(pretty, "x-ghl-signature").unwrap();
    // The signature is genuine for the bytes HighLevel sent, and only for them.
    assert_eq!(
        verify_ed25519(
            std::slice::from_ref(&key),
            text(compact, "body").as_bytes(),
            signature
        ),
        Ok(())
    );
    assert_eq!(
        verify_ed25519(&[key], text(pretty, "body").as_bytes(), signature),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn a_fresh_key_pair_round_trips_and_a_changed_byte_fails() {
    let private = pem_of_seed([7; 32]);
    let key = Ed25519Key::from_pem(&ed25519_public_key_pem(&private).unwrap()).unwrap();
    let body = br#"{"type":"InboundMessage","webhookId":"w-7"}"#.to_vec();
    let signature = sign_ed25519(&private, &body).unwrap();
    assert_eq!(
        verify_ed25519(std::slice::from_ref(&key), &body, &signature),
        Ok(())
    );
    for i in 0..body.len() {
        let mut changed = body.clone();
        changed[i] ^= 0x01;
        assert_eq!(
            verify_ed25519(std::slice::from_ref(&key), &changed, &signature),
            Err(SignatureError::Mismatch),
            "byte {i}"
        );
    }
}

#[test]
fn rotation_any_configured_key_verifies() {
    let old = pem_of_seed([1; 32]);
    let new = pem_of_seed([2; 32]);
    let keys: Vec<Ed25519Key> = [&old, &new]
        .iter()
        .map(|pem| Ed25519Key::from_pem(&ed25519_public_key_pem(pem).unwrap()).unwrap())
        .collect();
    let body = b"{\"type\":\"ContactUpdate\"}";
    for private in [&old, &new] {
        let signature = sign_ed25519(private, body).unwrap();
        assert_eq!(verify_ed25519(&keys, body, &signature), Ok(()));
        assert_eq!(
            verify_ed25519(&keys[..1], body, &signature).is_ok(),
            private == &old
        );
    }
    let stranger = sign_ed25519(&pem_of_seed([3; 32]), body).unwrap();
    assert_eq!(
        verify_ed25519(&keys, body, &stranger),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn malformed_signatures_are_malformed_not_mismatched() {
    let ed = [Ed25519Key::from_pem(PUBLISHED_ED25519_PEM).unwrap()];
    let rsa = [RsaKey::from_pem(PUBLISHED_RSA_PEM).unwrap()];
    let short = STANDARD.encode([0u8; 63]);
    let long = STANDARD.encode([0u8; 65]);
    for bad in ["not base64!", "N/A", &short, &long, ""] {
        assert!(
            matches!(
                verify_ed25519(&ed, b"{}", bad),
                Err(SignatureError::Malformed(_))
            ),
            "ed25519 {bad:?}"
        );
    }
    for bad in ["not base64!", "N/A", ""] {
        assert!(
            matches!(
                verify_rsa(&rsa, b"{}", bad),
                Err(SignatureError::Malformed(_))
            ),
            "rsa {bad:?}"
        );
    }
    // Base64 of 256 bytes: a 2048-bit signature, while the key has 4096 bits.
    let wrong_length = STANDARD.encode([1u8; 256]);
    assert!(matches!(
        verify_rsa(&rsa, b"{}", &wrong_length),
        Err(SignatureError::Malformed(_))
    ));
    let right_length = STANDARD.encode([1u8; 512]);
    assert_eq!(
        verify_rsa(&rsa, b"{}", &right_length),
        Err(SignatureError::Mismatch)
    );
}
