//! `preset = "highlevel"` through `POST /in/{source}` on a running gateway: every vector of
//! `tests/fixtures/highlevel.json` (a copy of `shared/fixtures/providers/highlevel.json`),
//! every documented example event, the rejections (wrong key, changed byte, missing,
//! `N/A`, malformed, no RSA fall-back under a wrong Ed25519 signature), key rotation and
//! a key pair made here.
//!
//! HighLevel's private keys are secret, so nothing here is signed by HighLevel: the
//! fixture's vectors are signed with its test keys, whose public halves each source is
//! configured with, and fresh bodies are signed with keys derived from fixed seeds. The
//! fixture's Ed25519 test key is rebuilt from its documented seed (SHA-256 of
//! `webhook-gateway-test-vector-ed25519`); its RSA test key has no private half, so RSA
//! is exercised with the fixture's signatures only.
//!
//! A rejection is shown to store nothing by sending the same body genuinely signed
//! afterwards: it must be answered as new (`"duplicate": false`).

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hookd_signature::highlevel::{PUBLISHED_ED25519_PEM, ed25519_public_key_pem, sign_ed25519};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::support::gateway::event_id;
use crate::support::signer::Headers;
use crate::support::{TestGateway, now_millis};

/// `x-ghl-signature`: Ed25519, current.
const GHL: &str = "x-ghl-signature";
/// `x-wh-signature`: RSA, legacy.
const WH: &str = "x-wh-signature";

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
    fixture()["vectors"]
        .as_array()
        .expect("`vectors` array")
        .clone()
}

/// The vector `id`.
fn vector(id: &str) -> Value {
    vectors()
        .into_iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no vector {id}"))
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: no text at {key}", v["id"]))
}

/// The vector's headers, names lower case as HTTP/1.1 carries them.
fn headers_of(v: &Value) -> Headers {
    v["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(name, value)| {
            (
                name.to_ascii_lowercase(),
                value.as_str().expect("a text header").to_owned(),
            )
        })
        .collect()
}

fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn with(mut headers: Headers, name: &str, value: &str) -> Headers {
    headers.retain(|(n, _)| n != name);
    headers.push((name.to_owned(), value.to_owned()));
    headers
}

/// The Ed25519 private key of `seed` in PKCS#8 PEM, written out by hand (RFC 8410: a
/// fixed DER prefix, then the 32 seed bytes), so the tests do not lean on the encoder
/// they exercise.
pub(crate) fn private_pem(seed: [u8; 32]) -> String {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der)
    )
}

/// The fixture's Ed25519 test key, in PKCS#8 PEM.
fn fixture_private_pem() -> String {
    private_pem(Sha256::digest(b"webhook-gateway-test-vector-ed25519").into())
}

/// The public key (PEM) of a private key made by [`private_pem`].
fn public_pem(private: &str) -> String {
    ed25519_public_key_pem(private).expect("a valid private key")
}

/// `[sources.NAME]` with `preset = "highlevel"` and these keys; an empty list leaves that
/// key out, so HighLevel's published key applies.
pub(crate) fn source_toml(name: &str, ed25519: &[&str], rsa: &[&str]) -> String {
    let list = |pems: &[&str]| {
        let items: Vec<String> = pems
            .iter()
            .map(|pem| format!("'''\n{}'''", pem.trim_end().to_owned() + "\n"))
            .collect();
        format!("[{}]", items.join(", "))
    };
    let mut toml = format!("\n[sources.{name}]\npreset = \"highlevel\"\n");
    if !ed25519.is_empty() {
        toml.push_str(&format!("public_key_ed25519 = {}\n", list(ed25519)));
    }
    if !rsa.is_empty() {
        toml.push_str(&format!("public_key_rsa = {}\n", list(rsa)));
    }
    toml
}

/// Headers of a genuine Ed25519-signed delivery of `body`.
fn signed(private: &str, body: &[u8]) -> Headers {
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        (
            GHL.to_owned(),
            sign_ed25519(private, body).expect("signing"),
        ),
    ]
}

/// The fixture's test public keys: (Ed25519, RSA).
fn fixture_keys() -> (String, String) {
    let ed = vector("ghl-install-ed25519-testkey");
    let rsa = vector("ghl-install-rsa-testkey");
    (
        text(&ed, "public_key_pem").to_owned(),
        text(&rsa, "public_key_pem").to_owned(),
    )
}

/// A gateway with source `test` (the fixture's test keys for both schemes) and `ghl`
/// (HighLevel's published keys, by default).
async fn setup() -> TestGateway {
    let (ed, rsa) = fixture_keys();
    let toml = format!(
        "{}{}",
        source_toml("test", &[&ed], &[&rsa]),
        source_toml("ghl", &[], &[])
    );
    TestGateway::start(&toml).await
}

#[track_caller]
fn assert_rejected(answer: &(StatusCode, Value), code: &str) -> String {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    let detail = body["error"]["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "a detail is given: {body}");
    detail.to_owned()
}

#[track_caller]
fn assert_accepted(answer: &(StatusCode, Value)) -> String {
    let (status, body) = answer;
    assert_eq!(*status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicate"], false, "{body}");
    event_id(body)
}

/// What the stored event must say about a genuine `body`.
async fn assert_event(gw: &TestGateway, id: &str, body: &[u8]) {
    let json: Value = serde_json::from_slice(body).expect("a JSON body");
    let event = gw.event(id).await;
    let expected_type = json["type"].as_str().unwrap_or("unknown");
    assert_eq!(event.event_type, expected_type, "{id}");
    let webhook_id = json["webhookId"].as_str();
    assert_eq!(event.provider_event_id.as_deref(), webhook_id, "{id}");
    let dedup = webhook_id.map_or_else(|| hex::encode(Sha256::digest(body)), ToOwned::to_owned);
    assert_eq!(event.dedup_key, dedup, "{id}");
    assert_eq!(event.body, body, "the raw bytes are kept: {id}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_vector_is_judged_as_the_fixture_says() {
    // One source per vector, configured with the vector's public key for its scheme, so
    // that vectors sharing a body are not duplicates of each other.
    let vectors = vectors();
    assert_eq!(vectors.len(), 8, "every vector of the fixture is run");
    let mut toml = String::new();
    for (i, v) in vectors.iter().enumerate() {
        let pem = text(v, "public_key_pem");
        let headers = headers_of(v);
        toml += &if header(&headers, GHL).is_some() {
            source_toml(&format!("v{i}"), &[pem], &[])
        } else {
            source_toml(&format!("v{i}"), &[], &[pem])
        };
    }
    let gw = TestGateway::start(&toml).await;

    for (i, v) in vectors.iter().enumerate() {
        let id = text(v, "id");
        let body = text(v, "body").as_bytes();
        let answer = gw.post(&format!("v{i}"), body, &headers_of(v)).await;
        if text(v, "expected_result") == "valid" {
            let event = assert_accepted(&answer);
            assert_event(&gw, &event, body).await;
        } else {
            let detail = assert_rejected(&answer, "signature_mismatch");
            assert!(detail.contains(GHL), "{id}: {detail}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_signature_fails_against_highlevels_published_key_by_default() {
    let gw = setup().await;
    let v = vector("ghl-official-key-cannot-verify-test-sig");
    assert_eq!(text(&v, "public_key_pem"), PUBLISHED_ED25519_PEM);
    let body = text(&v, "body").as_bytes();
    // `ghl` has no keys configured: HighLevel's published ones apply.
    assert_rejected(
        &gw.post("ghl", body, &headers_of(&v)).await,
        "signature_mismatch",
    );
    // The signature itself is genuine: the fixture's test key made it.
    let event = assert_accepted(&gw.post("test", body, &headers_of(&v)).await);
    assert_event(&gw, &event, body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reserialised_body_fails_and_the_bytes_highlevel_sent_verify() {
    let gw = setup().await;
    let pretty = vector("ghl-reserialized-ed25519");
    let compact = vector("ghl-contactcreate-rsa-testkey");
    let signature = header(&headers_of(&pretty), GHL).unwrap().to_owned();
    assert_rejected(
        &gw.post(
            "test",
            text(&pretty, "body").as_bytes(),
            &headers_of(&pretty),
        )
        .await,
        "signature_mismatch",
    );
    let body = text(&compact, "body").as_bytes();
    let headers = vec![(GHL.to_owned(), signature)];
    let event = assert_accepted(&gw.post("test", body, &headers).await);
    assert_event(&gw, &event, body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_with_webhook_id_and_timestamp_is_typed_deduplicated_and_dated() {
    let gw = setup().await;
    let ed = vector("ghl-contactcreate-with-timestamp-webhookid-ed25519-testkey");
    let rsa = vector("ghl-contactcreate-with-timestamp-webhookid-rsa-testkey");
    let body = text(&ed, "body").as_bytes();
    let answer = gw.post("test", body, &headers_of(&ed)).await;
    let id = assert_accepted(&answer);
    let event = gw.event(&id).await;
    assert_eq!(event.event_type, "ContactCreate");
    assert_eq!(event.dedup_key, "abc123xyz");
    assert_eq!(event.provider_event_id.as_deref(), Some("abc123xyz"));
    // "2025-01-28T14:35:00.000Z"
    assert_eq!(event.occurred_at, Some(1_738_074_900_000));

    // The same event signed the legacy way is the same webhookId: a duplicate.
    let (status, again) = gw.post("test", body, &headers_of(&rsa)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["id"], id.as_str(), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webhook_id_the_body_hash_deduplicates() {
    let gw = setup().await;
    let v = vector("ghl-install-ed25519-testkey");
    let body = text(&v, "body").as_bytes();
    let id = assert_accepted(&gw.post("test", body, &headers_of(&v)).await);
    let event = gw.event(&id).await;
    assert_eq!(event.event_type, "INSTALL");
    assert_eq!(event.provider_event_id, None);
    assert_eq!(event.dedup_key, hex::encode(Sha256::digest(body)));
    assert_eq!(event.occurred_at, None);
    // The RSA-signed delivery of the same bytes.
    let rsa = vector("ghl-install-rsa-testkey");
    let (status, again) = gw.post("test", body, &headers_of(&rsa)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["id"], id.as_str(), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_example_event_is_stored_with_its_type() {
    // The 69 examples of HighLevel's event docs, signed with the fixture's test key.
    let gw = setup().await;
    let private = fixture_private_pem();
    let samples = fixture()["samples"].as_array().expect("samples").clone();
    assert_eq!(samples.len(), 69);
    let mut seen = HashSet::new();
    let mut untyped = 0;
    for sample in &samples {
        let id = text(sample, "id");
        let Some(body) = sample["body"].as_str() else {
            // Price* examples are not JSON in the docs: a signed non-JSON body is 400.
            let raw = text(sample, "raw_doc_text").as_bytes();
            let (status, answer) = gw.post("test", raw, &signed(&private, raw)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{id}: {answer}");
            assert_eq!(answer["error"]["code"], "invalid_json", "{id}: {answer}");
            continue;
        };
        let body = body.as_bytes();
        let (status, answer) = gw.post("test", body, &signed(&private, body)).await;
        assert_eq!(status, StatusCode::OK, "{id}: {answer}");
        // Some examples share one body (Record*, Product*): the later ones are repeats.
        let repeat = !seen.insert(body.to_vec());
        assert_eq!(answer["duplicate"], repeat, "{id}: {answer}");
        assert_event(&gw, &event_id(&answer), body).await;
        let json: Value = serde_json::from_slice(body).unwrap();
        if json.get("type").is_none() {
            untyped += 1;
        }
    }
    assert!(
        untyped > 0,
        "examples without a type are stored as `unknown`"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_a_changed_byte_is_401_signature_mismatch() {
    let other = private_pem([9; 32]);
    let (_, rsa) = fixture_keys();
    let toml = format!(
        "{}{}",
        source_toml("other", &[&public_pem(&other)], &[]),
        source_toml("test", &[&fixture_keys().0], &[&rsa])
    );
    let gw = TestGateway::start(&toml).await;

    for id in [
        "ghl-inboundmessage-sms-ed25519-testkey",
        "ghl-install-rsa-testkey",
    ] {
        let v = vector(id);
        let body = text(&v, "body").as_bytes();
        // Wrong key: `other` holds another Ed25519 key and HighLevel's RSA key.
        let detail = assert_rejected(
            &gw.post("other", body, &headers_of(&v)).await,
            "signature_mismatch",
        );
        let scheme = if id.contains("rsa") { WH } else { GHL };
        assert!(detail.contains(scheme), "{id}: {detail}");

        // One byte changed, at the start, middle and end.
        for at in [1, body.len() / 2, body.len() - 2] {
            let mut changed = body.to_vec();
            changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
            assert_rejected(
                &gw.post("test", &changed, &headers_of(&v)).await,
                "signature_mismatch",
            );
        }
        // Nothing of that was stored: the genuine delivery is new.
        assert_accepted(&gw.post("test", body, &headers_of(&v)).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_and_n_a_signatures_are_401_signature_missing() {
    let gw = setup().await;
    let private = fixture_private_pem();
    let body = br#"{"type":"ContactUpdate","webhookId":"missing-1"}"#;
    for headers in [
        vec![("content-type".to_owned(), "application/json".to_owned())],
        vec![(GHL.to_owned(), "N/A".to_owned())],
        vec![(WH.to_owned(), "N/A".to_owned())],
        vec![
            (GHL.to_owned(), "N/A".to_owned()),
            (WH.to_owned(), "N/A".to_owned()),
        ],
        vec![
            (GHL.to_owned(), String::new()),
            (WH.to_owned(), String::new()),
        ],
    ] {
        let detail = assert_rejected(&gw.post("test", body, &headers).await, "signature_missing");
        assert!(
            detail.contains(GHL) && detail.contains(WH),
            "both headers are named: {detail}"
        );
    }
    // N/A beside a genuine signature of the other kind: that one decides.
    let rsa = vector("ghl-contactcreate-rsa-testkey");
    let rsa_body = text(&rsa, "body").as_bytes();
    let id = assert_accepted(
        &gw.post("test", rsa_body, &with(headers_of(&rsa), GHL, "N/A"))
            .await,
    );
    assert_event(&gw, &id, rsa_body).await;
    assert_accepted(
        &gw.post("test", body, &with(signed(&private, body), WH, "N/A"))
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_signature_is_401_signature_malformed() {
    let gw = setup().await;
    let private = fixture_private_pem();
    let body = br#"{"type":"NoteCreate","webhookId":"malformed-1"}"#;
    let short = STANDARD.encode([0u8; 63]);
    let rsa_2048 = STANDARD.encode([1u8; 256]);
    let cases = [
        (GHL, "not base64!"),
        (GHL, "FJE1F95yRAEr9cFZhFWb"),
        (GHL, short.as_str()),
        (WH, "not base64!"),
        (WH, rsa_2048.as_str()),
    ];
    for (name, value) in cases {
        let headers = vec![(name.to_owned(), value.to_owned())];
        let detail = assert_rejected(
            &gw.post("test", body, &headers).await,
            "signature_malformed",
        );
        assert!(detail.contains(name), "{name} {value:?}: {detail}");
    }
    assert_accepted(&gw.post("test", body, &signed(&private, body)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ed25519_signature_never_falls_back_to_a_valid_rsa_one() {
    let gw = setup().await;
    let rsa = vector("ghl-contactcreate-rsa-testkey");
    let body = text(&rsa, "body").as_bytes();
    let genuine_rsa = headers_of(&rsa);
    // The RSA signature alone is genuine (shown on a copy of the source below, so that
    // this body stays unstored here).
    assert!(header(&genuine_rsa, WH).is_some());

    let wrong_key = sign_ed25519(&private_pem([5; 32]), body).unwrap();
    let other_body = sign_ed25519(&fixture_private_pem(), b"{}").unwrap();
    for ghl in [wrong_key.as_str(), other_body.as_str()] {
        let headers = with(genuine_rsa.clone(), GHL, ghl);
        let detail = assert_rejected(&gw.post("test", body, &headers).await, "signature_mismatch");
        assert!(detail.contains(GHL), "{detail}");
    }
    let malformed = with(genuine_rsa.clone(), GHL, "not base64!");
    assert_rejected(
        &gw.post("test", body, &malformed).await,
        "signature_malformed",
    );

    // Without x-ghl-signature the same RSA header is accepted, and it is new.
    let id = assert_accepted(&gw.post("test", body, &genuine_rsa).await);
    assert_event(&gw, &id, body).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_every_configured_ed25519_key_verifies_and_a_removed_one_fails() {
    let (old, new, stranger) = (
        private_pem([1; 32]),
        private_pem([2; 32]),
        private_pem([3; 32]),
    );
    let toml = format!(
        "{}{}",
        source_toml("overlap", &[&public_pem(&old), &public_pem(&new)], &[]),
        source_toml("after", &[&public_pem(&new)], &[])
    );
    let gw = TestGateway::start(&toml).await;
    let body_for = |n: u32| format!(r#"{{"type":"ContactUpdate","webhookId":"rot-{n}"}}"#);

    let (a, b, c) = (body_for(1), body_for(2), body_for(3));
    assert_accepted(
        &gw.post("overlap", a.as_bytes(), &signed(&old, a.as_bytes()))
            .await,
    );
    assert_accepted(
        &gw.post("overlap", b.as_bytes(), &signed(&new, b.as_bytes()))
            .await,
    );
    assert_rejected(
        &gw.post("overlap", c.as_bytes(), &signed(&stranger, c.as_bytes()))
            .await,
        "signature_mismatch",
    );
    // Once the old key is removed, what it signs fails; the new key goes on verifying.
    assert_rejected(
        &gw.post("after", a.as_bytes(), &signed(&old, a.as_bytes()))
            .await,
        "signature_mismatch",
    );
    assert_accepted(
        &gw.post("after", b.as_bytes(), &signed(&new, b.as_bytes()))
            .await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_pair_made_here_signs_a_fresh_delivery_that_verifies() {
    let private = private_pem(*b"hookd highlevel preset test seed");
    let gw = TestGateway::start(&source_toml("mine", &[&public_pem(&private)], &[])).await;

    let now = now_millis();
    let seconds = now / 1000;
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let timestamp = format!(
        "{}T{:02}:{:02}:{:02}.{:03}Z",
        civil_date(days),
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        now % 1000
    );
    let body = json!({
        "type": "InboundMessage",
        "locationId": "l1C08ntBrFjLS0elLIYU",
        "messageType": "SMS",
        "body": "fresh",
        "timestamp": timestamp,
        "webhookId": format!("fresh-{now}"),
    })
    .to_string()
    .into_bytes();
    let id = assert_accepted(&gw.post("mine", &body, &signed(&private, &body)).await);
    assert_event(&gw, &id, &body).await;
    assert_eq!(gw.event(&id).await.occurred_at, Some(now), "{timestamp}");

    // HighLevel's retry of it is answered with the same id and stored once.
    let (status, again) = gw.post("mine", &body, &signed(&private, &body)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["id"], id.as_str(), "{again}");

    // The same key is not HighLevel's: a source on the published key refuses it.
    let published = TestGateway::start(&source_toml("ghl", &[], &[])).await;
    assert_rejected(
        &published.post("ghl", &body, &signed(&private, &body)).await,
        "signature_mismatch",
    );
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (Howard Hinnant's `civil_from_days`),
/// to write the current time the way HighLevel does.
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
