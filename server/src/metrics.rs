//! `GET /metrics`: the Prometheus scrape. Open to `TABIBU_METRICS_ALLOWED_IPS` (this machine by
//! default) and to anyone presenting `Authorization: Bearer <TABIBU_METRICS_TOKEN>`; everyone
//! else gets a plain 404, as if there were nothing here.

use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use sqlx::Row;
use subtle::ConstantTimeEq;
use tabibu_app::platform::AppState;
use tabibu_app::platform::client::ClientIp;
use tabibu_app::platform::metrics::{Snapshot, resident_bytes};

pub async fn scrape(
    State(state): State<AppState>,
    ip: Option<Extension<ClientIp>>,
    headers: HeaderMap,
) -> Response {
    if !allowed(&state, ip.map(|Extension(ClientIp(ip))| ip), &headers) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let snapshot = match snapshot(&state).await {
        Ok(snapshot) => snapshot,
        Err(err) => {
            tracing::warn!(cause = %err, "metrics: the database did not answer");
            // The process's own figures still help when the database is the problem.
            Snapshot {
                event_streams: state.events.listeners(),
                resident_bytes: resident_bytes(),
                ..Snapshot::default()
            }
        }
    };
    let mut response = (StatusCode::OK, state.metrics.render(&snapshot)).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn allowed(state: &AppState, ip: Option<std::net::IpAddr>, headers: &HeaderMap) -> bool {
    let config = &state.config;
    if ip.is_some_and(|ip| config.metrics_allowed.iter().any(|net| net.contains(&ip))) {
        return true;
    }
    let Some(token) = &config.metrics_token else {
        return false;
    };
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.expose_secret().as_bytes())))
}

async fn counts(state: &AppState, sql: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    Ok(sqlx::query(sql)
        .fetch_all(state.db.pool())
        .await?
        .iter()
        .filter_map(|r| {
            Some((
                r.try_get::<String, _>(0).ok()?,
                r.try_get::<i64, _>(1).ok()?,
            ))
        })
        .collect())
}

async fn snapshot(state: &AppState) -> Result<Snapshot, sqlx::Error> {
    Ok(Snapshot {
        event_streams: state.events.listeners(),
        consultations: counts(
            state,
            "SELECT status, CAST(COUNT(*) AS BIGINT) FROM consultations \
             WHERE status IN ('awaiting_payment', 'waiting', 'claimed', 'replied') GROUP BY status",
        )
        .await?,
        queue_by_level: counts(
            state,
            "SELECT triage_level, CAST(COUNT(*) AS BIGINT) FROM consultations \
             WHERE status = 'waiting' GROUP BY triage_level",
        )
        .await?,
        outbox: counts(
            state,
            "SELECT status, CAST(COUNT(*) AS BIGINT) FROM email_outbox GROUP BY status",
        )
        .await?,
        payments: counts(
            state,
            "SELECT state, CAST(COUNT(*) AS BIGINT) FROM payments GROUP BY state",
        )
        .await?,
        db_connections: state.db.pool().size(),
        db_idle: u32::try_from(state.db.pool().num_idle()).unwrap_or(u32::MAX),
        resident_bytes: resident_bytes(),
    })
}
