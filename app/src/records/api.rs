//! The record's server functions: the caller's timeline, and deleting their account. The
//! FHIR download is a plain endpoint (`http.rs`) so that the browser saves it as a file.

use super::types::TimelineItem;
use crate::error::AppError;
use leptos::prelude::*;

/// The caller's history, newest first.
#[server(prefix = "/api", endpoint = "records/timeline")]
pub async fn timeline() -> Result<Vec<TimelineItem>, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    super::service::timeline(&state, &user)
        .await
        .map_err(|e| internal_error("records.timeline", &e))
}

/// Deletes the caller's account and all their data; `password` confirms it is them, and
/// `confirm` must be the word the page asks for.
#[server(prefix = "/api", endpoint = "records/delete_account")]
pub async fn delete_account(password: String, confirm: String) -> Result<(), AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    if !super::strings::is_confirmation(&confirm) {
        return Err(reject(AppError::invalid("confirm", "delete.confirm_word")));
    }
    super::service::delete_account(&state, &user, &secrecy::SecretString::from(password))
        .await
        .map_err(|e| e.into_app_error("records.delete_account"))?;
    let secure = state.config.secure_cookies();
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(value) =
            http::HeaderValue::from_str(&crate::accounts::session::clear_cookie(secure))
    {
        response.append_header(http::header::SET_COOKIE, value);
    }
    Ok(())
}
