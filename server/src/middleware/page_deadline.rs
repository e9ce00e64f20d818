//! A page render that stops making progress must not hold its connection forever.
//!
//! Pages stream: the shell goes out first, then each `<Suspense>` chunk as its data arrives.
//! Leptos has had rare races in which a chunk never resolves; the response then stays open
//! with no error and no log line. This layer bounds that for HTML pages:
//! - no response head within [`PAGE_STALL_TIMEOUT`]: the answer is 503 with `Retry-After`;
//! - a started page whose renderer produces nothing for [`PAGE_STALL_TIMEOUT`]: the body ends
//!   with an error, so the server closes the connection and the browser stops waiting.
//!
//! Either way one error line names the route and the request id. The clock only runs while
//! the server waits for its own renderer, never while a slow client is still reading. API
//! routes (server functions, uploads, downloads, event streams) are left alone: their own
//! timeouts apply, and an event stream is meant to stay open.

use super::trace::{request_id_of, route_label};
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use http::{HeaderValue, StatusCode, header};
use std::time::Duration;
use tabibu_app::platform::error::UNAVAILABLE_RETRY_AFTER_SECS;

/// How long a page may go without producing anything.
pub const PAGE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

pub async fn bound_page_render(request: Request, next: Next) -> Response {
    bound_with(PAGE_STALL_TIMEOUT, request, next).await
}

/// [`bound_page_render`] with another limit (the tests use a short one).
pub async fn bound_with(limit: Duration, request: Request, next: Next) -> Response {
    if !is_page_request(&request) {
        return next.run(request).await;
    }
    let route = route_label(&request);
    let request_id = request_id_of(&request);
    let Ok(response) = tokio::time::timeout(limit, next.run(request)).await else {
        tracing::error!(
            %route,
            %request_id,
            limit_secs = limit.as_secs(),
            "page render stalled before its first byte"
        );
        return stalled();
    };
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (parts, body) = response.into_parts();
    let watch = Watch {
        route,
        request_id,
        limit,
    };
    let bounded =
        futures_util::stream::unfold(Some((body.into_data_stream(), watch)), |state| async move {
            let (mut chunks, watch) = state?;
            match tokio::time::timeout(watch.limit, chunks.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some((chunks, watch)))),
                // The renderer's own error ends the body as it would have.
                Ok(Some(Err(err))) => Some((Err(err), None)),
                Ok(None) => None,
                Err(_) => {
                    let Watch {
                        route,
                        request_id,
                        limit,
                    } = watch;
                    tracing::error!(
                        %route,
                        %request_id,
                        limit_secs = limit.as_secs(),
                        "page render stalled mid-stream; closing the connection"
                    );
                    Some((Err(axum::Error::new(PageStalled)), None))
                }
            }
        });
    Response::from_parts(parts, Body::from_stream(bounded))
}

/// What the error line names if the page stalls.
struct Watch {
    route: String,
    request_id: String,
    limit: Duration,
}

/// GET or HEAD of anything that is not the API: pages and static files (which never stall).
fn is_page_request(request: &Request) -> bool {
    let method = request.method();
    (method == http::Method::GET || method == http::Method::HEAD)
        && !request.uri().path().starts_with("/api/")
}

fn stalled() -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "This page took too long to prepare. Please try again.",
    )
        .into_response();
    // The wait the database-unavailable answers give, so clients see one policy.
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
    );
    response
}

/// Ends a stalled page's body: hyper then closes the connection instead of finishing it.
#[derive(Debug)]
struct PageStalled;

impl std::fmt::Display for PageStalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the page render produced nothing in time")
    }
}

impl std::error::Error for PageStalled {}
