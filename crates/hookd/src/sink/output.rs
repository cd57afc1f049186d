//! Where the sink's JSON lines go: a file opened for appending, or standard output.
//!
//! Each record is serialised into one buffer, newline included, and written with one
//! `write_all` under a lock, then flushed: lines never interleave, and a line is in the
//! file before the request it describes is answered. The write is blocking, on purpose:
//! a few hundred bytes into the page cache cost less than handing them to another
//! thread, and they keep that ordering guarantee simple.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;

use super::SinkRecord;

/// The destination of the sink's records.
#[derive(Debug)]
pub(super) enum Output {
    /// Appended to this file.
    File(Mutex<File>),
    /// Printed on standard output.
    Stdout,
}

impl Output {
    /// Opens `path` for appending, creating it if needed.
    pub(super) async fn append_to(path: &Path) -> anyhow::Result<Self> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .with_context(|| format!("opening {} to append the sink's records", path.display()))?;
        Ok(Output::File(Mutex::new(file.into_std().await)))
    }

    /// Writes `record` as one JSON line and flushes it. A failure is logged, not
    /// returned: the sink keeps answering, and its in-memory records stay complete.
    pub(super) fn write(&self, record: &SinkRecord) {
        let mut line = match serde_json::to_vec(record) {
            Ok(line) => line,
            Err(err) => {
                tracing::warn!(error = %err, "sink could not serialise a record");
                return;
            }
        };
        line.push(b'\n');
        let written = match self {
            Output::File(file) => {
                let mut file = file.lock().unwrap_or_else(PoisonError::into_inner);
                file.write_all(&line).and_then(|()| file.flush())
            }
            Output::Stdout => {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(&line).and_then(|()| stdout.flush())
            }
        };
        if let Err(err) = written {
            tracing::warn!(error = %err, "sink could not write a record");
        }
    }
}
