//! Does one instance stay healthy through half an hour of real use? Starts the built `tabibu`
//! binary as a child process, holds 1,000 doctors' event streams (`GET /api/events`) open for
//! the whole run, and meanwhile drives mixed traffic at a steady rate from a few virtual users:
//! patients sign in, read their pages, save their profile, ask the symptom assistant, upload a
//! small scan and download it again, open a consultation and write in it, and sign out;
//! doctors read the queue and their dashboard, claim each new case, open it, reply and close
//! it, through the same server functions their pages call.
//!
//! The verdict is zero errors and flat memory:
//!
//! - an error is any answer other than the expected status (redirects included), a transport
//!   error or timeout, an answer that does not say what it should, an event stream that ends
//!   or breaks before the run does, and any event stream that missed, repeated or reordered
//!   an event addressed to it (checked against the `live_events` table at the end);
//! - memory is the server's resident memory (`VmRSS`), sampled every 10 s. It is flat when the
//!   end of the run (the median of its last minute's samples) is at most the larger of 10 %
//!   and 5 MB above the start (the median of the first minute after warm-up), and, for runs
//!   with at least 10 minutes after warm-up, the least-squares slope of all samples after
//!   warm-up is under 20 MB an hour (a shorter window is too noisy for a slope to mean much).
//!
//! Run: `cargo bench -p tabibu-server --bench soak` (Linux only; 30 minutes). Settings, all
//! optional: `TABIBU_SOAK_SECS` (1800), `TABIBU_SOAK_WARMUP_SECS` (120, or a quarter of a
//! shorter run), `TABIBU_SOAK_RPS` (25 requests a second in all), `TABIBU_SOAK_STREAMS`
//! (1000), `TABIBU_SOAK_DOCTORS` (10 accounts holding the streams), `TABIBU_SOAK_PATIENTS`
//! (40 accounts), `TABIBU_SOAK_PATIENT_USERS` (8 at once), `TABIBU_SOAK_DOCTOR_USERS` (4), and
//! `TABIBU_SOAK_DATABASE_URL`: a PostgreSQL URL to run against PostgreSQL instead of SQLite
//! (a new database is created beside the one named, and dropped at the end). Prints the
//! numbers; exits 1 on any error or growing memory.
//!
//! The clients run in this process on the same machine as the server, so on a two-core box
//! they take CPU from it, and the latencies are an upper bound.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

mod common;

use common::{ChildServer, SseData, quantile};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::time::{Interval, MissedTickBehavior};

const PASSWORD: &str = "a long and proper passphrase";
const SAMPLE_EVERY: Duration = Duration::from_secs(10);
const REPORT_EVERY: Duration = Duration::from_secs(60);
/// Longer than any answer should take even on a busy machine; past it, a request is an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the streams get, after the traffic stops, to deliver what is still on its way.
const DRAIN: Duration = Duration::from_secs(60);
/// End-of-run memory may exceed the post-warm-up figure by the larger of these.
const GROWTH_FRACTION: f64 = 0.10;
const GROWTH_FLOOR_MB: f64 = 5.0;
/// The start and the end of the run are each the median of this many samples (a minute):
/// one sample can land in a sign-in, whose Argon2 hash holds 19 MiB for a moment.
const EDGE_SAMPLES: usize = 6;
/// The steepest memory trend after warm-up called flat, and the least window to judge it on.
/// Sign-ins swing single samples by 20 MB or more, so a half-hour window resolves a trend
/// to within several MB an hour (the report prints the standard error); this is the least
/// limit that such a run can hold a server to without failing it on noise.
const SLOPE_LIMIT_MB_PER_HOUR: f64 = 20.0;
const SLOPE_MIN_WINDOW: Duration = Duration::from_secs(600);
/// The first error messages kept for the report; the rest are only counted.
const ERRORS_SHOWN: usize = 20;

const SYMPTOMS: [&str; 4] = [
    "A dry cough for three days and a mild fever",
    "A headache since yesterday, worse in the mornings",
    "An itchy rash on my forearm for a week",
    "Stomach ache after meals and some nausea",
];

/// The run's settings, from the environment.
struct Settings {
    secs: u64,
    warmup_secs: u64,
    rps: f64,
    streams: usize,
    doctors: usize,
    patients: usize,
    patient_users: usize,
    doctor_users: usize,
    database_url: Option<String>,
}

fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number: `{value}`")),
        Err(_) => default,
    }
}

impl Settings {
    fn from_env() -> Settings {
        let secs = setting("TABIBU_SOAK_SECS", 1800u64);
        let settings = Settings {
            secs,
            warmup_secs: setting("TABIBU_SOAK_WARMUP_SECS", 120.min(secs / 4)),
            rps: setting("TABIBU_SOAK_RPS", 25.0),
            streams: setting("TABIBU_SOAK_STREAMS", 1000),
            doctors: setting("TABIBU_SOAK_DOCTORS", 10),
            patients: setting("TABIBU_SOAK_PATIENTS", 40),
            patient_users: setting("TABIBU_SOAK_PATIENT_USERS", 8),
            doctor_users: setting("TABIBU_SOAK_DOCTOR_USERS", 4),
            database_url: std::env::var("TABIBU_SOAK_DATABASE_URL").ok(),
        };
        assert!(
            settings.warmup_secs < settings.secs,
            "warm-up must end before the run"
        );
        assert!(settings.rps > 0.0, "TABIBU_SOAK_RPS must be above 0");
        assert!(
            (1..=settings.doctors).contains(&settings.doctor_users),
            "doctor users must be between 1 and the number of doctors"
        );
        assert!(
            (1..=settings.patients).contains(&settings.patient_users),
            "patient users must be between 1 and the number of patients"
        );
        settings
    }

    /// The time between two requests of one virtual user, for the rate asked in all.
    fn pace(&self) -> Duration {
        Duration::from_secs_f64((self.patient_users + self.doctor_users) as f64 / self.rps)
    }
}

/// What the traffic met: latencies of the successful requests and errors, by kind.
#[derive(Default)]
struct Tally {
    latencies_ms: BTreeMap<&'static str, Vec<f64>>,
    errors: BTreeMap<&'static str, u64>,
    shown: Vec<String>,
}

impl Tally {
    fn error(&mut self, kind: &'static str, what: String) {
        *self.errors.entry(kind).or_default() += 1;
        if self.shown.len() < ERRORS_SHOWN {
            self.shown.push(what);
        }
    }

    fn requests(&self) -> usize {
        self.latencies_ms.values().map(Vec::len).sum::<usize>()
            + self.errors.values().sum::<u64>() as usize
    }

    fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One answer: its headers and body.
struct Answer {
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// The traffic's client: every request goes through [`Api::call`], which times and judges it.
struct Api {
    client: reqwest::Client,
    base: String,
    tally: Mutex<Tally>,
}

impl Api {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fail(&self, kind: &'static str, what: String) {
        self.tally().error(kind, what);
    }

    /// Sends `request`; an answer with another status than `expected`, or none, is an error.
    async fn call(
        &self,
        kind: &'static str,
        request: reqwest::RequestBuilder,
        expected: StatusCode,
    ) -> Option<Answer> {
        let started = Instant::now();
        let outcome = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>((status, headers, body))
        }
        .await;
        let ms = started.elapsed().as_secs_f64() * 1e3;
        match outcome {
            Ok((status, headers, body)) if status == expected => {
                self.tally().latencies_ms.entry(kind).or_default().push(ms);
                Some(Answer { headers, body })
            }
            Ok((status, _, body)) => {
                let start: String = String::from_utf8_lossy(&body).chars().take(160).collect();
                self.fail(kind, format!("{kind}: HTTP {status}: {start}"));
                None
            }
            Err(err) => {
                self.fail(kind, format!("{kind}: {err}"));
                None
            }
        }
    }

    fn get(&self, session: &str, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("tabibu_session={session}"))
    }

    fn post(&self, session: &str, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}{path}", self.base))
            .header("cookie", format!("tabibu_session={session}"))
    }

    /// A server-side rendered page, as a browser first loads it.
    async fn page(&self, kind: &'static str, session: &str, path: &str) -> Option<()> {
        self.call(kind, self.get(session, path), StatusCode::OK)
            .await
            .map(|_| ())
    }

    /// A server function, posted as a form the way the pages post them.
    async fn function(
        &self,
        kind: &'static str,
        session: &str,
        path: &str,
        form: &[(&str, &str)],
    ) -> Option<Answer> {
        self.call(kind, self.post(session, path).form(form), StatusCode::OK)
            .await
    }

    /// Signs in; returns the new session.
    async fn sign_in(&self, kind: &'static str, email: &str) -> Option<String> {
        let request = self
            .client
            .post(format!("{}/api/accounts/sign_in", self.base))
            .form(&[("email", email), ("password", PASSWORD)]);
        let answer = self.call(kind, request, StatusCode::OK).await?;
        let session = answer
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix("tabibu_session="))
            .map(|rest| rest.split(';').next().unwrap_or_default().to_owned());
        if session.is_none() {
            self.fail(kind, format!("{kind}: no session cookie"));
        }
        session
    }

    /// A JSON string answer (an id), or an error of `kind`.
    fn id_in(&self, kind: &'static str, answer: &Answer, field: Option<&str>) -> Option<String> {
        let json = answer.json();
        let value = match field {
            Some(field) => json.as_ref().map(|j| &j[field]),
            None => json.as_ref(),
        };
        let id = value.and_then(Value::as_str).map(str::to_owned);
        if id.is_none() {
            self.fail(kind, format!("{kind}: the answer holds no id"));
        }
        id
    }
}

/// Waits for the user's next turn; `None` once the run is over.
async fn turn(tick: &mut Interval, stop: &AtomicBool) -> Option<()> {
    tick.tick().await;
    (!stop.load(Ordering::Relaxed)).then_some(())
}

fn pacer(pace: Duration) -> Interval {
    let mut tick = tokio::time::interval(pace);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick
}

/// A small PNG scan, different every time (so no two uploads are the same file).
fn scan(seed: u64) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    bytes.extend_from_slice(&64u32.to_be_bytes());
    bytes.extend_from_slice(&64u32.to_be_bytes());
    bytes.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while bytes.len() < 4096 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes
}

/// The conversation id in the assistant's `done` event, if the answer ended with one.
fn done_conversation(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let mut in_done = false;
    for line in text.lines() {
        if let Some(kind) = line.strip_prefix("event:") {
            in_done = kind.trim() == "done";
        } else if in_done && let Some(data) = line.strip_prefix("data:") {
            let done: Value = serde_json::from_str(data.trim()).ok()?;
            return done["conversation_id"].as_str().map(str::to_owned);
        }
    }
    None
}

/// One patient's visit, one request a turn: sign in, look around, ask the assistant, share a
/// scan, ask a doctor, sign out. A failed step ends the visit (later steps need its answer).
async fn visit(
    api: &Api,
    email: &str,
    key: &str,
    seed: u64,
    tick: &mut Interval,
    stop: &AtomicBool,
    cases: &mpsc::UnboundedSender<String>,
) -> Option<()> {
    turn(tick, stop).await?;
    let session = api.sign_in("patient sign in", email).await?;
    turn(tick, stop).await?;
    api.page("page /account", &session, "/account").await?;
    turn(tick, stop).await?;
    api.page("page /profile", &session, "/profile").await?;
    turn(tick, stop).await?;
    let profile = [
        ("date_of_birth", "1990-04-12"),
        ("sex", "female"),
        ("pregnant", "no"),
        ("allergies", "penicillin"),
        ("medications", "none"),
        ("conditions", "asthma"),
        ("phone", "0712345678"),
    ];
    api.function("profile save", &session, "/api/profile/save", &profile)
        .await?;

    turn(tick, stop).await?;
    let message = serde_json::json!({
        "text": SYMPTOMS[(seed % SYMPTOMS.len() as u64) as usize],
        "client_message_id": format!("{key}-chat"),
    });
    let request = api
        .post(&session, "/api/assistant/messages")
        .header("content-type", "application/json")
        .body(message.to_string());
    let answer = api
        .call("assistant message", request, StatusCode::OK)
        .await?;
    let Some(conversation) = done_conversation(&answer.body) else {
        api.fail(
            "assistant message",
            "assistant message: no `done` event".into(),
        );
        return None;
    };
    turn(tick, stop).await?;
    api.page(
        "page /assistant/{id}",
        &session,
        &format!("/assistant/{conversation}"),
    )
    .await?;

    turn(tick, stop).await?;
    let file = scan(seed);
    let request = api
        .post(&session, "/api/documents")
        .header("x-filename", "soak-scan.png")
        .body(file.clone());
    let answer = api
        .call("document upload", request, StatusCode::CREATED)
        .await?;
    let document = api.id_in("document upload", &answer, Some("id"))?;
    turn(tick, stop).await?;
    let answer = api
        .call(
            "document download",
            api.get(&session, &format!("/api/documents/{document}")),
            StatusCode::OK,
        )
        .await?;
    if answer.body != file {
        api.fail(
            "document download",
            "document download: not the bytes uploaded".into(),
        );
        return None;
    }
    turn(tick, stop).await?;
    api.function("document list", &session, "/api/documents/list", &[])
        .await?;
    turn(tick, stop).await?;
    api.page("page /documents", &session, "/documents").await?;

    turn(tick, stop).await?;
    let request_key = format!("{key}-ask");
    let form = [
        ("conversation_id", conversation.as_str()),
        ("note", "Still not better, could a doctor look at it?"),
        ("request_key", request_key.as_str()),
        ("document_ids[0]", document.as_str()),
    ];
    let answer = api
        .function(
            "consultation request",
            &session,
            "/api/consultations/request",
            &form,
        )
        .await?;
    let case = api.id_in("consultation request", &answer, None)?;
    turn(tick, stop).await?;
    let client_key = format!("{key}-note");
    let form = [
        ("id", case.as_str()),
        ("body", "The scan is from last week."),
        ("client_key", client_key.as_str()),
    ];
    api.function(
        "consultation message",
        &session,
        "/api/consultations/send",
        &form,
    )
    .await?;
    // Only now to the doctors: a case closed before the patient's message would refuse it.
    let _ = cases.send(case.clone());
    turn(tick, stop).await?;
    api.page(
        "page /consultations/{id}",
        &session,
        &format!("/consultations/{case}"),
    )
    .await?;
    turn(tick, stop).await?;
    api.function(
        "consultation list",
        &session,
        "/api/consultations/list",
        &[],
    )
    .await?;
    turn(tick, stop).await?;
    api.page("page /consultations", &session, "/consultations")
        .await?;
    turn(tick, stop).await?;
    api.function("patient sign out", &session, "/api/accounts/sign_out", &[])
        .await?;
    Some(())
}

/// A patient user: visits one account after another until the run is over.
async fn patient_user(
    api: Arc<Api>,
    user: usize,
    users: usize,
    emails: Arc<Vec<String>>,
    pace: Duration,
    stop: Arc<AtomicBool>,
    cases: mpsc::UnboundedSender<String>,
) {
    let mut tick = pacer(pace);
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        // Users take turns over disjoint accounts when the numbers divide evenly.
        let account = (user + round as usize * users) % emails.len();
        let key = format!("soak-{user}-{round}");
        let seed = (user as u64) << 32 | round;
        let _ = visit(&api, &emails[account], &key, seed, &mut tick, &stop, &cases).await;
        round += 1;
    }
}

/// Where a doctor is with the case they hold.
enum Step {
    Case,
    CasePage,
    Reply,
    Close,
}

/// A doctor user: takes each new case as it comes (claim, open, its page, reply, close), and
/// between cases looks at the queue and the dashboard.
async fn doctor_user(
    api: Arc<Api>,
    email: String,
    pace: Duration,
    stop: Arc<AtomicBool>,
    cases: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>>,
) {
    let mut tick = pacer(pace);
    let mut session = None;
    let mut holding: Option<(String, Step)> = None;
    let mut idle = 0u64;
    while turn(&mut tick, &stop).await.is_some() {
        let Some(me) = session.as_deref() else {
            session = api.sign_in("doctor sign in", &email).await;
            continue;
        };
        let done = match holding.take() {
            None => {
                let next = cases.lock().await.try_recv().ok();
                if let Some(id) = next {
                    let claimed = api
                        .function(
                            "doctor claim",
                            me,
                            "/api/consultations/claim",
                            &[("id", id.as_str())],
                        )
                        .await;
                    holding = claimed.map(|_| (id, Step::Case));
                } else {
                    idle += 1;
                    if idle.is_multiple_of(2) {
                        let _ = api.page("page /doctor", me, "/doctor").await;
                    } else {
                        let _ = api
                            .function("doctor queue", me, "/api/consultations/queue", &[])
                            .await;
                    }
                }
                continue;
            }
            Some((id, Step::Case)) => api
                .function(
                    "doctor case",
                    me,
                    "/api/consultations/case",
                    &[("id", id.as_str())],
                )
                .await
                .map(|_| (id, Step::CasePage)),
            Some((id, Step::CasePage)) => api
                .page(
                    "page /doctor/cases/{id}",
                    me,
                    &format!("/doctor/cases/{id}"),
                )
                .await
                .map(|()| (id, Step::Reply)),
            Some((id, Step::Reply)) => {
                let key = format!("reply-{id}");
                let form = [
                    ("id", id.as_str()),
                    ("body", "Thank you. Any fever or weight loss?"),
                    ("client_key", key.as_str()),
                ];
                api.function("doctor reply", me, "/api/consultations/send", &form)
                    .await
                    .map(|_| (id, Step::Close))
            }
            Some((id, Step::Close)) => {
                let form = [
                    ("id", id.as_str()),
                    ("outcome", "Seen; nothing alarming in the scan."),
                    ("final_level", "routine"),
                    ("advice", "Rest, fluids, and come back if it gets worse."),
                ];
                let _ = api
                    .function("doctor close", me, "/api/consultations/close", &form)
                    .await;
                None
            }
        };
        // A failed step is counted; the case is left where it is and the next one taken.
        holding = done;
    }
}

/// What one event stream has received.
#[derive(Default)]
struct StreamStat {
    /// Stored events (those with an id).
    stored: AtomicU64,
    /// The wrapping sum of their ids: with the count, says whether they were the right ones.
    id_sum: AtomicU64,
    last_id: AtomicI64,
    /// Stored events whose id was not above the one before (a repeat or a reordering).
    disorder: AtomicU64,
    /// Set when the stream ended or broke, with why.
    ended: Mutex<Option<String>>,
}

impl StreamStat {
    fn end(&self, why: String) {
        let mut ended = self
            .ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        ended.get_or_insert(why);
    }

    fn ended(&self) -> Option<String> {
        self.ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn record(&self, id: i64) {
        if id <= self.last_id.swap(id, Ordering::Relaxed) {
            self.disorder.fetch_add(1, Ordering::Relaxed);
        }
        self.stored.fetch_add(1, Ordering::Relaxed);
        self.id_sum.fetch_add(id as u64, Ordering::Relaxed);
    }
}

/// Reads one event stream until the run drops it; says when it is open (or failed to open).
async fn follow(
    client: reqwest::Client,
    url: String,
    session: String,
    stat: Arc<StreamStat>,
    ready: mpsc::UnboundedSender<()>,
) {
    let response = match client
        .get(url)
        .header("cookie", format!("tabibu_session={session}"))
        .send()
        .await
    {
        Ok(response) if response.status() == StatusCode::OK => response,
        Ok(response) => {
            stat.end(format!("refused: HTTP {}", response.status()));
            let _ = ready.send(());
            return;
        }
        Err(err) => {
            stat.end(format!("did not open: {err}"));
            let _ = ready.send(());
            return;
        }
    };
    let mut body = response.bytes_stream();
    let mut lines = SseData::default();
    let mut announced = false;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => {
                stat.end(format!("broke: {err}"));
                return;
            }
        };
        if !announced {
            announced = true;
            let _ = ready.send(());
        }
        for data in lines.push(&chunk) {
            match serde_json::from_str::<Value>(&data) {
                Ok(event) => match event["id"].as_i64() {
                    Some(0) | None => {}
                    Some(id) => stat.record(id),
                },
                Err(_) => stat.end("sent an event that is not JSON".into()),
            }
        }
    }
    stat.end("ended before the run did".into());
}

/// The stored events each doctor should have heard of since `floor`: (count, wrapping id sum).
async fn expected_events(
    pool: &sqlx::AnyPool,
    floor: i64,
    doctor_ids: &[String],
) -> Result<Vec<(u64, u64)>, sqlx::Error> {
    let everyone: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM live_events WHERE id > $1 AND to_doctors = 1")
            .bind(floor)
            .fetch_all(pool)
            .await?;
    let targeted: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, doctor_id FROM live_events WHERE id > $1 AND to_doctors = 0 \
         AND doctor_id IS NOT NULL",
    )
    .bind(floor)
    .fetch_all(pool)
    .await?;
    let base = everyone.iter().fold((0u64, 0u64), |(n, sum), (id,)| {
        (n + 1, sum.wrapping_add(*id as u64))
    });
    Ok(doctor_ids
        .iter()
        .map(|doctor| {
            targeted
                .iter()
                .filter(|(_, to)| to == doctor)
                .fold(base, |(n, sum), (id, _)| {
                    (n + 1, sum.wrapping_add(*id as u64))
                })
        })
        .collect())
}

/// The least-squares slope of `(seconds, MB)` samples and its standard error, in MB an hour.
fn slope_mb_per_hour(samples: &[(f64, f64)]) -> (f64, f64) {
    if samples.len() < 3 {
        return (0.0, f64::NAN);
    }
    let n = samples.len() as f64;
    let mean_t = samples.iter().map(|s| s.0).sum::<f64>() / n;
    let mean_m = samples.iter().map(|s| s.1).sum::<f64>() / n;
    let cov: f64 = samples
        .iter()
        .map(|(t, m)| (t - mean_t) * (m - mean_m))
        .sum();
    let var: f64 = samples.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    if var == 0.0 {
        return (0.0, f64::NAN);
    }
    let slope = cov / var;
    let intercept = mean_m - slope * mean_t;
    let residuals: f64 = samples
        .iter()
        .map(|(t, m)| (m - intercept - slope * t).powi(2))
        .sum();
    let error = (residuals / (n - 2.0) / var).sqrt();
    (slope * 3600.0, error * 3600.0)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A new PostgreSQL database beside the one `admin` names; returns its URL and name.
async fn fresh_postgres(admin: &str) -> (String, String) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin)
        .await
        .expect("TABIBU_SOAK_DATABASE_URL is reachable");
    let name = format!("tabibu_soak_{}", std::process::id());
    sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await
        .unwrap();
    let (base, _) = admin
        .split('?')
        .next()
        .unwrap_or(admin)
        .rsplit_once('/')
        .expect("a database URL ends in /name");
    (format!("{base}/{name}"), name)
}

async fn drop_postgres(admin: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut conn)
            .await;
    }
}

#[tokio::main]
async fn main() {
    let settings = Settings::from_env();
    // Each stream is a socket on both sides; the server inherits this limit.
    let needed = settings.streams as u64 + 1024;
    let limit = rlimit::increase_nofile_limit(needed).unwrap_or(0);
    assert!(
        limit >= needed,
        "{needed} open files are needed and only {limit} are allowed: raise `ulimit -Hn`"
    );
    sqlx::any::install_default_drivers();

    let postgres = match &settings.database_url {
        Some(admin) => Some((admin.clone(), fresh_postgres(admin).await)),
        None => None,
    };
    let mut extra = vec![("TABIBU_SESSION_IDLE_MINUTES", "120")];
    if let Some((_, (url, _))) = &postgres {
        extra.push(("DATABASE_URL", url.as_str()));
    }
    let server = ChildServer::start("soak-bench", &extra).await;
    let database_url = server.setting("DATABASE_URL").unwrap().to_owned();
    let backend = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let setup = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // Accounts: patients sign up as patients do; doctors are made on the command line.
    let emails: Vec<String> = (0..settings.patients)
        .map(|i| format!("soak-patient{i}@example.com"))
        .collect();
    futures_util::stream::iter(emails.iter())
        .for_each_concurrent(2, |email| {
            let (server, setup) = (&server, &setup);
            async move {
                server.sign_up(setup, email, PASSWORD).await;
            }
        })
        .await;
    let doctor_emails: Vec<String> = (0..settings.doctors)
        .map(|i| format!("soak-doctor{i}@example.com"))
        .collect();
    let mut stream_sessions = Vec::new();
    let mut doctor_ids = Vec::new();
    for email in &doctor_emails {
        server.create_user(email, "doctor", PASSWORD);
        let session = server.sign_in(&setup, email, PASSWORD).await;
        let no_fields: [(&str, &str); 0] = [];
        let me: Value = setup
            .post(format!("{}/api/accounts/me", server.base))
            .header("cookie", format!("tabibu_session={session}"))
            .form(&no_fields)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        doctor_ids.push(me["id"].as_str().expect("the doctor's id").to_owned());
        stream_sessions.push(session);
    }

    // The streams, held for the whole run.
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let stats: Vec<Arc<StreamStat>> = (0..settings.streams)
        .map(|_| Arc::new(StreamStat::default()))
        .collect();
    let url = format!("{}/api/events", server.base);
    let opening = Instant::now();
    for (i, stat) in stats.iter().enumerate() {
        tokio::spawn(follow(
            setup.clone(),
            url.clone(),
            stream_sessions[i % settings.doctors].clone(),
            stat.clone(),
            ready_tx.clone(),
        ));
    }
    for _ in 0..settings.streams {
        tokio::time::timeout(Duration::from_secs(120), ready_rx.recv())
            .await
            .expect("every stream opens within two minutes");
    }
    let opened_in = opening.elapsed();
    let failed_to_open = stats.iter().filter(|s| s.ended().is_some()).count();
    assert_eq!(failed_to_open, 0, "every stream opens");
    let db_url = if postgres.is_some() {
        database_url.clone()
    } else {
        format!("{database_url}?mode=ro")
    };
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db_url)
        .await
        .unwrap();
    let floor: i64 = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM live_events")
        .fetch_one(&pool)
        .await
        .unwrap()
        .unwrap_or(0);

    // The traffic.
    let api = Arc::new(Api {
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap(),
        base: server.base.clone(),
        tally: Mutex::default(),
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (case_tx, case_rx) = mpsc::unbounded_channel();
    let case_rx = Arc::new(tokio::sync::Mutex::new(case_rx));
    let emails = Arc::new(emails);
    let pace = settings.pace();
    println!(
        "soak: {} s, {} event streams ({} doctors, opened in {:.1} s), {backend}, \
         {} patient and {} doctor users at {:.0} requests/s in all, warm-up {} s",
        settings.secs,
        settings.streams,
        settings.doctors,
        opened_in.as_secs_f64(),
        settings.patient_users,
        settings.doctor_users,
        settings.rps,
        settings.warmup_secs
    );
    let started = Instant::now();
    let mut users = Vec::new();
    for user in 0..settings.patient_users {
        users.push(tokio::spawn(patient_user(
            api.clone(),
            user,
            settings.patient_users,
            emails.clone(),
            pace,
            stop.clone(),
            case_tx.clone(),
        )));
    }
    for email in doctor_emails.iter().take(settings.doctor_users) {
        users.push(tokio::spawn(doctor_user(
            api.clone(),
            email.clone(),
            pace,
            stop.clone(),
            case_rx.clone(),
        )));
    }

    // Memory every 10 s; a line of progress every minute.
    let run = Duration::from_secs(settings.secs);
    let mut samples: Vec<(f64, u64)> = Vec::new();
    let mut server_gone = false;
    let mut next_sample = Duration::ZERO;
    let mut next_report = REPORT_EVERY;
    loop {
        tokio::time::sleep_until((started + next_sample).into()).await;
        let Some(rss) = server.try_status_bytes("VmRSS:") else {
            server_gone = true;
            break;
        };
        samples.push((started.elapsed().as_secs_f64(), rss));
        if next_sample >= next_report {
            next_report += REPORT_EVERY;
            let (requests, errors) = {
                let tally = api.tally();
                (tally.requests(), tally.error_count())
            };
            println!(
                "  {:>5.0} s: {requests} requests, {errors} errors, {:.1} MB resident, {} files open",
                started.elapsed().as_secs_f64(),
                mb(rss),
                server.open_files().unwrap_or(0)
            );
        }
        if next_sample >= run {
            break;
        }
        next_sample += SAMPLE_EVERY;
    }
    let traffic_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for user in users {
        let _ = tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(10), user).await;
    }
    let cases_left = case_rx.lock().await.len();
    let files_open = server.open_files();
    let peak = server.try_status_bytes("VmHWM:");

    // Every stream should now hold every stored event addressed to its doctor.
    let deadline = Instant::now() + DRAIN;
    let expected = loop {
        let expected = expected_events(&pool, floor, &doctor_ids).await.unwrap();
        let caught_up = stats
            .iter()
            .enumerate()
            .all(|(i, s)| s.stored.load(Ordering::Relaxed) >= expected[i % settings.doctors].0);
        if caught_up || Instant::now() >= deadline {
            break expected;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut stream_problems: Vec<String> = Vec::new();
    for (i, stat) in stats.iter().enumerate() {
        let (count, sum) = expected[i % settings.doctors];
        let got = stat.stored.load(Ordering::Relaxed);
        if let Some(why) = stat.ended() {
            stream_problems.push(format!("stream {i}: {why}"));
        } else if got != count || stat.id_sum.load(Ordering::Relaxed) != sum {
            stream_problems.push(format!("stream {i}: {got} events of the {count} addressed"));
        } else if stat.disorder.load(Ordering::Relaxed) > 0 {
            stream_problems.push(format!("stream {i}: events repeated or out of order"));
        }
    }
    let deliveries: u64 = stats.iter().map(|s| s.stored.load(Ordering::Relaxed)).sum();
    drop(pool);
    drop(server);
    if let Some((admin, (_, name))) = &postgres {
        drop_postgres(admin, name).await;
    }

    // The report.
    let tally = api.tally();
    println!(
        "\nrequests ({:.1} s of traffic, {:.1} requests/s):",
        traffic_secs,
        tally.requests() as f64 / traffic_secs
    );
    println!(
        "  {:<26} {:>7} {:>6} {:>9} {:>9} {:>9}",
        "kind", "count", "errors", "p50 ms", "p99 ms", "max ms"
    );
    let mut kinds: Vec<&'static str> = tally
        .latencies_ms
        .keys()
        .chain(tally.errors.keys())
        .copied()
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let mut all: Vec<f64> = Vec::new();
    for kind in kinds {
        let mut ms = tally.latencies_ms.get(kind).cloned().unwrap_or_default();
        ms.sort_by(f64::total_cmp);
        let errors = tally.errors.get(kind).copied().unwrap_or(0);
        println!(
            "  {kind:<26} {:>7} {errors:>6} {:>9.1} {:>9.1} {:>9.1}",
            ms.len() as u64 + errors,
            quantile(&ms, 0.5),
            quantile(&ms, 0.99),
            ms.last().copied().unwrap_or(f64::NAN)
        );
        all.extend(ms);
    }
    all.sort_by(f64::total_cmp);
    println!(
        "  {:<26} {:>7} {:>6} {:>9.1} {:>9.1} {:>9.1}",
        "all",
        tally.requests(),
        tally.error_count(),
        quantile(&all, 0.5),
        quantile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN)
    );
    for shown in &tally.shown {
        println!("  error: {shown}");
    }
    println!("  consultations still waiting for a doctor at the end: {cases_left}");

    let per_doctor: Vec<u64> = expected.iter().map(|e| e.0).collect();
    println!(
        "\nevent streams: {} held open; stored events addressed per doctor: {per_doctor:?}; \
         {deliveries} deliveries; {} streams with a problem",
        settings.streams,
        stream_problems.len()
    );
    for problem in stream_problems.iter().take(ERRORS_SHOWN) {
        println!("  {problem}");
    }

    let warm: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(t, _)| *t >= settings.warmup_secs as f64)
        .map(|(t, b)| (*t, mb(*b)))
        .collect();
    let edge = |samples: &[(f64, f64)]| {
        let mut mbs: Vec<f64> = samples.iter().map(|s| s.1).collect();
        mbs.sort_by(f64::total_cmp);
        quantile(&mbs, 0.5)
    };
    let start_mb = edge(&warm[..EDGE_SAMPLES.min(warm.len())]);
    let end_mb = edge(&warm[warm.len().saturating_sub(EDGE_SAMPLES)..]);
    let max_mb = warm.iter().map(|s| s.1).fold(f64::NAN, f64::max);
    let window = warm.last().map_or(0.0, |s| s.0) - warm.first().map_or(0.0, |s| s.0);
    let (slope, slope_error) = slope_mb_per_hour(&warm);
    let allowed = (start_mb * GROWTH_FRACTION).max(GROWTH_FLOOR_MB);
    let minute_marks: Vec<String> = samples
        .iter()
        .filter(|(t, _)| (*t as u64).is_multiple_of(60))
        .map(|(t, b)| format!("{:.0}s {:.1}", t, mb(*b)))
        .collect();
    println!(
        "\nserver resident memory (MB): {:.1} at the start of traffic; {start_mb:.1} after \
         warm-up ({} s; median of the next minute), {max_mb:.1} max after warm-up, \
         {end_mb:.1} at the end (median of the last minute); peak (VmHWM) {:.1}",
        samples.first().map_or(f64::NAN, |s| mb(s.1)),
        settings.warmup_secs,
        peak.map_or(f64::NAN, mb)
    );
    println!(
        "  slope after warm-up: {slope:+.1} MB/h (standard error {slope_error:.1}) over {:.0} s \
         of {} samples; files open at the end: {}",
        window,
        warm.len(),
        files_open.map_or_else(|| "?".to_owned(), |n| n.to_string())
    );
    println!("  by the minute: {}", minute_marks.join(", "));

    let mut ok = true;
    if server_gone {
        println!("FAIL: the server process went away during the run");
        ok = false;
    }
    if tally.error_count() > 0 {
        println!("FAIL: {} requests failed", tally.error_count());
        ok = false;
    }
    if !stream_problems.is_empty() {
        println!(
            "FAIL: {} event streams missed events or ended early",
            stream_problems.len()
        );
        ok = false;
    }
    let grew_within = end_mb - start_mb <= allowed;
    if !grew_within {
        println!(
            "FAIL: memory grew {:.1} MB after warm-up (allowed {allowed:.1} MB)",
            end_mb - start_mb
        );
        ok = false;
    }
    let slope_judged = window >= SLOPE_MIN_WINDOW.as_secs_f64();
    if slope_judged && slope > SLOPE_LIMIT_MB_PER_HOUR {
        println!("FAIL: memory trends up {slope:.1} MB/h (limit {SLOPE_LIMIT_MB_PER_HOUR})");
        ok = false;
    }
    if !ok {
        std::process::exit(1);
    }
    let trend = if slope_judged {
        format!("trend {slope:+.1} MB/h, limit {SLOPE_LIMIT_MB_PER_HOUR}")
    } else {
        format!(
            "trend not judged: {window:.0} s after warm-up is too short (needs {} s)",
            SLOPE_MIN_WINDOW.as_secs()
        )
    };
    println!(
        "PASS: zero errors, every event delivered, memory flat (end {:+.1} MB from \
         post-warm-up, allowed {allowed:.1} MB; {trend})",
        end_mb - start_mb
    );
}
