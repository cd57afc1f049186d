//! The `hookd` binary: parse the command line and hand over to [`hookd::cli::Cli::run`],
//! which maps every outcome to an exit code.

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    hookd::cli::Cli::parse().run()
}
