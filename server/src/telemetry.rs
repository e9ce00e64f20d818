//! Log output: pretty for people in development, JSON for machines in production.
//!
//! What may appear in a log line is decided where the line is written: ids, counts, routes,
//! durations, error causes that name operations. Never a name, symptom, message, document,
//! phone number, email address, token or password.

use tabibu_app::platform::{Config, LogFormat};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(config: &Config) {
    // Noisy dependencies stay at warn unless asked for explicitly.
    let filter = EnvFilter::try_new(format!("{},sqlx=warn,hyper=warn", config.log_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    let result = match config.log_format {
        LogFormat::Pretty => builder.compact().try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    // A subscriber set earlier (tests) is fine: the first one wins.
    let _ = result;
}
