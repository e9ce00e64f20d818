//! Turning an internal failure into the safe [`AppError`] a client sees.
//!
//! The cause goes to the log with the request id; the client gets only that id. Callers must
//! pass errors whose `Display` holds no personal data (our error enums are written that way:
//! they name operations and ids, never values).

use crate::error::AppError;
use leptos::prelude::use_context;

/// Seconds a client is told to wait (`Retry-After`) when the database is not answering.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 5;

/// Logs `cause` with the current request id and returns the client's error: 503 when the
/// database could not be reached (see [`database_unreachable`]), else 500.
pub fn internal_error(
    operation: &'static str,
    cause: &(dyn std::error::Error + 'static),
) -> AppError {
    let request_id = current_request_id();
    reject(logged(operation, cause, request_id))
}

/// Logs `cause` and returns the error a client sees for it.
fn logged(
    operation: &'static str,
    cause: &(dyn std::error::Error + 'static),
    request_id: Option<String>,
) -> AppError {
    if database_unreachable(cause) {
        tracing::warn!(
            request_id = request_id.as_deref().unwrap_or("-"),
            operation,
            cause = %ErrorChain(cause),
            "database unreachable; answered 503"
        );
        return AppError::Unavailable;
    }
    tracing::error!(
        request_id = request_id.as_deref().unwrap_or("-"),
        operation,
        cause = %ErrorChain(cause),
        "request failed"
    );
    AppError::Internal { request_id }
}

/// Whether `cause` or one of its sources says the database is away rather than that the query
/// was wrong: no connection within the pool's timeout, a connection lost mid-query, or the
/// server refusing work while it starts or stops (PostgreSQL's SQLSTATE classes 08 and 57P).
/// Such a failure passes once the database is back, so the client gets 503 and a retry hint.
pub fn database_unreachable(cause: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(cause);
    while let Some(err) = next {
        if let Some(sql) = err.downcast_ref::<sqlx::Error>() {
            return match sql {
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_) => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08") || code.starts_with("57P") || code == "53300"
                }),
                _ => false,
            };
        }
        next = err.source();
    }
    false
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
        if let Some(value) = retry_after(&err) {
            response.insert_header(http::header::RETRY_AFTER, value);
        }
    }
    err
}

/// The `Retry-After` value `err` is answered with, if any.
fn retry_after(err: &AppError) -> Option<http::HeaderValue> {
    let secs = match err {
        AppError::RateLimited { retry_after_secs } => *retry_after_secs,
        AppError::Unavailable => UNAVAILABLE_RETRY_AFTER_SECS,
        _ => return None,
    };
    http::HeaderValue::from_str(&secs.to_string()).ok()
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
    if let Some(value) = retry_after(err) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Logs `cause` for a plain endpoint (no Leptos context) with the request's id, and returns
/// the answer that carries only that id (503 when the database could not be reached).
pub fn endpoint_internal_error(
    operation: &'static str,
    cause: &(dyn std::error::Error + 'static),
    headers: &http::HeaderMap,
) -> axum::response::Response {
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    error_response(&logged(operation, cause, request_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("feature: {0}")]
    struct Wrapped(#[from] sqlx::Error);

    #[test]
    fn a_database_that_is_away_is_unavailable_and_a_bad_query_is_not() {
        let lost = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        for away in [sqlx::Error::PoolTimedOut, sqlx::Error::Io(lost)] {
            assert!(database_unreachable(&Wrapped(away)));
        }
        for wrong in [
            sqlx::Error::RowNotFound,
            sqlx::Error::ColumnNotFound("x".into()),
        ] {
            assert!(!database_unreachable(&Wrapped(wrong)));
        }
        let unrelated = std::io::Error::other("disk");
        assert!(!database_unreachable(&unrelated));
    }

    #[test]
    fn unavailable_and_rate_limited_answers_say_when_to_retry() {
        let response = error_response(&AppError::Unavailable);
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "5");
        let response = error_response(&AppError::RateLimited {
            retry_after_secs: 7,
        });
        assert_eq!(response.headers()[http::header::RETRY_AFTER], "7");
        let response = error_response(&AppError::NotFound);
        assert!(response.headers().get(http::header::RETRY_AFTER).is_none());
    }
}
