//! The configuration and call-record store: one implementation over sqlx's Any driver, an
//! SQLite file by default or PostgreSQL by URL (docs/decisions/002-store.md).

mod cdr;
mod directory;
mod model;
mod runtime;

pub use directory::{AccountRow, Directory, ExtensionRow, NewExtension};
pub use model::{CdrDetail, CdrRecord, Location, User};
pub use runtime::Write;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};

/// Which database is behind the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Store errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// A unique constraint was violated (duplicate number, username, ...).
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

impl Store {
    /// Connects and runs the migrations of the URL's backend.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let mut opts =
            AnyPoolOptions::new().max_connections(if backend == Backend::Sqlite { 4 } else { 8 });
        if backend == Backend::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    // FULL: a committed call record survives kill -9 and power loss.
                    conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;")
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(url).await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        Ok(Store { pool, backend })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// Reads a 0/1 integer column as bool.
pub(crate) fn flag(row: &AnyRow, col: &str) -> std::result::Result<bool, sqlx::Error> {
    use sqlx::Row;
    Ok(row.try_get::<i64, _>(col)? != 0)
}
