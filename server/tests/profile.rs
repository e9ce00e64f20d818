//! The health profile through the real server: a patient saves and reads back their own
//! profile, bad fields are named and nothing is saved, other roles are refused, and every
//! read and write is in the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use tabibu_app::accounts::types::Role;
use tabibu_app::audit::{self, AuditFilter};

const PASSWORD: &str = "correct horse battery staple";

fn profile_fields<'a>(phone: &'a str, sex: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("date_of_birth", "1990-04-12"),
        ("sex", sex),
        ("pregnant", "no"),
        ("allergies", "penicillin\nPenicillin\n  peanuts  "),
        ("medications", "salbutamol inhaler"),
        ("conditions", "asthma"),
        ("phone", phone),
    ]
}

async fn audit_codes(app: &support::TestApp) -> Vec<String> {
    audit::list(&app.state.db, &AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

on_both_databases! {
    async fn a_patient_saves_their_profile_and_reads_it_back(app) {
        let patient = app.sign_up("amina@example.com", PASSWORD).await;
        let saved = app.call("/api/profile/save", &profile_fields("0712 345 678", "female"), Some(&patient)).await;
        assert_eq!(saved.status, 200, "{}", saved.text);
        let read = app.call("/api/profile/get", &[], Some(&patient)).await;
        assert_eq!(read.status, 200, "{}", read.text);
        assert_eq!(read.json["phone"], "+254712345678");
        assert_eq!(read.json["sex"], "female");
        assert_eq!(read.json["pregnant"], false);
        assert_eq!(read.json["allergies"], serde_json::json!(["penicillin", "peanuts"]));
        assert_eq!(read.json["date_of_birth"], "1990-04-12");
        let codes = audit_codes(&app).await;
        assert!(codes.iter().any(|c| c == "profile_updated"), "{codes:?}");
        assert!(codes.iter().any(|c| c == "profile_read"), "{codes:?}");
    }

    async fn a_bad_field_is_named_and_nothing_is_saved(app) {
        let patient = app.sign_up("amina@example.com", PASSWORD).await;
        let reply = app.call("/api/profile/save", &profile_fields("0201234567", "unicorn"), Some(&patient)).await;
        assert_eq!(reply.status, 422, "{}", reply.text);
        assert_eq!(reply.json["fields"]["phone"], "phone.invalid_kenyan");
        assert_eq!(reply.json["fields"]["sex"], "sex.invalid");
        let read = app.call("/api/profile/get", &[], Some(&patient)).await;
        assert_eq!(read.json["phone"], serde_json::Value::Null);
        assert_eq!(read.json["allergies"], serde_json::json!([]));
    }

    async fn each_patient_sees_only_their_own_profile(app) {
        let a = app.sign_up("a@example.com", PASSWORD).await;
        let b = app.sign_up("b@example.com", PASSWORD).await;
        app.call("/api/profile/save", &profile_fields("0712 345 678", "female"), Some(&a)).await;
        let read = app.call("/api/profile/get", &[], Some(&b)).await;
        assert_eq!(read.status, 200);
        assert_eq!(read.json["phone"], serde_json::Value::Null);
    }

    async fn staff_and_strangers_cannot_read_or_write_profiles(app) {
        app.create_staff("doctor@example.com", PASSWORD, Role::Doctor).await;
        let doctor = app.call("/api/accounts/sign_in", &[("email", "doctor@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        for path in ["/api/profile/get", "/api/profile/save"] {
            assert_eq!(app.call(path, &[], None).await.status, 401, "{path}");
            assert_eq!(app.call(path, &profile_fields("0712345678", "male"), Some(&doctor)).await.status, 403, "{path}");
        }
    }
}
