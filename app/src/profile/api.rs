//! The profile's server functions: patients read and save their own profile, nobody else's.

use super::types::HealthProfile;
use crate::error::AppError;
use leptos::prelude::*;

/// The caller's health profile.
#[server(prefix = "/api", endpoint = "profile/get")]
pub async fn get_profile() -> Result<HealthProfile, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    super::service::read_own(&state.db, &user)
        .await
        .map_err(|e| internal_error("profile.read", &e))
}

/// Saves the caller's health profile; every field as the form posts it.
#[server(prefix = "/api", endpoint = "profile/save")]
pub async fn save_profile(
    date_of_birth: String,
    sex: String,
    pregnant: String,
    allergies: String,
    medications: String,
    conditions: String,
    phone: String,
) -> Result<HealthProfile, AppError> {
    use super::validate::{ProfileForm, profile};
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    let form = ProfileForm {
        date_of_birth: &date_of_birth,
        sex: &sex,
        pregnant: &pregnant,
        allergies: &allergies,
        medications: &medications,
        conditions: &conditions,
        phone: &phone,
    };
    let today = crate::accounts::validate::civil_date(crate::platform::db::now_ms());
    let valid = profile(&form, today).map_err(|fields| reject(AppError::Validation { fields }))?;
    super::service::save_own(&state.db, &user, valid)
        .await
        .map_err(|e| internal_error("profile.save", &e))
}
