//! Counts and times every request for `GET /metrics`, by route label (see
//! `platform::metrics::route_label`: a fixed set, never the raw path).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use std::time::Instant;
use tabibu_app::platform::metrics::{Metrics, method_label, route_label};

pub async fn record(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let method = method_label(request.method().as_str());
    let route = route_label(request.method().as_str(), request.uri().path());
    let started = Instant::now();
    let response = next.run(request).await;
    // For a stream (events, the assistant's reply) this is the time to its first byte.
    metrics.record_request(method, route, response.status().as_u16(), started.elapsed());
    response
}
