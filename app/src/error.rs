//! The error every server function returns, shared by both halves.
//!
//! What crosses the wire is a stable, safe message key and, for failures we did not foresee,
//! the request id the operator can find in the log. Never put a cause, a SQL error, a path or
//! any personal data in here: the cause goes to the log on the server (see
//! `platform::error`), the client only learns what it can act on.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A validation failure of one field: the field's name and a message key the page translates.
pub type FieldErrors = BTreeMap<String, String>;

/// Everything a server function can tell its caller about a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppError {
    /// 401: the caller is not signed in (or the session has ended).
    #[error("sign in to continue")]
    Unauthenticated,
    /// 403: the caller is signed in but this is not theirs to see or do.
    #[error("you do not have access to this")]
    Forbidden,
    /// 403: staff must turn on two-factor sign-in before anything else.
    #[error("turn on two-factor sign-in to continue")]
    MfaSetupRequired,
    /// 404: nothing there, or nothing the caller may know exists.
    #[error("not found")]
    NotFound,
    /// 422: the input was wrong; one message key per field.
    #[error("please correct the highlighted fields")]
    Validation { fields: FieldErrors },
    /// 409: the request clashes with the current state (e.g. already claimed).
    #[error("this changed in the meantime")]
    Conflict { code: String },
    /// 429: too many attempts; try again after this many seconds.
    #[error("too many attempts, try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// 503: a dependency (the database) is not answering right now.
    #[error("the service is busy, please try again shortly")]
    Unavailable,
    /// 500: something we did not foresee; the operator finds the cause by this id.
    #[error("something went wrong on our side")]
    Internal { request_id: Option<String> },
    /// The request never reached the server or its answer could not be read.
    #[error("could not reach the server")]
    Transport,
}

impl AppError {
    /// A one-field validation error.
    pub fn invalid(field: &str, message_key: &str) -> Self {
        let mut fields = FieldErrors::new();
        fields.insert(field.to_owned(), message_key.to_owned());
        AppError::Validation { fields }
    }

    /// The HTTP status this error is answered with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthenticated => 401,
            AppError::Forbidden | AppError::MfaSetupRequired => 403,
            AppError::NotFound => 404,
            AppError::Validation { .. } => 422,
            AppError::Conflict { .. } => 409,
            AppError::RateLimited { .. } => 429,
            AppError::Unavailable => 503,
            AppError::Internal { .. } => 500,
            AppError::Transport => 400,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Bad arguments are the caller's fault; the parser's text may echo input, so it is
            // dropped here rather than sent back.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError::invalid("request", "error.bad_request")
            }
            ServerFnErrorErr::Request(_) | ServerFnErrorErr::Deserialization(_) => {
                AppError::Transport
            }
            _ => AppError::Internal { request_id: None },
        }
    }
}
