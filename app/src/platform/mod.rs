//! Server-only plumbing that every feature's server functions stand on: configuration, the
//! database, the shared state and the mapping of internal failures to safe client errors.
//!
//! Compiled only with the `ssr` feature; nothing here may ever reach the browser bundle.

pub mod client;
pub mod config;
pub mod db;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod rate_limit;
pub mod settings;
pub mod state;

pub use config::{Config, ConfigError, Environment, LogFormat};
pub use db::{Db, DbError, DbKind};
pub use error::{internal_error, reject};
pub use state::{AppState, app_state};
