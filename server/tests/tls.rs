//! HTTPS served by Tabibu itself: the certificate is served, replaced by a renewed one without
//! a restart, kept when the files are replaced with garbage; the plain-HTTP listener
//! redirects and serves ACME challenges; HSTS is sent only over HTTPS (own TLS, or a trusted
//! proxy that says so). Certificates are made by the `openssl` command line for each test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::Duration;
use support::Backend;
use support::tls::{make_cert, tempdir};
use tabibu_server::tls::{
    CertStore, RedirectSettings, ServedOverTls, TlsListener, redirect_router,
};

fn der(pem_path: &Path) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_file(pem_path).unwrap().to_vec()
}

/// A client that trusts `roots`, opens a new connection each time and reports the peer's
/// certificate.
fn client(roots: &[&Path], addr: std::net::SocketAddr) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_info(true)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("localhost", addr);
    for root in roots {
        let pem = std::fs::read(root).unwrap();
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap());
    }
    builder.build().unwrap()
}

/// The certificate a brand-new client is shown (a client of its own each time, so that no
/// resumed TLS session reports an earlier certificate).
async fn served_cert(ca: &Path, addr: std::net::SocketAddr) -> Vec<u8> {
    let port = addr.port();
    let response = client(&[ca], addr)
        .get(format!("https://localhost:{port}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn a_renewed_certificate_is_served_without_a_restart_and_garbage_is_refused() {
    let app = support::spawn_app(Backend::Sqlite).await.unwrap();
    let dir = tempdir();
    let (a_cert, a_key) = make_cert(&dir, "first");
    let (b_cert, b_key) = make_cert(&dir, "second");
    let live_cert = dir.join("live.crt");
    let live_key = dir.join("live.key");
    std::fs::copy(&a_cert, &live_cert).unwrap();
    std::fs::copy(&a_key, &live_key).unwrap();

    let store = CertStore::open(&live_cert, &live_key).unwrap();
    let state = app.state.clone();
    let (addr, _stop) = support::server_runtime()
        .spawn({
            let store = store.clone();
            async move {
                store.clone().watch(Duration::from_millis(100));
                let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = tcp.local_addr().unwrap();
                let tls = TlsListener::new(tcp, store.server_config().unwrap()).unwrap();
                let router = tabibu_server::router(state).layer(axum::Extension(ServedOverTls));
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                tokio::spawn(tabibu_server::serve(
                    axum::serve::ListenerExt::tap_io(tls, |_| {}),
                    router,
                    async move {
                        let _ = stopped.await;
                    },
                    Duration::from_secs(1),
                ));
                (addr, stop)
            }
        })
        .await
        .unwrap();
    let port = addr.port();
    let ca = dir.join("ca.crt");
    let https = client(&[&ca], addr);
    assert_eq!(served_cert(&ca, addr).await, der(&a_cert));

    // Over TLS the page carries HSTS.
    let page = https
        .get(format!("https://localhost:{port}/"))
        .send()
        .await
        .unwrap();
    assert!(
        page.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );

    // certbot renews: both files replaced.
    std::fs::copy(&b_cert, &live_cert).unwrap();
    std::fs::copy(&b_key, &live_key).unwrap();
    let mut renewed = false;
    for _ in 0..100 {
        if served_cert(&ca, addr).await == der(&b_cert) {
            renewed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(renewed, "the renewed certificate is served");

    // A broken file is refused; the current certificate stays.
    std::fs::write(
        &live_cert,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert!(store.reload().is_err());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(served_cert(&ca, addr).await, der(&b_cert));
    // A key that is not the certificate's is refused as well.
    std::fs::copy(&a_cert, &live_cert).unwrap();
    assert!(matches!(
        store.reload(),
        Err(tabibu_server::tls::TlsError::Mismatch)
    ));
    assert_eq!(served_cert(&ca, addr).await, der(&b_cert));
}

#[test]
fn a_bad_certificate_at_start_names_the_file() {
    let dir = tempdir();
    let cert = dir.join("broken.crt");
    let key = dir.join("broken.key");
    std::fs::write(&cert, "garbage").unwrap();
    std::fs::write(&key, "garbage").unwrap();
    let err = CertStore::open(&cert, &key).unwrap_err().to_string();
    assert!(err.contains("broken.crt"), "{err}");
    assert!(!err.contains("garbage"), "the content is not echoed: {err}");
}

#[tokio::test]
async fn plain_http_redirects_and_serves_acme_challenges() {
    let dir = tempdir();
    let challenges = dir.join(".well-known/acme-challenge");
    std::fs::create_dir_all(&challenges).unwrap();
    std::fs::write(challenges.join("tok-EN_123"), "tok-EN_123.thumbprint").unwrap();
    std::fs::write(dir.join("secret.txt"), "not for the world").unwrap();
    let router = redirect_router(RedirectSettings {
        https_base: "https://tabibu.example".into(),
        acme_dir: Some(dir.clone()),
    });
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(tcp, router).await });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let moved = http
        .get(format!("http://{addr}/consultations?tab=open"))
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(
        moved.headers()["location"],
        "https://tabibu.example/consultations?tab=open"
    );
    let challenge = http
        .get(format!(
            "http://{addr}/.well-known/acme-challenge/tok-EN_123"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge.status(), 200);
    assert_eq!(challenge.text().await.unwrap(), "tok-EN_123.thumbprint");
    for path in [
        "..%2F..%2Fsecret.txt",
        "missing-token",
        "../../secret.txt",
        "%2e%2e/secret.txt",
    ] {
        let response = http
            .get(format!("http://{addr}/.well-known/acme-challenge/{path}"))
            .send()
            .await
            .unwrap();
        assert_ne!(response.status(), 200, "{path}");
        assert!(
            !response.text().await.unwrap().contains("not for the world"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn hsts_only_when_a_trusted_proxy_says_https() {
    let app = support::spawn_app_with(
        Backend::Sqlite,
        &[
            ("TABIBU_ENV", "production"),
            ("TABIBU_TRUSTED_PROXIES", "127.0.0.1"),
        ],
    )
    .await
    .unwrap();
    let plain = app.get("/").await;
    assert!(
        plain.headers().get("strict-transport-security").is_none(),
        "plain HTTP: none"
    );
    let proxied = app
        .client
        .get(app.url("/"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        proxied.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=31536000")
    );

    let untrusted = support::spawn_app_with(Backend::Sqlite, &[("TABIBU_ENV", "production")])
        .await
        .unwrap();
    let claimed = untrusted
        .client
        .get(untrusted.url("/"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        claimed.headers().get("strict-transport-security").is_none(),
        "anyone can claim https"
    );
}

#[test]
fn tls_settings_are_checked() {
    let config = support::config_from;
    assert_eq!(
        config(&[("TABIBU_TLS_CERT", "/etc/x.crt")])
            .unwrap_err()
            .variable,
        "TABIBU_TLS_KEY"
    );
    assert_eq!(
        config(&[("TABIBU_HTTP_REDIRECT_ADDR", "0.0.0.0:80")])
            .unwrap_err()
            .variable,
        "TABIBU_HTTP_REDIRECT_ADDR",
        "redirects need an https public address"
    );
    let ok = config(&[
        ("TABIBU_TLS_CERT", "/etc/x.crt"),
        ("TABIBU_TLS_KEY", "/etc/x.key"),
        ("TABIBU_HTTP_REDIRECT_ADDR", "0.0.0.0:80"),
        ("TABIBU_PUBLIC_URL", "https://tabibu.example"),
    ])
    .unwrap();
    assert!(ok.tls.is_some());
}
