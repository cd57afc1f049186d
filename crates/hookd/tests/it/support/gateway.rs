//! [`TestGateway`]: the real gateway on `127.0.0.1:0`, its configuration loaded from TOML
//! text with `load_str`, its store opened by the test (the embedded store in a temporary
//! directory, or PostgreSQL on a [`TestDatabase`] schema) so that the test reads the very
//! store the gateway writes, and a client to talk to it.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hookd::config::Config;
use hookd::runtime::Gateway;
use hookd_store::{Attempt, Event, Job, JobState, Store};
use hookd_store_postgres::PostgresStore;
use hookd_store_sqlite::SqliteStore;
use reqwest::StatusCode;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;

use super::postgres::{NodeDatabase as _, TestDatabase};
use super::signer::Headers;
use super::{SOURCE_SECRET, Signer, WAIT, eventually};

/// A gateway running in the test's process on a store of type `S`: the embedded store
/// unless a test names PostgreSQL.
pub(crate) struct TestGateway<S = SqliteStore> {
    gateway: Gateway,
    store: Arc<S>,
    /// The embedded store's directory; `None` on PostgreSQL.
    data: Option<TempDir>,
    client: reqwest::Client,
}

/// Parses `toml` with `hookd::config::load_str` (no environment); panics listing every
/// problem when it does not load.
pub(crate) fn load_config(toml: &str) -> Config {
    match hookd::config::load_str(toml, Vec::<(String, String)>::new()) {
        Ok((config, _warnings)) => config,
        Err(problems) => {
            let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!(
                "the test configuration does not load:\n{}\n--- config ---\n{toml}",
                list.join("\n")
            )
        }
    }
}

/// Opens the embedded store in `dir`.
pub(crate) async fn open_store(dir: &Path) -> SqliteStore {
    SqliteStore::open(dir)
        .await
        .unwrap_or_else(|error| panic!("opening the store in {}: {error}", dir.display()))
}

impl TestGateway {
    /// Starts a gateway configured by `toml`, with its store in a new temporary directory.
    pub(crate) async fn start(toml: &str) -> Self {
        Self::start_in(TempDir::new().expect("a temporary directory"), toml).await
    }

    /// Starts a gateway configured by `toml` on the store already in `data` (whatever
    /// `data_dir` the TOML names is replaced by it).
    pub(crate) async fn start_in(data: TempDir, toml: &str) -> Self {
        let mut config = load_config(toml);
        config.server.data_dir = data.path().to_path_buf();
        let store = Arc::new(open_store(data.path()).await);
        Self::start_on(config, store, Some(data)).await
    }

    /// Shuts the gateway down gracefully and hands back its data directory, whose store
    /// is closed by then.
    pub(crate) async fn shutdown(self) -> TempDir {
        self.gateway.shutdown().await;
        self.data
            .expect("a gateway on the embedded store has a data directory")
    }
}

impl TestGateway<PostgresStore> {
    /// Starts a gateway configured by `toml` on a store of its own on the schema of
    /// `database` (whatever database keys the TOML names are replaced by it). Several
    /// gateways on one `database` are several nodes sharing one store; give each its own
    /// `node_id`.
    pub(crate) async fn start_on_postgres(database: &TestDatabase, toml: &str) -> Self {
        let mut config = load_config(toml);
        let options = database.options();
        config.server.database_url = Some(options.url.clone());
        config.server.database_schema = options.schema.clone();
        config.server.database_pool_size =
            u32::try_from(options.pool_size).expect("the test pool size fits u32");
        let store = Arc::new(database.open().await);
        Self::start_on(config, store, None).await
    }

    /// Shuts the gateway down gracefully, its store closed.
    pub(crate) async fn stop(self) {
        self.gateway.shutdown().await;
    }
}

impl<S: Store> TestGateway<S> {
    async fn start_on(config: Config, store: Arc<S>, data: Option<TempDir>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the gateway");
        let gateway = Gateway::start(config, Arc::clone(&store) as Arc<dyn Store>, listener)
            .await
            .expect("the gateway starts");
        let client = reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("a test HTTP client");
        Self {
            gateway,
            store,
            data,
            client,
        }
    }

    /// The gateway's address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// The gateway's store (the very instance it writes to).
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// The gateway's node name, as recorded in leases and attempts.
    pub(crate) fn node(&self) -> String {
        self.gateway.config().server.node_id.clone()
    }

    /// `POST /in/{source}` with `body` and exactly `headers`; returns the status and the
    /// JSON answer.
    pub(crate) async fn post(
        &self,
        source: &str,
        body: &[u8],
        headers: &Headers,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(self.url(&format!("/in/{source}")))
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("the gateway answers");
        let status = response.status();
        let bytes = response.bytes().await.expect("reading the answer");
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|error| {
            panic!(
                "the answer ({status}) is not JSON: {error}: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        (status, json)
    }

    /// Posts `body` to `source` signed by `signer`, asserts 200, and returns the answer.
    pub(crate) async fn send_signed(&self, source: &str, signer: &Signer, body: &Value) -> Value {
        let bytes = body.to_string().into_bytes();
        let (status, answer) = self.post(source, &bytes, &signer.headers(&bytes)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        answer
    }

    /// Posts `body` to `shop`, signed with [`SOURCE_SECRET`], asserts 200 and a new
    /// event, and returns the event id. A body without `type` gets `"order.paid"`.
    pub(crate) async fn send(&self, body: &Value) -> String {
        let mut body = body.clone();
        if let Some(fields) = body.as_object_mut() {
            fields.entry("type").or_insert_with(|| "order.paid".into());
        }
        let answer = self
            .send_signed("shop", &Signer::new(SOURCE_SECRET), &body)
            .await;
        assert_eq!(answer["duplicate"], false, "{answer}");
        event_id(&answer)
    }

    /// The stored event.
    pub(crate) async fn event(&self, id: &str) -> Event {
        self.store
            .event_get(id)
            .await
            .expect("reading the event")
            .unwrap_or_else(|| panic!("event {id} is not stored"))
    }

    /// The jobs of an event, in id order.
    pub(crate) async fn jobs(&self, event_id: &str) -> Vec<Job> {
        jobs(&*self.store, event_id).await
    }

    /// The one job of an event.
    pub(crate) async fn job(&self, event_id: &str) -> Job {
        let mut jobs = self.jobs(event_id).await;
        assert_eq!(jobs.len(), 1, "expected one job for {event_id}: {jobs:#?}");
        jobs.remove(0)
    }

    /// Waits until the one job of `event_id` is in `state`, and returns it.
    pub(crate) async fn wait_job(&self, event_id: &str, state: JobState) -> Job {
        self.wait_job_within(event_id, state, WAIT).await
    }

    /// As [`TestGateway::wait_job`] with another timeout.
    pub(crate) async fn wait_job_within(
        &self,
        event_id: &str,
        state: JobState,
        timeout: Duration,
    ) -> Job {
        let what = format!("the job of {event_id} to be {}", state.as_str());
        eventually(&what, timeout, || async {
            let job = self.job(event_id).await;
            (job.state == state).then_some(job)
        })
        .await
    }

    /// One job by its id.
    pub(crate) async fn job_by_id(&self, job_id: i64) -> Job {
        self.store
            .job_get(job_id)
            .await
            .expect("reading the job")
            .unwrap_or_else(|| panic!("job {job_id} is not stored"))
    }

    /// The attempts of a job, first first.
    pub(crate) async fn attempts(&self, job_id: i64) -> Vec<Attempt> {
        self.store
            .attempt_list(job_id)
            .await
            .expect("listing attempts")
    }
}

/// The jobs of an event in `store`, in id order.
pub(crate) async fn jobs(store: &dyn Store, event_id: &str) -> Vec<Job> {
    store
        .job_list_for_event(event_id)
        .await
        .expect("listing the jobs of an event")
}

/// The `id` of an ingest answer.
pub(crate) fn event_id(answer: &Value) -> String {
    answer["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the answer has no id: {answer}"))
        .to_owned()
}
