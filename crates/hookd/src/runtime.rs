//! The running gateway: opens the store, starts the services (dispatch pools, the lease
//! rescuer, the metrics upkeep) and the HTTP server, and shuts them down in order.
//!
//! Every background loop is spawned on one [`TaskTracker`] and stops when the one
//! [`CancellationToken`] is cancelled. Shutdown: stop accepting requests and finish the
//! ones in flight; let running jobs finish within `shutdown_grace` and release the rest;
//! add the stats counted meanwhile to the store; then close the store, which commits what
//! is queued in its writer.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use hookd_spool::{SPOOL_FILE, SpoolOptions, SpooledStore};
use hookd_store::Store;
use hookd_store_postgres::{PostgresOptions, PostgresStore};
use hookd_store_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, Live};
use crate::targets::http::HttpTarget;
use crate::telemetry::exporter;
use crate::telemetry::stats::Stats;
use crate::{dispatch, scheduler, server};

/// What every service shares: the store, the configuration in force, this node's name,
/// its stats not yet stored, and the shutdown signal.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: watch::Receiver<Arc<Config>>,
    /// The owner of the configuration in force, which applies edits made through the API.
    pub(crate) live: Arc<Live>,
    pub(crate) node: String,
    pub(crate) stats: Arc<Stats>,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

/// Opens the store the configuration names: PostgreSQL when `database_url` is set (the
/// schema created and migrated when needed), otherwise the embedded store under
/// `data_dir`.
///
/// # Errors
///
/// When the store cannot be opened: PostgreSQL cannot be reached within
/// `database_connect_timeout`, its schema is newer than this build or a migration fails,
/// or the embedded store's directory or file cannot be opened.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let server = &config.server;
    if let Some(url) = &server.database_url {
        let options = PostgresOptions {
            schema: server.database_schema.clone(),
            pool_size: server.database_pool_size as usize,
            connect_timeout: server.database_connect_timeout,
            statement_timeout: server.database_statement_timeout,
            ..PostgresOptions::new(url.as_str())
        };
        // The URL may hold a password: the message names the schema only.
        let store = PostgresStore::open(options).await.with_context(|| {
            format!(
                "opening the store in schema {:?} of PostgreSQL (server.database_url)",
                server.database_schema
            )
        })?;
        return Ok(Arc::new(store));
    }
    let store = SqliteStore::open(&server.data_dir).await.with_context(|| {
        format!(
            "opening the embedded store in {}",
            server.data_dir.display()
        )
    })?;
    Ok(Arc::new(store))
}

/// Opens the store of a node that takes webhooks: [`open_store`]'s, with PostgreSQL
/// behind the ingest spool (`spool.db` in `data_dir`, at most `spool_max` bytes) unless
/// `spool_max` is 0. The embedded store needs no spool, and the offline commands use
/// [`open_store`]: only the serving node owns its spool and moves it into PostgreSQL.
///
/// # Errors
///
/// When [`open_store`] fails, or the spool's directory or file cannot be opened.
pub async fn open_node_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = open_store(config).await?;
    let server = &config.server;
    if server.database_url.is_none() || server.spool_max == 0 {
        return Ok(store);
    }
    std::fs::create_dir_all(&server.data_dir).with_context(|| {
        format!(
            "creating the spool's directory {}",
            server.data_dir.display()
        )
    })?;
    let options = SpoolOptions {
        path: server.data_dir.join(SPOOL_FILE),
        max_bytes: server.spool_max,
    };
    let spooled = SpooledStore::open(store, options.clone())
        .await
        .with_context(|| format!("opening the ingest spool {}", options.path.display()))?;
    Ok(Arc::new(spooled))
}

/// A gateway running in this process.
pub struct Gateway {
    addr: SocketAddr,
    services: Services,
    server: JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Starts the gateway on `listener` with `store`: the configuration objects stored
    /// through the API laid over `config`, the HTTP surfaces, one worker pool per queue
    /// and the maintenance duties. Returns once it accepts requests.
    ///
    /// # Errors
    ///
    /// When the stored configuration objects cannot be read or no longer fit `config`,
    /// the listener's address cannot be read, or the HTTP client cannot be built.
    pub async fn start(
        config: Config,
        store: Arc<dyn Store>,
        listener: TcpListener,
    ) -> anyhow::Result<Gateway> {
        let addr = listener
            .local_addr()
            .context("reading the listen address")?;
        let node = config.server.node_id.clone();
        let live = Live::start(config, Arc::clone(&store)).await?;
        let services = Services {
            store,
            config: live.subscribe(),
            live,
            node,
            stats: Arc::default(),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        };

        // Before any service runs, so that nothing they emit is lost.
        exporter::install();
        services
            .tracker
            .spawn(exporter::upkeep(services.shutdown.clone()));

        services
            .tracker
            .spawn(Arc::clone(&services.live).follow(services.shutdown.clone()));

        let http = Arc::new(HttpTarget::new().context("building the HTTP client")?);
        dispatch::start(&services, &http);
        scheduler::start(&services);

        let app = server::router(&services);
        let stop = services.shutdown.clone();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        });
        tracing::info!(%addr, node = %services.node, "hookd is accepting webhooks");
        Ok(Gateway {
            addr,
            services,
            server,
        })
    }

    /// The address the gateway listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The store the gateway uses.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.services.store)
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.services.live.current()
    }

    /// Stops gracefully: no new requests, in-flight ones answered, running jobs given
    /// `shutdown_grace` to finish and the rest released, the store closed.
    pub async fn shutdown(self) {
        self.services.shutdown.cancel();
        match self.server.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::error!(%error, "the HTTP server failed"),
            Err(error) => tracing::error!(%error, "the HTTP server task failed"),
        }
        self.services.tracker.close();
        self.services.tracker.wait().await;
        // Everything counted, by ingest and by the jobs that just finished, reaches the
        // store before it closes.
        scheduler::flush_stats(&self.services).await;
        self.services.store.close().await;
        tracing::info!("hookd stopped");
    }
}
