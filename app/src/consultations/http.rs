//! `GET /api/cases/{id}/documents/{document_id}`: a document the patient shared with a
//! consultation, streamed to the doctor reading the case (its doctor, or one holding a
//! break-glass grant). Everyone else gets 404, so nobody learns what exists. `?download=1`
//! asks for an attachment.

use crate::access::{self, DOCTOR};
use crate::accounts::session::RequestAuth;
use crate::documents::http::{ViewQuery, file_response};
use crate::error::AppError;
use crate::platform::AppState;
use crate::platform::error::{endpoint_internal_error, error_response};
use axum::extract::{Extension, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

pub async fn case_document(
    State(state): State<AppState>,
    auth: Option<Extension<RequestAuth>>,
    Path((id, document_id)): Path<(String, String)>,
    Query(query): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let user = auth.and_then(|Extension(RequestAuth(user))| user);
    if let Err(refusal) = access::check(DOCTOR, user.as_ref()) {
        return error_response(&refusal);
    }
    let Some(user) = user else {
        return error_response(&AppError::Unauthenticated);
    };
    let (Ok(id), Ok(document_id)) = (super::validate::id(&id), super::validate::id(&document_id))
    else {
        return error_response(&AppError::NotFound);
    };
    match super::service::open_case_document(&state, &user, &id, &document_id).await {
        Ok(document) => file_response(document, query.wants_download()),
        Err(super::service::ConsultError::NotFound) => error_response(&AppError::NotFound),
        Err(err) => endpoint_internal_error("consultations.case_document", &err, &headers),
    }
}
