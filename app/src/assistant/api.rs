//! The assistant's server functions: a patient lists and reads their own conversations and
//! consents to an external model. Sending a message is the streaming endpoint in `http.rs`.

use super::types::{Conversation, Overview};
use crate::error::AppError;
use leptos::prelude::*;

/// The caller's conversations, newest first, and whether consent must be asked.
#[server(prefix = "/api", endpoint = "assistant/conversations")]
pub async fn conversations() -> Result<Overview, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    let conversations = super::service::list_own(&state.db, &user)
        .await
        .map_err(|e| internal_error("assistant.list", &e))?;
    let consent_needed = super::service::consent_needed(&state, &user.user_id)
        .await
        .map_err(|e| internal_error("assistant.consent_needed", &e))?;
    Ok(Overview {
        conversations,
        consent_needed,
    })
}

/// One of the caller's conversations with its messages; 404 for anyone else's.
#[server(prefix = "/api", endpoint = "assistant/conversation")]
pub async fn get_conversation(id: String) -> Result<Conversation, AppError> {
    use super::service::AssistantError;
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    if !super::types::valid_client_id(&id) {
        return Err(reject(AppError::NotFound));
    }
    match super::service::read_own(&state.db, &user, &id).await {
        Ok(conversation) => Ok(conversation),
        Err(AssistantError::NotFound) => Err(reject(AppError::NotFound)),
        Err(e) => Err(internal_error("assistant.read", &e)),
    }
}

/// Records the caller's consent to the configured external model.
#[server(prefix = "/api", endpoint = "assistant/consent")]
pub async fn consent() -> Result<(), AppError> {
    use super::service::AssistantError;
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    match super::service::give_consent(&state, &user).await {
        Ok(()) => Ok(()),
        Err(AssistantError::NoProvider) => Err(reject(AppError::Conflict {
            code: "assistant.no_provider".into(),
        })),
        Err(e) => Err(internal_error("assistant.consent", &e)),
    }
}
