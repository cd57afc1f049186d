//! The real `hookd serve` binary as a child process: for what only a separate process
//! shows (SIGKILL, several nodes on one database).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::process::{Child, Command};

/// A free loopback port: bind, read, release. The binary binds it again right after.
pub(crate) async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Starts `hookd serve --config CONFIG_PATH`, its log on the test's standard error. The
/// child is killed when dropped.
pub(crate) fn spawn_gateway(config_path: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_hookd"))
        .arg("serve")
        .arg("--config")
        .arg(config_path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start hookd")
}

/// Waits until `GET {base}/readyz` answers 2xx; panics after 20 s.
pub(crate) async fn wait_ready(client: &reqwest::Client, base: &str) {
    for _ in 0..400 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("hookd did not become ready at {base}");
}
