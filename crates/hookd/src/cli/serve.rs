//! `hookd serve`: load the configuration, open the store, run the gateway until SIGTERM
//! or SIGINT, then shut down gracefully.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use tokio::net::TcpListener;

use crate::runtime::{Gateway, open_node_store};
use crate::telemetry;

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// The configuration file.
    #[arg(long, short, default_value = "hookd.toml")]
    config: PathBuf,
    /// Listen on this address instead of `server.listen`.
    #[arg(long)]
    listen: Option<SocketAddr>,
    #[command(flatten)]
    store: super::StoreArgs,
}

pub(super) async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = super::load_config(&args.config)?;
    if let Some(listen) = args.listen {
        config.server.listen = listen;
    }
    args.store.apply(&mut config);
    telemetry::init(&config.server);

    let store = open_node_store(&config).await?;
    let listener = TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    let gateway = Gateway::start(config, store, listener).await?;
    wait_for_signal().await?;
    tracing::info!("shutting down");
    gateway.shutdown().await;
    Ok(())
}

/// Returns on SIGINT or SIGTERM.
async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for SIGINT"),
        _ = term.recv() => Ok(()),
    }
}
