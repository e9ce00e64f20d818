//! `tabibu backup` and `tabibu restore`: the database and the document files as one folder
//! that can be checked, moved and brought back.
//!
//! # The backup folder
//!
//! ```text
//! DIR/MANIFEST            JSON: format, engine, data key id and fingerprint, the row count
//!                         of every table, and the SHA-256 and size of every other file
//! DIR/database.sqlite     SQLite: a consistent copy made with `VACUUM INTO` while the
//!                         server runs
//! DIR/database.pgdump     PostgreSQL: `pg_dump --format=custom` of the same snapshot the
//!                         row counts were read in
//! DIR/documents/<key>     the sealed document files, copied as they are (still encrypted)
//! ```
//!
//! A backup is written into `DIR.partial` and renamed to `DIR` only when complete, so a folder
//! named `DIR` is always whole. The database snapshot is taken before the documents are
//! copied: a document uploaded meanwhile is copied without its row (harmless), and only a
//! document deleted meanwhile can be missing its file; [`BackupReport::missing_files`] counts
//! those.
//!
//! # Restoring
//!
//! Nothing is changed until everything has been checked: the manifest's checksums, the engine,
//! the data key, that no server answers at the configured address, and that the target holds
//! no data (unless forced). SQLite is copied beside the live file, counted, and renamed into
//! place; PostgreSQL is restored by `pg_restore --single-transaction`, so a failure leaves the
//! database as it was. Data that a forced restore replaces is moved aside, not deleted.
//!
//! The data key is never part of a backup: the documents stay sealed, and a stolen backup
//! does not open them. The database itself is plain, so backups must be kept as carefully as
//! the database. Nothing here logs or prints a row, a file name given by a patient, or the
//! database password; the PostgreSQL tools' own messages are shortened to their error lines,
//! without the details that can quote row values.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tabibu_app::documents::s3::S3Store;
use tabibu_app::documents::storage::{BlobUpload, DocumentStore, StorageError, Store};
use tabibu_app::platform::Config;
use tabibu_app::platform::keys::DataKey;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The manifest's file name inside a backup folder.
pub const MANIFEST: &str = "MANIFEST";
/// What [`Manifest::format`] says for backups this version reads.
const FORMAT: &str = "tabibu-backup/1";
const SQLITE_FILE: &str = "database.sqlite";
const POSTGRES_FILE: &str = "database.pgdump";
const DOCUMENTS: &str = "documents";
/// Tables that a database which never served anyone already has rows in: the migrations'
/// record, the audit chain's one-row head, and the settings written at the first start.
const BOOKKEEPING: &[&str] = &["_sqlx_migrations", "audit_chain_head", "app_settings"];
/// Bytes read at a time when copying and hashing.
const BUFFER: usize = 64 * 1024;

/// Why a backup or a restore stopped. `Display` is the line the operator reads: it names
/// paths the operator configured, tables and counts, never row values or the password.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The request cannot be carried out as asked; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// The backup folder is not what its manifest says; nothing was changed.
    #[error("the backup does not match its manifest: {0}")]
    Corrupt(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Database { what: String, source: sqlx::Error },
    /// `pg_dump` or `pg_restore` failed; `messages` are its error lines only.
    #[error("{tool} failed ({status}): {messages}")]
    Tool {
        tool: &'static str,
        status: String,
        messages: String,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Io { what, source }
}

/// An object store failure on the document under `key` (its opaque storage key).
fn stored(key: &str) -> impl FnOnce(StorageError) -> BackupError {
    let what = format!("document {key} in the object store");
    move |err| BackupError::Io {
        what,
        source: std::io::Error::other(err),
    }
}

/// The configured document store, for a command that runs without the server's state.
fn store(config: &Config) -> Result<Store, BackupError> {
    tabibu_app::documents::service::store(config)
        .map_err(|e| BackupError::Refused(format!("the document store could not be set up: {e}")))
}

fn db(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> BackupError {
    let what = what.into();
    move |source| BackupError::Database { what, source }
}

/// The database engine a backup was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    fn of(config: &Config) -> Engine {
        if config.database_url.expose_secret().starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            Engine::Postgres
        }
    }

    fn file(self) -> &'static str {
        match self {
            Engine::Sqlite => SQLITE_FILE,
            Engine::Postgres => POSTGRES_FILE,
        }
    }

    /// `SQLite` or `PostgreSQL`.
    pub fn label(self) -> &'static str {
        match self {
            Engine::Sqlite => "SQLite",
            Engine::Postgres => "PostgreSQL",
        }
    }
}

/// A file of the backup: its SHA-256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
}

/// What `MANIFEST` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`] for now; a restore refuses any other.
    pub format: String,
    /// The `tabibu` version that made the backup.
    pub tabibu_version: String,
    /// When the database snapshot was taken, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
    pub engine: Engine,
    /// `TABIBU_DATA_KEY_ID` at the time: the key the documents are sealed with.
    pub data_key_id: String,
    /// A one-way fingerprint of that key, so a restore can tell the same key from another.
    pub data_key_fingerprint: String,
    /// Rows per table in the snapshot.
    pub tables: BTreeMap<String, i64>,
    /// Every file of the backup but the manifest, by its path relative to the folder (`/`).
    pub files: BTreeMap<String, FileEntry>,
}

impl Manifest {
    pub fn total_rows(&self) -> i64 {
        self.tables.values().sum()
    }

    pub fn document_count(&self) -> usize {
        self.files
            .keys()
            .filter(|p| p.starts_with("documents/"))
            .count()
    }
}

/// What a finished backup holds.
#[derive(Debug)]
pub struct BackupReport {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// Document rows whose file was not found (deleted while the backup ran).
    pub missing_files: usize,
}

/// How a restore may go about it.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Replace a database or documents folder that holds data: the SQLite file and the
    /// documents folder are moved aside, PostgreSQL's tables are dropped by `pg_restore`.
    pub force: bool,
    /// Restore even though the configured data key is not the one in the manifest.
    pub allow_other_key: bool,
    /// Only check the backup against its manifest; change nothing.
    pub check_only: bool,
}

/// What a restore did.
#[derive(Debug)]
pub struct RestoreReport {
    pub manifest: Manifest,
    /// Where replaced data was moved to (with `--force`).
    pub moved_aside: Vec<PathBuf>,
    /// False for `--check`: only verified.
    pub restored: bool,
}

// --------------------------------------------------------------------------------------------
// Backup

/// Writes a backup of the configured database and documents folder into `out`, which must not
/// exist yet (or be an empty folder).
pub async fn backup(config: &Config, out: &Path) -> Result<BackupReport, BackupError> {
    let engine = Engine::of(config);
    let key = data_key(config)?;
    if out.exists() && !is_empty_dir(out).await? {
        return Err(BackupError::Refused(format!(
            "{} already exists and is not empty; give a new folder",
            out.display()
        )));
    }
    let partial = sibling(out, "partial")?;
    if partial.exists() {
        // Left by a backup that did not finish: ours by its name, and never whole.
        tokio::fs::remove_dir_all(&partial)
            .await
            .map_err(io(format!("removing {}", partial.display())))?;
    }
    create_private_dir(&partial).await?;
    let result = write_backup(config, engine, &partial).await;
    let (tables, storage_keys) = match result {
        Ok(found) => found,
        Err(err) => {
            let _ = tokio::fs::remove_dir_all(&partial).await;
            return Err(err);
        }
    };
    let finished = finish_backup(config, engine, &key, &partial, out, tables, storage_keys).await;
    if finished.is_err() {
        let _ = tokio::fs::remove_dir_all(&partial).await;
    }
    finished
}

/// The database part: the snapshot file, its row counts and the documents' storage keys.
async fn write_backup(
    config: &Config,
    engine: Engine,
    partial: &Path,
) -> Result<(BTreeMap<String, i64>, Vec<String>), BackupError> {
    let target = partial.join(engine.file());
    match engine {
        Engine::Sqlite => {
            let live = sqlite_path(config)?;
            if !live.is_file() {
                return Err(BackupError::Refused(format!(
                    "there is no SQLite database at {}",
                    live.display()
                )));
            }
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&live)
                .create_if_missing(false)
                .busy_timeout(Duration::from_secs(30));
            let mut conn = sqlx::SqliteConnection::connect_with(&options)
                .await
                .map_err(db(format!("opening {}", live.display())))?;
            let target_text = target.to_str().ok_or_else(|| {
                BackupError::Refused("the backup folder's path must be valid UTF-8".into())
            })?;
            tracing::info!("copying the SQLite database (VACUUM INTO)");
            sqlx::query("VACUUM INTO $1")
                .bind(target_text)
                .execute(&mut conn)
                .await
                .map_err(db("copying the database with VACUUM INTO"))?;
            let _ = conn.close().await;
            set_private(&target).await?;
            let mut copy = open_sqlite_read_only(&target).await?;
            let tables = sqlite_counts(&mut copy).await?;
            let keys = storage_keys_sqlite(&mut copy).await?;
            let _ = copy.close().await;
            Ok((tables, keys))
        }
        Engine::Postgres => {
            let pg = PgTarget::parse(config.database_url.expose_secret())?;
            let mut conn = sqlx::PgConnection::connect(config.database_url.expose_secret())
                .await
                .map_err(db(format!(
                    "connecting to {}",
                    config.database_url_redacted()
                )))?;
            // One snapshot for the counts and for pg_dump: they describe the same data.
            let mut tx = conn.begin().await.map_err(db("starting the snapshot"))?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await
                .map_err(db("starting the snapshot"))?;
            let snapshot: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
                .fetch_one(&mut *tx)
                .await
                .map_err(db("exporting the snapshot"))?;
            let tables = postgres_counts(&mut tx).await?;
            let keys = storage_keys_postgres(&mut tx).await?;
            tracing::info!("dumping the PostgreSQL database (pg_dump)");
            let target_text = target.as_os_str().to_owned();
            let mut dump = pg.command("pg_dump");
            dump.arg("--format=custom")
                .arg(format!("--snapshot={snapshot}"))
                .arg("--file")
                .arg(&target_text)
                .arg("--dbname")
                .arg(&pg.url_without_password);
            run_tool("pg_dump", dump).await?;
            let _ = tx.rollback().await;
            let _ = conn.close().await;
            set_private(&target).await?;
            Ok((tables, keys))
        }
    }
}

/// Copies the documents, hashes everything, writes the manifest and names the folder.
async fn finish_backup(
    config: &Config,
    engine: Engine,
    key: &DataKey,
    partial: &Path,
    out: &Path,
    tables: BTreeMap<String, i64>,
    storage_keys: Vec<String>,
) -> Result<BackupReport, BackupError> {
    let mut files = BTreeMap::new();
    let database = partial.join(engine.file());
    files.insert(engine.file().to_owned(), hash_file(&database).await?);

    let copied_dir = partial.join(DOCUMENTS);
    create_private_dir(&copied_dir).await?;
    let mut copied = std::collections::HashSet::new();
    match store(config)? {
        Store::Local(local) => {
            let documents = local.dir();
            for name in document_files(documents).await? {
                let from = documents.join(&name);
                match copy_hashed(&from, &copied_dir.join(&name), None).await {
                    Ok(entry) => {
                        files.insert(format!("{DOCUMENTS}/{name}"), entry);
                        copied.insert(name);
                    }
                    // Deleted by its owner since the listing: its row may be in the snapshot
                    // or not.
                    Err(BackupError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Store::S3(s3) => {
            // A bucket is not listed: the snapshot's rows say which objects are documents.
            tracing::info!(
                documents = storage_keys.len(),
                "copying the documents from the object store"
            );
            for key in &storage_keys {
                let object = match s3.open(key).await {
                    Ok(object) => object,
                    // Deleted by its owner since the snapshot.
                    Err(err) if err.is_not_found() => continue,
                    Err(err) => return Err(stored(key)(err)),
                };
                let from = format!("object {}", s3.object_name(key));
                let entry = copy_read_hashed(object, &from, &copied_dir.join(key), None).await?;
                files.insert(format!("{DOCUMENTS}/{key}"), entry);
                copied.insert(key.clone());
            }
        }
    }
    let missing_files = storage_keys
        .iter()
        .filter(|k| !copied.contains(k.as_str()))
        .count();

    let manifest = Manifest {
        format: FORMAT.to_owned(),
        tabibu_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: utc_timestamp(tabibu_app::platform::db::now_ms()),
        engine,
        data_key_id: key.id.clone(),
        data_key_fingerprint: fingerprint(key),
        tables,
        files,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| {
        BackupError::Refused(format!("the manifest could not be written as JSON: {e}"))
    })?;
    write_private(&partial.join(MANIFEST), &text).await?;
    sync_dir(&copied_dir).await;
    sync_dir(partial).await;
    if out.exists() {
        // An empty folder given as the destination (checked above).
        tokio::fs::remove_dir(out)
            .await
            .map_err(io(format!("replacing the empty folder {}", out.display())))?;
    }
    tokio::fs::rename(partial, out)
        .await
        .map_err(io(format!("naming the backup {}", out.display())))?;
    if let Some(parent) = out.parent() {
        sync_dir(parent).await;
    }
    tracing::info!(
        tables = manifest.tables.len(),
        rows = manifest.total_rows(),
        documents = manifest.document_count(),
        missing_files,
        "backup written"
    );
    Ok(BackupReport {
        dir: out.to_path_buf(),
        manifest,
        missing_files,
    })
}

// --------------------------------------------------------------------------------------------
// Restore

/// Checks the backup in `dir` and, unless `options.check_only`, restores it into the
/// configured database and documents folder.
pub async fn restore(
    config: &Config,
    dir: &Path,
    options: RestoreOptions,
) -> Result<RestoreReport, BackupError> {
    let manifest = verify(dir).await?;
    if options.check_only {
        return Ok(RestoreReport {
            manifest,
            moved_aside: Vec::new(),
            restored: false,
        });
    }
    let engine = Engine::of(config);
    if manifest.engine != engine {
        return Err(BackupError::Refused(format!(
            "this is a {} backup and DATABASE_URL names a {} database; restore it into the \
             engine it came from",
            manifest.engine.label(),
            engine.label()
        )));
    }
    let key = data_key(config)?;
    if fingerprint(&key) != manifest.data_key_fingerprint && !options.allow_other_key {
        return Err(BackupError::Refused(format!(
            "the configured data key (id {}) is not the key the backup's documents are sealed \
             with (id {}); configure that key, or pass --allow-other-key to restore rows whose \
             documents and two-factor secrets will not open",
            key.id, manifest.data_key_id
        )));
    }
    if let Some(addr) = server_answering(config.site_addr).await {
        return Err(BackupError::Refused(format!(
            "something answers at {addr} (LEPTOS_SITE_ADDR): stop the server first, and every \
             other instance sharing the database"
        )));
    }

    let store = store(config)?;
    let documents_hold_data = match &store {
        Store::Local(local) => !document_files(local.dir()).await?.is_empty(),
        Store::S3(s3) => s3
            .holds_objects()
            .await
            .map_err(|e| BackupError::Refused(format!("listing the bucket failed: {e}")))?,
    };
    let present = match engine {
        Engine::Sqlite => sqlite_counts_at(&sqlite_path(config)?).await?,
        Engine::Postgres => postgres_counts_at(config).await?,
    };
    // pg_restore --clean drops only what the dump has: a table from a newer release would stay
    // behind, beside a migration record that does not know it.
    let unknown: Vec<&str> = present
        .keys()
        .filter(|t| !manifest.tables.contains_key(*t))
        .map(String::as_str)
        .collect();
    if engine == Engine::Postgres && !unknown.is_empty() {
        return Err(BackupError::Refused(format!(
            "the database has tables the backup does not ({}), probably from a newer release; \
             restore into an empty database (drop and create it first)",
            unknown.join(", ")
        )));
    }
    let database_holds = rows_held(&present);
    if (database_holds > 0 || documents_hold_data) && !options.force {
        let documents_state = if documents_hold_data {
            "not empty"
        } else {
            "empty"
        };
        let replaced = match (engine, &store) {
            (Engine::Sqlite, Store::Local(_)) => {
                "the database file and the documents are moved aside, not deleted"
            }
            (Engine::Postgres, Store::Local(_)) => {
                "the documents are moved aside, the tables replaced: back them up first"
            }
            (Engine::Sqlite, Store::S3(_)) => {
                "the database file is moved aside; the backup's objects are written into the \
                 bucket, and objects it does not have stay there, unreferenced"
            }
            (Engine::Postgres, Store::S3(_)) => {
                "the tables are replaced: back them up first; the backup's objects are written \
                 into the bucket, and objects it does not have stay there, unreferenced"
            }
        };
        return Err(BackupError::Refused(format!(
            "the target is not empty ({database_holds} rows in the database, documents folder \
             {documents_state}); pass --force to replace it ({replaced})"
        )));
    }

    // Everything is checked; prepare the new documents folder beside the old one.
    let local_documents = match &store {
        Store::Local(local) => {
            let documents = local.dir().to_path_buf();
            let staged_documents = sibling(&documents, "restoring")?;
            let staged = stage_documents(dir, &manifest, &staged_documents).await;
            if let Err(err) = staged {
                let _ = tokio::fs::remove_dir_all(&staged_documents).await;
                return Err(err);
            }
            Some((documents, staged_documents))
        }
        Store::S3(_) => None,
    };
    let stamp = utc_stamp();
    let mut moved_aside = Vec::new();
    let database = match engine {
        Engine::Sqlite => restore_sqlite(config, dir, &manifest, database_holds > 0, &stamp).await,
        Engine::Postgres => restore_postgres(config, dir).await.map(|()| Vec::new()),
    };
    match database {
        Ok(aside) => moved_aside.extend(aside),
        Err(err) => {
            if let Some((_, staged_documents)) = &local_documents {
                let _ = tokio::fs::remove_dir_all(staged_documents).await;
            }
            return Err(err);
        }
    }
    // The database is in place; the documents follow it.
    match (&store, local_documents) {
        (Store::Local(_), Some((documents, staged_documents))) => {
            // Renames within one filesystem do not fail in practice; if this one did, its
            // error names both folders, and the documents wait complete and checked in the
            // staged folder.
            if let Some(aside) =
                swap_into_place(&staged_documents, &documents, documents_hold_data, &stamp).await?
            {
                moved_aside.push(aside);
            }
        }
        (Store::S3(s3), _) => upload_documents(s3, dir, &manifest).await?,
        (Store::Local(_), None) => {}
    }
    let counts = match engine {
        Engine::Sqlite => sqlite_counts_at(&sqlite_path(config)?).await?,
        Engine::Postgres => postgres_counts_at(config).await?,
    };
    compare_counts(&manifest.tables, &counts).map_err(|problem| {
        BackupError::Corrupt(format!(
            "after the restore, {problem}; the restored data is in place, look into it before \
             starting the server"
        ))
    })?;
    tracing::info!(
        tables = manifest.tables.len(),
        rows = manifest.total_rows(),
        documents = manifest.document_count(),
        "backup restored"
    );
    Ok(RestoreReport {
        manifest,
        moved_aside,
        restored: true,
    })
}

/// Reads the manifest and checks every file against it: present, same size, same SHA-256,
/// and no file that it does not list.
pub async fn verify(dir: &Path) -> Result<Manifest, BackupError> {
    let text = tokio::fs::read(dir.join(MANIFEST)).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BackupError::Refused(format!(
                "{} is not a Tabibu backup (no {MANIFEST} in it)",
                dir.display()
            ))
        } else {
            io(format!("reading {}", dir.join(MANIFEST).display()))(e)
        }
    })?;
    let manifest: Manifest = serde_json::from_slice(&text)
        .map_err(|_| BackupError::Corrupt(format!("{MANIFEST} is not a valid manifest")))?;
    if manifest.format != FORMAT {
        return Err(BackupError::Refused(format!(
            "the backup's format is {:?}; this tabibu reads {FORMAT:?}",
            manifest.format
        )));
    }
    if !manifest.files.contains_key(manifest.engine.file()) {
        return Err(BackupError::Corrupt(format!(
            "{MANIFEST} lists no {}",
            manifest.engine.file()
        )));
    }
    for (path, expected) in &manifest.files {
        if !safe_relative(path) {
            return Err(BackupError::Corrupt(format!(
                "{MANIFEST} names a path outside the folder: {path:?}"
            )));
        }
        let found = match hash_file(&dir.join(path)).await {
            Ok(found) => found,
            Err(BackupError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(BackupError::Corrupt(format!("{path} is missing")));
            }
            Err(err) => return Err(err),
        };
        if &found != expected {
            return Err(BackupError::Corrupt(format!(
                "{path} has changed (its SHA-256 or size differs)"
            )));
        }
    }
    for path in list_backup_files(dir).await? {
        if path != MANIFEST && !manifest.files.contains_key(&path) {
            return Err(BackupError::Corrupt(format!(
                "{path} is not listed in {MANIFEST}"
            )));
        }
    }
    Ok(manifest)
}

/// Copies the backup's documents into `staged`, checking each against the manifest again.
async fn stage_documents(
    dir: &Path,
    manifest: &Manifest,
    staged: &Path,
) -> Result<(), BackupError> {
    if staged.exists() {
        // Left by a restore that did not finish: ours by its name.
        tokio::fs::remove_dir_all(staged)
            .await
            .map_err(io(format!("removing {}", staged.display())))?;
    }
    create_private_dir(staged).await?;
    for (path, entry) in &manifest.files {
        let Some(name) = path.strip_prefix("documents/") else {
            continue;
        };
        copy_hashed(&dir.join(path), &staged.join(name), Some(entry)).await?;
    }
    sync_dir(staged).await;
    Ok(())
}

/// Writes the backup's documents into the bucket under their keys, as they are (sealed),
/// checking each against the manifest on the way: a file that differs is not committed.
/// Running it again writes the same objects again, so a restore cut short can be repeated.
async fn upload_documents(
    s3: &S3Store,
    dir: &Path,
    manifest: &Manifest,
) -> Result<(), BackupError> {
    tracing::info!(
        documents = manifest.document_count(),
        "writing the documents into the object store"
    );
    for (path, expected) in &manifest.files {
        let Some(key) = path.strip_prefix("documents/") else {
            continue;
        };
        let from = dir.join(path);
        let source = tokio::fs::File::open(&from)
            .await
            .map_err(io(format!("reading {}", from.display())))?;
        let mut upload = s3.begin(key).await.map_err(stored(key))?;
        let found = read_hashing(
            source,
            &from.display().to_string(),
            async |piece: &[u8]| (upload.write_all(piece).await).map_err(|err| stored(key)(err)),
        )
        .await?;
        if &found != expected {
            // Dropped uncommitted: nothing appears under the key.
            return Err(BackupError::Corrupt(format!(
                "{path} changed while it was being restored"
            )));
        }
        upload.commit().await.map_err(stored(key))?;
    }
    Ok(())
}

/// Puts the backup's SQLite file in place of the live one, after checking a staged copy.
/// Returns what was moved aside.
async fn restore_sqlite(
    config: &Config,
    dir: &Path,
    manifest: &Manifest,
    holds_data: bool,
    stamp: &str,
) -> Result<Vec<PathBuf>, BackupError> {
    let live = sqlite_path(config)?;
    if let Some(parent) = live.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io(format!("creating {}", parent.display())))?;
    }
    let staged = sibling(&live, "restoring")?;
    let entry = manifest
        .files
        .get(SQLITE_FILE)
        .ok_or_else(|| BackupError::Corrupt(format!("{MANIFEST} lists no {SQLITE_FILE}")))?;
    let checked = async {
        copy_hashed(&dir.join(SQLITE_FILE), &staged, Some(entry)).await?;
        let mut conn = open_sqlite_read_only(&staged).await?;
        let counts = sqlite_counts(&mut conn).await;
        let _ = conn.close().await;
        compare_counts(&manifest.tables, &counts?).map_err(BackupError::Corrupt)
    }
    .await;
    if let Err(err) = checked {
        let _ = tokio::fs::remove_file(&staged).await;
        return Err(err);
    }
    let mut aside = Vec::new();
    // The live file's journal files belong to it, never to the restored one.
    for suffix in ["-wal", "-shm", "-journal"] {
        let companion = PathBuf::from(format!("{}{suffix}", live.display()));
        if companion.exists() {
            if holds_data {
                let to = PathBuf::from(format!("{}.replaced-{stamp}{suffix}", live.display()));
                rename(&companion, &to).await?;
            } else {
                remove_file(&companion).await?;
            }
        }
    }
    if live.exists() && holds_data {
        let to = PathBuf::from(format!("{}.replaced-{stamp}", live.display()));
        rename(&live, &to).await?;
        aside.push(to);
    }
    rename(&staged, &live).await?;
    if let Some(parent) = live.parent() {
        sync_dir(parent).await;
    }
    Ok(aside)
}

/// Replaces the configured PostgreSQL database's contents with the dump, in one transaction.
async fn restore_postgres(config: &Config, dir: &Path) -> Result<(), BackupError> {
    let pg = PgTarget::parse(config.database_url.expose_secret())?;
    tracing::info!("restoring the PostgreSQL database (pg_restore)");
    let mut command = pg.command("pg_restore");
    command
        .args(["--clean", "--if-exists", "--single-transaction"])
        // The backup may come from a server with other role names.
        .args(["--no-owner", "--no-privileges"])
        .arg("--dbname")
        .arg(&pg.url_without_password)
        .arg(dir.join(POSTGRES_FILE));
    run_tool("pg_restore", command).await
}

/// Moves `staged` to `target`; what `target` held is moved aside when it held data, else
/// removed. Returns where it was moved.
async fn swap_into_place(
    staged: &Path,
    target: &Path,
    holds_data: bool,
    stamp: &str,
) -> Result<Option<PathBuf>, BackupError> {
    let mut aside = None;
    if target.exists() {
        if holds_data {
            let to = sibling(target, &format!("replaced-{stamp}"))?;
            rename(target, &to).await?;
            aside = Some(to);
        } else {
            tokio::fs::remove_dir_all(target)
                .await
                .map_err(io(format!("removing the empty {}", target.display())))?;
        }
    } else if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(io(format!("creating {}", parent.display())))?;
    }
    rename(staged, target).await?;
    if let Some(parent) = target.parent() {
        sync_dir(parent).await;
    }
    Ok(aside)
}

/// `Err` says which table differs and how, when `found` is not `expected`.
fn compare_counts(
    expected: &BTreeMap<String, i64>,
    found: &BTreeMap<String, i64>,
) -> Result<(), String> {
    for (table, want) in expected {
        match found.get(table) {
            Some(got) if got == want => {}
            Some(got) => {
                return Err(format!(
                    "table {table} has {got} rows where the manifest says {want}"
                ));
            }
            None => return Err(format!("table {table} is missing")),
        }
    }
    if let Some(table) = found.keys().find(|t| !expected.contains_key(*t)) {
        return Err(format!("table {table} is not in the manifest"));
    }
    Ok(())
}

// --------------------------------------------------------------------------------------------
// The databases

/// The SQLite file named by `DATABASE_URL`.
fn sqlite_path(config: &Config) -> Result<PathBuf, BackupError> {
    let url = config.database_url.expose_secret();
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Err(BackupError::Refused(
            "DATABASE_URL names no SQLite file (an in-memory database cannot be backed up)".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

async fn open_sqlite_read_only(path: &Path) -> Result<sqlx::SqliteConnection, BackupError> {
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(30));
    sqlx::SqliteConnection::connect_with(&options)
        .await
        .map_err(db(format!("opening {}", path.display())))
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

async fn sqlite_counts(
    conn: &mut sqlx::SqliteConnection,
) -> Result<BTreeMap<String, i64>, BackupError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db("listing the tables"))?;
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quoted(&table)))
            .fetch_one(&mut *conn)
            .await
            .map_err(db(format!("counting the rows of {table}")))?;
        counts.insert(table, n);
    }
    Ok(counts)
}

async fn postgres_counts(
    conn: &mut sqlx::PgConnection,
) -> Result<BTreeMap<String, i64>, BackupError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(db("listing the tables"))?;
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {}", quoted(&table)))
            .fetch_one(&mut *conn)
            .await
            .map_err(db(format!("counting the rows of {table}")))?;
        counts.insert(table, n);
    }
    Ok(counts)
}

/// Rows outside the bookkeeping tables: more than zero means the database has served someone.
fn rows_held(counts: &BTreeMap<String, i64>) -> i64 {
    counts
        .iter()
        .filter(|(table, _)| !BOOKKEEPING.contains(&table.as_str()))
        .map(|(_, n)| n)
        .sum()
}

/// The row counts of the SQLite file at `path`; none when it does not exist yet.
async fn sqlite_counts_at(path: &Path) -> Result<BTreeMap<String, i64>, BackupError> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let mut conn = open_sqlite_read_only(path).await?;
    let counts = sqlite_counts(&mut conn).await;
    let _ = conn.close().await;
    counts
}

async fn postgres_counts_at(config: &Config) -> Result<BTreeMap<String, i64>, BackupError> {
    let mut conn = sqlx::PgConnection::connect(config.database_url.expose_secret())
        .await
        .map_err(db(format!(
            "connecting to {}",
            config.database_url_redacted()
        )))?;
    let counts = postgres_counts(&mut conn).await;
    let _ = conn.close().await;
    counts
}

async fn storage_keys_sqlite(
    conn: &mut sqlx::SqliteConnection,
) -> Result<Vec<String>, BackupError> {
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'documents'",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db("looking for the documents table"))?;
    if exists == 0 {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT storage_key FROM documents")
        .fetch_all(&mut *conn)
        .await
        .map_err(db("reading the documents' storage keys"))?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

async fn storage_keys_postgres(conn: &mut sqlx::PgConnection) -> Result<Vec<String>, BackupError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('documents') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(db("looking for the documents table"))?;
    if !exists {
        return Ok(Vec::new());
    }
    let rows = sqlx::query("SELECT storage_key FROM documents")
        .fetch_all(&mut *conn)
        .await
        .map_err(db("reading the documents' storage keys"))?;
    Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
}

/// How to reach the PostgreSQL database with its command-line tools: the URL without its
/// password (which may show in the process list) and the password apart (in `PGPASSWORD`,
/// which only the same user can read).
struct PgTarget {
    url_without_password: String,
    password: Option<SecretString>,
}

impl PgTarget {
    fn parse(raw: &str) -> Result<PgTarget, BackupError> {
        let mut url = url::Url::parse(raw)
            .map_err(|_| BackupError::Refused("DATABASE_URL could not be read as a URL".into()))?;
        let password = url.password().map(|p| {
            SecretString::from(
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        });
        if password.is_some() && url.set_password(None).is_err() {
            return Err(BackupError::Refused(
                "DATABASE_URL's password could not be separated from it".into(),
            ));
        }
        Ok(PgTarget {
            url_without_password: url.to_string(),
            password,
        })
    }

    /// A `pg_dump`/`pg_restore` command that never prompts and gets the password from the
    /// environment.
    fn command(&self, tool: &str) -> std::process::Command {
        let mut command = std::process::Command::new(tool);
        command.arg("--no-password");
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password.expose_secret());
        }
        command
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        command
    }
}

/// Runs a PostgreSQL tool; on failure, its error lines (without the details that can quote
/// row values) become the error.
async fn run_tool(
    tool: &'static str,
    mut command: std::process::Command,
) -> Result<(), BackupError> {
    // On a thread of its own: the tool may run for minutes.
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .map_err(|e| io(format!("running {tool}"))(std::io::Error::other(e)))?;
    let output = output.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BackupError::Refused(format!(
                "{tool} was not found on PATH: install the PostgreSQL client of the server's \
                 major version (Debian: postgresql-client-15 for PostgreSQL 15)"
            ))
        } else {
            io(format!("running {tool}"))(e)
        }
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(BackupError::Tool {
        tool,
        status: output.status.to_string(),
        messages: tool_messages(&String::from_utf8_lossy(&output.stderr)),
    })
}

/// The error lines of a PostgreSQL tool's output, at most five, each shortened. `DETAIL`,
/// `HINT`, `CONTEXT` and `Command was` lines are left out: they can quote row values.
fn tool_messages(stderr: &str) -> String {
    let lines: Vec<String> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.contains("error") || l.contains("FATAL") || l.contains("ERROR"))
        .filter(|l| {
            !["DETAIL", "HINT", "CONTEXT", "Command was"]
                .iter()
                .any(|skip| l.starts_with(skip) || l.contains(&format!(" {skip}:")))
        })
        .take(5)
        .map(|l| l.chars().take(240).collect())
        .collect();
    if lines.is_empty() {
        "no error message".into()
    } else {
        lines.join(" | ")
    }
}

// --------------------------------------------------------------------------------------------
// Keys, files, time

/// The data key the server would use, found the same way it finds it.
fn data_key(config: &Config) -> Result<DataKey, BackupError> {
    let key = match &config.data_key {
        Some(encoded) => DataKey::from_base64(&config.data_key_id, encoded.expose_secret()),
        None if config.is_production() => {
            return Err(BackupError::Refused(
                "TABIBU_DATA_KEY is not set (it is required in production)".into(),
            ));
        }
        None => DataKey::development(&config.data_dir()),
    };
    key.map_err(|e| BackupError::Refused(e.to_string()))
}

/// 16 hex digits of a one-way hash of the key: tells keys apart, reveals nothing of them.
fn fingerprint(key: &DataKey) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"tabibu data key fingerprint v1\0");
    hasher.update(key.bytes());
    hex::encode(&hasher.finalize()[..8])
}

/// The names of the document files in `dir` (not the temporary files of uploads under way).
async fn document_files(dir: &Path) -> Result<Vec<String>, BackupError> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io(format!("reading {}", dir.display()))(err)),
    };
    let mut names = Vec::new();
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(io(format!("reading {}", dir.display())))?
    {
        let kind = entry
            .file_type()
            .await
            .map_err(io(format!("reading {}", dir.display())))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if kind.is_file() && !(name.starts_with(".upload-") && name.ends_with(".part")) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Every file in a backup folder, as `name` or `documents/name`.
async fn list_backup_files(dir: &Path) -> Result<Vec<String>, BackupError> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((folder, prefix)) = stack.pop() {
        let mut entries = tokio::fs::read_dir(&folder)
            .await
            .map_err(io(format!("reading {}", folder.display())))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io(format!("reading {}", folder.display())))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{prefix}{name}");
            let kind = entry
                .file_type()
                .await
                .map_err(io(format!("reading {}", folder.display())))?;
            if kind.is_dir() {
                stack.push((entry.path(), format!("{path}/")));
            } else {
                found.push(path);
            }
        }
    }
    Ok(found)
}

/// A manifest path that stays inside the folder: `name` or `documents/name`, plain names.
fn safe_relative(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    let plain = |p: &str| !p.is_empty() && p != "." && p != ".." && !p.contains('\\');
    match parts.as_slice() {
        [name] => plain(name),
        [folder, name] => *folder == DOCUMENTS && plain(name),
        _ => false,
    }
}

async fn hash_file(path: &Path) -> Result<FileEntry, BackupError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(io(format!("reading {}", path.display())))?;
    read_hashing(file, &path.display().to_string(), async |_: &[u8]| Ok(())).await
}

/// Reads `source` (named `from` in errors) to its end, handing each piece to `write` on the
/// way; what it read, as a manifest entry (SHA-256 and length).
async fn read_hashing(
    mut source: impl tokio::io::AsyncRead + Unpin,
    from: &str,
    mut write: impl AsyncFnMut(&[u8]) -> Result<(), BackupError>,
) -> Result<FileEntry, BackupError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; BUFFER];
    let mut bytes = 0u64;
    loop {
        let n = source
            .read(&mut buffer)
            .await
            .map_err(io(format!("reading {from}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        write(&buffer[..n]).await?;
        bytes += n as u64;
    }
    Ok(FileEntry {
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}

/// Copies `from` to a new private file `to`, hashing as it goes; with `expect`, a copy that
/// differs from it is removed and refused.
async fn copy_hashed(
    from: &Path,
    to: &Path,
    expect: Option<&FileEntry>,
) -> Result<FileEntry, BackupError> {
    let source = tokio::fs::File::open(from)
        .await
        .map_err(io(format!("reading {}", from.display())))?;
    copy_read_hashed(source, &from.display().to_string(), to, expect).await
}

/// Writes what `source` gives (named `from` in errors) into the new file `to`, hashing it on
/// the way; `expect`: the entry it must match, else `to` is removed again.
async fn copy_read_hashed(
    source: impl tokio::io::AsyncRead + Unpin,
    from: &str,
    to: &Path,
    expect: Option<&FileEntry>,
) -> Result<FileEntry, BackupError> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut target = options
        .open(to)
        .await
        .map_err(io(format!("creating {}", to.display())))?;
    let written = format!("writing {}", to.display());
    let entry = read_hashing(source, from, async |piece: &[u8]| {
        (target.write_all(piece).await).map_err(|source| BackupError::Io {
            what: written.clone(),
            source,
        })
    })
    .await?;
    target.sync_all().await.map_err(io(written))?;
    if let Some(expected) = expect
        && &entry != expected
    {
        let _ = tokio::fs::remove_file(to).await;
        return Err(BackupError::Corrupt(format!(
            "{from} changed while it was being copied"
        )));
    }
    Ok(entry)
}

async fn write_private(path: &Path, bytes: &[u8]) -> Result<(), BackupError> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options
        .open(path)
        .await
        .map_err(io(format!("creating {}", path.display())))?;
    file.write_all(bytes)
        .await
        .map_err(io(format!("writing {}", path.display())))?;
    file.sync_all()
        .await
        .map_err(io(format!("writing {}", path.display())))
}

async fn set_private(path: &Path) -> Result<(), BackupError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .await
            .map_err(io(format!("making {} private", path.display())))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

async fn create_private_dir(path: &Path) -> Result<(), BackupError> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder
        .create(path)
        .await
        .map_err(io(format!("creating {}", path.display())))
}

/// Makes renames and new files in `dir` durable; best effort (not every filesystem allows it).
async fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(handle) = tokio::fs::File::open(dir).await {
        let _ = handle.sync_all().await;
    }
}

async fn is_empty_dir(path: &Path) -> Result<bool, BackupError> {
    match tokio::fs::read_dir(path).await {
        Ok(mut entries) => Ok(entries
            .next_entry()
            .await
            .map_err(io(format!("reading {}", path.display())))?
            .is_none()),
        Err(err) if err.kind() == std::io::ErrorKind::NotADirectory => Ok(false),
        Err(err) => Err(io(format!("reading {}", path.display()))(err)),
    }
}

async fn rename(from: &Path, to: &Path) -> Result<(), BackupError> {
    tokio::fs::rename(from, to).await.map_err(io(format!(
        "moving {} to {}",
        from.display(),
        to.display()
    )))
}

async fn remove_file(path: &Path) -> Result<(), BackupError> {
    tokio::fs::remove_file(path)
        .await
        .map_err(io(format!("removing {}", path.display())))
}

/// `path` with `.suffix` added to its last part: a sibling on the same filesystem, so a
/// rename between the two is atomic.
fn sibling(path: &Path, suffix: &str) -> Result<PathBuf, BackupError> {
    let name = path.file_name().ok_or_else(|| {
        BackupError::Refused(format!("{} does not name a file or folder", path.display()))
    })?;
    let mut name = name.to_os_string();
    name.push(".");
    name.push(suffix);
    Ok(path.with_file_name(name))
}

/// The address, if something accepts connections at the server's configured one.
async fn server_answering(addr: std::net::SocketAddr) -> Option<std::net::SocketAddr> {
    let mut probe = addr;
    if probe.ip().is_unspecified() {
        probe.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let connect = tokio::net::TcpStream::connect(probe);
    match tokio::time::timeout(Duration::from_secs(1), connect).await {
        Ok(Ok(_)) => Some(addr),
        _ => None,
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for milliseconds since the epoch.
fn utc_timestamp(ms: i64) -> String {
    let (year, month, day) = tabibu_app::accounts::validate::civil_date(ms);
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `YYYYMMDDTHHMMSSZ` now: the suffix of what a restore moves aside.
fn utc_stamp() -> String {
    utc_timestamp(tabibu_app::platform::db::now_ms()).replace(['-', ':'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_and_is_decoded() {
        let pg = PgTarget::parse(
            "postgres://tabibu:p%40ss%3Aw0rd@db.example:5432/tabibu?sslmode=require",
        )
        .unwrap();
        assert_eq!(
            pg.url_without_password,
            "postgres://tabibu@db.example:5432/tabibu?sslmode=require"
        );
        assert_eq!(pg.password.unwrap().expose_secret(), "p@ss:w0rd");
        let none = PgTarget::parse("postgres://tabibu@127.0.0.1/test").unwrap();
        assert!(none.password.is_none());
    }

    #[test]
    fn tool_messages_keep_errors_and_drop_details_that_quote_rows() {
        let stderr = "pg_restore: while PROCESSING TOC:\n\
            pg_restore: error: could not execute query: ERROR:  duplicate key value violates unique constraint \"users_email_key\"\n\
            DETAIL:  Key (email)=(amina@example.com) already exists.\n\
            Command was: COPY public.users (id, email) FROM stdin;\n";
        let shown = tool_messages(stderr);
        assert!(shown.contains("users_email_key"), "{shown}");
        assert!(!shown.contains("amina"), "{shown}");
        assert!(!shown.contains("Command was"), "{shown}");
    }

    #[test]
    fn manifest_paths_must_stay_inside_the_folder() {
        assert!(safe_relative("database.sqlite"));
        assert!(safe_relative("documents/0123abcd"));
        for bad in [
            "../x",
            "documents/../../x",
            "/etc/passwd",
            "other/x",
            "documents/",
            "",
        ] {
            assert!(!safe_relative(bad), "{bad}");
        }
    }

    #[test]
    fn counts_that_differ_name_the_table() {
        let want: BTreeMap<String, i64> = [("users".to_owned(), 3), ("documents".to_owned(), 1)]
            .into_iter()
            .collect();
        let mut got = want.clone();
        assert!(compare_counts(&want, &got).is_ok());
        got.insert("users".into(), 2);
        assert!(compare_counts(&want, &got).unwrap_err().contains("users"));
        got.insert("users".into(), 3);
        got.insert("extra".into(), 0);
        assert!(compare_counts(&want, &got).unwrap_err().contains("extra"));
    }

    #[test]
    fn timestamps_are_utc() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_796_083_199_000), "2026-11-30T23:59:59Z");
    }

    #[test]
    fn a_fresh_database_holds_no_rows() {
        let counts: BTreeMap<String, i64> = [
            ("_sqlx_migrations".to_owned(), 13),
            ("audit_chain_head".to_owned(), 1),
            ("app_settings".to_owned(), 1),
            ("users".to_owned(), 0),
        ]
        .into_iter()
        .collect();
        assert_eq!(rows_held(&counts), 0);
    }
}
