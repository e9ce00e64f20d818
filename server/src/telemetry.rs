//! Log output (pretty for people in development, JSON for machines in production) and, when
//! `TABIBU_OTEL_ENDPOINT` is set, OpenTelemetry traces sent to a collector over OTLP/HTTP.
//!
//! What may appear in a log line or a span is decided where it is written: ids, counts,
//! routes, durations, error causes that name operations. Never a name, symptom, message,
//! document, phone number, email address, token or password. Traces carry exactly the
//! request spans of `middleware::trace` and the log lines inside them, so the same rule holds
//! for them.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use secrecy::ExposeSecret;
use std::time::Duration;
use tabibu_app::platform::config::OtelConfig;
use tabibu_app::platform::{Config, LogFormat};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How long one export to the collector may take; a slow collector costs spans, not requests.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`init`] started; [`Telemetry::shutdown`] sends the spans still queued.
#[must_use = "call shutdown() before the runtime ends, or queued spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether traces are being sent.
    pub fn traces_enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Sends what is queued and stops the exporter. Call from outside the runtime's threads
    /// (the export itself runs on the runtime given to [`init`]).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(err) = provider.shutdown()
        {
            tracing::warn!(cause = %err, "could not send the last traces");
        }
    }
}

/// Installs the global subscriber (and the trace exporter, whose requests run on `runtime`).
/// Call once, before anything logs.
pub fn init(config: &Config, runtime: &tokio::runtime::Handle) -> Telemetry {
    // Noisy dependencies stay at warn unless asked for explicitly.
    let filter = EnvFilter::try_new(format!(
        "{},sqlx=warn,hyper=warn,opentelemetry=warn,opentelemetry_sdk=warn",
        config.log_level
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let mut failed = None;
    let (provider, traces) = match &config.otel {
        Some(otel) => match tracer_provider(otel, runtime) {
            Ok(provider) => {
                let tracer = provider.tracer("tabibu");
                let layer = tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_location(false)
                    .with_threads(false)
                    .with_tracked_inactivity(false);
                (Some(provider), Some(layer))
            }
            Err(err) => {
                // Logged below, once the subscriber is there.
                failed = Some(err);
                (None, None)
            }
        },
        None => (None, None),
    };
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    let result = match config.log_format {
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().compact().with_target(true))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_target(true),
            )
            .try_init(),
    };
    // A subscriber set earlier (tests) is fine: the first one wins.
    let _ = result;
    if let Some(err) = failed {
        tracing::error!(cause = %err, "traces are off: the exporter could not start");
    } else if let Some(otel) = &config.otel {
        tracing::info!(
            endpoint = %otel.traces_url,
            sample_ratio = otel.sample_ratio,
            "sending traces"
        );
    }
    Telemetry { provider }
}

fn tracer_provider(
    otel: &OtelConfig,
    runtime: &tokio::runtime::Handle,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let client = OtlpClient {
        client: reqwest::Client::builder()
            .timeout(EXPORT_TIMEOUT)
            .build()
            .unwrap_or_default(),
        runtime: runtime.clone(),
    };
    let headers = otel
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.expose_secret().to_owned()))
        .collect();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(otel.traces_url.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .with_headers(headers)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(otel.service_name.clone())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            otel.sample_ratio,
        ))))
        .with_resource(resource)
        .build())
}

/// The W3C trace context (`traceparent`, `tracestate`) of an incoming request, for its span's
/// parent: a trace begun at the load balancer or the caller goes on through Tabibu.
pub fn remote_parent(headers: &http::HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers))
}

/// The exporter's HTTP client: the workspace's reqwest, its requests run on the server's
/// runtime (the exporter calls from a thread of its own, outside any runtime).
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        self.runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let mut answer = http::Response::builder().status(response.status().as_u16());
                for (name, value) in response.headers() {
                    answer = answer.header(name.as_str(), value.as_bytes());
                }
                let body = response.bytes().await?;
                Ok(answer.body(body)?)
            })
            .await?
    }
}
