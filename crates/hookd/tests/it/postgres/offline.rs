//! The offline commands on PostgreSQL: `hookd token create` writes its key into the
//! schema the configuration names, where a gateway on that schema accepts it, and
//! `hookd config export` reads from there what was edited through that gateway's API,
//! whether the file or `--database-url` names the database. Neither keeps anything on
//! local disk.

use std::path::Path;
use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

use crate::support::{NodeDatabase as _, SHOP_SOURCE, TestDatabase, TestGateway, WAIT};

/// Runs the real `hookd` binary with `args` in `dir`; its exit code, stdout and stderr.
async fn hookd(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_hookd"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("running hookd");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_token_create_and_config_export_work_on_the_shared_store() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    let dir = TempDir::new().expect("a temporary directory");
    let toml = format!(
        "[server]\n{keys}log_level = \"warn\"\n{SHOP_SOURCE}",
        keys = database.server_keys()
    );
    std::fs::write(dir.path().join("hookd.toml"), &toml).expect("writing the configuration");

    // Before any node ran: the command creates the schema.
    let (code, stdout, stderr) = hookd(
        dir.path(),
        &[
            "token",
            "create",
            "--config",
            "hookd.toml",
            "--tenant",
            "*",
            "--scope",
            "admin",
        ],
    )
    .await;
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let token = stdout.trim();
    assert!(token.starts_with("hkd_"), "{stdout}");

    let gw = TestGateway::start_on_postgres(&database, &toml).await;
    let source = json!({
        "preset": "generic-hmac",
        "secrets": ["exported-secret"],
        "signature_header": "x-signature",
    });
    let client = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("a test HTTP client");
    let response = client
        .put(gw.url("/v1/config/sources/shop"))
        .bearer_auth(token)
        .json(&source)
        .send()
        .await
        .expect("the gateway answers");
    let status = response.status();
    let answer: serde_json::Value = response.json().await.expect("the answer is JSON");
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (code, exported, stderr) =
        hookd(dir.path(), &["config", "export", "--config", "hookd.toml"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(exported.contains("exported-secret"), "{exported}");
    assert!(
        !exported.contains("s3cr3t"),
        "the edit wins over the file: {exported}"
    );

    // A file that names no database, and the URL on the command line, as `hookd serve
    // --database-url` takes it: both commands reach the same schema.
    std::fs::write(
        dir.path().join("flag.toml"),
        format!(
            "[server]\ndatabase_schema = \"{schema}\"\nlog_level = \"warn\"\n{SHOP_SOURCE}",
            schema = database.schema()
        ),
    )
    .expect("writing the configuration");
    let flags = ["--config", "flag.toml", "--database-url", database.url()];
    let (code, stdout, stderr) = hookd(
        dir.path(),
        &[
            &["token", "create", "--tenant", "*", "--scope", "read"][..],
            &flags[..],
        ]
        .concat(),
    )
    .await;
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let response = client
        .get(gw.url("/v1/events"))
        .bearer_auth(stdout.trim())
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the gateway on the schema accepts the key made with --database-url"
    );
    let (code, exported, stderr) = hookd(
        dir.path(),
        &[&["config", "export"][..], &flags[..]].concat(),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(exported.contains("exported-secret"), "{exported}");

    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listing the directory")
        .map(|entry| entry.expect("an entry").file_name())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["flag.toml", "hookd.toml"],
        "nothing is kept on local disk"
    );
    gw.stop().await;
}
