//! `tabibu backup` and `tabibu restore` through the real binary, on both databases: an app
//! with accounts, documents and a consultation is backed up while it runs, wiped, and
//! restored, and every table's row count and every document file's checksum come back, the
//! documents still open with the key, and the audit chain still holds. A restore refuses,
//! changing nothing, when the target holds data (unless forced), when a server answers at
//! the configured address, when a file of the backup was altered, when the data key is
//! another one, and (PostgreSQL) when the database has tables the backup does not; forced, it
//! replaces the data and keeps what was there aside.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use sqlx::Connection;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tabibu_app::accounts::types::Role;
use tabibu_app::documents::types::encode_filename;

const PASSWORD: &str = "correct horse battery staple";
/// The key `support::spawn_app` configures.
const TEST_KEY: &str = "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=";

/// A folder removed when the test ends, however it ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("tabibu-{label}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// An address nothing listens on.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// The `tabibu` binary configured for `app`'s database and documents, run in an empty folder
/// with nothing else from the environment but PATH.
fn tabibu(app: &support::TestApp, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let cwd = TempDir::new("backup-cwd");
    let config = &app.state.config;
    let mut command = Command::new(env!("CARGO_BIN_EXE_tabibu"));
    command
        .args(args)
        .current_dir(&cwd.0)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", config.database_url.expose_secret())
        .env("TABIBU_DOCUMENTS_DIR", config.documents_dir())
        .env("TABIBU_DATA_KEY", TEST_KEY)
        .env("LEPTOS_SITE_ADDR", free_addr());
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A tiny PDF: enough for the upload to accept it as one.
fn pdf(label: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {label}\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
        .into_bytes()
}

/// A PNG header of 2 x 2 pixels, then some bytes so it spans more than one sealed chunk.
fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend_from_slice(&2u32.to_be_bytes());
    v.extend_from_slice(&2u32.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    v.extend((0..150_000u32).map(|i| (i % 251) as u8));
    v
}

async fn upload(app: &support::TestApp, session: &str, name: &str, bytes: Vec<u8>) -> String {
    let response = app
        .client
        .post(app.url("/api/documents"))
        .header("x-filename", encode_filename(name))
        .header("cookie", format!("tabibu_session={session}"))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let json: serde_json::Value = response.json().await.unwrap();
    json["id"].as_str().unwrap().to_owned()
}

/// Two patients with documents, a doctor, and a claimed consultation with a message.
/// Returns the documents' ids and plaintexts.
async fn fill(app: &support::TestApp, tag: &str) -> Vec<(String, Vec<u8>)> {
    let first = app
        .sign_up(&format!("amina-{tag}@example.com"), PASSWORD)
        .await;
    let second = app
        .sign_up(&format!("baraka-{tag}@example.com"), PASSWORD)
        .await;
    let mut documents = Vec::new();
    for (session, name, bytes) in [
        (&first, "lab report.pdf", pdf(tag)),
        (&first, "rash.png", png()),
        (&second, "discharge.pdf", pdf(&format!("{tag}-2"))),
    ] {
        let id = upload(app, session, name, bytes.clone()).await;
        documents.push((id, bytes));
    }
    let doctor_email = format!("doctor-{tag}@example.com");
    app.create_staff(&doctor_email, PASSWORD, Role::Doctor)
        .await;
    let doctor = app
        .call(
            "/api/accounts/sign_in",
            &[("email", &doctor_email), ("password", PASSWORD)],
            None,
        )
        .await
        .session
        .unwrap();
    let consultation = app
        .call(
            "/api/consultations/request",
            &[
                ("note", "a cough for a week"),
                ("request_key", &format!("backup-key-{tag}")),
            ],
            Some(&first),
        )
        .await;
    assert_eq!(consultation.status, 200, "{}", consultation.text);
    let id = consultation.json.as_str().unwrap().to_owned();
    let claim = app
        .call("/api/consultations/claim", &[("id", &id)], Some(&doctor))
        .await;
    assert_eq!(claim.status, 200, "{}", claim.text);
    let sent = app
        .call(
            "/api/consultations/send",
            &[
                ("id", &id),
                ("body", "Any fever?"),
                ("client_key", &format!("msg-key-{tag}")),
            ],
            Some(&doctor),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    documents
}

/// Every table's row count, read through a connection of its own.
async fn counts(url: &str) -> BTreeMap<String, i64> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let list = if url.starts_with("sqlite:") {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    } else {
        "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = current_schema()"
    };
    let tables: Vec<String> = sqlx::query_scalar(list).fetch_all(&mut conn).await.unwrap();
    let mut counts = BTreeMap::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        counts.insert(table, n);
    }
    conn.close().await.ok();
    counts
}

/// The SHA-256 of every file in the documents folder, by name.
fn checksums(dir: &Path) -> BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .map(|e| e.unwrap())
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                hex::encode(Sha256::digest(&bytes)),
            )
        })
        .collect()
}

/// Everything the operator would call "the data": row counts and document checksums.
async fn snapshot(app: &support::TestApp) -> (BTreeMap<String, i64>, BTreeMap<String, String>) {
    (
        counts(app.state.config.database_url.expose_secret()).await,
        checksums(&app.state.config.documents_dir()),
    )
}

/// Deletes the database and the documents: the SQLite file (with its journal files) or the
/// PostgreSQL database (made again, empty, under the same name).
async fn wipe(app: &support::TestApp) {
    support::wipe_database(app).await;
    std::fs::remove_dir_all(app.state.config.documents_dir()).unwrap();
}

/// Opens each document through a server state built on the restored data, as the server
/// would, and compares the plaintext with what was uploaded.
async fn documents_open(app: &support::TestApp, documents: &[(String, Vec<u8>)]) {
    let config = (*app.state.config).clone();
    let state = tabibu_server::build_state(config).await.unwrap();
    for (id, bytes) in documents {
        let mut opened = tabibu_app::documents::service::open_document(&state, id)
            .await
            .unwrap()
            .expect("the restored document is found");
        let mut plain = Vec::new();
        while let Some(chunk) = opened.opener.next_chunk().await.unwrap() {
            plain.extend_from_slice(&chunk);
        }
        assert!(plain == *bytes, "document {id} opens to what was uploaded");
    }
    state.db.close().await;
}

on_both_databases! {
    async fn backup_then_wipe_then_restore_brings_every_row_and_document_back(app) {
        let documents = fill(&app, "one").await;
        let (rows_before, files_before) = snapshot(&app).await;
        assert_eq!(files_before.len(), 3);
        assert!(rows_before["users"] >= 3 && rows_before["consultations"] == 1);

        // Online: the server is still running while the backup is taken.
        let backups = TempDir::new("backups");
        let dir = backups.0.join("nightly");
        let out = tabibu(&app, &["backup", dir.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("3 document files"), "{}", text(&out));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("MANIFEST")).unwrap()).unwrap();
        for (table, n) in &rows_before {
            assert_eq!(manifest["tables"][table], *n, "manifest count of {table}");
        }
        for (name, sum) in &files_before {
            assert_eq!(manifest["files"][format!("documents/{name}")]["sha256"], sum.as_str());
        }
        assert!(!backups.0.join("nightly.partial").exists());

        wipe(&app).await;
        assert!(checksums(&app.state.config.documents_dir()).is_empty());

        let out = tabibu(&app, &["restore", dir.to_str().unwrap()], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("every row count matches"), "{}", text(&out));

        let (rows_after, files_after) = snapshot(&app).await;
        assert_eq!(rows_after, rows_before);
        assert_eq!(files_after, files_before);
        let audit = tabibu(&app, &["audit", "verify"], &[]);
        assert!(audit.status.success(), "{}", text(&audit));
        documents_open(&app, &documents).await;
    }

    async fn a_restore_refuses_to_overwrite_data_and_changes_nothing_until_forced(app) {
        let source_documents = fill(&app, "src").await;
        let (source_rows, source_files) = snapshot(&app).await;
        let backups = TempDir::new("backups");
        let dir = backups.0.join("b");
        let dir_arg = dir.to_str().unwrap();
        let out = tabibu(&app, &["backup", dir_arg], &[]);
        assert!(out.status.success(), "{}", text(&out));

        let target = support::spawn_app(app.backend()).await.unwrap();
        fill(&target, "dst").await;
        let before = snapshot(&target).await;

        // Data in the target.
        let out = tabibu(&target, &["restore", dir_arg], &[]);
        assert!(!out.status.success());
        assert!(text(&out).contains("not empty") && text(&out).contains("--force"), "{}", text(&out));
        assert_eq!(snapshot(&target).await, before);

        // A server answering at the configured address.
        let running = target.addr.to_string();
        let out = tabibu(&target, &["restore", "--force", dir_arg], &[("LEPTOS_SITE_ADDR", &running)]);
        assert!(!out.status.success());
        assert!(text(&out).contains("stop the server first"), "{}", text(&out));
        assert_eq!(snapshot(&target).await, before);

        // Another data key.
        let other_key = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktISE=";
        let out = tabibu(&target, &["restore", "--force", dir_arg], &[("TABIBU_DATA_KEY", other_key)]);
        assert!(!out.status.success());
        assert!(text(&out).contains("data key"), "{}", text(&out));
        assert_eq!(snapshot(&target).await, before);

        // PostgreSQL: a table from a newer release, which pg_restore would leave behind.
        if target.backend() == support::Backend::Postgres {
            let pool = target.state.db.pool();
            sqlx::query("CREATE TABLE from_a_newer_release (id BIGINT)").execute(pool).await.unwrap();
            let out = tabibu(&target, &["restore", "--force", dir_arg], &[]);
            assert!(!out.status.success());
            assert!(text(&out).contains("from_a_newer_release"), "{}", text(&out));
            sqlx::query("DROP TABLE from_a_newer_release").execute(pool).await.unwrap();
            assert_eq!(snapshot(&target).await, before);
        }

        // An altered file: one byte of one document.
        let altered = backups.0.join("altered");
        std::fs::create_dir_all(altered.join("documents")).unwrap();
        for entry in walk(&dir) {
            let relative = entry.strip_prefix(&dir).unwrap();
            std::fs::copy(&entry, altered.join(relative)).unwrap();
        }
        let victim = altered.join("documents").join(source_files.keys().next().unwrap());
        let mut bytes = std::fs::read(&victim).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&victim, bytes).unwrap();
        let out = tabibu(&target, &["restore", "--check", altered.to_str().unwrap()], &[]);
        assert!(!out.status.success());
        assert!(text(&out).contains("has changed"), "{}", text(&out));
        let out = tabibu(&target, &["restore", "--force", altered.to_str().unwrap()], &[]);
        assert!(!out.status.success());
        assert_eq!(snapshot(&target).await, before);

        // The untouched backup checks out, and forced, replaces the target's data.
        let out = tabibu(&target, &["restore", "--check", dir_arg], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(text(&out).contains("every checksum matches"), "{}", text(&out));
        assert_eq!(snapshot(&target).await, before);
        target.state.db.close().await;
        let out = tabibu(&target, &["restore", "--force", dir_arg], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(snapshot(&target).await, (source_rows, source_files));
        documents_open(&target, &source_documents).await;

        // What was replaced is kept aside: the old documents (and the old SQLite file).
        let documents = target.state.config.documents_dir();
        let parent = documents.parent().unwrap();
        let aside: Vec<PathBuf> = std::fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".replaced-"))
            .collect();
        assert!(aside.iter().any(|p| checksums(p) == before.1), "{aside:?}");
        if target.backend() == support::Backend::Sqlite {
            let url = target.state.config.database_url.expose_secret().to_owned();
            let db = PathBuf::from(url.strip_prefix("sqlite://").unwrap());
            let kept = std::fs::read_dir(db.parent().unwrap())
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    name.starts_with("tabibu.db.replaced-") && !name.ends_with("-wal") && !name.ends_with("-shm")
                })
                .expect("the replaced database is kept");
            assert_eq!(counts(&format!("sqlite://{}", kept.display())).await, before.0);
        }
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
