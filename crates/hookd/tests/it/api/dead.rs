//! Dead letters and the audit log over real HTTP: listing dead jobs with their count per
//! queue, requeueing them by filter, by ids or one at a time, purging them, and the audit
//! entry every action leaves; tokens, scopes and tenancy. Jobs die here because the sink
//! fails the first request of each webhook-id and the queue allows one attempt; a
//! retried job's second request is answered 200.

use hookd::sink::SinkOptions;
use hookd_store::{JobState, Store as _};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::keys::{Api, error};
use crate::support::{
    SHOP_SOURCE, TestGateway, TestSink, WAIT, api_token, eventually, sink_options,
};

/// `shop` (tenant `default`) goes to `app` on queue `default`, one attempt per job.
fn config(app: &TestSink) -> String {
    format!(
        r#"{SHOP_SOURCE}{app}
[queues.default]
max_attempts = 1

[[routes]]
source = "shop"
queue = "default"
destination = "app"
"#,
        app = app.destination("app"),
    )
}

struct Setup {
    gw: TestGateway,
    _app: TestSink,
    api: Api,
    read: String,
    write: String,
    admin: String,
    root: String,
    globex_write: String,
}

async fn setup() -> Setup {
    let app = TestSink::start(SinkOptions {
        fail_first: 1,
        ..sink_options()
    })
    .await;
    let gw = TestGateway::start(&config(&app)).await;
    let api = Api::new(&gw);
    let store = gw.store();
    Setup {
        read: api_token(store, "default", "read").await,
        write: api_token(store, "default", "write").await,
        admin: api_token(store, "default", "admin").await,
        root: api_token(store, "*", "admin").await,
        globex_write: api_token(store, "globex", "write").await,
        gw,
        _app: app,
        api,
    }
}

impl Setup {
    /// Sends `n` webhooks and waits until each one's job is dead; their job ids.
    async fn dead_jobs(&self, n: usize) -> Vec<i64> {
        let mut events = Vec::new();
        for i in 0..n {
            events.push(
                self.gw
                    .send(&json!({ "id": format!("ord_{}", ulid::Ulid::new()), "n": i }))
                    .await,
            );
        }
        let mut ids = Vec::new();
        for event in &events {
            ids.push(self.gw.wait_job(event, JobState::Dead).await.id);
        }
        ids
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        self.api.call(Method::POST, path, token, body).await
    }

    /// The id of the API key behind `scope` of tenant `default`.
    async fn key_id(&self, scope: &str) -> String {
        self.gw
            .store()
            .api_key_list(Some("default"))
            .await
            .expect("keys")
            .into_iter()
            .find(|k| k.scope == scope)
            .expect("a key of that scope")
            .id
    }

    /// Waits until every job of `ids` is in `state`.
    async fn wait_all(&self, ids: &[i64], state: JobState) {
        let gw = &self.gw;
        eventually("every job reaches the state", WAIT, || async move {
            for id in ids {
                if gw.job_by_id(*id).await.state != state {
                    return None;
                }
            }
            Some(())
        })
        .await;
    }
}

fn fields(answer: &(StatusCode, Value)) -> Vec<String> {
    error(answer, StatusCode::BAD_REQUEST, "invalid_request");
    answer.1["error"]["fields"]
        .as_array()
        .unwrap_or_else(|| panic!("no fields: {}", answer.1))
        .iter()
        .map(|f| f["path"].as_str().expect("a path").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_dead_jobs_are_requeued_by_one_filtered_call_succeed_and_the_call_is_audited() {
    let s = setup().await;
    let ids = s.dead_jobs(100).await;

    let (status, page) = s.api.get("/v1/dead?limit=1", Some(&s.read)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["counts"],
        json!([{ "queue": "default", "dead": 100 }]),
        "{page}"
    );

    let answer = s
        .post(
            "/v1/dead/retry",
            Some(&s.write),
            Some(&json!({ "filter": { "queue": "default" } })),
        )
        .await;
    assert_eq!(answer, (StatusCode::OK, json!({ "queued": 100 })));

    // The target is up for the second request of each webhook-id.
    s.wait_all(&ids, JobState::Succeeded).await;
    let (_, page) = s.api.get("/v1/dead", Some(&s.read)).await;
    assert_eq!(page["counts"], json!([]), "{page}");
    assert_eq!(page["data"], json!([]), "{page}");

    let (status, audit) = s.api.get("/v1/audit", Some(&s.admin)).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let entry = &audit["data"][0];
    assert_eq!(entry["action"], "dead.retry", "{audit}");
    assert_eq!(entry["count"], 100, "{audit}");
    assert_eq!(entry["actor"], s.key_id("write").await, "{audit}");
    assert_eq!(entry["tenant"], "default", "{audit}");
    assert_eq!(entry["target"], "dead", "{audit}");
    let detail: Value =
        serde_json::from_str(entry["detail"].as_str().expect("detail")).expect("detail is JSON");
    assert_eq!(detail["filter"]["queue"], "default", "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dead_list_pages_newest_first_with_filters_and_counts_per_queue() {
    let s = setup().await;
    let ids = s.dead_jobs(3).await;

    let (status, first) = s.api.get("/v1/dead?limit=2", Some(&s.read)).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let listed: Vec<i64> = first["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|j| j["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(listed, vec![ids[2], ids[1]], "{first}");
    assert_eq!(first["counts"], json!([{ "queue": "default", "dead": 3 }]));
    assert_eq!(first["data"][0]["queue"], "default");
    assert_eq!(first["data"][0]["attempts"], 1);
    let cursor = first["next_cursor"].as_str().expect("a cursor");
    let (_, second) = s
        .api
        .get(&format!("/v1/dead?limit=2&cursor={cursor}"), Some(&s.read))
        .await;
    assert_eq!(second["data"][0]["id"], ids[0], "{second}");
    assert_eq!(second["next_cursor"], Value::Null, "{second}");

    for query in ["source=shop", "type=order.paid", "queue=default"] {
        let (_, page) = s.api.get(&format!("/v1/dead?{query}"), Some(&s.read)).await;
        assert_eq!(
            page["data"].as_array().map(Vec::len),
            Some(3),
            "{query}: {page}"
        );
    }
    for query in ["source=crm", "type=order.refunded", "queue=bulk"] {
        let (_, page) = s.api.get(&format!("/v1/dead?{query}"), Some(&s.read)).await;
        assert_eq!(page["data"], json!([]), "{query}: {page}");
        assert_eq!(page["counts"], json!([]), "{query}: {page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retrying_one_job_requeues_it_and_a_job_that_is_not_dead_is_409() {
    let s = setup().await;
    let ids = s.dead_jobs(2).await;
    let answer = s
        .post(&format!("/v1/jobs/{}/retry", ids[0]), Some(&s.write), None)
        .await;
    assert_eq!(answer, (StatusCode::OK, json!({ "queued": 1 })));
    s.wait_all(&ids[..1], JobState::Succeeded).await;
    assert_eq!(s.gw.job_by_id(ids[1]).await.state, JobState::Dead);
    assert_eq!(s.gw.attempts(ids[0]).await.len(), 2, "the history is kept");

    let again = s
        .post(&format!("/v1/jobs/{}/retry", ids[0]), Some(&s.write), None)
        .await;
    error(&again, StatusCode::CONFLICT, "conflict");

    let (_, audit) = s.api.get("/v1/audit", Some(&s.root)).await;
    let entry = &audit["data"][0];
    assert_eq!(entry["action"], "job.retry", "{audit}");
    assert_eq!(entry["target"], format!("job:{}", ids[0]), "{audit}");
    assert_eq!(entry["count"], 1, "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_by_ids_or_by_filter_deletes_dead_jobs_with_their_attempts_and_is_audited() {
    let s = setup().await;
    let ids = s.dead_jobs(3).await;
    let answer = s
        .post(
            "/v1/dead/purge",
            Some(&s.write),
            Some(&json!({ "ids": [ids[0]] })),
        )
        .await;
    assert_eq!(answer, (StatusCode::OK, json!({ "purged": 1 })));
    assert_eq!(s.gw.store().job_get(ids[0]).await.expect("get"), None);
    assert!(s.gw.attempts(ids[0]).await.is_empty());

    let answer = s
        .post(
            "/v1/dead/purge",
            Some(&s.write),
            Some(&json!({ "filter": {} })),
        )
        .await;
    assert_eq!(answer, (StatusCode::OK, json!({ "purged": 2 })));
    let (_, page) = s.api.get("/v1/dead", Some(&s.read)).await;
    assert_eq!(page["data"], json!([]), "{page}");

    let (_, audit) = s.api.get("/v1/audit?limit=1", Some(&s.admin)).await;
    assert_eq!(audit["data"][0]["action"], "dead.purge", "{audit}");
    assert_eq!(audit["data"][0]["count"], 2, "{audit}");
    let cursor = audit["next_cursor"].as_str().expect("a cursor");
    let (_, older) = s
        .api
        .get(&format!("/v1/audit?cursor={cursor}"), Some(&s.admin))
        .await;
    assert_eq!(older["data"][0]["count"], 1, "{older}");
    assert_eq!(older["next_cursor"], Value::Null, "{older}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_400_with_every_problem_in_fields() {
    let s = setup().await;
    let (status, answer) = s
        .api
        .get("/v1/dead?limit=0&cursor=abc&sort=asc", Some(&s.read))
        .await;
    assert_eq!(
        fields(&(status, answer)),
        ["query.limit", "query.cursor", "query.sort"]
    );
    let both = json!({ "ids": [1], "filter": {} });
    for path in ["/v1/dead/retry", "/v1/dead/purge"] {
        let answer = s.post(path, Some(&s.write), Some(&both)).await;
        assert_eq!(fields(&answer), ["/ids", "/filter"], "{path}");
        let answer = s.post(path, Some(&s.write), Some(&json!({}))).await;
        assert_eq!(fields(&answer), ["body"], "{path}");
        let answer = s
            .post(path, Some(&s.write), Some(&json!({ "ids": "all" })))
            .await;
        assert_eq!(fields(&answer), ["body"], "{path}");
        let answer = s
            .post(
                path,
                Some(&s.write),
                Some(&json!({ "ids": [1, 2.5, 9_223_372_036_854_775_808_u64] })),
            )
            .await;
        assert_eq!(fields(&answer), ["/ids/1", "/ids/2"], "{path}");
        let many: Vec<i64> = (1..=1001).collect();
        let answer = s
            .post(path, Some(&s.write), Some(&json!({ "ids": many })))
            .await;
        assert_eq!(fields(&answer), ["/ids"], "{path}");
    }
    let answer = s.post("/v1/jobs/abc/retry", Some(&s.write), None).await;
    assert_eq!(fields(&answer), ["path"]);
    let (status, answer) = s
        .api
        .get("/v1/audit?cursor=0&queue=x", Some(&s.admin))
        .await;
    assert_eq!(fields(&(status, answer)), ["query.cursor", "query.queue"]);
}

/// Every operation of this resource, with a body where it needs one.
fn operations(job: i64) -> Vec<(Method, String, Option<Value>)> {
    let filter = json!({ "filter": {} });
    vec![
        (Method::GET, "/v1/dead".to_owned(), None),
        (
            Method::POST,
            "/v1/dead/retry".to_owned(),
            Some(filter.clone()),
        ),
        (Method::POST, "/v1/dead/purge".to_owned(), Some(filter)),
        (Method::POST, format!("/v1/jobs/{job}/retry"), None),
        (Method::GET, "/v1/audit".to_owned(), None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_or_an_invalid_one_is_401_for_every_dead_operation() {
    let s = setup().await;
    for (method, path, body) in operations(1) {
        for token in [None, Some("hkd_not_a_key")] {
            let answer = s
                .api
                .call(method.clone(), &path, token, body.as_ref())
                .await;
            error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_token_is_403_for_the_actions_and_a_write_token_for_the_audit_log() {
    let s = setup().await;
    let ids = s.dead_jobs(1).await;
    for (method, path, body) in operations(ids[0]) {
        let answer = s
            .api
            .call(method.clone(), &path, Some(&s.read), body.as_ref())
            .await;
        if method == Method::GET && path == "/v1/dead" {
            assert_eq!(answer.0, StatusCode::OK, "{path}: {}", answer.1);
        } else {
            error(&answer, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    let answer = s.api.get("/v1/audit", Some(&s.write)).await;
    error(&answer, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        s.gw.job_by_id(ids[0]).await.state,
        JobState::Dead,
        "nothing moved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_dead_jobs_are_404_invisible_and_untouched() {
    let s = setup().await;
    let ids = s.dead_jobs(2).await;
    let answer = s
        .post(
            &format!("/v1/jobs/{}/retry", ids[0]),
            Some(&s.globex_write),
            None,
        )
        .await;
    error(&answer, StatusCode::NOT_FOUND, "not_found");
    let missing = s
        .post("/v1/jobs/999999/retry", Some(&s.globex_write), None)
        .await;
    error(&missing, StatusCode::NOT_FOUND, "not_found");

    let (_, page) = s.api.get("/v1/dead", Some(&s.globex_write)).await;
    assert_eq!(page["data"], json!([]), "{page}");
    assert_eq!(page["counts"], json!([]), "{page}");
    for (path, answer) in [("/v1/dead/retry", "queued"), ("/v1/dead/purge", "purged")] {
        let by_ids = s
            .post(path, Some(&s.globex_write), Some(&json!({ "ids": ids })))
            .await;
        assert_eq!(by_ids, (StatusCode::OK, json!({ answer: 0 })), "{path}");
        let by_filter = s
            .post(path, Some(&s.globex_write), Some(&json!({ "filter": {} })))
            .await;
        assert_eq!(by_filter, (StatusCode::OK, json!({ answer: 0 })), "{path}");
    }
    for id in &ids {
        assert_eq!(s.gw.job_by_id(*id).await.state, JobState::Dead);
    }
    // The tenant admin of default does not see globex's audit entries; root does.
    let (_, own) = s.api.get("/v1/audit", Some(&s.admin)).await;
    assert_eq!(own["data"], json!([]), "{own}");
    let (_, all) = s.api.get("/v1/audit", Some(&s.root)).await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(4), "{all}");
}
