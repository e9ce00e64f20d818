//! The consultations' server functions. Patients request, read and write in their own
//! consultations; doctors read the queue, claim, read and write in the cases they hold, and
//! close them. Roles are checked here (and by the access table before); ownership in the
//! service.

use super::types::{
    BreakGlassEntry, CaseDetail, ConsultationDetail, ConsultationSummary, DoctorOption, HeldCase,
    QueueItem,
};
use crate::error::AppError;
use leptos::prelude::*;

/// Opens a consultation, from an assistant conversation or from the note alone; returns its
/// id. `request_key` (made by the page) makes a double submit one consultation.
#[server(prefix = "/api", endpoint = "consultations/request")]
pub async fn request_consultation(
    conversation_id: Option<String>,
    note: String,
    request_key: String,
    #[server(default)] document_ids: Vec<String>,
) -> Result<String, AppError> {
    use super::{service, validate};
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    let conversation_id = conversation_id
        .filter(|c| !c.trim().is_empty())
        .map(|c| validate::id(&c))
        .transpose()
        .map_err(reject)?;
    let note = validate::text("note", &note, conversation_id.is_none()).map_err(reject)?;
    let request_key = validate::client_key("request_key", &request_key).map_err(reject)?;
    if document_ids.len() > validate::MAX_DOCUMENTS {
        return Err(reject(AppError::invalid(
            "document_ids",
            "consult.too_many_documents",
        )));
    }
    let document_ids = document_ids
        .iter()
        .map(|d| validate::id(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(reject)?;
    let new = service::NewConsultation {
        conversation_id,
        note,
        request_key,
        document_ids,
    };
    service::request(&state, &user, new)
        .await
        .map_err(|e| e.into_app_error("consultations.request"))
}

/// The caller's consultations, newest first.
#[server(prefix = "/api", endpoint = "consultations/list")]
pub async fn my_consultations() -> Result<Vec<ConsultationSummary>, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::app_state;
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    super::service::list_own(&state, &user)
        .await
        .map_err(|e| e.into_app_error("consultations.list"))
}

/// One of the caller's consultations with its thread.
#[server(prefix = "/api", endpoint = "consultations/detail")]
pub async fn consultation(id: String) -> Result<ConsultationDetail, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    let id = super::validate::id(&id).map_err(reject)?;
    super::service::detail(&state, &user, &id)
        .await
        .map_err(|e| e.into_app_error("consultations.detail"))
}

/// Writes a message in a consultation the caller takes part in (its patient, or the doctor
/// holding it). `client_key` makes a resent message one message.
#[server(prefix = "/api", endpoint = "consultations/send")]
pub async fn send_message(id: String, body: String, client_key: String) -> Result<(), AppError> {
    use super::validate;
    use crate::access;
    use crate::platform::{app_state, reject};
    let user = access::require(access::PATIENT_OR_DOCTOR)?;
    let state = app_state()?;
    let id = validate::id(&id).map_err(reject)?;
    let body = validate::text("body", &body, true).map_err(reject)?;
    let client_key = validate::client_key("client_key", &client_key).map_err(reject)?;
    super::service::post_message(&state, &user, &id, &body, &client_key)
        .await
        .map(|_| ())
        .map_err(|e| e.into_app_error("consultations.send"))
}

/// The doctors' queue: every open consultation, most urgent and longest waiting first.
#[server(prefix = "/api", endpoint = "consultations/queue")]
pub async fn queue() -> Result<Vec<QueueItem>, AppError> {
    use crate::access::{self, DOCTOR};
    use crate::platform::app_state;
    let user = access::require(DOCTOR)?;
    let state = app_state()?;
    super::service::queue(&state, &user)
        .await
        .map_err(|e| e.into_app_error("consultations.queue"))
}

/// Claims a waiting consultation for the calling doctor; a 409 tells the slower of two.
#[server(prefix = "/api", endpoint = "consultations/claim")]
pub async fn claim(id: String) -> Result<(), AppError> {
    use crate::access::{self, DOCTOR};
    use crate::platform::{app_state, reject};
    let user = access::require(DOCTOR)?;
    let state = app_state()?;
    let id = super::validate::id(&id).map_err(reject)?;
    super::service::claim(&state, &user, &id)
        .await
        .map_err(|e| e.into_app_error("consultations.claim"))
}

/// Puts a claimed consultation back in the queue (its doctor, or an admin for a stale claim).
#[server(prefix = "/api", endpoint = "consultations/release")]
pub async fn release(id: String) -> Result<(), AppError> {
    use crate::access;
    use crate::platform::{app_state, reject};
    let user = access::require(access::DOCTOR_OR_ADMIN)?;
    let state = app_state()?;
    let id = super::validate::id(&id).map_err(reject)?;
    super::service::release(&state, &user, &id)
        .await
        .map_err(|e| e.into_app_error("consultations.release"))
}

/// The whole case, for the doctor holding it.
#[server(prefix = "/api", endpoint = "consultations/case")]
pub async fn case(id: String) -> Result<CaseDetail, AppError> {
    use crate::access::{self, DOCTOR};
    use crate::platform::{app_state, reject};
    let user = access::require(DOCTOR)?;
    let state = app_state()?;
    let id = super::validate::id(&id).map_err(reject)?;
    super::service::case_for_doctor(&state, &user, &id)
        .await
        .map_err(|e| e.into_app_error("consultations.case"))
}

/// Closes the calling doctor's consultation with an outcome, a final level and advice.
#[server(prefix = "/api", endpoint = "consultations/close")]
pub async fn close(
    id: String,
    outcome: String,
    final_level: String,
    advice: String,
) -> Result<(), AppError> {
    use super::validate;
    use crate::access::{self, DOCTOR};
    use crate::platform::{app_state, reject};
    let user = access::require(DOCTOR)?;
    let state = app_state()?;
    let id = validate::id(&id).map_err(reject)?;
    let closing = super::service::CloseCase {
        outcome: validate::text("outcome", &outcome, true).map_err(reject)?,
        final_level: validate::level("final_level", &final_level).map_err(reject)?,
        advice: validate::text("advice", &advice, false).map_err(reject)?,
    };
    super::service::close(&state, &user, &id, closing)
        .await
        .map_err(|e| e.into_app_error("consultations.close"))
}

/// Adds a private note to the calling doctor's case.
#[server(prefix = "/api", endpoint = "consultations/note")]
pub async fn add_note(id: String, body: String) -> Result<(), AppError> {
    use crate::access::{self, DOCTOR};
    use crate::platform::{app_state, reject};
    let user = access::require(DOCTOR)?;
    let state = app_state()?;
    let id = super::validate::id(&id).map_err(reject)?;
    let body = super::validate::text("note", &body, true).map_err(reject)?;
    super::care::add_note(&state, &user, &id, &body)
        .await
        .map(|_| ())
        .map_err(|e| e.into_app_error("consultations.note"))
}

/// Overrides the triage level of the calling doctor's case, with a reason.
#[server(prefix = "/api", endpoint = "consultations/override")]
pub async fn override_level(id: String, level: String, reason: String) -> Result<(), AppError> {
    use super::validate;
    use crate::access::{self, DOCTOR};
    use crate::platform::{app_state, reject};
    let user = access::require(DOCTOR)?;
    let state = app_state()?;
    let id = validate::id(&id).map_err(reject)?;
    let level = validate::level("level", &level).map_err(reject)?;
    let reason = validate::text("reason", &reason, true).map_err(reject)?;
    super::care::override_level(&state, &user, &id, level, &reason)
        .await
        .map_err(|e| e.into_app_error("consultations.override"))
}

/// The doctors a case can be handed to.
#[server(prefix = "/api", endpoint = "consultations/doctors")]
pub async fn doctors() -> Result<Vec<DoctorOption>, AppError> {
    use crate::access;
    use crate::platform::app_state;
    access::require(access::DOCTOR_OR_ADMIN)?;
    let state = app_state()?;
    super::care::doctors(&state)
        .await
        .map_err(|e| e.into_app_error("consultations.doctors"))
}

/// Hands a case to another doctor (its doctor, or an admin).
#[server(prefix = "/api", endpoint = "consultations/reassign")]
pub async fn reassign(id: String, doctor_id: String) -> Result<(), AppError> {
    use super::validate;
    use crate::access;
    use crate::platform::{app_state, reject};
    let user = access::require(access::DOCTOR_OR_ADMIN)?;
    let state = app_state()?;
    let id = validate::id(&id).map_err(reject)?;
    let doctor_id = validate::id(&doctor_id)
        .map_err(|_| reject(AppError::invalid("doctor_id", "consult.doctor")))?;
    super::care::reassign(&state, &user, &id, &doctor_id)
        .await
        .map_err(|e| e.into_app_error("consultations.reassign"))
}

/// Opens a case that is not the calling doctor's, for an hour, for a stated reason (kept and
/// shown to admins).
#[server(prefix = "/api", endpoint = "consultations/break_glass")]
pub async fn break_glass(id: String, reason: String) -> Result<(), AppError> {
    use super::validate;
    use crate::access::{self, DOCTOR};
    use crate::platform::{app_state, reject};
    let user = access::require(DOCTOR)?;
    let state = app_state()?;
    let id = validate::id(&id).map_err(reject)?;
    let reason = validate::reason("reason", &reason).map_err(reject)?;
    super::care::break_glass(&state, &user, &id, &reason)
        .await
        .map_err(|e| e.into_app_error("consultations.break_glass"))
}

/// Every break-glass grant with its reason, for admins.
#[server(prefix = "/api", endpoint = "consultations/break_glass_log")]
pub async fn break_glass_log() -> Result<Vec<BreakGlassEntry>, AppError> {
    use crate::access::{self, ADMIN};
    use crate::platform::app_state;
    let user = access::require(ADMIN)?;
    let state = app_state()?;
    super::care::break_glass_log(&state, &user)
        .await
        .map_err(|e| e.into_app_error("consultations.break_glass_log"))
}

/// Tells the other side of the case that the caller is writing.
#[server(prefix = "/api", endpoint = "consultations/typing")]
pub async fn typing(id: String) -> Result<(), AppError> {
    use crate::access;
    use crate::platform::{app_state, reject};
    let user = access::require(access::PATIENT_OR_DOCTOR)?;
    let state = app_state()?;
    let id = super::validate::id(&id).map_err(reject)?;
    super::care::typing(&state, &user, &id)
        .await
        .map_err(|e| e.into_app_error("consultations.typing"))
}

/// Every case a doctor holds, for the admins (to release a stale claim).
#[server(prefix = "/api", endpoint = "consultations/held")]
pub async fn held_cases() -> Result<Vec<HeldCase>, AppError> {
    use crate::access::{self, ADMIN};
    use crate::platform::app_state;
    access::require(ADMIN)?;
    let state = app_state()?;
    super::care::held(&state)
        .await
        .map_err(|e| e.into_app_error("consultations.held"))
}
