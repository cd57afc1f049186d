//! `hookd-bench backlog`: how fast hookd works off a queue that is already deep.
//!
//! The queue was paused while it filled (by ingest or by `fill`). This resumes it with
//! `POST /v1/queues/{queue}/resume` and polls `GET /v1/queues` until every job of the
//! queue has ended (succeeded or dead), then prints the jobs per second from the resume
//! to the poll that saw the last one end. Polling reads the store's counts, so it is
//! kept sparse (`--poll`) to leave the cores to hookd.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use clap::Args;
use hyper::{Method, Uri};
use serde::{Deserialize, Serialize};

use crate::client::Node;
use crate::latency::round3;

/// `hookd-bench backlog`.
#[derive(Debug, Args)]
pub(crate) struct BacklogArgs {
    /// hookd's address, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    url: Uri,
    /// An admin token for the management API (`hookd token create --scope admin`).
    #[arg(long, env = "HOOKD_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// The paused queue to resume.
    #[arg(long, default_value = "bench")]
    queue: String,
    /// How often to read the queue's depth.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    poll: Duration,
    /// Give up when the queue has not emptied after this long.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// What `backlog` prints.
#[derive(Debug, Serialize)]
struct BacklogReport {
    queue: String,
    /// Jobs waiting when the queue was resumed.
    jobs: u64,
    succeeded: u64,
    dead: u64,
    /// From the resume to the poll that found the queue empty, in seconds.
    elapsed_s: f64,
    /// Jobs ended per second over `elapsed_s`.
    jobs_per_s: f64,
}

/// The part of `GET /v1/queues` read here.
#[derive(Debug, Deserialize)]
struct QueueList {
    data: Vec<QueueRecord>,
}

#[derive(Debug, Deserialize)]
struct QueueRecord {
    name: String,
    paused: bool,
    depth: Depth,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct Depth {
    scheduled: u64,
    ready: u64,
    running: u64,
    retrying: u64,
    succeeded: u64,
    dead: u64,
}

impl Depth {
    /// Jobs that have not ended yet.
    fn pending(self) -> u64 {
        self.scheduled + self.ready + self.running + self.retrying
    }
}

/// Runs `hookd-bench backlog`.
pub(crate) async fn run(args: BacklogArgs) -> anyhow::Result<()> {
    let mut node = Node::connect(&args.url).await?;
    let before = depth(&mut node, &args).await?;
    ensure!(before.0, "queue {} is not paused", args.queue);
    let before = before.1;
    ensure!(before.pending() > 0, "queue {} holds no job", args.queue);

    let started = Instant::now();
    let path = format!("/v1/queues/{}/resume", args.queue);
    node.call(&args.token, Method::POST, &path, None).await?;
    let after = loop {
        tokio::time::sleep(args.poll).await;
        let (_, now) = depth(&mut node, &args).await?;
        if now.pending() == 0 {
            break now;
        }
        if started.elapsed() > args.timeout {
            bail!(
                "queue {} still holds {} jobs after {:?}",
                args.queue,
                now.pending(),
                args.timeout
            );
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    let ended = (after.succeeded + after.dead) - (before.succeeded + before.dead);
    let report = BacklogReport {
        queue: args.queue.clone(),
        jobs: before.pending(),
        succeeded: after.succeeded - before.succeeded,
        dead: after.dead - before.dead,
        elapsed_s: round3(elapsed),
        jobs_per_s: round3(ended as f64 / elapsed),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Whether the queue is paused, and its depth.
async fn depth(node: &mut Node, args: &BacklogArgs) -> anyhow::Result<(bool, Depth)> {
    let body = node
        .call(&args.token, Method::GET, "/v1/queues", None)
        .await?;
    let list: QueueList = serde_json::from_value(body).context("reading GET /v1/queues")?;
    list.data
        .into_iter()
        .find(|q| q.name == args.queue)
        .map(|q| (q.paused, q.depth))
        .with_context(|| format!("GET /v1/queues does not list queue {}", args.queue))
}
