//! The patient's own record: gathered for the FHIR export and the timeline, and erased when
//! they delete their account.
//!
//! Reading goes through each feature's own tables; every export is audited. Deleting an
//! account removes the person and everything that is theirs in one transaction (the
//! database's `ON DELETE CASCADE` reaches the health profile, sessions, links, consents,
//! conversations, documents and lab values; document files are removed after it commits), and pseudonymises them in the audit log, which is kept: its entries stay
//! and the chain still verifies, but no longer name them. Nothing here logs record content.

use super::fhir::{
    self, ConsultationInfo, ConversationInfo, DoctorInfo, DocumentInfo, LabValue, MessageInfo,
    PatientInfo, PatientRecord,
};
use super::types::{TimelineItem, TimelineKind};
use crate::accounts::service::{AccountError, verify_own_password};
use crate::accounts::session::AuthUser;
use crate::audit::{self, AuditAction, AuditEvent, Outcome, SUBJECT_USER};
use crate::platform::AppState;
use crate::platform::db::now_ms;
use rand::RngCore;
use secrecy::SecretString;
use sqlx::{Acquire, Row};

/// Most timeline items shown at once.
pub const TIMELINE_LIMIT: i64 = 200;

/// Why the record could not be read. `Display` names the step, never content.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("profile: {0}")]
    Profile(#[from] crate::profile::service::ProfileError),
    #[error("documents: {0}")]
    Documents(#[from] crate::documents::service::DocumentsError),
    #[error("the account no longer exists")]
    Gone,
}

fn audited(action: AuditAction, user: &AuthUser) -> AuditEvent {
    AuditEvent::new(action, Outcome::Success)
        .actor(&user.user_id, user.role.as_str())
        .subject(SUBJECT_USER, &user.user_id)
}

/// Everything Tabibu holds about `patient_id`, for the export.
pub async fn gather(state: &AppState, patient_id: &str) -> Result<PatientRecord, RecordsError> {
    let db = state.db.pool();
    let user = sqlx::query("SELECT name, email FROM users WHERE id = $1")
        .bind(patient_id)
        .fetch_optional(db)
        .await?
        .ok_or(RecordsError::Gone)?;
    let profile = crate::profile::service::load(&state.db, patient_id).await?;
    let mut conversations = Vec::new();
    let rows = sqlx::query(
        "SELECT id, triage_level, created_at, updated_at FROM conversations \
         WHERE patient_id = $1 ORDER BY created_at",
    )
    .bind(patient_id)
    .fetch_all(db)
    .await?;
    for row in rows {
        let id: String = row.try_get(0)?;
        let messages = thread(
            db,
            "SELECT id, author, body, created_at FROM conversation_messages \
             WHERE conversation_id = $1 ORDER BY seq",
            &id,
        )
        .await?;
        conversations.push(ConversationInfo {
            id,
            triage_level: row.try_get(1)?,
            created_ms: row.try_get(2)?,
            updated_ms: row.try_get(3)?,
            messages,
        });
    }
    let documents = crate::documents::service::list_for_patient(&state.db, patient_id)
        .await?
        .into_iter()
        .map(|d| DocumentInfo {
            id: d.id,
            file_name: d.filename,
            content_type: d.content_type,
            size_bytes: d.size_bytes,
            sha256_hex: d.sha256,
            created_ms: d.created_at,
        })
        .collect();
    let lab_values = crate::documents::service::labs_for_patient(&state.db, patient_id)
        .await?
        .into_iter()
        .map(|l| LabValue {
            id: l.id,
            document_id: l.document_id,
            test: l.test_name,
            value: l.value,
            unit: l.unit,
            low: l.ref_low,
            high: l.ref_high,
            flag: l.flag.map(|f| f.as_str().to_owned()),
            observed_ms: l.document_at,
        })
        .collect();
    Ok(PatientRecord {
        patient: PatientInfo {
            id: patient_id.to_owned(),
            name: user.try_get(0)?,
            email: user.try_get(1)?,
            date_of_birth: profile.date_of_birth.clone(),
            sex: profile.sex.map(|s| s.as_str().to_owned()),
            phone: profile.phone.clone(),
        },
        conditions: profile.conditions,
        allergies: profile.allergies,
        medications: profile.medications,
        profile_updated_ms: profile.updated_at,
        conversations,
        consultations: gather_consultations(state, patient_id).await?,
        documents,
        lab_values,
    })
}

/// The messages `sql` selects for `id` (columns: id, author, body, time), oldest first; the
/// author `patient` is the patient, anyone else the other side.
async fn thread(db: &sqlx::AnyPool, sql: &str, id: &str) -> Result<Vec<MessageInfo>, sqlx::Error> {
    sqlx::query(sql)
        .bind(id)
        .fetch_all(db)
        .await?
        .into_iter()
        .map(|m| {
            let author: String = m.try_get(1)?;
            Ok(MessageInfo {
                id: m.try_get(0)?,
                from_patient: author == "patient",
                body: m.try_get(2)?,
                sent_ms: m.try_get(3)?,
            })
        })
        .collect()
}

/// The patient's consultations with their threads, for the export.
async fn gather_consultations(
    state: &AppState,
    patient_id: &str,
) -> Result<Vec<ConsultationInfo>, RecordsError> {
    let db = state.db.pool();
    let rows = sqlx::query(
        "SELECT c.id, c.status, c.chief_complaint, c.triage_level, c.created_at, c.closed_at, \
         c.doctor_id, d.name, c.outcome, c.advice FROM consultations c \
         LEFT JOIN users d ON d.id = c.doctor_id WHERE c.patient_id = $1 ORDER BY c.created_at",
    )
    .bind(patient_id)
    .fetch_all(db)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get(0)?;
        let messages = thread(
            db,
            "SELECT id, author_role, body, created_at FROM consultation_messages \
             WHERE consultation_id = $1 ORDER BY seq",
            &id,
        )
        .await?;
        let doctor_id: Option<String> = row.try_get(6)?;
        let doctor_name: Option<String> = row.try_get(7)?;
        let outcome: Option<String> = row.try_get(8)?;
        let advice: Option<String> = row.try_get(9)?;
        out.push(ConsultationInfo {
            id,
            status: row.try_get(1)?,
            reason: row.try_get(2)?,
            triage_level: row.try_get(3)?,
            created_ms: row.try_get(4)?,
            closed_ms: row.try_get(5)?,
            doctor: doctor_id.map(|id| DoctorInfo {
                id,
                name: doctor_name.unwrap_or_default(),
            }),
            outcome: match (outcome, advice) {
                (Some(o), Some(a)) if !a.is_empty() => Some(format!("{o}\n\n{a}")),
                (o, _) => o,
            },
            messages,
        });
    }
    Ok(out)
}

/// The caller's whole record as a FHIR R4 bundle; the export is audited.
pub async fn export_own(
    state: &AppState,
    user: &AuthUser,
) -> Result<serde_json::Value, RecordsError> {
    let record = gather(state, &user.user_id).await?;
    let bundle = fhir::bundle(&record, &state.config.public_url, now_ms());
    audit::record(&state.db, audited(AuditAction::RecordExported, user)).await?;
    Ok(bundle)
}

/// The caller's history, newest first: conversations and their triage results, consultations,
/// payments and documents.
pub async fn timeline(
    state: &AppState,
    user: &AuthUser,
) -> Result<Vec<TimelineItem>, RecordsError> {
    let db = state.db.pool();
    let mut items = Vec::new();
    let rows = sqlx::query(
        "SELECT id, triage_level, created_at, updated_at FROM conversations \
         WHERE patient_id = $1 ORDER BY updated_at DESC LIMIT $2",
    )
    .bind(&user.user_id)
    .bind(TIMELINE_LIMIT)
    .fetch_all(db)
    .await?;
    for row in rows {
        let id: String = row.try_get(0)?;
        let level: Option<String> = row.try_get(1)?;
        let created: i64 = row.try_get(2)?;
        let updated: i64 = row.try_get(3)?;
        if let Some(level) = level {
            items.push(TimelineItem {
                kind: TimelineKind::TriageResult,
                at_ms: updated,
                link: format!("/assistant/{id}"),
                detail: Some(level),
            });
        }
        items.push(TimelineItem {
            kind: TimelineKind::Conversation,
            at_ms: created,
            link: format!("/assistant/{id}"),
            detail: None,
        });
    }
    let consultations = sqlx::query(
        "SELECT id, status, created_at FROM consultations WHERE patient_id = $1 \
         ORDER BY created_at DESC LIMIT $2",
    )
    .bind(&user.user_id)
    .bind(TIMELINE_LIMIT)
    .fetch_all(db)
    .await?;
    for row in consultations {
        let id: String = row.try_get(0)?;
        items.push(TimelineItem {
            kind: TimelineKind::Consultation,
            at_ms: row.try_get(2)?,
            link: format!("/consultations/{id}"),
            detail: Some(row.try_get(1)?),
        });
    }
    let payments = sqlx::query(
        "SELECT consultation_id, state, created_at FROM payments WHERE patient_id = $1 \
         ORDER BY created_at DESC LIMIT $2",
    )
    .bind(&user.user_id)
    .bind(TIMELINE_LIMIT)
    .fetch_all(db)
    .await?;
    for row in payments {
        let consultation: Option<String> = row.try_get(0)?;
        items.push(TimelineItem {
            kind: TimelineKind::Payment,
            at_ms: row.try_get(2)?,
            link: consultation.map_or_else(
                || "/consultations".to_owned(),
                |id| format!("/consultations/{id}"),
            ),
            detail: Some(row.try_get(1)?),
        });
    }
    for document in crate::documents::service::list_for_patient(&state.db, &user.user_id).await? {
        items.push(TimelineItem {
            kind: TimelineKind::Document,
            at_ms: document.created_at,
            link: "/documents".to_owned(),
            detail: None,
        });
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.at_ms));
    items.truncate(usize::try_from(TIMELINE_LIMIT).unwrap_or(usize::MAX));
    audit::record(&state.db, audited(AuditAction::TimelineRead, user)).await?;
    Ok(items)
}

/// Deletes the caller's account and everything that is theirs, after checking their password
/// again. The audit log keeps its entries under a pseudonym.
pub async fn delete_account(
    state: &AppState,
    user: &AuthUser,
    password: &SecretString,
) -> Result<(), AccountError> {
    verify_own_password(state, user, password).await?;
    let mut bytes = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut bytes);
    let pseudonym = format!("deleted-{}", hex::encode(bytes));
    let mut conn = state.db.pool().acquire().await?;
    let mut tx = conn.begin().await?;
    // Recorded first, under the person's id, so that it is pseudonymised with the rest.
    audit::record_in(&mut tx, audited(AuditAction::AccountDeleted, user)).await?;
    audit::pseudonymise_in(&mut tx, SUBJECT_USER, &user.user_id, &pseudonym).await?;
    // Emails waiting for (or already sent to) them hold their address and name.
    sqlx::query("DELETE FROM email_outbox WHERE to_address = $1")
        .bind(&user.email)
        .execute(&mut *tx)
        .await?;
    // Payments are financial records and stay, but without the payer's number: in the row
    // and in M-Pesa's raw callback (the receipt number and amount stay in the row).
    sqlx::query(
        "UPDATE mpesa_callbacks SET body = '{}' \
         WHERE payment_id IN (SELECT id FROM payments WHERE patient_id = $1)",
    )
    .bind(&user.user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE payments SET phone = NULL WHERE patient_id = $1")
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await?;
    // The rows of their documents go with the account (cascade); the files are removed once
    // that is committed, so a failed deletion never leaves rows pointing at missing files.
    let files = crate::documents::service::storage_keys_in(&mut tx, &user.user_id).await?;
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    crate::documents::service::remove_files(&state.documents, &files).await;
    Ok(())
}
