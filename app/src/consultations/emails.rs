//! The emails a consultation sends its patient: a doctor took it up, the doctor wrote, it was
//! closed. Each is queued in the transaction of the change it announces, so it exists
//! exactly when the change does.
//!
//! An email here says what happened and links to the consultation's page, nothing else: no
//! doctor's name, no word of the thread, no urgency (see `notifications`). It goes in the
//! language stored on the patient's account.

use super::service::ConsultError;
use crate::notifications::EmailTemplate;
use crate::notifications::outbox::{self, Email, OutboxError};
use crate::platform::AppState;
use sqlx::{AnyConnection, Row};

/// What the email announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Announce {
    Claimed,
    /// Coalesced: while one such email for this consultation is still unsent, a further reply
    /// adds none (a burst of messages is one email).
    DoctorReplied,
    Closed,
}

/// Queues the email announcing `what` to the patient of consultation `id`, inside `tx`.
/// Returns whether an email was queued.
///
/// An address or stored name that the outbox refuses is logged (by id) and skipped: the
/// doctor's change goes ahead without its email rather than failing over it.
pub(super) async fn queue(
    tx: &mut AnyConnection,
    state: &AppState,
    what: Announce,
    id: &str,
    patient_id: &str,
) -> Result<bool, ConsultError> {
    let row =
        sqlx::query("SELECT email, name, locale FROM users WHERE id = $1 AND status = 'active'")
            .bind(patient_id)
            .fetch_optional(&mut *tx)
            .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let template = match what {
        Announce::Claimed => EmailTemplate::ConsultationClaimed,
        Announce::DoctorReplied => EmailTemplate::DoctorReplied,
        Announce::Closed => EmailTemplate::ConsultationClosed,
    };
    let email = Email {
        template,
        locale: row.try_get("locale")?,
        to: row.try_get("email")?,
        params: serde_json::json!({
            "name": row.try_get::<String, _>("name")?,
            "link": format!("{}/consultations/{id}", state.config.public_url),
        }),
    };
    let queued = match what {
        Announce::DoctorReplied => {
            let key = format!("{}:{id}", template.code());
            outbox::enqueue_coalesced(tx, email, &key)
                .await
                .map(|queued| queued.is_some())
        }
        _ => outbox::enqueue(tx, email).await.map(|_| true),
    };
    match queued {
        Ok(queued) => Ok(queued),
        Err(OutboxError::Db(err)) => Err(err.into()),
        Err(err) => {
            tracing::warn!(consultation_id = %id, template = template.code(), cause = %err, "consultation email not queued");
            Ok(false)
        }
    }
}
