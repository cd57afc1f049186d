//! Every vector of `tests/fixtures/{provider}.json` of the shared-secret presets, posted
//! to a gateway with one source per vector secret. Vectors of timestamped schemes are
//! re-signed at the current time, keeping the vector's distance from its clock
//! ([`moved`]): each signature entry that the vector's own secret produced is recomputed,
//! every other entry is sent as it is, so an invalid vector stays invalid for its own
//! reason. The exact boundaries are checked by the presets' unit tests on a pinned clock.

use std::collections::BTreeMap;

use hookd_signature::standard_webhooks::Secret;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::sender::{header, sources, value, with};
use super::{assert_accepted, assert_rejected};
use crate::support::gateway::event_id;
use crate::support::signer::Headers;
use crate::support::{TestGateway, now_secs};

/// One vector of a fixture file, as posted.
struct Vector {
    id: String,
    secret: String,
    headers: Headers,
    body: Vec<u8>,
    valid: bool,
    verify_at: Option<i64>,
}

fn load(file: &str) -> Vec<Vector> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {path}: {e}"));
    json["vectors"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no vectors"))
        .iter()
        .map(|v| Vector {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            secret: v["secret"].as_str().unwrap_or_default().to_owned(),
            headers: v["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(n, value)| header(&n.to_ascii_lowercase(), value.as_str().unwrap_or("")))
                .collect(),
            body: v["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
            valid: v["expected_result"] == "valid",
            verify_at: v["verify_at_unix"].as_i64(),
        })
        .collect()
}

/// A gateway with one `preset` source per distinct vector secret, and the source of
/// each secret.
async fn vector_gateway(
    preset: &str,
    vectors: &[Vector],
) -> (TestGateway, BTreeMap<String, String>) {
    let mut by_secret = BTreeMap::new();
    for v in vectors {
        let next = format!("v{}", by_secret.len());
        by_secret.entry(v.secret.clone()).or_insert(next);
    }
    let list: Vec<_> = by_secret
        .iter()
        .map(|(secret, name)| (name.as_str(), preset, vec![secret.as_str()]))
        .collect();
    let gw = TestGateway::start(&sources(&list)).await;
    (gw, by_secret)
}

/// A vector's timestamp `at`, verified at `clock`, moved to `now` with its distance from
/// the clock kept. A distance past the 5-minute tolerance (the vectors' are 301 s) is
/// widened by a minute, so that the second the clock may tick while the request travels
/// cannot bring it back within; the unit tests check the exact boundary on a pinned clock.
fn moved(at: i64, clock: i64, now: i64) -> i64 {
    let distance = at - clock;
    if distance.abs() > 300 {
        now + distance + distance.signum() * 60
    } else {
        now + distance
    }
}

/// Checks the answer to a posted vector: `Some((status, code))` expects that rejection,
/// `None` a 200 (new or, for a repeated provider id, a duplicate).
#[track_caller]
fn check_vector(v: &Vector, answer: &(StatusCode, Value), expected: Option<(StatusCode, &str)>) {
    match expected {
        Some((status, code)) => assert_rejected(answer, status, code, &v.id),
        None => {
            assert!(
                v.valid,
                "{}: an invalid vector without an expectation",
                v.id
            );
            assert_eq!(answer.0, StatusCode::OK, "{}: {}", v.id, answer.1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_webhooks_fixture_vectors_resigned_now() {
    let vectors = load("standard_webhooks.json");
    let (gw, sources) = vector_gateway("standard-webhooks", &vectors).await;
    let expected = |id: &str| match id {
        "sw-invalid-last-char" => Some((StatusCode::UNAUTHORIZED, "signature_mismatch")),
        "sw-invalid-garbage" | "sw-asymmetric-sign-official" => {
            Some((StatusCode::UNAUTHORIZED, "signature_malformed"))
        }
        "sw-invalid-timestamp-format" => Some((StatusCode::UNAUTHORIZED, "timestamp_invalid")),
        "sw-missing-id" => Some((StatusCode::UNAUTHORIZED, "signature_missing")),
        "sw-future-timestamp" => Some((StatusCode::UNAUTHORIZED, "timestamp_out_of_tolerance")),
        _ => None,
    };
    // Every valid vector carries the same webhook-id: the second one posted to a source
    // is that source's duplicate.
    let mut accepted: BTreeMap<String, String> = BTreeMap::new();
    for v in &vectors {
        let source = &sources[&v.secret];
        let headers = resign_standard_webhooks(v, now_secs());
        let answer = gw.post(source, &v.body, &headers).await;
        check_vector(v, &answer, expected(&v.id));
        if answer.0 != StatusCode::OK {
            continue;
        }
        let id = event_id(&answer.1);
        let event = gw.event(&id).await;
        assert_eq!(event.dedup_key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "{}", v.id);
        assert_eq!(event.event_type, "", "{}: the body has no type", v.id);
        match accepted.get(source) {
            Some(first) => {
                assert_eq!(answer.1["duplicate"], true, "{}: {}", v.id, answer.1);
                assert_eq!(&id, first, "{}", v.id);
            }
            None => {
                assert_eq!(answer.1["duplicate"], false, "{}: {}", v.id, answer.1);
                accepted.insert(source.clone(), id);
            }
        }
    }
    assert_eq!(
        accepted.len(),
        2,
        "the prefixed and the bare secret: {accepted:?}"
    );
}

/// The headers of a Standard Webhooks vector with its timestamp moved to `now` (keeping
/// its distance from the vector's clock, see [`moved`]) and every `v1` entry that the
/// vector's secret produced signed anew; a timestamp that is not unix seconds is left as
/// it is.
fn resign_standard_webhooks(v: &Vector, now: i64) -> Headers {
    let Ok(secret) = Secret::parse(&v.secret) else {
        return v.headers.clone();
    };
    let old_ts = value(&v.headers, "webhook-timestamp");
    let (Ok(ts), Some(clock)) = (old_ts.parse::<i64>(), v.verify_at) else {
        return v.headers.clone();
    };
    let new_ts = moved(ts, clock, now);
    let id = v
        .headers
        .iter()
        .find(|(n, _)| n == "webhook-id")
        .map_or("", |(_, id)| id.as_str());
    let produced = secret.sign(id, ts, &v.body);
    let list: Vec<String> = value(&v.headers, "webhook-signature")
        .split(' ')
        .map(|entry| {
            if entry == produced {
                secret.sign(id, new_ts, &v.body)
            } else {
                entry.to_owned()
            }
        })
        .collect();
    let headers = with(v.headers.clone(), "webhook-timestamp", &new_ts.to_string());
    with(headers, "webhook-signature", &list.join(" "))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stripe_fixture_vectors_resigned_now() {
    let vectors = load("stripe.json");
    let (gw, sources) = vector_gateway("stripe", &vectors).await;
    let expected = |v: &Vector| match v.id.as_str() {
        "stripe-only-v0" | "stripe-malformed-header" => {
            Some((StatusCode::UNAUTHORIZED, "signature_malformed"))
        }
        "stripe-secret-misinterpreted" => Some((StatusCode::UNAUTHORIZED, "signature_mismatch")),
        // The SDK fixture payload verifies but has no `type`: no event to route.
        _ if v.valid => Some((StatusCode::BAD_REQUEST, "event_type_missing")),
        _ => None,
    };
    for v in &vectors {
        let headers = resign_stripe(v, now_secs());
        let answer = gw.post(&sources[&v.secret], &v.body, &headers).await;
        check_vector(v, &answer, expected(v));
    }

    // The docs' event object, signed now, is accepted with its type, id and time.
    let body = json!({
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "api_version": "2019-02-19",
        "created": 1_686_089_970,
        "data": {"object": {"id": "seti_1NG8Du2eZvKYlo2C9XMqbR0x", "object": "setup_intent"}},
        "type": "setup_intent.created"
    })
    .to_string()
    .into_bytes();
    let signature = hookd_signature::stripe::sign("whsec_test_secret", now_secs(), &body);
    let headers = vec![header("stripe-signature", &signature)];
    let id = assert_accepted(
        &gw.post(&sources["whsec_test_secret"], &body, &headers)
            .await,
        "setup_intent.created",
    );
    let event = gw.event(&id).await;
    assert_eq!(event.event_type, "setup_intent.created");
    assert_eq!(event.dedup_key, "evt_1NG8Du2eZvKYlo2CUI79vXWy");
    assert_eq!(event.occurred_at, Some(1_686_089_970_000));
}

/// The `Stripe-Signature` of a vector with `t` moved to `now` (see [`moved`]) and every `v1` that a candidate secret produced signed anew with
/// it: the vector's secret, the SDK fixture's secret (the other side of a roll) and the
/// vector's secret without `whsec_` (the misinterpretation a vector exists to catch).
fn resign_stripe(v: &Vector, now: i64) -> Headers {
    let header = value(&v.headers, "stripe-signature");
    let old_t = header
        .split(',')
        .find_map(|e| e.strip_prefix("t="))
        .and_then(|t| t.parse::<i64>().ok());
    let (Some(t), Some(clock)) = (old_t, v.verify_at) else {
        return v.headers.clone();
    };
    let new_t = moved(t, clock, now);
    let candidates = [
        v.secret.as_str(),
        "whsec_test_secret",
        v.secret.strip_prefix("whsec_").unwrap_or(&v.secret),
    ];
    let v1_of = |secret: &str, at: i64| {
        hookd_signature::stripe::sign(secret, at, &v.body)
            .split_once(",v1=")
            .map(|(_, v1)| v1.to_owned())
            .expect("sign writes a v1")
    };
    let elements: Vec<String> = header
        .split(',')
        .map(|element| match element.split_once('=') {
            Some(("t", _)) => format!("t={new_t}"),
            Some(("v1", sig)) => candidates
                .iter()
                .find(|secret| v1_of(secret, t) == sig)
                .map_or_else(
                    || element.to_owned(),
                    |secret| format!("v1={}", v1_of(secret, new_t)),
                ),
            _ => element.to_owned(),
        })
        .collect();
    with(v.headers.clone(), "stripe-signature", &elements.join(","))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_fixture_vectors_as_delivered() {
    let vectors = load("github.json");
    let (gw, sources) = vector_gateway("github", &vectors).await;
    for v in &vectors {
        // Vectors of the docs carry the signature alone; the event headers are not
        // signed, so adding them changes nothing the signature covers.
        let mut headers = v.headers.clone();
        for (name, default) in [("x-github-event", "ping"), ("x-github-delivery", &*v.id)] {
            if !headers.iter().any(|(n, _)| n == name) {
                headers.push(header(name, default));
            }
        }
        let expected = match v.id.as_str() {
            "gh-tampered-trailing-newline" | "gh-wrong-secret" => {
                Some((StatusCode::UNAUTHORIZED, "signature_mismatch"))
            }
            // `Hello, World!` verifies, then is no JSON event.
            "gh-docs-official" => Some((StatusCode::BAD_REQUEST, "invalid_json")),
            _ => None,
        };
        let answer = gw.post(&sources[&v.secret], &v.body, &headers).await;
        check_vector(v, &answer, expected);
        if v.id == "gh-push-with-new-branch" {
            let event = gw.event(&event_id(&answer.1)).await;
            assert_eq!(event.event_type, "push");
            assert_eq!(event.dedup_key, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
            let again = gw.post(&sources[&v.secret], &v.body, &headers).await;
            assert_eq!(again.1["duplicate"], true, "a redelivery: {}", again.1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_fixture_vectors_as_delivered() {
    let vectors = load("shopify.json");
    let (gw, sources) = vector_gateway("shopify", &vectors).await;
    for v in &vectors {
        let expected = match v.id.as_str() {
            "shopify-hex-instead-of-base64" => {
                Some((StatusCode::UNAUTHORIZED, "signature_malformed"))
            }
            _ => None,
        };
        let answer = gw.post(&sources[&v.secret], &v.body, &v.headers).await;
        check_vector(v, &answer, expected);
        if v.valid {
            let event = gw.event(&event_id(&answer.1)).await;
            assert_eq!(event.event_type, "products/update");
            assert_eq!(event.dedup_key, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
            assert_eq!(event.occurred_at, Some(1_745_350_200_000));
            let again = gw.post(&sources[&v.secret], &v.body, &v.headers).await;
            assert_eq!(again.1["duplicate"], true, "a retry: {}", again.1);
        }
    }
}

#[test]
fn softpro_has_no_public_vectors() {
    assert!(
        load("softpro.json").is_empty(),
        "vectors appeared: post them through the gateway here"
    );
}
