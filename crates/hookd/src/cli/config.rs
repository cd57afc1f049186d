//! `hookd config check FILE`: validate a configuration file and name every problem with
//! its key path.

use std::path::PathBuf;

use clap::Subcommand;

use super::UsageError;
use crate::config::{self, Severity};

#[derive(Debug, Subcommand)]
pub(super) enum ConfigCommand {
    /// Check a configuration file (with HOOKD_* overrides applied) and list every problem.
    Check {
        /// The file to check.
        file: PathBuf,
    },
}

pub(super) fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check { file } => match config::load(&file, std::env::vars()) {
            Ok((config, warnings)) => {
                for warning in &warnings {
                    println!("{warning}");
                }
                println!(
                    "{}: ok ({} sources, {} queues, {} destinations, {} routes{})",
                    file.display(),
                    config.sources.len(),
                    config.queues.len(),
                    config.destinations.len(),
                    config.routes.len(),
                    match warnings.len() {
                        0 => String::new(),
                        n => format!(", {n} warnings"),
                    }
                );
                Ok(())
            }
            Err(problems) => {
                for problem in &problems {
                    println!("{problem}");
                }
                let errors = problems
                    .iter()
                    .filter(|p| p.severity == Severity::Error)
                    .count();
                Err(UsageError(format!(
                    "{}: {errors} {}",
                    file.display(),
                    if errors == 1 { "error" } else { "errors" }
                ))
                .into())
            }
        },
    }
}
