//! `/v1/config` over real HTTP: sources, routes, queues and destinations edited through
//! the API are in force for the very next webhook and claimed job, survive a restart,
//! show their secrets masked, get exactly the file's checks, and are exported by
//! `hookd config export`. Sources belong to their tenant; the rest needs an admin of `*`.

use std::process::Stdio;
use std::sync::Arc;

use hookd::runtime::Gateway;
use hookd_store::{JobState, Store as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::process::Command;

use super::Setup;
use super::keys::{Api, error};
use crate::support::gateway::{load_config, open_store};
use crate::support::{
    SHOP_SOURCE, SINK_SECRET, Signer, TestGateway, TestSink, WAIT, api_token, eventually,
};

/// `shop` routes to `app` on `default`; a queue `bulk` and a destination `witness` wait
/// for routes made through the API.
fn config(app: &TestSink, witness: &TestSink) -> String {
    format!(
        r#"{SHOP_SOURCE}{app}{witness}
[queues.bulk]
concurrency = 2

[[routes]]
source = "shop"
destination = "app"
"#,
        app = app.destination("app"),
        witness = witness.destination("witness"),
    )
}

async fn setup() -> Setup {
    Setup::start(config).await
}

impl Setup {
    /// `method path` as root with `body`; the answer.
    async fn root(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        self.api.call(method, path, Some(&self.root), body).await
    }

    /// `PUT path` as root, asserting 200; the object answered.
    async fn put(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.root(Method::PUT, path, Some(body)).await;
        assert_eq!(status, StatusCode::OK, "PUT {path}: {answer}");
        answer
    }

    /// `GET path` as root, asserting 200.
    async fn get(&self, path: &str) -> Value {
        let (status, answer) = self.root(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {answer}");
        answer
    }
}

/// Posts `body` to `shop` signed with `secret`; the status.
async fn post_signed(gw: &TestGateway, secret: &str, body: &Value) -> (StatusCode, Value) {
    let bytes = body.to_string().into_bytes();
    gw.post("shop", &bytes, &Signer::new(secret).headers(&bytes))
        .await
}

/// The `fields` of a 400 answer as (path, problem) pairs.
fn fields(answer: &(StatusCode, Value)) -> Vec<(String, String)> {
    error(answer, StatusCode::BAD_REQUEST, "invalid_request");
    answer.1["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {}", answer.1))
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("a path").to_owned(),
                f["problem"].as_str().expect("a problem").to_owned(),
            )
        })
        .collect()
}

/// The names in a list answer, in order.
fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|o| o["name"].as_str().expect("a name").to_owned())
        .collect()
}

/// The route `name` from `shop` to `witness` on `queue`.
fn witness_route(queue: &str) -> Value {
    json!({ "source": "shop", "queue": queue, "destination": "witness" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_effective_configuration_shows_every_object_with_its_origin_and_masked_secrets() {
    let s = setup().await;
    let route = s
        .put("/v1/config/routes/to-witness", &witness_route("bulk"))
        .await;
    assert_eq!(route["origin"], "api", "{route}");
    assert_eq!(route["config"]["name"], "to-witness", "{route}");

    let all = s.get("/v1/config").await;
    assert_eq!(names(&all["sources"]), ["shop"]);
    assert_eq!(names(&all["routes"]), ["routes[0]", "to-witness"]);
    assert_eq!(names(&all["queues"]), ["bulk"]);
    assert_eq!(names(&all["destinations"]), ["app", "witness"]);
    assert_eq!(all["routes"][0]["origin"], "file", "{all}");
    assert_eq!(all["routes"][0]["updated_at"], Value::Null, "{all}");
    assert_eq!(all["routes"][1]["origin"], "api", "{all}");
    assert!(all["routes"][1]["updated_at"].is_string(), "{all}");
    assert_eq!(
        all["sources"][0]["config"]["secrets"],
        json!(["••••"]),
        "{all}"
    );
    assert_eq!(
        all["destinations"][0]["config"]["secret"], "••••LaSw",
        "{all}"
    );
    assert!(!all.to_string().contains(SINK_SECRET), "{all}");

    // Each kind's list and object agree with the whole.
    for kind in ["sources", "routes", "queues", "destinations"] {
        let list = s.get(&format!("/v1/config/{kind}")).await;
        assert_eq!(list["data"], all[kind], "{kind}");
        for object in all[kind].as_array().expect("a list") {
            let name = object["name"].as_str().expect("a name");
            let path = format!("/v1/config/{kind}/{}", urlencoding(name));
            assert_eq!(&s.get(&path).await, object, "{path}");
        }
    }
}

/// `name` as one path segment.
fn urlencoding(name: &str) -> String {
    name.replace('[', "%5B").replace(']', "%5D")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_edits_are_in_force_for_the_next_webhook_and_job_and_survive_a_restart() {
    let s = setup().await;
    // A new route: the very next webhook fans out to the witness too.
    s.put("/v1/config/routes/to-witness", &witness_route("bulk"))
        .await;
    let first = s.gw.send(&json!({ "id": "ord_1" })).await;
    let records = s.witness.wait_for(1).await;
    assert_eq!(records[0].webhook_id.as_deref(), Some(first.as_str()));

    // A rotated secret: the new one first, the old one kept by its mask.
    let source = s.get("/v1/config/sources/shop").await;
    let mut body = source["config"].clone();
    body["secrets"] = json!(["rotated-secret", source["config"]["secrets"][0]]);
    s.put("/v1/config/sources/shop", &body).await;
    let (status, answer) = post_signed(
        &s.gw,
        "rotated-secret",
        &json!({"id": "ord_2", "type": "order.paid"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = post_signed(
        &s.gw,
        "s3cr3t",
        &json!({"id": "ord_3", "type": "order.paid"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the old secret still verifies: {answer}"
    );
    // The rotation ends: only the new secret.
    body["secrets"] = json!(["rotated-secret"]);
    s.put("/v1/config/sources/shop", &body).await;
    let (status, answer) = post_signed(
        &s.gw,
        "s3cr3t",
        &json!({"id": "ord_4", "type": "order.paid"}),
    )
    .await;
    error(
        &(status, answer),
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );
    s.witness.wait_for(3).await;

    // A paused queue: the next job on it is not claimed.
    let (status, answer) = s.root(Method::POST, "/v1/queues/bulk/pause", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer) = post_signed(
        &s.gw,
        "rotated-secret",
        &json!({"id": "ord_5", "type": "order.paid"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let held = answer["id"].as_str().expect("an id").to_owned();
    s.app.wait_for(4).await;

    let toml = config(&s.app, &s.witness);
    let data = s.gw.shutdown().await;
    let gw = TestGateway::start_in(data, &toml).await;
    let api = Api::new(&gw);
    let s = Setup { gw, api, ..s };

    let route = s.get("/v1/config/routes/to-witness").await;
    assert_eq!(route["origin"], "api", "{route}");
    let (status, answer) = post_signed(
        &s.gw,
        "s3cr3t",
        &json!({"id": "ord_6", "type": "order.paid"}),
    )
    .await;
    error(
        &(status, answer),
        StatusCode::UNAUTHORIZED,
        "signature_mismatch",
    );
    let (status, answer) = post_signed(
        &s.gw,
        "rotated-secret",
        &json!({"id": "ord_7", "type": "order.paid"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    s.app.wait_for(5).await;
    let bulk =
        s.gw.jobs(&held)
            .await
            .into_iter()
            .find(|j| j.queue == "bulk")
            .expect("a bulk job");
    assert_eq!(
        bulk.state,
        JobState::Ready,
        "still paused after the restart: {bulk:?}"
    );
    assert_eq!(s.witness.records().len(), 3);

    let (status, answer) = s.root(Method::POST, "/v1/queues/bulk/resume", None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    s.witness.wait_for(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_made_through_the_api_gets_a_working_pool_and_a_deleted_one_goes() {
    let s = setup().await;
    let queue = s
        .put(
            "/v1/config/queues/fresh",
            &json!({ "concurrency": 1, "max_attempts": 2 }),
        )
        .await;
    assert_eq!(
        queue["config"],
        json!({ "concurrency": 1, "max_attempts": 2 })
    );
    s.put("/v1/config/routes/fresh", &witness_route("fresh"))
        .await;
    let event = s.gw.send(&json!({ "id": "ord_fresh" })).await;
    let records = s.witness.wait_for(1).await;
    assert_eq!(records[0].webhook_id.as_deref(), Some(event.as_str()));
    let (_, queues) = s.root(Method::GET, "/v1/queues", None).await;
    assert!(
        names(&queues["data"]).contains(&"fresh".to_owned()),
        "{queues}"
    );

    // The route still uses it.
    let answer = s
        .root(Method::DELETE, "/v1/config/queues/fresh", None)
        .await;
    let detail = error(&answer, StatusCode::CONFLICT, "conflict");
    assert!(detail.contains("\"fresh\""), "{detail}");

    let (gw, event) = (&s.gw, &event);
    eventually("the fresh job succeeds", WAIT, || async move {
        let jobs = gw.jobs(event).await;
        jobs.iter()
            .all(|j| j.state == JobState::Succeeded)
            .then_some(())
    })
    .await;
    let (status, _) = s
        .root(Method::DELETE, "/v1/config/routes/fresh", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .root(Method::DELETE, "/v1/config/queues/fresh", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = s.root(Method::GET, "/v1/config/queues/fresh", None).await;
    error(&answer, StatusCode::NOT_FOUND, "not_found");

    // Both writes and both deletes are in the audit log.
    let audit = s.get("/v1/audit").await;
    let entries: Vec<(String, String, u64)> = audit["data"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("an action").to_owned(),
                e["target"].as_str().expect("a target").to_owned(),
                e["count"].as_u64().expect("a count"),
            )
        })
        .collect();
    let entry = |action: &str, target: &str| (action.to_owned(), target.to_owned(), 1);
    assert_eq!(
        entries,
        [
            entry("config.delete", "queue:fresh"),
            entry("config.delete", "route:fresh"),
            entry("config.put", "route:fresh"),
            entry("config.put", "queue:fresh"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masked_secrets_sent_back_keep_their_secrets_and_an_unknown_mask_is_400() {
    let s = setup().await;
    let destination = s.get("/v1/config/destinations/witness").await;
    assert_eq!(destination["config"]["secret"], "••••LaSw");
    // GET → edit → PUT: the secret is kept, so the sink still verifies what it gets.
    let mut body = destination["config"].clone();
    body["timeout"] = json!("5s");
    s.put("/v1/config/destinations/witness", &body).await;
    s.put("/v1/config/routes/to-witness", &witness_route("default"))
        .await;
    s.gw.send(&json!({ "id": "ord_masked" })).await;
    let records = s.witness.wait_for(1).await;
    assert!(records[0].verified, "{:?}", records[0]);

    let answer = s
        .root(
            Method::PUT,
            "/v1/config/sources/shop",
            Some(&json!({ "secrets": ["••••"], "signature_header": "x-signature", "verify_token": "••••nope" })),
        )
        .await;
    let paths: Vec<String> = fields(&answer).into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["/verify_token"], "{}", answer.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_400_with_a_json_pointer_to_every_problem() {
    let s = setup().await;
    let cases: &[(&str, Value, &[&str])] = &[
        (
            "/v1/config/sources/shop",
            json!(["not", "an", "object"]),
            &["body"],
        ),
        (
            "/v1/config/sources/shop",
            json!({ "secret": ["x"], "signature_header": "x-s" }),
            &["/secret", "/secrets"],
        ),
        (
            "/v1/config/sources/shop",
            json!({ "secrets": [], "signature_header": 7 }),
            &["/signature_header", "/secrets"],
        ),
        (
            "/v1/config/sources/sh%20op",
            json!({ "secrets": ["x"], "signature_header": "x-s" }),
            &["path.name"],
        ),
        (
            "/v1/config/routes/r",
            json!({ "name": "other", "source": "shop", "destination": "app" }),
            &["/name"],
        ),
        (
            "/v1/config/routes/r",
            json!({ "source": "shop", "queue": "nope", "destination": "app", "priority": 9 }),
            &["/queue", "/priority"],
        ),
        // `null` leaves a key out; in a list it is a problem.
        (
            "/v1/config/queues/bulk",
            json!({ "concurrency": 2, "lease": null }),
            &[],
        ),
        (
            "/v1/config/sources/s",
            json!({ "secrets": ["x", null], "signature_header": "x-s" }),
            &["/secrets/1"],
        ),
        (
            "/v1/config/queues/q",
            json!({ "concurrency": 0, "backoff": { "jitter": "some" } }),
            &["/concurrency", "/backoff/jitter"],
        ),
        (
            "/v1/config/destinations/d",
            json!({ "url": "ftp://x", "timeout": "0s" }),
            &["/url", "/secret", "/timeout"],
        ),
        // Making `shop` raw breaks the file's route that reads JSON: named by its key path.
        (
            "/v1/config/sources/shop",
            json!({ "secrets": ["x"], "signature_header": "x-s", "format": "raw", "event_type": { "header": "x-type" } }),
            &[],
        ),
    ];
    for (path, body, expected) in cases {
        let answer = s.root(Method::PUT, path, Some(body)).await;
        if expected.is_empty() {
            assert_eq!(answer.0, StatusCode::OK, "{path} {body}: {}", answer.1);
            continue;
        }
        let mut got: Vec<String> = fields(&answer).into_iter().map(|(p, _)| p).collect();
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|p| (*p).to_owned()).collect();
        want.sort();
        assert_eq!(got, want, "{path} {body}: {}", answer.1);
    }
    // A route made against a raw source names the problem in the route.
    let answer = s
        .root(
            Method::PUT,
            "/v1/config/routes/keyed",
            Some(&json!({ "source": "shop", "destination": "app", "ordering_key": "/id" })),
        )
        .await;
    let got = fields(&answer);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "/ordering_key", "{got:?}");
    // Nothing was stored by the refused edits.
    let config = s.get("/v1/config").await;
    assert_eq!(names(&config["queues"]), ["bulk"]);
    assert_eq!(names(&config["sources"]), ["shop"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_that_would_break_the_rest_are_409_and_missing_objects_are_404() {
    let s = setup().await;
    let answer = s
        .root(Method::DELETE, "/v1/config/destinations/app", None)
        .await;
    let detail = error(&answer, StatusCode::CONFLICT, "conflict");
    assert!(detail.contains("routes[0]"), "{detail}");
    let answer = s
        .root(Method::DELETE, "/v1/config/sources/shop", None)
        .await;
    error(&answer, StatusCode::CONFLICT, "conflict");
    let answer = s
        .root(Method::DELETE, "/v1/config/queues/default", None)
        .await;
    error(&answer, StatusCode::CONFLICT, "conflict");

    // A queue holding unfinished jobs stays.
    s.put("/v1/config/routes/to-bulk", &witness_route("bulk"))
        .await;
    s.root(Method::POST, "/v1/queues/bulk/pause", None).await;
    s.gw.send(&json!({ "id": "ord_held" })).await;
    let (status, _) = s
        .root(Method::DELETE, "/v1/config/routes/to-bulk", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = s.root(Method::DELETE, "/v1/config/queues/bulk", None).await;
    let detail = error(&answer, StatusCode::CONFLICT, "conflict");
    assert!(detail.contains("unfinished"), "{detail}");

    // A file route deleted through the API stays hidden.
    let (status, _) = s
        .root(Method::DELETE, "/v1/config/routes/routes%5B0%5D", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = s
        .root(Method::DELETE, "/v1/config/destinations/app", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    for kind in ["sources", "routes", "queues", "destinations"] {
        let answer = s
            .root(Method::DELETE, &format!("/v1/config/{kind}/nope"), None)
            .await;
        error(&answer, StatusCode::NOT_FOUND, "not_found");
        let answer = s
            .root(Method::GET, &format!("/v1/config/{kind}/nope"), None)
            .await;
        error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    let answer = s
        .root(Method::DELETE, "/v1/config/routes/routes%5B0%5D", None)
        .await;
    error(&answer, StatusCode::NOT_FOUND, "not_found");
}

/// Every configuration operation, as (method, path, body).
fn operations() -> Vec<(Method, &'static str, Option<Value>)> {
    let source = json!({ "secrets": ["x"], "signature_header": "x-s" });
    vec![
        (Method::GET, "/v1/config", None),
        (Method::GET, "/v1/config/sources", None),
        (Method::GET, "/v1/config/sources/shop", None),
        (Method::PUT, "/v1/config/sources/shop", Some(source)),
        (Method::DELETE, "/v1/config/sources/shop", None),
        (Method::GET, "/v1/config/routes", None),
        (Method::GET, "/v1/config/routes/routes%5B0%5D", None),
        (
            Method::PUT,
            "/v1/config/routes/r",
            Some(witness_route("bulk")),
        ),
        (Method::DELETE, "/v1/config/routes/routes%5B0%5D", None),
        (Method::GET, "/v1/config/queues", None),
        (Method::GET, "/v1/config/queues/bulk", None),
        (Method::PUT, "/v1/config/queues/bulk", Some(json!({}))),
        (Method::DELETE, "/v1/config/queues/bulk", None),
        (Method::GET, "/v1/config/destinations", None),
        (Method::GET, "/v1/config/destinations/witness", None),
        (
            Method::PUT,
            "/v1/config/destinations/witness",
            Some(json!({ "url": "http://127.0.0.1:1/", "secret": SINK_SECRET })),
        ),
        (Method::DELETE, "/v1/config/destinations/witness", None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_an_invalid_one_is_401_for_every_config_operation() {
    let s = setup().await;
    let before = s.get("/v1/config").await;
    for (method, path, body) in operations() {
        for token in [None, Some("hkd_not_a_token")] {
            let answer = s.api.call(method.clone(), path, token, body.as_ref()).await;
            error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
    assert_eq!(s.get("/v1/config").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_without_the_scope_or_the_tenant_are_403_for_every_config_operation() {
    let s = setup().await;
    let before = s.get("/v1/config").await;
    let store = s.gw.store();
    let root_read = api_token(store, "*", "read").await;
    let root_write = api_token(store, "*", "write").await;
    let tenant_admin = api_token(store, "default", "admin").await;
    for (method, path, body) in operations() {
        // Sources are read with `read` and written with `admin` of their tenant; the
        // rest needs an admin of `*`.
        let tokens = match (path.starts_with("/v1/config/sources"), &method) {
            (true, &Method::GET) => vec![],
            (true, _) => vec![&root_read, &root_write],
            (false, _) => vec![&root_read, &root_write, &tenant_admin],
        };
        for token in tokens {
            let answer = s
                .api
                .call(method.clone(), path, Some(token), body.as_ref())
                .await;
            error(&answer, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // A tenant's admin cannot put a source into another tenant.
    let answer = s
        .api
        .call(
            Method::PUT,
            "/v1/config/sources/other",
            Some(&tenant_admin),
            Some(&json!({ "tenant": "acme", "secrets": ["x"], "signature_header": "x-s" })),
        )
        .await;
    error(&answer, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(s.get("/v1/config").await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_source_is_404_like_a_missing_one_and_a_source_keeps_its_tenant() {
    let s = setup().await;
    let store = s.gw.store();
    let acme_admin = api_token(store, "acme", "admin").await;
    let acme_read = api_token(store, "acme", "read").await;
    let source = json!({ "secrets": ["acme-secret"], "signature_header": "x-s" });

    // A new source gets the token's tenant.
    let (status, made) = s
        .api
        .call(
            Method::PUT,
            "/v1/config/sources/acme-shop",
            Some(&acme_admin),
            Some(&source),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    assert_eq!(made["config"]["tenant"], "acme", "{made}");
    assert!(
        !made["warnings"].as_array().expect("warnings").is_empty(),
        "no route takes it: {made}"
    );

    let (status, list) = s.api.get("/v1/config/sources", Some(&acme_read)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(names(&list["data"]), ["acme-shop"]);
    let (status, one) = s
        .api
        .get("/v1/config/sources/acme-shop", Some(&acme_read))
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");

    // `shop` is of tenant `default`: to acme it does not exist.
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(&source)),
        (Method::DELETE, None),
    ] {
        let answer = s
            .api
            .call(method, "/v1/config/sources/shop", Some(&acme_admin), body)
            .await;
        error(&answer, StatusCode::NOT_FOUND, "not_found");
    }

    // A source cannot move to another tenant, not even by a root admin.
    let answer = s
        .root(
            Method::PUT,
            "/v1/config/sources/acme-shop",
            Some(&json!({ "tenant": "other", "secrets": ["x"], "signature_header": "x-s" })),
        )
        .await;
    let got = fields(&answer);
    assert_eq!(got[0].0, "/tenant", "{got:?}");
    // Without `tenant`, a root admin's PUT keeps the source's.
    let kept = s.put("/v1/config/sources/acme-shop", &source).await;
    assert_eq!(kept["config"]["tenant"], "acme", "{kept}");
    let (status, _) = s
        .api
        .call(
            Method::DELETE,
            "/v1/config/sources/acme-shop",
            Some(&acme_admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_objects_that_no_longer_fit_the_file_stop_the_start_naming_the_object() {
    let s = setup().await;
    s.put("/v1/config/routes/to-witness", &witness_route("bulk"))
        .await;
    let data = s.gw.shutdown().await;

    // The file loses the destination the stored route forwards to.
    let toml = format!(
        "{SHOP_SOURCE}{}\n[queues.bulk]\n\n[[routes]]\nsource = \"shop\"\ndestination = \"app\"\n",
        s.app.destination("app")
    );
    let store = Arc::new(open_store(data.path()).await);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let Err(problem) = Gateway::start(load_config(&toml), store, listener).await else {
        panic!("the gateway started with a route to a destination it does not have");
    };
    let message = format!("{problem:#}");
    assert!(message.contains("route \"to-witness\""), "{message}");
    assert!(
        message.contains("unknown destination \"witness\""),
        "{message}"
    );
}

/// Runs the real `hookd` binary with `args`; (exit code, stdout, stderr).
async fn hookd(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("hookd runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_export_prints_the_effective_configuration_with_secrets_that_config_check_accepts() {
    let s = setup().await;
    s.put("/v1/config/routes/to-witness", &witness_route("bulk"))
        .await;
    s.put(
        "/v1/config/destinations/witness",
        &json!({ "url": s.witness.url(), "secret": "whsec_dGhpcyBpcyBhIGZyZXNoIHNlY3JldCBrZXk=", "allow_private_network": true }),
    )
    .await;
    let (status, _) = s.root(Method::DELETE, "/v1/config/queues/bulk", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let toml = config(&s.app, &s.witness);
    let data = s.gw.shutdown().await;

    let dir = tempfile::TempDir::new().expect("a temporary directory");
    let file = dir.path().join("hookd.toml");
    std::fs::write(&file, &toml).expect("writing the file");
    let data_dir = data.path().to_str().expect("a UTF-8 path");
    let (code, exported, stderr) = hookd(&[
        "config",
        "export",
        "--config",
        file.to_str().expect("a UTF-8 path"),
        "--data-dir",
        data_dir,
    ])
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        exported.contains("whsec_dGhpcyBpcyBhIGZyZXNoIHNlY3JldCBrZXk="),
        "{exported}"
    );
    assert!(exported.contains("s3cr3t"), "{exported}");
    assert!(exported.contains("name = \"to-witness\""), "{exported}");
    assert!(!exported.contains("••••"), "{exported}");

    let again = dir.path().join("exported.toml");
    std::fs::write(&again, &exported).expect("writing the export");
    let (code, checked, stderr) =
        hookd(&["config", "check", again.to_str().expect("a UTF-8 path")]).await;
    assert_eq!(
        code,
        Some(0),
        "{checked}{stderr}\n--- export ---\n{exported}"
    );
    assert!(checked.contains("2 routes"), "{checked}");

    // The export is the configuration a gateway runs with.
    let exported_config = load_config(&exported);
    assert_eq!(exported_config.routes.len(), 2);
    assert_eq!(
        exported_config.destinations["witness"].url.as_str(),
        s.witness.url()
    );
    let store = open_store(data.path()).await;
    assert_eq!(store.config_object_list().await.expect("objects").len(), 2);
}
