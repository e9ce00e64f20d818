//! Configuration, read once at start from environment variables (and an optional `.env` file,
//! loaded by the binary before this runs).
//!
//! Every variable is documented with its default in `.env.example`. An invalid value is a
//! [`ConfigError`] that names the variable; secret values are never echoed back, and the
//! `Debug` of [`Config`] prints secrets as `[redacted]`.

use crate::public_config::PublicConfig;
use ipnet::IpNet;
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

/// The certificate and key Tabibu serves HTTPS with (PEM files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
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
    /// OpenTelemetry traces (`TABIBU_OTEL_*`); `None` sends none.
    pub otel: Option<OtelConfig>,
    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    pub emergency_number: String,
    pub other_emergency_numbers: Vec<String>,
    /// The address people reach Tabibu at, for links in emails (`TABIBU_PUBLIC_URL`).
    pub public_url: String,
    /// A session ends after this long without a request.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, whatever happens.
    pub session_absolute: Duration,
    /// Doctors and admins must turn on two-factor sign-in before they can work.
    pub require_mfa_staff: bool,
    /// Proxies whose `X-Forwarded-For` is believed (`TABIBU_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpNet>,
    /// Requests a second one IP address may make in general (`TABIBU_RATE_LIMIT_PER_SECOND`).
    pub rate_limit_per_second: u32,
    /// Requests a second one IP address may make to `/api/` (`TABIBU_RATE_LIMIT_API_PER_SECOND`).
    pub rate_limit_api_per_second: u32,
    /// Other sites whose pages may call Tabibu's API with the user's cookies
    /// (`TABIBU_CORS_ORIGINS`); empty: none, only Tabibu's own pages.
    pub cors_origins: Vec<String>,
    /// Sign-in attempts a minute, per IP address and per account.
    pub sign_in_attempts_per_minute: u32,
    /// The data-encryption key, base64 (`TABIBU_DATA_KEY`); see `platform::keys`.
    pub data_key: Option<SecretString>,
    /// The name of that key (`TABIBU_DATA_KEY_ID`), stored beside what it seals.
    pub data_key_id: String,
    /// The key being rotated away from (`TABIBU_DATA_KEY_PREVIOUS`, base64), still read until
    /// `tabibu rotate-key` has sealed everything again under the current one.
    pub data_key_previous: Option<SecretString>,
    /// Its name (`TABIBU_DATA_KEY_PREVIOUS_ID`), as stored beside what it sealed.
    pub data_key_previous_id: Option<String>,
    /// A folder of knowledge-base TOML files replacing the built-in ones
    /// (`TABIBU_KNOWLEDGE_DIR`); checked at start.
    pub knowledge_dir: Option<PathBuf>,
    /// Which AI model provider (if any) adds conversation and summaries (`TABIBU_AI_*`).
    pub ai: tabibu_ai::providers::AiConfig,
    /// The largest document a patient may upload, in bytes (`TABIBU_MAX_UPLOAD_MB`).
    pub max_upload_bytes: u64,
    /// Where document files are kept (`TABIBU_DOCUMENTS_DIR`); see [`Config::documents_dir`].
    pub documents_folder: Option<PathBuf>,
    /// The local folder or an S3-compatible bucket (`TABIBU_DOCUMENTS_STORE`, `TABIBU_S3_*`).
    pub documents_store: crate::documents::s3::StoreConfig,
    /// HTTPS on `LEPTOS_SITE_ADDR` (`TABIBU_TLS_CERT`, `TABIBU_TLS_KEY`); `None`: plain HTTP
    /// (behind a proxy that terminates TLS, or in development).
    pub tls: Option<TlsFiles>,
    /// How often the certificate files are checked for a renewal (`TABIBU_TLS_RELOAD_SECS`).
    pub tls_reload: Duration,
    /// A plain-HTTP listener that redirects to HTTPS and serves ACME challenges
    /// (`TABIBU_HTTP_REDIRECT_ADDR`, e.g. `0.0.0.0:80`).
    pub http_redirect_addr: Option<SocketAddr>,
    /// certbot's webroot, for HTTP-01 challenges on that listener (`TABIBU_ACME_DIR`).
    pub acme_dir: Option<PathBuf>,
    /// A bearer token that opens `GET /metrics` from anywhere (`TABIBU_METRICS_TOKEN`).
    pub metrics_token: Option<SecretString>,
    /// Addresses that may read `GET /metrics` without the token (`TABIBU_METRICS_ALLOWED_IPS`;
    /// default: this machine only).
    pub metrics_allowed: Vec<IpNet>,
    /// How often each instance looks for live events written by others
    /// (`TABIBU_EVENTS_POLL_MS`); on PostgreSQL they also arrive at once by `NOTIFY`.
    pub events_poll: Duration,
    /// Consultation fees and M-Pesa (`TABIBU_CONSULTATION_FEE_KES`, `TABIBU_PAYMENTS_PROVIDER`,
    /// `TABIBU_MPESA_*`).
    pub payments: crate::payments::config::PaymentsConfig,
    /// How emails leave the server (`TABIBU_EMAIL_*`, `TABIBU_SENDGRID_*`, `TABIBU_SMTP_*`).
    pub email: crate::notifications::config::EmailConfig,
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
        let otel = OtelConfig::from_lookup(&get)?;
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

        let public_url = get("TABIBU_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{site_addr}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(invalid(
                "TABIBU_PUBLIC_URL",
                format!(
                    "expected an address starting with https:// or http://, got `{public_url}`"
                ),
            ));
        }
        let require_mfa_staff = match get("TABIBU_REQUIRE_MFA_STAFF").as_deref() {
            None => env == Environment::Production,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(invalid(
                    "TABIBU_REQUIRE_MFA_STAFF",
                    format!("expected `true` or `false`, got `{other}`"),
                ));
            }
        };
        let trusted_proxies = match get("TABIBU_TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => ip_ranges("TABIBU_TRUSTED_PROXIES", &list)?,
        };
        let metrics_allowed = match get("TABIBU_METRICS_ALLOWED_IPS") {
            None => ip_ranges("TABIBU_METRICS_ALLOWED_IPS", "127.0.0.1,::1")?,
            Some(list) => ip_ranges("TABIBU_METRICS_ALLOWED_IPS", &list)?,
        };
        let metrics_token = get("TABIBU_METRICS_TOKEN").map(SecretString::from);
        let tls = match (get("TABIBU_TLS_CERT"), get("TABIBU_TLS_KEY")) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (Some(_), None) => {
                return Err(invalid(
                    "TABIBU_TLS_KEY",
                    "needed with TABIBU_TLS_CERT (the certificate's private key, PEM)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "TABIBU_TLS_CERT",
                    "needed with TABIBU_TLS_KEY (the certificate chain, PEM)".into(),
                ));
            }
        };
        let http_redirect_addr = match get("TABIBU_HTTP_REDIRECT_ADDR") {
            None => None,
            Some(v) => Some(v.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "TABIBU_HTTP_REDIRECT_ADDR",
                    format!("expected host:port such as 0.0.0.0:80, got `{v}`"),
                )
            })?),
        };
        if http_redirect_addr.is_some() && !public_url.starts_with("https://") {
            return Err(invalid(
                "TABIBU_HTTP_REDIRECT_ADDR",
                "redirects go to TABIBU_PUBLIC_URL, which must then be an https:// address".into(),
            ));
        }
        let data_key_id = get("TABIBU_DATA_KEY_ID").unwrap_or_else(|| "k1".into());
        let data_key_previous = get("TABIBU_DATA_KEY_PREVIOUS").map(SecretString::from);
        let data_key_previous_id = get("TABIBU_DATA_KEY_PREVIOUS_ID");
        match (&data_key_previous, &data_key_previous_id) {
            (Some(_), None) => {
                return Err(invalid(
                    "TABIBU_DATA_KEY_PREVIOUS_ID",
                    "needed with TABIBU_DATA_KEY_PREVIOUS (the id that key was used under)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "TABIBU_DATA_KEY_PREVIOUS",
                    "needed with TABIBU_DATA_KEY_PREVIOUS_ID".into(),
                ));
            }
            (Some(_), Some(id)) if *id == data_key_id => {
                return Err(invalid(
                    "TABIBU_DATA_KEY_PREVIOUS_ID",
                    "must differ from TABIBU_DATA_KEY_ID: a new key needs a new id".into(),
                ));
            }
            _ => {}
        }
        let cors_origins = match get("TABIBU_CORS_ORIGINS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .map(|o| check_origin(&o).map(|()| o))
                .collect::<Result<_, _>>()?,
        };
        if metrics_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 24)
        {
            return Err(invalid(
                "TABIBU_METRICS_TOKEN",
                "must be at least 24 characters (e.g. `openssl rand -hex 24`)".into(),
            ));
        }

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
            otel,
            shutdown_timeout: Duration::from_secs(parse_number(
                "TABIBU_SHUTDOWN_TIMEOUT_SECS",
                get("TABIBU_SHUTDOWN_TIMEOUT_SECS"),
                30,
                0..=3600,
            )?),
            emergency_number,
            other_emergency_numbers,
            public_url,
            session_idle: Duration::from_secs(
                60 * parse_number(
                    "TABIBU_SESSION_IDLE_MINUTES",
                    get("TABIBU_SESSION_IDLE_MINUTES"),
                    30,
                    1..=1440,
                )?,
            ),
            session_absolute: Duration::from_secs(
                3600 * parse_number(
                    "TABIBU_SESSION_ABSOLUTE_HOURS",
                    get("TABIBU_SESSION_ABSOLUTE_HOURS"),
                    12,
                    1..=720,
                )?,
            ),
            require_mfa_staff,
            trusted_proxies,
            tls,
            tls_reload: Duration::from_secs(parse_number(
                "TABIBU_TLS_RELOAD_SECS",
                get("TABIBU_TLS_RELOAD_SECS"),
                60,
                1..=86_400,
            )?),
            http_redirect_addr,
            acme_dir: get("TABIBU_ACME_DIR").map(PathBuf::from),
            metrics_token,
            metrics_allowed,
            rate_limit_per_second: parse_number(
                "TABIBU_RATE_LIMIT_PER_SECOND",
                get("TABIBU_RATE_LIMIT_PER_SECOND"),
                20,
                1..=100_000,
            )?,
            rate_limit_api_per_second: parse_number(
                "TABIBU_RATE_LIMIT_API_PER_SECOND",
                get("TABIBU_RATE_LIMIT_API_PER_SECOND"),
                20,
                1..=100_000,
            )?,
            cors_origins,
            sign_in_attempts_per_minute: parse_number(
                "TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE",
                get("TABIBU_SIGN_IN_ATTEMPTS_PER_MINUTE"),
                5,
                1..=1000,
            )?,
            data_key: get("TABIBU_DATA_KEY").map(SecretString::from),
            data_key_id: data_key_id.clone(),
            data_key_previous,
            data_key_previous_id,
            knowledge_dir: get("TABIBU_KNOWLEDGE_DIR").map(PathBuf::from),
            ai: tabibu_ai::providers::AiConfig::from_lookup(|name| lookup(name)).map_err(|e| {
                ConfigError {
                    variable: e.variable,
                    problem: e.problem,
                }
            })?,
            max_upload_bytes: 1024
                * 1024
                * parse_number::<u64>(
                    "TABIBU_MAX_UPLOAD_MB",
                    get("TABIBU_MAX_UPLOAD_MB"),
                    20,
                    1..=1024,
                )?,
            documents_folder: get("TABIBU_DOCUMENTS_DIR").map(PathBuf::from),
            documents_store: crate::documents::s3::StoreConfig::from_lookup(get)?,
            events_poll: Duration::from_millis(parse_number(
                "TABIBU_EVENTS_POLL_MS",
                get("TABIBU_EVENTS_POLL_MS"),
                500,
                50..=600_000,
            )?),
            payments: crate::payments::config::PaymentsConfig::from_lookup(
                |name| lookup(name),
                env == Environment::Production,
            )?,
            email: crate::notifications::config::EmailConfig::from_lookup(|name| lookup(name))
                .map_err(|e| ConfigError {
                    variable: e.variable,
                    problem: e.problem,
                })?,
        })
    }

    pub fn is_production(&self) -> bool {
        self.env == Environment::Production
    }

    /// Whether cookies get the `Secure` flag: in production, or whenever the public address is
    /// HTTPS. Plain-HTTP development is the only place they go without it.
    pub fn secure_cookies(&self) -> bool {
        self.is_production() || self.public_url.starts_with("https://")
    }

    /// The folder for local files (the SQLite database's folder, else `data`).
    pub fn data_dir(&self) -> PathBuf {
        let url = self.database_url.expose_secret();
        url.strip_prefix("sqlite://")
            .map(|p| p.split('?').next().unwrap_or_default())
            .and_then(|p| {
                std::path::Path::new(p)
                    .parent()
                    .map(std::path::Path::to_path_buf)
            })
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("data"))
    }

    /// The folder for document files: `TABIBU_DOCUMENTS_DIR`, else `documents/` in the data
    /// folder.
    pub fn documents_dir(&self) -> PathBuf {
        self.documents_folder
            .clone()
            .unwrap_or_else(|| self.data_dir().join("documents"))
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
        let mut summary = vec![
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
                "TABIBU_OTEL_ENDPOINT",
                self.otel
                    .as_ref()
                    .map_or_else(|| "(unset: no traces)".to_owned(), |o| o.traces_url.clone()),
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
            (
                "TABIBU_MAX_UPLOAD_MB",
                (self.max_upload_bytes / (1024 * 1024)).to_string(),
            ),
            (
                "TABIBU_CONSULTATION_FEE_KES",
                self.payments.fee_kes.to_string(),
            ),
            (
                "TABIBU_PAYMENTS_PROVIDER",
                self.payments.provider.name().to_owned(),
            ),
            (
                "TABIBU_MPESA_CALLBACK_URL",
                self.payments.callback_url(&self.public_url),
            ),
        ];
        if matches!(
            self.documents_store,
            crate::documents::s3::StoreConfig::Local
        ) {
            summary.push((
                "TABIBU_DOCUMENTS_DIR",
                self.documents_dir().display().to_string(),
            ));
        }
        summary.extend(self.documents_store.summary());
        summary.extend(self.email_summary());
        summary
    }

    /// The email settings for [`Config::summary`]: the provider, the sender and where mail
    /// goes; the SendGrid key and the SMTP username and password never.
    fn email_summary(&self) -> Vec<(&'static str, String)> {
        use crate::notifications::config::ProviderConfig;
        let email = &self.email;
        let from = match &email.from.name {
            Some(name) => format!("{name} <{}>", email.from.address),
            None => email.from.address.clone(),
        };
        let mut lines = vec![
            ("TABIBU_EMAIL_PROVIDER", email.provider.name().to_owned()),
            ("TABIBU_EMAIL_FROM", from),
            (
                "TABIBU_EMAIL_TIMEOUT_SECS",
                email.timeout.as_secs().to_string(),
            ),
        ];
        match &email.provider {
            ProviderConfig::Log => {}
            ProviderConfig::SendGrid(sendgrid) => {
                lines.push(("TABIBU_SENDGRID_API_KEY", "[redacted]".to_owned()));
                lines.push(("TABIBU_SENDGRID_BASE_URL", sendgrid.base_url.clone()));
            }
            ProviderConfig::Smtp(smtp) => {
                lines.push(("TABIBU_SMTP_HOST", smtp.host.clone()));
                lines.push(("TABIBU_SMTP_PORT", smtp.port.to_string()));
                lines.push(("TABIBU_SMTP_TLS", smtp.tls.name().to_owned()));
                if smtp.credentials.is_some() {
                    lines.push(("TABIBU_SMTP_USERNAME", "[redacted]".to_owned()));
                    lines.push(("TABIBU_SMTP_PASSWORD", "[redacted]".to_owned()));
                }
                if let Some(ca) = &smtp.ca_file {
                    lines.push(("TABIBU_SMTP_CA_FILE", ca.display().to_string()));
                }
            }
        }
        lines
    }
}

fn invalid(variable: &'static str, problem: String) -> ConfigError {
    ConfigError { variable, problem }
}

/// Where and how OpenTelemetry traces go (OTLP over HTTP, protobuf). One span per request
/// carries the method, the matched route, the status, the latency and the request id, never a
/// path with ids in it, a body or a header value; the log lines inside it ride along as its
/// events, under the same rules as the log.
#[derive(Clone)]
pub struct OtelConfig {
    /// `TABIBU_OTEL_ENDPOINT` with `/v1/traces` appended unless it already ends so.
    pub traces_url: String,
    /// `TABIBU_OTEL_SERVICE_NAME`, default `tabibu`.
    pub service_name: String,
    /// `TABIBU_OTEL_SAMPLE_RATIO`: the share of new traces kept (0 to 1, default 1); a request
    /// that arrives with a sampled W3C `traceparent` follows its caller's decision.
    pub sample_ratio: f64,
    /// `TABIBU_OTEL_HEADERS`: `name=value` pairs, comma-separated, sent with every export
    /// (a vendor's API key, say); secret.
    pub headers: Vec<(String, SecretString)>,
}

impl std::fmt::Debug for OtelConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtelConfig")
            .field("traces_url", &self.traces_url)
            .field("service_name", &self.service_name)
            .field("sample_ratio", &self.sample_ratio)
            .field(
                "headers",
                &self
                    .headers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl OtelConfig {
    fn from_lookup(
        get: &impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OtelConfig>, ConfigError> {
        let Some(endpoint) = get("TABIBU_OTEL_ENDPOINT").filter(|v| !v.trim().is_empty()) else {
            return Ok(None);
        };
        let endpoint = endpoint.trim().trim_end_matches('/');
        let valid = ["http://", "https://"].iter().any(|scheme| {
            endpoint
                .strip_prefix(scheme)
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('@'))
        });
        if !valid {
            return Err(invalid(
                "TABIBU_OTEL_ENDPOINT",
                "expected the collector's OTLP/HTTP address such as http://127.0.0.1:4318 \
                 (credentials belong in TABIBU_OTEL_HEADERS)"
                    .into(),
            ));
        }
        let traces_url = if endpoint.ends_with("/v1/traces") {
            endpoint.to_owned()
        } else {
            format!("{endpoint}/v1/traces")
        };
        let sample_ratio = match get("TABIBU_OTEL_SAMPLE_RATIO") {
            None => 1.0,
            Some(v) => match v.trim().parse::<f64>() {
                Ok(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
                _ => {
                    return Err(invalid(
                        "TABIBU_OTEL_SAMPLE_RATIO",
                        format!("expected a number from 0 to 1, got `{v}`"),
                    ));
                }
            },
        };
        let mut headers = Vec::new();
        for pair in get("TABIBU_OTEL_HEADERS")
            .unwrap_or_default()
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let Some((name, value)) = pair.split_once('=') else {
                // The value is secret: the message names the setting, not the text.
                return Err(invalid(
                    "TABIBU_OTEL_HEADERS",
                    "expected name=value pairs separated by commas".into(),
                ));
            };
            let name = name.trim();
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(invalid(
                    "TABIBU_OTEL_HEADERS",
                    "a header name may hold only letters, digits, '-' and '_'".into(),
                ));
            }
            headers.push((
                name.to_ascii_lowercase(),
                SecretString::from(value.trim().to_owned()),
            ));
        }
        Ok(Some(OtelConfig {
            traces_url,
            service_name: get("TABIBU_OTEL_SERVICE_NAME")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "tabibu".into()),
            sample_ratio,
            headers,
        }))
    }
}

/// An origin as browsers send it: `https://host[:port]`, nothing after. `*` is refused: the API
/// works with cookies, and a wildcard with credentials would hand them to any site.
fn check_origin(origin: &str) -> Result<(), ConfigError> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let ok = rest.is_some_and(|host| {
        !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
    });
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "TABIBU_CORS_ORIGINS",
            format!(
                "expected origins such as https://app.example.org (no `*`, no path), got `{origin}`"
            ),
        ))
    }
}

/// A comma-separated list of IP addresses or CIDR ranges.
pub fn ip_ranges(variable: &'static str, list: &str) -> Result<Vec<IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    invalid(
                        variable,
                        format!(
                            "expected IP addresses or CIDR ranges such as 10.0.0.0/8, got `{p}`"
                        ),
                    )
                })
        })
        .collect()
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
        // scheme://user:password@host/db?password=… → scheme://user:[redacted]@host/db?password=[redacted]
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.chars().take(12).collect::<String>() + "…";
        };
        // The credentials end at the last '@': a password with an unencoded '@' or '/' in it
        // must not leak its tail into the "host" part.
        let (credentials, host) = match rest.rsplit_once('@') {
            Some((credentials, host)) => (Some(credentials), host),
            None => (None, rest),
        };
        let host = match host.split_once('?') {
            Some((path, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                            format!("{key}=[redacted]")
                        }
                        _ => pair.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", query.join("&"))
            }
            None => host.to_owned(),
        };
        match credentials {
            Some(credentials) => match credentials.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
                None => format!("{scheme}://{credentials}@{host}"),
            },
            None => format!("{scheme}://{host}"),
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
        assert_eq!(config.max_upload_bytes, 20 * 1024 * 1024);
        assert_eq!(config.documents_dir(), PathBuf::from("data/documents"));
    }

    #[test]
    fn staff_must_use_two_factor_in_production_by_default() {
        assert!(!config_from(&[]).unwrap().require_mfa_staff);
        assert!(
            config_from(&[("TABIBU_ENV", "production")])
                .unwrap()
                .require_mfa_staff
        );
        let relaxed = config_from(&[
            ("TABIBU_ENV", "production"),
            ("TABIBU_REQUIRE_MFA_STAFF", "false"),
        ]);
        assert!(!relaxed.unwrap().require_mfa_staff);
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let config = config_from(&[("TABIBU_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")]).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(
            config.trusted_proxies[1].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap())
        );
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
            ("TABIBU_PUBLIC_URL", "tabibu.example"),
            ("TABIBU_REQUIRE_MFA_STAFF", "yes"),
            ("TABIBU_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("TABIBU_SESSION_IDLE_MINUTES", "0"),
            ("TABIBU_MAX_UPLOAD_MB", "0"),
            ("TABIBU_MAX_UPLOAD_MB", "20MB"),
            ("TABIBU_EMAIL_PROVIDER", "pigeon"),
            ("TABIBU_DOCUMENTS_STORE", "s4"),
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

    #[test]
    fn traces_are_off_unless_an_endpoint_is_given_and_a_bad_value_names_its_variable() {
        assert!(config_from(&[]).unwrap().otel.is_none());
        let config = config_from(&[
            ("TABIBU_OTEL_ENDPOINT", "http://127.0.0.1:4318/"),
            ("TABIBU_OTEL_SAMPLE_RATIO", "0.25"),
            ("TABIBU_OTEL_HEADERS", "x-api-key=s3cret, X-Team = ops"),
        ])
        .unwrap();
        let otel = config.otel.as_ref().unwrap();
        assert_eq!(otel.traces_url, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(otel.service_name, "tabibu");
        assert!((otel.sample_ratio - 0.25).abs() < f64::EPSILON);
        assert_eq!(otel.headers[1].0, "x-team");
        assert!(!format!("{config:?}").contains("s3cret"));
        assert!(!format!("{:?}", config.summary()).contains("s3cret"));
        for (var, value) in [
            ("TABIBU_OTEL_ENDPOINT", "collector:4318"),
            ("TABIBU_OTEL_ENDPOINT", "https://user:pw@collector"),
            ("TABIBU_OTEL_SAMPLE_RATIO", "2"),
            ("TABIBU_OTEL_HEADERS", "novalue"),
        ] {
            let mut pairs = vec![(var, value)];
            if var != "TABIBU_OTEL_ENDPOINT" {
                pairs.push(("TABIBU_OTEL_ENDPOINT", "http://127.0.0.1:4318"));
            }
            let err = config_from(&pairs).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(!err.to_string().contains("pw@"), "{err}");
        }
    }

    #[test]
    fn a_database_password_never_shows_however_it_is_written() {
        for (url, shown) in [
            (
                "postgres://tabibu:p@ss/w@rd@db:5432/tabibu",
                "postgres://tabibu:[redacted]@db:5432/tabibu",
            ),
            (
                "postgres://db/tabibu?user=tabibu&password=s3cret&sslmode=require",
                "postgres://db/tabibu?user=tabibu&password=[redacted]&sslmode=require",
            ),
            ("postgres://tabibu@db/tabibu", "postgres://tabibu@db/tabibu"),
            ("sqlite://data/tabibu.db", "sqlite://data/tabibu.db"),
        ] {
            assert_eq!(DbUrl::redacted(url), shown);
        }
    }

    #[test]
    fn email_secrets_are_never_shown() {
        let config = config_from(&[
            ("TABIBU_EMAIL_PROVIDER", "smtp"),
            ("TABIBU_EMAIL_FROM", "Kliniki <no-reply@clinic.example>"),
            ("TABIBU_SMTP_HOST", "smtp.clinic.example"),
            ("TABIBU_SMTP_USERNAME", "relay-user"),
            ("TABIBU_SMTP_PASSWORD", "s3cret-pass"),
        ])
        .unwrap();
        let summary = format!("{:?}", config.summary());
        assert!(summary.contains("smtp.clinic.example"), "{summary}");
        for shown in [summary, format!("{config:?}")] {
            assert!(
                !shown.contains("s3cret") && !shown.contains("relay-user"),
                "{shown}"
            );
        }
        let config = config_from(&[
            ("TABIBU_EMAIL_PROVIDER", "sendgrid"),
            ("TABIBU_EMAIL_FROM", "no-reply@clinic.example"),
            ("TABIBU_SENDGRID_API_KEY", "SG.s3cret"),
        ])
        .unwrap();
        assert!(!format!("{:?} {config:?}", config.summary()).contains("s3cret"));
    }
}
