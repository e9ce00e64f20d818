//! Can one instance keep 1,000 doctors' dashboards live? Starts the built `tabibu` binary as a
//! child process (SQLite in a temporary folder), opens 1,000 event streams (`GET /api/events`)
//! for 10 signed-in doctors, then has a patient open consultations one after another: each
//! one is a `consultation_opened` event every stream must receive. Reports, over all rounds
//! and streams, how long after the patient's request the event arrived (p50, p99, max), and the
//! server's resident memory with the streams open. Targets: p99 under 50 ms, memory under
//! 150 MB.
//!
//! The streams are read by this process on the same machine as the server, so the latencies
//! include the reading side's own work on the shared cores: an upper bound.
//!
//! Run: `cargo bench -p tabibu-server --bench event_fanout` (Linux only). Prints the numbers;
//! exits 1 if over target.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use common::{ChildServer, SseData, quantile};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const STREAMS: usize = 1_000;
const DOCTORS: usize = 10;
const ROUNDS: usize = 20;
const P99_TARGET_MS: f64 = 50.0;
const MEMORY_TARGET_BYTES: u64 = 150 * 1024 * 1024;
const PASSWORD: &str = "a long and proper passphrase";

/// Reads one event stream; reports when it is open and when each event's data arrives.
async fn follow(
    client: reqwest::Client,
    url: String,
    session: String,
    ready: mpsc::UnboundedSender<()>,
    arrivals: mpsc::UnboundedSender<(String, Instant)>,
) {
    let response = client
        .get(url)
        .header("cookie", format!("tabibu_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the stream opens");
    let mut body = response.bytes_stream();
    let mut lines = SseData::default();
    let mut announced = false;
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { return };
        let at = Instant::now();
        if !announced {
            announced = true;
            let _ = ready.send(());
        }
        for data in lines.push(&chunk) {
            let event: serde_json::Value = serde_json::from_str(&data).unwrap();
            if let Some(id) = event["consultation_id"].as_str() {
                let _ = arrivals.send((id.to_owned(), at));
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let server = ChildServer::start("fanout-bench", &[]).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let patient = server
        .sign_up(&client, "patient@example.com", PASSWORD)
        .await;
    let mut doctors = Vec::new();
    for i in 0..DOCTORS {
        let email = format!("doctor{i}@example.com");
        server.create_user(&email, "doctor", PASSWORD);
        doctors.push(server.sign_in(&client, &email, PASSWORD).await);
    }
    let idle = server.status_bytes("VmRSS:");

    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (arrival_tx, mut arrival_rx) = mpsc::unbounded_channel();
    let url = format!("{}/api/events", server.base);
    let opening = Instant::now();
    for i in 0..STREAMS {
        tokio::spawn(follow(
            client.clone(),
            url.clone(),
            doctors[i % DOCTORS].clone(),
            ready_tx.clone(),
            arrival_tx.clone(),
        ));
    }
    for _ in 0..STREAMS {
        tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
            .await
            .expect("every stream opens within a minute");
    }
    let opened_in = opening.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let with_streams = server.status_bytes("VmRSS:");

    let mut latencies_ms = Vec::with_capacity(STREAMS * ROUNDS);
    for round in 0..ROUNDS {
        let sent = Instant::now();
        let reply = client
            .post(format!("{}/api/consultations/request", server.base))
            .header("cookie", format!("tabibu_session={patient}"))
            .form(&[
                ("note", "A cough for three days"),
                ("request_key", &format!("bench-round-{round:04}")),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        let id: String = reply.json().await.unwrap();
        let mut got = 0;
        while got < STREAMS {
            let (event, at) = tokio::time::timeout(Duration::from_secs(10), arrival_rx.recv())
                .await
                .expect("every stream hears of the new case")
                .unwrap();
            if event == id {
                got += 1;
                latencies_ms.push(at.duration_since(sent).as_secs_f64() * 1000.0);
            }
        }
    }
    let peak = server.status_bytes("VmHWM:");
    drop(server);

    latencies_ms.sort_by(f64::total_cmp);
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let p99 = quantile(&latencies_ms, 0.99);
    println!(
        "streams: {STREAMS} ({DOCTORS} doctors), opened in {:.2} s",
        opened_in.as_secs_f64()
    );
    println!(
        "event reached every stream: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} deliveries)",
        quantile(&latencies_ms, 0.5),
        p99,
        latencies_ms.last().copied().unwrap_or(f64::NAN),
        latencies_ms.len()
    );
    println!(
        "server resident memory: {:.1} MB idle, {:.1} MB with the streams open, {:.1} MB peak",
        mb(idle),
        mb(with_streams),
        mb(peak)
    );
    let mut ok = true;
    if p99 >= P99_TARGET_MS {
        println!("FAIL: p99 {p99:.1} ms is over the {P99_TARGET_MS} ms target");
        ok = false;
    }
    if peak >= MEMORY_TARGET_BYTES {
        println!("FAIL: peak memory {:.1} MB is over the target", mb(peak));
        ok = false;
    }
    if !ok {
        std::process::exit(1);
    }
    println!("PASS");
}
