//! The triage service: one place where a patient's words meet the engine and, with their
//! consent, the external model.
//!
//! The built-in engine always runs first and its level is the floor (`tabibu_ai::assistant`
//! and `guard` enforce that). The external provider is used only when one is configured AND
//! the patient has consented to it; the text it gets is redacted of names, phone numbers,
//! emails and ID numbers first. Usage (provider, model, tokens, latency, outcome) is recorded
//! without content. Nothing here fails: a database error while checking consent means "no
//! consent", and the built-in answer stands.

use super::store;
use crate::platform::AppState;
use crate::platform::state::AiProvider;
use tabibu_ai::PatientContext;
use tabibu_ai::assistant::{self, Assessment};

/// The version of the consent text a patient agrees to before their words go to a model.
pub const CONSENT_VERSION: &str = "2026-12-v1";

/// Assesses `text` for the patient `user_id`; `known_names` (from their profile) are removed
/// before anything leaves the server.
pub async fn assess_for(
    state: &AppState,
    user_id: &str,
    text: &str,
    context: &PatientContext,
    known_names: &[&str],
) -> Assessment {
    let provider = consented_provider(state, user_id).await;
    let provider = provider.as_ref().map(|p| p.0.as_ref());
    let assessment = assistant::assess(&state.triage, provider, text, context, known_names).await;
    if let Some(usage) = &assessment.usage
        && let Err(err) = store::record_usage(&state.db, usage, Some(user_id)).await
    {
        tracing::warn!(cause = %err, "could not record model usage");
    }
    assessment
}

/// The configured external provider, when `user_id` has consented to it; `None` otherwise
/// (and when checking consent fails: the built-in engine alone then answers).
pub async fn consented_provider(state: &AppState, user_id: &str) -> Option<AiProvider> {
    let provider = state.ai_provider.as_ref()?;
    match store::has_consent(&state.db, user_id, provider.0.name()).await {
        Ok(true) => Some(provider.clone()),
        Ok(false) => None,
        Err(err) => {
            tracing::warn!(cause = %err, "consent check failed; using the built-in engine only");
            None
        }
    }
}
