//! The state every request handler and server function shares.

use super::keys::DataKey;
use super::rate_limit::RateLimiter;
use super::{Config, Db};
use crate::error::AppError;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::use_context;
use std::sync::Arc;

/// Cheap to clone: everything inside is shared.
#[derive(Debug, Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub leptos_options: LeptosOptions,
    /// Request counters for rate limits (per instance).
    pub limiter: Arc<RateLimiter>,
    /// Where document blobs are kept: the local folder or the S3 client, built once.
    pub documents: crate::documents::storage::Store,
    /// The key that seals documents and secrets stored in the database.
    pub data_key: Arc<DataKey>,
    /// The key being rotated away from: still opens what it sealed until `tabibu rotate-key`
    /// has sealed everything again under `data_key`.
    pub previous_key: Option<Arc<DataKey>>,
    /// The built-in triage engine with its validated knowledge base.
    pub triage: Arc<tabibu_ai::Engine>,
    /// The external model, when one is configured (`TABIBU_AI_PROVIDER`); used only for
    /// patients who consented, and never to lower the engine's level.
    pub ai_provider: Option<AiProvider>,
    /// Live events: written with the changes they describe, fanned out to open streams.
    pub events: Arc<crate::events::hub::EventHub>,
    /// Request counts and timings for `GET /metrics`.
    pub metrics: Arc<super::metrics::Metrics>,
    /// M-Pesa: the Daraja client (or the simulator) and the payment settings.
    pub payments: Arc<crate::payments::service::Payments>,
    /// The email provider and the wake-up of this process's outbox worker: call
    /// `mailer.wake()` after committing a transaction that queued an email.
    pub mailer: Arc<crate::notifications::delivery::Mailer>,
}

/// A configured model provider, shared by every request.
#[derive(Clone)]
pub struct AiProvider(pub Arc<dyn tabibu_ai::providers::ModelProvider>);

impl std::fmt::Debug for AiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AiProvider({} {})", self.0.name(), self.0.model())
    }
}

impl AppState {
    /// The key stored under `id`: the current one or the one being rotated away from.
    pub fn key_for(&self, id: &str) -> Option<&DataKey> {
        if self.data_key.id == id {
            return Some(&self.data_key);
        }
        self.previous_key.as_deref().filter(|k| k.id == id)
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// The state, from inside a server function or a page rendered on the server.
pub fn app_state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("AppState missing from the Leptos context");
        AppError::Internal { request_id: None }
    })
}
