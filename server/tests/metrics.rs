//! `GET /metrics` through the real server: Prometheus' text format with request counts by
//! route label, the live figures read at scrape time, no personal data, and refusals for
//! anyone who is neither on the allowed addresses nor holding the token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::Backend;

const TOKEN: &str = "a-metrics-token-of-enough-length";

#[tokio::test]
async fn this_machine_reads_the_metrics_and_they_hold_no_personal_data() {
    let app = support::spawn_app(Backend::Sqlite).await.unwrap();
    let session = app
        .sign_up("metric.person@example.com", "correct horse battery staple")
        .await;
    let reply = app
        .call(
            "/api/consultations/request",
            &[
                ("note", "Tummy ache since lunch"),
                ("request_key", "metrics-key-001"),
            ],
            Some(&session),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let id = reply.json.as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/consultations/{id}")).await.status(), 200);
    assert_eq!(app.get("/health").await.status(), 200);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            "tabibu_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains("route=\"/api/consultations/request\",status=\"200\""));
    assert!(text.contains("tabibu_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/accounts/sign_up\",le=\"+Inf\"} 1"));
    assert!(text.contains("tabibu_queue_depth{level="), "{text}");
    assert!(text.contains("tabibu_consultations_open{status=\"waiting\"} 1"));
    assert!(
        text.contains("tabibu_outbox_emails{status=\"pending\"}"),
        "the welcome email waits: {text}"
    );
    assert!(text.contains("tabibu_event_streams 0"));
    assert!(text.contains("process_resident_memory_bytes "));
    // Pages are one label, whatever their path; nothing a person typed appears.
    assert!(text.contains("route=\"page\""));
    for secret in [
        "metric.person",
        "example.com",
        id.as_str(),
        "Tummy",
        &session,
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the metrics");
    }
}

#[tokio::test]
async fn other_addresses_need_the_token() {
    let app = support::spawn_app_with(
        Backend::Sqlite,
        &[
            ("TABIBU_METRICS_ALLOWED_IPS", "10.0.0.0/8"),
            ("TABIBU_METRICS_TOKEN", TOKEN),
        ],
    )
    .await
    .unwrap();
    assert_eq!(app.get("/metrics").await.status(), 404);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("a-metrics-token-of-enough-lengtX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let right = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(
        right
            .text()
            .await
            .unwrap()
            .contains("# TYPE tabibu_http_requests_total counter")
    );
}

#[test]
fn a_short_token_is_refused_at_start() {
    let err = tabibu_app::platform::Config::from_lookup(|name| {
        (name == "TABIBU_METRICS_TOKEN").then(|| "short".to_owned())
    })
    .unwrap_err();
    assert_eq!(err.variable, "TABIBU_METRICS_TOKEN");
}
