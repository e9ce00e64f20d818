//! Accounts through the real server on both databases: sign-up, sign-in, sessions and their
//! rotation and timeouts, two-factor codes, password reset links, rate limits, cross-site
//! refusals, disabled accounts, and the audit trail they leave.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use tabibu_app::accounts::types::Role;

const PASSWORD: &str = "correct horse battery staple";

async fn reset_link(app: &support::TestApp, email: &str) -> String {
    // The request answers at once and sends the link in the background.
    for _ in 0..100 {
        if let Some(email) = tabibu_app::notifications::outbox::latest_for(
            &app.state.db,
            email,
            tabibu_app::notifications::outbox::EmailTemplate::PasswordReset,
        )
        .await
        .unwrap()
        {
            let link = email.params["link"].as_str().unwrap().to_owned();
            return link.split("token=").nth(1).unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no reset email was queued");
}

async fn audit_intact(app: &support::TestApp) {
    let report = tabibu_app::audit::verify(&app.state.db).await.unwrap();
    assert_eq!(report.first_broken_seq, None, "{report:?}");
    assert!(report.entries > 0);
}

on_both_databases! {
    async fn a_patient_signs_up_signs_in_and_signs_out(app) {
        let first = app.sign_up("amina@example.com", PASSWORD).await;
        let me = app.call("/api/accounts/me", &[], Some(&first)).await;
        assert_eq!(me.json["email"], "amina@example.com");
        assert_eq!(me.json["role"], "patient");

        let signed_in = app.call("/api/accounts/sign_in", &[("email", "AMINA@example.com "), ("password", PASSWORD)], Some(&first)).await;
        assert_eq!(signed_in.status, 200, "{}", signed_in.text);
        assert_eq!(signed_in.json, serde_json::json!({"signed_in": {"role": "patient"}}));
        let second = signed_in.session.unwrap();
        assert_ne!(first, second, "sign-in rotates the session");
        assert_eq!(app.call("/api/accounts/me", &[], Some(&first)).await.json, serde_json::Value::Null, "the old token is dead");

        let out = app.call("/api/accounts/sign_out", &[], Some(&second)).await;
        assert_eq!(out.status, 200);
        assert_eq!(out.session.as_deref(), Some(""), "the cookie is cleared");
        assert_eq!(app.call("/api/accounts/me", &[], Some(&second)).await.json, serde_json::Value::Null);
        audit_intact(&app).await;
    }

    async fn sign_up_checks_every_field_on_the_server(app) {
        let reply = app
            .call("/api/accounts/sign_up", &[("email", "nope"), ("password", "short"), ("name", ""), ("date_of_birth", "2999-01-01")], None)
            .await;
        assert_eq!(reply.status, 422);
        let fields = &reply.json["fields"];
        assert_eq!(fields["email"], "email.invalid");
        assert_eq!(fields["password"], "password.too_short");
        assert_eq!(fields["name"], "name.required");
        assert_eq!(fields["date_of_birth"], "dob.future");

        let common = app
            .call("/api/accounts/sign_up", &[("email", "a@example.com"), ("password", "password1234"), ("name", "A"), ("date_of_birth", "1990-01-01")], None)
            .await;
        assert_eq!(common.json["fields"]["password"], "password.common");

        app.sign_up("taken@example.com", PASSWORD).await;
        let taken = app
            .call("/api/accounts/sign_up", &[("email", "taken@example.com"), ("password", PASSWORD), ("name", "B"), ("date_of_birth", "1990-01-01")], None)
            .await;
        assert_eq!(taken.json["fields"]["email"], "email.taken");
    }

    async fn a_wrong_password_and_an_unknown_email_get_the_same_answer(app) {
        app.sign_up("known@example.com", PASSWORD).await;
        let wrong = app.call("/api/accounts/sign_in", &[("email", "known@example.com"), ("password", "not the password at all")], None).await;
        let unknown = app.call("/api/accounts/sign_in", &[("email", "nobody@example.com"), ("password", "not the password at all")], None).await;
        assert_eq!(wrong.status, 422);
        assert_eq!((wrong.status, &wrong.json), (unknown.status, &unknown.json));
        assert!(wrong.session.is_none() && unknown.session.is_none());
    }

    async fn repeated_failures_lock_the_account_with_growing_back_off(app) {
        app.sign_up("locked@example.com", PASSWORD).await;
        for _ in 0..5 {
            app.call("/api/accounts/sign_in", &[("email", "locked@example.com"), ("password", "wrong wrong wrong")], None).await;
        }
        let refused = app.call("/api/accounts/sign_in", &[("email", "locked@example.com"), ("password", PASSWORD)], None).await;
        assert_eq!(refused.status, 429, "even the right password waits out the lock");
        assert!(refused.retry_after.is_some());
        assert!(refused.json["retry_after_secs"].as_u64().unwrap() > 0);
    }

    async fn a_reset_link_works_once_and_ends_every_session(app) {
        let session = app.sign_up("reset@example.com", PASSWORD).await;
        let unknown = app.call("/api/accounts/request_reset", &[("email", "ghost@example.com")], None).await;
        let known = app.call("/api/accounts/request_reset", &[("email", "reset@example.com")], None).await;
        assert_eq!((unknown.status, &unknown.json), (known.status, &known.json), "same answer for unknown emails");
        let token = reset_link(&app, "reset@example.com").await;

        let new_password = "a brand new passphrase";
        let done = app.call("/api/accounts/complete_reset", &[("token", &token), ("password", new_password)], None).await;
        assert_eq!(done.status, 200, "{}", done.text);
        assert_eq!(app.call("/api/accounts/me", &[], Some(&session)).await.json, serde_json::Value::Null, "old sessions end");
        let again = app.call("/api/accounts/complete_reset", &[("token", &token), ("password", "yet another passphrase")], None).await;
        assert_eq!(again.json["fields"]["token"], "link.used");
        let signed_in = app.call("/api/accounts/sign_in", &[("email", "reset@example.com"), ("password", new_password)], None).await;
        assert_eq!(signed_in.status, 200);
        let bogus = app.call("/api/accounts/complete_reset", &[("token", "made-up"), ("password", new_password)], None).await;
        assert_eq!(bogus.json["fields"]["token"], "link.invalid");
    }

    async fn an_expired_reset_link_is_refused(app) {
        app.sign_up("late@example.com", PASSWORD).await;
        app.call("/api/accounts/request_reset", &[("email", "late@example.com")], None).await;
        let token = reset_link(&app, "late@example.com").await;
        sqlx::query("UPDATE one_time_links SET expires_at = 0").execute(app.state.db.pool()).await.unwrap();
        let reply = app.call("/api/accounts/complete_reset", &[("token", &token), ("password", "a brand new passphrase")], None).await;
        assert_eq!(reply.json["fields"]["token"], "link.expired");
    }

    async fn an_idle_session_ends(app) {
        let session = app.sign_up("idle@example.com", PASSWORD).await;
        sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 31 * 60 * 1000").execute(app.state.db.pool()).await.unwrap();
        assert_eq!(app.call("/api/accounts/me", &[], Some(&session)).await.json, serde_json::Value::Null);
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&session)).await.status, 401);
    }

    async fn a_session_past_its_absolute_limit_ends(app) {
        let session = app.sign_up("old@example.com", PASSWORD).await;
        sqlx::query("UPDATE sessions SET expires_at = 1").execute(app.state.db.pool()).await.unwrap();
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&session)).await.status, 401);
    }

    async fn a_tampered_cookie_is_just_not_signed_in(app) {
        app.sign_up("tamper@example.com", PASSWORD).await;
        for forged in ["AAAA", "%00%01", &"x".repeat(5000), "a=b;c"] {
            let reply = app.call("/api/accounts/sessions", &[], Some(forged)).await;
            assert_eq!(reply.status, 401, "{forged}");
            assert_eq!(reply.session.as_deref(), Some(""), "the browser is told to forget it");
        }
        let page = app.client.get(app.url("/")).header("cookie", "tabibu_session=forged").send().await.unwrap();
        assert_eq!(page.status(), 200, "a bad cookie never breaks a page");
        let rejected = tabibu_app::audit::list(&app.state.db, &tabibu_app::audit::AuditFilter {
            action: Some(tabibu_app::audit::AuditAction::SessionRejected),
            ..Default::default()
        })
        .await
        .unwrap();
        assert_eq!(rejected.len(), 5, "each rejected cookie is audited");
    }

    async fn sign_out_everywhere_ends_every_session(app) {
        let a = app.sign_up("many@example.com", PASSWORD).await;
        let b = app.call("/api/accounts/sign_in", &[("email", "many@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        let list = app.call("/api/accounts/sessions", &[], Some(&b)).await;
        assert_eq!(list.json.as_array().unwrap().len(), 2);
        assert_eq!(list.json.as_array().unwrap().iter().filter(|s| s["current"] == true).count(), 1);
        assert_eq!(app.call("/api/accounts/sign_out_everywhere", &[], Some(&b)).await.status, 200);
        for token in [a, b] {
            assert_eq!(app.call("/api/accounts/sessions", &[], Some(&token)).await.status, 401);
        }
    }

    async fn two_factor_sign_in_asks_for_a_fresh_code(app) {
        use tabibu_app::accounts::totp;
        let session = app.sign_up("mfa@example.com", PASSWORD).await;
        let enrol = app.call("/api/accounts/mfa_begin", &[], Some(&session)).await;
        let secret = totp::TotpSecret::from_base32(enrol.json["secret"].as_str().unwrap()).unwrap();
        let now = tabibu_app::platform::db::now_ms() / 1000;
        let wrong = app.call("/api/accounts/mfa_confirm", &[("code", "000000")], Some(&session)).await;
        assert_eq!(wrong.status, 422);
        let confirm = app.call("/api/accounts/mfa_confirm", &[("code", &totp::code_at(&secret, now))], Some(&session)).await;
        assert_eq!(confirm.status, 200, "{}", confirm.text);
        let codes: Vec<String> = serde_json::from_value(confirm.json.clone()).unwrap();
        assert_eq!(codes.len(), 10);
        let rotated = confirm.session.unwrap();
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&session)).await.status, 401, "enabling MFA rotates the session");
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&rotated)).await.status, 200);

        let first = app.call("/api/accounts/sign_in", &[("email", "mfa@example.com"), ("password", PASSWORD)], None).await;
        assert_eq!(first.json, serde_json::json!("mfa_required"));
        let pending = first.session.unwrap();
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&pending)).await.status, 401, "a pending session is not signed in");
        let replay = app.call("/api/accounts/verify_code", &[("code", &totp::code_at(&secret, now))], Some(&pending)).await;
        assert_eq!(replay.status, 422, "the code used for enrolment cannot be used again");
        let recovery = app.call("/api/accounts/verify_code", &[("code", &codes[0])], Some(&pending)).await;
        assert_eq!(recovery.status, 200, "{}", recovery.text);
        let full = recovery.session.unwrap();
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&full)).await.status, 200);

        let again = app.call("/api/accounts/sign_in", &[("email", "mfa@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        let spent = app.call("/api/accounts/verify_code", &[("code", &codes[0])], Some(&again)).await;
        assert_eq!(spent.status, 422, "a recovery code works once");
        audit_intact(&app).await;
    }

    async fn an_admin_creates_a_doctor_who_can_then_sign_in(app) {
        app.create_staff("admin@example.com", PASSWORD, Role::Admin).await;
        let admin = app.call("/api/accounts/sign_in", &[("email", "admin@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        let created = app
            .call("/api/admin/create_user", &[("email", "dr.njeri@example.com"), ("name", "Dr Njeri"), ("role", "doctor")], Some(&admin))
            .await;
        assert_eq!(created.status, 200, "{}", created.text);
        let link = created.json.as_str().unwrap();
        let token = link.split("token=").nth(1).unwrap();
        let set = app.call("/api/accounts/complete_reset", &[("token", token), ("password", "stethoscope morning rounds")], None).await;
        assert_eq!(set.status, 200, "{}", set.text);
        let doctor = app.call("/api/accounts/sign_in", &[("email", "dr.njeri@example.com"), ("password", "stethoscope morning rounds")], None).await;
        assert_eq!(doctor.json, serde_json::json!({"signed_in": {"role": "doctor"}}));

        let users = app.call("/api/admin/users", &[], Some(&admin)).await;
        let row = users.json.as_array().unwrap().iter().find(|u| u["email"] == "dr.njeri@example.com").unwrap().clone();
        let id = row["id"].as_str().unwrap();
        let disabled = app.call("/api/admin/set_user_active", &[("user_id", id), ("active", "false")], Some(&admin)).await;
        assert_eq!(disabled.status, 200, "{}", disabled.text);
        let doctor_session = doctor.session.unwrap();
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&doctor_session)).await.status, 401, "disabling ends sessions");
        let refused = app.call("/api/accounts/sign_in", &[("email", "dr.njeri@example.com"), ("password", "stethoscope morning rounds")], None).await;
        assert_eq!(refused.json["fields"]["form"], "sign_in.disabled");
        audit_intact(&app).await;
    }

    async fn a_patient_cannot_use_the_admin_functions(app) {
        let patient = app.sign_up("curious@example.com", PASSWORD).await;
        for path in ["/api/admin/users", "/api/admin/create_user", "/api/admin/set_user_active", "/api/admin/audit_log"] {
            assert_eq!(app.call(path, &[], Some(&patient)).await.status, 403, "{path}");
            assert_eq!(app.call(path, &[], None).await.status, 401, "{path}");
        }
    }

    async fn one_patient_never_sees_or_touches_another_patients_account(app) {
        let a = app.sign_up("first@example.com", PASSWORD).await;
        let b = app.sign_up("second@example.com", PASSWORD).await;
        let me_a = app.call("/api/accounts/me", &[], Some(&a)).await;
        assert_eq!(me_a.json["email"], "first@example.com");
        let sessions_a = app.call("/api/accounts/sessions", &[], Some(&a)).await;
        assert_eq!(sessions_a.json.as_array().unwrap().len(), 1, "only A's own session");
        assert_eq!(app.call("/api/accounts/sign_out_everywhere", &[], Some(&a)).await.status, 200);
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&b)).await.status, 200, "B is untouched");
        let users = app.call("/api/admin/users", &[], Some(&b)).await;
        assert_eq!(users.status, 403, "no patient lists other accounts");
    }

    async fn cross_site_posts_are_refused(app) {
        let session = app.sign_up("csrf@example.com", PASSWORD).await;
        let evil = app
            .client
            .post(app.url("/api/accounts/sign_out_everywhere"))
            .header("cookie", format!("tabibu_session={session}"))
            .header("origin", "https://evil.example")
            .send()
            .await
            .unwrap();
        assert_eq!(evil.status(), 403);
        let fetch_meta = app
            .client
            .post(app.url("/api/accounts/sign_out_everywhere"))
            .header("cookie", format!("tabibu_session={session}"))
            .header("sec-fetch-site", "cross-site")
            .send()
            .await
            .unwrap();
        assert_eq!(fetch_meta.status(), 403);
        assert_eq!(app.call("/api/accounts/sessions", &[], Some(&session)).await.status, 200, "nothing happened");
        let same = app
            .client
            .post(app.url("/api/accounts/sessions"))
            .header("cookie", format!("tabibu_session={session}"))
            .header("origin", app.base.clone())
            .header("sec-fetch-site", "same-origin")
            .send()
            .await
            .unwrap();
        assert_eq!(same.status(), 200);
    }
}

#[tokio::test]
async fn the_sixth_sign_in_attempt_in_a_minute_is_refused() {
    let app = support::spawn_app_with(
        support::Backend::Sqlite,
        &[("TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE", "5")],
    )
    .await
    .unwrap();
    for i in 0..5 {
        let reply = app
            .call(
                "/api/accounts/sign_in",
                &[
                    ("email", &format!("x{i}@example.com")),
                    ("password", "whatever at all"),
                ],
                None,
            )
            .await;
        assert_eq!(reply.status, 422);
    }
    let refused = app
        .call(
            "/api/accounts/sign_in",
            &[("email", "y@example.com"), ("password", "whatever at all")],
            None,
        )
        .await;
    assert_eq!(refused.status, 429);
    let wait: u64 = refused.retry_after.unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
}

#[tokio::test]
async fn more_than_the_general_limit_a_second_gets_429_with_a_readable_page() {
    let app = support::spawn_app_with(
        support::Backend::Sqlite,
        &[("TABIBU_RATE_LIMIT_PER_SECOND", "3")],
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    let mut page = None;
    for _ in 0..6 {
        let response = app.get("/").await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().get("retry-after").is_some());
            page = Some(response.text().await.unwrap());
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(page.unwrap().contains("Too many requests"));
    assert_eq!(
        app.get("/health").await.status(),
        200,
        "health checks are not limited"
    );
}

#[tokio::test]
async fn the_api_has_a_zone_of_its_own() {
    let app = support::spawn_app_with(
        support::Backend::Sqlite,
        &[("TABIBU_RATE_LIMIT_API_PER_SECOND", "3")],
    )
    .await
    .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.call("/api/accounts/me", &[], None).await.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    // Pages count in the general zone, which is not spent.
    assert_eq!(app.get("/").await.status(), 200);
}

#[tokio::test]
async fn staff_without_two_factor_are_sent_to_set_it_up_when_required() {
    let app = support::spawn_app_with(
        support::Backend::Sqlite,
        &[("TABIBU_REQUIRE_MFA_STAFF", "true")],
    )
    .await
    .unwrap();
    app.create_staff("boss@example.com", PASSWORD, Role::Admin)
        .await;
    let admin = app
        .call(
            "/api/accounts/sign_in",
            &[("email", "boss@example.com"), ("password", PASSWORD)],
            None,
        )
        .await
        .session
        .unwrap();
    let refused = app.call("/api/admin/users", &[], Some(&admin)).await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json["kind"], "mfa_setup_required");
    assert_eq!(
        app.call("/api/accounts/mfa_begin", &[], Some(&admin))
            .await
            .status,
        200,
        "but may set it up"
    );
}
