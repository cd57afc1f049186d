//! `/v1/stats/sources`, `/v1/stats/queues` and `/v1/health` over real HTTP: known mixes
//! of signed, forged and repeated webhooks against sinks that fail on purpose give exact
//! counts, outcomes, errors and ordered percentiles; the stats outlive retention; health
//! tells disconnected, rejecting and healthy sources apart; queues need an admin of `*`;
//! a tenant sees only its own sources. Every gateway flushes its stats every 100 ms.

use std::time::Duration;

use hookd::sink::SinkOptions;
use hookd_store::{JobState, Store as _};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::keys::{Api, error};
use crate::support::{
    FAST_BACKOFF, SHOP_SOURCE, SOURCE_SECRET, Signer, TestGateway, TestSink, WAIT, api_token,
    eventually, now_secs, sink_options,
};

/// Stats reach the store every 100 ms.
const FAST_STATS: &str = "\n[stats]\nflush_interval = \"100ms\"\n";

/// A `generic-hmac` source `name` of `tenant`, signed like [`SHOP_SOURCE`], with `extra`
/// keys.
fn source(name: &str, tenant: &str, extra: &str) -> String {
    format!(
        r#"
[sources.{name}]
tenant = "{tenant}"
secrets = ["{SOURCE_SECRET}"]
signature_header = "x-signature"
event_id = {{ json = "/id" }}
{extra}
"#
    )
}

/// `[[routes]]` from `source` to `destination` on `queue`.
fn route(source: &str, queue: &str, destination: &str) -> String {
    format!(
        "\n[[routes]]\nsource = \"{source}\"\nqueue = \"{queue}\"\ndestination = \"{destination}\"\n"
    )
}

/// `GET path` with `token`, asserting 200; the answer's `data`.
async fn data(api: &Api, path: &str, token: &str) -> Vec<Value> {
    let (status, answer) = api.get(path, Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    answer["data"]
        .as_array()
        .unwrap_or_else(|| panic!("{path}: no data: {answer}"))
        .clone()
}

/// The item named `name` of `items`.
fn named<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {items:#?}"))
}

/// The names of `items`, in order.
fn names(items: &[Value]) -> Vec<&str> {
    items.iter().filter_map(|i| i["name"].as_str()).collect()
}

/// Polls `path` until the item `name` satisfies `done`; returns it.
async fn item_when(
    api: &Api,
    path: &str,
    token: &str,
    name: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(
        &format!("{name} of {path} to be complete"),
        WAIT,
        || async {
            let items = data(api, path, token).await;
            let item = named(&items, name).clone();
            done(&item).then_some(item)
        },
    )
    .await
}

/// Asserts `value` is `{p50, p95, p99}` in order, all at least `min`.
fn assert_percentiles(value: &Value, min: i64, what: &str) {
    let p = |q: &str| {
        value[q]
            .as_i64()
            .unwrap_or_else(|| panic!("{what}.{q} is not a number: {value}"))
    };
    let (p50, p95, p99) = (p("p50"), p("p95"), p("p99"));
    assert!(min <= p50 && p50 <= p95 && p95 <= p99, "{what}: {value}");
}

/// `fields[].path` of a 400 answer, sorted.
fn field_paths(answer: &(StatusCode, Value)) -> Vec<String> {
    error(answer, StatusCode::BAD_REQUEST, "invalid_request");
    let mut paths: Vec<String> = answer.1["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {}", answer.1))
        .iter()
        .map(|f| f["path"].as_str().expect("a path").to_owned())
        .collect();
    paths.sort();
    paths
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stats_count_exactly_the_webhooks_sent_their_outcomes_errors_and_lags() {
    // Every delivery to `app` fails once with 503 and then succeeds; `broken` refuses
    // for good with 400, so its job dies at once.
    let app = TestSink::start(SinkOptions {
        fail_first: 1,
        ..sink_options()
    })
    .await;
    let broken = TestSink::start(SinkOptions {
        fail_first: 1_000,
        fail_status: 400,
        ..sink_options()
    })
    .await;
    let ledger = TestSink::ok().await;
    let toml = format!(
        r#"{SHOP_SOURCE}{app}{broken}{ledger}{FAST_STATS}
[sources.pay]
preset = "stripe"
secrets = ["whsec_test_secret"]

[queues.default]
max_attempts = 3
{FAST_BACKOFF}

[queues.payments]

[[routes]]
source = "shop"
types = ["order.paid"]
destination = "app"

[[routes]]
source = "shop"
types = ["order.failed"]
destination = "broken"

[[routes]]
source = "pay"
queue = "payments"
destination = "ledger"
"#,
        app = app.destination("app"),
        broken = broken.destination("broken"),
        ledger = ledger.destination("ledger"),
    );
    let gw = TestGateway::start(&toml).await;
    let api = Api::new(&gw);
    let root = api_token(gw.store(), "*", "admin").await;

    // 5 paid orders, 1 failed one, 2 repeats, 3 forged signatures.
    let mut events = Vec::new();
    for n in 0..5 {
        events.push(gw.send(&json!({ "id": format!("paid-{n}") })).await);
    }
    let dead = gw
        .send(&json!({ "id": "failed-0", "type": "order.failed" }))
        .await;
    let signer = Signer::new(SOURCE_SECRET);
    for n in 0..2 {
        let repeat = json!({ "id": format!("paid-{n}"), "type": "order.paid" });
        let answer = gw.send_signed("shop", &signer, &repeat).await;
        assert_eq!(answer["duplicate"], true, "{answer}");
    }
    for n in 0..3 {
        let body = json!({ "id": format!("forged-{n}"), "type": "order.paid" })
            .to_string()
            .into_bytes();
        let (status, answer) = gw
            .post("shop", &body, &Signer::new("not the secret").headers(&body))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    }
    // Two Stripe events that happened a minute before they were sent.
    for n in 0..2 {
        let now = now_secs();
        let body = json!({
            "id": format!("evt_stripe_{n}"),
            "object": "event",
            "type": "invoice.paid",
            "created": now - 60,
            "data": {"object": {"id": "in_1"}}
        })
        .to_string()
        .into_bytes();
        let signature = hookd_signature::stripe::sign("whsec_test_secret", now, &body);
        let headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("stripe-signature".to_owned(), signature),
        ];
        let (status, answer) = gw.post("pay", &body, &headers).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    for event in &events {
        gw.wait_job(event, JobState::Succeeded).await;
    }
    gw.wait_job(&dead, JobState::Dead).await;

    let shop = item_when(&api, "/v1/stats/sources", &root, "shop", |s| {
        s["succeeded"] == 5 && s["dead"] == 1 && s["rejected"]["total"] == 3
    })
    .await;
    assert_eq!(shop["tenant"], "default", "{shop}");
    assert_eq!(shop["period"], "24h", "{shop}");
    assert_eq!(shop["received"], 6, "{shop}");
    assert_eq!(
        shop["rejected"],
        json!({"total": 3, "by_reason": {"signature_mismatch": 3}}),
        "{shop}"
    );
    assert_eq!(shop["duplicates"], 2, "{shop}");
    assert_eq!(
        (&shop["succeeded"], &shop["failed"], &shop["dead"]),
        (&json!(5), &json!(5), &json!(1)),
        "{shop}"
    );
    let rate = shop["success_rate"].as_f64().expect("a success rate");
    assert!((rate - 5.0 / 11.0).abs() < 1e-9, "{shop}");
    assert_eq!(
        shop["top_errors"],
        json!([{"error": "HTTP 503", "count": 5}, {"error": "HTTP 400", "count": 1}]),
        "{shop}"
    );
    assert_percentiles(&shop["processing_ms"], 0, "processing_ms");
    assert_percentiles(&shop["lag_ms"]["commit"], 0, "lag_ms.commit");
    assert_percentiles(&shop["lag_ms"]["first_attempt"], 0, "lag_ms.first_attempt");
    // Each success came after a failed attempt and its back-off (50 ms).
    assert_percentiles(&shop["lag_ms"]["succeeded"], 50, "lag_ms.succeeded");
    assert_eq!(shop["lag_ms"]["provider"], Value::Null, "{shop}");
    assert!(shop["last_received_at"].is_string(), "{shop}");

    let pay = item_when(&api, "/v1/stats/sources", &root, "pay", |s| {
        s["succeeded"] == 2
    })
    .await;
    assert_eq!(pay["received"], 2, "{pay}");
    assert_eq!(pay["success_rate"], 1.0, "{pay}");
    assert_eq!(pay["top_errors"], json!([]), "{pay}");
    assert_percentiles(&pay["lag_ms"]["provider"], 59_000, "lag_ms.provider");

    let queues = data(&api, "/v1/stats/queues", &root).await;
    assert_eq!(names(&queues), ["default", "payments"]);
    let default = named(&queues, "default");
    assert_eq!(
        (
            &default["received"],
            &default["succeeded"],
            &default["failed"],
            &default["dead"]
        ),
        (&json!(6), &json!(5), &json!(5), &json!(1)),
        "{default}"
    );
    assert_eq!(default["top_errors"], shop["top_errors"], "{default}");
    assert_percentiles(&default["processing_ms"], 0, "processing_ms");
    assert_percentiles(
        &default["lag_ms"]["first_attempt"],
        0,
        "lag_ms.first_attempt",
    );
    assert_percentiles(&default["lag_ms"]["succeeded"], 50, "lag_ms.succeeded");
    let payments = named(&queues, "payments");
    assert_eq!(
        (&payments["received"], &payments["succeeded"]),
        (&json!(2), &json!(2)),
        "{payments}"
    );

    // Counted once: later flushes add nothing.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = data(&api, "/v1/stats/sources?source=shop", &root).await;
    assert_eq!(again.len(), 1, "{again:#?}");
    for figure in [
        "received",
        "rejected",
        "duplicates",
        "succeeded",
        "failed",
        "dead",
    ] {
        assert_eq!(again[0][figure], shop[figure], "{figure}");
    }

    // Every period reads the same minute rows; each says which it is.
    for period in ["1h", "24h", "7d", "30d"] {
        let items = data(
            &api,
            &format!("/v1/stats/sources?period={period}&source=shop"),
            &root,
        )
        .await;
        assert_eq!(items[0]["period"], period);
        assert_eq!(items[0]["received"], 6, "{period}");
        let queue = data(
            &api,
            &format!("/v1/stats/queues?period={period}&queue=default"),
            &root,
        )
        .await;
        assert_eq!(names(&queue), ["default"]);
        assert_eq!(queue[0]["received"], 6, "{period}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stats_outlive_retention_pruning_the_events() {
    let sink = TestSink::ok().await;
    let toml = format!(
        "{SHOP_SOURCE}{app}{FAST_STATS}\n[retention]\nsucceeded = \"1s\"\ninterval = \"100ms\"\n{route}",
        app = sink.destination("app"),
        route = route("shop", "default", "app"),
    );
    let gw = TestGateway::start(&toml).await;
    let api = Api::new(&gw);
    let root = api_token(gw.store(), "*", "admin").await;
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(gw.send(&json!({ "id": format!("kept-{n}") })).await);
    }
    let before = item_when(&api, "/v1/stats/sources", &root, "shop", |s| {
        s["succeeded"] == 3
    })
    .await;

    for event in &events {
        eventually(&format!("{event} to be pruned"), WAIT, || async {
            let stored = gw.store().event_get(event).await.expect("event_get");
            stored.is_none().then_some(())
        })
        .await;
    }
    let after = data(&api, "/v1/stats/sources?source=shop", &root).await;
    let figures = |item: &Value| {
        let mut item = item.clone();
        let fields = item.as_object_mut().expect("an object");
        fields.remove("from");
        fields.remove("until");
        item
    };
    assert_eq!(figures(&after[0]), figures(&before));
    assert_eq!(after[0]["received"], 3, "{}", after[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_tells_disconnected_rejecting_and_healthy_sources_apart() {
    let sink = TestSink::ok().await;
    let toml = format!(
        "{quiet}{noisy}{good}{app}{FAST_STATS}{r1}{r2}{r3}",
        quiet = source("quiet", "default", "expected_interval = \"1s\""),
        noisy = source("noisy", "default", ""),
        good = source("good", "default", ""),
        app = sink.destination("app"),
        r1 = route("quiet", "default", "app"),
        r2 = route("noisy", "default", "app"),
        r3 = route("good", "default", "app"),
    );
    let gw = TestGateway::start(&toml).await;
    let api = Api::new(&gw);
    let read = api_token(gw.store(), "default", "read").await;
    let signer = Signer::new(SOURCE_SECRET);
    let forger = Signer::new("not the secret");

    for n in 0..3 {
        gw.send_signed("good", &signer, &json!({ "id": format!("good-{n}") }))
            .await;
    }
    gw.send_signed("noisy", &signer, &json!({ "id": "noisy-ok" }))
        .await;
    for n in 0..9 {
        let body = json!({ "id": format!("noisy-{n}") })
            .to_string()
            .into_bytes();
        let (status, answer) = gw.post("noisy", &body, &forger.headers(&body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    }

    let health = |done: fn(&[Value]) -> bool| {
        let (api, read) = (&api, &read);
        async move {
            eventually("the health report", WAIT, || async move {
                let items = data(api, "/v1/health", read).await;
                done(&items).then_some(items)
            })
            .await
        }
    };
    let report = health(|items| {
        named(items, "noisy")["status"] == "unhealthy"
            && named(items, "good")["last_received_at"].is_string()
    })
    .await;
    assert_eq!(names(&report), ["good", "noisy", "quiet"]);

    let quiet = named(&report, "quiet");
    assert_eq!(quiet["status"], "disconnected", "{quiet}");
    assert_eq!(quiet["score"], 0, "{quiet}");
    assert_eq!(
        quiet["reasons"],
        json!(["nothing received recently (expected every 1s)"]),
        "{quiet}"
    );
    assert_eq!(quiet["expected_interval"], "1s", "{quiet}");
    assert_eq!(quiet["last_received_at"], Value::Null, "{quiet}");

    let noisy = named(&report, "noisy");
    assert_eq!(noisy["score"], 40, "{noisy}");
    assert_eq!(
        noisy["reasons"],
        json!(["9 of 10 deliveries rejected (90%) in the last 15m, mostly signature_mismatch"]),
        "{noisy}"
    );
    assert_eq!(noisy["expected_interval"], Value::Null, "{noisy}");

    let good = named(&report, "good");
    assert_eq!(good["status"], "healthy", "{good}");
    assert_eq!(good["score"], 100, "{good}");
    assert_eq!(good["reasons"], json!([]), "{good}");

    // A delivery connects the quiet source; a second of silence disconnects it again.
    gw.send_signed("quiet", &signer, &json!({ "id": "quiet-1" }))
        .await;
    health(|items| named(items, "quiet")["status"] == "healthy").await;
    let report = health(|items| named(items, "quiet")["status"] == "disconnected").await;
    let quiet = named(&report, "quiet");
    assert!(quiet["last_received_at"].is_string(), "{quiet}");
    assert!(
        quiet["reasons"][0].as_str().is_some_and(
            |r| r.starts_with("nothing received for ") && r.ends_with(" (expected every 1s)")
        ),
        "{quiet}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sees_only_its_own_sources() {
    let sink = TestSink::ok().await;
    let toml = format!(
        "{acme}{globex}{app}{FAST_STATS}{r1}{r2}",
        acme = source("shop", "acme", ""),
        globex = source("other", "globex", ""),
        app = sink.destination("app"),
        r1 = route("shop", "default", "app"),
        r2 = route("other", "default", "app"),
    );
    let gw = TestGateway::start(&toml).await;
    let api = Api::new(&gw);
    let root = api_token(gw.store(), "*", "admin").await;
    let acme = api_token(gw.store(), "acme", "read").await;

    gw.send_signed(
        "other",
        &Signer::new(SOURCE_SECRET),
        &json!({ "id": "o-1" }),
    )
    .await;
    let other = item_when(&api, "/v1/stats/sources", &root, "other", |s| {
        s["received"] == 1
    })
    .await;
    assert_eq!(other["tenant"], "globex", "{other}");
    assert_eq!(
        names(&data(&api, "/v1/stats/sources", &root).await),
        ["other", "shop"]
    );

    // acme sees its configured source, with zeros, and nothing of globex's.
    let seen = data(&api, "/v1/stats/sources", &acme).await;
    assert_eq!(names(&seen), ["shop"]);
    let shop = &seen[0];
    assert_eq!(shop["tenant"], "acme", "{shop}");
    for figure in ["received", "duplicates", "succeeded", "failed", "dead"] {
        assert_eq!(shop[figure], 0, "{figure}: {shop}");
    }
    assert_eq!(shop["rejected"], json!({"total": 0, "by_reason": {}}));
    assert_eq!(shop["success_rate"], Value::Null, "{shop}");
    assert_eq!(shop["processing_ms"], Value::Null, "{shop}");
    assert_eq!(
        shop["lag_ms"],
        json!({"provider": null, "commit": null, "first_attempt": null, "succeeded": null})
    );
    assert_eq!(shop["last_received_at"], Value::Null, "{shop}");
    // Another tenant's source is absent, as a missing one is.
    assert!(
        data(&api, "/v1/stats/sources?source=other", &acme)
            .await
            .is_empty()
    );
    assert!(
        data(&api, "/v1/stats/sources?source=nowhere", &root)
            .await
            .is_empty()
    );
    assert_eq!(names(&data(&api, "/v1/health", &acme).await), ["shop"]);
    assert_eq!(
        names(&data(&api, "/v1/health", &root).await),
        ["other", "shop"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_stats_need_an_admin_of_every_tenant() {
    let gw = TestGateway::start(&format!("{SHOP_SOURCE}{FAST_STATS}")).await;
    let api = Api::new(&gw);
    for (tenant, scope) in [("*", "read"), ("*", "write"), ("default", "admin")] {
        let token = api_token(gw.store(), tenant, scope).await;
        let answer = api.get("/v1/stats/queues", Some(&token)).await;
        error(&answer, StatusCode::FORBIDDEN, "forbidden");
        // The sources and their health are theirs to read.
        assert_eq!(
            names(&data(&api, "/v1/stats/sources", &token).await),
            ["shop"]
        );
        assert_eq!(names(&data(&api, "/v1/health", &token).await), ["shop"]);
    }
    let root = api_token(gw.store(), "*", "admin").await;
    let queues = data(&api, "/v1/stats/queues", &root).await;
    assert_eq!(names(&queues), ["default"]);
    assert_eq!(queues[0]["received"], 0);
    assert_eq!(queues[0]["success_rate"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_with_every_problem_in_fields() {
    let gw = TestGateway::start(&format!("{SHOP_SOURCE}{FAST_STATS}")).await;
    let api = Api::new(&gw);
    let root = api_token(gw.store(), "*", "admin").await;
    for (path, expected) in [
        ("/v1/stats/sources?period=2h", &["query.period"][..]),
        ("/v1/stats/sources?period=", &["query.period"]),
        ("/v1/stats/sources?period=1h&period=7d", &["query.period"]),
        ("/v1/stats/sources?limit=5", &["query.limit"]),
        (
            "/v1/stats/sources?period=1w&queue=default",
            &["query.period", "query.queue"],
        ),
        ("/v1/stats/queues?period=1d", &["query.period"]),
        ("/v1/stats/queues?source=shop", &["query.source"]),
        ("/v1/stats/queues?queue=a&queue=b", &["query.queue"]),
        ("/v1/health?period=1h", &["query.period"]),
    ] {
        let answer = api.get(path, Some(&root)).await;
        assert_eq!(field_paths(&answer), expected, "{path}: {}", answer.1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_an_invalid_one_is_401_for_every_stats_operation() {
    let gw = TestGateway::start(&format!("{SHOP_SOURCE}{FAST_STATS}")).await;
    let api = Api::new(&gw);
    for path in [
        "/v1/stats/sources",
        "/v1/stats/queues",
        "/v1/health",
        // Before any parameter is read.
        "/v1/stats/sources?period=nonsense",
    ] {
        for token in [None, Some("hkd_not_a_token")] {
            let answer = api.get(path, token).await;
            error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
}
