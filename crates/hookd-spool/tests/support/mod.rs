//! What the spool's tests share: a schema of their own on the test database and a TCP
//! proxy in front of PostgreSQL that a test can cut (both from the PostgreSQL store's
//! test support), and stores opened through that proxy.

use std::time::Duration;

pub(crate) use hookd_store_postgres::testing::{Proxy, TestDatabase};
use hookd_store_postgres::{PostgresOptions, PostgresStore};

/// Opens a store on the test's schema through `proxy`, or directly when `None`, with
/// timeouts short enough that a cut is noticed within a test.
pub(crate) async fn open(database: &TestDatabase, proxy: Option<&Proxy>) -> PostgresStore {
    let options = database.options();
    let url = match proxy {
        Some(proxy) => proxy.url(&options.url),
        None => options.url.clone(),
    };
    PostgresStore::open(PostgresOptions {
        url,
        connect_timeout: Duration::from_secs(1),
        statement_timeout: Duration::from_secs(2),
        ..options
    })
    .await
    .expect("opening the store")
}
