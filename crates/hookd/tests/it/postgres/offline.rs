//! The offline commands on PostgreSQL: `hookd token create` writes its key into the
//! schema the configuration names, where a gateway on that schema accepts it, and
//! `hookd config export` reads from there what was edited through that gateway's API.
//! Neither keeps anything on local disk.

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
    let response = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("a test HTTP client")
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

    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("listing the directory")
        .map(|entry| entry.expect("an entry").file_name())
        .collect();
    assert_eq!(left, ["hookd.toml"], "nothing is kept on local disk");
    gw.stop().await;
}
