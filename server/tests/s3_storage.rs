//! Documents in an S3-compatible bucket (`TABIBU_DOCUMENTS_STORE=s3`), against a real
//! S3-compatible server (moto, see `support::moto`), on both databases: an upload lands in
//! the bucket under the prefix as ciphertext only, comes back byte for byte, and goes when
//! deleted; a file larger than one part goes up in parts; an upload cut off or refused half
//! way leaves no object and no unfinished multipart upload; key rotation moves the objects to
//! new keys; and a backup holds the bucket's documents, checked, and restores them into it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::process::{Command, Output};
use support::moto::{self, Moto};
use support::{Backend, TestApp};
use tabibu_app::documents::types::encode_filename;

const PASSWORD: &str = "correct horse battery staple";
const PREFIX: &str = "clinic/documents";
const TEST_KEY: &str = "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=";
const NEW_KEY: &str = "bmV3LXRhYmlidS1rZXktZm9yLXJvdGF0aW9uLXRlc3Q=";
const MIB: usize = 1024 * 1024;

/// A PDF the upload accepts, its text a line a patient would not want to see in a bucket.
fn pdf(len: usize) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n% Haemoglobin 10.2 g/dL for Amina Otieno\n".to_vec();
    let filler = b"Amina Otieno: HIV viral load undetectable. ";
    while pdf.len() < len {
        pdf.extend_from_slice(filler);
    }
    pdf.truncate(len);
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

/// The app on `backend` with its documents in a new bucket of `moto`; `None` when moto or
/// (outside CI) PostgreSQL is missing.
async fn app_on_s3(
    backend: Backend,
    extra: &[(&str, &str)],
) -> Option<(TestApp, &'static Moto, String)> {
    let moto = moto::moto()?;
    let bucket = moto.bucket().await;
    let mut vars = moto.vars(&bucket, PREFIX);
    vars.extend_from_slice(extra);
    let app = support::spawn_app_with(backend, &vars).await?;
    Some((app, moto, bucket))
}

async fn upload(
    app: &TestApp,
    session: &str,
    body: reqwest::Body,
) -> Result<(u16, serde_json::Value), reqwest::Error> {
    // A client of its own: the server closes a connection whose upload it refused half way,
    // and a pooled one would be reused for the next request.
    let response = reqwest::Client::new()
        .post(app.url("/api/documents"))
        .header("x-filename", encode_filename("viral load.pdf"))
        .header("cookie", format!("tabibu_session={session}"))
        .body(body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    ))
}

async fn upload_ok(app: &TestApp, session: &str, bytes: Vec<u8>) -> String {
    let (status, json) = upload(app, session, bytes.into()).await.unwrap();
    assert_eq!(status, 201, "{json}");
    json["id"].as_str().unwrap().to_owned()
}

async fn storage_key(app: &TestApp, id: &str) -> String {
    sqlx::query("SELECT storage_key FROM documents WHERE id = $1")
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0)
}

/// The stored (sealed) bytes of the object under `key`, read with the app's own credentials:
/// moto lets anyone list a bucket, but reading an object needs a signed request.
async fn sealed(app: &TestApp, key: &str) -> Vec<u8> {
    use tabibu_app::documents::storage::DocumentStore;
    use tokio::io::AsyncReadExt;
    let mut reader = app.state.documents.open(key).await.unwrap();
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).await.unwrap();
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `len` bytes of a PDF as a chunked body of 64 KiB pieces; with `fail`, the stream breaks
/// off with an error after the last piece instead of ending.
fn chunked(len: usize, fail: bool) -> reqwest::Body {
    let bytes = pdf(len);
    let mut pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    if fail {
        pieces.push(Err(std::io::Error::other(
            "the patient's phone lost its signal",
        )));
    }
    reqwest::Body::wrap_stream(futures_util::stream::iter(pieces))
}

async fn stored_in_bucket_as_ciphertext(backend: Backend) {
    let Some((app, moto, bucket)) = app_on_s3(backend, &[]).await else {
        return;
    };
    let session = app.sign_up("amina@example.com", PASSWORD).await;
    let plain = pdf(300_000);
    let id = upload_ok(&app, &session, plain.clone()).await;

    let key = storage_key(&app, &id).await;
    assert_eq!(moto.objects(&bucket).await, vec![format!("{PREFIX}/{key}")]);
    let sealed = sealed(&app, &key).await;
    assert!(sealed.starts_with(b"TBDOC1"));
    assert!(
        !contains(&sealed, b"Amina Otieno"),
        "the plaintext shows in the bucket"
    );
    assert!(!contains(&sealed, &plain[..64]));
    assert!(
        !app.state.config.documents_dir().exists(),
        "nothing is written to the local folder"
    );
    assert_eq!(app.download(&session, &id).await, (200, plain));

    let deleted = app
        .call("/api/documents/delete", &[("id", &id)], Some(&session))
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(
        moto.objects(&bucket).await.is_empty(),
        "the object is deleted"
    );
    assert_eq!(app.download(&session, &id).await.0, 404);
}

async fn a_large_file_goes_up_in_parts(backend: Backend) {
    let Some((app, moto, bucket)) = app_on_s3(backend, &[]).await else {
        return;
    };
    let session = app.sign_up("amina@example.com", PASSWORD).await;
    let plain = pdf(12 * MIB);
    let id = upload_ok(&app, &session, plain.clone()).await;
    let key = storage_key(&app, &id).await;
    assert_eq!(moto.objects(&bucket).await, vec![format!("{PREFIX}/{key}")]);
    assert!(
        sealed(&app, &key).await.len() > plain.len(),
        "whole, with its tags"
    );
    moto.assert_no_unfinished_uploads(&bucket).await;
    let (status, back) = app.download(&session, &id).await;
    assert_eq!(status, 200);
    assert!(back == plain, "12 MiB come back byte for byte");
}

async fn a_cut_or_refused_upload_leaves_nothing_in_the_bucket(backend: Backend) {
    let Some((app, moto, bucket)) = app_on_s3(backend, &[("TABIBU_MAX_UPLOAD_MB", "7")]).await
    else {
        return;
    };
    let session = app.sign_up("amina@example.com", PASSWORD).await;
    // Cut off after 6 MiB: a multipart upload had begun (more than one part's worth).
    let cut = upload(&app, &session, chunked(6 * MIB, true)).await;
    assert!(!matches!(cut, Ok((201, _))), "{cut:?}");
    // Refused at 7 MiB, again after the first part had gone up.
    let refused = upload(&app, &session, chunked(9 * MIB, false)).await;
    if let Ok((status, _)) = refused {
        assert_eq!(status, 413);
    }
    // Not a document at all: refused before anything is sent.
    let (status, _) = upload(&app, &session, b"MZ\x90\x00 not a pdf".to_vec().into())
        .await
        .unwrap();
    assert_eq!(status, 415);

    moto.assert_no_unfinished_uploads(&bucket).await;
    assert!(moto.objects(&bucket).await.is_empty());
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM documents")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

async fn key_rotation_moves_the_objects(backend: Backend) {
    let Some((old, moto, bucket)) = app_on_s3(backend, &[]).await else {
        return;
    };
    let session = old.sign_up("amina@example.com", PASSWORD).await;
    let plain = pdf(200_000);
    let id = upload_ok(&old, &session, plain.clone()).await;
    let before = moto.objects(&bucket).await;

    let mut vars = moto.vars(&bucket, PREFIX);
    vars.extend_from_slice(&[
        ("TABIBU_DATA_KEY", NEW_KEY),
        ("TABIBU_DATA_KEY_ID", "k2"),
        ("TABIBU_DATA_KEY_PREVIOUS", TEST_KEY),
        ("TABIBU_DATA_KEY_PREVIOUS_ID", "k1"),
    ]);
    let rotating = support::spawn_peer(&old, &vars).await;
    let resealed = tabibu_app::documents::service::reseal_all(&rotating.state)
        .await
        .unwrap();
    assert_eq!(resealed, 1);
    let key = storage_key(&old, &id).await;
    let after = moto.objects(&bucket).await;
    assert_eq!(
        after,
        vec![format!("{PREFIX}/{key}")],
        "the old object is gone"
    );
    assert_ne!(after, before);

    let mut vars = moto.vars(&bucket, PREFIX);
    vars.extend_from_slice(&[("TABIBU_DATA_KEY", NEW_KEY), ("TABIBU_DATA_KEY_ID", "k2")]);
    let new_only = support::spawn_peer(&old, &vars).await;
    assert_eq!(new_only.download(&session, &id).await, (200, plain));
}

/// The `tabibu` binary with `app`'s database and the S3 settings, in an empty folder.
fn tabibu(app: &TestApp, s3: &[(&str, &str)], args: &[&str]) -> Output {
    let cwd = std::env::temp_dir().join(format!("tabibu-s3-cwd-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&cwd).unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tabibu"));
    command
        .args(args)
        .current_dir(&cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            app.state.config.database_url.expose_secret(),
        )
        .env("TABIBU_DATA_KEY", TEST_KEY)
        .env("LEPTOS_SITE_ADDR", free);
    for (name, value) in s3 {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    std::fs::remove_dir_all(&cwd).ok();
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

async fn backup_and_restore_through_the_bucket(backend: Backend) {
    let Some((app, moto, bucket)) = app_on_s3(backend, &[]).await else {
        return;
    };
    let session = app.sign_up("amina@example.com", PASSWORD).await;
    let mut documents = Vec::new();
    for len in [50_000, 400_000] {
        let plain = pdf(len);
        documents.push((upload_ok(&app, &session, plain.clone()).await, plain));
    }
    let s3 = moto.vars(&bucket, PREFIX);
    let backups = std::env::temp_dir().join(format!(
        "tabibu-s3-backup-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let dir = backups.join("nightly");
    let out = tabibu(&app, &s3, &["backup", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 document files"), "{}", text(&out));
    assert!(!text(&out).contains(moto::SECRET_ACCESS_KEY));

    // The backup holds each object as it is in the bucket, with its checksum.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("MANIFEST")).unwrap()).unwrap();
    let mut keys = Vec::new();
    for (id, _) in &documents {
        let key = storage_key(&app, id).await;
        let object = sealed(&app, &key).await;
        assert_eq!(
            manifest["files"][format!("documents/{key}")]["sha256"],
            hex::encode(Sha256::digest(&object)).as_str()
        );
        assert_eq!(
            std::fs::read(dir.join("documents").join(&key)).unwrap(),
            object
        );
        keys.push(key);
    }

    // Wipe: the database and the bucket.
    support::wipe_database(&app).await;
    for key in &keys {
        use tabibu_app::documents::storage::DocumentStore;
        app.state.documents.remove(key).await.unwrap();
    }
    assert!(moto.objects(&bucket).await.is_empty());

    let out = tabibu(&app, &s3, &["restore", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let mut expected: Vec<String> = keys.iter().map(|k| format!("{PREFIX}/{k}")).collect();
    expected.sort();
    assert_eq!(moto.objects(&bucket).await, expected);

    // A second restore finds data in the bucket and the database, and wants --force.
    let out = tabibu(&app, &s3, &["restore", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--force"), "{}", text(&out));

    // The restored documents open, from the bucket, with the key.
    let state = tabibu_server::build_state((*app.state.config).clone())
        .await
        .unwrap();
    for (id, plain) in &documents {
        let mut opened = tabibu_app::documents::service::open_document(&state, id)
            .await
            .unwrap()
            .expect("the restored document is found");
        let mut back = Vec::new();
        while let Some(chunk) = opened.opener.next_chunk().await.unwrap() {
            back.extend_from_slice(&chunk);
        }
        assert!(back == *plain, "document {id} opens to what was uploaded");
    }
    state.db.close().await;
    std::fs::remove_dir_all(&backups).ok();
}

/// One `#[tokio::test]` per database for each scenario above.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both!(
    stored_in_bucket_as_ciphertext,
    a_large_file_goes_up_in_parts,
    a_cut_or_refused_upload_leaves_nothing_in_the_bucket,
    key_rotation_moves_the_objects,
    backup_and_restore_through_the_bucket,
);

#[tokio::test]
async fn check_config_lists_the_bucket_and_shows_no_credential() {
    let Some((app, moto, bucket)) = app_on_s3(Backend::Sqlite, &[]).await else {
        return;
    };
    let s3 = moto.vars(&bucket, PREFIX);
    let out = tabibu(&app, &s3, &["check-config"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    assert!(
        shown.contains(&format!("TABIBU_S3_BUCKET={bucket}")),
        "{shown}"
    );
    assert!(shown.contains("the bucket can be listed"), "{shown}");
    assert!(!shown.contains(moto::SECRET_ACCESS_KEY) && !shown.contains(moto::ACCESS_KEY_ID));

    let mut missing = s3.clone();
    missing.retain(|(name, _)| *name != "TABIBU_S3_BUCKET");
    missing.push(("TABIBU_S3_BUCKET", "no-such-bucket-here"));
    let out = tabibu(&app, &missing, &["check-config"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(moto::SECRET_ACCESS_KEY));
}

#[test]
fn a_missing_bucket_or_secret_is_a_configuration_error_that_shows_no_secret() {
    let config = support::config_from;
    let err = config(&[("TABIBU_DOCUMENTS_STORE", "s3")]).unwrap_err();
    assert_eq!(err.variable, "TABIBU_S3_BUCKET");
    let ok = config(&[
        ("TABIBU_DOCUMENTS_STORE", "s3"),
        ("TABIBU_S3_BUCKET", "tabibu-docs"),
        ("TABIBU_S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("TABIBU_S3_ACCESS_KEY_ID", moto::ACCESS_KEY_ID),
        ("TABIBU_S3_SECRET_ACCESS_KEY", moto::SECRET_ACCESS_KEY),
    ])
    .unwrap();
    let shown = format!("{ok:?} {:?}", ok.summary());
    assert!(!shown.contains(moto::SECRET_ACCESS_KEY) && !shown.contains(moto::ACCESS_KEY_ID));
    assert!(shown.contains("tabibu-docs"));
}
