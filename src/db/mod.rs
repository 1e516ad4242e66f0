//! One database door for SQLite and PostgreSQL: a `MultiConnection`, an r2d2 pool that
//! sets the SQLite pragmas on every new connection, embedded migrations, and
//! [`Db::run`], the only way request code reaches the database.

pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{ConfigError, DatabaseKind, DatabaseSettings, redact_url};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Key of the PostgreSQL advisory lock held while migrating ("devlink" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x0064_6576_6c69_6e6b;

/// A connection to either backend; query code is written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Errors of the storage layer. Callers map them to their own domain errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had within the pool's timeout: the database is down or saturated.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("a unique constraint was violated")]
    UniqueViolation,
    #[error("database query failed: {0}")]
    Query(diesel::result::Error),
    #[error("migrations failed: {0}")]
    Migration(String),
    /// A value could not be encoded for, or decoded from, a column.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

impl From<diesel::result::Error> for StoreError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => Self::UniqueViolation,
            // A connection that died under us (server restart, network) is an outage,
            // not a bug in the query.
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, info) => {
                Self::Unavailable(info.message().to_owned())
            }
            other => Self::Query(other),
        }
    }
}

impl From<r2d2::PoolError> for StoreError {
    fn from(err: r2d2::PoolError) -> Self {
        Self::Unavailable(err.to_string())
    }
}

/// Turns a unique violation into the caller's domain error, leaving others as they are.
pub trait OnUniqueViolation<T> {
    fn on_unique_violation<E>(self, domain: E) -> Result<Result<T, E>, StoreError>;
}

impl<T> OnUniqueViolation<T> for Result<T, StoreError> {
    fn on_unique_violation<E>(self, domain: E) -> Result<Result<T, E>, StoreError> {
        match self {
            Ok(v) => Ok(Ok(v)),
            Err(StoreError::UniqueViolation) => Ok(Err(domain)),
            Err(e) => Err(e),
        }
    }
}

/// Opens connections of the kind the URL names and prepares SQLite ones.
#[derive(Debug)]
pub struct ConnectionManager {
    kind: DatabaseKind,
    url: String,
    sqlite_busy_timeout_ms: u32,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.kind {
            DatabaseKind::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    r2d2::Error::ConnectionError(diesel::ConnectionError::InvalidConnectionUrl(
                        "the SQLite path is not valid UTF-8".into(),
                    ))
                })?;
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // WAL lets readers proceed during a write; busy_timeout makes writers
                // queue instead of failing with SQLITE_BUSY; foreign keys are off by default.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
                    self.sqlite_busy_timeout_ms
                ))
                .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            DatabaseKind::Postgres => PgConnection::establish(&self.url)
                .map(DbConnection::Postgres)
                .map_err(r2d2::Error::ConnectionError),
        }
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        diesel::sql_query("SELECT 1")
            .execute(conn)
            .map(|_| ())
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;

/// The shared database handle: cheap to clone, safe across threads.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    is_sqlite: bool,
    /// One permit per pooled connection: requests wait for a connection here, as cheap
    /// futures, instead of as parked blocking threads contending for the pool's lock.
    gate: std::sync::Arc<tokio::sync::Semaphore>,
    /// How long a request waits for a connection before the database counts as unavailable.
    wait: Duration,
}

/// Why the database could not be opened at start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot create the folder for the SQLite database {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot apply migrations to the database at {url}: {reason}")]
    Migrate { url: String, reason: String },
}

impl Db {
    /// Opens the pool without touching the schema (read-only operator tools such as
    /// `devicelink mail status`).
    pub fn connect(settings: &DatabaseSettings) -> Result<Self, OpenError> {
        let kind = DatabaseKind::from_url(&settings.url)?;
        if let DatabaseKind::Sqlite(path) = &kind {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|source| OpenError::Folder {
                    path: path.display().to_string(),
                    source,
                })?;
            }
        }
        let is_sqlite = matches!(kind, DatabaseKind::Sqlite(_));
        // SQLite runs one writer at a time anyway, and a deferred transaction that reads
        // and then writes fails at once (SQLITE_BUSY_SNAPSHOT, no busy wait) when another
        // connection wrote in between. One connection serializes access instead, which
        // is right for SQLite's single-instance deployments.
        let (max_size, min_idle) = if is_sqlite {
            (1, 1)
        } else {
            (settings.pool_size, settings.min_idle)
        };
        let manager = ConnectionManager {
            kind,
            url: settings.url.clone(),
            sqlite_busy_timeout_ms: settings.sqlite_busy_timeout_ms,
        };
        let pool = r2d2::Pool::builder()
            .max_size(max_size)
            .min_idle(Some(min_idle))
            .connection_timeout(Duration::from_secs(settings.connect_timeout_secs))
            // A PostgreSQL connection can die with the server (the outage tests): test it
            // before use, so that the pool replaces it without a restart. A SQLite
            // connection is a file handle that cannot go stale; testing it would only
            // cost a statement per database hop.
            .test_on_check_out(!is_sqlite)
            .error_handler(Box::new(LogPoolErrors))
            .build(manager)
            .map_err(|e| OpenError::Connect {
                url: redact_url(&settings.url),
                reason: e.to_string(),
            })?;
        Ok(Self {
            pool,
            is_sqlite,
            gate: std::sync::Arc::new(tokio::sync::Semaphore::new(max_size as usize)),
            wait: Duration::from_secs(settings.connect_timeout_secs),
        })
    }

    /// Opens the pool (failing fast if the database cannot be reached) and applies
    /// pending migrations.
    pub fn open(settings: &DatabaseSettings) -> Result<Self, OpenError> {
        let db = Self::connect(settings)?;
        db.migrate().map_err(|e| OpenError::Migrate {
            url: redact_url(&settings.url),
            reason: e.to_string(),
        })?;
        Ok(db)
    }

    /// Applies every pending migration of this backend; returns how many ran.
    pub fn migrate(&self) -> Result<usize, StoreError> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            DbConnection::Postgres(c) => {
                // Several instances starting together would otherwise race to create
                // the same tables ("duplicate key ... pg_type_typname_nsp_index").
                // A session advisory lock lets one migrate while the others wait and
                // then find nothing pending.
                diesel::sql_query(format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
                    .execute(c)?;
                let result = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len());
                diesel::sql_query(format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"))
                    .execute(c)?;
                result
            }
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(applied)
    }

    pub fn is_sqlite(&self) -> bool {
        self.is_sqlite
    }

    /// Runs blocking diesel code on the blocking thread pool, never on an async worker.
    /// A transaction lives entirely inside `f`.
    pub async fn run<F, R>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut DbConnection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        // Wait for a connection's permit first: with more requests in flight than
        // connections (SQLite has one), the blocking pool then runs only as many threads
        // as there are connections, rather than one parked thread per waiting request.
        let started = std::time::Instant::now();
        let permit = tokio::time::timeout(self.wait, Arc::clone(&self.gate).acquire_owned())
            .await
            .map_err(|_| {
                StoreError::Unavailable(format!(
                    "no database connection became free within {} s",
                    self.wait.as_secs()
                ))
            })?
            .map_err(|_| StoreError::Unavailable("the database pool is closed".into()))?;
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        // One budget for both waits: while the database is down every permit holder
        // waits the pool's full timeout, and a request behind them must not wait that
        // long again (docs/operations.md promises `connect_timeout_secs`, not twice it).
        // An idle connection is still handed out at once when little time is left.
        let remaining = self
            .wait
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(10));
        // The request's language follows the work to the blocking thread, so a sentence
        // made there speaks it too.
        let lang = crate::i18n::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let _permit = permit;
            let mut conn = pool.get_timeout(remaining)?;
            crate::i18n::with_lang(lang, || in_immediate_transaction(&mut conn, f))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("blocking task failed: {e}")))?
    }

    /// Runs `f` synchronously; for command-line tools and start-up code only.
    pub fn run_blocking<R>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let mut conn = self.pool.get()?;
        f(&mut conn)
    }

    /// Checks that a connection can be had and answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| {
            diesel::sql_query("SELECT 1").execute(conn)?;
            Ok(())
        })
        .await
    }
}

#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<r2d2::Error> for LogPoolErrors {
    fn handle_error(&self, error: r2d2::Error) {
        tracing::warn!(error = %error, "database connection failed");
    }
}

/// On SQLite, runs `f` inside one `BEGIN IMMEDIATE` transaction (its own transactions
/// become savepoints); on PostgreSQL, as it is. SQLite's default deferred transaction
/// that reads and then writes fails at once with `SQLITE_BUSY_SNAPSHOT`, without waiting
/// for `busy_timeout`, when another connection wrote in between: with a second process
/// on the file (another instance, `devicelink mail status`, a backup) a request then
/// answered 500. Taking the write lock first makes it wait its turn instead. One
/// instance has one connection anyway, so nothing is serialized that was not before.
/// A `StoreError` rolls the closure's writes back; domain outcomes travel inside `Ok`.
fn in_immediate_transaction<R>(
    conn: &mut DbConnection,
    f: impl FnOnce(&mut DbConnection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let DbConnection::Sqlite(inner) = conn else {
        return f(conn);
    };
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE")?;
    let result = f(conn);
    let DbConnection::Sqlite(inner) = conn else {
        unreachable!("the connection is SQLite: it was a moment ago");
    };
    match result {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(inner)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = AnsiTransactionManager::rollback_transaction(inner) {
                tracing::error!(error = %rollback, "rollback after a failed request failed");
            }
            Err(e)
        }
    }
}
