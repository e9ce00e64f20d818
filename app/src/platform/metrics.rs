//! Counters and timings for `GET /metrics`, in Prometheus' text format (version 0.0.4).
//!
//! Kept in the process, without a metrics library: request counts and latency by route, the
//! AI provider's calls, and at scrape time figures read from the database (the queue, the
//! email outbox, payments) and from the process (open event streams, memory). Labels come from
//! fixed sets only (the routes of the access table, methods, status codes, provider names,
//! states), so no person's data can become a label and the series cannot multiply without
//! bound.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// A latency histogram: a count per bucket, the sum and the count.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, slot) in BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *slot += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, count) in BUCKETS.iter().zip(self.buckets.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

type RouteKey = (&'static str, &'static str);

#[derive(Debug, Default)]
struct Inner {
    requests: HashMap<(&'static str, &'static str, u16), u64>,
    latency: HashMap<RouteKey, Histogram>,
    ai_calls: HashMap<(&'static str, &'static str), u64>,
    ai_latency: HashMap<&'static str, Histogram>,
}

/// The process's metrics. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// Figures read at scrape time, outside this registry.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub event_streams: usize,
    /// Open consultations by status, and waiting ones by triage level.
    pub consultations: Vec<(String, i64)>,
    pub queue_by_level: Vec<(String, i64)>,
    pub outbox: Vec<(String, i64)>,
    pub payments: Vec<(String, i64)>,
    pub db_connections: u32,
    pub db_idle: u32,
    pub resident_bytes: Option<u64>,
}

/// A method as a label: the common ones by name, anything else as `OTHER`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The route a path belongs to, as a label from a fixed set: a server function's path or an
/// endpoint's pattern from the access table, `/pkg/*` for the browser bundle, `/health`,
/// `/ready`, `/metrics`, else `page` (a page render) or `other`.
pub fn route_label(method: &str, path: &str) -> &'static str {
    if let Some((p, _)) = crate::access::RULES.iter().find(|(p, _)| *p == path) {
        return p;
    }
    if let Some(pattern) = crate::access::endpoint_pattern(method, path) {
        return pattern;
    }
    match path {
        "/health" => "/health",
        "/ready" => "/ready",
        "/metrics" => "/metrics",
        p if p.starts_with("/pkg/") => "/pkg/*",
        p if p.starts_with("/api/") => "/api/other",
        p if p.contains('.') => "static",
        _ => "page",
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one answered request.
    pub fn record_request(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        took: Duration,
    ) {
        let mut inner = self.lock();
        *inner.requests.entry((method, route, status)).or_default() += 1;
        inner
            .latency
            .entry((method, route))
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Counts one call of the AI provider `provider` (`ok` or `error`).
    pub fn record_ai_call(&self, provider: &'static str, ok: bool, took: Duration) {
        let mut inner = self.lock();
        let outcome = if ok { "ok" } else { "error" };
        *inner.ai_calls.entry((provider, outcome)).or_default() += 1;
        inner
            .ai_latency
            .entry(provider)
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Everything, in Prometheus' text format.
    pub fn render(&self, snapshot: &Snapshot) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let inner = self.lock();

        out.push_str(
            "# HELP tabibu_http_requests_total HTTP requests answered, by route and status.\n",
        );
        out.push_str("# TYPE tabibu_http_requests_total counter\n");
        let mut requests: Vec<_> = inner.requests.iter().collect();
        requests.sort();
        for ((method, route, status), count) in requests {
            let _ = writeln!(
                out,
                "tabibu_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                escape(route)
            );
        }
        out.push_str("# HELP tabibu_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE tabibu_http_request_duration_seconds histogram\n");
        let mut latency: Vec<_> = inner.latency.iter().collect();
        latency.sort_by_key(|(k, _)| **k);
        for ((method, route), histogram) in latency {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            histogram.render(&mut out, "tabibu_http_request_duration_seconds", &labels);
        }

        out.push_str(
            "# HELP tabibu_ai_provider_calls_total Calls of the external AI model, by outcome.\n",
        );
        out.push_str("# TYPE tabibu_ai_provider_calls_total counter\n");
        let mut calls: Vec<_> = inner.ai_calls.iter().collect();
        calls.sort();
        for ((provider, outcome), count) in calls {
            let _ = writeln!(
                out,
                "tabibu_ai_provider_calls_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {count}"
            );
        }
        out.push_str("# HELP tabibu_ai_provider_duration_seconds Time an AI model call took (to the first streamed part).\n");
        out.push_str("# TYPE tabibu_ai_provider_duration_seconds histogram\n");
        let mut ai: Vec<_> = inner.ai_latency.iter().collect();
        ai.sort_by_key(|(k, _)| **k);
        for (provider, histogram) in ai {
            histogram.render(
                &mut out,
                "tabibu_ai_provider_duration_seconds",
                &format!("provider=\"{provider}\""),
            );
        }
        drop(inner);

        gauge(
            &mut out,
            "tabibu_event_streams",
            "Open live event streams on this instance.",
            &[(
                String::new(),
                i64::try_from(snapshot.event_streams).unwrap_or(i64::MAX),
            )],
            "",
        );
        gauge(
            &mut out,
            "tabibu_consultations_open",
            "Open consultations, by status.",
            &snapshot.consultations,
            "status",
        );
        gauge(
            &mut out,
            "tabibu_queue_depth",
            "Consultations waiting for a doctor, by triage level.",
            &snapshot.queue_by_level,
            "level",
        );
        gauge(
            &mut out,
            "tabibu_outbox_emails",
            "Emails in the outbox, by status (pending and sending are the backlog).",
            &snapshot.outbox,
            "status",
        );
        gauge(
            &mut out,
            "tabibu_payments",
            "Payments, by state.",
            &snapshot.payments,
            "state",
        );
        gauge(
            &mut out,
            "tabibu_db_connections",
            "Database connections of this instance's pool.",
            &[
                ("open".to_owned(), i64::from(snapshot.db_connections)),
                ("idle".to_owned(), i64::from(snapshot.db_idle)),
            ],
            "state",
        );
        if let Some(bytes) = snapshot.resident_bytes {
            gauge(
                &mut out,
                "process_resident_memory_bytes",
                "Resident memory of this process.",
                &[(String::new(), i64::try_from(bytes).unwrap_or(i64::MAX))],
                "",
            );
        }
        out
    }
}

fn gauge(out: &mut String, name: &str, help: &str, values: &[(String, i64)], label: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    for (key, value) in values {
        if label.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {value}", escape(key));
        }
    }
}

/// Escapes a label value as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// This process's resident memory, from `/proc` (Linux); `None` elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// An AI model provider whose calls are counted and timed (a streamed call until the stream
/// starts: what the patient waits for before the first words).
pub struct Measured {
    pub inner: std::sync::Arc<dyn tabibu_ai::providers::ModelProvider>,
    pub metrics: std::sync::Arc<Metrics>,
}

impl tabibu_ai::providers::ModelProvider for Measured {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn model(&self) -> &str {
        self.inner.model()
    }

    fn complete<'a>(
        &'a self,
        request: &'a tabibu_ai::providers::ModelRequest,
    ) -> tabibu_ai::providers::BoxFuture<
        'a,
        Result<tabibu_ai::providers::ModelReply, tabibu_ai::providers::ProviderError>,
    > {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let reply = self.inner.complete(request).await;
            self.metrics
                .record_ai_call(self.inner.name(), reply.is_ok(), started.elapsed());
            reply
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a tabibu_ai::providers::ModelRequest,
    ) -> tabibu_ai::providers::BoxFuture<
        'a,
        Result<tabibu_ai::providers::ReplyStream, tabibu_ai::providers::ProviderError>,
    > {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let reply = self.inner.stream(request).await;
            self.metrics
                .record_ai_call(self.inner.name(), reply.is_ok(), started.elapsed());
            reply
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_come_from_a_fixed_set() {
        assert_eq!(
            route_label("POST", "/api/consultations/request"),
            "/api/consultations/request"
        );
        assert_eq!(
            route_label("GET", "/api/documents/abc123"),
            "/api/documents/{id}"
        );
        assert_eq!(route_label("GET", "/pkg/tabibu_bg.wasm"), "/pkg/*");
        assert_eq!(route_label("GET", "/consultations/0123abcd"), "page");
        assert_eq!(route_label("POST", "/api/made/up/path"), "/api/other");
        assert_eq!(route_label("GET", "/favicon.svg"), "static");
    }

    #[test]
    fn the_text_format_has_counters_histograms_and_gauges() {
        let m = Metrics::new();
        m.record_request("GET", "/health", 200, Duration::from_millis(3));
        m.record_request("GET", "/health", 200, Duration::from_millis(40));
        m.record_ai_call("gemini", false, Duration::from_secs(2));
        let text = m.render(&Snapshot {
            event_streams: 3,
            payments: vec![("paid".into(), 2)],
            ..Snapshot::default()
        });
        assert!(text.contains(
            "tabibu_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2"
        ));
        assert!(text.contains("tabibu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",le=\"0.005\"} 1"));
        assert!(text.contains("tabibu_http_request_duration_seconds_bucket{method=\"GET\",route=\"/health\",le=\"0.05\"} 2"));
        assert!(text.contains(
            "tabibu_http_request_duration_seconds_count{method=\"GET\",route=\"/health\"} 2"
        ));
        assert!(
            text.contains(
                "tabibu_ai_provider_calls_total{provider=\"gemini\",outcome=\"error\"} 1"
            )
        );
        assert!(text.contains("tabibu_event_streams 3"));
        assert!(text.contains("tabibu_payments{state=\"paid\"} 2"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
