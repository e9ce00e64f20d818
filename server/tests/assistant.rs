//! The symptom assistant through the real server: the streaming endpoint's events and their
//! order, conversations stored and read back, idempotent sending, every refusal, the input
//! caps, and an external model (a fake OpenAI-compatible server speaking the real streaming
//! wire format) whose stream is cut mid-reply or that argues for less care.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use futures_util::StreamExt;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tabibu_app::accounts::types::Role;
use tabibu_app::audit::{self, AuditFilter};

const PASSWORD: &str = "correct horse battery staple";
const CHEST_PAIN: &str =
    "I have crushing central chest pain spreading to my left arm and I am sweating a lot";
const COLD: &str =
    "I've had a runny nose, sneezing and a mild sore throat since yesterday. No fever.";
const MESSAGES: &str = "/api/assistant/messages";

/// What the endpoint answered: its status, and its events in order (name, JSON data).
#[derive(Debug)]
struct Answer {
    status: u16,
    events: Vec<(String, Value)>,
    body: String,
}

impl Answer {
    fn last(&self, name: &str) -> &Value {
        &self
            .events
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name} event in {:?}", self.events))
            .1
    }

    fn deltas(&self) -> String {
        self.events
            .iter()
            .filter(|(n, _)| n == "delta")
            .map(|(_, d)| d.as_str().unwrap().to_owned())
            .collect()
    }
}

fn parse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut name = String::new();
            let mut data = String::new();
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (name, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

async fn post_raw(app: &support::TestApp, session: Option<&str>, body: String) -> Answer {
    let mut request = app
        .client
        .post(app.url(MESSAGES))
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = session {
        request = request.header("cookie", format!("tabibu_session={token}"));
    }
    let mut response = request.send().await.unwrap();
    let status = response.status().as_u16();
    if status == 200 {
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes.extend_from_slice(&chunk);
    }
    let body = String::from_utf8(bytes).unwrap();
    let events = if status == 200 {
        parse_events(&body)
    } else {
        Vec::new()
    };
    Answer {
        status,
        events,
        body,
    }
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn send(
    app: &support::TestApp,
    session: &str,
    conversation: Option<&str>,
    text: &str,
    client_id: &str,
) -> Answer {
    let body =
        json!({ "conversation_id": conversation, "text": text, "client_message_id": client_id });
    post_raw(app, Some(session), body.to_string()).await
}

async fn conversation_id(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.last("done")["conversation_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn read(app: &support::TestApp, session: &str, id: &str) -> support::Reply {
    app.call("/api/assistant/conversation", &[("id", id)], Some(session))
        .await
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

async fn audit_codes(app: &support::TestApp) -> Vec<String> {
    audit::list(&app.state.db, &AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn count(app: &support::TestApp, sql: &str, id: &str) -> i64 {
    sqlx::query(sql)
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0)
}

on_both_databases! {
    async fn chest_pain_with_danger_features_raises_the_emergency_banner_in_the_first_event(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let answer = send(&app, &amina, None, CHEST_PAIN, &new_id()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let (first, triage) = &answer.events[0];
        assert_eq!(first, "triage", "the banner's event comes before any text");
        assert_eq!(triage["level"], "emergency");
        assert_eq!(triage["show_emergency_banner"], true);
        assert!(!triage["red_flags"].as_array().unwrap().is_empty());
        let done = answer.last("done");
        assert_eq!(answer.events.last().unwrap().0, "done");
        assert_eq!(done["level"], "emergency");
        assert_eq!(done["result"]["level"], "emergency");
        assert_eq!(done["complete"], true);
        assert!(!done["reply"].as_str().unwrap().is_empty());
    }

    async fn a_mild_cold_is_self_care_with_advice_and_a_safety_net(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let answer = send(&app, &amina, None, COLD, &new_id()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.events[0].1["level"], "self_care");
        assert_eq!(answer.events[0].1["show_emergency_banner"], false);
        let done = answer.last("done");
        assert_eq!(done["level"], "self_care");
        assert!(!done["result"]["advice"].as_array().unwrap().is_empty());
    }

    async fn a_conversation_is_stored_triaged_as_a_whole_and_read_back(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let first = send(&app, &amina, None, "I have had a fever since this morning", &new_id()).await;
        let id = conversation_id(&first).await;
        assert_ne!(first.last("done")["level"], "emergency");
        // Alone this would not be an emergency; with the fever before it, it is.
        let second = send(&app, &amina, Some(&id), "Now I also have a stiff neck", &new_id()).await;
        assert_eq!(conversation_id(&second).await, id);
        assert_eq!(second.events[0].1["level"], "emergency");

        let reply = read(&app, &amina, &id).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let authors: Vec<&str> = reply.json["messages"].as_array().unwrap().iter().map(|m| m["author"].as_str().unwrap()).collect();
        assert_eq!(authors, ["patient", "assistant", "patient", "assistant"]);
        assert_eq!(reply.json["messages"][2]["body"], "Now I also have a stiff neck");
        assert_eq!(reply.json["messages"][3]["complete"], true);
        assert_eq!(reply.json["messages"][3]["triage_level"], "emergency");
        assert_eq!(reply.json["triage"]["level"], "emergency");
        assert_eq!(reply.json["summary"]["level"], "emergency");

        let list = app.call("/api/assistant/conversations", &[], Some(&amina)).await;
        assert_eq!(list.status, 200, "{}", list.text);
        assert_eq!(list.json["consent_needed"], false, "no consent asked with the built-in engine");
        assert_eq!(list.json["conversations"][0]["id"], id.as_str());
        assert_eq!(list.json["conversations"][0]["triage_level"], "emergency");

        // What a consultation copies.
        let patient_id = count_user(&app, "amina@example.com").await;
        let (result, summary) = tabibu_app::assistant::service::load_for_consultation(&app.state.db, &patient_id, &id).await.unwrap().unwrap();
        assert_eq!(result.level, tabibu_ai::TriageLevel::Emergency);
        assert_eq!(summary.level, tabibu_ai::TriageLevel::Emergency);
        assert!(tabibu_app::assistant::service::load_for_consultation(&app.state.db, "someone-else", &id).await.unwrap().is_none());

        // The timeline and the FHIR export hold it.
        let timeline = app.call("/api/records/timeline", &[], Some(&amina)).await;
        let links: Vec<&str> = timeline.json.as_array().unwrap().iter().map(|i| i["link"].as_str().unwrap()).collect();
        assert!(links.contains(&format!("/assistant/{id}").as_str()), "{links:?}");
        let bundle: Value = app.get_as("/api/records/fhir", Some(&amina)).await.json().await.unwrap();
        assert!(bundle.to_string().contains("Now I also have a stiff neck"));

        let codes = audit_codes(&app).await;
        assert_eq!(codes.iter().filter(|c| *c == "conversation_message").count(), 4, "{codes:?}");
        assert!(codes.iter().any(|c| c == "conversation_read"), "{codes:?}");
    }

    async fn the_same_message_sent_twice_is_stored_once(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let client_id = new_id();
        let first = send(&app, &amina, None, COLD, &client_id).await;
        let id = conversation_id(&first).await;
        // A double tap: the same message again, still without a conversation id.
        let again = send(&app, &amina, None, COLD, &client_id).await;
        assert_eq!(conversation_id(&again).await, id);
        assert_eq!(again.events[0].0, "triage");
        assert_eq!(again.last("done")["reply"], first.last("done")["reply"]);
        let patient_id = count_user(&app, "amina@example.com").await;
        assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations WHERE patient_id = $1", &patient_id).await, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM conversation_messages WHERE conversation_id = $1 AND author = 'patient'", &id).await, 1);
        assert_eq!(count(&app, "SELECT COUNT(*) FROM conversation_messages WHERE conversation_id = $1", &id).await, 2);
    }

    async fn another_patient_can_neither_read_nor_post_into_a_conversation(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let baraka = app.sign_up("baraka@example.com", PASSWORD).await;
        let id = conversation_id(&send(&app, &amina, None, "a private worry about my cough", &new_id()).await).await;
        assert_eq!(read(&app, &baraka, &id).await.status, 404);
        let intrusion = send(&app, &baraka, Some(&id), "let me in", &new_id()).await;
        assert_eq!(intrusion.status, 404);
        assert!(!intrusion.body.contains("private worry"));
        let list = app.call("/api/assistant/conversations", &[], Some(&baraka)).await;
        assert_eq!(list.json["conversations"], json!([]));
        assert_eq!(count(&app, "SELECT COUNT(*) FROM conversation_messages WHERE conversation_id = $1", &id).await, 2);
        // A made-up id answers exactly like another patient's.
        assert_eq!(read(&app, &amina, "0000000000000000").await.status, 404);
    }

    async fn anonymous_callers_and_doctors_are_refused(app) {
        let doctor = sign_in_doctor(&app).await;
        let body = json!({ "text": COLD, "client_message_id": new_id() }).to_string();
        assert_eq!(post_raw(&app, None, body.clone()).await.status, 401);
        assert_eq!(post_raw(&app, Some(&doctor), body.clone()).await.status, 403);
        assert_eq!(post_raw(&app, Some("forged-token"), body).await.status, 401);
        for path in ["/api/assistant/conversations", "/api/assistant/conversation", "/api/assistant/consent"] {
            assert_eq!(app.call(path, &[("id", "0000000000000000")], None).await.status, 401, "{path}");
            assert_eq!(app.call(path, &[("id", "0000000000000000")], Some(&doctor)).await.status, 403, "{path}");
        }
        let rows: i64 = sqlx::query("SELECT COUNT(*) FROM conversations").fetch_one(app.state.db.pool()).await.unwrap().get(0);
        assert_eq!(rows, 0);
    }

    async fn empty_and_overlong_messages_get_a_field_message(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let empty = send(&app, &amina, None, "  \n ", &new_id()).await;
        assert_eq!(empty.status, 422);
        assert!(empty.body.contains("assistant.empty"), "{}", empty.body);
        let long = "fever ".repeat(4_000);
        let too_long = send(&app, &amina, None, &long, &new_id()).await;
        assert_eq!(too_long.status, 422);
        assert!(too_long.body.contains("assistant.too_long"), "{}", too_long.body);
        assert!(!too_long.body.contains("fever"), "the refusal never echoes the text");
        let not_json = post_raw(&app, Some(&amina), "{\"text\": \"fever".into()).await;
        assert_eq!(not_json.status, 422);
        let rows: i64 = sqlx::query("SELECT COUNT(*) FROM conversation_messages").fetch_one(app.state.db.pool()).await.unwrap().get(0);
        assert_eq!(rows, 0);
    }

    async fn a_conversation_resumes_on_another_device_and_its_page_shows_it(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let id = conversation_id(&send(&app, &amina, None, "I have a sore throat and a cough", &new_id()).await).await;
        let other_device = app.call("/api/accounts/sign_in", &[("email", "amina@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        assert_ne!(other_device, amina);
        let reply = read(&app, &other_device, &id).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["messages"][0]["body"], "I have a sore throat and a cough");
        let page = app.get_as(&format!("/assistant/{id}"), Some(&other_device)).await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("I have a sore throat and a cough"), "the page renders the conversation");
        assert!(html.contains("data-testid=\"triage-card\""), "and its triage card");
        let start = app.get_as("/assistant", Some(&other_device)).await.text().await.unwrap();
        assert!(start.contains(&format!("/assistant/{id}")), "the list links to it");
        assert!(start.contains("data-testid=\"assistant-form\""));
        let anonymous = app.get_as("/assistant", None).await.text().await.unwrap();
        assert!(!anonymous.contains("data-testid=\"assistant-form\""), "no chat without signing in");
    }

    async fn garbage_text_still_gets_an_answer(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let junk: String = (0..3000u32).filter_map(|i| char::from_u32((i * 7919) % 0x2_0000)).collect();
        for text in ["\u{0}\u{1}fever\u{0}", "🤒🤒🤒 ¿¿ \u{202e}tsaehc", "%s%n{}{{}}<script>", junk.as_str()] {
            let answer = send(&app, &amina, None, text, &new_id()).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            assert_eq!(answer.events[0].0, "triage");
            assert_eq!(answer.events.last().unwrap().0, "done");
        }
    }
}

async fn count_user(app: &support::TestApp, email: &str) -> String {
    sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0)
}

// ---------------------------------------------------------------------------------------
// An external model: a fake OpenAI-compatible server streaming real `chat.completion.chunk`
// events.

/// One streamed answer: its SSE chunks, and whether the connection breaks after them.
#[derive(Clone)]
struct Streamed {
    chunks: Vec<String>,
    cut: bool,
    /// When set, nothing is answered until the test opens it.
    gate: Option<Arc<tokio::sync::Notify>>,
}

#[derive(Clone, Default)]
struct FakeModel {
    answers: Arc<Mutex<VecDeque<Streamed>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn fake_handler(State(fake): State<FakeModel>, body: Bytes) -> Response {
    fake.seen
        .lock()
        .unwrap()
        .push(String::from_utf8_lossy(&body).into_owned());
    let answer = fake.answers.lock().unwrap().pop_front().unwrap();
    if let Some(gate) = &answer.gate {
        // Bounded, so a failing test ends instead of leaving a request hanging.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), gate.notified()).await;
    }
    let mut items: Vec<Result<Bytes, std::io::Error>> = answer
        .chunks
        .into_iter()
        .map(|c| Ok(Bytes::from(c)))
        .collect();
    if answer.cut {
        items.push(Err(std::io::Error::other("connection cut")));
    }
    // Yielding before each chunk lets the server flush it, so a cut comes after the text.
    let stream = futures_util::stream::iter(items).then(|item| async move {
        tokio::task::yield_now().await;
        item
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

async fn fake_model(answers: Vec<Streamed>) -> (FakeModel, String) {
    let fake = FakeModel {
        answers: Arc::new(Mutex::new(answers.into())),
        seen: Arc::default(),
    };
    let app = axum::Router::new()
        .fallback(fake_handler)
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}/v1"))
}

fn chunk(text: &str) -> String {
    let event = json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "fake-model",
        "choices": [{ "index": 0, "delta": { "content": text }, "finish_reason": null }]
    });
    format!("data: {event}\n\n")
}

fn streamed(pieces: &[&str], cut: bool) -> Streamed {
    let mut chunks: Vec<String> = pieces.iter().map(|p| chunk(p)).collect();
    if !cut {
        chunks.push("data: [DONE]\n\n".into());
    }
    Streamed {
        chunks,
        cut,
        gate: None,
    }
}

async fn app_with_model(backend: support::Backend, url: &str) -> Option<support::TestApp> {
    support::spawn_app_with(
        backend,
        &[
            ("TABIBU_AI_PROVIDER", "openai"),
            ("TABIBU_OPENAI_BASE_URL", url),
            ("TABIBU_OPENAI_MODEL", "fake-model"),
            ("TABIBU_AI_MAX_RETRIES", "0"),
        ],
    )
    .await
}

/// The engine's own level for `text` with the patient's profile, so that the test does not
/// hard-code the knowledge base's verdict.
async fn engine_level(app: &support::TestApp, email: &str, text: &str) -> &'static str {
    let id = count_user(app, email).await;
    let today = tabibu_app::accounts::validate::civil_date(tabibu_app::platform::db::now_ms());
    let ctx = tabibu_app::profile::service::load(&app.state.db, &id)
        .await
        .unwrap()
        .triage_context(today);
    tabibu_ai::guard::triage_guarded(&app.state.triage, text, &ctx)
        .level
        .as_str()
}

async fn a_cut_stream_keeps_the_partial_reply_and_a_retry_completes_it(backend: support::Backend) {
    let (fake, url) = fake_model(vec![
        streamed(&["LEVEL: urgent\nPlease", " rest and", " drink"], true),
        streamed(
            &["LEVEL: self_care\nRest and drink plenty of fluids."],
            false,
        ),
    ])
    .await;
    let Some(app) = app_with_model(backend, &url).await else {
        return;
    };
    let amina = app.sign_up("amina@example.com", PASSWORD).await;

    // Without consent the model is never asked, and the page is told to ask for it.
    let overview = app
        .call("/api/assistant/conversations", &[], Some(&amina))
        .await;
    assert_eq!(overview.json["consent_needed"], true);
    let id =
        conversation_id(&send(&app, &amina, None, "I have a mild headache", &new_id()).await).await;
    assert!(fake.seen.lock().unwrap().is_empty(), "no consent, no call");

    assert_eq!(
        app.call("/api/assistant/consent", &[], Some(&amina))
            .await
            .status,
        200
    );
    let overview = app
        .call("/api/assistant/conversations", &[], Some(&amina))
        .await;
    assert_eq!(overview.json["consent_needed"], false);
    assert!(
        audit_codes(&app)
            .await
            .iter()
            .any(|c| c == "ai_consent_given")
    );

    let client_id = new_id();
    let text = format!("Amina Otieno here. {COLD}");
    let cut = send(&app, &amina, Some(&id), &text, &client_id).await;
    assert_eq!(cut.status, 200, "{}", cut.body);
    assert_eq!(fake.seen.lock().unwrap().len(), 1);
    assert!(
        !fake.seen.lock().unwrap()[0].contains("Otieno"),
        "the patient's name never reaches the model"
    );
    assert_eq!(cut.events[0].0, "triage");
    assert_eq!(cut.deltas(), "Please rest and drink");
    let done = cut.last("done");
    assert_eq!(done["complete"], false);
    assert_eq!(done["reply"], "Please rest and drink");
    let whole = format!("I have a mild headache\n{text}");
    let level = engine_level(&app, "amina@example.com", &whole).await;
    assert_eq!(
        done["level"], level,
        "a cut stream leaves the engine's level"
    );

    let stored = read(&app, &amina, &id).await;
    let last = &stored.json["messages"][3];
    assert_eq!(last["author"], "assistant");
    assert_eq!(last["body"], "Please rest and drink");
    assert_eq!(last["complete"], false);
    assert_eq!(stored.json["triage"]["level"], level);
    let outcomes: Vec<String> = sqlx::query_scalar("SELECT outcome FROM ai_usage")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(outcomes, ["interrupted"]);

    // Retrying sends the same message again: no second copy, a new complete reply.
    let retry = send(&app, &amina, Some(&id), &text, &client_id).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(retry.last("done")["complete"], true);
    let stored = read(&app, &amina, &id).await;
    let messages = stored.json["messages"].as_array().unwrap();
    let authors: Vec<&str> = messages
        .iter()
        .map(|m| m["author"].as_str().unwrap())
        .collect();
    assert_eq!(
        authors,
        ["patient", "assistant", "patient", "assistant", "assistant"]
    );
    assert_eq!(messages[3]["complete"], false, "the cut reply is kept");
    assert_eq!(messages[4]["complete"], true);
}

async fn a_model_answering_a_lower_level_never_lowers_it(backend: support::Backend) {
    let (_fake, url) = fake_model(vec![streamed(
        &["LEVEL: self_care\nJust rest at home,", " it is nothing."],
        false,
    )])
    .await;
    let Some(app) = app_with_model(backend, &url).await else {
        return;
    };
    let amina = app.sign_up("amina@example.com", PASSWORD).await;
    assert_eq!(
        app.call("/api/assistant/consent", &[], Some(&amina))
            .await
            .status,
        200
    );
    let answer = send(&app, &amina, None, CHEST_PAIN, &new_id()).await;
    assert_eq!(answer.events[0].1["level"], "emergency");
    assert_eq!(
        answer.deltas(),
        "",
        "words arguing for less care are never shown"
    );
    let done = answer.last("done");
    assert_eq!(done["level"], "emergency");
    assert!(!done["reply"].as_str().unwrap().contains("Just rest"));
    let id = conversation_id(&answer).await;
    let stored = read(&app, &amina, &id).await;
    assert_eq!(stored.json["triage"]["level"], "emergency");
    assert!(
        !stored.json["messages"][1]["body"]
            .as_str()
            .unwrap()
            .contains("Just rest")
    );
}

async fn the_banner_event_arrives_before_the_model_has_said_anything(backend: support::Backend) {
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut answer = streamed(&["LEVEL: emergency\nCall the emergency number now."], false);
    answer.gate = Some(gate.clone());
    let (fake, url) = fake_model(vec![answer]).await;
    let Some(app) = app_with_model(backend, &url).await else {
        return;
    };
    let amina = app.sign_up("amina@example.com", PASSWORD).await;
    app.call("/api/assistant/consent", &[], Some(&amina)).await;
    let body = json!({ "text": CHEST_PAIN, "client_message_id": new_id() }).to_string();
    let mut response = app
        .client
        .post(app.url(MESSAGES))
        .header("cookie", format!("tabibu_session={amina}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The model has not answered (it is waiting at the gate), yet the banner's event is here.
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
        .await
        .expect("the triage event is not held back until the model answers")
        .unwrap()
        .unwrap();
    let first = String::from_utf8(first.to_vec()).unwrap();
    let (name, triage) = &parse_events(&first)[0];
    assert_eq!(name, "triage");
    assert_eq!(triage["show_emergency_banner"], true);
    gate.notify_one();
    let mut rest = first;
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    let events = parse_events(&rest);
    assert_eq!(events.last().unwrap().0, "done");
    assert_eq!(
        events.last().unwrap().1["reply"],
        "Call the emergency number now."
    );
    assert_eq!(
        fake.seen.lock().unwrap().len(),
        1,
        "the model was asked once"
    );
}

mod with_a_model {
    use super::*;

    #[tokio::test]
    async fn sqlite_a_cut_stream_keeps_the_partial_reply_and_a_retry_completes_it() {
        a_cut_stream_keeps_the_partial_reply_and_a_retry_completes_it(support::Backend::Sqlite)
            .await;
    }

    #[tokio::test]
    async fn postgres_a_cut_stream_keeps_the_partial_reply_and_a_retry_completes_it() {
        a_cut_stream_keeps_the_partial_reply_and_a_retry_completes_it(support::Backend::Postgres)
            .await;
    }

    #[tokio::test]
    async fn sqlite_a_model_answering_a_lower_level_never_lowers_it() {
        a_model_answering_a_lower_level_never_lowers_it(support::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_a_model_answering_a_lower_level_never_lowers_it() {
        a_model_answering_a_lower_level_never_lowers_it(support::Backend::Postgres).await;
    }

    #[tokio::test]
    async fn sqlite_the_banner_event_arrives_before_the_model_has_said_anything() {
        the_banner_event_arrives_before_the_model_has_said_anything(support::Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_the_banner_event_arrives_before_the_model_has_said_anything() {
        the_banner_event_arrives_before_the_model_has_said_anything(support::Backend::Postgres)
            .await;
    }
}
