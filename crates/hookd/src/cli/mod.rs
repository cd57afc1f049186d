//! The command line: `hookd serve`, `hookd config check`, `hookd sink`, `hookd send`,
//! `hookd token create`.
//!
//! Each subcommand is a file. Errors come back to `main`, which maps them to exit codes
//! in one place: 0 done, 1 failed, 2 the input (flags or configuration) is wrong.

mod config;
mod send;
mod serve;
mod sink;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hookd: receive webhooks, verify them, queue them durably, deliver them reliably.
#[derive(Debug, Parser)]
#[command(name = "hookd", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve(serve::ServeArgs),
    /// Check configuration files, and export the effective configuration.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Run a test receiver that verifies Standard Webhooks signatures and logs each request.
    Sink(sink::SinkArgs),
    /// Send one correctly signed test webhook for a preset and print the answer.
    Send(send::SendArgs),
    /// Make API keys for the management API, offline, in the configured store.
    #[command(subcommand)]
    Token(token::TokenCommand),
}

/// A failure whose message has already been written for the user; `main` only sets the
/// exit code.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UsageError(pub(crate) String);

/// Loads the configuration a subcommand runs with, printing warnings, and every problem
/// when it cannot be used.
/// Which store a command works on, when it is not the one the configuration names: the
/// same flags for `serve`, `token create` and `config export`, so that a key or an export
/// reaches the store the gateway was started on.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// Use the embedded store in this directory instead of `server.data_dir` (on
    /// PostgreSQL, the node's ingest spool).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Use PostgreSQL at this URL instead of the embedded store.
    #[arg(long)]
    database_url: Option<String>,
}

impl StoreArgs {
    /// Lays the flags over `config`.
    fn apply(self, config: &mut crate::config::Config) {
        if let Some(dir) = self.data_dir {
            config.server.data_dir = dir;
        }
        if let Some(url) = self.database_url {
            config.server.database_url = Some(url);
        }
    }
}

fn load_config(path: &std::path::Path) -> anyhow::Result<crate::config::Config> {
    match crate::config::load(path, std::env::vars()) {
        Ok((config, warnings)) => {
            for warning in warnings {
                eprintln!("{warning}");
            }
            Ok(config)
        }
        Err(problems) => {
            for problem in &problems {
                eprintln!("{problem}");
            }
            Err(UsageError(format!(
                "{}: the configuration has problems; see above (hookd config check {0})",
                path.display()
            ))
            .into())
        }
    }
}

impl Cli {
    /// Runs the chosen subcommand to its end.
    pub fn run(self) -> ExitCode {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(error) => {
                eprintln!("error: cannot start the async runtime: {error}");
                return ExitCode::FAILURE;
            }
        };
        let result = runtime.block_on(async {
            match self.command {
                Command::Serve(args) => serve::run(args).await,
                Command::Config(command) => config::run(command).await,
                Command::Sink(args) => sink::run(args).await,
                Command::Send(args) => send::run(args).await,
                Command::Token(command) => token::run(command).await,
            }
        });
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) if error.is::<UsageError>() => {
                eprintln!("{error}");
                ExitCode::from(2)
            }
            Err(error) => {
                eprintln!("error: {error:#}");
                ExitCode::FAILURE
            }
        }
    }
}
