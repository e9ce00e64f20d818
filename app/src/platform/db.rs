//! The database: SQLite (the embedded default) or PostgreSQL (production and scale-out),
//! behind one pool.
//!
//! Queries go through sqlx's `Any` driver, so one SQL text serves both engines. Rules that
//! keep a query portable: placeholders are `$1, $2, …` in the order they first appear;
//! times are `BIGINT` milliseconds since the Unix epoch; booleans are `INTEGER` 0/1; ids are
//! `TEXT`. Each engine has its own migration folder (`migrations/sqlite`,
//! `migrations/postgres`) with the same file names, applied at start.

use secrecy::{ExposeSecret, SecretString};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use std::path::Path;
use std::time::Duration;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

/// A database failure. `Display` never contains credentials or row data.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("could not create the database folder {path}: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not connect to the database at {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("applying database migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// A pooled connection to the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    kind: DbKind,
    /// PostgreSQL's URL, for the one connection that listens for other instances' live
    /// events (`LISTEN`); `None` on SQLite.
    listen_url: Option<SecretString>,
}

impl Db {
    /// Connects (creating the SQLite file and its folder when missing) and checks that the
    /// database answers. `redacted_url` is what errors show instead of the real URL.
    pub async fn connect(
        url: &SecretString,
        redacted_url: &str,
        max_connections: u32,
    ) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let raw = url.expose_secret();
        let kind = if raw.starts_with("sqlite:") {
            DbKind::Sqlite
        } else {
            DbKind::Postgres
        };
        let connect_url = match kind {
            DbKind::Sqlite => prepare_sqlite_url(raw)?,
            DbKind::Postgres => raw.to_owned(),
        };
        let mut options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(0)
            // Fail fast when the database is away: requests answer 503 instead of queueing.
            .acquire_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_secs(600));
        if kind == DbKind::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::Executor;
                    // WAL lets readers work while one writer writes; the busy timeout makes a
                    // writer wait for the lock instead of failing at once.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 5000").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&connect_url)
            .await
            .map_err(|source| DbError::Connect {
                url: redacted_url.to_owned(),
                source,
            })?;
        let listen_url = (kind == DbKind::Postgres).then(|| url.clone());
        Ok(Db {
            pool,
            kind,
            listen_url,
        })
    }

    /// Applies the migrations this engine has not seen yet.
    pub async fn migrate(&self) -> Result<(), DbError> {
        match self.kind {
            DbKind::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            DbKind::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers a trivial query within `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        match tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&self.pool)).await {
            Ok(result) => result.map(|_| ()).map_err(DbError::from),
            Err(_) => Err(DbError::Timeout(timeout)),
        }
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn kind(&self) -> DbKind {
        self.kind
    }

    /// The URL a PostgreSQL `LISTEN` connection opens; `None` on SQLite.
    pub fn listen_url(&self) -> Option<&SecretString> {
        self.listen_url.as_ref()
    }

    /// Closes every connection; waits for checked-out ones to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Makes sure the SQLite file's folder exists and asks sqlx to create the file if missing.
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path != ":memory:"
        && let Some(parent) = Path::new(path)
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent).map_err(|source| DbError::CreateDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_owned(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_owned(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_gain_create_mode_and_keep_their_options() {
        let dir = std::env::temp_dir().join(format!("tabibu-db-url-{}", std::process::id()));
        let url = format!("sqlite://{}/x.db", dir.display());
        assert_eq!(prepare_sqlite_url(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.is_dir(), "the folder is created");
        let with_mode = format!("{url}?mode=ro");
        assert_eq!(prepare_sqlite_url(&with_mode).unwrap(), with_mode);
        std::fs::remove_dir_all(dir).ok();
    }
}
