//! Email delivery for real: SendGrid against a fake server that checks every request's shape,
//! SMTP against a real SMTP server process (Debian's python3-aiosmtpd, driven by
//! `support/smtp_sink.py`), the consultation emails, and the admin's outbox page.
//!
//! Delivery passes are run directly with a clock of the test's own (`now`), so a back-off of
//! minutes is one line here: nothing sleeps for it. What must hold everywhere: every email is
//! sent exactly once in the end, whatever failed on the way (a 429, a 5xx, an SMTP server that
//! is down, refuses or vanishes mid-send), or is set aside as dead with a short code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

mod support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tabibu_app::accounts::types::Role;
use tabibu_app::notifications::EmailTemplate;
use tabibu_app::notifications::config::EmailConfig;
use tabibu_app::notifications::delivery::{Mailer, PassReport};
use tabibu_app::notifications::outbox::{self, Email, OutboxEntry, OutboxStatus};
use tabibu_app::platform::Db;
use tabibu_app::platform::db::now_ms;

const PASSWORD: &str = "correct horse battery staple";
const SENDGRID_KEY: &str = "SG.test-key-not-real";
const FROM: &str = "Kliniki Tabibu <no-reply@clinic.example>";
const PUBLIC_URL: &str = "https://tabibu.example.org";
/// Words that must never appear in an email: the medical content of the consultation below.
const MEDICAL: [&str; 8] = [
    "chest",
    "sweating",
    "breath",
    "angina",
    "aspirin",
    "Emergency",
    "emergency",
    "Achieng",
];

// --- Helpers: queueing and delivering -----------------------------------------------------

fn welcome(to: &str) -> Email {
    Email {
        template: EmailTemplate::Welcome,
        locale: "en".into(),
        to: to.into(),
        params: json!({ "name": "Amina", "link": format!("{PUBLIC_URL}/account") }),
    }
}

async fn enqueue(db: &Db, email: Email) -> String {
    let mut tx = db.pool().begin().await.unwrap();
    let id = outbox::enqueue(&mut tx, email).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// A mailer configured the way an operator would, through the real variables.
fn mailer(vars: &[(&str, &str)]) -> Mailer {
    let mut map: HashMap<String, String> = HashMap::new();
    map.insert("TABIBU_EMAIL_FROM".into(), FROM.into());
    map.insert("TABIBU_EMAIL_TIMEOUT_SECS".into(), "10".into());
    for (k, v) in vars {
        map.insert((*k).into(), (*v).into());
    }
    let config = EmailConfig::from_lookup(|k| map.get(k).cloned()).expect("valid email config");
    Mailer::new(&config, PUBLIC_URL).expect("the provider is set up")
}

/// Runs passes at `now` until a pass finds nothing due; returns their sum.
async fn deliver_all(mailer: &Mailer, db: &Db, now: i64) -> PassReport {
    let mut total = PassReport::default();
    for _ in 0..100 {
        let report = mailer
            .deliver_due(db, "test-worker", now, 25)
            .await
            .unwrap();
        if report.claimed == 0 {
            return total;
        }
        total.claimed += report.claimed;
        total.sent += report.sent;
        total.retrying += report.retrying;
        total.dead += report.dead;
        total.released += report.released;
    }
    panic!("the outbox never ran dry at one moment");
}

async fn all_emails(db: &Db) -> Vec<OutboxEntry> {
    outbox::list_recent(db, None, 500).await.unwrap()
}

/// The latest time any pending email is due (the clock to advance to).
async fn last_due(db: &Db) -> i64 {
    all_emails(db)
        .await
        .iter()
        .filter(|e| e.status == OutboxStatus::Pending)
        .map(|e| e.next_attempt_at)
        .max()
        .expect("something is pending")
}

// --- A fake SendGrid that speaks the v3 wire format ---------------------------------------

/// How the fake answers the next request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Accept,
    TooMany { retry_after_secs: u64 },
    Status(u16),
}

#[derive(Default)]
struct Recorded {
    script: VecDeque<Answer>,
    /// Bodies answered 202, in order.
    accepted: Vec<Value>,
    requests: usize,
    /// What was wrong with requests of the wrong shape; must stay empty.
    problems: Vec<String>,
    delay: Duration,
}

struct FakeSendGrid {
    base: String,
    state: Arc<Mutex<Recorded>>,
}

impl FakeSendGrid {
    async fn start(script: &[Answer]) -> FakeSendGrid {
        let state = Arc::new(Mutex::new(Recorded {
            script: script.iter().copied().collect(),
            ..Recorded::default()
        }));
        let app = axum::Router::new()
            .route("/v3/mail/send", axum::routing::any(mail_send))
            .fallback(unexpected_path)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeSendGrid { base, state }
    }

    fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TABIBU_EMAIL_PROVIDER", "sendgrid".into()),
            ("TABIBU_SENDGRID_API_KEY", SENDGRID_KEY.into()),
            ("TABIBU_SENDGRID_BASE_URL", self.base.clone()),
        ]
    }

    fn mailer(&self) -> Mailer {
        let vars = self.vars();
        let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        mailer(&pairs)
    }

    fn accepted(&self) -> Vec<Value> {
        self.state.lock().unwrap().accepted.clone()
    }

    fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// Every request so far had the documented shape.
    fn assert_well_formed(&self) {
        let problems = self.state.lock().unwrap().problems.clone();
        assert!(
            problems.is_empty(),
            "malformed SendGrid requests: {problems:?}"
        );
    }
}

async fn mail_send(
    State(state): State<Arc<Mutex<Recorded>>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let delay = {
        let mut s = state.lock().unwrap();
        s.requests += 1;
        s.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut s = state.lock().unwrap();
    let problems = shape_problems(&method, &headers, &body);
    if !problems.is_empty() {
        s.problems.extend(problems);
        let errors = json!({ "errors": [{ "message": "bad request", "field": null }] });
        return (StatusCode::BAD_REQUEST, axum::Json(errors)).into_response();
    }
    match s.script.pop_front().unwrap_or(Answer::Accept) {
        Answer::Accept => {
            s.accepted.push(serde_json::from_slice(&body).unwrap());
            StatusCode::ACCEPTED.into_response()
        }
        Answer::TooMany { retry_after_secs } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after_secs.to_string())],
            axum::Json(json!({ "errors": [{ "message": "too many requests" }] })),
        )
            .into_response(),
        Answer::Status(code) => (
            StatusCode::from_u16(code).unwrap(),
            axum::Json(json!({ "errors": [{ "message": "scripted failure" }] })),
        )
            .into_response(),
    }
}

async fn unexpected_path(
    State(state): State<Arc<Mutex<Recorded>>>,
    uri: axum::http::Uri,
) -> StatusCode {
    let mut s = state.lock().unwrap();
    s.requests += 1;
    s.problems
        .push(format!("request to {}, not /v3/mail/send", uri.path()));
    StatusCode::NOT_FOUND
}

/// Everything that differs from SendGrid's documented `POST /v3/mail/send` request.
fn shape_problems(method: &Method, headers: &HeaderMap, body: &[u8]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut expect = |ok: bool, what: &str| {
        if !ok {
            problems.push(what.to_owned());
        }
    };
    expect(method == Method::POST, "method is not POST");
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    expect(
        header("authorization") == format!("Bearer {SENDGRID_KEY}"),
        "no bearer key",
    );
    expect(
        header("content-type").starts_with("application/json"),
        "body is not declared JSON",
    );
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        problems.push("body is not JSON".into());
        return problems;
    };
    let keys: BTreeSet<&str> = body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    expect(
        keys == BTreeSet::from(["personalizations", "from", "subject", "content"]),
        "top-level fields differ",
    );
    let to = &body["personalizations"];
    expect(
        to.as_array().is_some_and(|p| p.len() == 1)
            && to[0]["to"].as_array().is_some_and(|t| t.len() == 1)
            && to[0]["to"][0]["email"]
                .as_str()
                .is_some_and(|e| e.contains('@')),
        "not one personalization with one recipient",
    );
    expect(
        body["from"] == json!({ "email": "no-reply@clinic.example", "name": "Kliniki Tabibu" }),
        "from is not the configured sender",
    );
    expect(
        body["subject"]
            .as_str()
            .is_some_and(|s| !s.is_empty() && !s.contains('\n')),
        "subject missing",
    );
    let content = &body["content"];
    expect(
        content.as_array().is_some_and(|c| c.len() == 2),
        "not exactly two content parts",
    );
    expect(
        content[0]["type"] == "text/plain"
            && content[0]["value"]
                .as_str()
                .is_some_and(|v| !v.is_empty() && !v.contains("<html")),
        "the first part is not the plain text",
    );
    expect(
        content[1]["type"] == "text/html"
            && content[1]["value"]
                .as_str()
                .is_some_and(|v| v.starts_with("<!DOCTYPE html>")),
        "the second part is not the HTML",
    );
    problems
}

// --- A real SMTP server process ----------------------------------------------------------

/// `support/smtp_sink.py` on a port of its own, writing what it receives to a folder.
struct SmtpSink {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Option<std::process::Child>,
}

const PYTHON: &str = "/usr/bin/python3";

impl SmtpSink {
    /// Whether Debian's python3-aiosmtpd is there (`deploy/dev/test.sh` installs it). Its
    /// absence skips the SMTP tests with a notice, except in CI, where it fails them.
    fn available() -> bool {
        let ok = std::process::Command::new(PYTHON)
            .args(["-c", "import aiosmtpd"])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs Debian's python3-aiosmtpd for the SMTP tests"
            );
            eprintln!("NOTICE: python3-aiosmtpd missing; SMTP tests skipped");
        }
        ok
    }

    /// `tls`: `none`, `starttls` or `implicit` (with a certificate for 127.0.0.1 made now);
    /// `auth`: a username and password the server demands.
    fn start(tls: &str, auth: Option<(&str, &str)>) -> SmtpSink {
        let dir = std::env::temp_dir().join(format!("tabibu-smtp-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("out")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut args = vec![
            format!("{}/tests/support/smtp_sink.py", env!("CARGO_MANIFEST_DIR")),
            "--port".into(),
            port.to_string(),
            "--out".into(),
            dir.join("out").display().to_string(),
            "--tls".into(),
            tls.into(),
        ];
        if tls != "none" {
            make_certificate(&dir);
            args.extend([
                "--cert".into(),
                dir.join("cert.pem").display().to_string(),
                "--key".into(),
                dir.join("key.pem").display().to_string(),
            ]);
        }
        if let Some((user, password)) = auth {
            args.extend([
                "--user".into(),
                user.into(),
                "--password".into(),
                password.into(),
            ]);
        }
        let mut sink = SmtpSink {
            port,
            dir,
            args,
            child: None,
        };
        sink.run();
        sink
    }

    /// Starts the process and waits until it accepts connections.
    fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut child = std::process::Command::new(PYTHON)
            .args(&self.args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the SMTP server starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        self.child = Some(child);
    }

    /// Kills the process (a crash, not a goodbye).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to end by itself (after a `vanish`).
    async fn wait_until_gone(&mut self) {
        let mut child = self.child.take().expect("running");
        for _ in 0..200 {
            if child.try_wait().unwrap().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the SMTP server did not vanish");
    }

    fn cert(&self) -> String {
        self.dir.join("cert.pem").display().to_string()
    }

    /// While on, every recipient gets 451.
    fn defer(&self, on: bool) {
        let flag = self.dir.join("out/defer");
        if on {
            std::fs::write(flag, "").unwrap();
        } else {
            std::fs::remove_file(flag).unwrap();
        }
    }

    /// The next DATA kills the server before it stores or answers anything.
    fn vanish_at_next_data(&self) {
        std::fs::write(self.dir.join("out/vanish"), "").unwrap();
    }

    /// Every message received, as the Python side decoded it.
    fn received(&self) -> Vec<Value> {
        let mut messages: Vec<Value> = std::fs::read_dir(self.dir.join("out"))
            .unwrap()
            .filter_map(|entry| {
                let path = entry.unwrap().path();
                (path.extension().is_some_and(|e| e == "json"))
                    .then(|| serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
            })
            .collect();
        messages.sort_by(|a: &Value, b: &Value| {
            a["message_id"].as_str().cmp(&b["message_id"].as_str())
        });
        messages
    }

    fn vars(&self, tls: &str) -> Vec<(&'static str, String)> {
        vec![
            ("TABIBU_EMAIL_PROVIDER", "smtp".into()),
            ("TABIBU_SMTP_HOST", "127.0.0.1".into()),
            ("TABIBU_SMTP_PORT", self.port.to_string()),
            ("TABIBU_SMTP_TLS", tls.into()),
        ]
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A self-signed certificate for 127.0.0.1 (not a CA: rustls refuses a CA as a server's own).
fn make_certificate(dir: &Path) {
    let status = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl made no certificate");
}

fn smtp_mailer(vars: Vec<(&'static str, String)>, extra: &[(&'static str, String)]) -> Mailer {
    let pairs: Vec<(&str, &str)> = vars
        .iter()
        .chain(extra.iter())
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    mailer(&pairs)
}

fn message_id(email_id: &str) -> String {
    format!("<{email_id}@clinic.example>")
}

// --- Consultations (through the real server functions) -----------------------------------

async fn sign_in_staff(app: &support::TestApp, email: &str, name: &str, role: Role) -> String {
    app.create_staff(email, PASSWORD, role).await;
    sqlx::query("UPDATE users SET name = $1 WHERE email = $2")
        .bind(name)
        .bind(email)
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let reply = app
        .call(
            "/api/accounts/sign_in",
            &[("email", email), ("password", PASSWORD)],
            None,
        )
        .await;
    reply.session.expect("signed in")
}

async fn send(app: &support::TestApp, session: &str, id: &str, body: &str, key: &str) {
    let fields = [("id", id), ("body", body), ("client_key", key)];
    let reply = app
        .call("/api/consultations/send", &fields, Some(session))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn consultation_emails(db: &Db) -> Vec<OutboxEntry> {
    let mut emails: Vec<OutboxEntry> = all_emails(db)
        .await
        .into_iter()
        .filter(|e| e.template != EmailTemplate::Welcome)
        .collect();
    emails.sort_by_key(|e| e.created_at);
    emails
}

fn assert_link_only(entry: &OutboxEntry, link: &str) {
    let message = entry.rendered().unwrap();
    for part in [&message.subject, &message.text, &message.html] {
        for word in MEDICAL {
            assert!(!part.contains(word), "{:?} mentions {word}", entry.template);
        }
    }
    assert!(
        message.text.contains(link),
        "{:?}: {}",
        entry.template,
        message.text
    );
    assert!(message.html.contains(&format!("href=\"{link}\"")));
}

// --- The tests ----------------------------------------------------------------------------

#[tokio::test]
async fn the_fake_sendgrid_refuses_a_request_of_the_wrong_shape() {
    // The checker the other tests rely on must be able to say no.
    let fake = FakeSendGrid::start(&[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v3/mail/send", fake.base);
    let only_text = json!({
        "personalizations": [{ "to": [{ "email": "a@example.org" }] }],
        "from": { "email": "no-reply@clinic.example", "name": "Kliniki Tabibu" },
        "subject": "Hi",
        "content": [{ "type": "text/plain", "value": "Hi" }],
    });
    let reply = client
        .post(&url)
        .bearer_auth(SENDGRID_KEY)
        .json(&only_text)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 400);
    let wrong_key = client
        .post(&url)
        .bearer_auth("SG.other")
        .json(&only_text)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_key.status(), 400);
    let problems = fake.state.lock().unwrap().problems.clone();
    assert!(
        problems.contains(&"not exactly two content parts".to_owned()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"no bearer key".to_owned()),
        "{problems:?}"
    );
    assert!(fake.accepted().is_empty());
}

on_both_databases! {
    async fn sendgrid_gets_the_documented_request_and_the_email_is_sent_once(app) {
        let db = &app.state.db;
        let fake = FakeSendGrid::start(&[]).await;
        let mailer = fake.mailer();
        let mut email = welcome("amina@example.org");
        email.locale = "sw".into();
        let id = enqueue(db, email).await;

        let report = deliver_all(&mailer, db, now_ms()).await;
        assert_eq!((report.sent, report.retrying, report.dead), (1, 0, 0));
        fake.assert_well_formed();
        let sent = fake.accepted();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["personalizations"][0]["to"][0]["email"], "amina@example.org");
        assert_eq!(sent[0]["subject"], "Karibu Tabibu");
        assert!(sent[0]["content"][0]["value"].as_str().unwrap().starts_with("Habari Amina,"));
        assert!(sent[0]["content"][1]["value"].as_str().unwrap().contains("href=\"https://tabibu.example.org/account\""));

        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!(entry.status, OutboxStatus::Sent);
        assert_eq!(entry.provider.as_deref(), Some("sendgrid"));
        assert_eq!(entry.params, json!({}), "a sent email keeps no name or link");
        // Nothing more goes out, now or a day later.
        assert_eq!(deliver_all(&mailer, db, now_ms() + 86_400_000).await.claimed, 0);
        assert_eq!(fake.requests(), 1);
    }

    async fn an_email_survives_429_and_5xx_and_is_sent_exactly_once_when_sendgrid_recovers(app) {
        let db = &app.state.db;
        let fake = FakeSendGrid::start(&[
            Answer::TooMany { retry_after_secs: 600 },
            Answer::Status(500),
            Answer::Status(503),
            Answer::Accept,
        ])
        .await;
        let mailer = fake.mailer();
        let id = enqueue(db, welcome("patient@example.org")).await;
        let t0 = now_ms();

        assert_eq!(deliver_all(&mailer, db, t0).await.retrying, 1);
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.last_error.as_deref()), (OutboxStatus::Pending, Some("sendgrid_429")));
        // SendGrid's Retry-After (10 minutes) wins over the first back-off (at most a minute).
        assert_eq!(entry.next_attempt_at, t0 + 600_000);
        assert_eq!(deliver_all(&mailer, db, t0 + 599_999).await.claimed, 0);

        let mut now = t0 + 600_000;
        for expected in ["sendgrid_5xx", "sendgrid_5xx"] {
            assert_eq!(deliver_all(&mailer, db, now).await.retrying, 1);
            let entry = outbox::get(db, &id).await.unwrap().unwrap();
            assert_eq!(entry.last_error.as_deref(), Some(expected));
            assert!(entry.next_attempt_at > now);
            now = entry.next_attempt_at;
        }
        assert_eq!(deliver_all(&mailer, db, now).await.sent, 1);
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.attempts), (OutboxStatus::Sent, 4));
        assert_eq!(fake.requests(), 4);
        assert_eq!(fake.accepted().len(), 1, "sent exactly once");
        fake.assert_well_formed();
    }

    async fn a_request_sendgrid_calls_malformed_is_dead_at_once_and_a_resend_sends_it(app) {
        let db = &app.state.db;
        let fake = FakeSendGrid::start(&[Answer::Status(400)]).await;
        let mailer = fake.mailer();
        let id = enqueue(db, welcome("refused@example.org")).await;
        let t0 = now_ms();
        assert_eq!(deliver_all(&mailer, db, t0).await.dead, 1);
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.attempts), (OutboxStatus::Dead, 1));
        assert_eq!(entry.last_error.as_deref(), Some("sendgrid_400"));
        assert_eq!(deliver_all(&mailer, db, t0 + 86_400_000).await.claimed, 0, "dead stays dead");

        assert!(outbox::requeue(db, &id, t0).await.unwrap());
        assert_eq!(deliver_all(&mailer, db, t0).await.sent, 1);
        assert_eq!(fake.accepted().len(), 1);
    }

    async fn a_refused_api_key_keeps_the_email_waiting_with_a_code_the_admin_sees(app) {
        let db = &app.state.db;
        let fake = FakeSendGrid::start(&[Answer::Status(401), Answer::Status(403)]).await;
        let mailer = fake.mailer();
        let id = enqueue(db, welcome("waiting@example.org")).await;
        let t0 = now_ms();
        deliver_all(&mailer, db, t0).await;
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.last_error.as_deref()), (OutboxStatus::Pending, Some("sendgrid_401")));
        deliver_all(&mailer, db, entry.next_attempt_at).await;
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.last_error.as_deref()), (OutboxStatus::Pending, Some("sendgrid_403")));
        // The key is fixed: the email that waited goes out.
        assert_eq!(deliver_all(&mailer, db, entry.next_attempt_at).await.sent, 1);
        assert_eq!(fake.accepted().len(), 1);
    }

    async fn an_unreachable_sendgrid_is_retried_later(app) {
        let db = &app.state.db;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let mailer = mailer(&[
            ("TABIBU_EMAIL_PROVIDER", "sendgrid"),
            ("TABIBU_SENDGRID_API_KEY", SENDGRID_KEY),
            ("TABIBU_SENDGRID_BASE_URL", &format!("http://{closed}")),
        ]);
        let id = enqueue(db, welcome("later@example.org")).await;
        assert_eq!(deliver_all(&mailer, db, now_ms()).await.retrying, 1);
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.last_error.as_deref()), (OutboxStatus::Pending, Some("sendgrid_connect")));
    }

    async fn a_stopping_worker_finishes_the_email_in_hand_and_hands_back_the_rest(app) {
        let db = app.state.db.clone();
        let fake = FakeSendGrid::start(&[]).await;
        fake.set_delay(Duration::from_millis(400));
        let mailer = Arc::new(fake.mailer());
        for i in 0..5 {
            enqueue(&db, welcome(&format!("batch{i}@example.org"))).await;
        }
        let worker = tabibu_server::jobs::spawn_outbox_worker(
            db.clone(),
            mailer.clone(),
            tabibu_server::jobs::OutboxWorker { poll: Duration::from_millis(50), batch: 5 },
        );
        // The first request is in flight (the fake holds it for a while): stop now.
        while fake.requests() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        mailer.stop();
        let totals = worker.await.unwrap();
        assert_eq!(totals.sent, 1);
        let emails = all_emails(&db).await;
        let count = |status| emails.iter().filter(|e| e.status == status).count();
        assert_eq!((count(OutboxStatus::Sent), count(OutboxStatus::Pending)), (1, 4));
        assert_eq!(count(OutboxStatus::Sending), 0, "nothing is left leased to a stopped worker");
        // Handed back untried: no attempt was spent on them.
        assert!(emails.iter().filter(|e| e.status == OutboxStatus::Pending).all(|e| e.attempts == 0));
        assert_eq!(fake.requests(), 1);
    }

    async fn smtp_over_starttls_with_a_password_delivers_both_parts_with_the_outbox_id(app) {
        if !SmtpSink::available() {
            return;
        }
        let db = &app.state.db;
        let sink = SmtpSink::start("starttls", Some(("relay", "relay-secret")));
        let good = smtp_mailer(sink.vars("starttls"), &[
            ("TABIBU_SMTP_CA_FILE", sink.cert()),
            ("TABIBU_SMTP_USERNAME", "relay".into()),
            ("TABIBU_SMTP_PASSWORD", "relay-secret".into()),
        ]);
        let link = format!("{PUBLIC_URL}/consultations/c0ffee");
        let id = enqueue(db, Email {
            template: EmailTemplate::ConsultationClaimed,
            locale: "sw".into(),
            to: "juma@example.org".into(),
            params: json!({ "name": "Juma", "link": link }),
        })
        .await;
        assert_eq!(deliver_all(&good, db, now_ms()).await.sent, 1);

        let received = sink.received();
        assert_eq!(received.len(), 1);
        let m = &received[0];
        assert_eq!(m["encrypted"], true, "STARTTLS was used");
        assert_eq!(m["authenticated"], true);
        assert_eq!(m["rcpt_tos"], json!(["juma@example.org"]));
        assert_eq!(m["mail_from"], "no-reply@clinic.example");
        assert!(m["from"].as_str().unwrap().contains("Kliniki Tabibu"));
        assert_eq!(m["subject"], "Daktari amechukua shauriano lako");
        assert_eq!(m["message_id"], message_id(&id));
        assert_eq!(m["content_type"], "multipart/alternative");
        let text = m["text"].as_str().unwrap();
        let html = m["html"].as_str().unwrap();
        assert!(text.starts_with("Habari Juma,"), "{text}");
        assert!(text.contains(&link));
        assert!(html.contains(&format!("href=\"{link}\"")));
        for part in [text, html] {
            for word in MEDICAL {
                assert!(!part.contains(word));
            }
        }
        assert_ne!(m["date"], "None", "the message is dated");

        // A wrong password, or a server certificate nobody vouched for: the email waits.
        let id = enqueue(db, welcome("second@example.org")).await;
        let wrong_password = smtp_mailer(sink.vars("starttls"), &[
            ("TABIBU_SMTP_CA_FILE", sink.cert()),
            ("TABIBU_SMTP_USERNAME", "relay".into()),
            ("TABIBU_SMTP_PASSWORD", "not-it".into()),
        ]);
        let t0 = now_ms();
        deliver_all(&wrong_password, db, t0).await;
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.last_error.as_deref()), (OutboxStatus::Pending, Some("smtp_auth")));
        let untrusted = smtp_mailer(sink.vars("starttls"), &[
            ("TABIBU_SMTP_USERNAME", "relay".into()),
            ("TABIBU_SMTP_PASSWORD", "relay-secret".into()),
        ]);
        deliver_all(&untrusted, db, entry.next_attempt_at).await;
        let entry = outbox::get(db, &id).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.last_error.as_deref()), (OutboxStatus::Pending, Some("smtp_tls")));
        assert_eq!(sink.received().len(), 1, "nothing went out over an unverified connection");
        assert_eq!(deliver_all(&good, db, entry.next_attempt_at).await.sent, 1);
        assert_eq!(sink.received().len(), 2);
    }

    async fn smtp_over_implicit_tls_delivers(app) {
        if !SmtpSink::available() {
            return;
        }
        let db = &app.state.db;
        let sink = SmtpSink::start("implicit", None);
        let mailer = smtp_mailer(sink.vars("implicit"), &[("TABIBU_SMTP_CA_FILE", sink.cert())]);
        let id = enqueue(db, welcome("tls@example.org")).await;
        assert_eq!(deliver_all(&mailer, db, now_ms()).await.sent, 1);
        let received = sink.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0]["encrypted"], true);
        assert_eq!(received[0]["message_id"], message_id(&id));
        assert_eq!(received[0]["subject"], "Welcome to Tabibu");
    }

    async fn with_the_smtp_server_down_100_emails_wait_and_exactly_100_arrive_when_it_is_back(app) {
        if !SmtpSink::available() {
            return;
        }
        let db = &app.state.db;
        let mut sink = SmtpSink::start("none", None);
        let mailer = smtp_mailer(sink.vars("none"), &[]);
        sink.stop();

        let mut ids = BTreeSet::new();
        for i in 0..100 {
            ids.insert(enqueue(db, welcome(&format!("patient{i:03}@example.org"))).await);
        }
        let t0 = now_ms();
        let down = deliver_all(&mailer, db, t0).await;
        assert_eq!((down.claimed, down.retrying, down.sent, down.dead), (100, 100, 0, 0));
        let emails = all_emails(db).await;
        assert!(emails.iter().all(|e| e.status == OutboxStatus::Pending && e.attempts == 1));
        assert!(emails.iter().all(|e| e.last_error.as_deref() == Some("smtp_refused")));

        sink.run();
        // Back up, but nothing is due yet: the back-off holds.
        assert_eq!(deliver_all(&mailer, db, t0).await.claimed, 0);
        assert!(sink.received().is_empty());
        let up = deliver_all(&mailer, db, last_due(db).await).await;
        assert_eq!((up.sent, up.retrying, up.dead), (100, 0, 0));

        let received = sink.received();
        assert_eq!(received.len(), 100, "exactly 100 messages arrived");
        let arrived: BTreeSet<String> = received
            .iter()
            .map(|m| m["message_id"].as_str().unwrap().to_owned())
            .collect();
        let expected: BTreeSet<String> = ids.iter().map(|id| message_id(id)).collect();
        assert_eq!(arrived, expected, "each email once, none twice");
        assert!(all_emails(db).await.iter().all(|e| e.status == OutboxStatus::Sent && e.attempts == 2));
    }

    async fn an_smtp_550_is_permanent_and_a_451_is_retried_until_accepted(app) {
        if !SmtpSink::available() {
            return;
        }
        let db = &app.state.db;
        let sink = SmtpSink::start("none", None);
        let mailer = smtp_mailer(sink.vars("none"), &[]);
        let refused = enqueue(db, welcome("refuse-me@example.org")).await;
        let deferred = enqueue(db, welcome("later@example.org")).await;
        sink.defer(true);
        let t0 = now_ms();
        let report = deliver_all(&mailer, db, t0).await;
        assert_eq!((report.dead, report.retrying), (1, 1));
        let entry = outbox::get(db, &refused).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.attempts, entry.last_error.as_deref()), (OutboxStatus::Dead, 1, Some("smtp_550")));
        let entry = outbox::get(db, &deferred).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.last_error.as_deref()), (OutboxStatus::Pending, Some("smtp_451")));
        assert!(sink.received().is_empty());

        sink.defer(false);
        assert_eq!(deliver_all(&mailer, db, entry.next_attempt_at).await.sent, 1);
        let received = sink.received();
        assert_eq!(received.len(), 1);
        assert_eq!(received[0]["message_id"], message_id(&deferred));
    }

    async fn an_smtp_server_vanishing_mid_send_loses_nothing_and_sends_nothing_twice(app) {
        if !SmtpSink::available() {
            return;
        }
        let db = &app.state.db;
        let mut sink = SmtpSink::start("none", None);
        let mailer = smtp_mailer(sink.vars("none"), &[]);
        let mut ids = BTreeSet::new();
        for i in 0..3 {
            ids.insert(enqueue(db, welcome(&format!("vanish{i}@example.org"))).await);
        }
        sink.vanish_at_next_data();
        let t0 = now_ms();
        let report = deliver_all(&mailer, db, t0).await;
        assert_eq!((report.sent, report.retrying, report.dead), (0, 3, 0));
        sink.wait_until_gone().await;
        let transient = ["smtp_dropped", "smtp_protocol", "smtp_network", "smtp_refused"];
        for e in all_emails(db).await {
            assert_eq!(e.status, OutboxStatus::Pending);
            assert!(transient.contains(&e.last_error.as_deref().unwrap()), "{:?}", e.last_error);
        }
        assert!(sink.received().is_empty(), "the vanished server stored nothing");

        sink.run();
        assert_eq!(deliver_all(&mailer, db, last_due(db).await).await.sent, 3);
        let arrived: BTreeSet<String> = sink
            .received()
            .iter()
            .map(|m| m["message_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(arrived, ids.iter().map(|id| message_id(id)).collect::<BTreeSet<_>>());
        assert_eq!(sink.received().len(), 3);
    }

    async fn claiming_replying_and_closing_each_email_the_patient_once_with_a_link_only(app) {
        let db = &app.state.db;
        let patient = app.sign_up("amina@example.com", PASSWORD).await;
        let doc = sign_in_staff(&app, "achieng@example.com", "Dr Achieng", Role::Doctor).await;
        let note = "Crushing chest pain, sweating and short of breath since this morning";
        let reply = app.call("/api/consultations/request", &[("note", note), ("request_key", "email-test-key-1")], Some(&patient)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let id = reply.json.as_str().unwrap().to_owned();
        let link = format!("{}/consultations/{id}", app.state.config.public_url);
        assert!(consultation_emails(db).await.is_empty(), "asking sends the patient nothing");

        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);
        // Two replies in a row, and the patient's own message: one email.
        send(&app, &doc, &id, "This sounds like angina: take an aspirin now.", "doc-key-0001").await;
        send(&app, &doc, &id, "Emergency: go to the hospital.", "doc-key-0002").await;
        send(&app, &patient, &id, "Thank you doctor", "pat-key-0001").await;
        let emails = consultation_emails(db).await;
        let templates: Vec<_> = emails.iter().map(|e| e.template).collect();
        assert_eq!(templates, [EmailTemplate::ConsultationClaimed, EmailTemplate::DoctorReplied]);
        for e in &emails {
            assert_eq!(e.to, "amina@example.com");
            assert_link_only(e, &link);
        }

        // Once that email is out, the next reply makes a new one.
        outbox::deliver_with_log_provider(db, "log", 50).await.unwrap();
        send(&app, &doc, &id, "How are you feeling now?", "doc-key-0003").await;
        let closed = app.call("/api/consultations/close", &[("id", &id), ("outcome", "Unstable angina"), ("final_level", "emergency"), ("advice", "Take aspirin and call 999")], Some(&doc)).await;
        assert_eq!(closed.status, 200, "{}", closed.text);
        let emails = consultation_emails(db).await;
        let templates: Vec<_> = emails.iter().map(|e| e.template).collect();
        assert_eq!(templates, [
            EmailTemplate::ConsultationClaimed,
            EmailTemplate::DoctorReplied,
            EmailTemplate::DoctorReplied,
            EmailTemplate::ConsultationClosed,
        ]);
        for e in &emails {
            assert_link_only(e, &link);
            assert_eq!(e.locale, tabibu_app::i18n::Locale::En);
        }
        assert!(emails[3].rendered().unwrap().text.starts_with("Hello Amina Otieno,"));
    }

    async fn a_committed_email_wakes_the_worker_at_once(app) {
        let db = app.state.db.clone();
        let patient = app.sign_up("woken@example.com", PASSWORD).await;
        let doc = sign_in_staff(&app, "prompt@example.com", "Dr Prompt", Role::Doctor).await;
        let reply = app.call("/api/consultations/request", &[("note", "A cough for a week"), ("request_key", "email-test-key-3")], Some(&patient)).await;
        let id = reply.json.as_str().unwrap().to_owned();
        // A worker that would otherwise look only once an hour.
        let worker = tabibu_server::jobs::spawn_outbox_worker(
            db.clone(),
            app.state.mailer.clone(),
            tabibu_server::jobs::OutboxWorker { poll: Duration::from_secs(3600), batch: 10 },
        );
        let all_sent = |db: Db| async move {
            loop {
                if all_emails(&db).await.iter().all(|e| e.status == OutboxStatus::Sent) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        // Its first pass sends what was already queued (the welcome emails)...
        tokio::time::timeout(Duration::from_secs(10), all_sent(db.clone())).await.unwrap();
        // ...then it waits, and the claim's commit wakes it.
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);
        tokio::time::timeout(Duration::from_secs(10), all_sent(db.clone()))
            .await
            .expect("the claim's email went out without waiting for the next poll");
        let claimed = consultation_emails(&db).await;
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].provider.as_deref(), Some("log"));
        app.state.mailer.stop();
        worker.await.unwrap();
    }

    async fn a_refused_claim_or_close_queues_no_email(app) {
        let db = &app.state.db;
        let patient = app.sign_up("juma@example.com", PASSWORD).await;
        let first = sign_in_staff(&app, "first@example.com", "Dr First", Role::Doctor).await;
        let second = sign_in_staff(&app, "second@example.com", "Dr Second", Role::Doctor).await;
        let reply = app.call("/api/consultations/request", &[("note", "A rash on my arm for a week"), ("request_key", "email-test-key-2")], Some(&patient)).await;
        let id = reply.json.as_str().unwrap().to_owned();
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&first)).await.status, 200);
        // The second doctor's claim is refused and its transaction rolled back.
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&second)).await.status, 409);
        let close = [("id", id.as_str()), ("outcome", "Eczema"), ("final_level", "routine"), ("advice", "")];
        assert_eq!(app.call("/api/consultations/close", &close, Some(&first)).await.status, 200);
        assert_eq!(app.call("/api/consultations/close", &close, Some(&first)).await.status, 409);
        let templates: Vec<_> = consultation_emails(db).await.iter().map(|e| e.template).collect();
        assert_eq!(templates, [EmailTemplate::ConsultationClaimed, EmailTemplate::ConsultationClosed]);
    }

    async fn the_admin_sees_masked_addresses_resends_dead_emails_and_reads_kept_ones(app) {
        let db = &app.state.db;
        let admin = sign_in_staff(&app, "admin@example.com", "Ada Admin", Role::Admin).await;
        let dead = enqueue(db, welcome("dead.letter@example.org")).await;
        assert_eq!(outbox::claim_batch(db, "w", now_ms(), 10).await.unwrap().len(), 1);
        assert!(outbox::mark_dead(db, &dead, "w", "smtp_550").await.unwrap());
        app.sign_up("patient@example.com", PASSWORD).await;
        outbox::deliver_with_log_provider(db, "log", 10).await.unwrap();
        let kept = outbox::latest_for(db, "patient@example.com", EmailTemplate::Welcome).await.unwrap().unwrap();

        let all = app.call("/api/admin/emails", &[], Some(&admin)).await;
        assert_eq!(all.status, 200, "{}", all.text);
        assert!(!all.text.contains("dead.letter@") && !all.text.contains("patient@example.com"), "{}", all.text);
        let rows = all.json.as_array().unwrap();
        assert!(rows.iter().any(|r| r["to_masked"] == "d•••@example.org"));
        assert!(rows.iter().any(|r| r["to_masked"] == "p•••@example.com"));

        let dead_only = app.call("/api/admin/emails", &[("status", "dead")], Some(&admin)).await;
        let rows = dead_only.json.as_array().unwrap().clone();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0]["id"].as_str(), rows[0]["last_error"].as_str()), (Some(dead.as_str()), Some("smtp_550")));
        assert_eq!((rows[0]["resendable"].as_bool(), rows[0]["readable"].as_bool()), (Some(true), Some(false)));
        assert_eq!(app.call("/api/admin/emails", &[("status", "lost")], Some(&admin)).await.status, 422);

        // Resend: back to pending with a fresh budget, audited; twice is refused.
        assert_eq!(app.call("/api/admin/resend_email", &[("id", &dead)], Some(&admin)).await.status, 200);
        let entry = outbox::get(db, &dead).await.unwrap().unwrap();
        assert_eq!((entry.status, entry.attempts), (OutboxStatus::Pending, 0));
        let again = app.call("/api/admin/resend_email", &[("id", &dead)], Some(&admin)).await;
        assert_eq!((again.status, again.json["code"].as_str()), (409, Some("email.not_resendable")));
        let resent = tabibu_app::audit::list(db, &tabibu_app::audit::AuditFilter {
            action: Some(tabibu_app::audit::AuditAction::EmailResent),
            ..Default::default()
        }).await.unwrap();
        assert_eq!(resent.len(), 1);

        // The log provider's message can be read (audited); another's cannot.
        let message = app.call("/api/admin/email_message", &[("id", &kept.id)], Some(&admin)).await;
        assert_eq!(message.status, 200, "{}", message.text);
        assert_eq!(message.json["subject"], "Welcome to Tabibu");
        assert!(message.json["text"].as_str().unwrap().contains("Amina Otieno"));
        let refused = app.call("/api/admin/email_message", &[("id", &dead)], Some(&admin)).await;
        assert_eq!(refused.status, 409);
        let read = tabibu_app::audit::list(db, &tabibu_app::audit::AuditFilter {
            action: Some(tabibu_app::audit::AuditAction::EmailRead),
            ..Default::default()
        }).await.unwrap();
        assert_eq!(read.len(), 1);

        // The page itself renders on the server, with the masked address and no real one.
        let page = app.get_as("/admin/emails", Some(&admin)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("data-testid=\"emails-table\""), "{html}");
        assert!(html.contains("p•••@example.com"));
        assert!(html.contains("href=\"/admin/emails\""), "the admin navigation links the page");
        assert!(!html.contains("patient@example.com") && !html.contains("dead.letter@"));
        let sent_page = app.get_as("/admin/emails?status=sent", Some(&admin)).await.text().await.unwrap();
        assert!(sent_page.contains("data-status=\"sent\"") && !sent_page.contains("data-status=\"pending\""));
        assert!(sent_page.contains("<option value=\"sent\" selected"), "the filter shows its choice without JavaScript");
    }

    async fn emails_are_in_the_language_the_patient_chose(app) {
        use tabibu_app::i18n::Locale;
        // Signing up from a page shown in Swahili: the welcome email is in Swahili too.
        let response = app
            .client
            .post(app.url("/api/accounts/sign_up"))
            .header("cookie", "tabibu_lang=sw")
            .form(&[
                ("email", "wanjiru@example.org"),
                ("password", "a long and proper passphrase"),
                ("name", "Wanjiru Kamau"),
                ("date_of_birth", "1988-02-03"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let session = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("tabibu_session="))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
            .unwrap();
        let welcome = all_emails(&app.state.db).await;
        assert_eq!(welcome.len(), 1);
        assert_eq!(welcome[0].template, EmailTemplate::Welcome);
        assert_eq!(welcome[0].locale, Locale::Sw);

        // Switching the language while signed in moves the account's emails with it.
        let reply = app.call("/api/set_language", &[("code", "en")], Some(&session)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let stored: String = sqlx::query_scalar("SELECT locale FROM users WHERE email = $1")
            .bind("wanjiru@example.org")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
        assert_eq!(stored, "en");

        // Signing up with no choice made and an English browser: English.
        let plain = app.sign_up("baraka@example.org", "a long and proper passphrase").await;
        assert!(!plain.is_empty());
        let locales: Vec<Locale> = all_emails(&app.state.db)
            .await
            .into_iter()
            .filter(|e| e.to == "baraka@example.org")
            .map(|e| e.locale)
            .collect();
        assert_eq!(locales, vec![Locale::En]);
    }
}

/// Two workers (two app instances) drain one outbox at once against one provider: every email
/// reaches SendGrid exactly once. On PostgreSQL the claim's `FOR UPDATE SKIP LOCKED` is what
/// keeps them apart.
async fn two_workers_send_every_email_exactly_once(backend: support::Backend) {
    let Some(app) = support::spawn_app(backend).await else {
        return;
    };
    let db = app.state.db.clone();
    let fake = FakeSendGrid::start(&[]).await;
    fake.set_delay(Duration::from_millis(3));
    let mut expected = BTreeSet::new();
    for i in 0..120 {
        let to = format!("p{i:03}@example.org");
        enqueue(&db, welcome(&to)).await;
        expected.insert(to);
    }
    let settings = tabibu_server::jobs::OutboxWorker {
        poll: Duration::from_millis(20),
        batch: 5,
    };
    let (a, b) = (Arc::new(fake.mailer()), Arc::new(fake.mailer()));
    let worker_a = tabibu_server::jobs::spawn_outbox_worker(db.clone(), a.clone(), settings);
    let worker_b = tabibu_server::jobs::spawn_outbox_worker(db.clone(), b.clone(), settings);
    let drained = async {
        loop {
            let emails = all_emails(&db).await;
            if emails.iter().all(|e| e.status == OutboxStatus::Sent) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), drained)
        .await
        .expect("the two workers sent everything");
    a.stop();
    b.stop();
    let (a, b) = (worker_a.await.unwrap(), worker_b.await.unwrap());
    assert_eq!(a.sent + b.sent, 120);
    assert!(
        a.sent > 0 && b.sent > 0,
        "both workers took part: {} and {}",
        a.sent,
        b.sent
    );
    let recipients: Vec<String> = fake
        .accepted()
        .iter()
        .map(|m| {
            m["personalizations"][0]["to"][0]["email"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(recipients.len(), 120, "no email was sent twice");
    assert_eq!(recipients.into_iter().collect::<BTreeSet<_>>(), expected);
    fake.assert_well_formed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_every_email_exactly_once_on_postgres() {
    two_workers_send_every_email_exactly_once(support::Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_send_every_email_exactly_once_on_sqlite() {
    two_workers_send_every_email_exactly_once(support::Backend::Sqlite).await;
}
