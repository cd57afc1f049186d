//! `hookd-bench report`: the Markdown table of a run.
//!
//! bench/run.sh appends one JSON line per measurement and repetition to a results file:
//! `{"row": "limit" | "ingest" | "end_to_end", "rep": N, "load": <load's line>,
//! "drain": <drain's line, end_to_end only>}`. This prints one table row per measurement:
//! the value of a single repetition, or the median with the range, `median (min–max)`,
//! of several.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use serde::Deserialize;

use crate::latency::LatencySummary;
use crate::procfs::ServerUsage;

/// `hookd-bench report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The JSON lines file of the run, one measurement per line.
    results: PathBuf,
}

/// A measurement, one row of the table, in the order of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Row {
    /// `load` against `hookd-bench limit`.
    Limit,
    /// `load` against hookd with the bench queue paused.
    Ingest,
    /// `load` against hookd forwarding to `hookd sink`, then `drain`.
    EndToEnd,
}

impl Row {
    fn label(self) -> &'static str {
        match self {
            Row::Limit => "Limit (bare HTTP server)",
            Row::Ingest => "Ingest (hookd, queue paused)",
            Row::EndToEnd => "End to end (hookd → sink)",
        }
    }
}

/// One line of the results file.
#[derive(Debug, Deserialize)]
struct Measurement {
    row: Row,
    rep: u32,
    load: LoadFigures,
    drain: Option<DrainFigures>,
}

/// The figures of `load` the table shows.
#[derive(Debug, Deserialize)]
struct LoadFigures {
    ok: u64,
    errors: BTreeMap<String, u64>,
    req_per_s: f64,
    latency_ms: LatencySummary,
    server: Option<ServerUsage>,
}

/// The figures of `drain` the table shows.
#[derive(Debug, Deserialize)]
struct DrainFigures {
    events: u64,
    events_per_s: f64,
    latency_ms: LatencySummary,
}

/// Prints the table of `args.results`.
pub(crate) fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("reading {}", args.results.display()))?;
    let measurements = text
        .lines()
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}", args.results.display(), n + 1))
        })
        .collect::<anyhow::Result<Vec<Measurement>>>()?;
    print!("{}", render(&measurements)?);
    Ok(())
}

/// The Markdown table of `measurements`.
fn render(measurements: &[Measurement]) -> anyhow::Result<String> {
    let mut rows: BTreeMap<Row, Vec<&Measurement>> = BTreeMap::new();
    for m in measurements {
        if m.row == Row::EndToEnd && m.drain.is_none() {
            bail!(
                "the end_to_end measurement of repetition {} has no drain",
                m.rep
            );
        }
        rows.entry(m.row).or_default().push(m);
    }
    // The limit's rate and p99 per repetition: each ingest run is compared with the
    // limit run of its own repetition.
    let limit: BTreeMap<u32, (f64, f64)> = rows
        .get(&Row::Limit)
        .into_iter()
        .flatten()
        .map(|m| (m.rep, (m.load.req_per_s, m.load.latency_ms.p99)))
        .collect();

    let mut out = String::from(
        "| Measurement | Events | Rate (/s) | p50 ms | p99 ms | p99.9 ms | Errors \
         | hookd CPU s | hookd peak RSS MiB | rate vs limit | p99 vs limit |\n\
         |---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    for (row, reps) in &rows {
        let pick =
            |f: &dyn Fn(&Measurement) -> f64| -> Vec<f64> { reps.iter().map(|m| f(m)).collect() };
        let latency = |m: &Measurement| match &m.drain {
            Some(drain) => drain.latency_ms,
            None => m.load.latency_ms,
        };
        let events = pick(&|m| match &m.drain {
            Some(drain) => drain.events as f64,
            None => m.load.ok as f64,
        });
        let rate = pick(&|m| {
            m.drain
                .as_ref()
                .map_or(m.load.req_per_s, |d| d.events_per_s)
        });
        let errors: u64 = reps.iter().flat_map(|m| m.load.errors.values()).sum();
        let servers: Vec<ServerUsage> = reps.iter().filter_map(|m| m.load.server).collect();
        let (rate_ratios, p99_ratios): (Vec<f64>, Vec<f64>) = reps
            .iter()
            .filter_map(|m| {
                let (rate, p99) = limit.get(&m.rep)?;
                Some((m.load.req_per_s / rate, m.load.latency_ms.p99 / p99))
            })
            .unzip();
        let show_ratios = *row == Row::Ingest && !rate_ratios.is_empty();

        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {errors} | {} | {} | {} | {} |",
            row.label(),
            summarise(&events, |v| thousands(v.round() as u64)),
            summarise(&rate, |v| thousands(v.round() as u64)),
            summarise(&pick(&|m| latency(m).p50), millis),
            summarise(&pick(&|m| latency(m).p99), millis),
            summarise(&pick(&|m| latency(m).p99_9), millis),
            if servers.is_empty() {
                "–".to_owned()
            } else {
                summarise(&servers.iter().map(|s| s.cpu_s).collect::<Vec<_>>(), |v| {
                    format!("{v:.2}")
                })
            },
            if servers.is_empty() {
                "–".to_owned()
            } else {
                summarise(
                    &servers.iter().map(|s| s.peak_rss_mib).collect::<Vec<_>>(),
                    |v| format!("{v:.0}"),
                )
            },
            if show_ratios {
                summarise(&rate_ratios, |v| format!("{:.0} %", v * 100.0))
            } else {
                "–".to_owned()
            },
            if show_ratios {
                summarise(&p99_ratios, |v| format!("{v:.1}×"))
            } else {
                "–".to_owned()
            },
        )?;
    }
    Ok(out)
}

/// One value as it is, several as `median (min–max)`.
fn summarise(values: &[f64], format: impl Fn(f64) -> String) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.as_slice() {
        [] => "–".to_owned(),
        [only] => format(*only),
        [first, .., last] => {
            let mid = sorted.len() / 2;
            let median = if !sorted.len().is_multiple_of(2) {
                sorted[mid]
            } else {
                f64::midpoint(sorted[mid - 1], sorted[mid])
            };
            format!("{} ({}–{})", format(median), format(*first), format(*last))
        }
    }
}

/// Milliseconds with the decimals that matter at their size.
fn millis(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &str) -> Vec<Measurement> {
        lines
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    const LATENCY: &str = r#"{"p50":1.5,"p90":2.0,"p99":12.34,"p99_9":150.0,"max":200.0}"#;
    const INGEST_LATENCY: &str = r#"{"p50":1.5,"p90":2.0,"p99":24.68,"p99_9":150.0,"max":200.0}"#;

    #[test]
    fn one_repetition_shows_its_values() {
        let lines = format!(
            r#"{{"row":"limit","rep":1,"load":{{"ok":10000,"errors":{{}},"req_per_s":40000.0,"latency_ms":{LATENCY}}}}}
{{"row":"ingest","rep":1,"load":{{"ok":9998,"errors":{{"401":2}},"req_per_s":10000.0,"latency_ms":{INGEST_LATENCY},"server":{{"pid":7,"cpu_s":1.234,"peak_rss_mib":51.6}}}}}}
{{"row":"end_to_end","rep":1,"load":{{"ok":10000,"errors":{{}},"req_per_s":9000.0,"latency_ms":{LATENCY}}},"drain":{{"events":10000,"events_per_s":4321.4,"latency_ms":{LATENCY}}}}}"#
        );
        let table = render(&parse(&lines)).unwrap();
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(rows.len(), 5, "{table}");
        assert_eq!(
            rows[2],
            "| Limit (bare HTTP server) | 10,000 | 40,000 | 1.50 | 12.3 | 150 | 0 | – | – | – | – |"
        );
        assert_eq!(
            rows[3],
            "| Ingest (hookd, queue paused) | 9,998 | 10,000 | 1.50 | 24.7 | 150 | 2 | 1.23 | 52 | 25 % | 2.0× |"
        );
        assert_eq!(
            rows[4],
            "| End to end (hookd → sink) | 10,000 | 4,321 | 1.50 | 12.3 | 150 | 0 | – | – | – | – |"
        );
    }

    #[test]
    fn several_repetitions_show_median_and_range() {
        assert_eq!(summarise(&[3.0, 1.0, 2.0], |v| format!("{v}")), "2 (1–3)");
        assert_eq!(summarise(&[4.0, 1.0], |v| format!("{v}")), "2.5 (1–4)");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
