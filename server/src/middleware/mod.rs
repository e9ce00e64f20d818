//! Middleware wrapped around every response, whatever produced it (page, static file, server
//! function, error, 404): security headers with a per-request CSP nonce, request ids, and
//! the request span.

pub mod auth;
pub mod client_ip;
pub mod csrf;
pub mod metrics;
pub mod page_deadline;
pub mod rate_limit;
pub mod request_id;
pub mod security_headers;
pub mod trace;

pub use request_id::RequestId;
pub use security_headers::CspNonce;
