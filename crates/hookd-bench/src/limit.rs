//! `hookd-bench limit`: the bare server everything else is compared with.
//!
//! It runs on the HTTP stack hookd runs on (axum on hyper, HTTP/1.1, the same runtime),
//! reads every request body whole, and answers a POST with `200` and a small JSON body
//! the size of hookd's own answer, doing nothing else. `load` against it measures what
//! the machine, the loopback network, the HTTP stack and the load generator itself
//! manage together: hookd can only come close to it, never pass it.

use std::net::SocketAddr;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, header};
use axum::response::IntoResponse;
use clap::Args;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

/// The answer to every POST, shaped and sized like hookd's answer to a new event.
const ANSWER: &str = r#"{"id":"evt_00000000000000000000000000","duplicate":false}"#;

/// `hookd-bench limit`.
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// The address to listen on, e.g. 127.0.0.1:9100.
    #[arg(long)]
    listen: SocketAddr,
}

/// Serves until SIGTERM or Ctrl-C.
pub(crate) async fn run(args: LimitArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let app = Router::new()
        .fallback(answer)
        .layer(DefaultBodyLimit::disable());
    eprintln!("hookd-bench limit: listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .context("serving")
}

/// Answers a POST whose body has been read whole (the `Bytes` extractor reads it).
async fn answer(method: Method, _body: Bytes) -> impl IntoResponse {
    if method == Method::POST {
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            ANSWER,
        )
    } else {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "POST")],
            "",
        )
    }
}

/// Resolves on SIGTERM or Ctrl-C; never, when neither can be listened for.
async fn shutdown() {
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
