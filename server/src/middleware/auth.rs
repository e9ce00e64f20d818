//! Who is asking, worked out once per request, and the access table applied to every server
//! function before it runs.
//!
//! The session cookie is looked up here and the result ([`RequestAuth`]) put in the request's
//! extensions, where server functions and pages read it. Calls to `/api/…` are then checked
//! against `tabibu_app::access::RULES`: an unlisted server function is refused (403), a caller
//! who is not signed in gets 401, a wrong role 403. Refusals carry the same JSON body a
//! server function's own `AppError` would.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use tabibu_app::access;
use tabibu_app::accounts::session::{self, RequestAuth};
use tabibu_app::audit::{self, AuditAction, AuditEvent, Outcome};
use tabibu_app::error::AppError;
use tabibu_app::platform::AppState;
use tabibu_app::platform::client::ClientIp;

pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path.starts_with("/pkg/") || path == "/health" || path == "/favicon.svg" {
        return next.run(request).await;
    }
    let secure = state.config.secure_cookies();
    let token = request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| session::token_from_cookie_header(h, secure).map(str::to_owned));
    let user = match &token {
        None => None,
        Some(token) => match session::resolve(
            &state.db,
            token,
            state.config.session_idle,
            state.config.require_mfa_staff,
        )
        .await
        {
            Ok(user) => user,
            Err(err) => {
                tracing::error!(cause = %err, "session lookup failed");
                return error_response(&AppError::Unavailable);
            }
        },
    };
    // A cookie that names no live session (ended, expired, forged): audited once, then the
    // browser is told to forget it, so it is not presented (and audited) again and again.
    let rejected = token.is_some() && user.is_none();
    if rejected {
        let mut event = AuditEvent::new(AuditAction::SessionRejected, Outcome::Denied);
        if let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>() {
            event = event.ip(*ip);
        }
        if let Err(err) = audit::record(&state.db, event.detail("unknown_or_expired")).await {
            tracing::error!(cause = %err, "could not audit a rejected session");
        }
    }
    if let Some(path) = request
        .uri()
        .path()
        .strip_prefix("/api/")
        .map(|p| format!("/api/{p}"))
    {
        let Some(rule) = access::rule_for_request(request.method().as_str(), &path) else {
            tracing::warn!(route = %path, "server function without an access rule refused");
            return error_response(&AppError::Forbidden);
        };
        if let Err(refusal) = access::check(rule, user.as_ref()) {
            let mut response = error_response(&refusal);
            if rejected {
                forget_cookie(&mut response, secure);
            }
            return response;
        }
    }
    request.extensions_mut().insert(RequestAuth(user));
    let mut response = next.run(request).await;
    if rejected && !response.headers().contains_key(header::SET_COOKIE) {
        forget_cookie(&mut response, secure);
    }
    response
}

fn forget_cookie(response: &mut Response, secure: bool) {
    if let Ok(value) = header::HeaderValue::from_str(&session::clear_cookie(secure)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

pub use tabibu_app::platform::error::error_response;
