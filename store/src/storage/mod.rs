//! Storage: one [`Storage`] over two databases, SQLite (embedded, the default) and PostgreSQL.
//!
//! The SQL is shared: both engines take `$1`-style parameters, `INSERT`/`UPDATE`/`DELETE … WHERE … IN (SELECT …
//! LIMIT …)` and `ORDER BY seq`. What differs is only how a writing transaction starts
//! ([`WriteBegin`]) and the schema file (`migrations/{sqlite,postgres}`); [`dispatch!`] expands one body of
//! code for each pool type.
//!
//! Concurrency (see docs/store.md, "Concurrency"):
//! * SQLite has a single writer; every writing transaction starts with `BEGIN IMMEDIATE`, so it holds the write
//!   lock from its first statement and sees every earlier commit.
//! * PostgreSQL runs at READ COMMITTED; a poll first takes a transaction-scoped advisory lock on its client id,
//!   so the polls of one client — from any number of store instances — run one after the other, each seeing
//!   every ack committed before it.

mod notifications;
mod retention;
mod subscriptions;

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Transaction;

pub use notifications::{NewNotification, Notification, PollOutcome, PollRequest, SetError};
pub use subscriptions::{CreateOutcome, Subscription};

/// The database behind the store.
#[derive(Clone, Debug)]
pub enum Storage {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body for whichever pool the storage holds; `$pool` is bound to the concrete pool.
macro_rules! dispatch {
    ($storage:expr, $pool:ident => $body:expr) => {
        match $storage {
            $crate::storage::Storage::Sqlite($pool) => $body,
            $crate::storage::Storage::Postgres($pool) => $body,
        }
    };
}
pub(crate) use dispatch;

/// Starts a writing transaction the right way for each database.
pub(crate) trait WriteBegin {
    type Db: sqlx::Database;
    /// `serialise_on`: a key (the client id) whose writers must run one at a time, across store instances.
    async fn begin_write(
        &self,
        serialise_on: Option<&str>,
    ) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

impl WriteBegin for SqlitePool {
    type Db = sqlx::Sqlite;
    async fn begin_write(
        &self,
        _serialise_on: Option<&str>,
    ) -> Result<Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        // The one writer of the file, from the first statement on.
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl WriteBegin for PgPool {
    type Db = sqlx::Postgres;
    async fn begin_write(
        &self,
        serialise_on: Option<&str>,
    ) -> Result<Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let mut tx = self.begin().await?;
        if let Some(key) = serialise_on {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("ob-event-store:client:{key}"))
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }
}

fn migrator(sql: &'static str) -> Migrator {
    Migrator {
        migrations: Cow::Owned(vec![Migration::new(
            1,
            Cow::Borrowed("init"),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        )]),
        ..Migrator::DEFAULT
    }
}

impl Storage {
    /// Opens (creating a SQLite file if missing) and migrates the database.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| format!("invalid sqlite database_url: {e}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            let file = options.get_filename().to_path_buf();
            // An in-memory database lives in one connection: keep exactly one, forever.
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let (max_connections, min_connections) = if in_memory {
                (1, 1)
            } else {
                (max_connections, 0)
            };
            if let Some(parent) = file.parent().filter(|_| !in_memory) {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        format!("cannot create the folder of {}: {e}", file.display())
                    })?;
                }
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .min_connections(min_connections)
                .idle_timeout(if in_memory {
                    None
                } else {
                    Some(Duration::from_secs(600))
                })
                .max_lifetime(if in_memory {
                    None
                } else {
                    Some(Duration::from_secs(1800))
                })
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(|e| format!("cannot open sqlite database {}: {e}", file.display()))?;
            migrator(include_str!("../../migrations/sqlite/0001_init.sql"))
                .run(&pool)
                .await
                .map_err(|e| format!("cannot migrate the sqlite database: {e}"))?;
            Ok(Storage::Sqlite(pool))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .map_err(|e| format!("cannot connect to postgres: {e}"))?;
            migrator(include_str!("../../migrations/postgres/0001_init.sql"))
                .run(&pool)
                .await
                .map_err(|e| format!("cannot migrate the postgres database: {e}"))?;
            Ok(Storage::Postgres(pool))
        }
    }

    /// `sqlite` or `postgres`, for the logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Storage::Sqlite(_) => "sqlite",
            Storage::Postgres(_) => "postgres",
        }
    }

    /// Whether the database answers a query on the store's own tables (reachable and migrated).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        dispatch!(self, pool => {
            sqlx::query("SELECT 1 FROM notifications WHERE seq = 0")
                .fetch_optional(pool)
                .await
                .map(|_| ())
        })
    }

    pub async fn close(&self) {
        dispatch!(self, pool => pool.close().await)
    }
}

/// Epoch milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
