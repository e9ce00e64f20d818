//! `GET /api/records/fhir`: the caller's whole record as a FHIR R4 bundle, as a file
//! download. Only a signed-in patient gets their own record: the access table
//! (`crate::access::ENDPOINTS`) refuses everyone else before this runs, and the handler checks
//! again, so it stays safe if mounted without the middleware.

use crate::access::{self, PATIENT};
use crate::accounts::session::RequestAuth;
use crate::error::AppError;
use crate::platform::AppState;
use crate::platform::error::{endpoint_internal_error, error_response};
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn download(
    State(state): State<AppState>,
    auth: Option<Extension<RequestAuth>>,
    request_headers: HeaderMap,
) -> Response {
    let user = auth.and_then(|Extension(RequestAuth(user))| user);
    if let Err(refusal) = access::check(PATIENT, user.as_ref()) {
        return error_response(&refusal);
    }
    let Some(user) = user else {
        return error_response(&AppError::Unauthenticated);
    };
    let bundle = match super::service::export_own(&state, &user).await {
        Ok(bundle) => bundle,
        Err(err) => return endpoint_internal_error("records.fhir", &err, &request_headers),
    };
    let body = match serde_json::to_vec_pretty(&bundle) {
        Ok(body) => body,
        Err(err) => return endpoint_internal_error("records.fhir", &err, &request_headers),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+json"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"tabibu-record.fhir.json\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
