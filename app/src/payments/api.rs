//! The payments' server functions. A patient reads and pays for their own consultation; an
//! admin reads the payments table. Roles are checked here (and by the access table before);
//! ownership in the service.

use super::types::{PaymentPanel, PaymentView, PaymentsOverview};
use crate::error::AppError;
use leptos::prelude::*;

/// The payment step of one of the caller's consultations; `None` when it is free.
#[server(prefix = "/api", endpoint = "payments/panel")]
pub async fn consultation_payment(
    consultation_id: String,
) -> Result<Option<PaymentPanel>, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    let id = crate::consultations::validate::id(&consultation_id).map_err(reject)?;
    super::service::panel(&state, &user, &id)
        .await
        .map_err(|e| e.into_app_error("payments.panel"))
}

/// Prompts `phone` (an M-Pesa number in any usual form) to pay for the consultation.
/// `request_key` (made by the page) makes a double submit one payment.
#[server(prefix = "/api", endpoint = "payments/pay")]
pub async fn pay_for_consultation(
    consultation_id: String,
    phone: String,
    request_key: String,
) -> Result<PaymentView, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    let consultation_id = crate::consultations::validate::id(&consultation_id).map_err(reject)?;
    let request_key =
        crate::consultations::validate::client_key("request_key", &request_key).map_err(reject)?;
    let phone = super::validate::mpesa_phone(&phone).map_err(reject)?;
    let request = super::service::PayRequest {
        consultation_id,
        phone,
        request_key,
    };
    super::service::pay(&state, &user, request)
        .await
        .map_err(|e| e.into_app_error("payments.pay"))
}

/// The admins' payments table, optionally only one state (`pending`, `paid`, …).
#[server(prefix = "/api", endpoint = "admin/payments")]
pub async fn admin_payments(only: Option<String>) -> Result<PaymentsOverview, AppError> {
    use crate::access::{self, ADMIN};
    use crate::platform::{app_state, reject};
    access::require(ADMIN)?;
    let state = app_state()?;
    let only = match only.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            super::types::PaymentState::parse(s)
                .ok_or_else(|| reject(AppError::invalid("only", "error.bad_request")))?,
        ),
    };
    super::service::overview(&state, only)
        .await
        .map_err(|e| e.into_app_error("payments.overview"))
}
