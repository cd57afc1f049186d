//! A real [`Sink`] on `127.0.0.1:0`, writing its JSON lines into its own temporary
//! directory, stopped when dropped.

use std::time::Duration;

use hookd::sink::{Sink, SinkOptions, SinkRecord};
use hookd_signature::standard_webhooks::Secret;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{SINK_SECRET, WAIT};

/// Options of a sink that verifies with [`SINK_SECRET`] and answers 200 at once; tests
/// change the fields they need with `SinkOptions { fail_first: 2, ..sink_options() }`.
pub(crate) fn sink_options() -> SinkOptions {
    SinkOptions::new(Secret::parse(SINK_SECRET).expect("the test secret parses"))
}

/// A running sink.
pub(crate) struct TestSink {
    sink: Sink,
    stop: CancellationToken,
    _dir: TempDir,
}

impl TestSink {
    /// Starts a sink with `options`; its records go to a file of its own rather than the
    /// test's standard output.
    pub(crate) async fn start(mut options: SinkOptions) -> Self {
        let dir = TempDir::new().expect("a temporary directory");
        options.out = Some(dir.path().join("sink.jsonl"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the sink");
        let stop = CancellationToken::new();
        let sink = Sink::start(options, listener, stop.clone())
            .await
            .expect("the sink starts");
        Self {
            sink,
            stop,
            _dir: dir,
        }
    }

    /// A sink with [`sink_options`].
    pub(crate) async fn ok() -> Self {
        Self::start(sink_options()).await
    }

    /// The URL events are forwarded to.
    pub(crate) fn url(&self) -> String {
        format!("http://{}/hooks", self.sink.addr())
    }

    /// `[destinations.NAME]` pointing at this sink, signed with [`SINK_SECRET`].
    pub(crate) fn destination(&self, name: &str) -> String {
        self.destination_with_secret(name, SINK_SECRET)
    }

    /// `[destinations.NAME]` pointing at this sink, signed with `secret`.
    pub(crate) fn destination_with_secret(&self, name: &str, secret: &str) -> String {
        format!(
            r#"
[destinations.{name}]
url = "{url}"
secret = "{secret}"
timeout = "10s"
allow_private_network = true
"#,
            url = self.url()
        )
    }

    /// Every record so far, in the order the sink answered.
    pub(crate) fn records(&self) -> Vec<SinkRecord> {
        self.sink.records()
    }

    /// Waits until the sink has answered at least `n` requests, and returns the records.
    pub(crate) async fn wait_for(&self, n: usize) -> Vec<SinkRecord> {
        self.wait_until(|records| records.len() >= n).await
    }

    /// Waits until `pred` holds for the records, and returns them.
    pub(crate) async fn wait_until(&self, pred: impl Fn(&[SinkRecord]) -> bool) -> Vec<SinkRecord> {
        self.wait_until_within(WAIT, pred).await
    }

    /// As [`TestSink::wait_until`] with another timeout.
    pub(crate) async fn wait_until_within(
        &self,
        timeout: Duration,
        pred: impl Fn(&[SinkRecord]) -> bool,
    ) -> Vec<SinkRecord> {
        match self.sink.wait_until(timeout, pred).await {
            Ok(records) => records,
            Err(error) => panic!("{error:#}; records: {:#?}", self.records()),
        }
    }
}

impl Drop for TestSink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The most deliveries in progress at one instant, from the sink's records; one ending
/// when another starts does not overlap it.
pub(crate) fn max_concurrent(records: &[SinkRecord]) -> i32 {
    let mut edges: Vec<(i64, i32)> = records
        .iter()
        .flat_map(|r| [(r.received_at, 1), (r.finished_at, -1)])
        .collect();
    edges.sort_unstable();
    let (mut now, mut max) = (0, 0);
    for (_, step) in edges {
        now += step;
        max = max.max(now);
    }
    max
}
