//! Throw-away databases on a PostgreSQL server, for tests and benchmarks:
//! each gets its own (`leadfall_t_<random>`), so suites run in parallel, and
//! it is dropped with the value.

use super::{PgStore, PgUrl};
use crate::store::StoreError;

/// The server tests use: `LEADFALL_TEST_PG`, else the local one (trust auth).
pub const DEFAULT_TEST_SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server's URL, or `None` when `LEADFALL_TEST_PG=off` (then the
/// PostgreSQL half of the suite is skipped, saying so). With
/// `LEADFALL_TEST_REQUIRE=all` (CI) nothing may be skipped: this panics.
pub fn test_server() -> Option<PgUrl> {
    let url = std::env::var("LEADFALL_TEST_PG").unwrap_or_else(|_| DEFAULT_TEST_SERVER.into());
    if url == "off" {
        require_or_skip("postgres", "LEADFALL_TEST_PG=off");
        return None;
    }
    Some(PgUrl::parse(&url).unwrap_or_else(|e| panic!("LEADFALL_TEST_PG: {e}")))
}

/// A test is about to skip for lack of `what`: fail instead when
/// `LEADFALL_TEST_REQUIRE` is `all` or names `what` (comma-separated), else
/// say so on stderr, one line per skipped test.
pub fn require_or_skip(what: &str, why: &str) {
    let required = std::env::var("LEADFALL_TEST_REQUIRE").unwrap_or_default();
    if required
        .split(',')
        .any(|r| r.trim() == "all" || r.trim() == what)
    {
        panic!("{what} is required (LEADFALL_TEST_REQUIRE={required}) but unavailable: {why}");
    }
    eprintln!("SKIPPED ({what}): {why}");
}

/// A database created for one test, dropped (with its connections) on drop.
#[derive(Debug)]
pub struct TempDatabase {
    admin: PgStore,
    url: PgUrl,
}

impl TempDatabase {
    /// Create a fresh, empty database on the server `admin` points at.
    pub fn create(admin: &PgUrl) -> Result<TempDatabase, StoreError> {
        let admin = PgStore::connect(admin)?;
        let name = format!("leadfall_t_{:016x}", rand::random::<u64>());
        admin.block(async {
            let c = admin.conn().await?;
            c.batch_execute(&format!("CREATE DATABASE {name}")).await?;
            Ok::<_, StoreError>(())
        })?;
        let url = admin.url().with_dbname(&name);
        Ok(TempDatabase { admin, url })
    }

    /// Its URL.
    pub fn url(&self) -> &PgUrl {
        &self.url
    }

    /// The URL with the password in clear, for a generated config file.
    pub fn url_for_config(&self) -> String {
        let c = self.url.config();
        let host = match c.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".into(),
        };
        let port = c.get_ports().first().copied().unwrap_or(5432);
        let user = c.get_user().unwrap_or("postgres");
        let auth = match c.get_password() {
            Some(p) => format!("{user}:{}", String::from_utf8_lossy(p)),
            None => user.to_string(),
        };
        format!("postgres://{auth}@{host}:{port}/{}", self.url.dbname())
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        let name = self.url.dbname().to_string();
        let _ = self.admin.block(async {
            let c = self.admin.conn().await?;
            c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            Ok::<_, StoreError>(())
        });
    }
}

impl PgStore {
    /// Empty every table (keeping the schema): a test's fresh start without a
    /// new database.
    pub fn truncate_all(&self) -> Result<(), StoreError> {
        self.block(async {
            let c = self.conn().await?;
            c.batch_execute(
                "TRUNCATE records, outbox, outbox_cursors, outbox_dead, cache, ledger, call_buckets,
                     jobs, email_patterns, email_guesses, members, budget_tallies",
            )
            .await?;
            Ok(())
        })
    }
}

impl PgStore {
    /// Run one statement (tests that play another process: a newer
    /// leadfall's migration, a vendor's view).
    #[doc(hidden)]
    pub fn execute_for_tests(&self, sql: &str) {
        self.block(async {
            self.conn().await?.batch_execute(sql).await?;
            Ok::<_, StoreError>(())
        })
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}
