//! OpenTelemetry traces: with `TABIBU_OTEL_ENDPOINT` set, the `tabibu` binary sends its
//! request spans to a collector over OTLP/HTTP (protobuf). The collector here is a small HTTP
//! server that decodes what arrives with the OTLP protobuf definitions, as a real one does.
//! Checked: the resource names the service, each request is one span with its route and
//! status, a W3C `traceparent` makes the span its child, the last spans are sent at SIGTERM,
//! and nothing personal (the email, the name, the password, the session token) is in any byte
//! sent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::child::{Tabibu, TempDir};
use support::sign_up_at;

#[derive(Clone, Default)]
struct Collector {
    bodies: Arc<Mutex<Vec<(HeaderMap, Bytes)>>>,
}

async fn traces(State(collector): State<Collector>, headers: HeaderMap, body: Bytes) -> StatusCode {
    collector.bodies.lock().unwrap().push((headers, body));
    StatusCode::OK
}

async fn start_collector() -> (String, Collector) {
    let collector = Collector::default();
    let app = Router::new()
        .route("/v1/traces", post(traces))
        .with_state(collector.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, collector)
}

/// A span as the test reads it: its name, trace and parent ids (hex) and string attributes.
#[derive(Debug)]
struct Span {
    name: String,
    trace_id: String,
    parent_span_id: String,
    attributes: Vec<(String, String)>,
}

impl Span {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn request_spans_reach_the_collector_without_anything_personal() {
    let (endpoint, collector) = start_collector().await;
    let dir = TempDir::new("otel");
    let database = format!("sqlite://{}/tabibu.db", dir.0.display());
    let documents = dir.0.join("documents");
    let mut server = Tabibu::start(
        &dir.0,
        &database,
        &documents,
        &[
            ("TABIBU_OTEL_ENDPOINT", endpoint.as_str()),
            ("TABIBU_OTEL_SERVICE_NAME", "tabibu-test"),
            (
                "TABIBU_OTEL_HEADERS",
                "x-collector-key=k3y-for-the-collector",
            ),
            ("TABIBU_LOG", "info"),
        ],
        &[],
    )
    .await;

    let email = "wanjiku.otel@example.org";
    let password = "a long and proper passphrase";
    let session = sign_up_at(&server.client, &server.base, email, password).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let page = server
        .client
        .get(server.url("/profile"))
        .header("cookie", format!("tabibu_session={session}"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);

    server.signal("TERM");
    let status = server
        .exited_within(Duration::from_secs(15))
        .await
        .expect("exits after sending the last spans");
    assert!(status.success());

    let bodies = collector.bodies.lock().unwrap().clone();
    assert!(!bodies.is_empty(), "the collector received traces");
    let mut spans = Vec::new();
    for (headers, body) in &bodies {
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x-collector-key"], "k3y-for-the-collector");
        for secret in [
            email.as_bytes(),
            password.as_bytes(),
            session.as_bytes(),
            b"Amina Otieno",
        ] {
            assert!(
                !body.windows(secret.len()).any(|w| w == secret),
                "a personal value was sent to the collector"
            );
        }
        let request = ExportTraceServiceRequest::decode(body.as_ref()).expect("OTLP protobuf");
        for resource_spans in request.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            let service = resource
                .attributes
                .iter()
                .find(|kv| kv.key == "service.name")
                .map(|kv| text(kv.value.as_ref().and_then(|v| v.value.as_ref())));
            assert_eq!(service.as_deref(), Some("tabibu-test"));
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Span {
                        name: span.name,
                        trace_id: hex::encode(&span.trace_id),
                        parent_span_id: hex::encode(&span.parent_span_id),
                        attributes: span
                            .attributes
                            .iter()
                            .map(|kv| {
                                (
                                    kv.key.clone(),
                                    text(kv.value.as_ref().and_then(|v| v.value.as_ref())),
                                )
                            })
                            .collect(),
                    });
                }
            }
        }
    }

    let sign_up = spans
        .iter()
        .find(|s| s.name == "request" && s.attribute("route") == Some("/api/accounts/sign_up"))
        .unwrap_or_else(|| panic!("a span for the sign-up: {spans:#?}"));
    assert_eq!(sign_up.attribute("method"), Some("POST"));
    assert_eq!(sign_up.attribute("status"), Some("200"));
    assert!(
        sign_up
            .attribute("request_id")
            .is_some_and(|id| !id.is_empty())
    );

    let profile = spans
        .iter()
        .find(|s| s.name == "request" && s.attribute("route") == Some("/profile"))
        .unwrap_or_else(|| panic!("a span for the page: {spans:#?}"));
    assert_eq!(profile.trace_id, trace_id, "the caller's trace goes on");
    assert_eq!(
        profile.parent_span_id, caller_span,
        "a child of the caller's span"
    );
    assert_ne!(
        sign_up.trace_id, trace_id,
        "a request without traceparent starts its own"
    );
}
