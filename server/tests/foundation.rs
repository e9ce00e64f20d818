//! The foundation, tested through the real server on both databases: health and readiness,
//! security headers on every kind of response, request ids, the 404 page, the language
//! switch, and storage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::header::HeaderMap;

/// The headers every response must carry, whatever produced it.
fn assert_security_headers(headers: &HeaderMap, what: &str) {
    let get = |name: &str| {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: missing {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    let csp = get("content-security-policy");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{what}: {csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(
        get("referrer-policy"),
        "strict-origin-when-cross-origin",
        "{what}"
    );
    let permissions = get("permissions-policy");
    for feature in ["camera=()", "microphone=()", "geolocation=()", "payment=()"] {
        assert!(permissions.contains(feature), "{what}: {permissions}");
    }
    assert_eq!(get("cross-origin-opener-policy"), "same-origin", "{what}");
    assert_eq!(get("cross-origin-resource-policy"), "same-origin", "{what}");
    assert!(
        headers.get("x-request-id").is_some(),
        "{what}: missing x-request-id"
    );
}

on_both_databases! {
    async fn health_answers_with_the_version(app) {
        let response = app.get("/health").await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }

    async fn ready_answers_while_the_database_does(app) {
        let response = app.get("/ready").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<serde_json::Value>().await.unwrap()["status"], "ready");
    }

    async fn losing_the_database_turns_ready_to_503_but_not_health(app) {
        tokio::time::timeout(std::time::Duration::from_secs(10), app.state.db.close()).await.expect("the pool closes");
        assert_eq!(app.get("/ready").await.status(), 503);
        assert_eq!(app.get("/health").await.status(), 200);
    }

    async fn every_kind_of_response_carries_the_security_headers(app) {
        let page = app.get("/").await;
        assert_eq!(page.status(), 200);
        assert_security_headers(page.headers(), "page");

        let file = app.get("/favicon.svg").await;
        assert_eq!(file.status(), 200);
        assert_security_headers(file.headers(), "static file");

        let missing = app.get("/no/such/page").await;
        assert_eq!(missing.status(), 404);
        assert_security_headers(missing.headers(), "404");

        let health = app.get("/health").await;
        assert_security_headers(health.headers(), "health");

        let server_fn = app
            .client
            .post(app.url("/api/set_language"))
            .form(&[("code", "sw")])
            .send()
            .await
            .unwrap();
        assert_eq!(server_fn.status(), 200);
        assert_security_headers(server_fn.headers(), "server function");

        let bad_server_fn = app
            .client
            .post(app.url("/api/set_language"))
            .form(&[("code", "klingon")])
            .send()
            .await
            .unwrap();
        assert_eq!(bad_server_fn.status(), 422);
        assert_security_headers(bad_server_fn.headers(), "server function error");
    }

    async fn the_page_names_the_nonce_the_header_allows(app) {
        let response = app.get("/").await;
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_owned();
        let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_owned();
        let html = response.text().await.unwrap();
        assert!(html.contains(&format!("nonce=\"{nonce}\"")), "the hydration script carries the nonce");
        let again = app.get("/").await;
        assert!(!again.headers()["content-security-policy"].to_str().unwrap().contains(&nonce),
            "a nonce is used once");
    }

    async fn hsts_is_not_sent_over_plain_http(app) {
        assert!(app.get("/").await.headers().get("strict-transport-security").is_none());
    }

    async fn an_unknown_page_gets_the_friendly_404(app) {
        let response = app.get("/this/does/not/exist").await;
        assert_eq!(response.status(), 404);
        let html = response.text().await.unwrap();
        assert!(html.contains("Page not found"));
        assert!(html.contains("data-testid=\"emergency-number\""));
    }

    async fn a_request_id_is_returned_and_a_safe_one_is_kept(app) {
        let fresh = app.get("/health").await;
        let id = fresh.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36);
        let kept = app.client.get(app.url("/health")).header("x-request-id", "abc-123").send().await.unwrap();
        assert_eq!(kept.headers()["x-request-id"], "abc-123");
        let replaced = app
            .client
            .get(app.url("/health"))
            .header("x-request-id", "mary@example.com")
            .send()
            .await
            .unwrap();
        assert_ne!(replaced.headers()["x-request-id"], "mary@example.com");
    }

    async fn the_landing_page_speaks_the_remembered_language(app) {
        let english = app.get("/").await.text().await.unwrap();
        assert!(english.contains("lang=\"en\""));
        assert!(english.contains("Know how urgent it is."));

        let set = app.client.post(app.url("/api/set_language")).form(&[("code", "sw")]).send().await.unwrap();
        let cookie = set.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.starts_with("tabibu_lang=sw;"), "{cookie}");
        assert!(cookie.contains("SameSite=Lax"));

        let swahili = app
            .client
            .get(app.url("/"))
            .header("cookie", "tabibu_lang=sw")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(swahili.contains("lang=\"sw\""));
        assert!(swahili.contains("Jua uharaka wa tatizo lako."));
        assert!(swahili.contains("Dharura? Piga"));
    }

    async fn the_browser_language_is_the_first_guess(app) {
        let html = app
            .client
            .get(app.url("/"))
            .header("accept-language", "sw-KE,sw;q=0.9,en;q=0.5")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("lang=\"sw\""));
    }

    async fn a_form_post_without_javascript_returns_to_the_page(app) {
        let response = app
            .client
            .post(app.url("/api/set_language"))
            .header("accept", "text/html")
            .header("referer", app.url("/"))
            .form(&[("code", "sw")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().unwrap();
        assert_eq!(location.trim_end_matches('?'), app.url("/"), "back to the page it came from");
        assert!(response.headers()["set-cookie"].to_str().unwrap().contains("tabibu_lang=sw"));
    }

    async fn the_emergency_number_comes_from_configuration(app) {
        let html = app.get("/").await.text().await.unwrap();
        assert!(html.contains("href=\"tel:999\""));
        assert!(html.contains("112"));
    }

    async fn settings_are_stored_and_read_back(app) {
        use tabibu_app::platform::settings;
        let db = &app.state.db;
        assert!(settings::get(db, "installed_at_ms").await.unwrap().is_some(), "written at start");
        settings::put(db, "probe", "one").await.unwrap();
        settings::put(db, "probe", "two").await.unwrap();
        assert_eq!(settings::get(db, "probe").await.unwrap().as_deref(), Some("two"));
        assert_eq!(settings::get_or_init(db, "probe", "three").await.unwrap(), "two");
        assert_eq!(settings::get(db, "absent").await.unwrap(), None);
    }
}

#[tokio::test]
async fn production_behind_a_trusted_proxy_sends_hsts_for_a_year() {
    let app = support::spawn_app_with(
        support::Backend::Sqlite,
        &[
            ("TABIBU_ENV", "production"),
            ("TABIBU_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let response = app
        .client
        .get(app.url("/"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("max-age=31536000"));
}

#[tokio::test]
async fn a_custom_emergency_number_reaches_the_page() {
    let app = support::spawn_app_with(
        support::Backend::Sqlite,
        &[
            ("TABIBU_EMERGENCY_NUMBER", "1199"),
            ("TABIBU_OTHER_EMERGENCY_NUMBERS", "112,999"),
        ],
    )
    .await
    .unwrap();
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains("href=\"tel:1199\""));
    assert!(html.contains("112, 999"));
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_foreign_keys() {
    use sqlx::Row;
    let app = support::spawn_app(support::Backend::Sqlite).await.unwrap();
    let pool = app.state.db.pool();
    let mode: String = sqlx::query("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(mode.to_lowercase(), "wal");
    let fk: i64 = sqlx::query("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(fk, 1);
}
