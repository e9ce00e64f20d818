//! The rate limits per client IP, in zones: pages and everything else outside `/api/`
//! (`TABIBU_RATE_LIMIT_PER_SECOND`, default 20 a second) and the API under `/api/`
//! (`TABIBU_RATE_LIMIT_API_PER_SECOND`, default 20 a second); static files, health checks and
//! metrics do not count. Past a limit: 429 with `Retry-After`, as JSON for server functions and
//! as a page a person can read otherwise. Sign-in has its own, stricter zone in the accounts
//! service (`TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE`, per IP and per account).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use std::time::Duration;
use tabibu_app::error::AppError;
use tabibu_app::i18n::Locale;
use tabibu_app::platform::AppState;
use tabibu_app::platform::client::ClientIp;

pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if path.starts_with("/pkg/")
        || path == "/health"
        || path == "/ready"
        || path == "/metrics"
        || path == "/favicon.svg"
    {
        return next.run(request).await;
    }
    let ip = request
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let now = tabibu_app::platform::db::now_ms();
    let (zone, per_second) = if path.starts_with("/api/") {
        ("api", state.config.rate_limit_api_per_second)
    } else {
        ("general", state.config.rate_limit_per_second)
    };
    if let Err(wait) = state.limiter.hit(
        &format!("{zone}:{ip}"),
        per_second,
        Duration::from_secs(1),
        now,
    ) {
        let retry_after_secs = wait.as_secs().max(1);
        if path.starts_with("/api/") {
            return super::auth::error_response(&AppError::RateLimited { retry_after_secs });
        }
        let locale = request
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(Locale::from_cookie_header)
            .unwrap_or_default();
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Html(page(locale, retry_after_secs)),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    next.run(request).await
}

fn page(locale: Locale, secs: u64) -> String {
    let (lang, title, body) = match locale {
        Locale::En => (
            "en",
            "Too many requests",
            format!(
                "You are going faster than we can follow. Please wait {secs} seconds and try again."
            ),
        ),
        Locale::Sw => (
            "sw",
            "Maombi mengi mno",
            format!(
                "Unaenda haraka kuliko tunavyoweza kufuata. Tafadhali subiri sekunde {secs} ujaribu tena."
            ),
        ),
    };
    format!(
        "<!DOCTYPE html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <link rel=\"stylesheet\" href=\"/pkg/tabibu.css\"></head><body><main><h1>{title}</h1><p>{body}</p>\
         <p><a href=\"/\">Tabibu</a></p></main></body></html>"
    )
}
