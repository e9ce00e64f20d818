//! Graceful shutdown: a request in flight when the signal comes still gets its answer, new
//! connections are refused, and the drain timeout bounds the wait.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::routing::get;
use std::time::{Duration, Instant};

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(600)).await;
    "finished"
}

async fn never() -> &'static str {
    std::future::pending::<()>().await;
    "unreachable"
}

async fn start(
    drain: Duration,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/slow", get(slow))
        .route("/never", get(never));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        tabibu_server::serve(
            listener,
            app,
            async move {
                let _ = rx.await;
            },
            drain,
        )
        .await
        .unwrap();
    });
    (base, tx, handle)
}

#[tokio::test]
async fn a_request_in_flight_finishes_after_the_signal() {
    let (base, stop, server) = start(Duration::from_secs(5)).await;
    let client = reqwest::Client::new();
    let request = tokio::spawn({
        let client = client.clone();
        let url = format!("{base}/slow");
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop.send(()).unwrap();
    assert_eq!(request.await.unwrap(), "finished");
    tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        reqwest::get(format!("{base}/slow")).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn the_drain_timeout_bounds_the_wait_for_stuck_requests() {
    let (base, stop, server) = start(Duration::from_millis(300)).await;
    let stuck = tokio::spawn(async move { reqwest::get(format!("{base}/never")).await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let started = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(3), server)
        .await
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    stuck.abort();
}
