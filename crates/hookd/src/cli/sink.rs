//! `hookd sink`: runs the test receiver of [`crate::sink`] until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use hookd_signature::standard_webhooks::Secret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::sink::{Sink, SinkOptions};

/// Receive what hookd forwards: verify each request's Standard Webhooks signature and
/// write one JSON line per request.
#[derive(Debug, clap::Args)]
pub(crate) struct SinkArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    pub(crate) listen: SocketAddr,

    /// The `whsec_…` secret requests must be signed with.
    #[arg(
        long,
        value_name = "WHSEC",
        env = "HOOKD_SINK_SECRET",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub(crate) secret: Secret,

    /// Answer the first N requests of every webhook-id with --fail-status.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) fail_first: u32,

    /// The status of those failures.
    #[arg(
        long,
        value_name = "CODE",
        default_value_t = 503,
        value_parser = clap::value_parser!(u16).range(100..=599)
    )]
    pub(crate) fail_status: u16,

    /// Send `Retry-After: SECS` with those failures.
    #[arg(long, value_name = "SECS")]
    pub(crate) retry_after: Option<u64>,

    /// Wait this many milliseconds before answering a verified request.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub(crate) delay: u64,

    /// Append the JSON lines to this file instead of printing them.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

fn parse_secret(value: &str) -> Result<Secret, String> {
    Secret::parse(value).map_err(|err| err.to_string())
}

/// Binds `--listen`, says so on standard error (`sink listening on ADDR`) and serves
/// until SIGINT or SIGTERM; requests in flight are answered before it returns.
///
/// # Errors
///
/// When the address cannot be bound, the output file cannot be opened, or serving fails.
pub(crate) async fn run(args: SinkArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding the sink to {}", args.listen))?;
    let options = SinkOptions {
        secret: args.secret,
        fail_first: args.fail_first,
        fail_status: args.fail_status,
        retry_after: args.retry_after,
        delay: Duration::from_millis(args.delay),
        out: args.out,
    };
    let shutdown = CancellationToken::new();
    let sink = Sink::start(options, listener, shutdown.clone()).await?;
    eprintln!("sink listening on {}", sink.addr());

    let signalled = stop_signal().await;
    shutdown.cancel();
    signalled?;
    sink.stopped().await
}

/// Resolves on the first SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn stop_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        tokio::select! {
            interrupted = tokio::signal::ctrl_c() => interrupted.context("listening for SIGINT"),
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("listening for Ctrl-C")
    }
}
