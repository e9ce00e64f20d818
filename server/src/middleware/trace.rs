//! One span per request: method, matched route (never the raw path or query string, which can
//! carry personal data), status, latency and request id. No bodies, no headers (a W3C
//! `traceparent` only makes the span the child of the caller's, for OpenTelemetry).

use super::request_id::RequestId;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

pub async fn trace_request(request: Request, next: Next) -> Response {
    let route = route_label(&request);
    let request_id = request_id_of(&request);
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    if request.headers().contains_key("traceparent") {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        // Without a trace exporter there is nothing to join, and that is fine.
        let _ = span.set_parent(crate::telemetry::remote_parent(request.headers()));
    }
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = response.status().as_u16();
    span.record("status", status);
    span.record("latency_ms", latency_ms);
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!("request failed");
        } else {
            tracing::info!("request finished");
        }
    });
    response
}

/// The route pattern the request matched (`/assistant/{id}`, never the raw path), or a
/// coarse family for requests no route matched: what log lines and metrics may name.
pub fn route_label(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| route_family(request.uri().path()).to_owned())
}

/// The id the `request_id` layer gave the request (empty if that layer did not run).
pub fn request_id_of(request: &Request) -> String {
    request
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// For requests no route matched (static files, 404s): a coarse label instead of the path.
fn route_family(path: &str) -> &'static str {
    if path.starts_with("/pkg/") {
        "/pkg/*"
    } else if path.starts_with("/api/") {
        "/api/*"
    } else {
        "(unmatched)"
    }
}
