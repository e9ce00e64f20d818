//! Does an upload stream, or does the server hold the file in memory? Starts the built
//! `tabibu` binary as a child process (SQLite in a temporary folder), uploads a 20 MB photo
//! and a 20 MB PDF to it, and reports how far the child's peak resident memory (`VmHWM` in
//! `/proc/<pid>/status`, reset before each upload through `/proc/<pid>/clear_refs`) rose above
//! its resident memory just before. Target: under 10 MB for a 20 MB file.
//!
//! Run: `cargo bench -p tabibu-server --bench upload_memory` (Linux only). Prints the numbers;
//! exits 1 if over target.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILE_BYTES: usize = 20 * 1024 * 1024;
const TARGET_BYTES: u64 = 10 * 1024 * 1024;
const PIECE: usize = 256 * 1024;

/// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`).
fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .unwrap()
        * 1024
}

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
async fn measure(base: &str, session: &str, pid: u32, file: Vec<u8>) -> (u64, Duration) {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_kb(pid, "VmRSS:");
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
    let peak = status_kb(pid, "VmHWM:");
    (peak.saturating_sub(before), elapsed)
}

#[tokio::main]
async fn main() {
    let temp = std::env::temp_dir().join(format!("tabibu-upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(temp.join("site/pkg")).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tabibu"))
        .env_clear()
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/tabibu.db", temp.display()),
        )
        .env("LEPTOS_SITE_ROOT", temp.join("site"))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "TABIBU_DATA_KEY",
            "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=",
        )
        .env("TABIBU_MAX_UPLOAD_MB", "25")
        .env("TABIBU_RATE_LIMIT_PER_SECOND", "100000")
        .env("TABIBU_LOG", "error")
        .stdout(Stdio::null())
        .spawn()
        .expect("the tabibu binary starts");
    let pid = child.id();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let signed_up = client
        .post(format!("{base}/api/accounts/sign_up"))
        .form(&[
            ("email", "bench@example.com"),
            ("password", "a long and proper passphrase"),
            ("name", "Bench Patient"),
            ("date_of_birth", "1990-04-12"),
        ])
        .send()
        .await
        .unwrap();
    let session = signed_up
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("tabibu_session="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .expect("a session");

    // Warm up: thread pools, the database pool and the allocator's arenas exist before the
    // measured uploads, as they would in a server that has been running a while.
    measure(&base, &session, pid, file_like(b"%PDF-1.7\n", 1024 * 1024)).await;
    let idle = status_kb(pid, "VmRSS:");
    let (photo_growth, photo_time) = measure(&base, &session, pid, photo()).await;
    let (pdf_growth, pdf_time) = measure(&base, &session, pid, pdf()).await;
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&temp).ok();

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
