//! The Tabibu server: the axum router around the Leptos app, its middleware, the operational
//! endpoints, start-up and graceful shutdown. `main.rs` only parses the command line.
//!
//! [`router`] builds the whole HTTP surface from an [`AppState`], so integration tests drive
//! exactly what production serves (see `tests/support`).

pub mod backup;
pub mod cli;
pub mod health;
pub mod jobs;
pub mod metrics;
pub mod middleware;
pub mod startup;
pub mod telemetry;
pub mod tls;
pub mod triage_cli;

pub use startup::{StartupError, build_state, router, serve};
pub use tabibu_app::platform::AppState;
