//! Security headers on every response, and the CSP nonce that lets our own inline hydration
//! script run while every other inline script stays blocked.
//!
//! The nonce is made fresh for each request, put in the request's extensions (the Leptos
//! renderer copies it onto the scripts it writes, see `startup::leptos_context`), and named in
//! the `Content-Security-Policy` of the response. `'wasm-unsafe-eval'` is needed to compile
//! the WASM bundle; `'unsafe-inline'` is never allowed.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use rand::RngCore;
use tabibu_app::documents::http::SameOriginFraming;

/// The nonce of one request.
#[derive(Debug, Clone)]
pub struct CspNonce(pub String);

impl CspNonce {
    pub fn generate() -> CspNonce {
        let mut bytes = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut bytes);
        CspNonce(base64::engine::general_purpose::STANDARD.encode(bytes))
    }
}

/// What the middleware needs to know about the deployment.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    /// For `TABIBU_TRUSTED_PROXIES`: only those may say the client used HTTPS.
    pub config: std::sync::Arc<tabibu_app::platform::Config>,
}

/// Whether the browser reached Tabibu over HTTPS: on Tabibu's own TLS listener, or through a
/// trusted proxy that says so with `X-Forwarded-Proto: https`. HSTS is sent only then: over
/// plain HTTP browsers ignore it, and a proxy that is not trusted could be anyone.
fn reached_over_https(request: &Request, config: &tabibu_app::platform::Config) -> bool {
    if request
        .extensions()
        .get::<crate::tls::ServedOverTls>()
        .is_some()
    {
        return true;
    }
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = peer.is_some_and(|ip| config.trusted_proxies.iter().any(|n| n.contains(&ip)));
    trusted
        && request
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

pub async fn add_security_headers(
    State(settings): State<SecurityHeaders>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = CspNonce::generate();
    request.extensions_mut().insert(nonce.clone());
    let hsts = reached_over_https(&request, &settings.config);
    let mut response = next.run(request).await;
    // An inline document (a PDF our own page shows in a frame) may be framed by this origin
    // only; it is a file, not a page, so it gets a policy of its own that runs nothing.
    let framed = response.extensions().get::<SameOriginFraming>().is_some();
    let headers = response.headers_mut();
    let csp = if framed {
        FRAMED_DOCUMENT_POLICY.to_owned()
    } else {
        content_security_policy(&nonce.0)
    };
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    for (name, value) in &STATIC_HEADERS {
        headers.insert(name.clone(), HeaderValue::from_static(value));
    }
    if framed {
        headers.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

/// The policy for one response.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; \
         media-src 'self' blob:; worker-src 'self'; manifest-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The policy of a document shown inline in a frame of our own pages: nothing may run or
/// load, and only this origin may frame it.
pub const FRAMED_DOCUMENT_POLICY: &str = "default-src 'none'; img-src 'self'; object-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'self'";

static STATIC_HEADERS: [(HeaderName, &str); 7] = [
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    (
        HeaderName::from_static("permissions-policy"),
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), \
         bluetooth=(), magnetometer=(), gyroscope=(), accelerometer=()",
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    ),
    (
        HeaderName::from_static("x-permitted-cross-domain-policies"),
        "none",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_and_long_enough() {
        let a = CspNonce::generate();
        let b = CspNonce::generate();
        assert_ne!(a.0, b.0);
        assert!(a.0.len() >= 22);
    }

    #[test]
    fn the_policy_never_allows_inline_code_without_the_nonce() {
        let csp = content_security_policy("abc");
        assert!(csp.contains("'nonce-abc'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(csp.contains("'wasm-unsafe-eval'"));
    }

    #[test]
    fn a_framed_document_runs_nothing_and_only_this_origin_may_frame_it() {
        assert!(FRAMED_DOCUMENT_POLICY.starts_with("default-src 'none'"));
        assert!(FRAMED_DOCUMENT_POLICY.contains("frame-ancestors 'self'"));
        assert!(!FRAMED_DOCUMENT_POLICY.contains("script-src"));
        assert!(!FRAMED_DOCUMENT_POLICY.contains("unsafe"));
    }
}
