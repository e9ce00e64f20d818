//! Every kind of response (page, static file, server function, error, redirect), served over
//! Tabibu's own HTTPS, scored with the MDN HTTP Observatory's rules: each test starts at 100
//! and adds the published modifier of each rule (content security policy, cookies, referrer
//! policy, HSTS, X-Content-Type-Options, framing, redirection); A+ is 100 or more. The test
//! fails on any negative modifier, so a weakened header cannot hide behind a bonus.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use reqwest::header::HeaderMap;
use std::time::Duration;
use support::Backend;
use support::tls::{make_cert, tempdir};
use tabibu_server::tls::{
    CertStore, RedirectSettings, ServedOverTls, TlsListener, redirect_router,
};

/// The rules' modifiers for one response: (rule, modifier).
fn score(headers: &HeaderMap) -> Vec<(&'static str, i32)> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut out = Vec::new();

    // Content security policy.
    out.push(match get("content-security-policy") {
        None => ("csp-not-implemented", -25),
        Some(csp) => {
            let directive = |name: &str| {
                csp.split(';')
                    .map(str::trim)
                    .find(|d| d.split_whitespace().next() == Some(name))
                    .map(str::to_owned)
            };
            let scripts = directive("script-src")
                .or_else(|| directive("default-src"))
                .unwrap_or_default();
            let default = directive("default-src").unwrap_or_default();
            if scripts.is_empty() && default.is_empty() {
                ("csp-implemented-unsafe-no-default", -25)
            } else if scripts.contains("'unsafe-inline'") || scripts.contains("data:") {
                ("csp-implemented-with-unsafe-inline", -20)
            } else if scripts.contains("http:") || scripts.split_whitespace().any(|s| s == "*") {
                ("csp-implemented-with-insecure-scheme", -20)
            } else if scripts.split_whitespace().any(|s| s == "'unsafe-eval'") {
                ("csp-implemented-with-unsafe-eval", -10)
            } else if default.split_whitespace().nth(1) == Some("'none'") {
                ("csp-implemented-with-no-unsafe-default-src-none", 10)
            } else {
                ("csp-implemented-with-no-unsafe", 0)
            }
        }
    });

    // Cookies.
    let cookies: Vec<String> = headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_ascii_lowercase))
        .collect();
    out.push(if cookies.is_empty() {
        ("cookies-not-found", 0)
    } else if cookies.iter().any(|c| !c.contains("; secure")) {
        ("cookies-without-secure-flag", -20)
    } else if cookies.iter().any(|c| !c.contains("; httponly")) {
        ("cookies-session-without-httponly-flag", -30)
    } else if cookies.iter().all(|c| c.contains("; samesite=")) {
        ("cookies-secure-with-httponly-sessions-and-samesite", 5)
    } else {
        ("cookies-secure-with-httponly-sessions", 0)
    });

    // Referrer policy.
    out.push(match get("referrer-policy").as_deref() {
        None => ("referrer-policy-not-implemented", 0),
        Some(
            "no-referrer" | "same-origin" | "strict-origin" | "strict-origin-when-cross-origin",
        ) => ("referrer-policy-private", 5),
        Some("unsafe-url" | "no-referrer-when-downgrade") => ("referrer-policy-unsafe", -5),
        Some(_) => ("referrer-policy-header-invalid", -5),
    });

    // Strict transport security (over HTTPS).
    out.push(match get("strict-transport-security") {
        None => ("hsts-not-implemented", -20),
        Some(hsts) => {
            let max_age = hsts
                .split(';')
                .filter_map(|p| p.trim().strip_prefix("max-age="))
                .find_map(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            if max_age < 15_768_000 {
                ("hsts-implemented-max-age-less-than-six-months", -10)
            } else {
                ("hsts-implemented-max-age-at-least-six-months", 0)
            }
        }
    });

    out.push(match get("x-content-type-options").as_deref() {
        Some("nosniff") => ("x-content-type-options-nosniff", 0),
        _ => ("x-content-type-options-not-implemented", -5),
    });

    let ancestors = get("content-security-policy").is_some_and(|csp| {
        csp.contains("frame-ancestors 'none'") || csp.contains("frame-ancestors 'self'")
    });
    out.push(if ancestors {
        ("x-frame-options-implemented-via-csp", 5)
    } else {
        match get("x-frame-options").as_deref() {
            Some("DENY" | "SAMEORIGIN") => ("x-frame-options-sameorigin-or-deny", 0),
            _ => ("x-frame-options-not-implemented", -20),
        }
    });
    out
}

fn assert_a_plus(headers: &HeaderMap, what: &str) {
    let modifiers = score(headers);
    let negative: Vec<_> = modifiers.iter().filter(|(_, m)| *m < 0).collect();
    assert!(negative.is_empty(), "{what}: {negative:?}");
    let total: i32 = 100 + modifiers.iter().map(|(_, m)| m).sum::<i32>();
    assert!(total >= 100, "{what}: {total} {modifiers:?}");
}

#[tokio::test]
async fn every_kind_of_response_scores_a_plus() {
    let app = support::spawn_app_with(
        Backend::Sqlite,
        &[("TABIBU_PUBLIC_URL", "https://localhost")],
    )
    .await
    .unwrap();
    app.create_staff(
        "observer@example.com",
        "correct horse battery staple",
        tabibu_app::accounts::types::Role::Doctor,
    )
    .await;
    let dir = tempdir();
    let (cert, key) = make_cert(&dir, "observatory");
    let store = CertStore::open(&cert, &key).unwrap();
    let state = app.state.clone();
    let (addr, plain_addr) = support::server_runtime()
        .spawn(async move {
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = tcp.local_addr().unwrap();
            let tls = TlsListener::new(tcp, store.server_config().unwrap()).unwrap();
            let router = tabibu_server::router(state).layer(axum::Extension(ServedOverTls));
            tokio::spawn(tabibu_server::serve(
                axum::serve::ListenerExt::tap_io(tls, |_| {}),
                router,
                std::future::pending::<()>(),
                Duration::from_secs(1),
            ));
            let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let plain_addr = plain.local_addr().unwrap();
            let redirects = redirect_router(RedirectSettings {
                https_base: format!("https://localhost:{}", addr.port()),
                acme_dir: None,
            });
            tokio::spawn(async move { axum::serve(plain, redirects).await });
            (addr, plain_addr)
        })
        .await
        .unwrap();
    let ca = std::fs::read(dir.join("ca.crt")).unwrap();
    let https = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("localhost", addr)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());

    let page = https.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_a_plus(page.headers(), "page");

    let file = https
        .get(format!("{base}/favicon.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_a_plus(file.headers(), "static file");

    let sign_in = https
        .post(format!("{base}/api/accounts/sign_in"))
        .form(&[
            ("email", "observer@example.com"),
            ("password", "correct horse battery staple"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), 200);
    assert!(
        sign_in.headers().get("set-cookie").is_some(),
        "the session cookie is scored too"
    );
    assert_a_plus(sign_in.headers(), "server function with a cookie");

    let refused = https
        .post(format!("{base}/api/set_language"))
        .form(&[("code", "klingon")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    assert_a_plus(refused.headers(), "server function error");

    let missing = https
        .get(format!("{base}/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_a_plus(missing.headers(), "404 page");

    // The plain-HTTP entry point sends people to HTTPS on the same host, whose answer scores.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let moved = plain
        .get(format!("http://{plain_addr}/consultations"))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 308);
    let location = moved.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://localhost:"),
        "redirection-to-https: {location}"
    );
    let landed = https.get(&location).send().await.unwrap();
    assert_a_plus(landed.headers(), "redirect target");
}

#[test]
fn the_scoring_can_fail() {
    let mut weak = HeaderMap::new();
    weak.insert(
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'unsafe-inline'"
            .parse()
            .unwrap(),
    );
    weak.insert("set-cookie", "s=1; Path=/".parse().unwrap());
    let negative: Vec<_> = score(&weak)
        .into_iter()
        .filter(|(_, m)| *m < 0)
        .map(|(r, _)| r)
        .collect();
    assert!(negative.contains(&"csp-implemented-with-unsafe-inline"));
    assert!(negative.contains(&"cookies-without-secure-flag"));
    assert!(negative.contains(&"hsts-not-implemented"));
    assert!(negative.contains(&"x-content-type-options-not-implemented"));
    assert!(negative.contains(&"x-frame-options-not-implemented"));
}
