//! The configuration and call-record store: one implementation over sqlx's Any driver, an
//! SQLite file by default or PostgreSQL by URL (docs/decisions/002-store.md).
//!
//! Portability rules (so the same SQL serves both backends through `AnyPool`): integers are
//! `BIGINT` and decoded as `i64`, booleans are 0/1 integers, times are epoch milliseconds,
//! placeholders are `$1, $2, ...`. Reads of configuration go through [`Store::load_directory`],
//! which resolves templates; the call engine keeps that picture in memory.

mod accounts;
mod admin;
mod api;
mod argon;
mod cdr;
mod cdr_query;
mod cdr_sql;
mod directory;
mod extensions;
mod fields;
mod history;
pub mod licences;
mod locations;
mod model;
mod pickup;
mod queue_admin;
mod queues;
mod roles;
mod services;
mod tenants;
mod user_fields;
mod users;

pub use admin::{AccountListing, AccountPatch, Operation, UserPatch};
pub use api::{rest_digest_password, ApiCredential, ExtensionListing, DEFAULT_ADMIN_PASSWORD};
pub use cdr::{CdrDetail, CdrRecord};
pub use cdr_query::{CdrFilter, CdrType};
pub use cdr_sql::RECOVERED_CAUSE;
pub use directory::{AccountConfig, AccountRow, Directory, ExtensionConfig, ExtensionRow};
pub use locations::{Location, Write};
pub use model::{
    AccountOverride, AccountOverrides, AccountTemplate, Extension, ExtensionOverride,
    ExtensionOverrides, ExtensionTemplate, NewExtension, NewSipAccount, SipAccount, Tenant,
    DEFAULT_TEMPLATE, DEFAULT_TENANT,
};
pub use queue_admin::{
    check_pickup_group, check_queue, check_ring_group, PickupGroups, MAX_GROUP_RING_S, MAX_PENALTY,
};
pub use queues::{
    CallCenterData, PauseRow, QueueCdrRow, QueueMemberRow, QueueRow, QueueWrite, RingGroupRow,
    FEATURE_CODES, STRATEGIES,
};
pub use roles::Role;
pub use services::ExtensionServices;
pub use users::{NewUser, User};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Store errors: bad input is told apart from database trouble so callers can answer 4xx vs 5xx.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// A unique constraint was violated (duplicate number, username, domain, template name).
    #[error("already exists: {0}")]
    Duplicate(String),
    /// A referenced entity does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A value is not acceptable.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// Password hashing failed.
    #[error("password hashing failed")]
    Hash,
    /// Migration failure.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(d) = &e {
            if d.is_unique_violation() {
                return StoreError::Duplicate(d.message().to_string());
            }
        }
        StoreError::Db(e)
    }
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StoreError>;

/// The store. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    backend: Backend,
}

/// Per-connection SQLite settings. `synchronous=FULL` with WAL: a committed call record survives
/// `kill -9` and power loss (docs/decisions/003-cdr-durability.md).
const SQLITE_PRAGMAS: [&str; 4] = [
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
];

impl Store {
    /// Connects, runs the migrations of the URL's backend and makes sure the default tenant
    /// exists. An SQLite file is created when missing.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = normalize_url(url)?;
        let memory = backend == Backend::Sqlite && url.contains(":memory:");
        let mut opts = AnyPoolOptions::new().max_connections(match backend {
            // Each in-memory SQLite connection is its own database: keep exactly one, forever.
            _ if memory => 1,
            // SQLite has one writer anyway; a few readers are plenty.
            Backend::Sqlite => 4,
            Backend::Postgres => 8,
        });
        if memory {
            opts = opts.idle_timeout(None).max_lifetime(None);
        }
        if backend == Backend::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    for p in SQLITE_PRAGMAS {
                        conn.execute(p).await?;
                    }
                    Ok(())
                })
            });
        }
        let pool = opts.connect(&url).await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        let store = Store { pool, backend };
        // Only write when missing, so a read-only SQLite file still opens.
        if store.tenant(DEFAULT_TENANT).await?.is_none() {
            store.ensure_default_tenant().await?;
        }
        Ok(store)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `ORDER BY` expression for text keys that sorts bytewise on both backends (PostgreSQL
    /// would otherwise follow the database locale).
    pub(crate) fn bytewise(&self, column: &str) -> String {
        match self.backend {
            Backend::Sqlite => column.to_string(),
            Backend::Postgres => format!("{column} COLLATE \"C\""),
        }
    }
}

/// The backend of a URL, and for SQLite files the URL with `mode=rwc` (create when missing)
/// unless the caller chose a mode.
fn normalize_url(url: &str) -> Result<(Backend, String)> {
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    if !url.starts_with("sqlite:") {
        return Err(StoreError::UnsupportedUrl);
    }
    if url.contains(":memory:") || url.contains("mode=") {
        return Ok((Backend::Sqlite, url.to_string()));
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok((Backend::Sqlite, format!("{url}{sep}mode=rwc")))
}

/// Reads a 0/1 integer column as bool.
pub(crate) fn flag(row: &AnyRow, col: &str) -> std::result::Result<bool, sqlx::Error> {
    Ok(row.try_get::<i64, _>(col)? != 0)
}

/// Reads a nullable 0/1 integer column as an optional bool.
pub(crate) fn opt_flag(row: &AnyRow, col: &str) -> std::result::Result<Option<bool>, sqlx::Error> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(|v| v != 0))
}

/// A bool as the 0/1 integer the schema stores.
pub(crate) fn int(v: bool) -> i64 {
    i64::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_create_the_file_unless_told_otherwise() {
        let n = |u: &str| normalize_url(u).map(|(_, u)| u).ok();
        assert_eq!(
            n("sqlite://a.db").as_deref(),
            Some("sqlite://a.db?mode=rwc")
        );
        assert_eq!(
            n("sqlite://a.db?cache=shared").as_deref(),
            Some("sqlite://a.db?cache=shared&mode=rwc")
        );
        assert_eq!(
            n("sqlite://a.db?mode=ro").as_deref(),
            Some("sqlite://a.db?mode=ro")
        );
        assert_eq!(n("sqlite::memory:").as_deref(), Some("sqlite::memory:"));
        assert!(matches!(
            normalize_url("postgres://h/db"),
            Ok((Backend::Postgres, _))
        ));
        assert!(matches!(
            normalize_url("mysql://h/db"),
            Err(StoreError::UnsupportedUrl)
        ));
    }

    #[tokio::test]
    async fn sqlite_commits_are_durable() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("d.db").display());
        let s = Store::connect(&url).await.unwrap();
        let mut c = s.pool.acquire().await.unwrap();
        let mode: String = sqlx::query("PRAGMA journal_mode")
            .fetch_one(&mut *c)
            .await
            .unwrap()
            .get(0);
        let sync: i64 = sqlx::query("PRAGMA synchronous")
            .fetch_one(&mut *c)
            .await
            .unwrap()
            .get(0);
        let fk: i64 = sqlx::query("PRAGMA foreign_keys")
            .fetch_one(&mut *c)
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            (mode.as_str(), sync, fk),
            ("wal", 2, 1),
            "WAL, synchronous=FULL, FKs"
        );
    }
}
