//! Configuration, read once at start from environment variables (and an optional `.env` file,
//! loaded by the binary before this runs).
//!
//! Every variable is documented with its default in `.env.example`. An invalid value is a
//! [`ConfigError`] that names the variable; secret values are never echoed back, and the
//! `Debug` of [`Config`] prints secrets as `[redacted]`.

use crate::public_config::PublicConfig;
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the server runs; production turns on HSTS, JSON logs and secure cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable, coloured; the development default.
    Pretty,
    /// One JSON object a line; the production default.
    Json,
}

/// A setting that could not be used. `Display` is the one line the operator sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// All settings of one running server.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    /// `sqlite://…` or `postgres://…`; may carry a password, hence secret.
    pub database_url: SecretString,
    pub db_max_connections: u32,
    pub site_addr: SocketAddr,
    /// The folder with the built browser assets (`pkg/`) and the public files.
    pub site_root: PathBuf,
    /// A `tracing` filter such as `info` or `info,tabibu=debug`.
    pub log_level: String,
    pub log_format: LogFormat,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    pub emergency_number: String,
    pub other_emergency_numbers: Vec<String>,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let env = match get("TABIBU_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid(
                    "TABIBU_ENV",
                    format!("expected `development` or `production`, got `{other}`"),
                ));
            }
        };
        let database_url = get("DATABASE_URL").unwrap_or_else(|| "sqlite://data/tabibu.db".into());
        DbUrl::check(&database_url)?;
        let log_format = match get("TABIBU_LOG_FORMAT").as_deref() {
            None => match env {
                Environment::Development => LogFormat::Pretty,
                Environment::Production => LogFormat::Json,
            },
            Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(invalid(
                    "TABIBU_LOG_FORMAT",
                    format!("expected `pretty` or `json`, got `{other}`"),
                ));
            }
        };
        let log_level = get("TABIBU_LOG").unwrap_or_else(|| "info".into());
        check_log_filter(&log_level)?;
        let site_addr = match get("LEPTOS_SITE_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
            Some(v) => v.parse().map_err(|_| {
                invalid(
                    "LEPTOS_SITE_ADDR",
                    format!("expected host:port such as 127.0.0.1:3000, got `{v}`"),
                )
            })?,
        };
        let emergency_number = get("TABIBU_EMERGENCY_NUMBER").unwrap_or_else(|| "999".into());
        check_phone_like("TABIBU_EMERGENCY_NUMBER", &emergency_number)?;
        let other_emergency_numbers = match get("TABIBU_OTHER_EMERGENCY_NUMBERS") {
            None => vec!["112".to_owned()],
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(|n| {
                    check_phone_like("TABIBU_OTHER_EMERGENCY_NUMBERS", n).map(|_| n.to_owned())
                })
                .collect::<Result<_, _>>()?,
        };

        Ok(Config {
            env,
            database_url: SecretString::from(database_url),
            db_max_connections: parse_number(
                "TABIBU_DB_MAX_CONNECTIONS",
                get("TABIBU_DB_MAX_CONNECTIONS"),
                10,
                1..=1000,
            )?,
            site_addr,
            site_root: get("LEPTOS_SITE_ROOT")
                .unwrap_or_else(|| "target/site".into())
                .into(),
            log_level,
            log_format,
            shutdown_timeout: Duration::from_secs(parse_number(
                "TABIBU_SHUTDOWN_TIMEOUT_SECS",
                get("TABIBU_SHUTDOWN_TIMEOUT_SECS"),
                30,
                0..=3600,
            )?),
            emergency_number,
            other_emergency_numbers,
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// The database URL with any password replaced, fit for a log line or an error.
    pub fn database_url_redacted(&self) -> String {
        DbUrl::redacted(self.database_url.expose_secret())
    }

    /// The settings the browser may see.
    pub fn public(&self) -> PublicConfig {
        PublicConfig {
            emergency_number: self.emergency_number.clone(),
            other_emergency_numbers: self.other_emergency_numbers.clone(),
        }
    }

    /// A human summary for `tabibu check-config`; secrets appear as `[redacted]`.
    pub fn summary(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TABIBU_ENV", format!("{:?}", self.env).to_lowercase()),
            ("DATABASE_URL", self.database_url_redacted()),
            (
                "TABIBU_DB_MAX_CONNECTIONS",
                self.db_max_connections.to_string(),
            ),
            ("LEPTOS_SITE_ADDR", self.site_addr.to_string()),
            ("LEPTOS_SITE_ROOT", self.site_root.display().to_string()),
            ("TABIBU_LOG", self.log_level.clone()),
            (
                "TABIBU_LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            (
                "TABIBU_SHUTDOWN_TIMEOUT_SECS",
                self.shutdown_timeout.as_secs().to_string(),
            ),
            ("TABIBU_EMERGENCY_NUMBER", self.emergency_number.clone()),
            (
                "TABIBU_OTHER_EMERGENCY_NUMBERS",
                self.other_emergency_numbers.join(","),
            ),
        ]
    }
}

fn invalid(variable: &'static str, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

fn parse_number<T>(
    variable: &'static str,
    value: Option<String>,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let Some(value) = value else {
        return Ok(default);
    };
    match value.parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(n),
        _ => Err(invalid(
            variable,
            format!(
                "expected a whole number from {} to {}, got `{value}`",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn check_phone_like(variable: &'static str, value: &str) -> Result<(), ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 16
        && value.chars().all(|c| c.is_ascii_digit() || c == '+');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            variable,
            format!("expected a phone number of digits (and +), got `{value}`"),
        ))
    }
}

fn check_log_filter(filter: &str) -> Result<(), ConfigError> {
    let levels = ["trace", "debug", "info", "warn", "error", "off"];
    let ok = filter.split(',').all(|directive| {
        let level = directive.rsplit('=').next().unwrap_or_default().trim();
        let target_ok = directive.split('=').next().is_some_and(|t| {
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_:-".contains(c))
        });
        levels.contains(&level.to_ascii_lowercase().as_str()) && target_ok
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "TABIBU_LOG",
            format!(
                "expected a level (trace, debug, info, warn, error) or directives such as \
             `info,tabibu=debug`, got `{filter}`"
            ),
        ))
    }
}

/// Checks and redacts database URLs without echoing a password.
struct DbUrl;

impl DbUrl {
    fn check(url: &str) -> Result<(), ConfigError> {
        if url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://")
        {
            Ok(())
        } else {
            Err(invalid(
                "DATABASE_URL",
                format!(
                    "expected `sqlite://PATH` or `postgres://…`, got `{}`",
                    DbUrl::redacted(url)
                ),
            ))
        }
    }

    fn redacted(url: &str) -> String {
        // scheme://user:password@host → scheme://user:[redacted]@host
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.chars().take(12).collect::<String>() + "…";
        };
        match rest.split_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split(':').next().unwrap_or_default();
                if credentials.contains(':') {
                    format!("{scheme}://{user}:[redacted]@{host}")
                } else {
                    format!("{scheme}://{user}@{host}")
                }
            }
            None => url.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_run_locally_on_sqlite() {
        let config = config_from(&[]).unwrap();
        assert_eq!(config.env, Environment::Development);
        assert_eq!(
            config.database_url.expose_secret(),
            "sqlite://data/tabibu.db"
        );
        assert_eq!(config.site_addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.emergency_number, "999");
        assert_eq!(config.other_emergency_numbers, vec!["112"]);
    }

    #[test]
    fn production_logs_json_by_default() {
        let config = config_from(&[("TABIBU_ENV", "production")]).unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(config.is_production());
    }

    #[test]
    fn an_invalid_value_names_its_variable() {
        for (var, value) in [
            ("TABIBU_ENV", "prod"),
            ("TABIBU_LOG_FORMAT", "xml"),
            ("LEPTOS_SITE_ADDR", "localhost"),
            ("DATABASE_URL", "mysql://x"),
            ("TABIBU_SHUTDOWN_TIMEOUT_SECS", "-1"),
            ("TABIBU_DB_MAX_CONNECTIONS", "0"),
            ("TABIBU_EMERGENCY_NUMBER", "call 999"),
            ("TABIBU_LOG", "loud"),
        ] {
            let err = config_from(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn a_database_password_is_never_shown() {
        let config =
            config_from(&[("DATABASE_URL", "postgres://tabibu:s3cret@db:5432/tabibu")]).unwrap();
        assert_eq!(
            config.database_url_redacted(),
            "postgres://tabibu:[redacted]@db:5432/tabibu"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(!format!("{:?}", config.summary()).contains("s3cret"));
        let err = config_from(&[("DATABASE_URL", "mysql://root:s3cret@db/x")]).unwrap_err();
        assert!(!err.to_string().contains("s3cret"));
    }
}
