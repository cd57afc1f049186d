//! What tests on PostgreSQL share, for this crate's tests and those of the crates built on
//! it (feature `testing`): [`TestDatabase`], a fresh schema of the database named by
//! `HOOKD_TEST_DATABASE_URL` for one test, dropped when the test ends, and [`Proxy`], a
//! TCP proxy in front of that database that a test can cut.
//!
//! Without the variable a test gets no database, prints why and passes; with `CI` set it
//! fails instead, so that CI always runs both backends (`.ci/run` sets both).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_postgres::NoTls;

use crate::PostgresOptions;

/// The variable naming the test database.
pub const URL_VAR: &str = "HOOKD_TEST_DATABASE_URL";

/// Connections of each store a test opens: enough for one node at test loads, few
/// enough that every PostgreSQL test nextest runs at once (its `postgres` test group)
/// fits the server's `max_connections`.
pub const POOL_SIZE: usize = 4;

/// How long dropping a schema may wait for a lock held by a node still finishing a
/// transaction (one killed a moment ago, one of a failed test).
const DROP_LOCK_TIMEOUT: &str = "10s";

/// A schema of its own for one test; the first store opened on it creates it.
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    schema: String,
}

impl TestDatabase {
    /// A new schema name on the database of [`URL_VAR`]; `None`, after a note, when the
    /// variable is not set.
    ///
    /// # Panics
    ///
    /// When the variable is not set and `CI` is.
    pub fn create() -> Option<Self> {
        let Some(url) = std::env::var(URL_VAR)
            .ok()
            .filter(|url| !url.trim().is_empty())
        else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{URL_VAR} is not set; CI runs every test on PostgreSQL too \
                 (e.g. {URL_VAR}=postgres://postgres@127.0.0.1:5432/test)"
            );
            println!("skipped: set {URL_VAR}=postgres://… to run this test on PostgreSQL");
            return None;
        };
        let schema = format!(
            "hookd_test_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        Some(Self { url, schema })
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The test's schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Options for a store on the test's schema, with a pool of [`POOL_SIZE`].
    pub fn options(&self) -> PostgresOptions {
        PostgresOptions {
            schema: self.schema.clone(),
            pool_size: POOL_SIZE,
            ..PostgresOptions::new(self.url.as_str())
        }
    }

    /// The address of the database's server, for a [`Proxy`] in front of it.
    ///
    /// # Panics
    ///
    /// When the URL names no TCP host with an IP address (or `localhost`).
    pub fn server(&self) -> SocketAddr {
        let config: tokio_postgres::Config = self.url.parse().expect("a PostgreSQL URL");
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) if host != "localhost" => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}").parse().expect("an IP address")
    }

    /// A connection of the test's own, driven on the current runtime, for what the store
    /// does not say. Its statements name tables as `schema.table`.
    ///
    /// # Panics
    ///
    /// When the database cannot be reached.
    pub async fn connect(&self) -> tokio_postgres::Client {
        connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("connecting to {URL_VAR}: {error}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (url, schema) = (self.url.clone(), self.schema.clone());
        // Drop cannot wait for a future; a runtime of its own on a thread of its own can,
        // whatever runtime (or panic) the test is in.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(drop_schema(&url, &schema))
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop the test schema {}: {error}", self.schema),
            Err(_) => eprintln!("dropping the test schema {} panicked", self.schema),
        }
    }
}

/// Connects to `url` and drives the connection on the current runtime.
async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("the test's PostgreSQL connection failed: {error}");
        }
    });
    Ok(client)
}

/// `DROP SCHEMA … CASCADE`, waiting at most [`DROP_LOCK_TIMEOUT`] for locks.
async fn drop_schema(url: &str, schema: &str) -> Result<(), String> {
    let work = async {
        let client = connect(url).await?;
        client
            .batch_execute(&format!(
                "SET lock_timeout = '{DROP_LOCK_TIMEOUT}'; DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            ))
            .await
    };
    // Connecting is bounded too: a database that went away must not hang the test run.
    match tokio::time::timeout(Duration::from_secs(30), work).await {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// A TCP proxy to PostgreSQL. [`Proxy::cut`] closes every connection and refuses new
/// ones (accepted and closed at once) until [`Proxy::restore`]; the server itself keeps
/// running.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    up: Arc<watch::Sender<bool>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free local port.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let up = Arc::new(watch::Sender::new(true));
        let state = Arc::clone(&up);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *state.borrow() {
                    tokio::spawn(pipe(client, upstream, state.subscribe()));
                }
            }
        });
        Self { addr, up }
    }

    /// `url` with its host and port replaced by the proxy's.
    ///
    /// # Panics
    ///
    /// When `url` is not a PostgreSQL URL.
    pub fn url(&self, url: &str) -> String {
        let config: tokio_postgres::Config = url.parse().expect("a PostgreSQL URL");
        let user = config.get_user().unwrap_or("postgres");
        let password = config
            .get_password()
            .map(|p| format!(":{}", String::from_utf8_lossy(p)))
            .unwrap_or_default();
        let dbname = config.get_dbname().unwrap_or(user);
        format!("postgres://{user}{password}@{}/{dbname}", self.addr)
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// Copies both ways until either side closes or the proxy is cut.
async fn pipe(mut client: TcpStream, upstream: SocketAddr, mut up: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    // As the PostgreSQL client's own socket: without it, Nagle's algorithm holds each
    // small message back for the peer's delayed ack, and every round trip through the
    // proxy takes tens of milliseconds instead of well under one.
    for stream in [&client, &server] {
        if let Err(error) = stream.set_nodelay(true) {
            eprintln!("proxy: could not set TCP_NODELAY: {error}");
        }
    }
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = up.wait_for(|up| !*up) => {}
    }
}
