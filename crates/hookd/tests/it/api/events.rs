//! `GET /v1/events` and `GET /v1/events/{id}` over real HTTP, on events that arrived as
//! real signed webhooks and were worked off by real sinks: the listing with every filter
//! and its pages (stable while webhooks keep arriving),
//! the detail with headers, body, jobs and attempts, 400 with `fields`, 401, and tenancy
//! (another tenant's event is 404 and absent from listings).

use std::collections::{HashMap, HashSet};
use std::time::UNIX_EPOCH;

use hookd::sink::SinkOptions;
use hookd_store::JobState;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::support::gateway::event_id;
use crate::support::{
    FAST_BACKOFF, SHOP_SOURCE, SOURCE_SECRET, Signer, TestGateway, TestSink, WAIT, api_token,
    sink_options,
};

/// The secret of the `other` source (tenant `globex`).
const OTHER_SECRET: &str = "0th3r-s3cr3t";

/// The secret of the `raw` source (tenant `acme`; no type, id from the body's hash).
const RAW_SECRET: &str = "r4w-s3cr3t";

/// A gateway with two tenants and one destination per fate a job can meet:
///
/// - `shop` (tenant `acme`): `order.*` → `app` (succeeds), `retry.*` → `flaky` on queue
///   `fast` (fails once, then succeeds), `refund.*` → `down` (a permanent 400: dead at
///   once), `later.*` → `app` after an hour (pending); any other type is unrouted.
/// - `raw` (tenant `acme`): no type, no id, no route: unrouted.
/// - `other` (tenant `globex`): everything → `app`.
struct Setup {
    gw: TestGateway,
    api: Api,
    /// A `read` token of `acme`.
    acme: String,
    /// A `read` token of `globex`.
    globex: String,
    /// A `read` token of every tenant (`*`).
    all: String,
    _sinks: [TestSink; 3],
}

async fn setup() -> Setup {
    let app = TestSink::ok().await;
    let flaky = TestSink::start(SinkOptions {
        fail_first: 1,
        ..sink_options()
    })
    .await;
    let down = TestSink::start(SinkOptions {
        fail_first: u32::MAX,
        fail_status: 400,
        ..sink_options()
    })
    .await;
    let toml = format!(
        r#"{SHOP_SOURCE}tenant = "acme"

[sources.raw]
preset = "generic-hmac"
format = "raw"
tenant = "acme"
secrets = ["{RAW_SECRET}"]
signature_header = "x-signature"

[sources.other]
preset = "generic-hmac"
tenant = "globex"
secrets = ["{OTHER_SECRET}"]
signature_header = "x-signature"
event_type = {{ json = "/type" }}
event_id = {{ json = "/id" }}
{app}{flaky}{down}
[queues.default]

[queues.fast]
max_attempts = 5
{FAST_BACKOFF}

[[routes]]
source = "shop"
types = ["order.*"]
destination = "app"

[[routes]]
source = "shop"
types = ["retry.*"]
queue = "fast"
destination = "flaky"

[[routes]]
source = "shop"
types = ["refund.*"]
destination = "down"

[[routes]]
source = "shop"
types = ["later.*"]
delay = "1h"
destination = "app"

[[routes]]
source = "other"
destination = "app"
"#,
        app = app.destination("app"),
        flaky = flaky.destination("flaky"),
        down = down.destination("down"),
    );
    let gw = TestGateway::start(&toml).await;
    let acme = api_token(gw.store(), "acme", "read").await;
    let globex = api_token(gw.store(), "globex", "read").await;
    let all = api_token(gw.store(), "*", "read").await;
    let api = Api::new(&gw);
    Setup {
        gw,
        api,
        acme,
        globex,
        all,
        _sinks: [app, flaky, down],
    }
}

/// A client of the gateway's `/v1`.
struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    fn new(gw: &TestGateway) -> Self {
        let client = reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("a test HTTP client");
        Self {
            client,
            base: gw.url(""),
        }
    }

    /// `GET path` with `token` as bearer (none when `None`); the status and the JSON
    /// answer.
    async fn get(&self, token: Option<&str>, path: &str) -> (StatusCode, Value) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let bytes = response.bytes().await.expect("reading the answer");
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "the answer ({status}) to GET {path} is not JSON: {error}: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }

    /// `GET /v1/events?query`, asserting 200; the page.
    async fn list(&self, token: &str, query: &str) -> Value {
        let (status, page) = self.get(Some(token), &format!("/v1/events?{query}")).await;
        assert_eq!(status, StatusCode::OK, "?{query}: {page}");
        page
    }

    /// The ids of every event `GET /v1/events?query` finds, walking all pages.
    async fn ids(&self, token: &str, query: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let with_cursor = match &cursor {
                Some(cursor) => format!("{query}&cursor={cursor}"),
                None => query.to_owned(),
            };
            let page = self.list(token, &with_cursor).await;
            ids.extend(page_ids(&page));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return ids,
            }
        }
    }

    /// `GET /v1/events/{id}`, asserting 200; the event.
    async fn detail(&self, token: &str, id: &str) -> Value {
        let (status, event) = self.get(Some(token), &format!("/v1/events/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{id}: {event}");
        event
    }
}

/// The ids of a page, in order.
fn page_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("the page has no data: {page}"))
        .iter()
        .map(|event| event["id"].as_str().expect("an id").to_owned())
        .collect()
}

/// Sends `body` to `source`, correctly signed with `secret`; the new event's id.
async fn send(gw: &TestGateway, source: &str, secret: &str, body: &Value) -> String {
    let answer = gw.send_signed(source, &Signer::new(secret), body).await;
    assert_eq!(answer["duplicate"], false, "{answer}");
    event_id(&answer)
}

/// Sends raw `body` bytes to `raw`, correctly signed; the new event's id.
async fn send_raw(gw: &TestGateway, body: &[u8]) -> String {
    let (status, answer) = gw
        .post("raw", body, &Signer::new(RAW_SECRET).headers(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    event_id(&answer)
}

/// Unix milliseconds of an RFC 3339 time the API answered, read by an independent
/// parser.
fn millis(time: &Value) -> i64 {
    let text = time
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {time}"));
    let at = humantime::parse_rfc3339(text).unwrap_or_else(|error| panic!("{text}: {error}"));
    let since = at.duration_since(UNIX_EPOCH).expect("after 1970");
    i64::try_from(since.as_millis()).expect("fits")
}

/// The events of every fate, each settled in its final (or, for `later`, lasting)
/// state: `ids["order"]` succeeded, `ids["retry"]` succeeded on its second attempt,
/// `ids["refund"]` dead, `ids["later"]` pending, `ids["note"]` and `ids["raw"]` unrouted
/// (all `acme`), `ids["globex"]` succeeded (`globex`).
async fn one_of_each(gw: &TestGateway) -> HashMap<&'static str, String> {
    let mut ids = HashMap::new();
    ids.insert(
        "order",
        gw.send(&json!({"id": "o-1", "type": "order.paid", "total": 5}))
            .await,
    );
    ids.insert(
        "retry",
        gw.send(&json!({"id": "r-1", "type": "retry.me"})).await,
    );
    ids.insert(
        "refund",
        gw.send(&json!({"id": "f-1", "type": "refund.created"}))
            .await,
    );
    ids.insert(
        "later",
        gw.send(&json!({"id": "l-1", "type": "later.reminder"}))
            .await,
    );
    ids.insert(
        "note",
        gw.send(&json!({"id": "n-1", "type": "note.added"})).await,
    );
    ids.insert("raw", send_raw(gw, b"plain text, no type").await);
    ids.insert(
        "globex",
        send(
            gw,
            "other",
            OTHER_SECRET,
            &json!({"id": "g-1", "type": "order.paid"}),
        )
        .await,
    );
    gw.wait_job(&ids["order"], JobState::Succeeded).await;
    gw.wait_job(&ids["retry"], JobState::Succeeded).await;
    gw.wait_job(&ids["refund"], JobState::Dead).await;
    gw.wait_job(&ids["later"], JobState::Scheduled).await;
    gw.wait_job(&ids["globex"], JobState::Succeeded).await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_the_tenants_events_newest_first_with_status_and_job_count() {
    let s = setup().await;
    let ids = one_of_each(&s.gw).await;

    let page = s.api.list(&s.acme, "").await;
    assert_eq!(page["next_cursor"], Value::Null, "{page}");
    let listed = page_ids(&page);
    let mut expected: Vec<String> = ["order", "retry", "refund", "later", "note", "raw"]
        .iter()
        .map(|fate| ids[fate].clone())
        .collect();
    expected.sort();
    expected.reverse();
    assert_eq!(listed, expected, "acme's events, newest (highest id) first");

    let by_id: HashMap<&str, &Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| (event["id"].as_str().unwrap(), event))
        .collect();
    let order = by_id[ids["order"].as_str()];
    let stored = s.gw.event(&ids["order"]).await;
    assert_eq!(
        *order,
        json!({
            "id": ids["order"],
            "tenant": "acme",
            "source": "shop",
            "type": "order.paid",
            "provider_event_id": "o-1",
            "occurred_at": null,
            "received_at": order["received_at"],
            "status": "succeeded",
            "jobs": 1,
        })
    );
    assert_eq!(millis(&order["received_at"]), stored.received_at);
    assert!(
        order["received_at"].as_str().unwrap().ends_with('Z'),
        "times are UTC: {order}"
    );
    let status = |fate: &str| by_id[ids[fate].as_str()]["status"].clone();
    assert_eq!(status("retry"), "succeeded");
    assert_eq!(status("refund"), "dead");
    assert_eq!(status("later"), "pending");
    assert_eq!(status("note"), "unrouted");
    assert_eq!(status("raw"), "unrouted");
    assert_eq!(by_id[ids["note"].as_str()]["jobs"], 0);
    assert_eq!(by_id[ids["raw"].as_str()]["type"], "");
    assert_eq!(by_id[ids["raw"].as_str()]["provider_event_id"], Value::Null);

    let everything = s.api.ids(&s.all, "").await;
    assert_eq!(everything.len(), 7, "the `*` token sees both tenants");
    assert!(everything.contains(&ids["globex"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detail_has_headers_body_extracted_fields_jobs_and_every_attempt() {
    let s = setup().await;
    let body = r#"{"id":"r-7", "type":"retry.me", "note":"café ☕"}"#.as_bytes();
    let headers = Signer::new(SOURCE_SECRET).headers(body);
    let (status, answer) = s.gw.post("shop", body, &headers).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let id = event_id(&answer);
    let job = s.gw.wait_job(&id, JobState::Succeeded).await;

    let event = s.api.detail(&s.acme, &id).await;
    let stored = s.gw.event(&id).await;
    assert_eq!(event["id"], id.as_str());
    assert_eq!(event["tenant"], "acme");
    assert_eq!(event["source"], "shop");
    assert_eq!(event["type"], "retry.me");
    assert_eq!(event["provider_event_id"], "r-7");
    assert_eq!(event["occurred_at"], Value::Null);
    assert_eq!(millis(&event["received_at"]), stored.received_at);
    assert_eq!(event["status"], "succeeded");
    assert_eq!(event["dedup_key"], stored.dedup_key.as_str());
    assert_eq!(event["body_encoding"], "utf8");
    assert_eq!(event["body"].as_str().unwrap().as_bytes(), body);
    let pairs: Vec<(String, String)> = event["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("a [name, value] pair");
            assert_eq!(pair.len(), 2, "{pair:?}");
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(pairs, stored.headers, "headers as received, in order");
    let signature = &headers.iter().find(|(n, _)| n == "x-signature").unwrap().1;
    assert!(pairs.contains(&("x-signature".to_owned(), signature.clone())));

    let jobs = event["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{event}");
    let detail = &jobs[0];
    assert_eq!(detail["id"], job.id);
    assert_eq!(detail["queue"], "fast");
    assert_eq!(detail["priority"], job.priority);
    assert_eq!(detail["state"], "succeeded");
    assert_eq!(detail["attempts"], 2);
    assert_eq!(millis(&detail["run_at"]), job.run_at);
    assert_eq!(millis(&detail["created_at"]), job.created_at);
    assert_eq!(detail["ordering_key"], Value::Null);
    assert_eq!(
        detail["target"],
        json!({"kind": "http", "destination": "flaky"})
    );
    assert_eq!(detail["last_error"], json!(job.last_error));

    let attempts = detail["attempt_list"].as_array().unwrap();
    let stored_attempts = s.gw.attempts(job.id).await;
    assert_eq!(attempts.len(), 2, "{detail}");
    for (attempt, stored) in attempts.iter().zip(&stored_attempts) {
        assert_eq!(attempt["number"], stored.number);
        assert_eq!(attempt["node"], s.gw.node().as_str());
        assert_eq!(attempt["outcome"], stored.outcome.as_str());
        assert_eq!(millis(&attempt["started_at"]), stored.record.started_at);
        assert_eq!(attempt["duration_ms"], stored.record.duration_ms);
        assert_eq!(attempt["status_code"], json!(stored.record.status_code));
        assert_eq!(attempt["response"], json!(stored.record.response));
        assert_eq!(attempt["error"], json!(stored.record.error));
    }
    assert_eq!(attempts[0]["outcome"], "failed");
    assert_eq!(attempts[0]["status_code"], 503);
    assert_eq!(attempts[1]["outcome"], "succeeded");
    assert_eq!(attempts[1]["status_code"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_utf8_is_given_in_base64_and_an_unrouted_event_has_no_jobs() {
    use base64::Engine as _;
    let s = setup().await;
    let body = [0xff, 0xfe, b'h', b'i', 0x00, 0xc3];
    let id = send_raw(&s.gw, &body).await;

    let event = s.api.detail(&s.acme, &id).await;
    assert_eq!(event["body_encoding"], "base64");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(event["body"].as_str().unwrap())
        .expect("standard base64");
    assert_eq!(decoded, body);
    assert_eq!(event["status"], "unrouted");
    assert_eq!(event["type"], "");
    assert_eq!(event["jobs"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_filter_narrows_the_list_to_exactly_the_matching_events() {
    let s = setup().await;
    let ids = one_of_each(&s.gw).await;
    let acme: Vec<String> = s.api.ids(&s.acme, "").await;
    let set = |fates: &[&str]| -> HashSet<String> {
        fates.iter().map(|fate| ids[fate].clone()).collect()
    };
    let found = async |token: &str, query: &str| -> HashSet<String> {
        s.api.ids(token, query).await.into_iter().collect()
    };

    assert_eq!(
        found(&s.acme, "source=shop").await,
        set(&["order", "retry", "refund", "later", "note"])
    );
    assert_eq!(found(&s.acme, "source=raw").await, set(&["raw"]));
    assert_eq!(found(&s.acme, "source=other").await, set(&[]));
    assert_eq!(found(&s.all, "source=other").await, set(&["globex"]));

    assert_eq!(found(&s.acme, "type=order.paid").await, set(&["order"]));
    assert_eq!(
        found(&s.all, "type=order.paid").await,
        set(&["order", "globex"])
    );
    assert_eq!(found(&s.acme, "type=").await, set(&["raw"]), "no type");
    assert_eq!(
        found(&s.acme, "type=order.*").await,
        set(&[]),
        "exact, no glob"
    );

    assert_eq!(
        found(&s.acme, "status=succeeded").await,
        set(&["order", "retry"])
    );
    assert_eq!(found(&s.acme, "status=dead").await, set(&["refund"]));
    assert_eq!(found(&s.acme, "status=pending").await, set(&["later"]));
    assert_eq!(
        found(&s.acme, "status=unrouted").await,
        set(&["note", "raw"])
    );

    assert_eq!(
        found(&s.acme, &format!("id_prefix={}", ids["refund"])).await,
        set(&["refund"])
    );
    assert_eq!(found(&s.acme, "id_prefix=evt_").await.len(), acme.len());
    assert_eq!(found(&s.acme, "id_prefix=evt_ZZZ").await, set(&[]));
    let prefix = &ids["note"][..14];
    let expected: HashSet<String> = acme
        .iter()
        .filter(|id| id.starts_with(prefix))
        .cloned()
        .collect();
    assert_eq!(
        found(&s.acme, &format!("id_prefix={prefix}")).await,
        expected
    );

    // Time: `received_from` is inclusive, `received_until` exclusive; both read RFC 3339
    // (any offset) and unix milliseconds. Expectations come from the times listed, so
    // events received in one millisecond cannot make the test flaky.
    let page = s.api.list(&s.acme, "").await;
    let received: Vec<(String, i64)> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            (
                event["id"].as_str().unwrap().to_owned(),
                millis(&event["received_at"]),
            )
        })
        .collect();
    let middle = received[received.len() / 2].1;
    let at_or_after: HashSet<String> = received
        .iter()
        .filter(|(_, at)| *at >= middle)
        .map(|(id, _)| id.clone())
        .collect();
    let before: HashSet<String> = received
        .iter()
        .filter(|(_, at)| *at < middle)
        .map(|(id, _)| id.clone())
        .collect();
    assert!(
        !at_or_after.is_empty() && !before.is_empty(),
        "{received:?}"
    );
    let rfc3339 = page["data"][received.len() / 2]["received_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        found(&s.acme, &format!("received_from={middle}")).await,
        at_or_after
    );
    assert_eq!(
        found(&s.acme, &format!("received_from={rfc3339}")).await,
        at_or_after
    );
    assert_eq!(
        found(&s.acme, &format!("received_until={middle}")).await,
        before
    );
    assert_eq!(
        found(&s.acme, &format!("received_until={rfc3339}")).await,
        before
    );
    // The same instant two hours west of UTC, its `:` and `+`-free offset percent-encoded.
    let west = {
        let at = humantime::format_rfc3339_millis(
            UNIX_EPOCH
                + std::time::Duration::from_millis(u64::try_from(middle - 2 * 3_600_000).unwrap()),
        )
        .to_string();
        format!("{}-02%3A00", at.trim_end_matches('Z'))
    };
    assert_eq!(
        found(&s.acme, &format!("received_from={west}")).await,
        at_or_after
    );
    assert_eq!(
        found(
            &s.acme,
            &format!("received_from={middle}&received_until={}", middle + 1)
        )
        .await,
        received
            .iter()
            .filter(|(_, at)| *at == middle)
            .map(|(id, _)| id.clone())
            .collect::<HashSet<_>>()
    );

    // Filters combine.
    assert_eq!(
        found(&s.acme, "source=shop&status=unrouted").await,
        set(&["note"])
    );
    assert_eq!(
        found(&s.all, "type=order.paid&status=succeeded&source=other").await,
        set(&["globex"])
    );

    // `limit` sizes the pages; the cursor walks them without overlap.
    let first = s.api.list(&s.acme, "limit=4").await;
    assert_eq!(page_ids(&first), acme[..4]);
    let cursor = first["next_cursor"].as_str().expect("a cursor").to_owned();
    assert_eq!(cursor, acme[3], "the cursor is the page's last id");
    let second = s
        .api
        .list(&s.acme, &format!("limit=4&cursor={cursor}"))
        .await;
    assert_eq!(page_ids(&second), acme[4..]);
    assert_eq!(second["next_cursor"], Value::Null);
    assert_eq!(s.api.ids(&s.acme, "limit=1").await, acme);
    let exact = s.api.list(&s.acme, "limit=6").await;
    assert_eq!(page_ids(&exact), acme);
    assert_eq!(
        exact["next_cursor"],
        Value::Null,
        "nothing follows an exact last page"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_with_every_problem_named_in_fields() {
    let s = setup().await;
    let problems = async |query: &str| -> Vec<String> {
        let (status, answer) = s
            .api
            .get(Some(&s.acme), &format!("/v1/events?{query}"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "?{query}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_request", "{answer}");
        assert!(answer["error"]["detail"].is_string(), "{answer}");
        answer["error"]["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("no fields: {answer}"))
            .iter()
            .map(|field| {
                assert!(
                    field["problem"].as_str().is_some_and(|p| !p.is_empty()),
                    "{field}"
                );
                field["path"].as_str().unwrap().to_owned()
            })
            .collect()
    };

    assert_eq!(problems("status=lost").await, ["query.status"]);
    assert_eq!(problems("status=Succeeded").await, ["query.status"]);
    for limit in ["0", "1001", "-3", "many", ""] {
        assert_eq!(problems(&format!("limit={limit}")).await, ["query.limit"]);
    }
    for time in [
        "yesterday",
        "2025-04-22",
        "2025-04-22T19:30:00",
        "2025-02-30T00:00:00Z",
    ] {
        assert_eq!(
            problems(&format!("received_from={time}")).await,
            ["query.received_from"]
        );
        assert_eq!(
            problems(&format!("received_until={time}")).await,
            ["query.received_until"]
        );
    }
    assert_eq!(
        problems("received_from=2000&received_until=1000").await,
        ["query.received_until"]
    );
    assert_eq!(problems("cursor=page-2").await, ["query.cursor"]);
    assert_eq!(problems("statuss=dead").await, ["query.statuss"]);
    assert_eq!(problems("limit=5&limit=6").await, ["query.limit"]);
    assert_eq!(
        problems("status=lost&limit=5000&received_from=yesterday&received_until=soon").await,
        [
            "query.status",
            "query.limit",
            "query.received_from",
            "query.received_until"
        ],
        "every problem at once, not only the first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_an_invalid_one_is_401_before_any_input_is_read() {
    let s = setup().await;
    let id = s.gw.send(&json!({"id": "o-1"})).await;
    let unknown_scope = api_token(s.gw.store(), "acme", "owner").await;
    for path in [
        "/v1/events".to_owned(),
        "/v1/events?status=lost".to_owned(),
        format!("/v1/events/{id}"),
        "/v1/events/evt_nope".to_owned(),
    ] {
        for token in [
            None,
            Some(""),
            Some("hkd_not_a_token"),
            Some(unknown_scope.as_str()),
        ] {
            let (status, answer) = s.api.get(token, &path).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{path} {token:?}: {answer}"
            );
            assert_eq!(answer["error"]["code"], "unauthorized", "{answer}");
        }
    }
    // Not a bearer token at all.
    let response = s
        .api
        .client
        .get(s.gw.url("/v1/events"))
        .header("authorization", format!("Basic {}", s.acme))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_reads_and_so_does_every_greater_scope() {
    // Reading needs the smallest scope, so no valid token is ever 403 here; a scope that
    // is not read, write or admin cannot authenticate at all (401, above).
    let s = setup().await;
    let id = s.gw.send(&json!({"id": "o-1"})).await;
    for scope in ["read", "write", "admin"] {
        let token = api_token(s.gw.store(), "acme", scope).await;
        assert_eq!(
            page_ids(&s.api.list(&token, "").await),
            [id.as_str()],
            "{scope}"
        );
        assert_eq!(
            s.api.detail(&token, &id).await["id"],
            id.as_str(),
            "{scope}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_event_is_404_like_a_missing_one_and_never_listed() {
    let s = setup().await;
    let mine = s.gw.send(&json!({"id": "o-1"})).await;
    let theirs = send(
        &s.gw,
        "other",
        OTHER_SECRET,
        &json!({"id": "g-1", "type": "order.paid"}),
    )
    .await;

    let (status, hidden) = s
        .api
        .get(Some(&s.acme), &format!("/v1/events/{theirs}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{hidden}");
    assert_eq!(hidden["error"]["code"], "not_found");
    let missing_id = format!("evt_{}", ulid::Ulid::new());
    for missing in [missing_id.as_str(), "nope"] {
        let (status, answer) = s
            .api
            .get(Some(&s.acme), &format!("/v1/events/{missing}"))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["error"]["code"], hidden["error"]["code"]);
    }

    assert_eq!(s.api.ids(&s.acme, "").await, [mine.as_str()]);
    assert_eq!(
        s.api.ids(&s.acme, &format!("id_prefix={theirs}")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        s.api.ids(&s.acme, "source=other").await,
        Vec::<String>::new()
    );
    assert_eq!(s.api.ids(&s.globex, "").await, [theirs.as_str()]);
    let (status, _) = s
        .api
        .get(Some(&s.globex), &format!("/v1/events/{mine}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    assert_eq!(s.api.detail(&s.all, &theirs).await["tenant"], "globex");
    assert_eq!(s.api.detail(&s.all, &mine).await["tenant"], "acme");
}

/// The walk asks for a page only after at least one more webhook was
/// committed since the previous page, so every page boundary sees new events arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn walking_all_pages_while_webhooks_keep_arriving_yields_every_earlier_event_exactly_once() {
    const EXISTING: usize = 60;
    let s = setup().await;
    let mut existing = HashSet::new();
    for n in 0..EXISTING {
        existing.insert(s.gw.send(&json!({"id": format!("before-{n}")})).await);
    }

    let (sent_tx, mut sent_rx) = watch::channel(Vec::<String>::new());
    let (stop_tx, stop_rx) = watch::channel(false);
    let sender = async {
        let mut n = 0;
        while !*stop_rx.borrow() {
            let id = s.gw.send(&json!({"id": format!("during-{n}")})).await;
            sent_tx.send_modify(|sent| sent.push(id));
            n += 1;
        }
    };
    let walker = async {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let arrived = sent_rx.borrow_and_update().len();
            sent_rx
                .wait_for(|sent| sent.len() > arrived)
                .await
                .expect("the sender runs");
            let query = match &cursor {
                Some(cursor) => format!("limit=7&cursor={cursor}"),
                None => "limit=7".to_owned(),
            };
            let page = s.api.list(&s.acme, &query).await;
            let ids = page_ids(&page);
            assert!(ids.len() <= 7, "{page}");
            seen.extend(ids);
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        stop_tx.send(true).expect("the sender listens");
        (seen, pages)
    };
    let ((), (seen, pages)) = tokio::join!(sender, walker);

    let sent_during: HashSet<String> = sent_tx.borrow().iter().cloned().collect();
    assert!(pages >= EXISTING / 7, "{pages} pages");
    assert!(
        sent_during.len() >= pages,
        "a webhook arrived before every page"
    );
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &seen {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "seen more than once: {repeated:?}");
    let missed: Vec<_> = existing
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missed.is_empty(),
        "{} earlier events missed: {missed:?}",
        missed.len()
    );
    assert!(
        seen.iter()
            .all(|id| existing.contains(id) || sent_during.contains(id)),
        "only events that were sent"
    );
    assert!(
        seen.windows(2).all(|pair| pair[0] > pair[1]),
        "newest first across pages"
    );
}
