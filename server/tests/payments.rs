//! Consultation fees through the real server and the in-process Daraja simulator (which
//! checks every request's shape the way Daraja does): a paid consultation enters the queue
//! and only then, callbacks are idempotent and never trusted for the amount, a callback that
//! beats the push's own answer still counts, lost callbacks are reconciled, Daraja failing in
//! every way loses nothing, and every refusal is checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use sqlx::Row;
use std::time::Duration;
use support::{Backend, TestApp};
use tabibu_app::accounts::types::Role;
use tabibu_app::payments::service::{self, FIRST_CHECK_MS, PENDING_MAX_MS};
use tabibu_app::payments::simulator::{self, Fault};
use tabibu_app::platform::db::now_ms;

const PASSWORD: &str = "correct horse battery staple";
const NOTE: &str = "A dry cough for ten days and a mild fever in the evenings";
const PHONE: &str = "0712 345 678";
const CALLBACK: &str = "/api/payments/mpesa/callback";

async fn fee_app(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let mut vars = vec![
        ("TABIBU_CONSULTATION_FEE_KES", "500"),
        ("TABIBU_MPESA_SIMULATOR_DELAY_MS", "50"),
    ];
    vars.extend_from_slice(extra);
    support::spawn_app_with(backend, &vars).await
}

async fn patient(app: &TestApp, email: &str) -> String {
    app.sign_up(email, PASSWORD).await
}

async fn staff(app: &TestApp, email: &str, role: Role) -> String {
    app.create_staff(email, PASSWORD, role).await;
    app.call(
        "/api/accounts/sign_in",
        &[("email", email), ("password", PASSWORD)],
        None,
    )
    .await
    .session
    .expect("staff signs in")
}

async fn request(app: &TestApp, session: &str, key: &str) -> String {
    let reply = app
        .call(
            "/api/consultations/request",
            &[("note", NOTE), ("request_key", key)],
            Some(session),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json.as_str().unwrap().to_owned()
}

async fn pay(app: &TestApp, session: &str, id: &str, phone: &str, key: &str) -> support::Reply {
    app.call(
        "/api/payments/pay",
        &[
            ("consultation_id", id),
            ("phone", phone),
            ("request_key", key),
        ],
        Some(session),
    )
    .await
}

async fn status(app: &TestApp, id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM consultations WHERE id = $1")
        .bind(id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

/// The consultation's latest payment: state, result code, receipt, checkout id.
async fn payment(
    app: &TestApp,
    id: &str,
) -> (String, Option<String>, Option<String>, Option<String>) {
    let row = sqlx::query(
        "SELECT state, result_code, receipt, checkout_request_id FROM payments \
         WHERE consultation_id = $1 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

/// Waits (up to 10 s) for the consultation's latest payment to leave `pending`.
async fn settled(app: &TestApp, id: &str) -> String {
    for _ in 0..200 {
        let (state, ..) = payment(app, id).await;
        if state != "pending" {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the payment stayed pending");
}

async fn in_queue(app: &TestApp, doctor: &str, id: &str) -> Option<Value> {
    let reply = app
        .call("/api/consultations/queue", &[], Some(doctor))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["id"] == id)
        .cloned()
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query_scalar(sql)
        .bind(bind)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
}

fn sim(app: &TestApp) -> &simulator::Simulator {
    app.state
        .payments
        .simulator()
        .expect("the simulator is the provider")
}

/// A success callback as M-Pesa writes it.
fn success_callback(checkout: &str, amount: Value, receipt: &str) -> String {
    json!({"Body": {"stkCallback": {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": checkout,
        "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": amount},
            {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": 20261204101500u64},
            {"Name": "PhoneNumber", "Value": 254712345678u64}
        ]}
    }}})
    .to_string()
}

async fn post_callback(app: &TestApp, body: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(CALLBACK))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn paid_flow(app: TestApp) {
    let session = patient(&app, "amina@example.com").await;
    let doctor = staff(&app, "dr@example.com", Role::Doctor).await;
    let id = request(&app, &session, "request-key-0001").await;
    assert_eq!(status(&app, &id).await, "awaiting_payment");
    assert!(
        in_queue(&app, &doctor, &id).await.is_none(),
        "unpaid is not queued"
    );

    let panel = app
        .call(
            "/api/payments/panel",
            &[("consultation_id", &id)],
            Some(&session),
        )
        .await;
    assert_eq!(panel.status, 200, "{}", panel.text);
    assert_eq!(panel.json["fee_kes"], 500);
    assert!(panel.json["latest"].is_null());

    let reply = pay(&app, &session, &id, PHONE, "pay-key-000001").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["state"], "pending");
    assert_eq!(reply.json["phone_hint"], "2547••••5678");
    assert!(
        !reply.text.contains("254712345678"),
        "the full number is not sent back"
    );

    assert_eq!(settled(&app, &id).await, "paid");
    let (_, code, receipt, _) = payment(&app, &id).await;
    assert_eq!(code.as_deref(), Some("0"));
    let receipt = receipt.expect("a receipt number");
    assert_eq!(receipt.len(), 10);
    assert_eq!(status(&app, &id).await, "waiting");
    let item = in_queue(&app, &doctor, &id).await.expect("paid is queued");
    assert_eq!(item["fee_paid_kes"], 500);

    let panel = app
        .call(
            "/api/payments/panel",
            &[("consultation_id", &id)],
            Some(&session),
        )
        .await;
    assert_eq!(panel.json["latest"]["state"], "paid");
    assert_eq!(panel.json["latest"]["receipt"], receipt.as_str());
    // One push, one callback, one settlement in the audit log.
    assert_eq!(sim(&app).seen().pushes, 1);
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = $1",
            "payment_settled"
        )
        .await,
        1
    );
    // One "payment received" email, with a link and the receipt, nothing medical.
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT params_json FROM email_outbox WHERE template = 'payment_received'",
    )
    .fetch_all(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].contains(&receipt) && emails[0].contains(&format!("/consultations/{id}")));
    assert!(
        !emails[0].contains("cough"),
        "no medical content in an email"
    );
    // The payment is in the patient's timeline, linked to its consultation.
    let timeline = app.call("/api/records/timeline", &[], Some(&session)).await;
    assert_eq!(timeline.status, 200, "{}", timeline.text);
    let link = format!("/consultations/{id}");
    assert!(
        timeline
            .json
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["kind"] == "payment"
                && item["detail"] == "paid"
                && item["link"] == link.as_str()),
        "{}",
        timeline.text
    );
    // Paying again is refused: it is paid.
    let again = pay(&app, &session, &id, PHONE, "pay-key-000002").await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json["code"], "payment.already_paid", "{}", again.text);
}

async fn ten_callbacks(app: TestApp) {
    let session = patient(&app, "baraka@example.com").await;
    let id = request(&app, &session, "request-key-0002").await;
    // The simulator settles but never calls back: the test plays M-Pesa.
    sim(&app).inject(Fault::DropCallback);
    assert_eq!(
        pay(&app, &session, &id, PHONE, "pay-key-000003")
            .await
            .status,
        200
    );
    let (_, _, _, checkout) = payment(&app, &id).await;
    let body = success_callback(&checkout.unwrap(), json!(500), "TLK3AB12CD");
    let replies = futures_util::future::join_all((0..10).map(|_| post_callback(&app, &body))).await;
    for (status, answer) in &replies {
        assert_eq!(*status, 200);
        assert_eq!(answer["ResultCode"], 0);
        assert_eq!(answer["ResultDesc"], "Accepted");
    }
    assert_eq!(payment(&app, &id).await.0, "paid");
    assert_eq!(
        count(&app, "SELECT CAST(times_received AS BIGINT) FROM mpesa_callbacks WHERE payment_id IS NOT NULL AND body LIKE $1", "%TLK3AB12CD%").await,
        10
    );
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = $1",
            "payment_settled"
        )
        .await,
        1
    );
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM live_events WHERE kind = 'consultation_opened' AND to_doctors = 1 AND consultation_id = $1", &id).await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM email_outbox WHERE template = $1",
            "payment_received"
        )
        .await,
        1,
        "one email for ten callbacks"
    );
}

async fn callback_first(app: TestApp) {
    let session = patient(&app, "chebet@example.com").await;
    let id = request(&app, &session, "request-key-0003").await;
    sim(&app).inject(Fault::CallbackFirst);
    let reply = pay(&app, &session, &id, PHONE, "pay-key-000004").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // The callback came (and was refused as unknown) before the push's answer; storing the
    // answer applied it.
    assert_eq!(reply.json["state"], "paid", "{}", reply.text);
    assert_eq!(status(&app, &id).await, "waiting");
    let outcome: String = sqlx::query_scalar("SELECT outcome FROM mpesa_callbacks")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(outcome, "applied");
}

/// One test per database for each flow, each on an app that charges a fee.
macro_rules! on_both {
    ($($name:ident => $flow:ident),* $(,)?) => {
        mod sqlite {
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                $flow(fee_app(Backend::Sqlite, &[]).await.unwrap()).await;
            })*
        }
        mod postgres {
            use super::*;
            $(#[tokio::test]
            async fn $name() {
                let Some(app) = fee_app(Backend::Postgres, &[]).await else { return };
                $flow(app).await;
            })*
        }
    };
}

on_both! {
    a_consultation_enters_the_queue_once_paid => paid_flow,
    the_same_callback_ten_times_settles_once => ten_callbacks,
    a_callback_that_beats_the_push_answer_still_counts => callback_first,
}

#[tokio::test]
async fn free_consultations_go_straight_to_the_queue() {
    let app = support::spawn_app(Backend::Sqlite).await.unwrap();
    let session = patient(&app, "dalia@example.com").await;
    let doctor = staff(&app, "dr@example.com", Role::Doctor).await;
    let id = request(&app, &session, "request-key-0004").await;
    assert_eq!(status(&app, &id).await, "waiting");
    let item = in_queue(&app, &doctor, &id).await.unwrap();
    assert!(item["fee_paid_kes"].is_null());
    let panel = app
        .call(
            "/api/payments/panel",
            &[("consultation_id", &id)],
            Some(&session),
        )
        .await;
    assert_eq!(panel.status, 200);
    assert!(panel.json.is_null(), "no payment step: {}", panel.text);
    let reply = pay(&app, &session, &id, PHONE, "pay-key-000005").await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json["code"], "payment.not_due");
}

#[tokio::test]
async fn a_declined_payment_leaves_the_request_waiting_and_can_be_retried() {
    let app = fee_app(Backend::Sqlite, &[]).await.unwrap();
    let session = patient(&app, "esther@example.com").await;
    let id = request(&app, &session, "request-key-0005").await;
    for (phone, expected, code) in [
        (simulator::DECLINES, "cancelled", "1032"),
        (simulator::INSUFFICIENT, "failed", "1"),
    ] {
        let key = format!("pay-key-{code:0>6}");
        assert_eq!(pay(&app, &session, &id, phone, &key).await.status, 200);
        assert_eq!(settled(&app, &id).await, expected);
        assert_eq!(payment(&app, &id).await.1.as_deref(), Some(code));
        assert_eq!(status(&app, &id).await, "awaiting_payment");
    }
    assert_eq!(
        pay(&app, &session, &id, PHONE, "pay-key-retry1")
            .await
            .status,
        200
    );
    assert_eq!(settled(&app, &id).await, "paid");
    assert_eq!(status(&app, &id).await, "waiting");
}

#[tokio::test]
async fn the_same_pay_request_twice_prompts_once() {
    let app = fee_app(
        Backend::Sqlite,
        &[("TABIBU_MPESA_SIMULATOR_DELAY_MS", "5000")],
    )
    .await
    .unwrap();
    let session = patient(&app, "faith@example.com").await;
    let id = request(&app, &session, "request-key-0006").await;
    let first = pay(&app, &session, &id, PHONE, "pay-key-same01").await;
    let second = pay(&app, &session, &id, PHONE, "pay-key-same01").await;
    assert_eq!(first.json["id"], second.json["id"]);
    // A new key while the prompt is fresh gets the same prompt, not a second one.
    let third = pay(&app, &session, &id, PHONE, "pay-key-other1").await;
    assert_eq!(first.json["id"], third.json["id"]);
    assert_eq!(sim(&app).seen().pushes, 1);
}

#[tokio::test]
async fn forged_and_malformed_callbacks_are_refused_and_change_nothing() {
    let app = fee_app(Backend::Sqlite, &[]).await.unwrap();
    let session = patient(&app, "gladys@example.com").await;
    let id = request(&app, &session, "request-key-0007").await;
    let (status_code, answer) = post_callback(
        &app,
        &success_callback("ws_CO_forged123", json!(500), "FAKE123456"),
    )
    .await;
    assert_eq!(status_code, 404);
    assert_eq!(answer["ResultCode"], 1);
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = $1",
            "payment_callback_rejected"
        )
        .await,
        1
    );
    for body in [
        "not json",
        "{}",
        r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","ResultCode":0}}}"#,
        r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"ws_CO_1","ResultCode":"zero"}}}"#,
        r#"{"Body":{"stkCallback":{"MerchantRequestID":"1","CheckoutRequestID":"x'; DROP TABLE payments;--","ResultCode":0}}}"#,
    ] {
        let (status_code, answer) = post_callback(&app, body).await;
        assert_eq!(status_code, 400, "{body}");
        assert_eq!(answer["ResultCode"], 1, "{body}");
    }
    assert_eq!(status(&app, &id).await, "awaiting_payment");
    assert_eq!(
        count(&app, "SELECT CAST(COUNT(*) AS BIGINT) FROM payments WHERE patient_id IS NOT NULL AND state <> $1", "pending").await,
        0
    );
    // Admins see the forged one among the unmatched callbacks.
    let admin = staff(&app, "admin@example.com", Role::Admin).await;
    let overview = app.call("/api/admin/payments", &[], Some(&admin)).await;
    assert_eq!(overview.status, 200, "{}", overview.text);
    assert_eq!(overview.json["unmatched_callbacks"], 1);
}

#[tokio::test]
async fn a_callback_amount_other_than_the_request_is_not_paid() {
    let app = fee_app(Backend::Sqlite, &[]).await.unwrap();
    let session = patient(&app, "halima@example.com").await;
    let id = request(&app, &session, "request-key-0008").await;
    sim(&app).inject(Fault::DropCallback);
    assert_eq!(
        pay(&app, &session, &id, PHONE, "pay-key-000008")
            .await
            .status,
        200
    );
    let checkout = payment(&app, &id).await.3.unwrap();
    let (code, _) = post_callback(&app, &success_callback(&checkout, json!(1), "TLK3AB12CE")).await;
    assert_eq!(code, 200);
    let (state, result, receipt, _) = payment(&app, &id).await;
    assert_eq!(state, "failed");
    assert_eq!(result.as_deref(), Some("amount_mismatch"));
    assert_eq!(receipt, None);
    assert_eq!(status(&app, &id).await, "awaiting_payment");
}

#[tokio::test]
async fn callbacks_from_outside_the_allowed_ranges_are_refused() {
    let app = fee_app(
        Backend::Sqlite,
        &[(
            "TABIBU_MPESA_CALLBACK_ALLOWED_IPS",
            "196.201.214.0/24, 196.201.213.114",
        )],
    )
    .await
    .unwrap();
    let (code, answer) = post_callback(
        &app,
        &success_callback("ws_CO_any", json!(500), "TLK3AB12CF"),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(answer["ResultCode"], 1);
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM mpesa_callbacks WHERE checkout_request_id <> $1",
            ""
        )
        .await,
        0,
        "nothing stored"
    );
}

#[tokio::test]
async fn reconciliation_settles_payments_whose_callback_never_came() {
    let app = fee_app(Backend::Sqlite, &[]).await.unwrap();
    let session = patient(&app, "imani@example.com").await;
    let doctor = staff(&app, "dr@example.com", Role::Doctor).await;
    let lost = request(&app, &session, "request-key-0009").await;
    let silent = request(&app, &session, "request-key-0010").await;
    sim(&app).inject(Fault::DropCallback);
    assert_eq!(
        pay(&app, &session, &lost, PHONE, "pay-key-lost01")
            .await
            .status,
        200
    );
    assert_eq!(
        pay(
            &app,
            &session,
            &silent,
            simulator::NO_ANSWER,
            "pay-key-silent"
        )
        .await
        .status,
        200
    );
    // Before the grace period nothing is asked.
    let early = service::reconcile(&app.state, now_ms()).await.unwrap();
    assert_eq!(early.checked, 0);
    // Both payers have answered at the simulator (no callback reached Tabibu).
    for _ in 0..200 {
        if sim(&app).answered() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(sim(&app).answered(), 2);
    let report = service::reconcile(&app.state, now_ms() + FIRST_CHECK_MS + 1)
        .await
        .unwrap();
    assert_eq!(
        (report.checked, report.paid, report.expired),
        (2, 1, 1),
        "{report:?}"
    );
    assert_eq!(payment(&app, &lost).await.0, "paid");
    assert_eq!(
        payment(&app, &lost).await.2,
        None,
        "a status query carries no receipt"
    );
    assert!(in_queue(&app, &doctor, &lost).await.is_some());
    assert_eq!(payment(&app, &silent).await.0, "expired");
    assert_eq!(payment(&app, &silent).await.1.as_deref(), Some("1037"));
    // A second round finds nothing left to do.
    let again = service::reconcile(&app.state, now_ms() + 10 * FIRST_CHECK_MS)
        .await
        .unwrap();
    assert_eq!(again.checked, 0);
}

#[tokio::test]
async fn a_prompt_still_unanswered_after_the_limit_expires() {
    let app = fee_app(
        Backend::Sqlite,
        &[("TABIBU_MPESA_SIMULATOR_DELAY_MS", "600000")],
    )
    .await
    .unwrap();
    let session = patient(&app, "jabali@example.com").await;
    let id = request(&app, &session, "request-key-0011").await;
    assert_eq!(
        pay(&app, &session, &id, PHONE, "pay-key-000011")
            .await
            .status,
        200
    );
    let report = service::reconcile(&app.state, now_ms() + FIRST_CHECK_MS + 1)
        .await
        .unwrap();
    assert_eq!((report.checked, report.still_pending), (1, 1), "{report:?}");
    let report = service::reconcile(&app.state, now_ms() + PENDING_MAX_MS + 1)
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(payment(&app, &id).await.1.as_deref(), Some("no_result"));
    // M-Pesa's success arriving after all: the money moved, so the consultation goes ahead.
    let checkout = payment(&app, &id).await.3.unwrap();
    let (code, _) =
        post_callback(&app, &success_callback(&checkout, json!(500), "TLK3AB12CG")).await;
    assert_eq!(code, 200);
    assert_eq!(payment(&app, &id).await.0, "paid");
    assert_eq!(status(&app, &id).await, "waiting");
}

#[tokio::test]
async fn daraja_failing_or_slow_charges_nothing_and_loses_nothing() {
    let app = fee_app(Backend::Sqlite, &[("TABIBU_MPESA_TIMEOUT_SECS", "1")])
        .await
        .unwrap();
    let session = patient(&app, "kamau@example.com").await;
    let id = request(&app, &session, "request-key-0012").await;

    sim(&app).inject(Fault::ServerError);
    let reply = pay(&app, &session, &id, PHONE, "pay-key-err500").await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json["code"], "payment.provider_unavailable");
    assert_eq!(payment(&app, &id).await.0, "failed");
    assert_eq!(
        payment(&app, &id).await.1.as_deref(),
        Some("provider_error")
    );

    sim(&app).inject(Fault::Slow(Duration::from_secs(2)));
    let reply = pay(&app, &session, &id, PHONE, "pay-key-slow01").await;
    assert_eq!(reply.status, 409);
    assert_eq!(
        payment(&app, &id).await.1.as_deref(),
        Some("provider_timeout")
    );
    assert_eq!(status(&app, &id).await, "awaiting_payment");

    // Still usable afterwards.
    assert_eq!(
        pay(&app, &session, &id, PHONE, "pay-key-works1")
            .await
            .status,
        200
    );
    assert_eq!(settled(&app, &id).await, "paid");
}

#[tokio::test]
async fn daraja_unreachable_is_a_clear_refusal() {
    let app = fee_app(
        Backend::Sqlite,
        &[
            ("TABIBU_PAYMENTS_PROVIDER", "daraja-sandbox"),
            ("TABIBU_MPESA_BASE_URL", "http://127.0.0.1:9"),
            ("TABIBU_MPESA_CONSUMER_KEY", "key"),
            ("TABIBU_MPESA_CONSUMER_SECRET", "secret"),
            ("TABIBU_MPESA_PASSKEY", "passkey"),
            ("TABIBU_MPESA_SHORTCODE", "174379"),
        ],
    )
    .await
    .unwrap();
    let session = patient(&app, "leila@example.com").await;
    let id = request(&app, &session, "request-key-0013").await;
    let reply = pay(&app, &session, &id, PHONE, "pay-key-down01").await;
    assert_eq!(reply.status, 409, "{}", reply.text);
    assert_eq!(reply.json["code"], "payment.provider_unavailable");
    assert_eq!(
        payment(&app, &id).await.1.as_deref(),
        Some("provider_unreachable")
    );
}

#[tokio::test]
async fn the_token_is_cached_and_refreshed_once_when_it_expires() {
    use secrecy::SecretString;
    use tabibu_app::payments::daraja::{DarajaClient, StkPush};
    let secret = |s: &str| SecretString::from(s.to_owned());
    let sim = simulator::Simulator::start(
        secret("ck"),
        secret("cs"),
        "600100",
        secret("pk"),
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    let client = std::sync::Arc::new(
        DarajaClient::new(
            &sim.base_url(),
            secret("ck"),
            secret("cs"),
            "600100",
            secret("pk"),
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    let push = StkPush {
        amount_kes: 500,
        phone: "254712345678".into(),
        callback_url: "http://127.0.0.1:9/cb".into(),
        account_reference: "TABIBU".into(),
        description: "Consultation".into(),
    };
    let answers = futures_util::future::join_all((0..20).map(|_| {
        let client = client.clone();
        let push = push.clone();
        async move { client.stk_push(&push, now_ms()).await }
    }))
    .await;
    assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    assert_eq!(
        sim.seen().token_requests,
        1,
        "one token for twenty concurrent pushes"
    );
    sim.expire_tokens();
    client.stk_push(&push, now_ms()).await.unwrap();
    assert_eq!(
        sim.seen().token_requests,
        2,
        "refreshed once after the expiry"
    );
    sim.inject(Fault::ExpiredToken);
    client.stk_push(&push, now_ms()).await.unwrap();
    assert_eq!(sim.seen().token_requests, 3);
    assert_eq!(sim.seen().pushes, 22);

    // Wrong credentials are refused by the look-alike as by Daraja.
    let wrong = DarajaClient::new(
        &sim.base_url(),
        secret("ck"),
        secret("nope"),
        "600100",
        secret("pk"),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        wrong.stk_push(&push, now_ms()).await.unwrap_err(),
        tabibu_app::payments::daraja::DarajaError::Credentials { status: 400 }
    );
    // A wrong passkey gives a wrong password, which Daraja refuses.
    let bad_password = DarajaClient::new(
        &sim.base_url(),
        secret("ck"),
        secret("cs"),
        "600100",
        secret("other"),
        Duration::from_secs(5),
    )
    .unwrap();
    assert!(matches!(
        bad_password.stk_push(&push, now_ms()).await,
        Err(tabibu_app::payments::daraja::DarajaError::Refused { status: 400, .. })
    ));
    assert_eq!(sim.seen().refused, vec!["Password".to_owned()]);
}

#[tokio::test]
async fn the_look_alike_checks_every_push_field() {
    use secrecy::SecretString;
    let secret = |s: &str| SecretString::from(s.to_owned());
    let sim = simulator::Simulator::start(
        secret("ck"),
        secret("cs"),
        "600100",
        secret("pk"),
        Duration::from_secs(600),
    )
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let token: Value = http
        .get(format!(
            "{}/oauth/v1/generate?grant_type=client_credentials",
            sim.base_url()
        ))
        .basic_auth("ck", Some("cs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(token["expires_in"], "3599");
    let token = token["access_token"].as_str().unwrap().to_owned();
    let timestamp = tabibu_app::payments::daraja::timestamp(now_ms());
    let good = json!({
        "BusinessShortCode": "600100",
        "Password": tabibu_app::payments::daraja::password("600100", "pk", &timestamp),
        "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 500,
        "PartyA": "254712345678",
        "PartyB": "600100",
        "PhoneNumber": "254712345678",
        "CallBackURL": "https://tabibu.example/api/payments/mpesa/callback",
        "AccountReference": "TABIBU",
        "TransactionDesc": "Consultation"
    });
    let post = |body: Value| {
        let http = http.clone();
        let url = format!("{}/mpesa/stkpush/v1/processrequest", sim.base_url());
        let token = token.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (code, answer) = post(good.clone()).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["ResponseCode"], "0");
    assert!(
        answer["CheckoutRequestID"]
            .as_str()
            .unwrap()
            .starts_with("ws_CO_")
    );
    for (field, bad) in [
        ("Amount", json!(0)),
        ("Amount", json!("lots")),
        ("PartyA", json!("0712345678")),
        ("PhoneNumber", json!("254700000009")),
        ("PartyB", json!("999999")),
        ("Timestamp", json!("20200101000000")),
        ("Password", json!("bm9wZQ==")),
        ("CallBackURL", json!("ftp://x")),
        ("AccountReference", json!("THIRTEEN-CHAR")),
        ("TransactionDesc", json!("")),
        ("TransactionType", json!("Pay")),
    ] {
        let mut body = good.clone();
        body[field] = bad;
        let (code, answer) = post(body).await;
        assert_eq!(code, 400, "{field}: {answer}");
        assert_eq!(answer["errorCode"], "400.002.02", "{field}");
    }
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("CallBackURL");
    assert_eq!(post(missing).await.0, 400);
    let unauthorised = http
        .post(format!(
            "{}/mpesa/stkpush/v1/processrequest",
            sim.base_url()
        ))
        .bearer_auth("made-up")
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(unauthorised.status(), 401);
    assert_eq!(
        unauthorised.json::<Value>().await.unwrap()["errorCode"],
        "404.001.03"
    );
}

#[tokio::test]
async fn every_payment_refusal() {
    let app = fee_app(Backend::Sqlite, &[]).await.unwrap();
    let owner = patient(&app, "mwangi@example.com").await;
    let other = patient(&app, "nadia@example.com").await;
    let doctor = staff(&app, "dr@example.com", Role::Doctor).await;
    let admin = staff(&app, "admin@example.com", Role::Admin).await;
    let id = request(&app, &owner, "request-key-0014").await;

    // Someone else's consultation does not exist for them.
    let reply = pay(&app, &other, &id, PHONE, "pay-key-other2").await;
    assert_eq!(reply.status, 404);
    let reply = app
        .call(
            "/api/payments/panel",
            &[("consultation_id", &id)],
            Some(&other),
        )
        .await;
    assert_eq!(reply.status, 404);
    // Staff do not pay, nor read a patient's payment step.
    assert_eq!(
        pay(&app, &doctor, &id, PHONE, "pay-key-doctor")
            .await
            .status,
        403
    );
    assert_eq!(
        pay(&app, &admin, &id, PHONE, "pay-key-admin1").await.status,
        403
    );
    assert_eq!(pay(&app, &owner, &id, PHONE, "short").await.status, 422);
    let reply = pay(&app, &owner, &id, "+44 20 7946 0958", "pay-key-abroad").await;
    assert_eq!(reply.status, 422);
    assert!(
        reply.text.contains("payment.phone_not_mpesa"),
        "{}",
        reply.text
    );
    assert_eq!(
        pay(&app, &owner, &id, PHONE, "pay-key-anon01").await.status,
        200
    );
    // The admins' table and export are for admins only.
    for session in [Some(owner.as_str()), Some(doctor.as_str())] {
        assert_eq!(
            app.call("/api/admin/payments", &[], session).await.status,
            403
        );
        assert_eq!(
            app.get_as("/api/admin/payments.csv", session)
                .await
                .status(),
            403
        );
    }
    assert_eq!(app.call("/api/admin/payments", &[], None).await.status, 401);
    assert_eq!(
        app.get_as("/api/admin/payments.csv", None).await.status(),
        401
    );
    let bad_filter = app
        .call("/api/admin/payments", &[("only", "refunded")], Some(&admin))
        .await;
    assert_eq!(bad_filter.status, 422);

    settled(&app, &id).await;
    let csv = app.get_as("/api/admin/payments.csv", Some(&admin)).await;
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("payment_id,created_utc,settled_utc,state,amount_kes,mpesa_receipt")
    );
    let row = lines.next().unwrap();
    assert!(row.contains(",paid,500,"), "{row}");
    assert!(
        row.contains("2547••••5678") && !row.contains("254712345678"),
        "{row}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_log WHERE action = $1",
            "payments_exported"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_deleted_account_leaves_its_payments_without_the_phone_number() {
    let app = fee_app(Backend::Sqlite, &[]).await.unwrap();
    let session = patient(&app, "olive@example.com").await;
    let id = request(&app, &session, "request-key-0015").await;
    assert_eq!(
        pay(&app, &session, &id, PHONE, "pay-key-000015")
            .await
            .status,
        200
    );
    assert_eq!(settled(&app, &id).await, "paid");
    let reply = app
        .call(
            "/api/records/delete_account",
            &[("password", PASSWORD), ("confirm", "DELETE")],
            Some(&session),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let row = sqlx::query(
        "SELECT state, amount_kes, receipt, phone, patient_id, consultation_id FROM payments",
    )
    .fetch_one(app.state.db.pool())
    .await
    .unwrap();
    assert_eq!(row.get::<String, _>(0), "paid");
    assert_eq!(row.get::<i64, _>(1), 500);
    assert!(
        row.get::<Option<String>, _>(2).is_some(),
        "the receipt stays"
    );
    assert_eq!(row.get::<Option<String>, _>(3), None);
    assert_eq!(row.get::<Option<String>, _>(4), None);
    assert_eq!(row.get::<Option<String>, _>(5), None);
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM mpesa_callbacks")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    assert!(
        bodies.iter().all(|b| !b.contains("254712345678")),
        "{bodies:?}"
    );
}
