//! `hookd config check FILE`: validate a configuration file and name every problem with
//! its key path. `hookd config export`: print the effective configuration, the file with
//! the objects edited through the API laid over it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::UsageError;
use crate::config::{self, Severity};
use crate::runtime::open_store;

#[derive(Debug, Subcommand)]
pub(super) enum ConfigCommand {
    /// Check a configuration file (with HOOKD_* overrides applied) and list every problem.
    Check {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the effective configuration as TOML: the file (with HOOKD_* overrides) and
    /// the sources, routes, queues and destinations edited through the API, which win.
    /// The output holds every secret in full: treat it as a secret.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub(super) struct ExportArgs {
    /// The configuration file; the objects are read from the store it names.
    #[arg(long, short, default_value = "hookd.toml")]
    config: PathBuf,
    #[command(flatten)]
    store: super::StoreArgs,
}

pub(super) async fn run(command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Export(args) => export(args).await,
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

/// Prints the file with the stored objects laid over it; a gateway may be running on the
/// same store meanwhile.
async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let mut config = super::load_config(&args.config)?;
    args.store.apply(&mut config);
    let store = open_store(&config).await?;
    let objects = store
        .config_object_list()
        .await
        .context("reading the configuration objects stored through the API");
    store.close().await;
    let text = config::overlay::export(&config, &objects?).map_err(|problems| {
        for problem in problems.iter().filter(|p| p.is_error()) {
            eprintln!("{problem}");
        }
        UsageError(format!(
            "{}: the objects stored through the API do not fit this file; see above",
            args.config.display()
        ))
    })?;
    println!(
        "# The effective configuration: {} with HOOKD_* variables and the objects edited\n\
         # through the API. It holds every secret in full: keep it as safe as the secrets.\n",
        args.config.display()
    );
    print!("{text}");
    Ok(())
}
