//! Request ids: every request gets one in `x-request-id`, and every response carries it back.
//!
//! An id a client or proxy sent is kept only if it looks like an id (at most 64 characters of
//! letters, digits, `-` and `_`): anything else could smuggle text into our logs, so it is
//! replaced.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being handled, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_plausible_id(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let Ok(value) = HeaderValue::from_str(&id) else {
        return next.run(request).await;
    };
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    response
}

fn is_plausible_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::is_plausible_id;

    #[test]
    fn only_id_shaped_values_are_kept() {
        assert!(is_plausible_id("5f0c2a6e-1b7e-4c1e-9a40-0d5c8e6b1f10"));
        assert!(!is_plausible_id("jane.doe@example.com"));
        assert!(!is_plausible_id("a b"));
        assert!(!is_plausible_id(&"x".repeat(65)));
    }
}
