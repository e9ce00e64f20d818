//! The documents' logic, testable without Leptos: taking an upload from a stream of chunks to
//! a sealed file and its rows, listing, opening for streaming, deleting.
//!
//! An upload is checked by content as it arrives ([`super::sniff`]), counted against the size
//! limit as it arrives, hashed and sealed chunk by chunk into a temporary file, and only then
//! renamed into place and recorded, in a task of its own so that a client going away at that
//! moment cannot leave a file without its row or a row without its file. Any failure before
//! that discards what was written (see [`super::storage::LocalUpload`] and
//! [`super::s3::S3Upload`]).
//!
//! Ownership: the `*_own` functions take the caller and touch only rows whose `patient_id` is
//! theirs; another patient's document is "not found", never "forbidden", so its existence does
//! not leak. [`list_for_patient`], [`labs_for_patient`] and [`open_document`] are unaudited
//! loaders for other features (the FHIR export, the doctors' case view): their callers check
//! access and audit. Nothing here logs a filename, a value or any document content.

use super::labs::{self, Found};
use super::pdf;
use super::sniff::{self, Kind, Refusal, Sniff};
use super::storage::{
    BlobUpload, DocumentStore, Opener, Sealer, StorageError, Store, StoreReader, StoreUpload,
    new_key,
};
use super::types::{DocumentList, DocumentSummary, Flag, LabResult, TextStatus};
use crate::accounts::session::AuthUser;
use crate::audit::{self, AuditAction, AuditEvent, Outcome, SUBJECT_USER};
use crate::platform::db::now_ms;
use crate::platform::{AppState, Config, Db};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The largest PDF whose text is read (kept in memory while it arrives); larger ones are
/// stored with [`TextStatus::Failed`].
pub const MAX_PDF_FOR_TEXT: usize = 4 * 1024 * 1024;
/// How long reading one PDF's text may take.
pub const TEXT_DEADLINE: Duration = Duration::from_secs(5);

/// A failure of the documents' storage or database. `Display` names the step only.
#[derive(Debug, thiserror::Error)]
pub enum DocumentsError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("the document was sealed under key id {0}, which is not configured")]
    KeyUnavailable(String),
    #[error("a stored row is malformed")]
    BadRow,
    #[error("the recording task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Why an upload was not kept.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the file is not an accepted kind: {0:?}")]
    Refused(Refusal),
    #[error("the file is empty")]
    Empty,
    #[error("the file is larger than the limit")]
    TooLarge,
    #[error("the upload was interrupted")]
    Interrupted,
    /// The disk (or the volume's quota) is full: nothing was kept, the patient may try later.
    #[error("document storage is full")]
    StorageFull,
    #[error(transparent)]
    Internal(DocumentsError),
}

impl From<DocumentsError> for UploadError {
    fn from(err: DocumentsError) -> Self {
        match err {
            DocumentsError::Storage(storage) => storage.into(),
            other => UploadError::Internal(other),
        }
    }
}

impl UploadError {
    /// The audit log's code for a refused upload; `None` for our own failures.
    pub fn audit_code(&self) -> Option<&'static str> {
        match self {
            UploadError::Refused(Refusal::UnsupportedType) => Some("unsupported_type"),
            UploadError::Refused(Refusal::UnreadableImage) => Some("unreadable_image"),
            UploadError::Refused(Refusal::ImageTooLarge) => Some("image_too_large"),
            UploadError::Empty => Some("empty"),
            UploadError::TooLarge => Some("too_large"),
            UploadError::Interrupted => Some("interrupted"),
            UploadError::StorageFull => Some("storage_full"),
            UploadError::Internal(_) => None,
        }
    }
}

/// Records a refused upload (why, as a short code) in the audit log.
pub async fn audit_refused(
    db: &Db,
    user: &AuthUser,
    ip: Option<IpAddr>,
    code: &'static str,
) -> Result<(), audit::AuditError> {
    let mut refused = AuditEvent::new(AuditAction::DocumentUploaded, Outcome::Failure)
        .actor(&user.user_id, user.role.as_str())
        .subject(SUBJECT_USER, &user.user_id)
        .detail(code);
    if let Some(ip) = ip {
        refused = refused.ip(ip);
    }
    audit::record(db, refused).await.map(|_| ())
}

/// Removes temporary upload files older than `age` that a crash (not a failed request: those
/// clean up after themselves) left behind. Run at start; returns how many were removed.
pub async fn sweep_stale_uploads(store: &Store, age: Duration) -> Result<usize, StorageError> {
    store.sweep_temporary(age).await
}

impl From<StorageError> for UploadError {
    fn from(err: StorageError) -> Self {
        if err.is_storage_full() {
            UploadError::StorageFull
        } else {
            UploadError::Internal(DocumentsError::Storage(err))
        }
    }
}

/// The store documents live in for this configuration, for commands that run without an
/// [`AppState`] (backup and restore); everything else uses the one in `state.documents`.
pub fn store(config: &Config) -> Result<Store, StorageError> {
    Store::from_config(config)
}

fn event(action: AuditAction, user: &AuthUser, ip: Option<IpAddr>) -> AuditEvent {
    let mut event = AuditEvent::new(action, Outcome::Success)
        .actor(&user.user_id, user.role.as_str())
        .subject(SUBJECT_USER, &user.user_id);
    if let Some(ip) = ip {
        event = event.ip(ip);
    }
    event
}

/// What reading the text of a document found.
fn read_text(kind: Kind, copy: Option<Vec<u8>>) -> (TextStatus, Vec<Found>) {
    if kind != Kind::Pdf {
        return (TextStatus::NotApplicable, Vec::new());
    }
    let Some(bytes) = copy else {
        return (TextStatus::Failed, Vec::new());
    };
    let limits = pdf::Limits::standard(Instant::now() + TEXT_DEADLINE);
    match pdf::text(&bytes, &limits) {
        Ok(text) if text.chars().any(char::is_alphanumeric) => {
            (TextStatus::Extracted, labs::extract(&text))
        }
        Ok(_) => (TextStatus::NoText, Vec::new()),
        Err(_) => (TextStatus::Failed, Vec::new()),
    }
}

/// Takes an upload from `body` (its chunks as they arrive) for `user`, named `raw_name`.
pub async fn upload<S, B, E>(
    state: &AppState,
    user: &AuthUser,
    ip: Option<IpAddr>,
    raw_name: &str,
    mut body: S,
) -> Result<DocumentSummary, UploadError>
where
    S: Stream<Item = Result<B, E>> + Unpin,
    B: AsRef<[u8]>,
{
    let max = state.config.max_upload_bytes;
    let store = state.documents.clone();
    let storage_key = new_key();
    let mut head: Vec<u8> = Vec::new();
    let mut accepted: Option<(Kind, Sealer<StoreUpload>)> = None;
    // The plaintext of a small PDF, for reading its text once it has all arrived.
    let mut copy: Option<Vec<u8>> = None;
    let mut total: u64 = 0;
    let mut hasher = Sha256::new();
    while let Some(next) = body.next().await {
        let Ok(chunk) = next else {
            return Err(UploadError::Interrupted);
        };
        let chunk = chunk.as_ref();
        total += chunk.len() as u64;
        if total > max {
            return Err(UploadError::TooLarge);
        }
        hasher.update(chunk);
        if let Some(bytes) = copy.as_mut() {
            if bytes.len() + chunk.len() > MAX_PDF_FOR_TEXT {
                copy = None;
            } else {
                bytes.extend_from_slice(chunk);
            }
        }
        match accepted.as_mut() {
            Some((_, sealer)) => sealer.write(chunk).await?,
            None => {
                head.extend_from_slice(chunk);
                match sniff::sniff(&head, false) {
                    Sniff::NeedMore => {}
                    Sniff::Refuse(refusal) => return Err(UploadError::Refused(refusal)),
                    Sniff::Accept(kind) => {
                        if kind == Kind::Pdf && head.len() <= MAX_PDF_FOR_TEXT {
                            copy = Some(head.clone());
                        }
                        let sealer = start_sealing(state, &store, &storage_key, &head).await?;
                        head = Vec::new();
                        accepted = Some((kind, sealer));
                    }
                }
            }
        }
    }
    if total == 0 {
        return Err(UploadError::Empty);
    }
    let (kind, sealer) = match accepted {
        Some(accepted) => accepted,
        None => match sniff::sniff(&head, true) {
            Sniff::Accept(kind) => {
                if kind == Kind::Pdf {
                    copy = Some(head.clone());
                }
                (
                    kind,
                    start_sealing(state, &store, &storage_key, &head).await?,
                )
            }
            Sniff::Refuse(refusal) => return Err(UploadError::Refused(refusal)),
            Sniff::NeedMore => return Err(UploadError::Refused(Refusal::UnsupportedType)),
        },
    };
    let upload = sealer.finish().await?;
    let sha256 = hex::encode(hasher.finalize());
    let (text_status, found) = tokio::task::spawn_blocking(move || read_text(kind, copy))
        .await
        .map_err(DocumentsError::from)?;

    let document = DocumentSummary {
        id: uuid::Uuid::new_v4().to_string(),
        filename: super::types::display_filename(raw_name),
        content_type: kind.content_type().to_owned(),
        size_bytes: i64::try_from(total).unwrap_or(i64::MAX),
        sha256,
        text_status,
        created_at: now_ms(),
        lab_count: i64::try_from(found.len()).unwrap_or(i64::MAX),
    };
    // From here on the work runs in a task of its own: a client that goes away now can no
    // longer cut it between the file's rename and its row.
    let task = {
        let (db, key_id, user) = (state.db.clone(), state.data_key.id.clone(), user.clone());
        let document = document.clone();
        tokio::spawn(async move {
            upload.commit().await?;
            let recorded = record(&db, &user, ip, &document, &key_id, &storage_key, &found).await;
            if recorded.is_err()
                && let Err(err) = store.remove(&storage_key).await
            {
                tracing::error!(cause = %err, "could not remove the file of an unrecorded upload");
            }
            recorded
        })
    };
    task.await.map_err(DocumentsError::from)??;
    Ok(document)
}

async fn start_sealing(
    state: &AppState,
    store: &Store,
    storage_key: &str,
    head: &[u8],
) -> Result<Sealer<StoreUpload>, StorageError> {
    let upload = store.begin(storage_key).await?;
    let mut sealer = Sealer::start(upload, &state.data_key, storage_key).await?;
    sealer.write(head).await?;
    Ok(sealer)
}

/// The rows of a new document and its values, and the audit entry, in one transaction.
async fn record(
    db: &Db,
    user: &AuthUser,
    ip: Option<IpAddr>,
    document: &DocumentSummary,
    key_id: &str,
    storage_key: &str,
    found: &[Found],
) -> Result<(), DocumentsError> {
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO documents (id, patient_id, filename, content_type, size_bytes, sha256, \
         key_id, storage_key, text_status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&document.id)
    .bind(&user.user_id)
    .bind(&document.filename)
    .bind(&document.content_type)
    .bind(document.size_bytes)
    .bind(&document.sha256)
    .bind(key_id)
    .bind(storage_key)
    .bind(document.text_status.as_str())
    .bind(document.created_at)
    .execute(&mut *tx)
    .await?;
    for (position, value) in found.iter().enumerate() {
        sqlx::query(
            "INSERT INTO lab_results (id, document_id, patient_id, test_name, value, unit, \
             ref_low, ref_high, flag, position) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(&document.id)
        .bind(&user.user_id)
        .bind(&value.test_name)
        .bind(value.value)
        .bind(&value.unit)
        .bind(value.ref_low)
        .bind(value.ref_high)
        .bind(value.flag.map(Flag::as_str))
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
    }
    audit::record_in(&mut tx, event(AuditAction::DocumentUploaded, user, ip)).await?;
    tx.commit().await?;
    Ok(())
}

fn summary(row: &sqlx::any::AnyRow) -> Result<DocumentSummary, DocumentsError> {
    let status: String = row.try_get(5)?;
    Ok(DocumentSummary {
        id: row.try_get(0)?,
        filename: row.try_get(1)?,
        content_type: row.try_get(2)?,
        size_bytes: row.try_get(3)?,
        sha256: row.try_get(4)?,
        text_status: TextStatus::parse(&status).ok_or(DocumentsError::BadRow)?,
        created_at: row.try_get(6)?,
        lab_count: row.try_get(7)?,
    })
}

/// A patient's documents, newest first, with how many lab values each holds. Unaudited: the
/// caller checks access and audits.
pub async fn list_for_patient(
    db: &Db,
    patient_id: &str,
) -> Result<Vec<DocumentSummary>, DocumentsError> {
    let rows = sqlx::query(
        "SELECT d.id, d.filename, d.content_type, d.size_bytes, d.sha256, d.text_status, \
         d.created_at, (SELECT COUNT(*) FROM lab_results l WHERE l.document_id = d.id) \
         FROM documents d WHERE d.patient_id = $1 ORDER BY d.created_at DESC, d.id",
    )
    .bind(patient_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(summary).collect()
}

/// A patient's lab values across all their documents, oldest document first, in the order
/// each document printed them. Unaudited: the caller checks access and audits.
pub async fn labs_for_patient(db: &Db, patient_id: &str) -> Result<Vec<LabResult>, DocumentsError> {
    let rows = sqlx::query(
        "SELECT l.id, l.document_id, d.created_at, l.test_name, l.value, l.unit, l.ref_low, \
         l.ref_high, l.flag, l.position \
         FROM lab_results l JOIN documents d ON d.id = l.document_id \
         WHERE l.patient_id = $1 \
         ORDER BY d.created_at, l.document_id, l.position",
    )
    .bind(patient_id)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let flag: Option<String> = row.try_get(8)?;
            Ok(LabResult {
                id: row.try_get(0)?,
                document_id: row.try_get(1)?,
                document_at: row.try_get(2)?,
                test_name: row.try_get(3)?,
                value: row.try_get(4)?,
                unit: row.try_get(5)?,
                ref_low: row.try_get(6)?,
                ref_high: row.try_get(7)?,
                flag: flag.as_deref().and_then(Flag::parse),
                position: row.try_get(9)?,
            })
        })
        .collect()
}

/// The caller's documents and the upload limit; the read is audited.
pub async fn list_own(state: &AppState, user: &AuthUser) -> Result<DocumentList, DocumentsError> {
    let documents = list_for_patient(&state.db, &user.user_id).await?;
    audit::record(&state.db, event(AuditAction::DocumentsListed, user, None)).await?;
    Ok(DocumentList {
        documents,
        max_upload_bytes: state.config.max_upload_bytes,
    })
}

/// The caller's lab values; the read is audited.
pub async fn labs_own(state: &AppState, user: &AuthUser) -> Result<Vec<LabResult>, DocumentsError> {
    let labs = labs_for_patient(&state.db, &user.user_id).await?;
    audit::record(&state.db, event(AuditAction::LabResultsRead, user, None)).await?;
    Ok(labs)
}

/// A stored document ready to be read chunk by chunk.
#[derive(Debug)]
pub struct OpenDocument {
    pub id: String,
    pub patient_id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub opener: Opener<StoreReader>,
}

/// How many documents one pass of [`reseal_all`] takes at a time.
const RESEAL_BATCH: i64 = 100;

/// Seals every document stored under the previous data key again under the current one, one
/// document at a time: the new file is written and committed first, then the row is switched
/// to it (only if it still names the old file), then the old file is removed. Stopping at any
/// point leaves every document readable (by one key or the other), and running it again
/// carries on where it stopped. Returns how many documents were sealed again.
pub async fn reseal_all(state: &AppState) -> Result<u64, DocumentsError> {
    let Some(previous) = state.previous_key.clone() else {
        return Ok(0);
    };
    let store = &state.documents;
    let mut done = 0;
    loop {
        let rows = sqlx::query(
            "SELECT id, storage_key FROM documents WHERE key_id = $1 ORDER BY id LIMIT $2",
        )
        .bind(&previous.id)
        .bind(RESEAL_BATCH)
        .fetch_all(state.db.pool())
        .await?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut progressed = false;
        for row in rows {
            let id: String = row.try_get(0)?;
            let old_key: String = row.try_get(1)?;
            let new_storage_key = new_key();
            let mut opener =
                Opener::start(store.open(&old_key).await?, &previous, &old_key).await?;
            let mut sealer = Sealer::start(
                store.begin(&new_storage_key).await?,
                &state.data_key,
                &new_storage_key,
            )
            .await?;
            while let Some(chunk) = opener.next_chunk().await? {
                sealer.write(&chunk).await?;
            }
            sealer.finish().await?.commit().await?;
            let switched = sqlx::query(
                "UPDATE documents SET key_id = $1, storage_key = $2 \
                 WHERE id = $3 AND storage_key = $4 AND key_id = $5",
            )
            .bind(&state.data_key.id)
            .bind(&new_storage_key)
            .bind(&id)
            .bind(&old_key)
            .bind(&previous.id)
            .execute(state.db.pool())
            .await?;
            if switched.rows_affected() == 1 {
                store.remove(&old_key).await?;
                done += 1;
                progressed = true;
            } else {
                // Deleted or changed meanwhile: the new copy is not needed.
                store.remove(&new_storage_key).await?;
            }
        }
        if !progressed {
            return Ok(done);
        }
    }
}

/// Opens the document `document_id` for streaming decryption, whoever owns it; `None` when
/// there is no such document. Unaudited and unchecked: for callers that have checked the
/// reader may see it (the owner, or a doctor holding the patient's case) and audit the read.
pub async fn open_document(
    state: &AppState,
    document_id: &str,
) -> Result<Option<OpenDocument>, DocumentsError> {
    let Some(row) = sqlx::query(
        "SELECT id, patient_id, filename, content_type, size_bytes, sha256, key_id, storage_key \
         FROM documents WHERE id = $1",
    )
    .bind(document_id)
    .fetch_optional(state.db.pool())
    .await?
    else {
        return Ok(None);
    };
    let key_id: String = row.try_get(6)?;
    // The current key, or during a rotation the previous one (see `reseal_all`).
    let Some(key) = state.key_for(&key_id) else {
        return Err(DocumentsError::KeyUnavailable(key_id));
    };
    let storage_key: String = row.try_get(7)?;
    let file = state.documents.open(&storage_key).await?;
    let opener = Opener::start(file, key, &storage_key).await?;
    Ok(Some(OpenDocument {
        id: row.try_get(0)?,
        patient_id: row.try_get(1)?,
        filename: row.try_get(2)?,
        content_type: row.try_get(3)?,
        size_bytes: row.try_get(4)?,
        sha256: row.try_get(5)?,
        opener,
    }))
}

/// Opens one of the caller's own documents; `None` when it is not theirs or not there. The
/// view or download is audited.
pub async fn open_own(
    state: &AppState,
    user: &AuthUser,
    ip: Option<IpAddr>,
    document_id: &str,
    download: bool,
) -> Result<Option<OpenDocument>, DocumentsError> {
    let owned = sqlx::query("SELECT 1 FROM documents WHERE id = $1 AND patient_id = $2")
        .bind(document_id)
        .bind(&user.user_id)
        .fetch_optional(state.db.pool())
        .await?;
    if owned.is_none() {
        return Ok(None);
    }
    let Some(document) = open_document(state, document_id).await? else {
        return Ok(None);
    };
    let action = if download {
        AuditAction::DocumentDownloaded
    } else {
        AuditAction::DocumentViewed
    };
    audit::record(&state.db, event(action, user, ip)).await?;
    Ok(Some(document))
}

/// Deletes one of the caller's documents and its lab values; `false` when it is not theirs or
/// not there. The file goes after the rows are gone.
pub async fn delete_own(
    state: &AppState,
    user: &AuthUser,
    document_id: &str,
) -> Result<bool, DocumentsError> {
    let mut tx = state.db.pool().begin().await?;
    let Some(row) = sqlx::query(
        "DELETE FROM documents WHERE id = $1 AND patient_id = $2 RETURNING storage_key",
    )
    .bind(document_id)
    .bind(&user.user_id)
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(false);
    };
    let storage_key: String = row.try_get(0)?;
    audit::record_in(&mut tx, event(AuditAction::DocumentDeleted, user, None)).await?;
    tx.commit().await?;
    remove_files(&state.documents, &[storage_key]).await;
    Ok(true)
}

/// The storage keys of all of a patient's documents, read inside the caller's transaction
/// (account deletion reads them before the rows go, and removes the files after it commits).
pub async fn storage_keys_in(
    conn: &mut sqlx::AnyConnection,
    patient_id: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query("SELECT storage_key FROM documents WHERE patient_id = $1")
        .bind(patient_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect()
}

/// Removes the files under `keys`, once their rows are gone. A file that cannot be removed is
/// logged by its opaque key (never a name) for the operator; its row is already gone.
pub async fn remove_files(store: &Store, keys: &[String]) {
    for key in keys {
        if let Err(err) = store.remove(key).await {
            tracing::error!(storage_key = %key, cause = %err, "could not remove a document file");
        }
    }
}
