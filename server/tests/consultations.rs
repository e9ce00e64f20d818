//! Consultations through the real server: a patient asks, the case enters the doctors' queue
//! by urgency, one of two racing doctors wins the claim, messages go both ways with read
//! receipts, the doctor closes it, and every change reaches the right people's live event
//! streams (and nobody else's), including after a reconnect. Every refusal is checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use futures_util::StreamExt;
use sqlx::Row;
use std::time::Duration;
use tabibu_app::accounts::types::Role;
use tabibu_app::audit::{self, AuditFilter};

const PASSWORD: &str = "correct horse battery staple";
const CHEST_PAIN: &str = "Crushing chest pain spreading to my left arm, sweating and short of \
     breath for the last 30 minutes";
const MILD_COLD: &str = "I have had a runny nose and a mild sore throat for two days, no fever";

async fn doctor(app: &support::TestApp, email: &str, name: &str) -> String {
    app.create_staff(email, PASSWORD, Role::Doctor).await;
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
    reply.session.expect("the doctor signs in")
}

async fn request(app: &support::TestApp, session: &str, note: &str, key: &str) -> String {
    let reply = app
        .call(
            "/api/consultations/request",
            &[("note", note), ("request_key", key)],
            Some(session),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json.as_str().unwrap().to_owned()
}

async fn send(app: &support::TestApp, session: &str, id: &str, body: &str, key: &str) -> u16 {
    app.call(
        "/api/consultations/send",
        &[("id", id), ("body", body), ("client_key", key)],
        Some(session),
    )
    .await
    .status
}

/// An open event stream, read line by line.
struct Events {
    lines: std::pin::Pin<Box<dyn futures_util::Stream<Item = String> + Send>>,
}

impl Events {
    async fn open(app: &support::TestApp, session: &str, last_id: Option<i64>) -> Events {
        let mut request = app
            .client
            .get(app.url("/api/events"))
            .header("cookie", format!("tabibu_session={session}"));
        if let Some(id) = last_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let mut buffer = String::new();
        let lines = response
            .bytes_stream()
            .map(move |chunk| {
                buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                let mut out = Vec::new();
                while let Some(end) = buffer.find('\n') {
                    out.push(buffer[..end].to_owned());
                    buffer.drain(..=end);
                }
                futures_util::stream::iter(out)
            })
            .flatten();
        Events {
            lines: Box::pin(lines),
        }
    }

    /// The next event's (id, kind, consultation id), waiting at most `within`.
    async fn next(&mut self, within: Duration) -> Option<(i64, String, String)> {
        let read = async {
            let (mut id, mut kind) = (None, None);
            while let Some(line) = self.lines.next().await {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = v.parse::<i64>().ok();
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    let data: serde_json::Value = serde_json::from_str(v).unwrap();
                    let consultation = data["consultation_id"].as_str().unwrap().to_owned();
                    // A passing signal (typing) has no id line.
                    return Some((id.unwrap_or(0), kind.unwrap(), consultation));
                }
            }
            None
        };
        tokio::time::timeout(within, read).await.ok().flatten()
    }
}

on_both_databases! {
    async fn the_queue_puts_the_most_urgent_case_first_with_what_a_doctor_needs(app) {
        let mild = app.sign_up("mild@example.com", PASSWORD).await;
        let severe = app.sign_up("severe@example.com", PASSWORD).await;
        let doc = doctor(&app, "doc@example.com", "Dr Wanjiru").await;
        let first = request(&app, &mild, MILD_COLD, "request-mild-1").await;
        let second = request(&app, &severe, CHEST_PAIN, "request-severe-1").await;

        let queue = app.call("/api/consultations/queue", &[], Some(&doc)).await;
        assert_eq!(queue.status, 200, "{}", queue.text);
        let items = queue.json.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["id"], second.as_str());
        assert_eq!(items[0]["level"], "emergency");
        assert_eq!(items[0]["red_flag"], true);
        assert!(!items[0]["reasons"].as_array().unwrap().is_empty());
        assert_eq!(items[0]["age_years"].as_u64().map(|a| a >= 35), Some(true));
        assert_eq!(items[1]["id"], first.as_str());
        assert_eq!(items[1]["level"], "self_care");
        assert!(items[0]["chief_complaint"].as_str().unwrap().len() > 5);
    }

    async fn a_double_submitted_request_makes_one_consultation(app) {
        let patient = app.sign_up("twice@example.com", PASSWORD).await;
        let (a, b) = tokio::join!(
            request(&app, &patient, MILD_COLD, "same-key-123"),
            request(&app, &patient, MILD_COLD, "same-key-123"),
        );
        assert_eq!(a, b);
        let again = request(&app, &patient, MILD_COLD, "same-key-123").await;
        assert_eq!(again, a);
        let list = app.call("/api/consultations/list", &[], Some(&patient)).await;
        assert_eq!(list.json.as_array().unwrap().len(), 1);
    }

    async fn two_doctors_claiming_at_once_have_exactly_one_winner(app) {
        let patient = app.sign_up("race@example.com", PASSWORD).await;
        let one = doctor(&app, "one@example.com", "Dr One").await;
        let two = doctor(&app, "two@example.com", "Dr Two").await;
        let id = request(&app, &patient, CHEST_PAIN, "race-key-0001").await;
        let fields = [("id", id.as_str())];
        let (a, b) = tokio::join!(
            app.call("/api/consultations/claim", &fields, Some(&one)),
            app.call("/api/consultations/claim", &fields, Some(&two)),
        );
        let mut statuses = [a.status, b.status];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
        let loser = if a.status == 409 { &a } else { &b };
        assert_eq!(loser.json["code"], "consultation.already_claimed");
        // The patient sees who took it.
        let detail = app.call("/api/consultations/detail", &[("id", &id)], Some(&patient)).await;
        assert_eq!(detail.json["summary"]["status"], "claimed");
        let name = detail.json["summary"]["doctor_name"].as_str().unwrap();
        assert!(name == "Dr One" || name == "Dr Two");
    }

    async fn messages_go_both_ways_with_read_receipts_until_the_case_is_closed(app) {
        let patient = app.sign_up("thread@example.com", PASSWORD).await;
        let doc = doctor(&app, "doc@example.com", "Dr Achieng").await;
        let id = request(&app, &patient, MILD_COLD, "thread-key-01").await;
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);

        assert_eq!(send(&app, &doc, &id, "How high was the fever?", "doc-msg-0001").await, 200);
        // A retried send with the same key is one message, not two.
        assert_eq!(send(&app, &doc, &id, "How high was the fever?", "doc-msg-0001").await, 200);
        let seen = app.call("/api/consultations/detail", &[("id", &id)], Some(&patient)).await;
        assert_eq!(seen.json["summary"]["status"], "replied");
        let messages = seen.json["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["author"], "doctor");
        assert_eq!(messages[0]["mine"], false);

        assert_eq!(send(&app, &patient, &id, "No fever at all.", "pat-msg-0001").await, 200);
        let case = app.call("/api/consultations/case", &[("id", &id)], Some(&doc)).await;
        assert_eq!(case.status, 200, "{}", case.text);
        let thread = case.json["consultation"]["messages"].as_array().unwrap();
        assert_eq!(thread.len(), 2);
        // The patient opened the thread after the doctor wrote: the doctor sees it was read.
        assert!(thread[0]["read_ms"].is_i64());
        assert_eq!(thread[0]["mine"], true);
        assert_eq!(case.json["patient_name"], "Amina Otieno");
        assert_eq!(case.json["triage"]["level"], "self_care");

        let closed = app
            .call(
                "/api/consultations/close",
                &[("id", &id), ("outcome", "Viral cold"), ("final_level", "self_care"),
                  ("advice", "Fluids and rest; come back if a fever starts.")],
                Some(&doc),
            )
            .await;
        assert_eq!(closed.status, 200, "{}", closed.text);
        let late = app
            .call(
                "/api/consultations/send",
                &[("id", &id), ("body", "One more thing"), ("client_key", "pat-msg-0002")],
                Some(&patient),
            )
            .await;
        assert_eq!(late.status, 409);
        assert_eq!(late.json["code"], "consultation.closed");
        let end = app.call("/api/consultations/detail", &[("id", &id)], Some(&patient)).await;
        assert_eq!(end.json["summary"]["status"], "closed");
        assert_eq!(end.json["closing"]["final_level"], "self_care");
        assert_eq!(end.json["closing"]["outcome"], "Viral cold");
    }

    async fn nobody_reaches_a_consultation_that_is_not_theirs(app) {
        let owner = app.sign_up("owner@example.com", PASSWORD).await;
        let other = app.sign_up("other@example.com", PASSWORD).await;
        let holder = doctor(&app, "holder@example.com", "Dr Holder").await;
        let bystander = doctor(&app, "bystander@example.com", "Dr Bystander").await;
        let id = request(&app, &owner, MILD_COLD, "private-key-1").await;

        // Another patient: not found, whether reading or writing.
        let read = app.call("/api/consultations/detail", &[("id", &id)], Some(&other)).await;
        assert_eq!(read.status, 404);
        assert_eq!(send(&app, &other, &id, "hello", "intruder-0001").await, 404);
        assert!(app.call("/api/consultations/list", &[], Some(&other)).await.json.as_array().unwrap().is_empty());
        // A doctor cannot open a case before claiming it, nor write in it.
        assert_eq!(app.call("/api/consultations/case", &[("id", &id)], Some(&holder)).await.status, 404);
        assert_eq!(send(&app, &holder, &id, "hello", "early-doc-001").await, 404);
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&holder)).await.status, 200);
        // Nor can a doctor who did not claim it, or close it.
        assert_eq!(app.call("/api/consultations/case", &[("id", &id)], Some(&bystander)).await.status, 404);
        assert_eq!(send(&app, &bystander, &id, "hello", "bystander-001").await, 404);
        let close = [("id", id.as_str()), ("outcome", "x"), ("final_level", "routine"), ("advice", "")];
        assert_eq!(app.call("/api/consultations/close", &close, Some(&bystander)).await.status, 404);
        assert_eq!(app.call("/api/consultations/release", &[("id", &id)], Some(&bystander)).await.status, 404);
        // Patients are not doctors, anonymous callers are nobody.
        assert_eq!(app.call("/api/consultations/queue", &[], Some(&owner)).await.status, 403);
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&owner)).await.status, 403);
        assert_eq!(app.call("/api/consultations/detail", &[("id", &id)], None).await.status, 401);
        assert_eq!(app.get("/api/events").await.status(), 401);
        // Ids that are not ids never reach a query.
        assert_eq!(app.call("/api/consultations/detail", &[("id", "../../x")], Some(&owner)).await.status, 404);
        // The refused look was not recorded as a view; the holder's was.
        let views = audit::list(&app.state.db, &AuditFilter { action: Some(audit::AuditAction::CaseViewed), ..AuditFilter::default() }).await.unwrap();
        assert!(views.is_empty());
        assert_eq!(app.call("/api/consultations/case", &[("id", &id)], Some(&holder)).await.status, 200);
        let views = audit::list(&app.state.db, &AuditFilter { action: Some(audit::AuditAction::CaseViewed), ..AuditFilter::default() }).await.unwrap();
        assert_eq!(views.len(), 1);
    }

    async fn bad_input_gets_field_messages_and_changes_nothing(app) {
        let patient = app.sign_up("bad@example.com", PASSWORD).await;
        let empty = app.call("/api/consultations/request", &[("note", "  "), ("request_key", "bad-key-0001")], Some(&patient)).await;
        assert_eq!(empty.status, 422);
        assert_eq!(empty.json["fields"]["note"], "consult.required");
        let long = "x".repeat(4_001);
        let too_long = app.call("/api/consultations/request", &[("note", &long), ("request_key", "bad-key-0002")], Some(&patient)).await;
        assert_eq!(too_long.json["fields"]["note"], "consult.too_long");
        let bad_key = app.call("/api/consultations/request", &[("note", "cough"), ("request_key", "no")], Some(&patient)).await;
        assert_eq!(bad_key.status, 422);
        let strange = app.call("/api/consultations/request", &[("note", "cough"), ("request_key", "conv-key-0001"), ("conversation_id", "0123abcd")], Some(&patient)).await;
        assert_eq!(strange.status, 404, "someone else's or no conversation");
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM consultations").fetch_one(app.state.db.pool()).await.unwrap().get(0);
        assert_eq!(count, 0);
    }

    async fn an_admin_can_release_a_stale_claim_back_to_the_queue(app) {
        let patient = app.sign_up("stale@example.com", PASSWORD).await;
        let doc = doctor(&app, "gone@example.com", "Dr Gone").await;
        app.create_staff("admin@example.com", PASSWORD, Role::Admin).await;
        let admin = app.call("/api/accounts/sign_in", &[("email", "admin@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        let id = request(&app, &patient, MILD_COLD, "stale-key-001").await;
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);
        let held = app.call("/api/consultations/held", &[], Some(&admin)).await;
        assert_eq!(held.status, 200);
        assert_eq!(held.json[0]["id"], id.as_str());
        assert_eq!(held.json[0]["doctor_name"], "Dr Gone");
        assert!(!held.text.contains("Amina"), "no patient data in the oversight list");
        assert_eq!(app.call("/api/consultations/held", &[], Some(&doc)).await.status, 403);
        let page = app.get_as("/admin/cases", Some(&admin)).await.text().await.unwrap();
        assert!(page.contains("data-testid=\"held-case\""));
        let released = app.call("/api/consultations/release", &[("id", &id)], Some(&admin)).await;
        assert_eq!(released.status, 200, "{}", released.text);
        let queue = app.call("/api/consultations/queue", &[], Some(&doc)).await;
        assert_eq!(queue.json[0]["status"], "waiting");
        assert_eq!(queue.json[0]["mine"], false);
        // Releasing a case nobody holds is refused with a reason.
        let again = app.call("/api/consultations/release", &[("id", &id)], Some(&admin)).await;
        assert_eq!(again.status, 409);
    }

    async fn live_events_reach_the_people_concerned_and_nobody_else(app) {
        let patient = app.sign_up("live@example.com", PASSWORD).await;
        let stranger = app.sign_up("stranger@example.com", PASSWORD).await;
        let one = doctor(&app, "one@example.com", "Dr One").await;
        let two = doctor(&app, "two@example.com", "Dr Two").await;
        let mut patient_events = Events::open(&app, &patient, None).await;
        let mut stranger_events = Events::open(&app, &stranger, None).await;
        let mut one_events = Events::open(&app, &one, None).await;
        let mut two_events = Events::open(&app, &two, None).await;
        let within = Duration::from_secs(2);

        let id = request(&app, &patient, CHEST_PAIN, "live-key-0001").await;
        for events in [&mut patient_events, &mut one_events, &mut two_events] {
            let (_, kind, consultation) = events.next(within).await.expect("the new case is announced");
            assert_eq!(kind, "consultation_opened");
            assert_eq!(consultation, id);
        }
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&one)).await.status, 200);
        let (claim_id, kind, _) = patient_events.next(within).await.unwrap();
        assert_eq!(kind, "consultation_claimed");
        assert_eq!(two_events.next(within).await.unwrap().1, "consultation_claimed");
        assert_eq!(one_events.next(within).await.unwrap().1, "consultation_claimed");

        // The thread is between the patient and Dr One: Dr Two hears nothing of it.
        assert_eq!(send(&app, &one, &id, "I am calling an ambulance for you.", "live-msg-0001").await, 200);
        assert_eq!(patient_events.next(within).await.unwrap().1, "consultation_message");
        assert_eq!(one_events.next(within).await.unwrap().1, "consultation_message");
        assert!(two_events.next(Duration::from_millis(700)).await.is_none());
        assert!(stranger_events.next(Duration::from_millis(300)).await.is_none());

        // The patient's page drops its stream; meanwhile the doctor writes again. Coming back
        // with the last id it saw, it gets what it missed.
        drop(patient_events);
        assert_eq!(send(&app, &one, &id, "Stay seated and keep calm.", "live-msg-0002").await, 200);
        let mut back = Events::open(&app, &patient, Some(claim_id)).await;
        assert_eq!(back.next(within).await.unwrap().1, "consultation_message");
        assert_eq!(back.next(within).await.unwrap().1, "consultation_message");
        assert!(back.next(Duration::from_millis(300)).await.is_none());
    }

    async fn streams_end_at_shutdown_and_old_events_are_pruned(app) {
        let patient = app.sign_up("prune@example.com", PASSWORD).await;
        let mut events = Events::open(&app, &patient, None).await;
        request(&app, &patient, MILD_COLD, "prune-key-001").await;
        assert!(events.next(Duration::from_secs(2)).await.is_some());
        let listening = app.state.events.listeners();
        assert!(listening >= 1);
        app.state.events.close_streams();
        // The stream ends by itself: no event, and the body finishes.
        assert!(events.next(Duration::from_secs(2)).await.is_none());
        assert!(events.lines.next().await.is_none(), "the stream was closed by the server");

        assert_eq!(app.state.events.prune(Duration::from_secs(3600)).await.unwrap(), 0);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(app.state.events.prune(Duration::ZERO).await.unwrap(), 1);
    }

    async fn doctors_keep_private_notes_and_override_the_level_with_a_reason(app) {
        let patient = app.sign_up("notes@example.com", PASSWORD).await;
        let doc = doctor(&app, "doc@example.com", "Dr Notes").await;
        let other = doctor(&app, "other@example.com", "Dr Other").await;
        let id = request(&app, &patient, MILD_COLD, "notes-key-001").await;
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);
        let note = [("id", id.as_str()), ("body", "Likely viral; recheck if fever.")];
        assert_eq!(app.call("/api/consultations/note", &note, Some(&doc)).await.status, 200);
        assert_eq!(app.call("/api/consultations/note", &note, Some(&other)).await.status, 404);
        assert_eq!(app.call("/api/consultations/note", &note, Some(&patient)).await.status, 403);
        let case = app.call("/api/consultations/case", &[("id", &id)], Some(&doc)).await;
        assert_eq!(case.json["notes"][0]["body"], "Likely viral; recheck if fever.");
        assert_eq!(case.json["notes"][0]["author_name"], "Dr Notes");
        assert_eq!(case.json["mine"], true);
        // The patient's view has no notes at all.
        let mine = app.call("/api/consultations/detail", &[("id", &id)], Some(&patient)).await;
        assert!(!mine.text.contains("Likely viral"));

        let no_reason = app.call("/api/consultations/override", &[("id", &id), ("level", "urgent"), ("reason", " ")], Some(&doc)).await;
        assert_eq!(no_reason.status, 422);
        let raised = app.call("/api/consultations/override", &[("id", &id), ("level", "urgent"), ("reason", "Asthmatic with wheeze on the call")], Some(&doc)).await;
        assert_eq!(raised.status, 200, "{}", raised.text);
        let queue = app.call("/api/consultations/queue", &[], Some(&other)).await;
        assert_eq!(queue.json[0]["level"], "urgent");
        let case = app.call("/api/consultations/case", &[("id", &id)], Some(&doc)).await;
        assert_eq!(case.json["override_reason"], "Asthmatic with wheeze on the call");
        // The engine's own result is kept as it was.
        assert_eq!(case.json["triage"]["level"], "self_care");
    }

    async fn a_case_can_be_handed_to_a_colleague(app) {
        let patient = app.sign_up("handover@example.com", PASSWORD).await;
        let first = doctor(&app, "first@example.com", "Dr First").await;
        let second = doctor(&app, "second@example.com", "Dr Second").await;
        let id = request(&app, &patient, MILD_COLD, "handover-key1").await;
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&first)).await.status, 200);
        let doctors = app.call("/api/consultations/doctors", &[], Some(&first)).await;
        let second_id = doctors.json.as_array().unwrap().iter()
            .find(|d| d["name"] == "Dr Second").unwrap()["id"].as_str().unwrap().to_owned();
        let nobody = app.call("/api/consultations/reassign", &[("id", &id), ("doctor_id", "0000")], Some(&first)).await;
        assert_eq!(nobody.status, 409);
        let handed = app.call("/api/consultations/reassign", &[("id", &id), ("doctor_id", &second_id)], Some(&first)).await;
        assert_eq!(handed.status, 200, "{}", handed.text);
        assert_eq!(app.call("/api/consultations/case", &[("id", &id)], Some(&second)).await.status, 200);
        assert_eq!(app.call("/api/consultations/case", &[("id", &id)], Some(&first)).await.status, 404);
        let seen = app.call("/api/consultations/detail", &[("id", &id)], Some(&patient)).await;
        assert_eq!(seen.json["summary"]["doctor_name"], "Dr Second");
    }

    async fn break_glass_needs_a_reason_reads_only_and_is_shown_to_admins(app) {
        let patient = app.sign_up("glass@example.com", PASSWORD).await;
        let holder = doctor(&app, "holder@example.com", "Dr Holder").await;
        let covering = doctor(&app, "covering@example.com", "Dr Covering").await;
        app.create_staff("admin@example.com", PASSWORD, Role::Admin).await;
        let admin = app.call("/api/accounts/sign_in", &[("email", "admin@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        let id = request(&app, &patient, CHEST_PAIN, "glass-key-001").await;
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&holder)).await.status, 200);
        assert_eq!(send(&app, &holder, &id, "Ambulance is on its way.", "glass-msg-001").await, 200);

        assert_eq!(app.call("/api/consultations/case", &[("id", &id)], Some(&covering)).await.status, 404);
        let short = app.call("/api/consultations/break_glass", &[("id", &id), ("reason", "need it")], Some(&covering)).await;
        assert_eq!(short.status, 422);
        assert_eq!(short.json["fields"]["reason"], "consult.reason_short");
        let reason = "Dr Holder collapsed; covering the emergency list";
        let granted = app.call("/api/consultations/break_glass", &[("id", &id), ("reason", reason)], Some(&covering)).await;
        assert_eq!(granted.status, 200, "{}", granted.text);
        let case = app.call("/api/consultations/case", &[("id", &id)], Some(&covering)).await;
        assert_eq!(case.status, 200, "{}", case.text);
        assert_eq!(case.json["mine"], false);
        // Reading only: no writing, and the patient's unread state is not touched.
        assert_eq!(send(&app, &covering, &id, "hello", "glass-msg-002").await, 404);
        let views = audit::list(&app.state.db, &AuditFilter { action: Some(audit::AuditAction::CaseViewed), ..AuditFilter::default() }).await.unwrap();
        assert!(views.iter().any(|v| v.detail.as_deref() == Some("break_glass")));
        // The patient's browser never hears about the covering doctor's look.
        let log = app.call("/api/consultations/break_glass_log", &[], Some(&admin)).await;
        assert_eq!(log.status, 200);
        assert_eq!(log.json[0]["reason"], reason);
        assert_eq!(log.json[0]["doctor_name"], "Dr Covering");
        assert_eq!(app.call("/api/consultations/break_glass_log", &[], Some(&covering)).await.status, 403);
    }

    async fn the_other_side_sees_that_someone_is_typing_without_anything_stored(app) {
        let patient = app.sign_up("typing@example.com", PASSWORD).await;
        let doc = doctor(&app, "doc@example.com", "Dr Typing").await;
        let id = request(&app, &patient, MILD_COLD, "typing-key-01").await;
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);
        let mut events = Events::open(&app, &patient, None).await;
        assert_eq!(app.call("/api/consultations/typing", &[("id", &id)], Some(&doc)).await.status, 200);
        // Events committed just before the stream opened (the request's, the claim's) may still
        // be on their way to it when the pump is slow; the signal is what this test awaits.
        let (event_id, kind, consultation) = loop {
            let next = events.next(Duration::from_secs(2)).await.unwrap();
            if next.1 == "consultation_typing" {
                break next;
            }
        };
        assert_eq!((event_id, kind.as_str(), consultation.as_str()), (0, "consultation_typing", id.as_str()));
        let stored: i64 = sqlx::query("SELECT COUNT(*) FROM live_events WHERE kind = 'consultation_typing'").fetch_one(app.state.db.pool()).await.unwrap().get(0);
        assert_eq!(stored, 0);
        // Someone outside the case cannot send the signal.
        let stranger = app.sign_up("stranger@example.com", PASSWORD).await;
        assert_eq!(app.call("/api/consultations/typing", &[("id", &id)], Some(&stranger)).await.status, 404);
    }

    async fn the_pages_render_on_the_server_for_the_people_they_are_for(app) {
        let patient = app.sign_up("pages@example.com", PASSWORD).await;
        let doc = doctor(&app, "doc@example.com", "Dr Pages").await;
        let id = request(&app, &patient, CHEST_PAIN, "pages-key-001").await;
        let queue = app.get_as("/doctor", Some(&doc)).await.text().await.unwrap();
        assert!(queue.contains(&format!("data-id=\"{id}\"")), "the queue lists the case");
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);
        let case = app.get_as(&format!("/doctor/cases/{id}"), Some(&doc)).await;
        assert_eq!(case.status(), 200);
        let html = case.text().await.unwrap();
        assert!(html.contains("Amina Otieno"), "the case shows the patient");
        assert!(html.contains("data-testid=\"ai-summary\""));
        let mine = app.get_as(&format!("/consultations/{id}"), Some(&patient)).await.text().await.unwrap();
        assert!(mine.contains("data-testid=\"consultation-status\""));
        assert!(mine.contains("Dr Pages"));
        // The case page of someone else's case offers break-glass, and shows nothing of it.
        let other = doctor(&app, "other@example.com", "Dr Other").await;
        let theirs = app.get_as(&format!("/doctor/cases/{id}"), Some(&other)).await.text().await.unwrap();
        assert!(theirs.contains("data-testid=\"break-glass\""));
        assert!(!theirs.contains("Amina Otieno"));
    }

    async fn a_consultation_from_the_assistant_carries_its_triage_and_transcript(app) {
        let patient = app.sign_up("from-chat@example.com", PASSWORD).await;
        let stranger = app.sign_up("chat-stranger@example.com", PASSWORD).await;
        let doc = doctor(&app, "doc@example.com", "Dr Chat").await;
        let conversation = tell_assistant(&app, &patient, CHEST_PAIN).await;
        // Someone else's conversation cannot be linked to a consultation.
        let borrowed = app.call("/api/consultations/request",
            &[("note", ""), ("request_key", "chat-key-0001"), ("conversation_id", &conversation)],
            Some(&stranger)).await;
        assert_eq!(borrowed.status, 404);
        // From their own conversation the note may stay empty.
        let id = app.call("/api/consultations/request",
            &[("note", ""), ("request_key", "chat-key-0002"), ("conversation_id", &conversation)],
            Some(&patient)).await;
        assert_eq!(id.status, 200, "{}", id.text);
        let id = id.json.as_str().unwrap().to_owned();
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&doc)).await.status, 200);
        let case = app.call("/api/consultations/case", &[("id", &id)], Some(&doc)).await;
        assert_eq!(case.json["triage"]["level"], "emergency");
        assert_eq!(case.json["consultation"]["summary"]["level"], "emergency");
        let transcript = case.json["transcript"].as_array().unwrap();
        assert_eq!(transcript.len(), 2, "the patient's words and the assistant's reply");
        assert_eq!(transcript[0]["from_patient"], true);
        assert!(transcript[0]["body"].as_str().unwrap().contains("chest pain"));
    }

    async fn a_doctor_reads_shared_documents_only_through_a_case_they_hold(app) {
        let patient = app.sign_up("docs@example.com", PASSWORD).await;
        let other = app.sign_up("otherdocs@example.com", PASSWORD).await;
        let holder = doctor(&app, "holder@example.com", "Dr Holder").await;
        let covering = doctor(&app, "covering@example.com", "Dr Covering").await;
        let shared = upload_png(&app, &patient, "rash.png").await;
        let private = upload_png(&app, &patient, "private.png").await;
        let theirs = upload_png(&app, &other, "theirs.png").await;

        // Someone else's document cannot be attached.
        let stolen = app.call("/api/consultations/request",
            &[("note", "rash"), ("request_key", "docs-key-0001"), ("document_ids[0]", &theirs)],
            Some(&patient)).await;
        assert_eq!(stolen.status, 404);
        let id = app.call("/api/consultations/request",
            &[("note", "An itchy rash on my arm"), ("request_key", "docs-key-0002"), ("document_ids[0]", &shared)],
            Some(&patient)).await.json.as_str().unwrap().to_owned();
        let url = format!("/api/cases/{id}/documents/{shared}");

        // Before anyone holds the case, no doctor reads its documents.
        assert_eq!(app.get_as(&url, Some(&holder)).await.status(), 404);
        assert_eq!(app.call("/api/consultations/claim", &[("id", &id)], Some(&holder)).await.status, 200);
        let seen = app.get_as(&url, Some(&holder)).await;
        assert_eq!(seen.status(), 200);
        assert_eq!(seen.headers()["content-type"], "image/png");
        assert_eq!(seen.bytes().await.unwrap().as_ref(), png().as_slice());
        // Only what was shared: the patient's other document stays theirs.
        assert_eq!(app.get_as(&format!("/api/cases/{id}/documents/{private}"), Some(&holder)).await.status(), 404);
        let case = app.call("/api/consultations/case", &[("id", &id)], Some(&holder)).await;
        let names: Vec<&str> = case.json["documents"].as_array().unwrap().iter().map(|d| d["filename"].as_str().unwrap()).collect();
        assert_eq!(names, ["rash.png"]);
        // Another doctor, the patient and strangers: not through this door.
        assert_eq!(app.get_as(&url, Some(&covering)).await.status(), 404);
        assert_eq!(app.get_as(&url, Some(&patient)).await.status(), 403);
        assert_eq!(app.get_as(&url, None).await.status(), 401);
        // Break-glass opens it for reading, and says so in the audit log.
        let reason = "Covering the holder's list during an outage";
        assert_eq!(app.call("/api/consultations/break_glass", &[("id", &id), ("reason", reason)], Some(&covering)).await.status, 200);
        assert_eq!(app.get_as(&url, Some(&covering)).await.status(), 200);
        let views = audit::list(&app.state.db, &AuditFilter { action: Some(audit::AuditAction::DocumentViewed), ..AuditFilter::default() }).await.unwrap();
        let details: Vec<Option<&str>> = views.iter().map(|v| v.detail.as_deref()).collect();
        assert!(details.contains(&Some("case_document")));
        assert!(details.contains(&Some("break_glass")));
    }
}

/// Says `text` to the symptom assistant and returns the conversation's id.
async fn tell_assistant(app: &support::TestApp, session: &str, text: &str) -> String {
    let body =
        serde_json::json!({ "text": text, "client_message_id": format!("m-{}", uuid_like()) });
    let response = app
        .client
        .post(app.url("/api/assistant/messages"))
        .header("cookie", format!("tabibu_session={session}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stream = response.text().await.unwrap();
    let done = stream
        .split("\n\n")
        .find(|block| block.contains("event: done"))
        .expect("the answer ends with a done event");
    let data = done.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let done: serde_json::Value = serde_json::from_str(data).unwrap();
    done["conversation_id"].as_str().unwrap().to_owned()
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A tiny valid PNG header (the documents feature checks content and dimensions).
fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
    v.extend_from_slice(&4_u32.to_be_bytes());
    v.extend_from_slice(&4_u32.to_be_bytes());
    v.extend_from_slice(&[8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    v.extend_from_slice(b"\x00\x00\x00\x00IEND\xaeB`\x82");
    v
}

async fn upload_png(app: &support::TestApp, session: &str, name: &str) -> String {
    let response = app
        .client
        .post(app.url("/api/documents"))
        .header("x-filename", name)
        .header("cookie", format!("tabibu_session={session}"))
        .body(png())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let json: serde_json::Value = response.json().await.unwrap();
    json["id"].as_str().unwrap().to_owned()
}
