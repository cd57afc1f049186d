//! Tests on PostgreSQL: each gets a [`TestDatabase`] (a schema of its own on the database
//! of `HOOKD_TEST_DATABASE_URL`, dropped when the test ends, shared by every store the
//! test opens, in-process or in a `hookd serve` child), and [`NodeDatabase`] adds what a
//! gateway needs of it. Without the variable a test prints why it is skipped and passes;
//! with `CI` set it fails instead.

use hookd_store_postgres::PostgresStore;
pub(crate) use hookd_store_postgres::testing::{POOL_SIZE, Proxy, TestDatabase};

/// What a gateway needs of a [`TestDatabase`].
pub(crate) trait NodeDatabase {
    /// Opens a store on the test's schema (creating and migrating it the first time).
    async fn open(&self) -> PostgresStore;

    /// The `[server]` keys that put a `hookd serve` node on the test's schema, as TOML
    /// lines.
    fn server_keys(&self) -> String;
}

impl NodeDatabase for TestDatabase {
    async fn open(&self) -> PostgresStore {
        PostgresStore::open(self.options())
            .await
            .unwrap_or_else(|error| panic!("opening the store on {}: {error}", self.schema()))
    }

    fn server_keys(&self) -> String {
        format!(
            "database_url = {url}\ndatabase_schema = \"{schema}\"\ndatabase_pool_size = {POOL_SIZE}\n",
            url = toml::Value::String(self.url().to_owned()),
            schema = self.schema(),
        )
    }
}
