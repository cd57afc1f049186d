//! The running gateway: opens the store, starts the services (dispatch pools, the lease
//! rescuer, the metrics upkeep) and the HTTP server, and shuts them down in order.
//!
//! Every background loop is spawned on one [`TaskTracker`] and stops when the one
//! [`CancellationToken`] is cancelled. Shutdown: stop accepting requests and finish the
//! ones in flight; let running jobs finish within `shutdown_grace` and release the rest;
//! then close the store, which commits what is queued in its writer.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use hookd_store::Store;
use hookd_store_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::targets::http::HttpTarget;
use crate::telemetry::exporter;
use crate::{dispatch, scheduler, server};

/// What every service shares: the store, the configuration in force, this node's name,
/// and the shutdown signal.
#[derive(Clone)]
pub(crate) struct Services {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) config: watch::Receiver<Arc<Config>>,
    pub(crate) node: String,
    pub(crate) shutdown: CancellationToken,
    pub(crate) tracker: TaskTracker,
}

/// Opens the store the configuration names: the embedded store under `data_dir`.
///
/// # Errors
///
/// When `database_url` is set (the PostgreSQL backend is not part of this build), or the
/// store cannot be opened.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.server.database_url.is_some() {
        anyhow::bail!(
            "server.database_url: this build of hookd has no PostgreSQL backend; \
             remove database_url to use the embedded store"
        );
    }
    let store = SqliteStore::open(&config.server.data_dir)
        .await
        .with_context(|| {
            format!(
                "opening the embedded store in {}",
                config.server.data_dir.display()
            )
        })?;
    Ok(Arc::new(store))
}

/// A gateway running in this process.
pub struct Gateway {
    addr: SocketAddr,
    services: Services,
    config_tx: watch::Sender<Arc<Config>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Starts the gateway on `listener` with `store`: the HTTP surfaces, one worker pool
    /// per queue and the maintenance duties. Returns once it accepts requests.
    ///
    /// # Errors
    ///
    /// When the listener's address cannot be read or the HTTP client cannot be built.
    pub async fn start(
        config: Config,
        store: Arc<dyn Store>,
        listener: TcpListener,
    ) -> anyhow::Result<Gateway> {
        let addr = listener
            .local_addr()
            .context("reading the listen address")?;
        let node = config.server.node_id.clone();
        let (config_tx, config_rx) = watch::channel(Arc::new(config));
        let services = Services {
            store,
            config: config_rx,
            node,
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        };

        // Before any service runs, so that nothing they emit is lost.
        exporter::install();
        services
            .tracker
            .spawn(exporter::upkeep(services.shutdown.clone()));

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
            config_tx,
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
        self.config_tx.borrow().clone()
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
        self.services.store.close().await;
        tracing::info!("hookd stopped");
    }
}
