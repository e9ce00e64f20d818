//! Reading and saving the health profile. Every read and write is audited in the same
//! transaction as the data it concerns.

use super::types::{HealthProfile, Sex};
use crate::accounts::session::AuthUser;
use crate::audit::{self, AuditAction, AuditEvent, Outcome, SUBJECT_USER};
use crate::platform::db::now_ms;
use crate::platform::{Db, DbError};
use sqlx::Row;

/// Why the profile could not be read or saved.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("audit: {0}")]
    Audit(#[from] audit::AuditError),
    #[error("a stored list is not valid JSON")]
    Corrupt(#[from] serde_json::Error),
}

impl From<sqlx::Error> for ProfileError {
    fn from(e: sqlx::Error) -> Self {
        ProfileError::Db(e.into())
    }
}

/// The profile of `patient_id`, without auditing: for other features that audit their own
/// access (the triage context, the FHIR export, a doctor's case view).
pub async fn load(db: &Db, patient_id: &str) -> Result<HealthProfile, ProfileError> {
    let row = sqlx::query(
        "SELECT u.date_of_birth, p.sex, p.pregnant, p.allergies, p.medications, p.conditions, \
         p.phone, p.updated_at \
         FROM users u LEFT JOIN health_profiles p ON p.user_id = u.id WHERE u.id = $1",
    )
    .bind(patient_id)
    .fetch_optional(db.pool())
    .await?;
    let Some(row) = row else {
        return Ok(HealthProfile::default());
    };
    let list = |i: usize| -> Result<Vec<String>, ProfileError> {
        let raw: Option<String> = row.try_get(i)?;
        Ok(match raw {
            Some(json) => serde_json::from_str(&json)?,
            None => Vec::new(),
        })
    };
    let sex: Option<String> = row.try_get(1)?;
    let pregnant: Option<i32> = row.try_get(2)?;
    Ok(HealthProfile {
        date_of_birth: row.try_get(0)?,
        sex: sex.as_deref().and_then(Sex::parse),
        pregnant: pregnant.map(|p| p != 0),
        allergies: list(3)?,
        medications: list(4)?,
        conditions: list(5)?,
        phone: row.try_get(6)?,
        updated_at: row.try_get(7)?,
    })
}

/// The caller's own profile; the read is audited.
pub async fn read_own(db: &Db, user: &AuthUser) -> Result<HealthProfile, ProfileError> {
    let profile = load(db, &user.user_id).await?;
    audit::record(
        db,
        AuditEvent::new(AuditAction::ProfileRead, Outcome::Success)
            .actor(&user.user_id, user.role.as_str())
            .subject(SUBJECT_USER, &user.user_id),
    )
    .await?;
    Ok(profile)
}

/// Saves a validated profile for the caller; returns it as stored.
pub async fn save_own(
    db: &Db,
    user: &AuthUser,
    mut profile: HealthProfile,
) -> Result<HealthProfile, ProfileError> {
    let now = now_ms();
    let mut tx = db.pool().begin().await?;
    sqlx::query("UPDATE users SET date_of_birth = $1, updated_at = $2 WHERE id = $3")
        .bind(profile.date_of_birth.as_deref())
        .bind(now)
        .bind(&user.user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO health_profiles \
         (user_id, sex, pregnant, allergies, medications, conditions, phone, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (user_id) DO UPDATE SET sex = excluded.sex, pregnant = excluded.pregnant, \
         allergies = excluded.allergies, medications = excluded.medications, \
         conditions = excluded.conditions, phone = excluded.phone, updated_at = excluded.updated_at",
    )
    .bind(&user.user_id)
    .bind(profile.sex.map(Sex::as_str))
    .bind(profile.pregnant.map(i32::from))
    .bind(serde_json::to_string(&profile.allergies)?)
    .bind(serde_json::to_string(&profile.medications)?)
    .bind(serde_json::to_string(&profile.conditions)?)
    .bind(profile.phone.as_deref())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    audit::record_in(
        &mut tx,
        AuditEvent::new(AuditAction::ProfileUpdated, Outcome::Success)
            .actor(&user.user_id, user.role.as_str())
            .subject(SUBJECT_USER, &user.user_id),
    )
    .await?;
    tx.commit().await?;
    profile.updated_at = Some(now);
    Ok(profile)
}
