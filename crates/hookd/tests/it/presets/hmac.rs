//! The shared-secret presets through `POST /in/{source}` on a running gateway:
//! `standard-webhooks`, `github`, `stripe`, `shopify` and `softpro`.
//!
//! - [`vectors`]: every vector of `tests/fixtures/{provider}.json` is posted, those of
//!   timestamped schemes re-signed at the current time.
//! - Each preset answers 200 with the right type and dedup key (checked on the stored
//!   event), `"duplicate": true` for a provider retry, and 401 with a precise code for a
//!   wrong secret, a body changed by one byte, a missing header, a malformed header and,
//!   where a timestamp is signed or carried, a stale and a future one.
//! - Rotation: during the overlap both secrets verify; after a restart with only the new
//!   secret, the old one fails.
//!
//! Every rejection test sends a genuine request first (a positive control), so that each
//! 401 is shown to come from the one thing the test changes.

mod sender;
mod vectors;

use hookd_signature::standard_webhooks::Secret;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::gateway::event_id;
use crate::support::{TestGateway, now_secs};
use sender::{Kind, header, hex_hmac, sources, value, with, without};

/// A gateway with one source per preset, keyed with that preset's old secret.
async fn setup() -> TestGateway {
    let list: Vec<_> = Kind::ALL
        .iter()
        .map(|k| (k.source(), k.preset(), vec![k.old_secret()]))
        .collect();
    TestGateway::start(&sources(&list)).await
}

/// Asserts a rejection: the status, the code, and a non-empty detail.
#[track_caller]
fn assert_rejected(answer: &(StatusCode, Value), status: StatusCode, code: &str, what: &str) {
    let (got, body) = answer;
    assert_eq!(*got, status, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    assert!(
        body["error"]["detail"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{what}: a detail is given: {body}"
    );
}

#[track_caller]
fn assert_unauthorized(answer: &(StatusCode, Value), code: &str, what: &str) {
    assert_rejected(answer, StatusCode::UNAUTHORIZED, code, what);
}

/// Asserts a 200 for a new event and returns its id.
#[track_caller]
fn assert_accepted(answer: &(StatusCode, Value), what: &str) -> String {
    let (got, body) = answer;
    assert_eq!(*got, StatusCode::OK, "{what}: {body}");
    assert_eq!(body["duplicate"], false, "{what}: {body}");
    event_id(body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_preset_stores_its_type_dedup_key_and_time_and_recognises_a_retry() {
    let gw = setup().await;
    for kind in Kind::ALL {
        let what = kind.preset();
        let at = now_secs();
        let provider_id = format!("{what}-evt-1");
        let (body, headers) = kind.delivery_at(kind.old_secret(), &provider_id, at);
        let id = assert_accepted(&gw.post(kind.source(), &body, &headers).await, what);

        let event = gw.event(&id).await;
        assert_eq!(event.source, kind.source(), "{what}");
        assert_eq!(event.event_type, kind.event_type(), "{what}");
        assert_eq!(event.dedup_key, provider_id, "{what}");
        assert_eq!(
            event.provider_event_id.as_deref(),
            Some(provider_id.as_str()),
            "{what}"
        );
        assert_eq!(event.body, body, "{what}: the raw body is stored");
        let occurred_at = match kind {
            Kind::Github => None,
            _ => Some(at * 1000),
        };
        assert_eq!(event.occurred_at, occurred_at, "{what}");

        // The provider retries the same event later, signed anew.
        let (body, headers) = kind.delivery_at(kind.old_secret(), &provider_id, at + 1);
        let (status, again) = gw.post(kind.source(), &body, &headers).await;
        assert_eq!(status, StatusCode::OK, "{what}: {again}");
        assert_eq!(again["duplicate"], true, "{what}: {again}");
        assert_eq!(event_id(&again), id, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_preset_rejects_a_wrong_secret_a_changed_byte_and_a_missing_header() {
    let gw = setup().await;
    for kind in Kind::ALL {
        let what = kind.preset();
        let (body, headers) = kind.delivery(kind.old_secret(), &format!("{what}-ok"));
        assert_accepted(&gw.post(kind.source(), &body, &headers).await, what);

        let (body, headers) = kind.delivery(kind.new_secret(), &format!("{what}-wrong"));
        assert_unauthorized(
            &gw.post(kind.source(), &body, &headers).await,
            "signature_mismatch",
            &format!("{what}: wrong secret"),
        );

        let (mut body, headers) = kind.delivery(kind.old_secret(), &format!("{what}-byte"));
        let middle = body.len() / 2;
        body[middle] ^= 0x01;
        assert_unauthorized(
            &gw.post(kind.source(), &body, &headers).await,
            "signature_mismatch",
            &format!("{what}: one byte changed"),
        );

        let (body, headers) = kind.delivery(kind.old_secret(), &format!("{what}-unsigned"));
        assert_unauthorized(
            &gw.post(
                kind.source(),
                &body,
                &without(headers, kind.signature_header()),
            )
            .await,
            "signature_missing",
            &format!("{what}: no signature header"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_preset_rejects_a_malformed_signature_header() {
    let gw = setup().await;
    for kind in Kind::ALL {
        let what = kind.preset();
        let (body, headers) = kind.delivery(kind.old_secret(), &format!("{what}-ok"));
        assert_accepted(&gw.post(kind.source(), &body, &headers).await, what);
        for malformed in kind.malformed(&headers) {
            let headers = with(headers.clone(), kind.signature_header(), &malformed);
            assert_unauthorized(
                &gw.post(kind.source(), &body, &headers).await,
                "signature_malformed",
                &format!("{what}: {malformed}"),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamped_presets_reject_a_stale_and_a_future_timestamp() {
    let gw = setup().await;
    for kind in Kind::ALL.into_iter().filter(|k| k.timestamped()) {
        let what = kind.preset();
        let now = now_secs();
        // Within the 5-minute tolerance either way is fine.
        for (n, at) in [now - 240, now + 240].into_iter().enumerate() {
            let (body, headers) = kind.delivery_at(kind.old_secret(), &format!("{what}-{n}"), at);
            assert_accepted(&gw.post(kind.source(), &body, &headers).await, what);
        }
        for (label, at) in [("stale", now - 600), ("future", now + 600)] {
            let (body, headers) =
                kind.delivery_at(kind.old_secret(), &format!("{what}-{label}"), at);
            assert_unauthorized(
                &gw.post(kind.source(), &body, &headers).await,
                "timestamp_out_of_tolerance",
                &format!("{what}: {label}"),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_webhooks_reads_every_listed_signature_and_needs_all_three_headers() {
    let gw = setup().await;
    let kind = Kind::StandardWebhooks;
    let (body, headers) = kind.delivery(kind.old_secret(), "msg_list");
    let genuine = value(&headers, "webhook-signature").to_owned();
    // A rotating sender lists one signature per secret, and other versions may appear.
    let other = Secret::parse(kind.new_secret())
        .expect("a whsec_ secret")
        .sign("msg_list", now_secs(), &body);
    let list = format!("{other} v1a,c2lnbmF0dXJl {genuine}");
    assert_accepted(
        &gw.post(
            "sw",
            &body,
            &with(headers.clone(), "webhook-signature", &list),
        )
        .await,
        "a list of signatures",
    );

    let (body, headers) = kind.delivery(kind.old_secret(), "msg_missing");
    assert_unauthorized(
        &gw.post("sw", &body, &without(headers.clone(), "webhook-timestamp"))
            .await,
        "timestamp_missing",
        "no webhook-timestamp",
    );
    assert_unauthorized(
        &gw.post("sw", &body, &without(headers.clone(), "webhook-id"))
            .await,
        "signature_missing",
        "no webhook-id",
    );
    assert_unauthorized(
        &gw.post(
            "sw",
            &body,
            &with(headers.clone(), "webhook-timestamp", "17e8"),
        )
        .await,
        "timestamp_invalid",
        "webhook-timestamp not unix seconds",
    );
    // The id is signed: the same signature under another id is a forgery.
    assert_unauthorized(
        &gw.post("sw", &body, &with(headers, "webhook-id", "msg_other"))
            .await,
        "signature_mismatch",
        "another webhook-id",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_reads_form_deliveries_and_requires_its_event_headers() {
    let gw = setup().await;
    let secret = Kind::Github.old_secret();
    let payload = json!({"action": "created", "issue": {"number": 3}}).to_string();
    let form: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload)
        .finish();
    let headers = vec![
        header("content-type", "application/x-www-form-urlencoded"),
        header("x-github-event", "issue_comment"),
        header("x-github-delivery", "form-1"),
        header(
            "x-hub-signature-256",
            &hex_hmac(secret, form.as_bytes(), "sha256="),
        ),
    ];
    let id = assert_accepted(&gw.post("gh", form.as_bytes(), &headers).await, "form");
    let event = gw.event(&id).await;
    assert_eq!(event.event_type, "issue_comment.created");
    assert_eq!(event.body, form.as_bytes(), "the form is stored as it came");

    let (body, headers) = Kind::Github.delivery(secret, "no-headers");
    assert_rejected(
        &gw.post("gh", &body, &without(headers.clone(), "x-github-delivery"))
            .await,
        StatusCode::BAD_REQUEST,
        "event_id_missing",
        "no X-GitHub-Delivery",
    );
    assert_rejected(
        &gw.post("gh", &body, &without(headers, "x-github-event"))
            .await,
        StatusCode::BAD_REQUEST,
        "event_type_missing",
        "no X-GitHub-Event",
    );
    let form = b"other=1";
    let headers = vec![
        header("content-type", "application/x-www-form-urlencoded"),
        header("x-github-event", "ping"),
        header("x-github-delivery", "form-2"),
        header("x-hub-signature-256", &hex_hmac(secret, form, "sha256=")),
    ];
    assert_rejected(
        &gw.post("gh", form, &headers).await,
        StatusCode::BAD_REQUEST,
        "invalid_body",
        "a form without payload",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softpro_reads_either_header_and_requires_the_body_timestamp() {
    let gw = setup().await;
    let kind = Kind::SoftPro;
    let secret = kind.old_secret();
    let (body, headers) = kind.delivery(secret, "sp-fallback");
    let signature = value(&headers, "x-softpro-signature").to_owned();
    let fallback = with(
        without(headers, "x-softpro-signature"),
        "x-signature",
        &format!("sha256={signature}"),
    );
    assert_accepted(&gw.post("softpro", &body, &fallback).await, "x-signature");

    let signed = |body: &Value| {
        let body = body.to_string().into_bytes();
        let headers = vec![
            header("content-type", "application/json"),
            header("x-softpro-signature", &hex_hmac(secret, &body, "sha256=")),
        ];
        (body, headers)
    };
    let (body, headers) = signed(&json!({"id": "sp-no-ts", "type": "contact.updated"}));
    assert_unauthorized(
        &gw.post("softpro", &body, &headers).await,
        "timestamp_missing",
        "no timestamp",
    );
    let (body, headers) =
        signed(&json!({"id": "sp-bad-ts", "type": "contact.updated", "timestamp": now_secs()}));
    assert_unauthorized(
        &gw.post("softpro", &body, &headers).await,
        "timestamp_invalid",
        "a timestamp that is not ISO-8601",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_accepts_both_secrets_during_the_overlap_and_only_the_new_one_after() {
    let overlap: Vec<_> = Kind::ALL
        .iter()
        .map(|k| (k.source(), k.preset(), vec![k.old_secret(), k.new_secret()]))
        .collect();
    let gw = TestGateway::start(&sources(&overlap)).await;
    for kind in Kind::ALL {
        for (label, secret) in [("old", kind.old_secret()), ("new", kind.new_secret())] {
            let (body, headers) =
                kind.delivery(secret, &format!("{}-overlap-{label}", kind.preset()));
            assert_accepted(
                &gw.post(kind.source(), &body, &headers).await,
                &format!("{}: {label} secret during the overlap", kind.preset()),
            );
        }
    }

    // The old secret is removed from the configuration and the node restarts.
    let data = gw.shutdown().await;
    let after: Vec<_> = Kind::ALL
        .iter()
        .map(|k| (k.source(), k.preset(), vec![k.new_secret()]))
        .collect();
    let gw = TestGateway::start_in(data, &sources(&after)).await;
    for kind in Kind::ALL {
        let what = kind.preset();
        let (body, headers) = kind.delivery(kind.old_secret(), &format!("{what}-after-old"));
        assert_unauthorized(
            &gw.post(kind.source(), &body, &headers).await,
            "signature_mismatch",
            &format!("{what}: old secret after removal"),
        );
        let (body, headers) = kind.delivery(kind.new_secret(), &format!("{what}-after-new"));
        assert_accepted(
            &gw.post(kind.source(), &body, &headers).await,
            &format!("{what}: new secret after removal"),
        );
    }
}
