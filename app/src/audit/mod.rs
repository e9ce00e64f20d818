//! The audit log: an append-only, tamper-evident record of who did what, when, from where,
//! and whether it worked.
//!
//! # How it is tamper-evident
//!
//! Every entry stores the hash of the entry before it (`prev_hash`) and its own `hash`, a
//! SHA-256 over a canonical serialisation of all its fields and `prev_hash` (see [`chain`]).
//! Editing, inserting or deleting an entry breaks the chain from that point on, and [`verify`]
//! reports the first sequence number that does not check out. A one-row table,
//! `audit_chain_head`, holds the last `seq` and `hash`: it makes appending cheap and lets
//! [`verify`] notice a deleted tail. Triggers refuse `UPDATE` and `DELETE` on `audit_log`, so
//! the application cannot change history by mistake.
//!
//! Known limit: someone with full write access to the database can rewrite the whole chain
//! from some entry onwards, head included, and it will verify. Detecting that needs the head
//! hash kept somewhere they cannot reach (printed by `tabibu audit verify` and noted by the
//! operator, or sent to an external log). This stays so until such an anchor exists.
//!
//! # One writer at a time
//!
//! Appending reads the head, computes the hash and writes the entry and the new head in one
//! transaction. The head row is taken with `UPDATE … RETURNING` as the transaction's first
//! step: on PostgreSQL that row lock makes concurrent appenders queue (the same effect as
//! `SELECT … FOR UPDATE`); on SQLite the write takes the database's write lock at once, like
//! `BEGIN IMMEDIATE`. So two requests at once can never fork the chain.
//!
//! # Personal data and pseudonymisation
//!
//! Entries never store a user's id (or any other id) directly. They store a *reference*: a
//! salted SHA-256 commitment to `(type, id)` whose salt lives in `audit_refs` beside the id.
//! The entry hash covers the reference, so:
//! - [`verify`] also recomputes each reference from its id and salt, so re-pointing a
//!   reference at another person is detected like any other edit;
//! - [`pseudonymise_actor`] (for account deletion) erases the id and the salt and stores a
//!   pseudonym instead. The log is not touched, the chain still verifies, and the reference
//!   can no longer be tied to the person.
//!
//! The IP address stays in the entry for as long as the entry is kept: it is the security
//! evidence the log exists for. `detail` is a short machine code (`&'static str`, so it
//! cannot carry a name, an email or a message by accident).
//!
//! This module must never log an id, an IP address or anything from an entry; its errors name
//! operations only.

pub mod chain;

use crate::platform::Db;
use crate::platform::db::now_ms;
use chain::{EntryFields, GENESIS_HASH};
use rand::RngCore;
use sqlx::{AnyConnection, Row};
use std::net::IpAddr;

/// Most entries [`list`] returns at once.
pub const MAX_LIST: u32 = 500;
/// Entries [`verify`] reads per query, so a long log never sits in memory at once.
const VERIFY_BATCH: i64 = 1_000;
/// The entity type of a person's account, for actors and for subjects.
pub const SUBJECT_USER: &str = "user";

/// A failure of the audit log itself. `Display` names the operation, never entry content.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log query failed: {0}")]
    Db(#[from] sqlx::Error),
    #[error("the audit chain head row is missing (migrations not applied?)")]
    HeadMissing,
    #[error("the pseudonym must be 1 to 64 characters")]
    InvalidPseudonym,
}

/// What happened. Stored as [`AuditAction::code`]; later features add their variants here
/// (one line in the enum, one in `ALL`, one in `code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    SignUp,
    SignIn,
    SignInFailed,
    SignOut,
    SignOutEverywhere,
    MfaEnabled,
    MfaDisabled,
    MfaFailed,
    RecoveryCodeUsed,
    PasswordChanged,
    PasswordResetRequested,
    PasswordResetCompleted,
    RoleChanged,
    UserCreated,
    UserDisabled,
    UserEnabled,
    SessionRejected,
    RateLimited,
    ProfileRead,
    ProfileUpdated,
    ConversationRead,
    ConversationMessage,
    RecordExported,
    TimelineRead,
    AccountDeleted,
    ConsultationRequested,
    ConsultationRead,
    ConsultationMessage,
    CaseViewed,
    CaseClaimed,
    CaseReleased,
    CaseClosed,
    CaseNoteAdded,
    CaseLevelOverridden,
    CaseReassigned,
    BreakGlass,
    BreakGlassReviewed,
    DocumentUploaded,
    DocumentsListed,
    DocumentViewed,
    DocumentDownloaded,
    DocumentDeleted,
    LabResultsRead,
    AiConsentGiven,
    PaymentRequested,
    PaymentSettled,
    PaymentCallbackRejected,
    PaymentsExported,
    EmailResent,
    EmailRead,
}

impl AuditAction {
    /// Every action, for parsing and for the admin page's filter.
    pub const ALL: &'static [AuditAction] = &[
        AuditAction::SignUp,
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::SignOut,
        AuditAction::SignOutEverywhere,
        AuditAction::MfaEnabled,
        AuditAction::MfaDisabled,
        AuditAction::MfaFailed,
        AuditAction::RecoveryCodeUsed,
        AuditAction::PasswordChanged,
        AuditAction::PasswordResetRequested,
        AuditAction::PasswordResetCompleted,
        AuditAction::RoleChanged,
        AuditAction::UserCreated,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::SessionRejected,
        AuditAction::RateLimited,
        AuditAction::ProfileRead,
        AuditAction::ProfileUpdated,
        AuditAction::ConversationRead,
        AuditAction::ConversationMessage,
        AuditAction::RecordExported,
        AuditAction::TimelineRead,
        AuditAction::AccountDeleted,
        AuditAction::ConsultationRequested,
        AuditAction::ConsultationRead,
        AuditAction::ConsultationMessage,
        AuditAction::CaseViewed,
        AuditAction::CaseClaimed,
        AuditAction::CaseReleased,
        AuditAction::CaseClosed,
        AuditAction::CaseNoteAdded,
        AuditAction::CaseLevelOverridden,
        AuditAction::CaseReassigned,
        AuditAction::BreakGlass,
        AuditAction::BreakGlassReviewed,
        AuditAction::DocumentUploaded,
        AuditAction::DocumentsListed,
        AuditAction::DocumentViewed,
        AuditAction::DocumentDownloaded,
        AuditAction::DocumentDeleted,
        AuditAction::LabResultsRead,
        AuditAction::AiConsentGiven,
        AuditAction::PaymentRequested,
        AuditAction::PaymentSettled,
        AuditAction::PaymentCallbackRejected,
        AuditAction::PaymentsExported,
        AuditAction::EmailResent,
        AuditAction::EmailRead,
    ];

    /// The stored code. Never change one: stored hashes cover it.
    pub fn code(self) -> &'static str {
        match self {
            AuditAction::SignUp => "sign_up",
            AuditAction::SignIn => "sign_in",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SignOut => "sign_out",
            AuditAction::SignOutEverywhere => "sign_out_everywhere",
            AuditAction::MfaEnabled => "mfa_enabled",
            AuditAction::MfaDisabled => "mfa_disabled",
            AuditAction::MfaFailed => "mfa_failed",
            AuditAction::RecoveryCodeUsed => "recovery_code_used",
            AuditAction::PasswordChanged => "password_changed",
            AuditAction::PasswordResetRequested => "password_reset_requested",
            AuditAction::PasswordResetCompleted => "password_reset_completed",
            AuditAction::RoleChanged => "role_changed",
            AuditAction::UserCreated => "user_created",
            AuditAction::UserDisabled => "user_disabled",
            AuditAction::UserEnabled => "user_enabled",
            AuditAction::SessionRejected => "session_rejected",
            AuditAction::RateLimited => "rate_limited",
            AuditAction::ProfileRead => "profile_read",
            AuditAction::ProfileUpdated => "profile_updated",
            AuditAction::ConversationRead => "conversation_read",
            AuditAction::ConversationMessage => "conversation_message",
            AuditAction::RecordExported => "record_exported",
            AuditAction::TimelineRead => "timeline_read",
            AuditAction::AccountDeleted => "account_deleted",
            AuditAction::ConsultationRequested => "consultation_requested",
            AuditAction::ConsultationRead => "consultation_read",
            AuditAction::ConsultationMessage => "consultation_message",
            AuditAction::CaseViewed => "case_viewed",
            AuditAction::CaseClaimed => "case_claimed",
            AuditAction::CaseReleased => "case_released",
            AuditAction::CaseClosed => "case_closed",
            AuditAction::CaseNoteAdded => "case_note_added",
            AuditAction::CaseLevelOverridden => "case_level_overridden",
            AuditAction::CaseReassigned => "case_reassigned",
            AuditAction::BreakGlass => "break_glass",
            AuditAction::BreakGlassReviewed => "break_glass_reviewed",
            AuditAction::DocumentUploaded => "document_uploaded",
            AuditAction::DocumentsListed => "documents_listed",
            AuditAction::DocumentViewed => "document_viewed",
            AuditAction::DocumentDownloaded => "document_downloaded",
            AuditAction::DocumentDeleted => "document_deleted",
            AuditAction::LabResultsRead => "lab_results_read",
            AuditAction::AiConsentGiven => "ai_consent_given",
            AuditAction::PaymentRequested => "payment_requested",
            AuditAction::PaymentSettled => "payment_settled",
            AuditAction::PaymentCallbackRejected => "payment_callback_rejected",
            AuditAction::PaymentsExported => "payments_exported",
            AuditAction::EmailResent => "email_resent",
            AuditAction::EmailRead => "email_read",
        }
    }

    pub fn from_code(code: &str) -> Option<AuditAction> {
        AuditAction::ALL.iter().copied().find(|a| a.code() == code)
    }
}

/// How it ended: done, failed (wrong password, bad code), or refused by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

/// One thing to record. Build it with [`AuditEvent::new`] and set what applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub action: AuditAction,
    pub outcome: Outcome,
    /// The signed-in user who acted; `None` for anonymous callers and the system.
    pub actor_id: Option<String>,
    /// The actor's role at the time, e.g. `patient`.
    pub actor_role: Option<String>,
    /// What kind of thing was acted on, e.g. [`SUBJECT_USER`]. Needed with `subject_id`.
    pub subject_type: Option<&'static str>,
    pub subject_id: Option<String>,
    /// The client's address. Anything that does not parse as an IP address is dropped.
    pub ip: Option<String>,
    /// A short machine code such as `bad_password`; never free text.
    pub detail: Option<&'static str>,
}

impl AuditEvent {
    pub fn new(action: AuditAction, outcome: Outcome) -> AuditEvent {
        AuditEvent {
            action,
            outcome,
            actor_id: None,
            actor_role: None,
            subject_type: None,
            subject_id: None,
            ip: None,
            detail: None,
        }
    }

    pub fn actor(mut self, user_id: impl Into<String>, role: impl Into<String>) -> Self {
        self.actor_id = Some(user_id.into());
        self.actor_role = Some(role.into());
        self
    }

    pub fn subject(mut self, subject_type: &'static str, id: impl Into<String>) -> Self {
        self.subject_type = Some(subject_type);
        self.subject_id = Some(id.into());
        self
    }

    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = Some(ip.to_string());
        self
    }

    pub fn detail(mut self, code: &'static str) -> Self {
        self.detail = Some(code);
        self
    }
}

/// Appends `event` in a transaction of its own. Returns the entry's sequence number.
#[tracing::instrument(name = "audit.record", skip_all, fields(action = event.action.code()))]
pub async fn record(db: &Db, event: AuditEvent) -> Result<i64, AuditError> {
    let mut tx = db.pool().begin().await?;
    let seq = record_in(&mut tx, event).await?;
    tx.commit().await?;
    Ok(seq)
}

/// Appends `event` inside the caller's transaction, so the entry exists exactly when the
/// change it describes does. Returns the entry's sequence number.
///
/// `conn` must be inside a transaction (`&mut tx` works). The head row stays locked until the
/// caller commits, and every other audit write waits for it, so call this as the last step
/// before committing, never before slow work such as password hashing. On PostgreSQL the
/// transaction must be READ COMMITTED (the default). On SQLite, a transaction that has only
/// read so far may get "database is locked" here if another writer committed since its first
/// read; writing first (as every account change does) avoids that.
pub async fn record_in(conn: &mut AnyConnection, event: AuditEvent) -> Result<i64, AuditError> {
    let head =
        sqlx::query("UPDATE audit_chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(AuditError::HeadMissing)?;
    let head_seq: i64 = head.try_get(0)?;
    let prev_hash: String = head.try_get(1)?;

    let actor_ref = match &event.actor_id {
        Some(id) => Some(reference_for(conn, SUBJECT_USER, id).await?),
        None => None,
    };
    // A subject needs both its type and its id; half of one is not recorded.
    let (subject_type, subject_ref) = match (event.subject_type, &event.subject_id) {
        (Some(kind), Some(id)) => (Some(kind), Some(reference_for(conn, kind, id).await?)),
        _ => (None, None),
    };
    let ip = event
        .ip
        .as_deref()
        .and_then(|ip| ip.trim().parse::<IpAddr>().ok())
        .map(|ip| ip.to_string());

    let seq = head_seq + 1;
    let id = uuid::Uuid::new_v4().to_string();
    let fields = EntryFields {
        seq,
        id: &id,
        at_ms: now_ms(),
        actor_ref: actor_ref.as_deref(),
        actor_role: event.actor_role.as_deref(),
        action: event.action.code(),
        subject_type,
        subject_ref: subject_ref.as_deref(),
        outcome: event.outcome.code(),
        ip: ip.as_deref(),
        detail: event.detail,
        prev_hash: &prev_hash,
    };
    let hash = chain::entry_hash(&fields);
    sqlx::query(
        "INSERT INTO audit_log (seq, id, at_ms, actor_ref, actor_role, action, subject_type, \
         subject_ref, outcome, ip, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(fields.seq)
    .bind(fields.id)
    .bind(fields.at_ms)
    .bind(fields.actor_ref)
    .bind(fields.actor_role)
    .bind(fields.action)
    .bind(fields.subject_type)
    .bind(fields.subject_ref)
    .bind(fields.outcome)
    .bind(fields.ip)
    .bind(fields.detail)
    .bind(fields.prev_hash)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_chain_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
    Ok(seq)
}

/// The reference standing for `(entity_type, entity_id)`, made on first use.
///
/// Only called while the chain head is locked, so two appenders never race to create the
/// same reference.
async fn reference_for(
    conn: &mut AnyConnection,
    entity_type: &str,
    entity_id: &str,
) -> Result<String, AuditError> {
    let select = "SELECT ref FROM audit_refs WHERE entity_type = $1 AND entity_id = $2";
    if let Some(row) = sqlx::query(select)
        .bind(entity_type)
        .bind(entity_id)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok(row.try_get(0)?);
    }
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = hex::encode(salt);
    let reference = chain::reference(entity_type, entity_id, &salt);
    sqlx::query(
        "INSERT INTO audit_refs (ref, entity_type, entity_id, salt, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&reference)
    .bind(entity_type)
    .bind(entity_id)
    .bind(&salt)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(reference)
}

/// Replaces a user's id in the audit log by `pseudonym` (e.g. `deleted-user-42`), for
/// account deletion. Covers the user both as actor and as subject. The chain keeps
/// verifying: entries hold references, and only the reference table changes. Returns whether
/// the user appeared in the log at all.
pub async fn pseudonymise_actor(
    db: &Db,
    user_id: &str,
    pseudonym: &str,
) -> Result<bool, AuditError> {
    let mut conn = db.pool().acquire().await?;
    pseudonymise_in(&mut conn, SUBJECT_USER, user_id, pseudonym).await
}

/// Like [`pseudonymise_actor`] for any entity type, inside the caller's transaction (so the
/// account row and its audit identity disappear together).
pub async fn pseudonymise_in(
    conn: &mut AnyConnection,
    entity_type: &str,
    entity_id: &str,
    pseudonym: &str,
) -> Result<bool, AuditError> {
    let pseudonym = pseudonym.trim();
    if pseudonym.is_empty() || pseudonym.chars().count() > 64 {
        return Err(AuditError::InvalidPseudonym);
    }
    let changed = sqlx::query(
        "UPDATE audit_refs SET entity_id = NULL, salt = NULL, pseudonym = $1, \
         pseudonymised_at = $2 WHERE entity_type = $3 AND entity_id = $4",
    )
    .bind(pseudonym)
    .bind(now_ms())
    .bind(entity_type)
    .bind(entity_id)
    .execute(&mut *conn)
    .await?;
    Ok(changed.rows_affected() > 0)
}

/// Who an entry names, as far as the log still knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// The id of the user (or other entity).
    Known(String),
    /// The entity was deleted; this is what stands in for it.
    Pseudonymised(String),
}

/// One entry as the admin page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    pub at_ms: i64,
    pub actor: Option<Party>,
    pub actor_role: Option<String>,
    /// The stored code; [`AuditAction::from_code`] parses it (codes of newer versions stay
    /// readable as text).
    pub action: String,
    pub subject_type: Option<String>,
    pub subject: Option<Party>,
    pub outcome: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// Which entries [`list`] returns, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub subject_id: Option<String>,
    pub action: Option<AuditAction>,
    /// Only entries older than this sequence number: the next page after the last one shown.
    pub before_seq: Option<i64>,
    /// At most this many (1 to [`MAX_LIST`]; 0 means 50).
    pub limit: u32,
}

/// Entries matching `filter`, newest first.
pub async fn list(db: &Db, filter: &AuditFilter) -> Result<Vec<AuditEntry>, AuditError> {
    let mut sql = String::from(
        "SELECT l.seq, l.id, l.at_ms, a.entity_id, a.pseudonym, l.actor_role, l.action, \
         l.subject_type, s.entity_id, s.pseudonym, l.outcome, l.ip, l.detail, l.actor_ref, \
         l.subject_ref \
         FROM audit_log l \
         LEFT JOIN audit_refs a ON a.ref = l.actor_ref \
         LEFT JOIN audit_refs s ON s.ref = l.subject_ref \
         WHERE 1 = 1",
    );
    // Placeholders are numbered in the order they appear, which the Any driver needs.
    let mut binds: Vec<Bind> = Vec::new();
    if let Some(actor) = &filter.actor_id {
        binds.push(Bind::Text(actor.clone()));
        sql.push_str(&format!(
            " AND a.entity_type = 'user' AND a.entity_id = ${}",
            binds.len()
        ));
    }
    if let Some(subject) = &filter.subject_id {
        binds.push(Bind::Text(subject.clone()));
        sql.push_str(&format!(" AND s.entity_id = ${}", binds.len()));
    }
    if let Some(action) = filter.action {
        binds.push(Bind::Text(action.code().to_owned()));
        sql.push_str(&format!(" AND l.action = ${}", binds.len()));
    }
    if let Some(before) = filter.before_seq {
        binds.push(Bind::Int(before));
        sql.push_str(&format!(" AND l.seq < ${}", binds.len()));
    }
    let limit = match filter.limit {
        0 => 50,
        n => n.min(MAX_LIST),
    };
    binds.push(Bind::Int(i64::from(limit)));
    sql.push_str(&format!(" ORDER BY l.seq DESC LIMIT ${}", binds.len()));

    let mut query = sqlx::query(&sql);
    for bind in binds {
        query = match bind {
            Bind::Text(s) => query.bind(s),
            Bind::Int(i) => query.bind(i),
        };
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| {
            let party = |id: usize, pseudonym: usize, reference: usize| -> sqlx::Result<_> {
                let reference: Option<String> = row.try_get(reference)?;
                let id: Option<String> = row.try_get(id)?;
                let pseudonym: Option<String> = row.try_get(pseudonym)?;
                Ok(reference.map(|_| match (id, pseudonym) {
                    (Some(id), _) => Party::Known(id),
                    (None, Some(p)) => Party::Pseudonymised(p),
                    // A reference without its row: verify reports it; the page shows it as such.
                    (None, None) => Party::Pseudonymised("unknown".to_owned()),
                }))
            };
            Ok(AuditEntry {
                seq: row.try_get(0)?,
                id: row.try_get(1)?,
                at_ms: row.try_get(2)?,
                actor: party(3, 4, 13)?,
                actor_role: row.try_get(5)?,
                action: row.try_get(6)?,
                subject_type: row.try_get(7)?,
                subject: party(8, 9, 14)?,
                outcome: row.try_get(10)?,
                ip: row.try_get(11)?,
                detail: row.try_get(12)?,
            })
        })
        .collect::<sqlx::Result<Vec<_>>>()
        .map_err(AuditError::from)
}

enum Bind {
    Text(String),
    Int(i64),
}

/// What [`verify`] found wrong first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The entry with this number is missing (deleted, or renumbered).
    MissingEntry,
    /// The entry's `prev_hash` is not the previous entry's hash.
    PrevHashMismatch,
    /// The entry's fields do not hash to its stored hash (edited).
    HashMismatch,
    /// The entry's actor or subject reference is missing from `audit_refs`, or the id there
    /// no longer matches the reference (re-pointed to someone else).
    BadReference,
    /// The chain ends before the head says it does, or at a different hash.
    HeadMismatch,
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries read.
    pub entries: u64,
    /// The first sequence number that does not check out; `None` when the chain is intact.
    pub first_broken_seq: Option<i64>,
    /// Why it does not, when it does not.
    pub problem: Option<Break>,
    /// The head at the start of the check: note it somewhere safe to detect a later rewrite.
    pub head_seq: i64,
    pub head_hash: String,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_broken_seq.is_none()
    }
}

/// Walks the whole chain in order, in batches, and reports the first break.
///
/// Entries appended while it runs (after the head it read at the start) are left for the
/// next run.
#[tracing::instrument(name = "audit.verify", skip_all)]
pub async fn verify(db: &Db) -> Result<VerifyReport, AuditError> {
    let head = sqlx::query("SELECT seq, hash FROM audit_chain_head WHERE id = 1")
        .fetch_optional(db.pool())
        .await?
        .ok_or(AuditError::HeadMissing)?;
    let head_seq: i64 = head.try_get(0)?;
    let head_hash: String = head.try_get(1)?;

    let mut report = VerifyReport {
        entries: 0,
        first_broken_seq: None,
        problem: None,
        head_seq,
        head_hash: head_hash.clone(),
    };

    let mut expected_seq = 1i64;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT l.seq, l.id, l.at_ms, l.actor_ref, l.actor_role, l.action, l.subject_type, \
             l.subject_ref, l.outcome, l.ip, l.detail, l.prev_hash, l.hash, \
             a.entity_type, a.entity_id, a.salt, a.pseudonym, \
             s.entity_type, s.entity_id, s.salt, s.pseudonym \
             FROM audit_log l \
             LEFT JOIN audit_refs a ON a.ref = l.actor_ref \
             LEFT JOIN audit_refs s ON s.ref = l.subject_ref \
             WHERE l.seq > $1 AND l.seq <= $2 ORDER BY l.seq LIMIT $3",
        )
        .bind(after)
        .bind(head_seq)
        .bind(VERIFY_BATCH)
        .fetch_all(db.pool())
        .await?;
        let Some(last) = rows.last() else {
            break;
        };
        after = last.try_get(0)?;
        for row in &rows {
            report.entries += 1;
            let seq: i64 = row.try_get(0)?;
            let id: String = row.try_get(1)?;
            let actor_ref: Option<String> = row.try_get(3)?;
            let actor_role: Option<String> = row.try_get(4)?;
            let action: String = row.try_get(5)?;
            let subject_type: Option<String> = row.try_get(6)?;
            let subject_ref: Option<String> = row.try_get(7)?;
            let outcome: String = row.try_get(8)?;
            let ip: Option<String> = row.try_get(9)?;
            let detail: Option<String> = row.try_get(10)?;
            let stored_prev: String = row.try_get(11)?;
            let stored_hash: String = row.try_get(12)?;

            if seq != expected_seq {
                note(&mut report, expected_seq, Break::MissingEntry);
            }
            if stored_prev != prev_hash {
                note(&mut report, seq, Break::PrevHashMismatch);
            }
            let fields = EntryFields {
                seq,
                id: &id,
                at_ms: row.try_get(2)?,
                actor_ref: actor_ref.as_deref(),
                actor_role: actor_role.as_deref(),
                action: &action,
                subject_type: subject_type.as_deref(),
                subject_ref: subject_ref.as_deref(),
                outcome: &outcome,
                ip: ip.as_deref(),
                detail: detail.as_deref(),
                prev_hash: &stored_prev,
            };
            if chain::entry_hash(&fields) != stored_hash {
                note(&mut report, seq, Break::HashMismatch);
            }
            let actor_ok = reference_holds(row, actor_ref.as_deref(), Some(SUBJECT_USER), 13)?;
            let subject_ok =
                reference_holds(row, subject_ref.as_deref(), subject_type.as_deref(), 17)?;
            if !actor_ok || !subject_ok {
                note(&mut report, seq, Break::BadReference);
            }
            expected_seq = seq + 1;
            // Carry on from the stored hash, so one edit is reported once, where it is.
            prev_hash = stored_hash;
        }
    }
    if expected_seq <= head_seq {
        // The last entries are gone: the head remembers more than the log holds.
        note(&mut report, expected_seq, Break::MissingEntry);
    } else if prev_hash != head_hash {
        note(&mut report, head_seq, Break::HeadMismatch);
    }
    if report.first_broken_seq.is_some() {
        tracing::warn!(
            entries = report.entries,
            first_broken_seq = report.first_broken_seq,
            "the audit chain does not verify"
        );
    }
    Ok(report)
}

/// Keeps the first break found; later ones are usually its consequences.
fn note(report: &mut VerifyReport, seq: i64, problem: Break) {
    if report.first_broken_seq.is_none() {
        report.first_broken_seq = Some(seq);
        report.problem = Some(problem);
    }
}

/// Whether the reference in an entry still stands for what `audit_refs` says it does.
/// `column` is where that reference's `entity_type, entity_id, salt, pseudonym` start.
fn reference_holds(
    row: &sqlx::any::AnyRow,
    reference: Option<&str>,
    expected_type: Option<&str>,
    column: usize,
) -> Result<bool, sqlx::Error> {
    let Some(reference) = reference else {
        return Ok(true);
    };
    let entity_type: Option<String> = row.try_get(column)?;
    let entity_id: Option<String> = row.try_get(column + 1)?;
    let salt: Option<String> = row.try_get(column + 2)?;
    let pseudonym: Option<String> = row.try_get(column + 3)?;
    let Some(entity_type) = entity_type else {
        return Ok(false);
    };
    if Some(entity_type.as_str()) != expected_type {
        return Ok(false);
    }
    Ok(match (entity_id, salt, pseudonym) {
        (Some(id), Some(salt), None) => chain::reference(&entity_type, &id, &salt) == reference,
        // Pseudonymised: nothing left to check it against, by design.
        (None, None, Some(_)) => true,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_codes_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for action in AuditAction::ALL {
            let code = action.code();
            assert!(seen.insert(code), "{code} used twice");
            assert!(code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert_eq!(AuditAction::from_code(code), Some(*action));
        }
        assert_eq!(AuditAction::from_code("no_such_action"), None);
    }

    #[test]
    fn the_builder_fills_the_fields_it_names() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let e = AuditEvent::new(AuditAction::RoleChanged, Outcome::Success)
            .actor("admin-1", "admin")
            .subject(SUBJECT_USER, "user-2")
            .ip(ip)
            .detail("to_doctor");
        assert_eq!(e.actor_id.as_deref(), Some("admin-1"));
        assert_eq!(e.actor_role.as_deref(), Some("admin"));
        assert_eq!(e.subject_type, Some("user"));
        assert_eq!(e.subject_id.as_deref(), Some("user-2"));
        assert_eq!(e.ip.as_deref(), Some("192.0.2.7"));
        assert_eq!(e.detail, Some("to_doctor"));
    }
}
