//! "My data" through the real server: the FHIR R4 export holds the patient's record and only
//! theirs, and passes the R4 schema; the timeline lists their history; deleting the account
//! removes the person and their data, keeps the audit log verifying, and leaves it naming a
//! pseudonym only. Every refusal is checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sqlx::Row;
use tabibu_app::accounts::types::Role;
use tabibu_app::audit::{self, AuditFilter, Party};

const PASSWORD: &str = "correct horse battery staple";

async fn save_profile(app: &support::TestApp, session: &str) {
    let fields = [
        ("date_of_birth", "1990-04-12"),
        ("sex", "female"),
        ("pregnant", "no"),
        ("allergies", "penicillin"),
        ("medications", "salbutamol inhaler"),
        ("conditions", "asthma"),
        ("phone", "0712 345 678"),
    ];
    let reply = app.call("/api/profile/save", &fields, Some(session)).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn user_id(app: &support::TestApp, email: &str) -> String {
    sqlx::query("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0)
}

/// A conversation with two messages, as the symptom assistant stores it.
async fn add_conversation(app: &support::TestApp, patient_id: &str, id: &str, text: &str) {
    let db = app.state.db.pool();
    sqlx::query(
        "INSERT INTO conversations (id, patient_id, triage_level, created_at, updated_at) \
         VALUES ($1, $2, 'urgent', 1764000000000, 1764000060000)",
    )
    .bind(id)
    .bind(patient_id)
    .execute(db)
    .await
    .unwrap();
    for (seq, author, body) in [
        (1, "patient", text),
        (2, "assistant", "Please see a doctor within 24 hours."),
    ] {
        sqlx::query(
            "INSERT INTO conversation_messages (id, conversation_id, seq, author, body, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1764000030000)",
        )
        .bind(format!("{id}-{seq}"))
        .bind(id)
        .bind(seq)
        .bind(author)
        .bind(body)
        .execute(db)
        .await
        .unwrap();
    }
}

async fn export(app: &support::TestApp, session: &str) -> serde_json::Value {
    let response = app.get_as("/api/records/fhir", Some(session)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/fhir+json");
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    response.json().await.unwrap()
}

fn resources<'a>(bundle: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

on_both_databases! {
    async fn the_export_is_the_patients_whole_record_as_valid_fhir_r4(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        save_profile(&app, &amina).await;
        let id = user_id(&app, "amina@example.com").await;
        add_conversation(&app, &id, "conv-a", "fever for three days").await;

        let bundle = export(&app, &amina).await;
        assert_eq!(bundle["resourceType"], "Bundle");
        let patient = resources(&bundle, "Patient");
        assert_eq!(patient.len(), 1);
        assert_eq!(patient[0]["birthDate"], "1990-04-12");
        assert_eq!(patient[0]["gender"], "female");
        assert_eq!(resources(&bundle, "AllergyIntolerance")[0]["code"]["text"], "penicillin");
        assert_eq!(resources(&bundle, "Condition")[0]["code"]["text"], "asthma");
        assert_eq!(resources(&bundle, "MedicationStatement")[0]["medicationCodeableConcept"]["text"], "salbutamol inhaler");
        let said: Vec<_> = resources(&bundle, "Communication").iter().map(|c| c["payload"][0]["contentString"].clone()).collect();
        assert!(said.contains(&serde_json::json!("fever for three days")), "{said:?}");
        assert_eq!(resources(&bundle, "Encounter")[0]["priority"]["coding"][0]["code"], "UR");

        if let Some(problems) = support::fhir_problems(&bundle) {
            assert!(problems.is_empty(), "FHIR R4 problems: {problems:#?}");
        }
        let codes: Vec<String> = audit::list(&app.state.db, &AuditFilter::default()).await.unwrap().into_iter().map(|e| e.action).collect();
        assert!(codes.iter().any(|c| c == "record_exported"), "{codes:?}");
    }

    async fn an_export_never_holds_another_patients_data(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let baraka = app.sign_up("baraka@example.com", PASSWORD).await;
        save_profile(&app, &baraka).await;
        let baraka_id = user_id(&app, "baraka@example.com").await;
        add_conversation(&app, &baraka_id, "conv-b", "a private worry").await;
        let text = export(&app, &amina).await.to_string();
        assert!(!text.contains("baraka"), "another patient's email leaked");
        assert!(!text.contains("a private worry"), "another patient's words leaked");
        assert!(!text.contains(&baraka_id));
        assert!(!text.contains("penicillin"));
    }

    async fn the_export_and_the_timeline_refuse_everyone_but_the_patient(app) {
        app.create_staff("doctor@example.com", PASSWORD, Role::Doctor).await;
        let doctor = app.call("/api/accounts/sign_in", &[("email", "doctor@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        assert_eq!(app.get_as("/api/records/fhir", None).await.status(), 401);
        assert_eq!(app.get_as("/api/records/fhir", Some(&doctor)).await.status(), 403);
        assert_eq!(app.get_as("/api/records/fhir", Some("forged-token")).await.status(), 401);
        for path in ["/api/records/timeline", "/api/records/delete_account"] {
            assert_eq!(app.call(path, &[], None).await.status, 401, "{path}");
            assert_eq!(app.call(path, &[("password", PASSWORD), ("confirm", "DELETE")], Some(&doctor)).await.status, 403, "{path}");
        }
        // The doctor's account is untouched by the refused deletion.
        assert_eq!(app.call("/api/accounts/me", &[], Some(&doctor)).await.status, 200);
    }

    async fn the_timeline_lists_conversations_and_triage_results_newest_first(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let id = user_id(&app, "amina@example.com").await;
        let empty = app.call("/api/records/timeline", &[], Some(&amina)).await;
        assert_eq!(empty.json, serde_json::json!([]));
        add_conversation(&app, &id, "conv-a", "cough").await;
        let reply = app.call("/api/records/timeline", &[], Some(&amina)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let items = reply.json.as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["kind"], "triage_result");
        assert_eq!(items[0]["detail"], "urgent");
        assert_eq!(items[1]["kind"], "conversation");
        assert_eq!(items[1]["link"], "/assistant/conv-a");
    }

    async fn deleting_an_account_needs_the_password_and_the_confirmation_word(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let wrong = app.call("/api/records/delete_account", &[("password", "not my password at all"), ("confirm", "DELETE")], Some(&amina)).await;
        assert_eq!(wrong.status, 422);
        assert_eq!(wrong.json["fields"]["current_password"], "password.wrong");
        let unconfirmed = app.call("/api/records/delete_account", &[("password", PASSWORD), ("confirm", "yes")], Some(&amina)).await;
        assert_eq!(unconfirmed.status, 422);
        assert_eq!(unconfirmed.json["fields"]["confirm"], "delete.confirm_word");
        assert_eq!(app.call("/api/accounts/me", &[], Some(&amina)).await.json["email"], "amina@example.com");
    }

    async fn deleting_an_account_removes_the_person_and_keeps_a_pseudonymous_audit_trail(app) {
        let amina = app.sign_up("amina@example.com", PASSWORD).await;
        let baraka = app.sign_up("baraka@example.com", PASSWORD).await;
        save_profile(&app, &amina).await;
        save_profile(&app, &baraka).await;
        let id = user_id(&app, "amina@example.com").await;
        add_conversation(&app, &id, "conv-a", "cough").await;

        let reply = app.call("/api/records/delete_account", &[("password", PASSWORD), ("confirm", "futa")], Some(&amina)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.session.as_deref(), Some(""), "the session cookie is cleared");

        let db = app.state.db.pool();
        for (table, column) in [("users", "id"), ("health_profiles", "user_id"), ("sessions", "user_id"), ("conversations", "patient_id")] {
            let n: i64 = sqlx::query(&format!("SELECT COUNT(*) FROM {table} WHERE {column} = $1")).bind(&id).fetch_one(db).await.unwrap().get(0);
            assert_eq!(n, 0, "{table} still holds the deleted patient");
        }
        let messages: i64 = sqlx::query("SELECT COUNT(*) FROM conversation_messages WHERE conversation_id = 'conv-a'").fetch_one(db).await.unwrap().get(0);
        assert_eq!(messages, 0);
        let emails: i64 = sqlx::query("SELECT COUNT(*) FROM email_outbox WHERE to_address = 'amina@example.com'").fetch_one(db).await.unwrap().get(0);
        assert_eq!(emails, 0, "emails to the deleted address are gone");
        let refs: i64 = sqlx::query("SELECT COUNT(*) FROM audit_refs WHERE entity_id = $1").bind(&id).fetch_one(db).await.unwrap().get(0);
        assert_eq!(refs, 0, "the audit log no longer ties entries to the person");

        // The trail stays, under a pseudonym, and still verifies.
        let entries = audit::list(&app.state.db, &AuditFilter::default()).await.unwrap();
        let deleted = entries.iter().find(|e| e.action == "account_deleted").unwrap();
        assert!(matches!(&deleted.actor, Some(Party::Pseudonymised(p)) if p.starts_with("deleted-")), "{:?}", deleted.actor);
        assert!(entries.iter().any(|e| e.action == "sign_up" && matches!(&e.actor, Some(Party::Pseudonymised(_)))));
        assert!(audit::verify(&app.state.db).await.unwrap().is_intact());

        // The other patient is untouched; the deleted one can no longer sign in.
        assert_eq!(app.call("/api/profile/get", &[], Some(&baraka)).await.json["phone"], "+254712345678");
        let again = app.call("/api/accounts/sign_in", &[("email", "amina@example.com"), ("password", PASSWORD)], None).await;
        assert_ne!(again.status, 200);
        assert_eq!(app.call("/api/accounts/me", &[], Some(&amina)).await.json, serde_json::Value::Null);
    }
}
