//! `hookd-bench drain`: waits for every event to be delivered, and measures end to end.
//!
//! `load --sent` wrote the id and send time of every event hookd acknowledged; `hookd
//! sink --out` writes one JSON line per request it receives, with the original body (so
//! the event's own `id`) and `finished_at`, when its 2xx answer was ready. Joining the two
//! by id gives, for every event, the time from the start of its webhook request to the
//! end of its delivery, which is what a provider's event costs until the service has it.
//! This is exact per event, where polling the management API would only see totals at
//! the moments it polls and its stats flush.
//!
//! The sink's file is read as it grows until every event has been delivered with a
//! verified signature, or the timeout passes. A repeat delivery of an event (at-least-once
//! after a retry) is counted, not measured again: its first delivery is the one that
//! counts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use hookd::sink::SinkRecord;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt as _;
use tokio::time::Instant;

use crate::latency::{Latencies, LatencySummary, round3};

/// How often the sink's file is read for new lines. The figures come from the times the
/// sink recorded, so this only decides how soon `drain` notices the end.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// `hookd-bench drain`.
#[derive(Debug, Args)]
pub(crate) struct DrainArgs {
    /// The JSON lines file `hookd sink --out` writes.
    #[arg(long)]
    sink_out: PathBuf,
    /// The file `hookd-bench load --sent` wrote: the events to wait for and when each
    /// was sent.
    #[arg(long)]
    sent: PathBuf,
    /// Give up, and fail, when not every event has arrived after this long.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    timeout: Duration,
}

/// What the figures are printed as.
#[derive(Debug, Serialize)]
struct DrainReport {
    /// Events waited for (the lines of `--sent`).
    events: usize,
    /// Events delivered, each counted once.
    delivered: usize,
    /// Deliveries of an event that had already been delivered.
    repeats: u64,
    /// Requests the sink received that did not count: not verified, not answered 2xx,
    /// or not of an event of `--sent`.
    other_requests: u64,
    /// When the first event was sent, unix milliseconds.
    first_send_unix_ms: u64,
    /// When the last event's delivery finished, unix milliseconds.
    last_delivered_unix_ms: u64,
    /// From the first send to the last delivery, in seconds.
    elapsed_s: f64,
    /// Events delivered per second over `elapsed_s`.
    events_per_s: f64,
    /// Per event, from the start of its webhook request to the end of its delivery.
    latency_ms: LatencySummary,
}

/// The part of an event's body `drain` reads.
#[derive(Deserialize)]
struct BodyId {
    id: String,
}

/// The join of sends and deliveries so far.
struct Tally {
    /// Send time (unix µs) of every event, and whether it has been delivered.
    pending: HashMap<String, (u64, bool)>,
    delivered: usize,
    repeats: u64,
    other_requests: u64,
    last_delivered_unix_ms: u64,
    latencies: Latencies,
}

impl Tally {
    /// Takes in one line of the sink's output.
    fn add(&mut self, line: &[u8]) -> anyhow::Result<()> {
        let record: SinkRecord =
            serde_json::from_slice(line).context("a line of the sink's output is not a record")?;
        let id = serde_json::from_str::<BodyId>(&record.body)
            .ok()
            .map(|b| b.id);
        let entry = id.and_then(|id| self.pending.get_mut(&id));
        let Some((sent_us, delivered)) = entry else {
            self.other_requests += 1;
            return Ok(());
        };
        if !record.verified || !(200..300).contains(&record.status) {
            self.other_requests += 1;
        } else if *delivered {
            self.repeats += 1;
        } else {
            *delivered = true;
            self.delivered += 1;
            let finished_ms = u64::try_from(record.finished_at).unwrap_or(0);
            self.last_delivered_unix_ms = self.last_delivered_unix_ms.max(finished_ms);
            self.latencies
                .record_micros((finished_ms * 1000).saturating_sub(*sent_us));
        }
        Ok(())
    }
}

/// Runs `hookd-bench drain`.
pub(crate) async fn run(args: DrainArgs) -> anyhow::Result<()> {
    let deadline = Instant::now() + args.timeout;
    let sent = tokio::fs::read_to_string(&args.sent)
        .await
        .with_context(|| format!("reading {}", args.sent.display()))?;
    let pending = parse_sent(&sent).with_context(|| format!("reading {}", args.sent.display()))?;
    let events = pending.len();
    let first_send_us = pending.values().map(|(us, _)| *us).min().unwrap_or(0);
    let mut tally = Tally {
        pending,
        delivered: 0,
        repeats: 0,
        other_requests: 0,
        last_delivered_unix_ms: 0,
        latencies: Latencies::new(),
    };

    let mut file = None;
    let mut buffer = Vec::new();
    while tally.delivered < events {
        if Instant::now() >= deadline {
            bail!(
                "{} of {events} events delivered to the sink after {}",
                tally.delivered,
                humantime::format_duration(args.timeout)
            );
        }
        if file.is_none() {
            // The sink creates its file when it starts; it may not have yet.
            file = tokio::fs::File::open(&args.sink_out).await.ok();
        }
        if let Some(file) = file.as_mut() {
            file.read_to_end(&mut buffer)
                .await
                .with_context(|| format!("reading {}", args.sink_out.display()))?;
            // Complete lines only; a line being written stays for the next read.
            if let Some(end) = buffer.iter().rposition(|&b| b == b'\n') {
                for line in buffer[..end].split(|&b| b == b'\n') {
                    tally.add(line)?;
                }
                buffer.drain(..=end);
            }
        }
        if tally.delivered < events {
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    let elapsed_s = tally
        .last_delivered_unix_ms
        .saturating_sub(first_send_us / 1000) as f64
        / 1000.0;
    let report = DrainReport {
        events,
        delivered: tally.delivered,
        repeats: tally.repeats,
        other_requests: tally.other_requests,
        first_send_unix_ms: first_send_us / 1000,
        last_delivered_unix_ms: tally.last_delivered_unix_ms,
        elapsed_s: round3(elapsed_s),
        events_per_s: if elapsed_s > 0.0 {
            round3(events as f64 / elapsed_s)
        } else {
            0.0
        },
        latency_ms: tally.latencies.summary(),
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Reads the `id \t sent_unix_us` lines `load --sent` writes.
fn parse_sent(text: &str) -> anyhow::Result<HashMap<String, (u64, bool)>> {
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let (id, micros) = line
                .split_once('\t')
                .with_context(|| format!("line {}: no tab", n + 1))?;
            let micros = micros
                .parse()
                .with_context(|| format!("line {}: not a time: {micros:?}", n + 1))?;
            Ok((id.to_owned(), (micros, false)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_line(body: &str, finished_at: i64, status: u16, verified: bool) -> Vec<u8> {
        serde_json::to_vec(&SinkRecord {
            webhook_id: Some("evt_1".to_owned()),
            received_at: finished_at,
            finished_at,
            verified,
            status,
            attempt: 1,
            path: "/hooks".to_owned(),
            body: body.to_owned(),
            error: None,
        })
        .unwrap()
    }

    #[test]
    fn deliveries_are_joined_to_sends_by_the_body_id() {
        let pending = parse_sent("a\t1000000000\nb\t1000500000\n").unwrap();
        let mut tally = Tally {
            pending,
            delivered: 0,
            repeats: 0,
            other_requests: 0,
            last_delivered_unix_ms: 0,
            latencies: Latencies::new(),
        };
        // a: delivered after a failed attempt, then once more (a repeat).
        tally
            .add(&sink_line(r#"{"id":"a"}"#, 1_000_010, 503, true))
            .unwrap();
        tally
            .add(&sink_line(r#"{"id":"a"}"#, 1_000_020, 200, true))
            .unwrap();
        tally
            .add(&sink_line(r#"{"id":"a"}"#, 1_000_030, 200, true))
            .unwrap();
        // b: a forged delivery does not count, the genuine one does.
        tally
            .add(&sink_line(r#"{"id":"b"}"#, 1_000_501, 200, false))
            .unwrap();
        tally
            .add(&sink_line(r#"{"id":"b"}"#, 1_000_540, 200, true))
            .unwrap();
        // Not an event of this run.
        tally
            .add(&sink_line("not json", 1_000_600, 200, true))
            .unwrap();

        assert_eq!(tally.delivered, 2);
        assert_eq!(tally.repeats, 1);
        assert_eq!(tally.other_requests, 3);
        assert_eq!(tally.last_delivered_unix_ms, 1_000_540);
        let latency = tally.latencies.summary();
        assert!((latency.max - 40.0).abs() < 0.1, "{latency:?}");
        assert!((latency.p50 - 20.0).abs() < 0.1, "{latency:?}");
    }

    #[test]
    fn a_malformed_sent_line_is_an_error() {
        let err = parse_sent("a\t1\nb 2\n").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
