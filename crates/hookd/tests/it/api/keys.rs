//! `/v1/keys` over real HTTP: making, listing and revoking API keys with the tokens a
//! user would hold (happy paths, 400 with `fields`, 401, 403, another tenant's key 404),
//! and `hookd token create`, run as the real binary, whose token then authenticates
//! against a gateway on the same store.

use std::process::Stdio;

use hookd_store::Store as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

use crate::support::{TestGateway, WAIT, api_token};

/// A client for `/v1` that sends a bearer token (or none) and reads every answer as JSON
/// (`Value::Null` for an empty one).
pub(super) struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    pub(super) fn new(gw: &TestGateway) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(WAIT)
                .build()
                .expect("a test HTTP client"),
            base: gw.url(""),
        }
    }

    /// `method path` with `token` (none when `None`) and a JSON `body` (none when
    /// `None`); the status and the answer.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let bytes = response.bytes().await.expect("reading the answer");
        if bytes.is_empty() {
            return (status, Value::Null);
        }
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "the answer ({status}) to {method} {path} is not JSON: {error}: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }

    /// `GET path` with `token`.
    pub(super) async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    /// `POST /v1/keys` with `body`, asserting 201; the answer.
    async fn create(&self, token: &str, body: &Value) -> Value {
        let (status, answer) = self
            .call(Method::POST, "/v1/keys", Some(token), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        answer
    }

    /// `GET /v1/keys?query` with `token`, asserting 200; the ids listed.
    async fn list_ids(&self, token: &str, query: &str) -> Vec<String> {
        let (status, answer) = self.get(&format!("/v1/keys?{query}"), Some(token)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no data: {answer}"))
            .iter()
            .map(|key| key["id"].as_str().expect("a key id").to_owned())
            .collect()
    }

    /// `DELETE /v1/keys/{id}` with `token`.
    async fn revoke(&self, token: &str, id: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, &format!("/v1/keys/{id}"), Some(token), None)
            .await
    }
}

/// Asserts an error answer of `status` with `code`; returns its detail.
pub(super) fn error(answer: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail: {body}"))
        .to_owned()
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

/// A gateway and the tokens of the tests: admins of every tenant, of `acme` and of
/// `globex`, and `acme` tokens with the smaller scopes.
struct Setup {
    gw: TestGateway,
    api: Api,
    root: String,
    acme_admin: String,
    globex_admin: String,
    acme_write: String,
    acme_read: String,
}

async fn setup() -> Setup {
    let gw = TestGateway::start("").await;
    let api = Api::new(&gw);
    let store = gw.store();
    Setup {
        root: api_token(store, "*", "admin").await,
        acme_admin: api_token(store, "acme", "admin").await,
        globex_admin: api_token(store, "globex", "admin").await,
        acme_write: api_token(store, "acme", "write").await,
        acme_read: api_token(store, "acme", "read").await,
        api,
        gw,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_makes_a_key_whose_token_is_shown_once_and_authenticates() {
    let s = setup().await;
    let made = s
        .api
        .create(
            &s.root,
            &json!({"tenant": "acme", "scope": "admin", "name": "deploy bot"}),
        )
        .await;
    let token = made["token"].as_str().expect("a token");
    assert!(
        token.starts_with("hkd_") && token.len() >= 4 + 32,
        "{token}"
    );
    let key = &made["key"];
    let id = key["id"].as_str().expect("an id");
    assert!(id.starts_with("key_"), "{id}");
    assert_eq!(key["tenant"], "acme");
    assert_eq!(key["scope"], "admin");
    assert_eq!(key["name"], "deploy bot");
    assert!(key["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(key["revoked_at"], Value::Null);
    assert!(key.get("token_hash").is_none(), "{made}");

    // The new token works: as an acme admin it sees its own key.
    let ids = s.api.list_ids(token, "").await;
    assert!(ids.contains(&id.to_owned()), "{ids:?}");

    // Never shown again, and never stored.
    let (_, listed) = s.api.get("/v1/keys", Some(&s.root)).await;
    assert!(!listed.to_string().contains(token), "{listed}");
    let stored =
        s.gw.store()
            .api_key_list(None)
            .await
            .expect("listing keys")
            .into_iter()
            .find(|k| k.id == id)
            .expect("the key is stored");
    assert_eq!(stored.name.as_deref(), Some("deploy bot"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_admin_makes_keys_of_its_own_tenant_by_default_and_no_other() {
    let s = setup().await;
    let made = s.api.create(&s.acme_admin, &json!({"scope": "read"})).await;
    assert_eq!(made["key"]["tenant"], "acme");
    assert_eq!(made["key"]["scope"], "read");
    assert_eq!(made["key"]["name"], Value::Null);
    let made = s
        .api
        .create(&s.acme_admin, &json!({"tenant": "acme", "scope": "write"}))
        .await;
    assert_eq!(made["key"]["tenant"], "acme");

    for tenant in ["globex", "*"] {
        let answer = s
            .api
            .call(
                Method::POST,
                "/v1/keys",
                Some(&s.acme_admin),
                Some(&json!({"tenant": tenant, "scope": "read"})),
            )
            .await;
        let detail = error(&answer, StatusCode::FORBIDDEN, "forbidden");
        assert!(detail.contains("\"acme\" only"), "{detail}");
    }

    // Only an admin of every tenant makes keys of another tenant, or of every tenant.
    let made = s
        .api
        .create(&s.root, &json!({"tenant": "*", "scope": "read"}))
        .await;
    assert_eq!(made["key"]["tenant"], "*");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_key_request_is_400_with_every_problem_in_fields() {
    let s = setup().await;
    let post = |body: Value| {
        let api = &s.api;
        let token = s.root.clone();
        async move {
            api.call(Method::POST, "/v1/keys", Some(&token), Some(&body))
                .await
        }
    };

    let answer = post(json!({"tenant": "a b", "name": "  "})).await;
    assert_eq!(
        fields(&answer),
        [
            (
                "/scope".to_owned(),
                "required: read, write or admin".to_owned()
            ),
            (
                "/tenant".to_owned(),
                "must not contain spaces or control characters".to_owned()
            ),
            (
                "/name".to_owned(),
                "must not be empty; leave it out for no name".to_owned()
            ),
        ]
    );

    let answer = post(json!({"scope": "superuser", "tenant": "", "name": "x".repeat(201)})).await;
    let got = fields(&answer);
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["/scope", "/tenant", "/name"], "{got:?}");
    assert!(got[0].1.contains("`superuser` is not a scope"), "{got:?}");

    // Unknown fields and bodies that are not JSON are named too.
    let answer = post(json!({"scope": "read", "tenat": "acme"})).await;
    let got = fields(&answer);
    assert_eq!(got.len(), 1);
    assert!(got[0].1.contains("unknown field `tenat`"), "{got:?}");
    let answer = post(json!(42)).await;
    assert_eq!(fields(&answer).len(), 1);

    // Nothing was made.
    let keys = s.gw.store().api_key_list(None).await.expect("listing keys");
    assert_eq!(keys.len(), 5, "only the setup's keys: {keys:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_a_garbage_one_or_a_revoked_key_is_401_for_every_key_operation() {
    let s = setup().await;
    let revoked = api_token(s.gw.store(), "*", "admin").await;
    let revoked_id =
        s.gw.store()
            .api_key_find(&hex::encode(Sha256::digest(revoked.as_bytes())))
            .await
            .expect("finding the key")
            .expect("the key is stored")
            .id;
    assert_eq!(
        s.api.revoke(&s.root, &revoked_id).await.0,
        StatusCode::NO_CONTENT
    );
    let target = s.api.create(&s.root, &json!({"scope": "read"})).await;
    let target_id = target["key"]["id"].as_str().expect("an id").to_owned();

    let body = json!({"scope": "read"});
    let operations: [(Method, String, Option<&Value>); 3] = [
        (Method::POST, "/v1/keys".to_owned(), Some(&body)),
        (Method::GET, "/v1/keys".to_owned(), None),
        (Method::DELETE, format!("/v1/keys/{target_id}"), None),
    ];
    for (method, path, body) in &operations {
        for (token, expected) in [
            (None, "an Authorization: Bearer token is required"),
            (
                Some("garbage"),
                "the token is neither an API key (hkd_…) nor a JWT",
            ),
            (
                Some("hkd_0123456789abcdef0123456789abcdef"),
                "the API key is not known",
            ),
            (Some(revoked.as_str()), "the API key has been revoked"),
        ] {
            let answer = s.api.call(method.clone(), path, token, *body).await;
            let detail = error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
            assert_eq!(detail, expected, "{method} {path}");
            if let Some(token) = token {
                assert!(!answer.1.to_string().contains(token), "the token is echoed");
            }
        }
    }
    // Even bad input is not read before the token is checked.
    let answer = s
        .api
        .call(Method::DELETE, "/v1/keys/nope", None, None)
        .await;
    error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");

    // And the key aimed at is still there.
    let ids = s.api.list_ids(&s.root, "").await;
    assert!(ids.contains(&target_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_tokens_are_403_for_every_key_operation() {
    let s = setup().await;
    let acme_key = s.api.create(&s.acme_admin, &json!({"scope": "read"})).await;
    let acme_key_id = acme_key["key"]["id"].as_str().expect("an id").to_owned();
    for token in [&s.acme_read, &s.acme_write] {
        let body = json!({"scope": "read"});
        let answer = s
            .api
            .call(Method::POST, "/v1/keys", Some(token), Some(&body))
            .await;
        let detail = error(&answer, StatusCode::FORBIDDEN, "forbidden");
        assert!(detail.starts_with("this needs the admin scope"), "{detail}");
        // The scope is checked before the body is read.
        let answer = s
            .api
            .call(Method::POST, "/v1/keys", Some(token), Some(&json!(42)))
            .await;
        error(&answer, StatusCode::FORBIDDEN, "forbidden");

        let answer = s.api.get("/v1/keys", Some(token)).await;
        error(&answer, StatusCode::FORBIDDEN, "forbidden");

        let answer = s.api.revoke(token, &acme_key_id).await;
        error(&answer, StatusCode::FORBIDDEN, "forbidden");
    }
    let ids = s.api.list_ids(&s.acme_admin, "").await;
    assert!(ids.contains(&acme_key_id), "not revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_the_tokens_tenant_and_every_tenant_to_a_root_admin() {
    let s = setup().await;
    let acme = s
        .api
        .create(&s.acme_admin, &json!({"scope": "read", "name": "a"}))
        .await;
    let acme_id = acme["key"]["id"].as_str().expect("an id").to_owned();
    let globex = s
        .api
        .create(&s.globex_admin, &json!({"scope": "read"}))
        .await;
    let globex_id = globex["key"]["id"].as_str().expect("an id").to_owned();

    let (status, answer) = s.api.get("/v1/keys", Some(&s.acme_admin)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let keys = answer["data"].as_array().expect("data");
    assert_eq!(keys.len(), 4, "three setup keys and the new one: {answer}");
    for key in keys {
        assert_eq!(key["tenant"], "acme", "{key}");
        let fields: Vec<&str> = key
            .as_object()
            .expect("a key")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            fields,
            ["created_at", "id", "name", "revoked_at", "scope", "tenant"],
            "never the token nor its hash"
        );
    }
    assert_eq!(
        keys.last().map(|k| k["id"].clone()),
        Some(json!(acme_id)),
        "oldest first"
    );
    let globex_ids = s.api.list_ids(&s.globex_admin, "").await;
    assert_eq!(globex_ids.len(), 2);
    assert!(globex_ids.contains(&globex_id) && !globex_ids.contains(&acme_id));

    let all = s.api.list_ids(&s.root, "").await;
    assert_eq!(all.len(), 7);
    assert!(all.contains(&acme_id) && all.contains(&globex_id));
    let only_globex = s.api.list_ids(&s.root, "tenant=globex").await;
    assert_eq!(only_globex, globex_ids);
    let only_all = s.api.list_ids(&s.root, "tenant=*").await;
    assert_eq!(only_all.len(), 1, "the root key itself");

    // Revoked keys are listed only when asked for.
    assert_eq!(
        s.api.revoke(&s.acme_admin, &acme_id).await.0,
        StatusCode::NO_CONTENT
    );
    let active = s.api.list_ids(&s.acme_admin, "").await;
    assert!(!active.contains(&acme_id));
    let (_, with_revoked) = s
        .api
        .get("/v1/keys?include_revoked=true", Some(&s.acme_admin))
        .await;
    let revoked = with_revoked["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|k| k["id"] == json!(acme_id))
        .unwrap_or_else(|| panic!("the revoked key is listed: {with_revoked}"));
    assert!(
        revoked["revoked_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_list_parameters_are_400_and_another_tenants_list_is_403() {
    let s = setup().await;
    let answer = s
        .api
        .get(
            "/v1/keys?include_revoked=maybe&tenant=a%20b&limit=3",
            Some(&s.root),
        )
        .await;
    let got = fields(&answer);
    let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["query.include_revoked", "query.tenant", "query.limit"],
        "{got:?}"
    );

    for tenant in ["globex", "*"] {
        let answer = s
            .api
            .get(&format!("/v1/keys?tenant={tenant}"), Some(&s.acme_admin))
            .await;
        error(&answer, StatusCode::FORBIDDEN, "forbidden");
    }
    assert_eq!(s.api.list_ids(&s.acme_admin, "tenant=acme").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_key_stops_it_at_once_and_a_second_revoke_is_404() {
    let s = setup().await;
    let made = s
        .api
        .create(&s.acme_admin, &json!({"scope": "admin"}))
        .await;
    let token = made["token"].as_str().expect("a token").to_owned();
    let id = made["key"]["id"].as_str().expect("an id").to_owned();
    assert_eq!(s.api.get("/v1/keys", Some(&token)).await.0, StatusCode::OK);

    let answer = s.api.revoke(&s.acme_admin, &id).await;
    assert_eq!(answer, (StatusCode::NO_CONTENT, Value::Null));
    let detail = error(
        &s.api.get("/v1/keys", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_eq!(detail, "the API key has been revoked");

    let detail = error(
        &s.api.revoke(&s.acme_admin, &id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert!(detail.contains(&id), "{detail}");

    // An admin may revoke its own key, too.
    let own =
        s.gw.store()
            .api_key_list(Some("globex"))
            .await
            .expect("listing keys")
            .remove(0)
            .id;
    assert_eq!(
        s.api.revoke(&s.globex_admin, &own).await.0,
        StatusCode::NO_CONTENT
    );
    let answer = s.api.get("/v1/keys", Some(&s.globex_admin)).await;
    error(&answer, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_key_is_404_like_a_missing_one_and_stays_valid() {
    let s = setup().await;
    let globex = s
        .api
        .create(&s.globex_admin, &json!({"scope": "admin"}))
        .await;
    let globex_token = globex["token"].as_str().expect("a token").to_owned();
    let globex_id = globex["key"]["id"].as_str().expect("an id").to_owned();

    let other = error(
        &s.api.revoke(&s.acme_admin, &globex_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let missing_id = format!("key_{}", ulid::Ulid::new());
    let missing = error(
        &s.api.revoke(&s.acme_admin, &missing_id).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        other.replace(&globex_id, "ID"),
        missing.replace(&missing_id, "ID")
    );
    assert_eq!(
        s.api.get("/v1/keys", Some(&globex_token)).await.0,
        StatusCode::OK,
        "the key was not revoked"
    );

    // A root admin reaches every tenant's key.
    assert_eq!(
        s.api.revoke(&s.root, &globex_id).await.0,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_of_something_that_is_not_a_key_id_is_400() {
    let s = setup().await;
    for id in ["nope", "key_", "evt_01JS8Z6Q1W7V3X0Y5N2M4K6P8R"] {
        let answer = s.api.revoke(&s.root, id).await;
        let got = fields(&answer);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, "path.id");
    }
}

/// Runs the real `hookd` binary with `args`; its exit code, stdout and stderr.
async fn hookd(args: &[&str]) -> (Option<i32>, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("running hookd");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hookd_token_create_prints_a_token_that_authenticates_against_a_gateway_on_its_store() {
    let data = TempDir::new().expect("a temporary directory");
    let dir = TempDir::new().expect("a temporary directory");
    let toml = format!(
        "[server]\ndata_dir = {:?}\nlog_level = \"warn\"\n",
        data.path().display().to_string()
    );
    let config = dir.path().join("hookd.toml");
    std::fs::write(&config, &toml).expect("writing the configuration");
    let config = config.display().to_string();

    let (code, stdout, stderr) = hookd(&[
        "token",
        "create",
        "--config",
        &config,
        "--tenant",
        "*",
        "--scope",
        "admin",
        "--name",
        "first admin",
    ])
    .await;
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let [token] = lines.as_slice() else {
        panic!("stdout holds the token alone: {stdout:?}");
    };
    assert!(token.starts_with("hkd_"), "{token}");
    assert!(
        !stderr.contains(token),
        "the token is printed once: {stderr}"
    );
    let id = stderr
        .split_whitespace()
        .find(|word| word.starts_with("key_"))
        .unwrap_or_else(|| panic!("stderr names the key id: {stderr}"))
        .to_owned();

    let (code, stdout, _) = hookd(&[
        "token", "create", "--config", &config, "--tenant", "acme", "--scope", "read",
    ])
    .await;
    assert_eq!(code, Some(0));
    let reader = stdout.trim().to_owned();

    let gw = TestGateway::start_in(data, &toml).await;
    let api = Api::new(&gw);
    let (status, answer) = api.get("/v1/keys", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let first = answer["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|key| key["id"] == json!(id))
        .unwrap_or_else(|| panic!("the key is listed: {answer}"));
    assert_eq!(first["tenant"], "*");
    assert_eq!(first["scope"], "admin");
    assert_eq!(first["name"], "first admin");
    let answer = api.get("/v1/keys", Some(&reader)).await;
    error(&answer, StatusCode::FORBIDDEN, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hookd_token_create_refuses_bad_input_with_exit_code_2() {
    let dir = TempDir::new().expect("a temporary directory");
    let config = dir.path().join("hookd.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\ndata_dir = {:?}\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .expect("writing the configuration");
    let config = config.display().to_string();

    let (code, _, stderr) = hookd(&[
        "token", "create", "--config", &config, "--tenant", "acme", "--scope", "root",
    ])
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--scope"), "{stderr}");

    let (code, _, stderr) = hookd(&[
        "token", "create", "--config", &config, "--tenant", "a b", "--scope", "read",
    ])
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--tenant: must not contain spaces"),
        "{stderr}"
    );

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[server]\nlisten = \"nowhere\"\n").expect("writing");
    let (code, stdout, stderr) = hookd(&[
        "token",
        "create",
        "--config",
        &broken.display().to_string(),
        "--tenant",
        "acme",
        "--scope",
        "read",
    ])
    .await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "no token: {stdout}");
    assert!(stderr.contains("server.listen"), "{stderr}");
    assert!(
        !dir.path().join("data").exists(),
        "no store is made for input that is refused"
    );
}
