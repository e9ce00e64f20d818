//! Turning an internal failure into the safe [`AppError`] a client sees.
//!
//! The cause goes to the log with the request id; the client gets only that id. Callers must
//! pass errors whose `Display` holds no personal data (our error enums are written that way:
//! they name operations and ids, never values).

use crate::error::AppError;
use leptos::prelude::use_context;

/// Logs `cause` with the current request id and returns the client's 500 error.
pub fn internal_error(operation: &'static str, cause: &dyn std::error::Error) -> AppError {
    let request_id = current_request_id();
    tracing::error!(
        request_id = request_id.as_deref().unwrap_or("-"),
        operation,
        cause = %ErrorChain(cause),
        "request failed"
    );
    reject(AppError::Internal { request_id })
}

/// The `x-request-id` of the request being handled, if any.
pub fn current_request_id() -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    let id = parts.headers.get("x-request-id")?.to_str().ok()?;
    Some(id.to_owned())
}

/// Prints an error and its sources, separated by `: `.
pub struct ErrorChain<'a>(pub &'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// Marks the response of the current server function with `err`'s status and returns `err`.
/// Use it for every refusal, so that 401/403/404/422/429 reach the client as such.
pub fn reject(err: AppError) -> AppError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(status) = http::StatusCode::from_u16(err.status_code())
    {
        response.set_status(status);
        if let AppError::RateLimited { retry_after_secs } = &err
            && let Ok(value) = http::HeaderValue::from_str(&retry_after_secs.to_string())
        {
            response.insert_header(http::header::RETRY_AFTER, value);
        }
    }
    err
}

/// The JSON answer for `err` outside a server function (refusals in middleware, plain
/// endpoints): the same body and status a server function's own `AppError` would give.
pub fn error_response(err: &AppError) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http::{HeaderValue, StatusCode, header};
    let status =
        StatusCode::from_u16(err.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(err).unwrap_or_else(|_| "{}".into());
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let AppError::RateLimited { retry_after_secs } = err
        && let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Logs `cause` for a plain endpoint (no Leptos context) with the request's id, and returns
/// the 500 answer that carries only that id.
pub fn endpoint_internal_error(
    operation: &'static str,
    cause: &dyn std::error::Error,
    headers: &http::HeaderMap,
) -> axum::response::Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    tracing::error!(
        request_id = request_id.as_deref().unwrap_or("-"),
        operation,
        cause = %ErrorChain(cause),
        "request failed"
    );
    error_response(&AppError::Internal { request_id })
}
