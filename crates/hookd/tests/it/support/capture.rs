//! A destination that keeps every request whole (headers included), for what the sink's
//! records do not show, such as the forwarded `content-type`. It answers 200; a gated
//! one holds every answer until the test releases it, so that a test can keep a worker
//! busy for exactly as long as it needs, and knows when the request has arrived.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{SINK_SECRET, WAIT};

/// One request as received.
#[derive(Debug, Clone)]
pub(crate) struct Captured {
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

struct Shared {
    requests: Mutex<Vec<Captured>>,
    added: Notify,
    /// Answers wait until this is cancelled.
    open: CancellationToken,
}

/// A running capture server, stopped when dropped.
pub(crate) struct Capture {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Capture {
    /// A capture server that answers at once.
    pub(crate) async fn start() -> Self {
        let capture = Self::gated().await;
        capture.release();
        capture
    }

    /// A capture server that answers only after [`Capture::release`].
    pub(crate) async fn gated() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the capture server");
        let addr = listener.local_addr().expect("its address");
        let shared = Arc::new(Shared {
            requests: Mutex::new(Vec::new()),
            added: Notify::new(),
            open: CancellationToken::new(),
        });
        let stop = CancellationToken::new();
        let app = Router::new()
            .fallback(
                |State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes| async move {
                    shared
                        .requests
                        .lock()
                        .expect("not poisoned")
                        .push(Captured { headers, body });
                    shared.added.notify_waiters();
                    shared.open.cancelled().await;
                    "ok"
                },
            )
            .with_state(Arc::clone(&shared));
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        });
        Self { addr, shared, stop }
    }

    /// `[destinations.NAME]` pointing here.
    pub(crate) fn destination(&self, name: &str) -> String {
        format!(
            r#"
[destinations.{name}]
url = "http://{addr}/capture"
secret = "{SINK_SECRET}"
allow_private_network = true
"#,
            addr = self.addr
        )
    }

    /// Lets every held and later request be answered.
    pub(crate) fn release(&self) {
        self.shared.open.cancel();
    }

    /// Waits for the first request (it has arrived; it may still be held) and returns it.
    pub(crate) async fn first(&self) -> Captured {
        let wait = async {
            loop {
                let added = self.shared.added.notified();
                if let Some(first) = self.shared.requests.lock().expect("not poisoned").first() {
                    return first.clone();
                }
                added.await;
            }
        };
        tokio::time::timeout(WAIT, wait)
            .await
            .expect("the capture server receives a request")
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
