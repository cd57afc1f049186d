//! `hookd-bench load`: signed webhooks at a fixed concurrency.
//!
//! Every request is built and signed before the clock starts: a JSON body of exactly
//! `--body-size` bytes with a unique `id` (so no two are duplicates to hookd) and a `type`,
//! signed as `--scheme` says. Then `--concurrency` connections are opened, each a
//! keep-alive HTTP/1.1 connection of its own, and the clock starts; every connection sends
//! one request at a time, reads the whole answer and sends the next, until the requests
//! run out or `--duration` has passed. A connection that breaks is opened again.
//!
//! The generator is closed-loop: a slow answer delays the next request of its connection,
//! so the latencies are those of a server kept exactly `--concurrency` requests busy.
//!
//! It prints one JSON line: how many requests were sent and answered 2xx, the other
//! answers by status, the elapsed time and rate, the latency percentiles of the 2xx
//! answers, and, with `--watch-pid`, the CPU time and peak memory of the server.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use hookd_signature::{Encoding, encode_signature, hmac_sha256};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::clock;
use crate::latency::{Latencies, LatencySummary, round3};
use crate::procfs::{self, CpuTicks, ServerUsage};

/// How long a run lasts when neither `--duration` nor `--requests` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// How many requests are built in advance for a run bounded by `--duration` alone: more
/// than the bare server answers in 10 s on a small machine, about 1.2 GiB with 1 KiB
/// bodies. A run that uses them all up stops early and says so (`stopped_by`).
const DEFAULT_PREBUILT: usize = 1_000_000;

/// The event types the bodies cycle through, so that the type is not one constant.
pub(crate) const EVENT_TYPES: [&str; 4] = [
    "order.created",
    "order.paid",
    "customer.updated",
    "invoice.finalized",
];

const X_SIGNATURE: HeaderName = HeaderName::from_static("x-signature");
const X_TIMESTAMP: HeaderName = HeaderName::from_static("x-timestamp");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `hookd-bench load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The URL to POST to, e.g. http://127.0.0.1:8080/in/bench (http only).
    #[arg(long)]
    url: Uri,
    /// The secret the requests are signed with.
    #[arg(long, env = "HOOKD_BENCH_SECRET", hide_env_values = true)]
    secret: String,
    /// Requests in flight at once, one keep-alive connection each.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// Stop sending after this long ("10s", "1m"); with --requests, whichever comes
    /// first. Default 10s when --requests is not given either.
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// How many requests to send; with --duration, how many are built in advance
    /// (default 1000000).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    requests: Option<u32>,
    /// The size of every JSON body, in bytes.
    #[arg(long, default_value_t = 1024)]
    body_size: usize,
    /// How requests are signed.
    #[arg(long, value_enum, default_value_t = Scheme::GenericHmac)]
    scheme: Scheme,
    /// Write one line per request answered 2xx to this file, for `drain`: the body's
    /// `id`, a tab, and the unix time in microseconds when its request started.
    #[arg(long)]
    sent: Option<PathBuf>,
    /// The server's process id: its CPU time during the run and its peak resident
    /// memory are added to the figures (Linux /proc).
    #[arg(long)]
    watch_pid: Option<u32>,
}

/// A signing scheme of a hookd source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scheme {
    /// hookd's `generic-hmac` as bench/run.sh configures it (the example config's `demo`
    /// source too): `x-signature: sha256=<hex HMAC-SHA256>` over `{timestamp}.{body}`,
    /// unix seconds in `x-timestamp`, the id at `/id` and the type at `/type`.
    GenericHmac,
}

/// One request built before the run.
struct Prepared {
    /// Its place among the requests built, to find its id again.
    index: usize,
    request: Request<Full<Bytes>>,
}

/// What the figures are printed as.
#[derive(Debug, Serialize)]
struct LoadReport {
    url: String,
    concurrency: u16,
    body_size: usize,
    /// Requests sent (answered or not).
    requests: u64,
    /// Requests answered 2xx.
    ok: u64,
    /// The other outcomes, by status code, or `connect` / `io` for requests that got no
    /// answer.
    errors: BTreeMap<String, u64>,
    /// `requests` when every request built was sent, `duration` when time ran out first.
    stopped_by: &'static str,
    /// From the first request to the last answer, in seconds.
    elapsed_s: f64,
    /// 2xx answers per second.
    req_per_s: f64,
    /// When the first request started, unix milliseconds.
    first_send_unix_ms: u64,
    /// Latency of the 2xx answers: request start to the answer's last byte.
    latency_ms: LatencySummary,
    /// What the watched server spent, with `--watch-pid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<ServerUsage>,
}

/// What one connection did.
struct ConnectionReport {
    sent: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    latencies: Latencies,
    /// `(index, offset from the start in µs)` of every 2xx answer, with `--sent`.
    acknowledged: Vec<(usize, u64)>,
}

/// Where and how the requests go, shared by the connections.
struct Target {
    /// `host:port` to connect to.
    authority: String,
    /// The requests not sent yet.
    queue: Mutex<std::vec::IntoIter<Prepared>>,
    /// When sending stops, if the run is timed.
    deadline: Option<Instant>,
    /// When the clock started.
    start: Instant,
    /// Whether the connections keep the send times of what was acknowledged.
    keep_send_times: bool,
}

impl Target {
    fn next(&self) -> Option<Prepared> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next()
    }
}

/// Runs `hookd-bench load`.
pub(crate) async fn run(args: LoadArgs) -> anyhow::Result<()> {
    let authority = args
        .url
        .authority()
        .context("--url: no host")?
        .as_str()
        .to_owned();
    ensure!(
        args.url.scheme_str() == Some("http"),
        "--url: only http:// is supported"
    );
    let (duration, count) = match (args.duration, args.requests) {
        (None, None) => (Some(DEFAULT_DURATION), DEFAULT_PREBUILT),
        (duration, Some(n)) => (duration, n as usize),
        (Some(duration), None) => (Some(duration), DEFAULT_PREBUILT),
    };

    eprintln!("hookd-bench: building {count} signed requests");
    let run_id = clock::now_unix_micros();
    let ids: Vec<String> = (0..count)
        .map(|i| format!("bench-{run_id:x}-{i}"))
        .collect();
    let prepared = build_requests(&args, &ids)?;

    let mut connections = Vec::with_capacity(usize::from(args.concurrency));
    for _ in 0..args.concurrency {
        connections.push(connect(&authority).await?);
    }
    let cpu_before = args.watch_pid.map(CpuTicks::of).transpose()?;

    let start = Instant::now();
    let start_unix_us = clock::now_unix_micros();
    let target = Arc::new(Target {
        authority,
        queue: Mutex::new(prepared.into_iter()),
        deadline: duration.map(|d| start + d),
        start,
        keep_send_times: args.sent.is_some(),
    });
    let mut tasks = JoinSet::new();
    for connection in connections {
        tasks.spawn(send_all(Arc::clone(&target), connection));
    }
    let mut reports = Vec::with_capacity(tasks.len());
    while let Some(report) = tasks.join_next().await {
        reports.push(report.context("a connection's task failed")?);
    }
    let elapsed = start.elapsed();

    let server = match (args.watch_pid, cpu_before) {
        (Some(pid), Some(before)) => Some(ServerUsage {
            pid,
            cpu_s: round3(CpuTicks::of(pid)?.seconds_since(before)),
            peak_rss_mib: round3(procfs::peak_rss_kib(pid)? as f64 / 1024.0),
        }),
        _ => None,
    };
    let stopped_by = if target.next().is_none() {
        "requests"
    } else {
        "duration"
    };

    let mut latencies = Latencies::new();
    let mut errors = BTreeMap::new();
    let (mut sent, mut ok) = (0, 0);
    for report in &reports {
        sent += report.sent;
        ok += report.ok;
        latencies.merge(&report.latencies);
        for (kind, n) in &report.errors {
            *errors.entry(kind.clone()).or_default() += n;
        }
    }
    if let Some(path) = &args.sent {
        write_send_times(path, &ids, start_unix_us, &reports)?;
    }

    let report = LoadReport {
        url: args.url.to_string(),
        concurrency: args.concurrency,
        body_size: args.body_size,
        requests: sent,
        ok,
        errors,
        stopped_by,
        elapsed_s: round3(elapsed.as_secs_f64()),
        req_per_s: round3(ok as f64 / elapsed.as_secs_f64()),
        first_send_unix_ms: start_unix_us / 1000,
        latency_ms: latencies.summary(),
        server,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Builds and signs one request per id.
fn build_requests(args: &LoadArgs, ids: &[String]) -> anyhow::Result<Vec<Prepared>> {
    let path = args
        .url
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()?;
    let host = HeaderValue::from_str(args.url.authority().map_or("", |a| a.as_str()))?;
    // One timestamp for all: signed now, the requests stay within hookd's tolerance
    // (5 minutes by default) for any run shorter than that.
    let timestamp = (clock::now_unix_micros() / 1_000_000).to_string();
    ids.iter()
        .enumerate()
        .map(|(index, id)| {
            let event_type = EVENT_TYPES[index % EVENT_TYPES.len()];
            let body = json_body(id, event_type, index, args.body_size)?;
            let request = signed_request(
                args.scheme,
                &path,
                &host,
                args.secret.as_bytes(),
                &timestamp,
                body,
            )?;
            Ok(Prepared { index, request })
        })
        .collect()
}

/// A POST of `body` to `path` on `host`, signed with `secret` as `scheme` says, the
/// signature covering `timestamp` (unix seconds).
pub(crate) fn signed_request(
    scheme: Scheme,
    path: &Uri,
    host: &HeaderValue,
    secret: &[u8],
    timestamp: &str,
    body: Vec<u8>,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path.clone())
        .header(HOST, host.clone())
        .header(CONTENT_TYPE, APPLICATION_JSON);
    match scheme {
        Scheme::GenericHmac => {
            let mac = hmac_sha256(secret, &[timestamp.as_bytes(), b".", &body]);
            request = request.header(X_TIMESTAMP, timestamp).header(
                X_SIGNATURE,
                encode_signature(&mac, Encoding::Hex, Some("sha256=")),
            );
        }
    }
    Ok(request.body(Full::new(Bytes::from(body)))?)
}

/// A JSON object of exactly `size` bytes: `id`, `type`, `seq`, and padding in `data`.
pub(crate) fn json_body(
    id: &str,
    event_type: &str,
    seq: usize,
    size: usize,
) -> anyhow::Result<Vec<u8>> {
    const FILLER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let head = format!(r#"{{"id":"{id}","type":"{event_type}","seq":{seq},"data":{{"pad":""#);
    let tail = r#""}}"#;
    let fixed = head.len() + tail.len();
    if size < fixed {
        bail!("--body-size {size} is smaller than the {fixed} bytes of a body without padding");
    }
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(head.as_bytes());
    body.extend(FILLER.iter().cycle().take(size - fixed));
    body.extend_from_slice(tail.as_bytes());
    Ok(body)
}

/// Opens one keep-alive HTTP/1.1 connection; its I/O runs in a task of its own until the
/// sender is dropped or the server closes it.
pub(crate) async fn connect(authority: &str) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .with_context(|| format!("HTTP/1.1 handshake with {authority}"))?;
    tokio::spawn(async move {
        // A broken connection shows to the sender as a failed request; nothing to add.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends requests on one connection until they run out or time is up.
async fn send_all(target: Arc<Target>, connection: SendRequest<Full<Bytes>>) -> ConnectionReport {
    let mut report = ConnectionReport {
        sent: 0,
        ok: 0,
        errors: BTreeMap::new(),
        latencies: Latencies::new(),
        acknowledged: Vec::new(),
    };
    let mut connection = Some(connection);
    loop {
        if target.deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let Some(prepared) = target.next() else { break };
        report.sent += 1;
        let sender = match connection.as_mut() {
            Some(sender) => sender,
            None => match connect(&target.authority).await {
                Ok(sender) => connection.insert(sender),
                Err(_) => {
                    report.count_error("connect");
                    continue;
                }
            },
        };
        let started = Instant::now();
        match exchange(sender, prepared.request).await {
            Ok(status) if (200..300).contains(&status) => {
                report.latencies.record(started.elapsed());
                report.ok += 1;
                if target.keep_send_times {
                    let offset = started.duration_since(target.start).as_micros();
                    report
                        .acknowledged
                        .push((prepared.index, u64::try_from(offset).unwrap_or(u64::MAX)));
                }
            }
            Ok(status) => report.count_error(&status.to_string()),
            Err(_) => {
                report.count_error("io");
                connection = None;
            }
        }
    }
    report
}

/// Sends one request and reads its whole answer; the status, or the transport error.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    request: Request<Full<Bytes>>,
) -> hyper::Result<u16> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

impl ConnectionReport {
    fn count_error(&mut self, kind: &str) {
        *self.errors.entry(kind.to_owned()).or_default() += 1;
    }
}

/// Writes `id \t sent_unix_us` for every acknowledged request, in id order.
fn write_send_times(
    path: &PathBuf,
    ids: &[String],
    start_unix_us: u64,
    reports: &[ConnectionReport],
) -> anyhow::Result<()> {
    let mut acknowledged: Vec<(usize, u64)> = reports
        .iter()
        .flat_map(|r| r.acknowledged.iter().copied())
        .collect();
    acknowledged.sort_unstable();
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = BufWriter::new(file);
    for (index, offset) in acknowledged {
        writeln!(out, "{}\t{}", ids[index], start_unix_us + offset)?;
    }
    out.flush()
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use hookd_signature::verify_hmac_sha256;

    use super::*;

    #[test]
    fn bodies_are_json_of_the_exact_size_with_id_and_type() {
        let body = json_body("bench-1-7", "order.paid", 7, 1024).unwrap();
        assert_eq!(body.len(), 1024);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["id"], "bench-1-7");
        assert_eq!(value["type"], "order.paid");
        assert_eq!(value["seq"], 7);
    }

    #[test]
    fn a_body_size_below_the_fields_is_refused() {
        let err = json_body("bench-1-7", "order.paid", 7, 16).unwrap_err();
        assert!(err.to_string().contains("--body-size 16"), "{err}");
    }

    #[tokio::test]
    async fn generic_hmac_requests_verify_as_hookd_checks_them() {
        let args = LoadArgs {
            url: "http://127.0.0.1:8080/in/bench".parse().unwrap(),
            secret: "bench-secret".to_owned(),
            concurrency: 1,
            duration: None,
            requests: Some(2),
            body_size: 512,
            scheme: Scheme::GenericHmac,
            sent: None,
            watch_pid: None,
        };
        let ids = ["bench-1-0".to_owned(), "bench-1-1".to_owned()];
        let prepared = build_requests(&args, &ids).unwrap();
        assert_eq!(prepared.len(), 2);
        for (p, id) in prepared.into_iter().zip(&ids) {
            let (parts, body) = p.request.into_parts();
            assert_eq!(parts.uri, "/in/bench");
            assert_eq!(parts.headers[HOST], "127.0.0.1:8080");
            assert_eq!(parts.headers[CONTENT_TYPE], "application/json");
            let timestamp = parts.headers[X_TIMESTAMP].to_str().unwrap();
            let signature = parts.headers[X_SIGNATURE].to_str().unwrap();
            let body = body.collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), 512);
            let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(value["id"], id.as_str());
            verify_hmac_sha256(
                &["bench-secret"],
                &[timestamp.as_bytes(), b".", &body],
                signature,
                Encoding::Hex,
                Some("sha256="),
            )
            .expect("the signature verifies");
        }
    }
}
