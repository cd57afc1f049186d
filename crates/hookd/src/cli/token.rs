//! `hookd token create`: make an API key offline, in the store the configuration names,
//! and print its token once. This is how the first admin key comes to be; later keys can
//! also be made through `POST /v1/keys`.
//!
//! The token goes to stdout alone (so `TOKEN=$(hookd token create …)` works) and the key
//! id with a reminder to stderr. A gateway may be running on the same store meanwhile.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};

use super::UsageError;
use crate::api::auth::{KEY_NAME_MAX_CHARS, Scope, mint_api_key, tenant_problem};
use crate::clock;
use crate::runtime::open_store;

#[derive(Debug, Subcommand)]
pub(super) enum TokenCommand {
    /// Make an API key and print its token, once, on stdout (its id goes to stderr).
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub(super) struct CreateArgs {
    /// The configuration file; the key is written to the store it names.
    #[arg(long, short)]
    config: PathBuf,
    #[command(flatten)]
    store: super::StoreArgs,
    /// The tenant the key sees; `*` for every tenant.
    #[arg(long)]
    tenant: String,
    /// What the key may do; each scope includes the ones before it.
    #[arg(long, value_enum)]
    scope: ScopeArg,
    /// A name for people, shown in key listings.
    #[arg(long)]
    name: Option<String>,
}

/// `--scope`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ScopeArg {
    /// Read everything of the tenant.
    Read,
    /// Also retry, replay, requeue, purge, pause.
    Write,
    /// Also manage configuration and keys.
    Admin,
}

impl From<ScopeArg> for Scope {
    fn from(scope: ScopeArg) -> Self {
        match scope {
            ScopeArg::Read => Scope::Read,
            ScopeArg::Write => Scope::Write,
            ScopeArg::Admin => Scope::Admin,
        }
    }
}

pub(super) async fn run(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create(args) => create(args).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<()> {
    if let Some(problem) = tenant_problem(&args.tenant) {
        return Err(UsageError(format!("error: --tenant: {problem}")).into());
    }
    if let Some(name) = &args.name {
        if name.trim().is_empty() {
            return Err(UsageError("error: --name: must not be empty".to_owned()).into());
        }
        if name.chars().count() > KEY_NAME_MAX_CHARS {
            return Err(UsageError(format!(
                "error: --name: must be at most {KEY_NAME_MAX_CHARS} characters"
            ))
            .into());
        }
    }
    let mut config = super::load_config(&args.config)?;
    args.store.apply(&mut config);

    let scope = Scope::from(args.scope);
    let minted = mint_api_key(&args.tenant, scope, args.name, clock::now_millis());
    let store = open_store(&config).await?;
    let stored = store
        .api_key_insert(minted.stored.clone())
        .await
        .context("storing the API key");
    // Closing commits what the writer holds; the key is durable once this returns.
    store.close().await;
    stored?;

    println!("{}", minted.token);
    eprintln!(
        "created API key {} (tenant {}, scope {}); the token above is shown only this once",
        minted.stored.key.id,
        args.tenant,
        scope.as_str()
    );
    Ok(())
}
