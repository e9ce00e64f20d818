//! The documents' plain HTTP endpoints (file bodies are not server-function arguments):
//!
//! - `POST /api/documents`: the body is the file's raw bytes (no multipart), streamed; the
//!   file's name travels in the `x-filename` header, percent-encoded UTF-8 (JavaScript's
//!   `encodeURIComponent`). One file per request. Answers 201 with the new document's summary
//!   (JSON), or an `AppError` body: 413 (`documents.too_large`) over `TABIBU_MAX_UPLOAD_MB`,
//!   415 (`documents.unsupported_type`, `documents.unreadable_image`,
//!   `documents.image_too_large`) when the content is not an accepted file, 422
//!   (`documents.empty`) for an empty body, 507 (`documents.storage_full`) when the disk is
//!   full (nothing is kept; the operator is told in the log).
//! - `GET /api/documents/{id}`: the file, decrypted as it is sent, `inline`; with
//!   `?download=1` as an attachment.
//!
//! Both are in `crate::access::ENDPOINTS` (patients only) and pass the CSRF and auth
//! middleware like every other request; the handlers check the caller again and the service
//! checks ownership. Nothing here logs a filename or content.

use super::service::{self, UploadError};
use super::types::{FILENAME_HEADER, decode_filename, encode_filename};
use crate::access::{self, PATIENT};
use crate::accounts::session::{AuthUser, RequestAuth};
use crate::error::AppError;
use crate::platform::AppState;
use crate::platform::client::ClientIp;
use crate::platform::error::{endpoint_internal_error, error_response};
use axum::body::{Body, Bytes};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// Marks a response that our own pages may show in a frame (an inline PDF): the security
/// headers middleware then sends `frame-ancestors 'self'` instead of `'none'` for it alone.
#[derive(Debug, Clone, Copy)]
pub struct SameOriginFraming;

fn caller(auth: Option<Extension<RequestAuth>>) -> Result<AuthUser, AppError> {
    let user = auth.and_then(|Extension(RequestAuth(user))| user);
    access::check(PATIENT, user.as_ref())?;
    user.ok_or(AppError::Unauthenticated)
}

fn refusal(status: StatusCode, key: &str) -> Response {
    let mut response = error_response(&AppError::invalid("file", key));
    *response.status_mut() = status;
    response
}

/// A refused upload may be answered before its body has been read to the end. The server then
/// closes the connection, and an HTTP/1.1 answer says so (`Connection: close`): a client that
/// put the connection back in its pool would otherwise send its next request into a socket
/// about to close, and lose that request. HTTP/2 ends the one stream instead.
fn close_if_refused(mut response: Response, version: Version) -> Response {
    if !response.status().is_success() && version < Version::HTTP_2 {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

pub async fn upload(
    State(state): State<AppState>,
    auth: Option<Extension<RequestAuth>>,
    ip: Option<Extension<ClientIp>>,
    version: Version,
    headers: HeaderMap,
    body: Body,
) -> Response {
    close_if_refused(store_upload(state, auth, ip, &headers, body).await, version)
}

async fn store_upload(
    state: AppState,
    auth: Option<Extension<RequestAuth>>,
    ip: Option<Extension<ClientIp>>,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let user = match caller(auth) {
        Ok(user) => user,
        Err(refusal) => return error_response(&refusal),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let ip = ip.map(|Extension(ClientIp(ip))| ip);
    if declared.is_some_and(|n| n > state.config.max_upload_bytes) {
        if let Err(err) = service::audit_refused(&state.db, &user, ip, "too_large").await {
            tracing::error!(cause = %err, "could not audit a refused upload");
        }
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "documents.too_large");
    }
    let name = headers
        .get(FILENAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(decode_filename)
        .unwrap_or_default();
    let result = service::upload(&state, &user, ip, &name, body.into_data_stream()).await;
    if let Err(refused) = &result
        && let Some(code) = refused.audit_code()
        && let Err(err) = service::audit_refused(&state.db, &user, ip, code).await
    {
        tracing::error!(cause = %err, "could not audit a refused upload");
    }
    match result {
        Ok(document) => (StatusCode::CREATED, axum::Json(document)).into_response(),
        Err(UploadError::TooLarge) => refusal(StatusCode::PAYLOAD_TOO_LARGE, "documents.too_large"),
        Err(UploadError::Empty) => refusal(StatusCode::UNPROCESSABLE_ENTITY, "documents.empty"),
        Err(UploadError::Refused(why)) => {
            refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, why.message_key())
        }
        Err(UploadError::Interrupted) => refusal(StatusCode::BAD_REQUEST, "documents.interrupted"),
        Err(UploadError::StorageFull) => {
            tracing::error!("document storage is full; an upload was refused");
            refusal(StatusCode::INSUFFICIENT_STORAGE, "documents.storage_full")
        }
        Err(UploadError::Internal(err)) => {
            endpoint_internal_error("documents.upload", &err, headers)
        }
    }
}

/// `?download=1` asks for an attachment instead of an inline view.
#[derive(Debug, Deserialize)]
pub struct ViewQuery {
    download: Option<String>,
}

impl ViewQuery {
    /// Whether an attachment was asked for rather than an inline view.
    pub fn wants_download(&self) -> bool {
        matches!(self.download.as_deref(), Some("1" | "true"))
    }
}

/// `Content-Disposition` with an ASCII fallback name and the real one as RFC 5987 UTF-8.
fn disposition(kind: &str, filename: &str) -> Option<HeaderValue> {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
        encode_filename(filename)
    ))
    .ok()
}

pub async fn view(
    State(state): State<AppState>,
    auth: Option<Extension<RequestAuth>>,
    ip: Option<Extension<ClientIp>>,
    Path(id): Path<String>,
    Query(query): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let user = match caller(auth) {
        Ok(user) => user,
        Err(refusal) => return error_response(&refusal),
    };
    let download = query.wants_download();
    let ip = ip.map(|Extension(ClientIp(ip))| ip);
    let document = match service::open_own(&state, &user, ip, &id, download).await {
        Ok(Some(document)) => document,
        Ok(None) => return error_response(&AppError::NotFound),
        Err(err) => return endpoint_internal_error("documents.view", &err, &headers),
    };
    file_response(document, download)
}

/// The answer that streams `document` to the client, decrypting chunk by chunk: `inline`, or
/// as an attachment when `download`. For any endpoint that has checked the reader may see the
/// document and audited the read (the patient's own view here; a doctor's case view later).
pub fn file_response(document: service::OpenDocument, download: bool) -> Response {
    let is_pdf = document.content_type == "application/pdf";
    let content_type = HeaderValue::from_str(&document.content_type).ok();
    let kind = if download { "attachment" } else { "inline" };
    let disposition = disposition(kind, &document.filename);
    let length = document.size_bytes;
    let body = Body::from_stream(futures_util::stream::unfold(
        document.opener,
        |mut opener| async move {
            match opener.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(Bytes::from(chunk)), opener)),
                Ok(None) => None,
                Err(err) => {
                    // The response is cut short, so the client sees an incomplete file
                    // rather than a wrong one.
                    tracing::error!(cause = %err, "a stored document could not be decrypted");
                    Some((Err(err), opener))
                }
            }
        },
    ));
    let mut response = (StatusCode::OK, body).into_response();
    let out = response.headers_mut();
    if let Some(value) = content_type {
        out.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = disposition {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    if is_pdf && !download {
        response.extensions_mut().insert(SameOriginFraming);
    }
    response
}
