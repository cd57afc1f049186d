//! `hookd send` round-trips against every preset: the real binary
//! sends to a running gateway with one source per preset, and the gateway must answer 200
//! and store an event of the type asked for, every time a new one. Also: `--type` puts the
//! type where each preset reads it, a `--body` file keeps its ids (so a second send is a
//! duplicate), a rejected send exits 1 and a send the flags cannot make exits 2.

use std::process::Stdio;

use serde_json::Value;
use tokio::process::Command;

use super::recipes::{highlevel_private_pem, highlevel_public_pem};
use crate::support::{TestGateway, TestSink};

/// What one run of `hookd send` did.
#[derive(Debug)]
pub(super) struct Sent {
    /// The exit code.
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

impl Sent {
    /// The status line `hookd send` prints first (`200 OK`).
    pub(super) fn status_line(&self) -> &str {
        self.stdout.lines().next().unwrap_or_default()
    }

    /// The gateway's JSON answer, printed after the status line.
    pub(super) fn answer(&self) -> Value {
        let body = self.stdout.split_once('\n').map_or("", |(_, rest)| rest);
        serde_json::from_str(body.trim())
            .unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {self:#?}"))
    }

    /// Asserts exit 0, 200 and a new event; returns its id.
    pub(super) fn event_id(&self) -> String {
        assert_eq!(self.code, Some(0), "{self:#?}");
        assert!(self.status_line().starts_with("200"), "{self:#?}");
        let answer = self.answer();
        assert_eq!(answer["duplicate"], false, "{self:#?}");
        answer["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id: {self:#?}"))
            .to_owned()
    }
}

/// Runs `hookd send ARGS` to its end.
pub(super) async fn hookd_send(args: &[&str]) -> Sent {
    let output = Command::new(env!("CARGO_BIN_EXE_hookd"))
        .arg("send")
        .args(args)
        .env_remove("HOOKD_SEND_SECRET")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("hookd runs");
    Sent {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const STANDARD_WEBHOOKS_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const TWILIO_PUBLIC_URL: &str = "https://hooks.example.com/in/twilio";

/// One source per preset, named after it; `generic-hmac` is the example config's demo
/// scheme, the one `hookd send` signs for.
fn config(sink: &TestSink) -> String {
    format!(
        r#"
[sources.generic-hmac]
preset = "generic-hmac"
secrets = ["demo-secret"]
signature_header = "x-signature"
prefix = "sha256="
timestamp_header = "x-timestamp"
signed_payload = "{{timestamp}}.{{body}}"
event_type = {{ json = "/type" }}
event_id = {{ json = "/id" }}

[sources.standard-webhooks]
preset = "standard-webhooks"
secrets = ["{STANDARD_WEBHOOKS_SECRET}"]

[sources.github]
preset = "github"
secrets = ["It's a Secret to Everybody"]

[sources.meta]
preset = "meta"
secrets = ["meta-app-secret"]
verify_token = "token"

[sources.stripe]
preset = "stripe"
secrets = ["whsec_test_secret"]

[sources.shopify]
preset = "shopify"
secrets = ["shopify-client-secret"]

[sources.slack]
preset = "slack"
secrets = ["8f742231b10e8888abcd99yyyzzz85a5"]

[sources.twilio]
preset = "twilio"
secrets = ["12345"]
public_url = "{TWILIO_PUBLIC_URL}"

[sources.highlevel]
preset = "highlevel"
public_key_ed25519 = """
{public_pem}"""

[sources.softpro]
preset = "softpro"
secrets = ["softpro-secret"]

{destination}

[[routes]]
source = ["generic-hmac", "standard-webhooks", "github", "meta", "stripe", "shopify", "slack", "twilio", "highlevel", "softpro"]
destination = "sink"
"#,
        public_pem = highlevel_public_pem(),
        destination = sink.destination("sink"),
    )
}

/// The secret flag value and extra flags `hookd send` needs for the source of `preset`.
fn flags(preset: &str, key_file: &str) -> Vec<String> {
    let secret = match preset {
        "generic-hmac" => "demo-secret",
        "standard-webhooks" => STANDARD_WEBHOOKS_SECRET,
        "github" => "It's a Secret to Everybody",
        "meta" => "meta-app-secret",
        "stripe" => "whsec_test_secret",
        "shopify" => "shopify-client-secret",
        "slack" => "8f742231b10e8888abcd99yyyzzz85a5",
        "twilio" => "12345",
        "highlevel" => key_file,
        "softpro" => "softpro-secret",
        other => panic!("no preset {other}"),
    };
    let mut flags = vec![
        "--preset".to_owned(),
        preset.to_owned(),
        "--secret".to_owned(),
        secret.to_owned(),
    ];
    if preset == "twilio" {
        flags.extend(["--public-url".to_owned(), TWILIO_PUBLIC_URL.to_owned()]);
    }
    flags
}

struct Setup {
    gw: TestGateway,
    sink: TestSink,
    /// Holds the HighLevel private key file.
    dir: tempfile::TempDir,
}

impl Setup {
    async fn new() -> Self {
        let sink = TestSink::ok().await;
        let gw = TestGateway::start(&config(&sink)).await;
        let dir = tempfile::TempDir::new().expect("a temporary directory");
        std::fs::write(dir.path().join("highlevel.pem"), highlevel_private_pem())
            .expect("writing the key");
        Setup { gw, sink, dir }
    }

    /// `hookd send` for `preset` to its source, with `extra` flags.
    async fn send(&self, preset: &str, extra: &[&str]) -> Sent {
        let key_file = format!("@{}", self.dir.path().join("highlevel.pem").display());
        let mut args = flags(preset, &key_file);
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        args.push(self.gw.url(&format!("/in/{preset}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hookd_send(&args).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hookd_send_round_trips_against_every_preset_with_its_typical_event() {
    let setup = Setup::new().await;
    let cases = [
        ("generic-hmac", "order.paid"),
        ("standard-webhooks", "contact.created"),
        ("github", "push"),
        ("meta", "page.message"),
        ("stripe", "payment_intent.succeeded"),
        ("shopify", "orders/create"),
        ("slack", "slack.app_mention"),
        ("twilio", "twilio.delivered"),
        ("highlevel", "ContactCreate"),
        ("softpro", "transaction.status_changed"),
    ];
    for (preset, event_type) in cases {
        // Twice: fresh ids every time, so the second is no duplicate.
        let first = setup.send(preset, &[]).await.event_id();
        let second = setup.send(preset, &[]).await.event_id();
        assert_ne!(first, second, "{preset}");
        for id in [first, second] {
            let event = setup.gw.event(&id).await;
            assert_eq!(event.source, preset);
            assert_eq!(event.event_type, event_type, "{preset}");
        }
    }
    let records = setup.sink.wait_for(2 * cases.len()).await;
    assert!(records.iter().all(|r| r.verified && r.status == 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_type_flag_sets_the_type_where_each_preset_reads_it() {
    let setup = Setup::new().await;
    let cases = [
        ("generic-hmac", "order.refunded", "order.refunded"),
        ("standard-webhooks", "invoice.paid", "invoice.paid"),
        ("github", "pull_request.opened", "pull_request.opened"),
        ("meta", "instagram.story_reply", "instagram.story_reply"),
        ("meta", "whatsapp.status.read", "whatsapp.status.read"),
        ("stripe", "invoice.paid", "invoice.paid"),
        ("shopify", "products/update", "products/update"),
        ("slack", "slack.reaction_added", "slack.reaction_added"),
        ("slack", "slack.command", "slack.command"),
        ("twilio", "twilio.completed", "twilio.completed"),
        ("twilio", "twilio.request", "twilio.request"),
        ("highlevel", "INSTALL", "INSTALL"),
        ("softpro", "document.uploaded", "document.uploaded"),
    ];
    for (preset, flag, stored) in cases {
        let id = setup.send(preset, &["--type", flag]).await.event_id();
        assert_eq!(
            setup.gw.event(&id).await.event_type,
            stored,
            "{preset} --type {flag}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_file_keeps_its_ids_and_takes_the_type_flag() {
    let setup = Setup::new().await;
    let file = setup.dir.path().join("event.json");
    std::fs::write(
        &file,
        r#"{"id": "evt_from_file", "object": "event", "type": "charge.failed", "data": {"object": {}}}"#,
    )
    .expect("writing the body");
    let file = file.display().to_string();

    let id = setup
        .send("stripe", &["--body", &file, "--type", "invoice.paid"])
        .await
        .event_id();
    let event = setup.gw.event(&id).await;
    assert_eq!(event.event_type, "invoice.paid");
    assert_eq!(event.provider_event_id.as_deref(), Some("evt_from_file"));

    // The file's id is kept, so sending it again is a duplicate of the first.
    let again = setup
        .send("stripe", &["--body", &file, "--type", "invoice.paid"])
        .await;
    assert_eq!(again.code, Some(0), "{again:#?}");
    assert_eq!(again.answer()["duplicate"], true, "{again:#?}");
    assert_eq!(again.answer()["id"], id.as_str());

    // Twilio takes a JSON object of parameters and sends it form-encoded.
    let params = setup.dir.path().join("call.json");
    std::fs::write(
        &params,
        r#"{"CallSid": "CA0123456789abcdef0123456789abcdef", "CallStatus": "ringing", "From": "+15017122661"}"#,
    )
    .expect("writing the parameters");
    let id = setup
        .send("twilio", &["--body", &params.display().to_string()])
        .await
        .event_id();
    let event = setup.gw.event(&id).await;
    assert_eq!(event.event_type, "twilio.ringing");
    assert_eq!(
        event.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_send_prints_the_answer_and_exits_1() {
    let setup = Setup::new().await;
    let sent = hookd_send(&[
        "--preset",
        "stripe",
        "--secret",
        "whsec_wrong",
        &setup.gw.url("/in/stripe"),
    ])
    .await;
    assert_eq!(sent.code, Some(1), "{sent:#?}");
    assert!(sent.status_line().starts_with("401"), "{sent:#?}");
    assert_eq!(sent.answer()["error"]["code"], "signature_mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_that_cannot_make_a_request_exit_2_and_send_nothing() {
    let setup = Setup::new().await;
    let url = setup.gw.url("/in/standard-webhooks");
    for args in [
        vec![
            "--preset",
            "standard-webhooks",
            "--secret",
            "not-whsec",
            &url,
        ],
        vec!["--preset", "highlevel", "--secret", "not a key", &url],
        vec!["--preset", "meta", "--secret", "s", "--type", "nodot", &url],
        vec![
            "--preset",
            "stripe",
            "--secret",
            "s",
            "--body",
            "/nonexistent/file",
            &url,
        ],
        vec!["--preset", "nope", "--secret", "s", &url],
    ] {
        let sent = hookd_send(&args).await;
        assert_eq!(sent.code, Some(2), "{args:?}: {sent:#?}");
        assert!(
            sent.stdout.is_empty(),
            "{args:?}: nothing was sent: {sent:#?}"
        );
        assert!(
            sent.stderr.contains("error"),
            "{args:?}: says why: {sent:#?}"
        );
    }
    assert!(setup.sink.records().is_empty());
}
