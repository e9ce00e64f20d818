//! Cross-origin access: none by default; with `TABIBU_CORS_ORIGINS`, exactly the listed sites
//! may call the API with the user's cookies (preflight answered, credentials allowed, the
//! cross-site check lets them through), everyone else is refused, and `*` cannot be set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{Backend, TestApp};

const ALLOWED: &str = "https://app.example.org";
const EVIL: &str = "https://evil.example";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(reqwest::Method::OPTIONS, app.url("/api/accounts/me"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap()
}

async fn cross_site_post(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/accounts/me"))
        .header("origin", origin)
        .header("sec-fetch-site", "cross-site")
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn only_the_listed_sites_may_call_the_api() {
    let app = support::spawn_app_with(
        Backend::Sqlite,
        &[(
            "TABIBU_CORS_ORIGINS",
            "https://app.example.org/, https://other.example.org",
        )],
    )
    .await
    .unwrap();
    let ok = preflight(&app, ALLOWED).await;
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(ok.headers()["access-control-allow-origin"], ALLOWED);
    assert_eq!(ok.headers()["access-control-allow-credentials"], "true");
    let evil = preflight(&app, EVIL).await;
    assert!(evil.headers().get("access-control-allow-origin").is_none());

    let allowed = cross_site_post(&app, ALLOWED).await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(allowed.headers()["access-control-allow-origin"], ALLOWED);
    assert!(
        allowed.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("origin")
    );
    let refused = cross_site_post(&app, EVIL).await;
    assert_eq!(refused.status(), 403);
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn by_default_no_other_site_may() {
    let app = support::spawn_app(Backend::Sqlite).await.unwrap();
    assert!(
        preflight(&app, ALLOWED)
            .await
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(cross_site_post(&app, ALLOWED).await.status(), 403);
}

#[test]
fn a_wildcard_or_a_path_is_refused() {
    for value in ["*", "https://app.example.org/path", "app.example.org"] {
        let err = tabibu_app::platform::Config::from_lookup(|name| {
            (name == "TABIBU_CORS_ORIGINS").then(|| value.to_owned())
        })
        .unwrap_err();
        assert_eq!(err.variable, "TABIBU_CORS_ORIGINS", "{value}");
    }
}
