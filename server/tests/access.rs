//! The access table covers the whole API: every registered server function has a rule, every
//! rule names a real server function, and each rule's refusals hold against a running server
//! for anonymous callers, pending two-factor sessions, patients, and staff of the wrong role.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use tabibu_app::access::{Access, ENDPOINTS, RULES};
use tabibu_app::accounts::types::Role;

const PASSWORD: &str = "correct horse battery staple";

fn registered_server_functions() -> BTreeSet<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect()
}

#[test]
fn every_server_function_has_an_access_rule_and_every_rule_a_function() {
    let registered = registered_server_functions();
    assert!(!registered.is_empty());
    let ruled: BTreeSet<String> = RULES.iter().map(|(p, _)| (*p).to_owned()).collect();
    let unruled: Vec<_> = registered.difference(&ruled).collect();
    assert!(
        unruled.is_empty(),
        "server functions without an access rule: {unruled:?}"
    );
    let stale: Vec<_> = ruled.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "rules for server functions that do not exist: {stale:?}"
    );
}

/// Whether a refusal (401/403) is what `access` demands for this kind of caller.
fn expected_status(access: Access, caller: &str) -> Option<u16> {
    match (access, caller) {
        (Access::Public, _) => None,
        (_, "anonymous") => Some(401),
        (Access::MfaPending, "pending") => None,
        (_, "pending") => Some(401),
        (Access::MfaPending, _) => Some(403),
        (Access::SignedIn, _) => None,
        (Access::Roles(roles), "patient") if !roles.contains(&Role::Patient) => Some(403),
        (Access::Roles(roles), "doctor") if !roles.contains(&Role::Doctor) => Some(403),
        (Access::Roles(_), _) => None,
    }
}

on_both_databases! {
    async fn every_rule_refuses_the_callers_it_should(app) {
        use tabibu_app::accounts::totp;
        let patient = app.sign_up("patient@example.com", PASSWORD).await;
        app.create_staff("doctor@example.com", PASSWORD, Role::Doctor).await;
        let doctor = app.call("/api/accounts/sign_in", &[("email", "doctor@example.com"), ("password", PASSWORD)], None).await.session.unwrap();

        // A user with two-factor sign-in, stopped between password and code.
        let mfa_user = app.sign_up("pending@example.com", PASSWORD).await;
        let secret = app.call("/api/accounts/mfa_begin", &[], Some(&mfa_user)).await.json["secret"].as_str().unwrap().to_owned();
        let secret = totp::TotpSecret::from_base32(&secret).unwrap();
        let code = totp::code_at(&secret, tabibu_app::platform::db::now_ms() / 1000);
        assert_eq!(app.call("/api/accounts/mfa_confirm", &[("code", &code)], Some(&mfa_user)).await.status, 200);
        let pending = app.call("/api/accounts/sign_in", &[("email", "pending@example.com"), ("password", PASSWORD)], None).await.session.unwrap();

        let callers = [("anonymous", None), ("pending", Some(pending.as_str())), ("patient", Some(patient.as_str())), ("doctor", Some(doctor.as_str()))];
        let mut checked = 0;
        for (path, access) in RULES {
            // Functions that end the session are left for last: they would sign the caller out.
            if path.contains("sign_out") {
                continue;
            }
            for (name, session) in callers {
                let reply = app.call(path, &[], session).await;
                match expected_status(*access, name) {
                    Some(status) => {
                        assert_eq!(reply.status, status, "{path} as {name}: {}", reply.text);
                        checked += 1;
                    }
                    None => assert!(
                        reply.status != 401 && reply.status != 403,
                        "{path} as {name} was refused ({}): {}", reply.status, reply.text
                    ),
                }
            }
        }
        // The plain endpoints (downloads, uploads, streams) by the same rules, with a made-up
        // id wherever the path takes one.
        for (method, pattern, access) in ENDPOINTS {
            let path = pattern.split('/').map(|s| if s.starts_with('{') { "no-such-id" } else { s }).collect::<Vec<_>>().join("/");
            for (name, session) in callers {
                let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                let mut request = app.client.request(method, app.url(&path));
                if let Some(token) = session {
                    request = request.header("cookie", format!("tabibu_session={token}"));
                }
                let status = request.send().await.unwrap().status().as_u16();
                match expected_status(*access, name) {
                    Some(expected) => {
                        assert_eq!(status, expected, "{pattern} as {name}");
                        checked += 1;
                    }
                    None => assert!(status != 401 && status != 403, "{pattern} as {name} was refused ({status})"),
                }
            }
        }
        assert!(checked > 20, "refusals checked: {checked}");
        for path in ["/api/accounts/sign_out", "/api/accounts/sign_out_everywhere"] {
            assert_eq!(app.call(path, &[], None).await.status, 401, "{path}");
            assert_eq!(app.call(path, &[], Some(&pending)).await.status, 401, "{path}");
        }
    }

    async fn only_admins_reach_the_email_outbox(app) {
        let patient = app.sign_up("patient@example.com", PASSWORD).await;
        app.create_staff("doctor@example.com", PASSWORD, Role::Doctor).await;
        app.create_staff("admin@example.com", PASSWORD, Role::Admin).await;
        let doctor = app.call("/api/accounts/sign_in", &[("email", "doctor@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        let admin = app.call("/api/accounts/sign_in", &[("email", "admin@example.com"), ("password", PASSWORD)], None).await.session.unwrap();
        // The patient's welcome email is in the outbox: something to list, resend and read.
        let email = tabibu_app::notifications::outbox::latest_for(
            &app.state.db,
            "patient@example.com",
            tabibu_app::notifications::EmailTemplate::Welcome,
        )
        .await
        .unwrap()
        .unwrap();
        for path in ["/api/admin/emails", "/api/admin/resend_email", "/api/admin/email_message"] {
            for (who, session) in [("patient", &patient), ("doctor", &doctor)] {
                let reply = app.call(path, &[("id", &email.id)], Some(session)).await;
                assert_eq!(reply.status, 403, "{path} as {who}: {}", reply.text);
                assert!(!reply.text.contains("patient@example.com"));
            }
        }
        let listed = app.call("/api/admin/emails", &[], Some(&admin)).await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        let page = app.get_as("/admin/emails", Some(&patient)).await.text().await.unwrap();
        assert!(!page.contains("emails-table"), "the page shows a patient no outbox");
    }

    async fn an_unknown_api_path_is_refused_not_guessed(app) {
        let reply = app.call("/api/admin/drop_everything", &[], None).await;
        assert_eq!(reply.status, 403);
    }
}
