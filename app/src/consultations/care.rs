//! What only doctors do with a case: private clinical notes, overriding the triage level with a
//! reason, handing the case to a colleague, "break-glass" access to a case that is not theirs,
//! and the typing signal. Admins see every break-glass grant with its reason.
//!
//! Same rules as `service`: ownership decided here, every change audited and announced in its
//! own transaction, nothing logged but ids and causes.

use super::service::{ConsultError, audit_event, new_id, owners};
use super::types::{BreakGlassEntry, CareNote, DoctorOption, HeldCase, Status};
use crate::accounts::session::AuthUser;
use crate::accounts::types::Role;
use crate::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::events::LiveEventKind;
use crate::events::hub::{NewEvent, publish_in};
use crate::platform::AppState;
use crate::platform::db::now_ms;
use sqlx::{AnyConnection, Row};
use tabibu_ai::TriageLevel;

/// How long a break-glass grant lasts.
pub const BREAK_GLASS_MS: i64 = 60 * 60 * 1000;

/// Whether `doctor_id` holds a live break-glass grant for consultation `id`.
pub async fn has_break_glass(
    conn: &mut AnyConnection,
    doctor_id: &str,
    id: &str,
) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM break_glass_grants WHERE doctor_id = $1 AND consultation_id = $2 \
         AND expires_at > $3 LIMIT 1",
    )
    .bind(doctor_id)
    .bind(id)
    .bind(now_ms())
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Adds a private note to the doctor's own case. The patient never sees notes.
pub async fn add_note(
    state: &AppState,
    doctor: &AuthUser,
    id: &str,
    body: &str,
) -> Result<String, ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    audit::record_in(&mut tx, audit_event(AuditAction::CaseNoteAdded, doctor, id)).await?;
    let who = owners(&mut tx, id).await?;
    if !who.admits(doctor) {
        return Err(ConsultError::NotFound);
    }
    let note_id = new_id();
    sqlx::query(
        "INSERT INTO consultation_notes (id, consultation_id, doctor_id, body, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&note_id)
    .bind(id)
    .bind(&doctor.user_id)
    .bind(body)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    // Only the doctor's own pages hear of it: a note is never the patient's business.
    let event = NewEvent {
        kind: LiveEventKind::ConsultationUpdated,
        consultation_id: Some(id.to_owned()),
        patient_id: None,
        doctor_id: Some(doctor.user_id.clone()),
        to_doctors: false,
    };
    publish_in(&mut tx, &event).await?;
    tx.commit().await?;
    state.events.wake();
    Ok(note_id)
}

/// The notes of a case, oldest first: for the case view, whose read is audited there.
pub async fn notes(conn: &mut AnyConnection, id: &str) -> Result<Vec<CareNote>, ConsultError> {
    let rows = sqlx::query(
        "SELECT n.id, d.name, n.body, n.created_at FROM consultation_notes n \
         LEFT JOIN users d ON d.id = n.doctor_id WHERE n.consultation_id = $1 \
         ORDER BY n.created_at, n.id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CareNote {
                id: r.try_get(0)?,
                author_name: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                body: r.try_get(2)?,
                created_ms: r.try_get(3)?,
            })
        })
        .collect()
}

/// Sets the case's triage level (the queue's order) to `level`, saying why. The engine's own
/// result stays as it was, for the record.
pub async fn override_level(
    state: &AppState,
    doctor: &AuthUser,
    id: &str,
    level: TriageLevel,
    reason: &str,
) -> Result<(), ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    audit::record_in(
        &mut tx,
        audit_event(AuditAction::CaseLevelOverridden, doctor, id),
    )
    .await?;
    let who = owners(&mut tx, id).await?;
    if !who.admits(doctor) {
        return Err(ConsultError::NotFound);
    }
    if !who.status.is_open() {
        return Err(ConsultError::Closed);
    }
    sqlx::query(
        "UPDATE consultations SET triage_level = $1, override_reason = $2, overridden_by = $3, \
         updated_at = $4 WHERE id = $5",
    )
    .bind(level.as_str())
    .bind(reason)
    .bind(&doctor.user_id)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let event = NewEvent {
        kind: LiveEventKind::ConsultationUpdated,
        consultation_id: Some(id.to_owned()),
        patient_id: Some(who.patient_id),
        doctor_id: who.doctor_id,
        to_doctors: true,
    };
    publish_in(&mut tx, &event).await?;
    tx.commit().await?;
    state.events.wake();
    Ok(())
}

/// The doctors a case can be handed to: active doctor accounts, by name.
pub async fn doctors(state: &AppState) -> Result<Vec<DoctorOption>, ConsultError> {
    let rows = sqlx::query(
        "SELECT id, name FROM users WHERE role = 'doctor' AND status = 'active' ORDER BY name",
    )
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DoctorOption {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
            })
        })
        .collect()
}

/// Hands an open case to another doctor: by the doctor holding it, or by an admin.
pub async fn reassign(
    state: &AppState,
    user: &AuthUser,
    id: &str,
    to_doctor: &str,
) -> Result<(), ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    audit::record_in(&mut tx, audit_event(AuditAction::CaseReassigned, user, id)).await?;
    let who = owners(&mut tx, id).await?;
    if user.role != Role::Admin && !who.admits(user) {
        return Err(ConsultError::NotFound);
    }
    if !who.status.is_open() {
        return Err(ConsultError::Closed);
    }
    let target: Option<String> = sqlx::query_scalar(
        "SELECT id FROM users WHERE id = $1 AND role = 'doctor' AND status = 'active'",
    )
    .bind(to_doctor)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(target) = target else {
        return Err(ConsultError::WrongState);
    };
    let now = now_ms();
    let status = if who.status == Status::Waiting {
        "claimed"
    } else {
        who.status.as_str()
    };
    sqlx::query(
        "UPDATE consultations SET doctor_id = $1, status = $2, claimed_at = $3, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(&target)
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    // The new doctor, the patient and the queue are told; so is the doctor who let it go.
    for doctor in [Some(target.clone()), who.doctor_id.clone()]
        .into_iter()
        .flatten()
    {
        let event = NewEvent {
            kind: LiveEventKind::ConsultationClaimed,
            consultation_id: Some(id.to_owned()),
            patient_id: (doctor == target).then(|| who.patient_id.clone()),
            doctor_id: Some(doctor.clone()),
            to_doctors: doctor == target,
        };
        publish_in(&mut tx, &event).await?;
    }
    tx.commit().await?;
    state.events.wake();
    Ok(())
}

/// Opens a case that is not the doctor's for [`BREAK_GLASS_MS`], for a reason that is kept
/// and shown to admins. Reading is all it allows.
pub async fn break_glass(
    state: &AppState,
    doctor: &AuthUser,
    id: &str,
    reason: &str,
) -> Result<(), ConsultError> {
    let mut tx = state.db.pool().begin().await?;
    audit::record_in(&mut tx, audit_event(AuditAction::BreakGlass, doctor, id)).await?;
    owners(&mut tx, id).await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO break_glass_grants (id, consultation_id, doctor_id, reason, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(new_id())
    .bind(id)
    .bind(&doctor.user_id)
    .bind(reason)
    .bind(now)
    .bind(now + BREAK_GLASS_MS)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Every break-glass grant, newest first, for the admins' review. The read is audited.
pub async fn break_glass_log(
    state: &AppState,
    admin: &AuthUser,
) -> Result<Vec<BreakGlassEntry>, ConsultError> {
    let rows = sqlx::query(
        "SELECT g.consultation_id, d.name, g.reason, g.created_at, g.expires_at \
         FROM break_glass_grants g LEFT JOIN users d ON d.id = g.doctor_id \
         ORDER BY g.created_at DESC LIMIT 500",
    )
    .fetch_all(state.db.pool())
    .await?;
    let list = rows
        .iter()
        .map(|r| -> Result<BreakGlassEntry, ConsultError> {
            Ok(BreakGlassEntry {
                consultation_id: r.try_get(0)?,
                doctor_name: r.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                reason: r.try_get(2)?,
                created_ms: r.try_get(3)?,
                expires_ms: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    audit::record(
        &state.db,
        AuditEvent::new(AuditAction::BreakGlassReviewed, Outcome::Success)
            .actor(&admin.user_id, admin.role.as_str()),
    )
    .await?;
    Ok(list)
}

/// Tells the other side of the case that `user` is writing. Not stored, not audited.
pub async fn typing(state: &AppState, user: &AuthUser, id: &str) -> Result<(), ConsultError> {
    let mut conn = state.db.pool().acquire().await?;
    let who = owners(&mut conn, id).await?;
    if !who.admits(user) || !who.status.is_open() {
        return Err(ConsultError::NotFound);
    }
    let (patient, doctor) = match user.role {
        Role::Doctor => (Some(who.patient_id), None),
        _ => (None, who.doctor_id),
    };
    state.events.announce(&NewEvent {
        kind: LiveEventKind::ConsultationTyping,
        consultation_id: Some(id.to_owned()),
        patient_id: patient,
        doctor_id: doctor,
        to_doctors: false,
    });
    Ok(())
}

/// Every case a doctor holds, longest held first, for the admins. Nothing about the patient.
pub async fn held(state: &AppState) -> Result<Vec<HeldCase>, ConsultError> {
    let rows = sqlx::query(
        "SELECT c.id, c.status, c.triage_level, d.name, c.claimed_at, c.updated_at \
         FROM consultations c JOIN users d ON d.id = c.doctor_id \
         WHERE c.status IN ('claimed', 'replied') ORDER BY c.claimed_at LIMIT 500",
    )
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get(1)?;
            let level: String = r.try_get(2)?;
            Ok(HeldCase {
                id: r.try_get(0)?,
                status: Status::parse(&status).unwrap_or(Status::Claimed),
                level: TriageLevel::parse(&level).unwrap_or(TriageLevel::Urgent),
                doctor_name: r.try_get(3)?,
                claimed_ms: r.try_get::<Option<i64>, _>(4)?.unwrap_or_default(),
                updated_ms: r.try_get(5)?,
            })
        })
        .collect()
}
