//! Does an upload stream, or does the server hold the file in memory? Starts the built
//! `tabibu` binary as a child process (SQLite in a temporary folder), uploads a 20 MB photo
//! and a 20 MB PDF to it, and reports how far the child's peak resident memory (`VmHWM` in
//! `/proc/<pid>/status`, reset before each upload through `/proc/<pid>/clear_refs`) rose above
//! its resident memory just before. Target: under 10 MB for a 20 MB file.
//!
//! Run: `cargo bench -p tabibu-server --bench upload_memory` (Linux only). Prints the numbers;
//! exits 1 if over target.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use common::ChildServer;
use std::time::{Duration, Instant};

const FILE_BYTES: usize = 20 * 1024 * 1024;
const TARGET_BYTES: u64 = 10 * 1024 * 1024;
const PIECE: usize = 256 * 1024;

/// A file of `len` bytes that starts like `head` and continues with noise (so no layer can
/// compress it away).
fn file_like(head: &[u8], len: usize) -> Vec<u8> {
    let mut bytes = head.to_vec();
    let mut x: u32 = 0x9E37_79B9;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn photo() -> Vec<u8> {
    let mut head = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    head.extend_from_slice(&4000u32.to_be_bytes());
    head.extend_from_slice(&3000u32.to_be_bytes());
    head.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    file_like(&head, FILE_BYTES)
}

fn pdf() -> Vec<u8> {
    file_like(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", FILE_BYTES)
}

/// Uploads `file` in pieces (a streamed request body, as a browser sends it); returns the
/// child's peak memory growth in bytes and the time taken.
async fn measure(server: &ChildServer, session: &str, file: Vec<u8>) -> (u64, Duration) {
    let base = &server.base;
    std::fs::write(format!("/proc/{}/clear_refs", server.pid), "5").unwrap();
    let before = server.status_bytes("VmRSS:");
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        file.chunks(PIECE).map(|c| Ok(c.to_vec())).collect();
    drop(file);
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{base}/api/documents"))
        .header("cookie", format!("tabibu_session={session}"))
        .header("x-filename", "bench.bin")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    let elapsed = started.elapsed();
    let peak = server.status_bytes("VmHWM:");
    (peak.saturating_sub(before), elapsed)
}

#[tokio::main]
async fn main() {
    let server = ChildServer::start("upload-bench", &[("TABIBU_MAX_UPLOAD_MB", "25")]).await;
    let client = reqwest::Client::new();
    let session = server
        .sign_up(&client, "bench@example.com", "a long and proper passphrase")
        .await;

    // Warm up: thread pools, the database pool and the allocator's arenas exist before the
    // measured uploads, as they would in a server that has been running a while.
    measure(&server, &session, file_like(b"%PDF-1.7\n", 1024 * 1024)).await;
    let idle = server.status_bytes("VmRSS:");
    let (photo_growth, photo_time) = measure(&server, &session, photo()).await;
    let (pdf_growth, pdf_time) = measure(&server, &session, pdf()).await;
    drop(server);

    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "server resident memory before the uploads: {:.1} MB",
        mb(idle)
    );
    println!(
        "20 MB PNG: peak resident growth {:.1} MB, {:.2} s",
        mb(photo_growth),
        photo_time.as_secs_f64()
    );
    println!(
        "20 MB PDF: peak resident growth {:.1} MB, {:.2} s",
        mb(pdf_growth),
        pdf_time.as_secs_f64()
    );
    let worst = photo_growth.max(pdf_growth);
    println!(
        "worst growth {:.1} MB (target < {:.0} MB)",
        mb(worst),
        mb(TARGET_BYTES)
    );
    if worst >= TARGET_BYTES {
        println!("FAIL: an upload grew the server's memory by more than the target");
        std::process::exit(1);
    }
    println!("PASS");
}
