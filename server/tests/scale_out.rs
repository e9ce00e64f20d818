//! Two Tabibu instances on one PostgreSQL database, as behind a load balancer: a patient on
//! one reaches a doctor on the other live (through LISTEN/NOTIFY: the instances' own polling
//! is set to ten minutes here, so nothing else could deliver in time), sessions work on
//! either, and a background job's work is done by one instance, not both.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use futures_util::StreamExt;
use std::time::Duration;
use support::{Backend, TestApp};
use tabibu_app::accounts::types::Role;

const PASSWORD: &str = "correct horse battery staple";
const SLOW_POLL: (&str, &str) = ("TABIBU_EVENTS_POLL_MS", "600000");
/// Far below the instances' polling interval: only a notification arrives in time.
const WITHIN: Duration = Duration::from_secs(5);

/// An open event stream, read event by event.
struct Events {
    lines: std::pin::Pin<Box<dyn futures_util::Stream<Item = String> + Send>>,
}

impl Events {
    async fn open(app: &TestApp, session: &str) -> Events {
        let response = app
            .client
            .get(app.url("/api/events"))
            .header("cookie", format!("tabibu_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
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

    /// Whether a `kind` event for `consultation` arrives within `within` (others are skipped).
    async fn receives(&mut self, kind: &str, consultation: &str, within: Duration) -> bool {
        let read = async {
            let mut current = String::new();
            while let Some(line) = self.lines.next().await {
                if let Some(v) = line.strip_prefix("event: ") {
                    v.clone_into(&mut current);
                } else if let Some(v) = line.strip_prefix("data: ") {
                    let data: serde_json::Value = serde_json::from_str(v).unwrap();
                    if current == kind && data["consultation_id"] == consultation {
                        return true;
                    }
                }
            }
            false
        };
        tokio::time::timeout(within, read).await.unwrap_or(false)
    }
}

async fn sign_in(app: &TestApp, email: &str) -> String {
    app.call(
        "/api/accounts/sign_in",
        &[("email", email), ("password", PASSWORD)],
        None,
    )
    .await
    .session
    .expect("signed in")
}

#[tokio::test]
async fn a_patient_on_one_instance_reaches_a_doctor_on_the_other_live() {
    let Some(a) = support::spawn_app_with(Backend::Postgres, &[SLOW_POLL]).await else {
        return;
    };
    let b = support::spawn_peer(&a, &[SLOW_POLL]).await;

    let patient = a.sign_up("wairimu@example.com", PASSWORD).await;
    a.create_staff("dr.kip@example.com", PASSWORD, Role::Doctor)
        .await;
    // Signed in on A, the doctor works on B: sessions live in the shared database.
    let doctor = sign_in(&a, "dr.kip@example.com").await;
    assert_eq!(
        b.call("/api/consultations/queue", &[], Some(&doctor))
            .await
            .status,
        200
    );

    let mut doctor_events = Events::open(&b, &doctor).await;
    let mut patient_events = Events::open(&a, &patient).await;

    let reply = a
        .call(
            "/api/consultations/request",
            &[
                (
                    "note",
                    "Sharp pain under the right ribs after meals for a week",
                ),
                ("request_key", "scale-out-key-1"),
            ],
            Some(&patient),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.json.as_str().unwrap().to_owned();
    assert!(
        doctor_events
            .receives("consultation_opened", &id, WITHIN)
            .await,
        "the new case reached the doctor on the other instance"
    );

    assert_eq!(
        b.call("/api/consultations/claim", &[("id", &id)], Some(&doctor))
            .await
            .status,
        200
    );
    assert!(
        patient_events
            .receives("consultation_claimed", &id, WITHIN)
            .await
    );
    let sent = b
        .call(
            "/api/consultations/send",
            &[
                ("id", &id),
                ("body", "When did it start?"),
                ("client_key", "scale-out-msg-1"),
            ],
            Some(&doctor),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert!(
        patient_events
            .receives("consultation_message", &id, WITHIN)
            .await
    );
    let answer = a
        .call(
            "/api/consultations/send",
            &[
                ("id", &id),
                ("body", "Last Monday"),
                ("client_key", "scale-out-msg-2"),
            ],
            Some(&patient),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(
        doctor_events
            .receives("consultation_message", &id, WITHIN)
            .await
    );
}

#[tokio::test]
async fn a_pending_payment_is_reconciled_by_one_instance_only() {
    let vars = [
        ("TABIBU_CONSULTATION_FEE_KES", "300"),
        ("TABIBU_MPESA_SIMULATOR_DELAY_MS", "600000"),
    ];
    let Some(a) = support::spawn_app_with(Backend::Postgres, &vars).await else {
        return;
    };
    let b = support::spawn_peer(&a, &vars).await;
    let patient = a.sign_up("zawadi@example.com", PASSWORD).await;
    let id = a
        .call(
            "/api/consultations/request",
            &[
                ("note", "Headache for three days"),
                ("request_key", "scale-out-key-2"),
            ],
            Some(&patient),
        )
        .await
        .json
        .as_str()
        .unwrap()
        .to_owned();
    let paid = a
        .call(
            "/api/payments/pay",
            &[
                ("consultation_id", &id),
                ("phone", "0722 000 111"),
                ("request_key", "scale-out-pay-1"),
            ],
            Some(&patient),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    let later =
        tabibu_app::platform::db::now_ms() + tabibu_app::payments::service::FIRST_CHECK_MS + 1;
    let (ra, rb) = tokio::join!(
        tabibu_app::payments::service::reconcile(&a.state, later),
        tabibu_app::payments::service::reconcile(&b.state, later),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        ra.checked + rb.checked,
        1,
        "one instance asked M-Pesa: {ra:?} {rb:?}"
    );
}
