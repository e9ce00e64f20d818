//! Documents through the real server: a lab report built here by hand is stored encrypted,
//! listed, its values read and flagged, and downloaded byte for byte; wrong, empty, absurd,
//! oversized, cross-site and interrupted uploads leave no row and no file; nobody but the
//! owner can see, fetch or delete a document, and another patient learns nothing of it; every
//! step is audited; the FHIR export, the timeline and account deletion include documents.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sha2::{Digest, Sha256};
use sqlx::Row;
use std::path::PathBuf;
use std::time::Duration;
use tabibu_app::accounts::types::Role;
use tabibu_app::audit::{self, AuditFilter};
use tabibu_app::documents::types::encode_filename;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "correct horse battery staple";

const REPORT: &[&str] = &[
    "Nairobi City Laboratory",
    "Tel: +254 712 345 678",
    "Date: 12/03/2026",
    "Haemoglobin 10.2 g/dL 12.0 - 15.5",
    "WBC: 13.5 x10^9/L (4.0-11.0) H",
    "Potassium 3.1 mmol/L [3.5-5.1] L",
    "Sodium 140 mmol/L 135 - 145",
    "Page 1 of 1",
];

/// A minimal valid PDF: one page whose content stream shows `lines`, with a correct
/// cross-reference table.
fn lab_pdf(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 11 Tf 14 TL 72 750 Td\n");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        content.push_str(&format!("({escaped}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The start of a PNG of `width` x `height` (signature and header chunk).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend_from_slice(&width.to_be_bytes());
    v.extend_from_slice(&height.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    v.extend_from_slice(b"\x00\x00\x00\x00IEND\xaeB`\x82");
    v
}

async fn upload(
    app: &support::TestApp,
    session: Option<&str>,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, serde_json::Value) {
    let mut request = app
        .client
        .post(app.url("/api/documents"))
        .header("x-filename", encode_filename(name))
        .body(bytes);
    if let Some(token) = session {
        request = request.header("cookie", format!("tabibu_session={token}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let json = response.json().await.unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// Everything in the documents folder, temporary files included.
fn stored_files(app: &support::TestApp) -> Vec<PathBuf> {
    match std::fs::read_dir(app.state.config.documents_dir()) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

async fn count(app: &support::TestApp, table: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0)
}

async fn audit_codes(app: &support::TestApp) -> Vec<String> {
    audit::list(&app.state.db, &AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn sign_in_doctor(app: &support::TestApp) -> String {
    app.create_staff("doctor@example.com", PASSWORD, Role::Doctor)
        .await;
    app.call(
        "/api/accounts/sign_in",
        &[("email", "doctor@example.com"), ("password", PASSWORD)],
        None,
    )
    .await
    .session
    .unwrap()
}

/// Waits (up to 10 s) until `check` holds; the server cleans up after a dropped connection
/// on its own time.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never happened: {what}");
}

/// Sends `head` (request line and headers) and `body` on a raw connection of its own; the
/// answer's status, whether it says it closes the connection, and its body.
async fn raw_exchange(app: &support::TestApp, head: &str, body: &[u8]) -> (u16, bool, String) {
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            if let Some((headers, rest)) = text.split_once("\r\n\r\n") {
                let length = headers.lines().find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                });
                if length.is_some_and(|n| rest.len() >= n) {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let closes = headers
        .lines()
        .any(|line| line.eq_ignore_ascii_case("connection: close"));
    (status, closes, body.to_owned())
}

fn post_head(app: &support::TestApp, session: &str, length_header: &str) -> String {
    format!(
        "POST /api/documents HTTP/1.1\r\nhost: {}\r\ncookie: tabibu_session={session}\r\n\
         x-filename: big.pdf\r\n{length_header}\r\n",
        app.addr
    )
}

async fn over_the_limit_is_refused_while_streaming(backend: support::Backend) {
    let Some(app) = support::spawn_app_with(backend, &[("TABIBU_MAX_UPLOAD_MB", "1")]).await else {
        return;
    };
    let amina = app.sign_up("amina@example.com", PASSWORD).await;
    // Declared too large: refused before a byte of the body is read.
    let head = post_head(&app, &amina, "content-length: 2097152\r\n");
    let (status, closes, body) = raw_exchange(&app, &head, b"").await;
    assert_eq!(status, 413, "{body}");
    // The body was never read, so the connection cannot carry another request.
    assert!(closes, "a refused upload closes its connection");
    assert!(body.contains("documents.too_large"), "{body}");
    // Not declared (chunked): refused as soon as the count passes the limit.
    let head = post_head(&app, &amina, "transfer-encoding: chunked\r\n");
    let mut body = Vec::new();
    let mut pdf = lab_pdf(REPORT);
    pdf.resize(64 * 1024, b' ');
    for i in 0..17 {
        let chunk: &[u8] = if i == 0 { &pdf } else { &[b' '; 64 * 1024] };
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(chunk);
        body.extend_from_slice(b"\r\n");
    }
    let (status, closes, answer) = raw_exchange(&app, &head, &body).await;
    assert_eq!(status, 413, "{answer}");
    assert!(closes, "a refused upload closes its connection");
    assert!(answer.contains("documents.too_large"), "{answer}");
    assert_eq!(count(&app, "documents").await, 0);
    eventually("no file is left", || stored_files(&app).is_empty()).await;
    // Within the limit, the same file is welcome.
    assert_eq!(
        upload(&app, Some(&amina), "small.pdf", lab_pdf(REPORT))
            .await
            .0,
        201
    );
}

#[tokio::test]
async fn sqlite_an_upload_over_the_limit_is_refused_while_it_streams_and_leaves_nothing() {
    over_the_limit_is_refused_while_streaming(support::Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_an_upload_over_the_limit_is_refused_while_it_streams_and_leaves_nothing() {
    over_the_limit_is_refused_while_streaming(support::Backend::Postgres).await;
}

on_both_databases! {
    async fn a_lab_report_is_stored_encrypted_listed_read_and_downloaded_byte_for_byte(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let pdf = lab_pdf(REPORT);
        let name = "Majibu ya damu – Julai.pdf";
        let (status, created) = upload(&app, Some(&amina), name, pdf.clone()).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["content_type"], "application/pdf");
        assert_eq!(created["text_status"], "extracted");
        assert_eq!(created["lab_count"], 4);
        assert_eq!(created["sha256"], hex::encode(Sha256::digest(&pdf)));
        let id = created["id"].as_str().unwrap().to_owned();

        let list = app.call("/api/documents/list", &[], Some(&amina)).await;
        assert_eq!(list.status, 200, "{}", list.text);
        assert_eq!(list.json["documents"][0]["filename"], name);
        assert_eq!(list.json["documents"][0]["lab_count"], 4);
        assert_eq!(list.json["max_upload_bytes"], 20 * 1024 * 1024);

        let labs = app.call("/api/documents/labs", &[], Some(&amina)).await;
        assert_eq!(labs.status, 200, "{}", labs.text);
        let found: Vec<(String, f64, String, String)> = labs.json.as_array().unwrap().iter().map(|l| (
            l["test_name"].as_str().unwrap().to_owned(),
            l["value"].as_f64().unwrap(),
            l["unit"].as_str().unwrap().to_owned(),
            l["flag"].as_str().unwrap_or("none").to_owned(),
        )).collect();
        assert_eq!(found, vec![
            ("Haemoglobin".to_owned(), 10.2, "g/dL".to_owned(), "low".to_owned()),
            ("WBC".to_owned(), 13.5, "x10^9/L".to_owned(), "high".to_owned()),
            ("Potassium".to_owned(), 3.1, "mmol/L".to_owned(), "low".to_owned()),
            ("Sodium".to_owned(), 140.0, "mmol/L".to_owned(), "normal".to_owned()),
        ]);
        assert_eq!(labs.json[0]["ref_low"], 12.0);
        assert_eq!(labs.json[0]["ref_high"], 15.5);

        // On disk: one sealed file, not the plaintext.
        let files = stored_files(&app);
        assert_eq!(files.len(), 1, "{files:?}");
        let sealed = std::fs::read(&files[0]).unwrap();
        assert!(sealed.starts_with(b"TBDOC1"));
        assert!(!sealed.windows(11).any(|w| w == b"Haemoglobin"));
        assert!(!sealed.windows(5).any(|w| w == b"%PDF-"));
        assert_eq!(sealed.len(), 14 + pdf.len() + 16);

        let download = app.get_as(&format!("/api/documents/{id}?download=1"), Some(&amina)).await;
        assert_eq!(download.status(), 200);
        assert_eq!(download.headers()["content-type"], "application/pdf");
        let disposition = download.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.starts_with("attachment;"), "{disposition}");
        assert!(disposition.contains(&encode_filename(name)), "{disposition}");
        let bytes = download.bytes().await.unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), created["sha256"].as_str().unwrap());
        assert_eq!(bytes.as_ref(), pdf.as_slice());

        let view = app.get_as(&format!("/api/documents/{id}"), Some(&amina)).await;
        assert_eq!(view.status(), 200);
        assert!(view.headers()["content-disposition"].to_str().unwrap().starts_with("inline;"));
        assert_eq!(view.headers()["x-frame-options"], "SAMEORIGIN");
        let csp = view.headers()["content-security-policy"].to_str().unwrap().to_owned();
        assert!(csp.contains("frame-ancestors 'self'") && csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(view.headers()["x-content-type-options"], "nosniff");
        assert_eq!(view.bytes().await.unwrap().as_ref(), pdf.as_slice());
        // Pages keep the strict policy.
        let page = app.get_as("/documents", Some(&amina)).await;
        assert_eq!(page.headers()["x-frame-options"], "DENY");

        let codes = audit_codes(&app).await;
        for code in ["document_uploaded", "documents_listed", "lab_results_read", "document_downloaded", "document_viewed"] {
            assert!(codes.iter().any(|c| c == code), "{code} missing from {codes:?}");
        }
    }

    async fn photos_are_kept_and_programs_empty_files_and_absurd_images_are_refused(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let (status, photo) = upload(&app, Some(&amina), "rash.png", png(640, 480)).await;
        assert_eq!(status, 201, "{photo}");
        assert_eq!(photo["content_type"], "image/png");
        assert_eq!(photo["text_status"], "not_applicable");
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        jpeg.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        jpeg.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08, 0x01, 0xE0, 0x02, 0x80, 3]);
        jpeg.extend_from_slice(&[1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9]);
        let (status, photo) = upload(&app, Some(&amina), "photo.JPG", jpeg).await;
        assert_eq!(status, 201, "{photo}");
        assert_eq!(photo["content_type"], "image/jpeg");

        let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
        exe.extend_from_slice(b"This program cannot be run in DOS mode. %PDF-1.4");
        for (name, bytes, status, key) in [
            ("labs.pdf", exe, 415, "documents.unsupported_type"),
            ("empty.pdf", Vec::new(), 422, "documents.empty"),
            ("huge.png", png(100_000, 100_000), 415, "documents.image_too_large"),
            ("page.pdf", b"<html>%PDF-1.4</html>".to_vec(), 415, "documents.unsupported_type"),
        ] {
            let (got, json) = upload(&app, Some(&amina), name, bytes).await;
            assert_eq!(got, status, "{name}: {json}");
            assert_eq!(json["fields"]["file"], key, "{name}");
        }
        assert_eq!(count(&app, "documents").await, 2);
        eventually("only the two photos' files remain", || stored_files(&app).len() == 2).await;
        let refusals: Vec<_> = audit::list(&app.state.db, &AuditFilter::default()).await.unwrap()
            .into_iter().filter(|e| e.action == "document_uploaded" && e.outcome == "failure")
            .filter_map(|e| e.detail).collect();
        assert_eq!(refusals, ["unsupported_type", "image_too_large", "empty", "unsupported_type"]);
    }

    async fn a_pdf_whose_text_cannot_be_read_is_kept_without_values(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let locked = b"%PDF-1.6\n1 0 obj\n<< /Length 9 >>\nstream\nsecret!!!\nendstream\nendobj\n\
            trailer\n<< /Root 2 0 R /Encrypt 3 0 R >>\n%%EOF\n".to_vec();
        let (status, kept) = upload(&app, Some(&amina), "locked.pdf", locked.clone()).await;
        assert_eq!(status, 201, "{kept}");
        assert_eq!(kept["text_status"], "failed");
        assert_eq!(kept["lab_count"], 0);
        let scan = b"%PDF-1.4\n1 0 obj\n<< /Length 20 >>\nstream\nq 1 0 0 1 0 0 cm Q\nendstream\nendobj\n%%EOF\n".to_vec();
        let (status, blank) = upload(&app, Some(&amina), "scan.pdf", scan).await;
        assert_eq!(status, 201, "{blank}");
        assert_eq!(blank["text_status"], "no_text");
        let id = kept["id"].as_str().unwrap();
        let back = app.get_as(&format!("/api/documents/{id}?download=1"), Some(&amina)).await;
        assert_eq!(back.bytes().await.unwrap().as_ref(), locked.as_slice());
    }

    async fn another_patient_staff_and_strangers_can_neither_see_nor_touch_a_document(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let baraka = app.sign_up("baraka@example.com", PASSWORD).await;
        let doctor = sign_in_doctor(&app).await;
        let (_, created) = upload(&app, Some(&amina), "labs.pdf", lab_pdf(REPORT)).await;
        let id = created["id"].as_str().unwrap().to_owned();
        let view = format!("/api/documents/{id}");
        let download = format!("/api/documents/{id}?download=1");

        // Another patient: nothing listed, and "not found" (not "forbidden") for the rest.
        let list = app.call("/api/documents/list", &[], Some(&baraka)).await;
        assert_eq!(list.json["documents"], serde_json::json!([]));
        assert_eq!(app.call("/api/documents/labs", &[], Some(&baraka)).await.json, serde_json::json!([]));
        assert_eq!(app.get_as(&view, Some(&baraka)).await.status(), 404);
        assert_eq!(app.get_as(&download, Some(&baraka)).await.status(), 404);
        assert_eq!(app.get_as("/api/documents/no-such-document", Some(&baraka)).await.status(), 404);
        let delete = app.call("/api/documents/delete", &[("id", &id)], Some(&baraka)).await;
        assert_eq!(delete.status, 404, "{}", delete.text);

        // Staff and strangers are refused by role.
        assert_eq!(app.get_as(&view, Some(&doctor)).await.status(), 403);
        assert_eq!(app.get_as(&view, None).await.status(), 401);
        assert_eq!(app.call("/api/documents/delete", &[("id", &id)], Some(&doctor)).await.status, 403);
        assert_eq!(app.call("/api/documents/list", &[], None).await.status, 401);
        assert_eq!(upload(&app, None, "x.pdf", lab_pdf(REPORT)).await.0, 401);
        assert_eq!(upload(&app, Some(&doctor), "x.pdf", lab_pdf(REPORT)).await.0, 403);

        // A page of another site cannot make a patient's browser upload.
        for (name, value) in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site")] {
            let response = app.client.post(app.url("/api/documents"))
                .header("cookie", format!("tabibu_session={amina}"))
                .header(name, value)
                .body(lab_pdf(REPORT)).send().await.unwrap();
            assert_eq!(response.status(), 403, "{name}");
        }

        // Still there, whole, for its owner.
        assert_eq!(count(&app, "documents").await, 1);
        assert_eq!(app.get_as(&download, Some(&amina)).await.bytes().await.unwrap().as_ref(), lab_pdf(REPORT).as_slice());
    }

    async fn deleting_a_document_removes_its_file_its_values_and_its_row(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let (_, created) = upload(&app, Some(&amina), "labs.pdf", lab_pdf(REPORT)).await;
        let (_, kept) = upload(&app, Some(&amina), "rash.png", png(10, 10)).await;
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(count(&app, "lab_results").await, 4);
        let reply = app.call("/api/documents/delete", &[("id", &id)], Some(&amina)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(count(&app, "documents").await, 1);
        assert_eq!(count(&app, "lab_results").await, 0);
        assert_eq!(stored_files(&app).len(), 1);
        assert_eq!(app.get_as(&format!("/api/documents/{id}"), Some(&amina)).await.status(), 404);
        assert_eq!(app.call("/api/documents/delete", &[("id", &id)], Some(&amina)).await.status, 404);
        let list = app.call("/api/documents/list", &[], Some(&amina)).await;
        assert_eq!(list.json["documents"][0]["id"], kept["id"]);
        assert!(audit_codes(&app).await.iter().any(|c| c == "document_deleted"));
    }

    async fn an_upload_cut_off_midway_leaves_no_row_and_no_file(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let head = post_head(&app, &amina, "content-length: 1000000\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut part = lab_pdf(REPORT);
        part.resize(300 * 1024, b' ');
        stream.write_all(&part).await.unwrap();
        // The server is writing the sealed file...
        eventually("a temporary file is being written", || {
            stored_files(&app).iter().any(|p| p.to_string_lossy().ends_with(".part"))
        }).await;
        // ...when the client goes away.
        drop(stream);
        eventually("the temporary file is gone", || stored_files(&app).is_empty()).await;
        assert_eq!(count(&app, "documents").await, 0);
        let entries = audit::list(&app.state.db, &AuditFilter::default()).await.unwrap();
        assert!(!entries.iter().any(|e| e.action == "document_uploaded" && e.outcome == "success"));
    }

    async fn the_export_timeline_and_account_deletion_include_documents(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let (_, created) = upload(&app, Some(&amina), "labs.pdf", lab_pdf(REPORT)).await;
        let id = created["id"].as_str().unwrap().to_owned();

        let bundle: serde_json::Value = app.get_as("/api/records/fhir", Some(&amina)).await.json().await.unwrap();
        let resources: Vec<&serde_json::Value> = bundle["entry"].as_array().unwrap().iter().map(|e| &e["resource"]).collect();
        let reference = resources.iter().find(|r| r["resourceType"] == "DocumentReference").unwrap();
        assert_eq!(reference["content"][0]["attachment"]["contentType"], "application/pdf");
        assert!(reference["content"][0]["attachment"]["url"].as_str().unwrap().ends_with(&format!("/api/documents/{id}?download=1")));
        assert!(reference["identifier"][0]["value"].as_str().unwrap().starts_with("ni:///sha-256;"));
        let observations: Vec<_> = resources.iter().filter(|r| r["resourceType"] == "Observation").collect();
        assert_eq!(observations.len(), 4);
        assert_eq!(observations[0]["interpretation"][0]["coding"][0]["code"], "L");
        assert_eq!(observations[1]["interpretation"][0]["coding"][0]["code"], "H");
        assert_eq!(observations[0]["referenceRange"][0]["high"]["value"], 15.5);
        if let Some(problems) = support::fhir_problems(&bundle) {
            assert!(problems.is_empty(), "FHIR R4 problems: {problems:#?}");
        }

        let timeline = app.call("/api/records/timeline", &[], Some(&amina)).await;
        assert_eq!(timeline.json[0]["kind"], "document");
        assert_eq!(timeline.json[0]["link"], "/documents");

        let reply = app.call("/api/records/delete_account", &[("password", PASSWORD), ("confirm", "DELETE")], Some(&amina)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(count(&app, "documents").await, 0);
        assert_eq!(count(&app, "lab_results").await, 0);
        assert!(stored_files(&app).is_empty(), "{:?}", stored_files(&app));
    }
}
