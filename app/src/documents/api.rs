//! The documents' server functions: a patient lists their documents, reads their lab values
//! and deletes a document, only ever their own. Uploading and reading files are plain
//! endpoints (`http.rs`), because their bodies are files, not arguments.

use super::types::{DocumentList, LabResult};
use crate::error::AppError;
use leptos::prelude::*;

/// The caller's documents, newest first, with their lab-value counts and the upload limit.
#[server(prefix = "/api", endpoint = "documents/list")]
pub async fn list_documents() -> Result<DocumentList, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    super::service::list_own(&state, &user)
        .await
        .map_err(|e| internal_error("documents.list", &e))
}

/// The caller's lab values across all their documents.
#[server(prefix = "/api", endpoint = "documents/labs")]
pub async fn lab_results() -> Result<Vec<LabResult>, AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    super::service::labs_own(&state, &user)
        .await
        .map_err(|e| internal_error("documents.labs", &e))
}

/// Deletes one of the caller's documents, its file and its lab values. Another patient's
/// document (or none) is "not found", so that whether it exists does not leak.
#[server(prefix = "/api", endpoint = "documents/delete")]
pub async fn delete_document(id: String) -> Result<(), AppError> {
    use crate::access::{self, PATIENT};
    use crate::platform::{app_state, internal_error, reject};
    let user = access::require(PATIENT)?;
    let state = app_state()?;
    match super::service::delete_own(&state, &user, &id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(reject(AppError::NotFound)),
        Err(e) => Err(internal_error("documents.delete", &e)),
    }
}
