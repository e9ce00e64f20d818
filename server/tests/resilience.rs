//! Failures of the machine around Tabibu, made for real:
//!
//! - the database goes away under load (a TCP relay in front of PostgreSQL cuts every
//!   connection and refuses new ones, as a restart does): requests answer 503 with
//!   `Retry-After` within the pool's acquire timeout, never 500 and never hanging, and the
//!   server answers 200 again by itself once the database is back;
//! - the disk fills up during an upload (the `tabibu` binary runs in a mount namespace of its
//!   own whose documents folder is a 1 MiB tmpfs): 507 with a clear message, no document row,
//!   no bytes left behind, and the next upload that fits is stored whole;
//! - `kill -9` in the middle of concurrent uploads: after a restart every upload that was
//!   acknowledged is listed and downloads byte for byte, every listed document opens, the
//!   audit chain verifies and SQLite's integrity check passes;
//! - SIGTERM during a long upload: an upload that finishes within the shutdown timeout is
//!   stored and the process exits 0; one that would not is cut at the timeout, leaving no
//!   document and no temporary file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use sha2::{Digest, Sha256};
use sqlx::Connection;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use support::child::{TEST_KEY, Tabibu, TempDir, free_port};
use support::{Backend, call_at, sign_up_at};

const PASSWORD: &str = "a long and proper passphrase";

/// A PNG header of 2 x 2 pixels followed by `filler` bytes: accepted as an image, any size.
fn png(filler: usize, seed: u8) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend_from_slice(&2u32.to_be_bytes());
    v.extend_from_slice(&2u32.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    v.extend((0..filler).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A fresh PostgreSQL database for a `tabibu` child process, dropped when this is dropped.
/// `None` only where PostgreSQL is unreachable outside CI (as in `support`).
struct PgDatabase {
    url: String,
    name: String,
}

impl PgDatabase {
    async fn create() -> Option<PgDatabase> {
        let admin = support::postgres_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(conn) => conn,
            Err(err) if std::env::var_os("CI").is_none() => {
                eprintln!("NOTICE: PostgreSQL not reachable ({err}); skipping the PostgreSQL half");
                return None;
            }
            Err(err) => panic!("CI needs PostgreSQL at {admin}: {err}"),
        };
        let name = format!("tabibu_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        Some(PgDatabase {
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin, name) = (support::postgres_admin_url(), self.name.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                    let _ = sqlx::query(&sql).execute(&mut conn).await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// The files in `dir` (temporary upload files included), or none if it does not exist.
fn files_in(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

// --- the database going away ---------------------------------------------------------------

/// A TCP relay to PostgreSQL that can be cut: `down` closes every relayed connection and
/// refuses new ones (what clients see while the database restarts), `up` relays again.
struct Relay {
    addr: std::net::SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    accepting: tokio::task::AbortHandle,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accepting.abort();
        self.down();
    }
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (accepting, tasks) = (up.clone(), connections.clone());
        let accept = support::server_runtime().spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !accepting.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(task.abort_handle());
            }
        });
        Relay {
            addr,
            up,
            connections,
            accepting: accept.abort_handle(),
        }
    }

    fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// One round of `clients` concurrent signed-in reads; each answer's status and duration.
async fn round(base: &str, session: &str, clients: usize) -> Vec<(u16, Option<String>, Duration)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let calls = (0..clients).map(|_| {
        let (client, base, session) = (client.clone(), base.to_owned(), session.to_owned());
        async move {
            let started = Instant::now();
            let reply = call_at(&client, &base, "/api/profile/get", &[], Some(&session)).await;
            (reply.status, reply.retry_after, started.elapsed())
        }
    });
    futures_util::future::join_all(calls).await
}

#[tokio::test]
async fn postgres_going_away_under_load_answers_503_fast_and_recovers_by_itself() {
    let Some(first) = support::spawn_app(Backend::Postgres).await else {
        return;
    };
    let target = url::Url::parse(&first.database_url).unwrap();
    let relay = Relay::start(format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(5432)
    ))
    .await;
    let mut relayed = target.clone();
    relayed.set_host(Some("127.0.0.1")).unwrap();
    relayed.set_port(Some(relay.addr.port())).unwrap();
    let app = support::spawn_peer(&first, &[("DATABASE_URL", relayed.as_str())]).await;
    let session = app.sign_up("amina@example.org", PASSWORD).await;

    for (status, _, _) in round(&app.base, &session, 8).await {
        assert_eq!(status, 200, "before the cut");
    }

    relay.down();
    let cut = Instant::now();
    let mut answered_503 = 0;
    while cut.elapsed() < Duration::from_secs(8) {
        for (status, retry_after, took) in round(&app.base, &session, 8).await {
            assert_eq!(status, 503, "while the database is away");
            assert!(retry_after.is_some(), "a 503 says when to retry");
            assert!(took < Duration::from_secs(8), "failed fast: {took:?}");
            answered_503 += 1;
        }
        // Signing in touches the database before any session exists.
        let fields = [("email", "amina@example.org"), ("password", PASSWORD)];
        let started = Instant::now();
        let sign_in = app.call("/api/accounts/sign_in", &fields, None).await;
        assert_eq!(sign_in.status, 503, "signing in: {}", sign_in.text);
        assert_eq!(sign_in.json["kind"], "unavailable");
        assert_eq!(sign_in.retry_after.as_deref(), Some("5"));
        assert!(started.elapsed() < Duration::from_secs(8));
        let ready = app.get("/ready").await;
        assert_eq!(ready.status(), 503, "/ready says the database is away");
    }
    assert!(answered_503 >= 16);

    relay.up();
    let back = Instant::now();
    loop {
        let statuses: Vec<u16> = round(&app.base, &session, 8)
            .await
            .into_iter()
            .map(|(status, _, _)| status)
            .collect();
        if statuses.iter().all(|s| *s == 200) {
            break;
        }
        assert!(
            statuses.iter().all(|s| *s == 200 || *s == 503),
            "only 503 while recovering: {statuses:?}"
        );
        assert!(
            back.elapsed() < Duration::from_secs(20),
            "did not recover by itself"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..3 {
        for (status, _, _) in round(&app.base, &session, 8).await {
            assert_eq!(status, 200, "after recovery");
        }
    }
    assert_eq!(app.get("/ready").await.status(), 200);
    let fields = [("email", "amina@example.org"), ("password", PASSWORD)];
    let sign_in = app.call("/api/accounts/sign_in", &fields, None).await;
    assert_eq!(sign_in.status, 200, "signing in again: {}", sign_in.text);
}

// --- a full disk ---------------------------------------------------------------------------

#[tokio::test]
async fn a_full_disk_during_an_upload_is_a_clear_507_and_leaves_nothing_behind() {
    let dir = TempDir::new("full-disk");
    let documents = dir.0.join("documents");
    std::fs::create_dir_all(&documents).unwrap();
    // A mount namespace of the process's own (as an unprivileged user namespace's root), in
    // which its documents folder is a 1 MiB tmpfs; the mount goes away with the process.
    let mount = "mount -t tmpfs -o size=1m,mode=0700 tmpfs \"$0\" && exec \"$@\"";
    let documents_arg = documents.display().to_string();
    let wrapper = [
        "unshare",
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        mount,
        documents_arg.as_str(),
    ];
    let database = format!("sqlite://{}/tabibu.db", dir.0.display());
    let server = Tabibu::start(&dir.0, &database, &documents, &[], &wrapper).await;
    let session = sign_up_at(&server.client, &server.base, "amina@example.org", PASSWORD).await;

    let (status, body) = server.upload(&session, png(3 * 1024 * 1024, 1)).await;
    assert_eq!(status, 507, "{body}");
    assert_eq!(body["fields"]["file"], "documents.storage_full", "{body}");
    assert!(
        server.documents(&session).await.is_empty(),
        "no document row for the refused upload"
    );
    // The folder is empty from here too (the tmpfs is only visible inside the namespace, so
    // look through the process's own root).
    let inside = PathBuf::from(format!("/proc/{}/root", server.child.id())).join(
        documents
            .strip_prefix("/")
            .expect("the documents folder is absolute"),
    );
    assert_eq!(files_in(&inside), Vec::<String>::new(), "no bytes left");

    let small = png(200 * 1024, 2);
    let (status, body) = server.upload(&session, small.clone()).await;
    assert_eq!(status, 201, "an upload that fits is stored: {body}");
    let id = body["id"].as_str().unwrap();
    let (status, bytes) = server.download(&session, id).await;
    assert_eq!(status, 200);
    assert_eq!(sha(&bytes), sha(&small), "stored whole");
}

// --- kill -9 during heavy writes -----------------------------------------------------------

/// Uploads by `writers` patients at once until `stop`; returns what was acknowledged (the
/// session, the document id and the file's SHA-256).
async fn upload_until(
    server: &Tabibu,
    sessions: &[String],
    stop: Arc<AtomicBool>,
) -> Vec<(String, String, String)> {
    let writers = sessions.iter().enumerate().map(|(n, session)| {
        let (client, base, session, stop) = (
            server.client.clone(),
            server.base.clone(),
            session.clone(),
            stop.clone(),
        );
        async move {
            let mut acknowledged = Vec::new();
            let mut round = 0u8;
            while !stop.load(Ordering::SeqCst) {
                round = round.wrapping_add(1);
                let bytes = png(150 * 1024 + usize::from(round) * 97, round ^ (n as u8));
                let sent = client
                    .post(format!("{base}/api/documents"))
                    .header("cookie", format!("tabibu_session={session}"))
                    .header("x-filename", "scan.png")
                    .body(bytes.clone())
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != 201 {
                    break;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    break;
                };
                let id = body["id"].as_str().unwrap().to_owned();
                acknowledged.push((session.clone(), id, sha(&bytes)));
            }
            acknowledged
        }
    });
    futures_util::future::join_all(writers)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn kill_during_writes_loses_nothing_acknowledged(backend: Backend) {
    let pg = match backend {
        Backend::Postgres => match PgDatabase::create().await {
            Some(pg) => Some(pg),
            None => return,
        },
        Backend::Sqlite => None,
    };
    let dir = TempDir::new("kill9");
    let documents = dir.0.join("documents");
    let sqlite = dir.0.join("tabibu.db");
    let database = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", sqlite.display()),
    };
    let mut server = Tabibu::start(&dir.0, &database, &documents, &[], &[]).await;
    let mut sessions = Vec::new();
    for n in 0..4 {
        let email = format!("patient{n}@example.org");
        sessions.push(sign_up_at(&server.client, &server.base, &email, PASSWORD).await);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let writing = upload_until(&server, &sessions, stop.clone());
    let killing = async {
        tokio::time::sleep(Duration::from_millis(2500)).await;
        server.signal("KILL");
        stop.store(true, Ordering::SeqCst);
    };
    let (acknowledged, ()) = tokio::join!(writing, killing);
    assert!(
        acknowledged.len() >= 4,
        "the load wrote something before the kill: {}",
        acknowledged.len()
    );
    server.child.wait().unwrap();

    if pg.is_none() {
        // SQLite's own check, before anything opens the file again.
        let url = format!("sqlite://{}", sqlite.display());
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        let (verdict,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(verdict, "ok");
        conn.close().await.unwrap();
    }

    let server = Tabibu::start(&dir.0, &database, &documents, &[], &[]).await;
    for (session, id, digest) in &acknowledged {
        let listed = server.documents(session).await;
        assert!(
            listed.iter().any(|d| d["id"] == id.as_str()),
            "acknowledged document {id} is listed after the restart"
        );
        let (status, bytes) = server.download(session, id).await;
        assert_eq!(status, 200, "acknowledged document {id} opens");
        assert_eq!(&sha(&bytes), digest, "acknowledged document {id} is whole");
    }
    for session in &sessions {
        for document in server.documents(session).await {
            let id = document["id"].as_str().unwrap();
            let (status, bytes) = server.download(session, id).await;
            assert_eq!(status, 200, "every listed document opens: {id}");
            assert_eq!(document["sha256"], sha(&bytes).as_str());
        }
    }
    drop(server);

    let verify = Command::new(env!("CARGO_BIN_EXE_tabibu"))
        .args(["audit", "verify"])
        .current_dir(&dir.0)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database)
        .env("TABIBU_DATA_KEY", TEST_KEY)
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "the audit chain verifies: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[tokio::test]
async fn sqlite_kill_9_during_writes_loses_nothing_acknowledged() {
    kill_during_writes_loses_nothing_acknowledged(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_kill_9_during_writes_loses_nothing_acknowledged() {
    kill_during_writes_loses_nothing_acknowledged(Backend::Postgres).await;
}

// --- SIGTERM during a long upload ----------------------------------------------------------

/// A request body that sends `total` bytes of `bytes` in pieces, one every `pause`.
fn trickle(bytes: Vec<u8>, pieces: usize, pause: Duration) -> reqwest::Body {
    let size = bytes.len().div_ceil(pieces);
    let chunks: Vec<Vec<u8>> = bytes.chunks(size).map(<[u8]>::to_vec).collect();
    let stream = futures_util::stream::unfold(chunks.into_iter(), move |mut rest| async move {
        let next = rest.next()?;
        tokio::time::sleep(pause).await;
        Some((Ok::<_, std::io::Error>(next), rest))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test]
async fn sigterm_during_a_long_upload_drains_it_within_the_shutdown_timeout() {
    let dir = TempDir::new("sigterm");
    let documents = dir.0.join("documents");
    let database = format!("sqlite://{}/tabibu.db", dir.0.display());
    let drain = [("TABIBU_SHUTDOWN_TIMEOUT_SECS", "6")];

    // An upload that ends two seconds after the signal: answered, stored, then a clean exit.
    let mut server = Tabibu::start(&dir.0, &database, &documents, &drain, &[]).await;
    let session = sign_up_at(&server.client, &server.base, "amina@example.org", PASSWORD).await;
    let file = png(2 * 1024 * 1024, 3);
    let upload = tokio::spawn({
        let request = server
            .client
            .post(server.url("/api/documents"))
            .header("cookie", format!("tabibu_session={session}"))
            .header("x-filename", "scan.png")
            .header("content-length", file.len().to_string())
            .body(trickle(file.clone(), 25, Duration::from_millis(100)));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        reqwest::Client::new()
            .get(server.url("/health"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_err(),
        "no new connection is taken after the signal"
    );
    let (status, body) = upload.await.unwrap();
    assert_eq!(status, 201, "the upload in flight finished: {body}");
    let status = server
        .exited_within(Duration::from_secs(8))
        .await
        .expect("exited within the shutdown timeout");
    assert!(status.success(), "a clean exit: {status}");

    let server = Tabibu::start(&dir.0, &database, &documents, &drain, &[]).await;
    let listed = server.documents(&session).await;
    assert_eq!(listed.len(), 1);
    let (_, bytes) = server
        .download(&session, listed[0]["id"].as_str().unwrap())
        .await;
    assert_eq!(sha(&bytes), sha(&file));
    drop(server);

    // An upload that would take far longer than the timeout: cut at the timeout, nothing kept.
    let mut server = Tabibu::start(&dir.0, &database, &documents, &drain, &[]).await;
    let stored_before = files_in(&documents).len();
    let endless = png(8 * 1024 * 1024, 4);
    let cut = tokio::spawn({
        let request = server
            .client
            .post(server.url("/api/documents"))
            .header("cookie", format!("tabibu_session={session}"))
            .header("x-filename", "scan.png")
            .header("content-length", endless.len().to_string())
            .body(trickle(endless, 400, Duration::from_millis(100)));
        async move { request.send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    let signalled = Instant::now();
    server.signal("TERM");
    let status = server
        .exited_within(Duration::from_secs(10))
        .await
        .expect("exited even with an upload still arriving");
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "within the 6 s timeout (and a little): {took:?}"
    );
    assert!(status.success(), "still a clean exit: {status}");
    let answered = cut.await.unwrap();
    assert!(
        answered.as_ref().map_or(true, |status| *status != 201),
        "the cut upload was not acknowledged: {answered:?}"
    );
    assert_eq!(
        files_in(&documents).len(),
        stored_before,
        "no temporary file left: {:?}",
        files_in(&documents)
    );

    let server = Tabibu::start(&dir.0, &database, &documents, &drain, &[]).await;
    assert_eq!(
        server.documents(&session).await.len(),
        1,
        "no half document"
    );
}
