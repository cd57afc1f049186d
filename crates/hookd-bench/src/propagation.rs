//! `hookd-bench propagation`: how long a configuration edit made through one node takes
//! to be in force on another node sharing its PostgreSQL store.
//!
//! Each round rotates the source's signing secret through the edit node
//! (`PUT /v1/config/sources/{source}` with a fresh secret) and, from the moment that node
//! answered, sends webhooks signed with the new secret to the probe node, back to back on
//! one keep-alive connection, until one is accepted. The delay of the round runs from the
//! edit's answer to that acceptance: the store's notification, the probe node re-reading
//! its configuration and the next request using it. Probes the probe node still rejects
//! as `401` are expected; any other answer stops the run.
//!
//! It prints one JSON line: the rounds, the probes sent, and the delay percentiles.

use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use hyper::{Method, StatusCode, Uri};
use serde::Serialize;
use serde_json::json;
use tokio::time::Instant;

use crate::client::Node;
use crate::clock;
use crate::latency::{Latencies, LatencySummary};
use crate::load::{self, Scheme};

/// `hookd-bench propagation`.
#[derive(Debug, Args)]
pub(crate) struct PropagationArgs {
    /// The node the edits go through, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    edit_url: Uri,
    /// The other node, which the probes go to, e.g. http://127.0.0.1:8081.
    #[arg(long)]
    probe_url: Uri,
    /// An admin token for the management API (`hookd token create --scope admin`).
    #[arg(long, env = "HOOKD_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// The source whose secret is rotated; signed as `load --scheme generic-hmac` signs.
    #[arg(long, default_value = "bench")]
    source: String,
    /// How many rotations to time.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// The size of every probe's JSON body, in bytes.
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// Give up on a round when the probe node has not taken the edit after this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// What `propagation` prints.
#[derive(Debug, Serialize)]
struct PropagationReport {
    source: String,
    rounds: u32,
    /// Probes sent in all rounds, the accepted ones included.
    probes: u64,
    /// From the edit node's answer to the probe node's first acceptance, per round.
    delay_ms: LatencySummary,
}

/// Runs `hookd-bench propagation`.
pub(crate) async fn run(args: PropagationArgs) -> anyhow::Result<()> {
    let mut edit = Node::connect(&args.edit_url).await?;
    let mut probe = Node::connect(&args.probe_url).await?;
    let config_path = format!("/v1/config/sources/{}", args.source);
    let probe_path: Uri = format!("/in/{}", args.source).parse()?;
    let run_id = clock::now_unix_micros();

    let mut delays = Latencies::new();
    let mut probes = 0_u64;
    for round in 0..args.rounds {
        let current = edit
            .call(&args.token, Method::GET, &config_path, None)
            .await?;
        let mut config = current
            .get("config")
            .cloned()
            .with_context(|| format!("GET {config_path}: no `config` in {current}"))?;
        let secret = format!("rotated-{run_id:x}-{round}");
        config["secrets"] = json!([secret]);
        edit.call(&args.token, Method::PUT, &config_path, Some(&config))
            .await?;
        let answered = Instant::now();

        loop {
            let id = format!("propagation-{run_id:x}-{round}-{probes}");
            probes += 1;
            let timestamp = (clock::now_unix_micros() / 1_000_000).to_string();
            let body = load::json_body(&id, "propagation.probe", 0, args.body_size)?;
            let request = load::signed_request(
                Scheme::GenericHmac,
                &probe_path,
                &probe.authority,
                secret.as_bytes(),
                &timestamp,
                body,
            )?;
            let (status, answer) = probe.send(request).await?;
            match status {
                StatusCode::OK => break,
                StatusCode::UNAUTHORIZED if answered.elapsed() < args.timeout => {}
                StatusCode::UNAUTHORIZED => bail!(
                    "round {round}: the probe node still rejected the rotated secret {:?} \
                     after the edit",
                    args.timeout
                ),
                other => bail!(
                    "round {round}: a probe was answered {other}: {}",
                    String::from_utf8_lossy(&answer)
                ),
            }
        }
        delays.record(answered.elapsed());
    }

    let report = PropagationReport {
        source: args.source,
        rounds: args.rounds,
        probes,
        delay_ms: delays.summary(),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
