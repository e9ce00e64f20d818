//! Rotating the data key, on one database shared by instances configured as an operator would
//! during a rotation: documents and two-factor secrets sealed under the old key stay readable
//! while both keys are configured, `rotate-key`'s work seals them again under the new key
//! (each document's file replaced, the old one removed; running it again does nothing), and
//! afterwards the new key alone opens everything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sqlx::Row;
use support::{Backend, TestApp};
use tabibu_app::accounts::totp;
use tabibu_app::documents::types::encode_filename;

const OLD_KEY: &str = "dGFiaWJ1LXRlc3Qta2V5LW5vdC1mb3ItcHJvZCEhISE=";
const NEW_KEY: &str = "bmV3LXRhYmlidS1rZXktZm9yLXJvdGF0aW9uLXRlc3Q=";

fn lab_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend(std::iter::repeat_n(b'x', 300_000));
    pdf.extend_from_slice(b"\n%%EOF\n");
    pdf
}

fn files(app: &TestApp) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(app.state.config.documents_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn rotation(old: TestApp) {
    let session = old
        .sign_up("rotate@example.com", "correct horse battery staple")
        .await;
    let pdf = lab_pdf();
    let response = old
        .client
        .post(old.url("/api/documents"))
        .header("x-filename", encode_filename("blood count.pdf"))
        .header("cookie", format!("tabibu_session={session}"))
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A two-factor secret sealed under the old key.
    let secret = totp::generate_secret();
    let sealed = totp::seal(&secret, old.state.data_key.bytes()).unwrap();
    sqlx::query("UPDATE users SET mfa_secret = $1 WHERE email = $2")
        .bind(&sealed)
        .bind("rotate@example.com")
        .execute(old.state.db.pool())
        .await
        .unwrap();
    let before = files(&old);
    assert_eq!(before.len(), 1);

    // During the rotation: the new key, and the old one as previous.
    let rotating = support::spawn_peer(
        &old,
        &[
            ("TABIBU_DATA_KEY", NEW_KEY),
            ("TABIBU_DATA_KEY_ID", "k2"),
            ("TABIBU_DATA_KEY_PREVIOUS", OLD_KEY),
            ("TABIBU_DATA_KEY_PREVIOUS_ID", "k1"),
        ],
    )
    .await;
    assert_eq!(rotating.download(&session, &id).await, (200, pdf.clone()));

    let documents = tabibu_app::documents::service::reseal_all(&rotating.state)
        .await
        .unwrap();
    let secrets = tabibu_app::accounts::service::reseal_mfa_secrets(&rotating.state)
        .await
        .unwrap();
    assert_eq!((documents, secrets), (1, 1));
    // Again: nothing left to do.
    let again = tabibu_app::documents::service::reseal_all(&rotating.state)
        .await
        .unwrap();
    let again_secrets = tabibu_app::accounts::service::reseal_mfa_secrets(&rotating.state)
        .await
        .unwrap();
    assert_eq!((again, again_secrets), (0, 0));

    let row = sqlx::query("SELECT key_id, storage_key FROM documents WHERE id = $1")
        .bind(&id)
        .fetch_one(old.state.db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), "k2");
    let after = files(&old);
    assert_eq!(
        after,
        vec![row.get::<String, _>(1)],
        "the old file is gone, the new one is there"
    );
    assert_ne!(after, before);

    // Afterwards the new key alone opens everything.
    let new_only = support::spawn_peer(
        &old,
        &[("TABIBU_DATA_KEY", NEW_KEY), ("TABIBU_DATA_KEY_ID", "k2")],
    )
    .await;
    assert_eq!(new_only.download(&session, &id).await, (200, pdf));
    let resealed: String = sqlx::query_scalar("SELECT mfa_secret FROM users WHERE email = $1")
        .bind("rotate@example.com")
        .fetch_one(old.state.db.pool())
        .await
        .unwrap();
    let opened = totp::open(&resealed, new_only.state.data_key.bytes()).unwrap();
    assert_eq!(opened.expose_bytes(), secret.expose_bytes());
    assert!(totp::open(&resealed, old.state.data_key.bytes()).is_err());
    // And the old key alone no longer does: nothing is left under it.
    let (status, _) = old.download(&session, &id).await;
    assert_eq!(
        status, 500,
        "the old key cannot open what the new one sealed"
    );
}

#[tokio::test]
async fn sqlite_documents_and_secrets_move_to_the_new_key() {
    rotation(support::spawn_app(Backend::Sqlite).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_documents_and_secrets_move_to_the_new_key() {
    let Some(app) = support::spawn_app(Backend::Postgres).await else {
        return;
    };
    rotation(app).await;
}

#[test]
fn a_previous_key_needs_its_own_id() {
    let config = support::config_from;
    assert_eq!(
        config(&[("TABIBU_DATA_KEY_PREVIOUS", OLD_KEY)])
            .unwrap_err()
            .variable,
        "TABIBU_DATA_KEY_PREVIOUS_ID"
    );
    assert_eq!(
        config(&[
            ("TABIBU_DATA_KEY_PREVIOUS", OLD_KEY),
            ("TABIBU_DATA_KEY_PREVIOUS_ID", "k1"),
        ])
        .unwrap_err()
        .variable,
        "TABIBU_DATA_KEY_PREVIOUS_ID",
        "the same id as the current key is refused"
    );
}
