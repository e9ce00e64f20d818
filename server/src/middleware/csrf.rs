//! Cross-site request protection for every state-changing request.
//!
//! A browser says where a request comes from: `Sec-Fetch-Site` (all current browsers) or at
//! least `Origin` (on every cross-site POST). A POST, PUT, PATCH or DELETE is refused with 403
//! when either names another site. Requests with neither header are not from a browser
//! page (curl, server-to-server) and cannot carry a victim's cookies by accident, so they pass.
//! Machine callbacks that other sites legitimately post to (M-Pesa's payment callback) are
//! listed in [`EXEMPT`]; pages of the sites in `TABIBU_CORS_ORIGINS` are let through.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tabibu_app::error::AppError;
use tabibu_app::platform::AppState;

/// Paths that other sites' servers post to; they authenticate themselves in other ways.
pub const EXEMPT: &[&str] = &[tabibu_app::payments::config::CALLBACK_PATH];

pub async fn protect(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state
        && !EXEMPT.contains(&request.uri().path())
        && !same_site(&request, &state.config.public_url)
        && !allowed_origin(&request, &state.config.cors_origins)
    {
        tracing::warn!(method = %request.method(), "cross-site request refused");
        return super::auth::error_response(&AppError::Forbidden);
    }
    next.run(request).await
}

/// A request from the page of a site the operator allowed (`TABIBU_CORS_ORIGINS`).
fn allowed_origin(request: &Request, origins: &[String]) -> bool {
    request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origins.iter().any(|o| o.eq_ignore_ascii_case(origin)))
}

fn same_site(request: &Request, public_url: &str) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        // `none`: the user typed the address or used a bookmark; not a page of another site.
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if origin.eq_ignore_ascii_case(public_url) {
        return true;
    }
    // Also accept the host the request was addressed to (development on another port).
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, h)| h);
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}
