//! Unit tests of `hookd send`'s requests: signatures, fresh ids, where `--type` goes.

use hookd_signature::hmac_sha256;
use reqwest::Url;
use serde_json::{Value, json};

use super::meta::{META_PAGE, META_PSID, meta_body};
use super::presets::{flatten_params, set_twilio_status};
use super::{FORM, Ids, Input, Outgoing, Preset, build, set_pointer};

fn input<'a>(preset: Preset, url: &'a Url) -> Input<'a> {
    Input {
        preset,
        secret: "s3cr3t",
        event_type: None,
        body: None,
        url,
        public_url: None,
        now_millis: 1_700_000_000_123,
    }
}

fn url() -> Url {
    Url::parse("http://127.0.0.1:8080/in/src?x=1").expect("a URL")
}

fn header<'a>(out: &'a Outgoing, name: &str) -> &'a str {
    out.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no header {name}: {:?}", out.headers))
}

fn json_of(out: &Outgoing) -> Value {
    serde_json::from_slice(&out.body).expect("a JSON body")
}

#[test]
fn generic_hmac_signs_timestamp_dot_body_like_the_example_config() {
    let url = url();
    let out = build(&input(Preset::GenericHmac, &url)).expect("builds");
    assert_eq!(header(&out, "x-timestamp"), "1700000000");
    let mac = hmac_sha256(b"s3cr3t", &[b"1700000000.", &out.body]);
    assert_eq!(
        header(&out, "x-signature"),
        format!("sha256={}", hex::encode(mac))
    );
    assert_eq!(json_of(&out)["type"], "order.paid");
}

#[test]
fn two_sends_carry_different_ids() {
    let url = url();
    let a = build(&input(Preset::Stripe, &url)).expect("builds");
    let b = build(&input(Preset::Stripe, &url)).expect("builds");
    assert_ne!(json_of(&a)["id"], json_of(&b)["id"]);
    let a = build(&input(Preset::Github, &url)).expect("builds");
    let b = build(&input(Preset::Github, &url)).expect("builds");
    assert_ne!(
        header(&a, "x-github-delivery"),
        header(&b, "x-github-delivery")
    );
}

#[test]
fn type_overrides_a_given_body_where_the_preset_reads_it() {
    let url = url();
    let mut stripe = input(Preset::Stripe, &url);
    stripe.body = Some(br#"{"id":"evt_1","type":"charge.failed"}"#.to_vec());
    stripe.event_type = Some("invoice.paid");
    let body = json_of(&build(&stripe).expect("builds"));
    assert_eq!(body, json!({"id": "evt_1", "type": "invoice.paid"}));

    let mut slack = input(Preset::Slack, &url);
    slack.body = Some(br#"{"type":"event_callback","event":{"type":"message"}}"#.to_vec());
    slack.event_type = Some("reaction_added");
    assert_eq!(
        json_of(&build(&slack).expect("builds"))["event"]["type"],
        "reaction_added"
    );
}

#[test]
fn a_given_body_is_sent_byte_for_byte_without_type() {
    let url = url();
    let bytes = b"{ \"type\" : \"x\",\n \"id\": 1 }".to_vec();
    let mut stripe = input(Preset::Stripe, &url);
    stripe.body = Some(bytes.clone());
    assert_eq!(build(&stripe).expect("builds").body, bytes);
}

#[test]
fn github_splits_the_type_into_event_header_and_action() {
    let url = url();
    let mut github = input(Preset::Github, &url);
    github.event_type = Some("pull_request.opened");
    let out = build(&github).expect("builds");
    assert_eq!(header(&out, "x-github-event"), "pull_request");
    assert_eq!(json_of(&out)["action"], "opened");
    let mac = hmac_sha256(b"s3cr3t", &[&out.body]);
    assert_eq!(
        header(&out, "x-hub-signature-256"),
        format!("sha256={}", hex::encode(mac))
    );
}

#[test]
fn meta_types_pick_the_shape_of_the_item() {
    let ids = Ids::new(1_700_000_000_123);
    let echo = meta_body("page.echo", &ids).expect("a body");
    let item = &echo["entry"][0]["messaging"][0];
    assert_eq!(item["sender"]["id"], META_PAGE);
    assert_eq!(item["recipient"]["id"], META_PSID);
    assert_eq!(item["message"]["is_echo"], true);

    let status = meta_body("whatsapp.status.read", &ids).expect("a body");
    assert_eq!(
        status["entry"][0]["changes"][0]["value"]["statuses"][0]["status"],
        "read"
    );
    let feed = meta_body("page.feed", &ids).expect("a body");
    assert_eq!(feed["entry"][0]["changes"][0]["field"], "feed");
    assert!(meta_body("nodot", &ids).is_err());
}

#[test]
fn meta_refuses_type_with_body() {
    let url = url();
    let mut meta = input(Preset::Meta, &url);
    meta.body = Some(b"{}".to_vec());
    meta.event_type = Some("page.message");
    assert!(build(&meta).is_err());
}

#[test]
fn twilio_flattens_a_json_body_and_sets_the_status() {
    let mut params = flatten_params(&json!({
        "CallSid": "CA1", "CallStatus": "ringing", "Digits": 1234, "Tag": ["a", "b"]
    }))
    .expect("flat");
    assert!(params.contains(&("Digits".to_owned(), "1234".to_owned())));
    assert!(params.contains(&("Tag".to_owned(), "b".to_owned())));
    set_twilio_status(&mut params, "twilio.completed");
    assert!(params.contains(&("CallStatus".to_owned(), "completed".to_owned())));
    set_twilio_status(&mut params, "twilio.request");
    assert!(params.iter().all(|(n, _)| n != "CallStatus"));
    assert!(flatten_params(&json!({"a": {"b": 1}})).is_err());
    assert!(flatten_params(&json!([1])).is_err());
}

#[test]
fn twilio_signs_the_public_url_with_the_query_of_the_url() {
    let url = url();
    let public = Url::parse("https://hooks.example.com/in/src").expect("a URL");
    let mut twilio = input(Preset::Twilio, &url);
    twilio.public_url = Some(&public);
    let out = build(&twilio).expect("builds");
    let params: Vec<(String, String)> = form_urlencoded::parse(&out.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        header(&out, "x-twilio-signature"),
        hookd_signature::twilio::sign("s3cr3t", "https://hooks.example.com/in/src?x=1", &params)
    );
    assert_eq!(out.content_type, FORM);
}

#[test]
fn softpro_always_sends_a_fresh_timestamp() {
    let url = url();
    let mut softpro = input(Preset::SoftPro, &url);
    softpro.body = Some(
        br#"{"id":"e1","type":"contact.created","timestamp":"2001-01-01T00:00:00Z"}"#.to_vec(),
    );
    let body = json_of(&build(&softpro).expect("builds"));
    assert_eq!(body["timestamp"], "2023-11-14T22:13:20.123Z");
    assert_eq!(body["type"], "contact.created");
}

#[test]
fn a_standard_webhooks_secret_must_be_whsec() {
    let url = url();
    assert!(build(&input(Preset::StandardWebhooks, &url)).is_err());
    let mut sw = input(Preset::StandardWebhooks, &url);
    sw.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let out = build(&sw).expect("builds");
    assert!(header(&out, "webhook-signature").starts_with("v1,"));
}

#[test]
fn set_pointer_creates_objects_on_the_way() {
    let mut value = json!({});
    set_pointer(&mut value, "/event/type", json!("x")).expect("sets");
    assert_eq!(value, json!({"event": {"type": "x"}}));
    let mut value = json!({"event": 1});
    assert!(set_pointer(&mut value, "/event/type", json!("x")).is_err());
}
