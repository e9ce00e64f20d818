//! A page whose render stops making progress is cut off instead of holding its connection
//! forever: 503 with `Retry-After` when nothing was sent yet, a closed connection when the
//! page had started. A page that keeps producing, however long in all, and the API (whose
//! event streams stay open by design) are not touched. Real HTTP over a real socket, with the
//! layer the server uses and a short limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tabibu_server::middleware::page_deadline::bound_with;

const LIMIT: Duration = Duration::from_millis(400);

fn html_stream(chunks: Vec<(Duration, &'static str)>, then_stall: bool) -> Response {
    let stream = futures_util::stream::unfold(
        (chunks.into_iter(), then_stall),
        |(mut rest, stall)| async move {
            match rest.next() {
                Some((wait, text)) => {
                    tokio::time::sleep(wait).await;
                    Some((
                        Ok::<_, Infallible>(Bytes::from_static(text.as_bytes())),
                        (rest, stall),
                    ))
                }
                None if stall => {
                    std::future::pending::<()>().await;
                    None
                }
                None => None,
            }
        },
    );
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/never-starts",
            get(|| async {
                std::future::pending::<()>().await;
                Html("unreachable")
            }),
        )
        .route(
            "/stalls-midway",
            get(|| async { html_stream(vec![(Duration::ZERO, "<!DOCTYPE html><p>shell")], true) }),
        )
        .route(
            "/slow-but-steady",
            get(|| async {
                // Six chunks 200 ms apart: 1.2 s in all, three times the limit, never idle for it.
                let step = Duration::from_millis(200);
                html_stream(
                    vec![
                        (step, "<p>1"),
                        (step, "2"),
                        (step, "3"),
                        (step, "4"),
                        (step, "5"),
                        (step, "6</p>"),
                    ],
                    false,
                )
            }),
        )
        .route(
            "/api/slow",
            get(|| async {
                tokio::time::sleep(LIMIT * 3).await;
                "done"
            }),
        )
        .layer(axum::middleware::from_fn(|request, next| {
            bound_with(LIMIT, request, next)
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// A client that would wait far longer than the limit: the server must be the one to stop.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_page_that_never_starts_gets_503_with_retry_after() {
    let base = serve().await;
    let started = Instant::now();
    let response = client()
        .get(format!("{base}/never-starts"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered after the limit, not the client's timeout"
    );
    assert!(response.text().await.unwrap().contains("try again"));
}

#[tokio::test]
async fn a_page_that_stalls_midway_has_its_connection_closed() {
    let base = serve().await;
    let started = Instant::now();
    let response = client()
        .get(format!("{base}/stalls-midway"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the head had gone out before the stall"
    );
    let body = response.bytes().await;
    assert!(
        body.is_err(),
        "an unfinished page must not look complete: {body:?}"
    );
    let err = body.unwrap_err();
    assert!(
        !err.is_timeout(),
        "the server closed it, not the client's timeout: {err}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_page_that_keeps_producing_is_never_cut_off() {
    let base = serve().await;
    let started = Instant::now();
    let response = client()
        .get(format!("{base}/slow-but-steady"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "<p>123456</p>");
    assert!(
        started.elapsed() > LIMIT * 2,
        "the page really took longer than the limit in all"
    );
}

#[tokio::test]
async fn the_api_is_not_bound_by_the_page_limit() {
    let base = serve().await;
    let response = client()
        .get(format!("{base}/api/slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
}
