//! `hookd-bench`: the tools of hookd's benchmark, driven by `bench/run.sh`.
//!
//! - `load` sends pre-built, signed webhooks at a fixed concurrency over keep-alive
//!   HTTP/1.1 connections and prints one JSON line of figures.
//! - `limit` is a bare HTTP server that answers 200 to every POST: what the machine and
//!   the HTTP stack manage with no gateway at all, the ceiling the others are compared
//!   with.
//! - `drain` waits until a `hookd sink` has received every event `load` sent and prints
//!   the end-to-end figures: events per second from the first send to the last delivery,
//!   and the send → delivered latency of every event.
//! - `fill` commits events with their jobs straight into hookd's embedded store, as
//!   ingest would, to build a deep backlog in seconds rather than minutes.
//! - `backlog` resumes a paused, deep queue and times hookd working it off.
//! - `propagation` rotates a source's secret through one node and times how long the
//!   other node of a shared PostgreSQL store takes to accept it.
//! - `report` turns the JSON lines of a run into the Markdown table of the results.
//!
//! Every figure is printed as JSON on standard output; progress and problems go to
//! standard error.

mod backlog;
mod client;
mod clock;
mod drain;
mod fill;
mod latency;
mod limit;
mod load;
mod procfs;
mod propagation;
mod report;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The tools of hookd's benchmark (see bench/run.sh).
#[derive(Debug, Parser)]
#[command(name = "hookd-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send signed webhooks at a fixed concurrency and print the figures as one JSON line.
    Load(load::LoadArgs),
    /// Serve a bare HTTP endpoint that answers 200 to any POST, until SIGTERM or Ctrl-C.
    Limit(limit::LimitArgs),
    /// Wait until a `hookd sink` has received every event `load --sent` recorded, and
    /// print the end-to-end figures as one JSON line.
    Drain(drain::DrainArgs),
    /// Commit events with their jobs straight into hookd's embedded store (hookd stopped),
    /// exactly as ingest would commit `load`'s requests, and print the figures.
    Fill(fill::FillArgs),
    /// Resume a paused queue and print how fast hookd works off its jobs.
    Backlog(backlog::BacklogArgs),
    /// Rotate a source's secret through one node and print how long another node
    /// sharing its store takes to accept webhooks signed with the new one.
    Propagation(propagation::PropagationArgs),
    /// Print the Markdown table of a run's results (the JSON lines bench/run.sh collects).
    Report(report::ReportArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Load(args) => load::run(args).await,
        Command::Limit(args) => limit::run(args).await,
        Command::Drain(args) => drain::run(args).await,
        Command::Fill(args) => fill::run(args).await,
        Command::Backlog(args) => backlog::run(args).await,
        Command::Propagation(args) => propagation::run(args).await,
        Command::Report(args) => report::run(&args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("hookd-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}
