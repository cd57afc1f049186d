//! Opening connections: the one writer connection with its durability settings, and
//! read-only connections for the read pool.

use std::path::Path;
use std::time::Duration;

use hookd_store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::error::{SqliteResultExt, invalid};

/// How long a statement waits for a lock held by another connection (a checkpoint, a
/// second process such as `hookd token create`) before failing as unavailable.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection; the store uses a few dozen.
const STATEMENT_CACHE: usize = 64;

/// Opens (creating if needed) the database for writing: WAL journal, `synchronous=FULL`
/// so every commit is fsynced before it is acknowledged, foreign keys enforced, savepoint
/// journals in memory.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    const CONTEXT: &str = "opening the database for writing";
    let conn = Connection::open(path).ctx(CONTEXT)?;
    conn.busy_timeout(BUSY_TIMEOUT).ctx(CONTEXT)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .ctx(CONTEXT)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(invalid(
            CONTEXT,
            format!("the database refused WAL mode (journal_mode is {mode:?})"),
        ));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .ctx(CONTEXT)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .ctx(CONTEXT)?;
    // Every operation of a group commit runs under its own savepoint, and SQLite keeps
    // the pages a savepoint may have to restore in a sub-journal that, past 64 KiB,
    // spills to a temporary file: a write(2) per page touched. In memory it is a copy.
    // It holds at most the pages of one group, and temporary tables stay in memory too.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .ctx(CONTEXT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Opens a read-only connection. In WAL mode it reads the last committed state while
/// the writer goes on writing.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    const CONTEXT: &str = "opening the database for reading";
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ctx(CONTEXT)?;
    conn.busy_timeout(BUSY_TIMEOUT).ctx(CONTEXT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}
