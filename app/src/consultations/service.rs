//! Consultations on the server: a patient's request, the doctors' queue, the claim, the
//! thread and the closing. Testable without Leptos; the server functions in `api` only parse,
//! check the role and call these.
//!
//! Ownership lives here: a patient reaches only their own consultations, a doctor only the
//! queue's summary lines and the cases claimed by them; anything else is [`ConsultError::
//! NotFound`], so nobody learns that someone else's case exists. Every read and write of a
//! consultation is audited in the transaction that does it, and every change writes a live
//! event there too (after the audit entry: see `events::hub`), as it does the patient's email
//! (claimed, doctor replied, closed: see `emails`). Nothing here logs content.

use super::emails::{self, Announce};
use super::types::{
    Author, CaseDetail, Closing, ConsultationDetail, ConsultationSummary, QueueItem, Status,
    ThreadMessage, TranscriptLine,
};
use crate::accounts::session::AuthUser;
use crate::accounts::types::Role;
use crate::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::error::AppError;
use crate::events::LiveEventKind;
use crate::events::hub::{NewEvent, publish_in};
use crate::platform::db::now_ms;
use crate::platform::{AppState, internal_error};
use sqlx::{AnyConnection, Row};
use tabibu_ai::{PreConsultSummary, TriageLevel, TriageResult};

/// The audit log's name for a consultation as a subject.
pub const SUBJECT_CONSULTATION: &str = "consultation";
/// The longest message or note, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4_000;
/// The longest chief complaint kept for the queue, in characters.
const MAX_COMPLAINT_CHARS: usize = 140;

/// Why a consultation could not be read or changed. `Display` names the step, never content.
#[derive(Debug, thiserror::Error)]
pub enum ConsultError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("stored triage is not valid JSON")]
    Corrupt(#[from] serde_json::Error),
    #[error("profile: {0}")]
    Profile(#[from] crate::profile::service::ProfileError),
    #[error("documents: {0}")]
    Documents(#[from] crate::documents::service::DocumentsError),
    #[error("assistant: {0}")]
    Assistant(#[from] crate::assistant::service::AssistantError),
    /// Not there, or not the caller's to see.
    #[error("no such consultation for this caller")]
    NotFound,
    /// Closed or cancelled: no more messages or changes.
    #[error("the consultation is closed")]
    Closed,
    /// Another doctor was quicker.
    #[error("the consultation was already claimed")]
    AlreadyClaimed,
    /// The action does not fit the consultation's state (e.g. releasing a waiting case).
    #[error("not possible in the consultation's current state")]
    WrongState,
}

impl ConsultError {
    /// The client's view of this error; unforeseen ones are logged with the request id.
    pub fn into_app_error(self, operation: &'static str) -> AppError {
        let err = match self {
            ConsultError::NotFound => AppError::NotFound,
            ConsultError::Closed => AppError::Conflict {
                code: "consultation.closed".into(),
            },
            ConsultError::AlreadyClaimed => AppError::Conflict {
                code: "consultation.already_claimed".into(),
            },
            ConsultError::WrongState => AppError::Conflict {
                code: "consultation.wrong_state".into(),
            },
            other => return internal_error(operation, &other),
        };
        crate::platform::reject(err)
    }
}

/// A validated request for a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsultation {
    /// The assistant conversation it follows from, if any (must be the patient's own).
    pub conversation_id: Option<String>,
    /// What the patient tells the doctor.
    pub note: String,
    /// The page's key for this request: the same key twice makes one consultation.
    pub request_key: String,
    /// The patient's own documents to share with the doctor.
    pub document_ids: Vec<String>,
}

pub(super) fn audit_event(
    action: AuditAction,
    user: &AuthUser,
    consultation_id: &str,
) -> AuditEvent {
    AuditEvent::new(action, Outcome::Success)
        .actor(&user.user_id, user.role.as_str())
        .subject(SUBJECT_CONSULTATION, consultation_id)
}

fn event(kind: LiveEventKind, id: &str, patient: &str, doctor: Option<&str>) -> NewEvent {
    NewEvent {
        kind,
        consultation_id: Some(id.to_owned()),
        patient_id: Some(patient.to_owned()),
        doctor_id: doctor.map(str::to_owned),
        to_doctors: false,
    }
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Age in completed years on `today`, from a `YYYY-MM-DD` date of birth.
fn whole_years(date_of_birth: Option<&str>, today: (i32, u32, u32)) -> Option<u32> {
    date_of_birth
        .and_then(|d| crate::profile::validate::age_years(d, today))
        .map(|a| a.floor() as u32)
}

/// The first sentence or so of `text`, for the queue.
fn complaint_from(text: &str) -> String {
    let line = text.trim().lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().take(MAX_COMPLAINT_CHARS).collect();
    if line.chars().count() > MAX_COMPLAINT_CHARS {
        out.push('…');
    }
    out
}

/// Opens a consultation for the patient `user` and puts it in the queue, or, when a fee is set
/// (`TABIBU_CONSULTATION_FEE_KES`), holds it in `awaiting_payment` until it is paid (see
/// `crate::payments`). Asking twice with the same `request_key` returns the first one's id and
/// changes nothing.
pub async fn request(
    state: &AppState,
    user: &AuthUser,
    new: NewConsultation,
) -> Result<String, ConsultError> {
    let db = state.db.pool();
    if let Some(existing) = existing_request(state, &user.user_id, &new.request_key).await? {
        return Ok(existing);
    }
    let from_conversation = match &new.conversation_id {
        Some(conversation) => Some(conversation_triage(state, &user.user_id, conversation).await?),
        None => None,
    };
    if !new.document_ids.is_empty() {
        let own: Vec<String> =
            crate::documents::service::list_for_patient(&state.db, &user.user_id)
                .await?
                .into_iter()
                .map(|d| d.id)
                .collect();
        if new.document_ids.iter().any(|d| !own.contains(d)) {
            return Err(ConsultError::NotFound);
        }
    }
    let profile = crate::profile::service::load(&state.db, &user.user_id).await?;
    let today = crate::accounts::validate::civil_date(now_ms());
    let context = profile.triage_context(today);
    let from_note = tabibu_ai::guard::triage_guarded(&state.triage, &new.note, &context);
    let (triage, summary) = match from_conversation.flatten() {
        Some((result, summary)) if result.level.rank() >= from_note.level.rank() => {
            (result, summary)
        }
        _ => {
            let summary = tabibu_ai::pre_consult_summary(&new.note, &from_note);
            (from_note, summary)
        }
    };
    let complaint = if summary.chief_complaint.trim().is_empty() {
        complaint_from(&new.note)
    } else {
        complaint_from(&summary.chief_complaint)
    };
    let id = new_id();
    let now = now_ms();
    // The fee is fixed now: a later change of the setting does not change this request's.
    let fee_kes = i64::from(state.config.payments.fee_kes);
    let status = if fee_kes > 0 {
        Status::AwaitingPayment
    } else {
        Status::Waiting
    };
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO consultations (id, patient_id, conversation_id, request_key, status, \
         triage_level, red_flag, chief_complaint, note, triage_json, summary_json, created_at, \
         updated_at, fee_kes) VALUES ($1, $2, $3, $4, $12, $5, $6, $7, $8, $9, $10, $11, $11, $13) \
         ON CONFLICT (patient_id, request_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&user.user_id)
    .bind(new.conversation_id.as_deref())
    .bind(&new.request_key)
    .bind(triage.level.as_str())
    .bind(i32::from(!triage.red_flags.is_empty()))
    .bind(&complaint)
    .bind(&new.note)
    .bind(serde_json::to_string(&triage)?)
    .bind(serde_json::to_string(&summary)?)
    .bind(now)
    .bind(status.as_str())
    .bind(fee_kes)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        // The same request, submitted twice at once: the other one won.
        tx.rollback().await?;
        return existing_request(state, &user.user_id, &new.request_key)
            .await?
            .ok_or(ConsultError::NotFound);
    }
    for document in &new.document_ids {
        sqlx::query(
            "INSERT INTO consultation_documents (consultation_id, document_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(document)
        .execute(&mut *tx)
        .await?;
    }
    audit::record_in(
        &mut tx,
        audit_event(AuditAction::ConsultationRequested, user, &id),
    )
    .await?;
    let mut opened = event(LiveEventKind::ConsultationOpened, &id, &user.user_id, None);
    // Doctors hear of it once it is in their queue: now, or when it is paid.
    opened.to_doctors = status == Status::Waiting;
    publish_in(&mut tx, &opened).await?;
    tx.commit().await?;
    state.events.wake();
    Ok(id)
}

async fn existing_request(
    state: &AppState,
    patient_id: &str,
    request_key: &str,
) -> Result<Option<String>, ConsultError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM consultations WHERE patient_id = $1 AND request_key = $2",
    )
    .bind(patient_id)
    .bind(request_key)
    .fetch_optional(state.db.pool())
    .await?)
}

/// The latest triage and summary of the patient's own conversation: `Err(NotFound)` when it
/// is not theirs (it must never be linked: the doctor's case view shows its transcript),
/// `Ok(None)` when the assistant has not answered in it yet.
async fn conversation_triage(
    state: &AppState,
    patient_id: &str,
    conversation_id: &str,
) -> Result<Option<(TriageResult, PreConsultSummary)>, ConsultError> {
    let owned: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM conversations WHERE id = $1 AND patient_id = $2")
            .bind(conversation_id)
            .bind(patient_id)
            .fetch_optional(state.db.pool())
            .await?;
    if owned.is_none() {
        return Err(ConsultError::NotFound);
    }
    Ok(
        crate::assistant::service::load_for_consultation(&state.db, patient_id, conversation_id)
            .await?,
    )
}

const SUMMARY_COLUMNS: &str = "c.id, c.status, c.triage_level, c.chief_complaint, d.name, \
     c.created_at, c.updated_at";

fn read_summary(row: &sqlx::any::AnyRow) -> Result<ConsultationSummary, ConsultError> {
    let status: String = row.try_get(1)?;
    let level: String = row.try_get(2)?;
    Ok(ConsultationSummary {
        id: row.try_get(0)?,
        status: Status::parse(&status).unwrap_or(Status::Waiting),
        level: TriageLevel::parse(&level).unwrap_or(TriageLevel::Urgent),
        chief_complaint: row.try_get(3)?,
        doctor_name: row.try_get(4)?,
        created_ms: row.try_get(5)?,
        updated_ms: row.try_get(6)?,
    })
}

/// The patient's own consultations, newest first; the read is audited.
pub async fn list_own(
    state: &AppState,
    user: &AuthUser,
) -> Result<Vec<ConsultationSummary>, ConsultError> {
    let rows = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM consultations c LEFT JOIN users d ON d.id = c.doctor_id \
         WHERE c.patient_id = $1 ORDER BY c.created_at DESC LIMIT 200"
    ))
    .bind(&user.user_id)
    .fetch_all(state.db.pool())
    .await?;
    let list = rows
        .iter()
        .map(read_summary)
        .collect::<Result<Vec<_>, _>>()?;
    audit::record(
        &state.db,
        AuditEvent::new(AuditAction::ConsultationRead, Outcome::Success)
            .actor(&user.user_id, user.role.as_str())
            .subject(audit::SUBJECT_USER, &user.user_id),
    )
    .await?;
    Ok(list)
}

/// The parts of a consultation that decide who may do what with it.
pub(super) struct Owners {
    pub(super) patient_id: String,
    pub(super) doctor_id: Option<String>,
    pub(super) status: Status,
}

pub(super) async fn owners(conn: &mut AnyConnection, id: &str) -> Result<Owners, ConsultError> {
    let row = sqlx::query("SELECT patient_id, doctor_id, status FROM consultations WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(ConsultError::NotFound)?;
    let status: String = row.try_get(2)?;
    Ok(Owners {
        patient_id: row.try_get(0)?,
        doctor_id: row.try_get(1)?,
        status: Status::parse(&status).unwrap_or(Status::Closed),
    })
}

impl Owners {
    /// Whether `user` takes part in this consultation: its patient, or its doctor.
    pub(super) fn admits(&self, user: &AuthUser) -> bool {
        match user.role {
            Role::Patient => self.patient_id == user.user_id,
            Role::Doctor => self.doctor_id.as_deref() == Some(user.user_id.as_str()),
            Role::Admin => false,
        }
    }
}

/// How `user` may look at a consultation: as one of its two sides, or (a doctor) through a
/// break-glass grant. `NotFound` for anyone else.
async fn viewer_access(
    state: &AppState,
    user: &AuthUser,
    id: &str,
) -> Result<(Owners, bool), ConsultError> {
    let mut conn = state.db.pool().acquire().await?;
    let who = owners(&mut conn, id).await?;
    if who.admits(user) {
        return Ok((who, false));
    }
    if user.role == Role::Doctor
        && super::care::has_break_glass(&mut conn, &user.user_id, id).await?
    {
        return Ok((who, true));
    }
    Err(ConsultError::NotFound)
}

/// One consultation, for its patient or its doctor; the other side's messages are marked
/// read. A doctor holding a break-glass grant may read it too (audited as such; nothing is
/// marked read for them). Audited.
pub async fn detail(
    state: &AppState,
    user: &AuthUser,
    id: &str,
) -> Result<ConsultationDetail, ConsultError> {
    let (who, through_glass) = viewer_access(state, user, id).await?;
    let mut tx = state.db.pool().begin().await?;
    // Write first (SQLite: a transaction that only read may not upgrade to a writer).
    let action = match user.role {
        Role::Doctor => AuditAction::CaseViewed,
        _ => AuditAction::ConsultationRead,
    };
    let mut entry = audit_event(action, user, id);
    if through_glass {
        entry = entry.detail("break_glass");
    }
    audit::record_in(&mut tx, entry).await?;
    let mut marked_any = false;
    if !through_glass {
        let other = match user.role {
            Role::Doctor => Author::Patient,
            _ => Author::Doctor,
        };
        let marked = sqlx::query(
            "UPDATE consultation_messages SET read_at = $1 \
             WHERE consultation_id = $2 AND author_role = $3 AND read_at IS NULL",
        )
        .bind(now_ms())
        .bind(id)
        .bind(author_str(other))
        .execute(&mut *tx)
        .await?;
        marked_any = marked.rows_affected() > 0;
    }
    if marked_any {
        publish_in(
            &mut tx,
            &event(
                LiveEventKind::ConsultationRead,
                id,
                &who.patient_id,
                who.doctor_id.as_deref(),
            ),
        )
        .await?;
    }
    let detail = read_detail(&mut tx, id, user.role).await?;
    tx.commit().await?;
    if marked_any {
        state.events.wake();
    }
    Ok(detail)
}

fn author_str(author: Author) -> &'static str {
    match author {
        Author::Patient => "patient",
        Author::Doctor => "doctor",
    }
}

async fn read_detail(
    conn: &mut AnyConnection,
    id: &str,
    viewer: Role,
) -> Result<ConsultationDetail, ConsultError> {
    let row = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS}, c.note, c.outcome, c.final_level, c.advice, c.closed_at \
         FROM consultations c LEFT JOIN users d ON d.id = c.doctor_id WHERE c.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ConsultError::NotFound)?;
    let summary = read_summary(&row)?;
    let final_level: Option<String> = row.try_get(9)?;
    let closing = match (row.try_get::<Option<i64>, _>(11)?, final_level) {
        (Some(closed_ms), Some(level)) => Some(Closing {
            outcome: row.try_get::<Option<String>, _>(8)?.unwrap_or_default(),
            final_level: TriageLevel::parse(&level).unwrap_or(summary.level),
            advice: row.try_get::<Option<String>, _>(10)?.unwrap_or_default(),
            closed_ms,
        }),
        _ => None,
    };
    let mine = match viewer {
        Role::Doctor => Author::Doctor,
        _ => Author::Patient,
    };
    let messages = sqlx::query(
        "SELECT id, seq, author_role, body, created_at, read_at FROM consultation_messages \
         WHERE consultation_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|m| -> Result<ThreadMessage, ConsultError> {
        let role: String = m.try_get(2)?;
        let author = if role == "doctor" {
            Author::Doctor
        } else {
            Author::Patient
        };
        Ok(ThreadMessage {
            id: m.try_get(0)?,
            seq: m.try_get::<i64, _>(1)?,
            author,
            mine: author == mine,
            body: m.try_get(3)?,
            sent_ms: m.try_get(4)?,
            read_ms: m.try_get(5)?,
        })
    })
    .collect::<Result<Vec<_>, _>>()?;
    Ok(ConsultationDetail {
        summary,
        note: row.try_get(7)?,
        messages,
        closing,
    })
}

/// Adds a message from `user` (the patient, or the doctor who claimed it). Sending the same
/// `client_key` again returns the first message's id and adds nothing. The doctor's first
/// message moves the consultation to `replied`.
pub async fn post_message(
    state: &AppState,
    user: &AuthUser,
    id: &str,
    body: &str,
    client_key: &str,
) -> Result<String, ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    audit::record_in(
        &mut tx,
        audit_event(AuditAction::ConsultationMessage, user, id),
    )
    .await?;
    let who = owners(&mut tx, id).await?;
    if !who.admits(user) {
        return Err(ConsultError::NotFound);
    }
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT id FROM consultation_messages WHERE consultation_id = $1 AND client_key = $2",
    )
    .bind(id)
    .bind(client_key)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(existing) = existing {
        tx.rollback().await?;
        return Ok(existing);
    }
    if !who.status.is_open() {
        return Err(ConsultError::Closed);
    }
    let author = match user.role {
        Role::Doctor => Author::Doctor,
        _ => Author::Patient,
    };
    let seq: i64 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(seq), 0) + 1 FROM consultation_messages WHERE consultation_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let message_id = new_id();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO consultation_messages (id, consultation_id, seq, author_id, author_role, \
         body, client_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&message_id)
    .bind(id)
    .bind(seq)
    .bind(&user.user_id)
    .bind(author_str(author))
    .bind(body)
    .bind(client_key)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let next_status = if author == Author::Doctor && who.status == Status::Claimed {
        Status::Replied
    } else {
        who.status
    };
    sqlx::query("UPDATE consultations SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(next_status.as_str())
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    publish_in(
        &mut tx,
        &event(
            LiveEventKind::ConsultationMessage,
            id,
            &who.patient_id,
            who.doctor_id.as_deref(),
        ),
    )
    .await?;
    let emailed = author == Author::Doctor
        && emails::queue(&mut tx, state, Announce::DoctorReplied, id, &who.patient_id).await?;
    tx.commit().await?;
    state.events.wake();
    if emailed {
        state.mailer.wake();
    }
    Ok(message_id)
}

/// Every open consultation, most urgent first, then longest waiting: the doctors' queue.
/// Only what a doctor needs to choose a case; not audited per look (the dashboard refreshes
/// it on every event), while opening a case is.
pub async fn queue(state: &AppState, doctor: &AuthUser) -> Result<Vec<QueueItem>, ConsultError> {
    let rows = sqlx::query(
        "SELECT c.id, c.status, c.triage_level, c.red_flag, u.date_of_birth, p.sex, \
         c.chief_complaint, c.triage_json, c.created_at, d.name, c.doctor_id, c.fee_kes \
         FROM consultations c JOIN users u ON u.id = c.patient_id \
         LEFT JOIN health_profiles p ON p.user_id = c.patient_id \
         LEFT JOIN users d ON d.id = c.doctor_id \
         WHERE c.status IN ('waiting', 'claimed', 'replied') \
         ORDER BY CASE c.triage_level WHEN 'emergency' THEN 0 WHEN 'urgent' THEN 1 \
         WHEN 'routine' THEN 2 ELSE 3 END, c.created_at LIMIT 500",
    )
    .fetch_all(state.db.pool())
    .await?;
    let today = crate::accounts::validate::civil_date(now_ms());
    rows.iter()
        .map(|row| -> Result<QueueItem, ConsultError> {
            let status: String = row.try_get(1)?;
            let level: String = row.try_get(2)?;
            let red_flag: i32 = row.try_get(3)?;
            let dob: Option<String> = row.try_get(4)?;
            let triage: String = row.try_get(7)?;
            let triage: TriageResult = serde_json::from_str(&triage)?;
            let doctor_id: Option<String> = row.try_get(10)?;
            // Only paid consultations (or free ones) are ever in the queue.
            let fee_kes: i64 = row.try_get(11)?;
            Ok(QueueItem {
                id: row.try_get(0)?,
                status: Status::parse(&status).unwrap_or(Status::Waiting),
                level: TriageLevel::parse(&level).unwrap_or(TriageLevel::Urgent),
                red_flag: red_flag != 0,
                age_years: whole_years(dob.as_deref(), today),
                sex: row.try_get(5)?,
                chief_complaint: row.try_get(6)?,
                reasons: triage.reasons.into_iter().map(|r| r.explanation).collect(),
                waiting_since_ms: row.try_get(8)?,
                fee_paid_kes: (fee_kes > 0).then_some(fee_kes),
                doctor_name: row.try_get(9)?,
                mine: doctor_id.as_deref() == Some(doctor.user_id.as_str()),
            })
        })
        .collect()
}

/// Claims a waiting consultation for `doctor`. Of two doctors claiming at once exactly one
/// wins; the other gets [`ConsultError::AlreadyClaimed`].
pub async fn claim(state: &AppState, doctor: &AuthUser, id: &str) -> Result<(), ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    let now = now_ms();
    let won = sqlx::query(
        "UPDATE consultations SET status = 'claimed', doctor_id = $1, claimed_at = $2, \
         updated_at = $2 WHERE id = $3 AND status = 'waiting'",
    )
    .bind(&doctor.user_id)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let who = owners(&mut tx, id).await?;
    if won.rows_affected() == 0 {
        return Err(if who.status.is_open() {
            ConsultError::AlreadyClaimed
        } else {
            ConsultError::Closed
        });
    }
    audit::record_in(&mut tx, audit_event(AuditAction::CaseClaimed, doctor, id)).await?;
    let mut claimed = event(
        LiveEventKind::ConsultationClaimed,
        id,
        &who.patient_id,
        Some(&doctor.user_id),
    );
    claimed.to_doctors = true;
    publish_in(&mut tx, &claimed).await?;
    let emailed = emails::queue(&mut tx, state, Announce::Claimed, id, &who.patient_id).await?;
    tx.commit().await?;
    state.events.wake();
    if emailed {
        state.mailer.wake();
    }
    Ok(())
}

/// Puts a claimed consultation back in the queue: by the doctor who holds it, or by an admin
/// (a stale claim of a doctor who left).
pub async fn release(state: &AppState, user: &AuthUser, id: &str) -> Result<(), ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    audit::record_in(&mut tx, audit_event(AuditAction::CaseReleased, user, id)).await?;
    let who = owners(&mut tx, id).await?;
    if user.role != Role::Admin && !who.admits(user) {
        return Err(ConsultError::NotFound);
    }
    if !who.status.is_open() {
        return Err(ConsultError::Closed);
    }
    if who.doctor_id.is_none() {
        return Err(ConsultError::WrongState);
    }
    sqlx::query(
        "UPDATE consultations SET status = 'waiting', doctor_id = NULL, claimed_at = NULL, \
         updated_at = $1 WHERE id = $2",
    )
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let mut released = event(
        LiveEventKind::ConsultationReleased,
        id,
        &who.patient_id,
        who.doctor_id.as_deref(),
    );
    released.to_doctors = true;
    publish_in(&mut tx, &released).await?;
    tx.commit().await?;
    state.events.wake();
    Ok(())
}

/// How a doctor closes a consultation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseCase {
    pub outcome: String,
    pub final_level: TriageLevel,
    pub advice: String,
}

/// Closes the doctor's own open consultation; the patient sees the outcome and advice.
pub async fn close(
    state: &AppState,
    doctor: &AuthUser,
    id: &str,
    closing: CloseCase,
) -> Result<(), ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    audit::record_in(&mut tx, audit_event(AuditAction::CaseClosed, doctor, id)).await?;
    let who = owners(&mut tx, id).await?;
    if !who.admits(doctor) {
        return Err(ConsultError::NotFound);
    }
    if !who.status.is_open() {
        return Err(ConsultError::Closed);
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE consultations SET status = 'closed', outcome = $1, final_level = $2, \
         advice = $3, closed_at = $4, updated_at = $4 WHERE id = $5",
    )
    .bind(&closing.outcome)
    .bind(closing.final_level.as_str())
    .bind(&closing.advice)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let mut closed = event(
        LiveEventKind::ConsultationClosed,
        id,
        &who.patient_id,
        Some(&doctor.user_id),
    );
    closed.to_doctors = true;
    publish_in(&mut tx, &closed).await?;
    let emailed = emails::queue(&mut tx, state, Announce::Closed, id, &who.patient_id).await?;
    tx.commit().await?;
    state.events.wake();
    if emailed {
        state.mailer.wake();
    }
    Ok(())
}

/// The whole case for the doctor who claimed it (or reads it through break-glass): the
/// patient's profile, the engine's triage, the pre-consultation summary, the assistant
/// conversation, the thread, the private notes and the patient's earlier consultations.
/// Audited as a case view.
pub async fn case_for_doctor(
    state: &AppState,
    doctor: &AuthUser,
    id: &str,
) -> Result<CaseDetail, ConsultError> {
    let consultation = detail(state, doctor, id).await?;
    let mut conn = state.db.pool().acquire().await?;
    let row = sqlx::query(
        "SELECT c.patient_id, u.name, c.triage_json, c.summary_json, c.conversation_id, \
         c.override_reason, c.doctor_id FROM consultations c \
         JOIN users u ON u.id = c.patient_id WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ConsultError::NotFound)?;
    let patient_id: String = row.try_get(0)?;
    let conversation_id: Option<String> = row.try_get(4)?;
    let holder: Option<String> = row.try_get(6)?;
    let transcript = match &conversation_id {
        Some(conversation) => sqlx::query(
            "SELECT author, body, created_at FROM conversation_messages \
             WHERE conversation_id = $1 ORDER BY seq",
        )
        .bind(conversation)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|m| -> Result<TranscriptLine, ConsultError> {
            let author: String = m.try_get(0)?;
            Ok(TranscriptLine {
                from_patient: author == "patient",
                body: m.try_get(1)?,
                sent_ms: m.try_get(2)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?,
        None => Vec::new(),
    };
    let earlier = sqlx::query(&format!(
        "SELECT {SUMMARY_COLUMNS} FROM consultations c LEFT JOIN users d ON d.id = c.doctor_id \
         WHERE c.patient_id = $1 AND c.id <> $2 ORDER BY c.created_at DESC LIMIT 50"
    ))
    .bind(&patient_id)
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(read_summary)
    .collect::<Result<Vec<_>, _>>()?;
    let notes = super::care::notes(&mut conn, id).await?;
    let shared = attached_documents(&mut conn, id).await?;
    drop(conn);
    let documents = crate::documents::service::list_for_patient(&state.db, &patient_id)
        .await?
        .into_iter()
        .filter(|d| shared.contains(&d.id))
        .collect();
    let labs = crate::documents::service::labs_for_patient(&state.db, &patient_id)
        .await?
        .into_iter()
        .filter(|l| shared.contains(&l.document_id))
        .collect();
    let profile = crate::profile::service::load(&state.db, &patient_id).await?;
    let today = crate::accounts::validate::civil_date(now_ms());
    let triage: String = row.try_get(2)?;
    let summary: String = row.try_get(3)?;
    Ok(CaseDetail {
        consultation,
        mine: holder.as_deref() == Some(doctor.user_id.as_str()),
        notes,
        documents,
        labs,
        transcript,
        override_reason: row.try_get(5)?,
        earlier,
        patient_name: row.try_get(1)?,
        age_years: whole_years(profile.date_of_birth.as_deref(), today),
        sex: profile.sex.map(|s| s.as_str().to_owned()),
        pregnant: profile.pregnant,
        allergies: profile.allergies,
        medications: profile.medications,
        conditions: profile.conditions,
        triage: serde_json::from_str(&triage)?,
        ai_summary: serde_json::from_str(&summary)?,
    })
}

/// The ids of the documents shared with consultation `id`.
async fn attached_documents(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Vec<String>, ConsultError> {
    Ok(sqlx::query_scalar(
        "SELECT document_id FROM consultation_documents WHERE consultation_id = $1",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// Opens a document shared with consultation `id` for the doctor reading the case (its
/// doctor, or one holding a break-glass grant); `NotFound` for anything else. The view is
/// audited as a read of the patient's data.
pub async fn open_case_document(
    state: &AppState,
    doctor: &AuthUser,
    id: &str,
    document_id: &str,
) -> Result<crate::documents::service::OpenDocument, ConsultError> {
    let (who, through_glass) = viewer_access(state, doctor, id).await?;
    let mut conn = state.db.pool().acquire().await?;
    if !attached_documents(&mut conn, id)
        .await?
        .iter()
        .any(|d| d == document_id)
    {
        return Err(ConsultError::NotFound);
    }
    drop(conn);
    let document = crate::documents::service::open_document(state, document_id)
        .await?
        .filter(|d| d.patient_id == who.patient_id)
        .ok_or(ConsultError::NotFound)?;
    let event = AuditEvent::new(AuditAction::DocumentViewed, Outcome::Success)
        .actor(&doctor.user_id, doctor.role.as_str())
        .subject(audit::SUBJECT_USER, &who.patient_id)
        .detail(if through_glass {
            "break_glass"
        } else {
            "case_document"
        });
    audit::record(&state.db, event).await?;
    Ok(document)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_complaint_is_the_first_line_cut_to_size() {
        assert_eq!(complaint_from("  Headache\nsince Monday"), "Headache");
        let long = "a".repeat(MAX_COMPLAINT_CHARS + 10);
        let cut = complaint_from(&long);
        assert_eq!(cut.chars().count(), MAX_COMPLAINT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
