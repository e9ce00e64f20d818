//! The payments' HTTP endpoints:
//!
//! - `POST /api/payments/mpesa/callback`: M-Pesa's STK result. Public (M-Pesa has no session),
//!   exempt from the cross-site check, limited to `TABIBU_MPESA_CALLBACK_ALLOWED_IPS` when set,
//!   and answered the way Daraja expects (`{"ResultCode":0,"ResultDesc":"Accepted"}`, or a
//!   non-zero ResultCode with the reason). The body is kept for reconciliation, never logged.
//! - `GET /api/admin/payments.csv`: every payment, for admins (the access table refuses
//!   everyone else before this runs, and the handler checks again).

use super::daraja::CallbackAnswer;
use super::service::{self, CallbackOutcome};
use crate::access::{self, ADMIN};
use crate::accounts::session::RequestAuth;
use crate::error::AppError;
use crate::platform::AppState;
use crate::platform::client::ClientIp;
use crate::platform::error::{endpoint_internal_error, error_response};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The largest callback accepted; Daraja's are well under 2 KB.
const MAX_CALLBACK_BYTES: usize = 16 * 1024;

pub async fn callback(
    State(state): State<AppState>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let allowed = &state.payments.config.callback_allowed;
    if !allowed.is_empty() {
        let from = ip.map(|Extension(ClientIp(ip))| ip);
        if !from.is_some_and(|ip| allowed.iter().any(|net| net.contains(&ip))) {
            tracing::warn!("M-Pesa callback refused: source address not allowed");
            return answer(
                StatusCode::FORBIDDEN,
                CallbackAnswer::rejected("source not allowed"),
            );
        }
    }
    if body.len() > MAX_CALLBACK_BYTES {
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            CallbackOutcome::Malformed.answer(),
        );
    }
    match service::receive_callback(&state, &body).await {
        Ok(outcome) => {
            let status = match outcome {
                CallbackOutcome::Malformed => StatusCode::BAD_REQUEST,
                CallbackOutcome::Unknown => StatusCode::NOT_FOUND,
                _ => StatusCode::OK,
            };
            tracing::info!(outcome = ?outcome, "M-Pesa callback received");
            answer(status, outcome.answer())
        }
        Err(err) => {
            // Not stored: M-Pesa may try again, and the reconciliation job asks anyway.
            let _ = endpoint_internal_error("payments.callback", &err, &headers);
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                CallbackAnswer::rejected("temporarily unavailable"),
            )
        }
    }
}

fn answer(status: StatusCode, body: CallbackAnswer) -> Response {
    (status, Json(body)).into_response()
}

pub async fn export(
    State(state): State<AppState>,
    auth: Option<Extension<RequestAuth>>,
    request_headers: HeaderMap,
) -> Response {
    let user = auth.and_then(|Extension(RequestAuth(user))| user);
    if let Err(refusal) = access::check(ADMIN, user.as_ref()) {
        return error_response(&refusal);
    }
    let Some(user) = user else {
        return error_response(&AppError::Unauthenticated);
    };
    let csv = match service::export_csv(&state, &user).await {
        Ok(csv) => csv,
        Err(err) => return endpoint_internal_error("payments.export", &err, &request_headers),
    };
    let mut response = (StatusCode::OK, csv).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"tabibu-payments.csv\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
