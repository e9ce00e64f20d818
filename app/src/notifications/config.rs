//! How emails leave the server, read once at start from `TABIBU_EMAIL_*`, `TABIBU_SENDGRID_*`
//! and `TABIBU_SMTP_*` (every variable is in `.env.example`).
//!
//! The SendGrid key and the SMTP password are [`SecretString`]s. This module must never put a
//! secret, or the value of any variable, into an error, a log line or a `Debug` string; its
//! errors name the variable and say what is expected.

use secrecy::SecretString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Used when `TABIBU_SENDGRID_BASE_URL` is unset.
pub const DEFAULT_SENDGRID_BASE_URL: &str = "https://api.sendgrid.com";
/// Used when `TABIBU_EMAIL_TIMEOUT_SECS` is unset.
pub const DEFAULT_TIMEOUT_SECS: u64 = 20;
/// The sender when `TABIBU_EMAIL_FROM` is unset and the provider is `log` (nothing is sent).
pub const DEFAULT_FROM_ADDRESS: &str = "no-reply@localhost";

/// A variable that is missing or malformed. Names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct EmailConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn invalid(variable: &'static str, problem: impl Into<String>) -> EmailConfigError {
    EmailConfigError {
        variable,
        problem: problem.into(),
    }
}

/// Everything the email worker needs to know.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    pub provider: ProviderConfig,
    /// The sender every email shows (`TABIBU_EMAIL_FROM`).
    pub from: Sender,
    /// The longest one delivery attempt may take, connecting included
    /// (`TABIBU_EMAIL_TIMEOUT_SECS`). Kept well below the outbox lease, so a worker never
    /// sends an email another worker has already taken over.
    pub timeout: Duration,
}

/// The chosen provider and what it needs.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    /// Nothing leaves the server: the message stays in the outbox for the admin to read.
    Log,
    SendGrid(SendGridConfig),
    Smtp(SmtpConfig),
}

impl ProviderConfig {
    /// The configuration name, also stored as the `provider` of a sent email.
    pub fn name(&self) -> &'static str {
        match self {
            ProviderConfig::Log => "log",
            ProviderConfig::SendGrid(_) => "sendgrid",
            ProviderConfig::Smtp(_) => "smtp",
        }
    }
}

/// SendGrid's v3 HTTP API.
#[derive(Clone)]
pub struct SendGridConfig {
    pub api_key: SecretString,
    /// Without a trailing slash; `/v3/mail/send` is appended.
    pub base_url: String,
}

impl fmt::Debug for SendGridConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendGridConfig")
            .field("api_key", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No encryption: only towards this machine (tests, a local relay).
    None,
}

impl SmtpTls {
    pub fn name(self) -> &'static str {
        match self {
            SmtpTls::StartTls => "starttls",
            SmtpTls::Implicit => "implicit",
            SmtpTls::None => "none",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }
    }
}

/// An SMTP submission server.
#[derive(Clone)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// Username and password, both or neither.
    pub credentials: Option<(String, SecretString)>,
    /// A PEM file of extra certificate authorities to trust (`TABIBU_SMTP_CA_FILE`), for a
    /// relay with a private CA; the public roots are trusted as well.
    pub ca_file: Option<PathBuf>,
}

impl fmt::Debug for SmtpConfig {
    // The username is often an address; neither it nor the password is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|_| "[redacted]"),
            )
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The sender: an address and an optional display name.
#[derive(Clone, PartialEq, Eq)]
pub struct Sender {
    pub address: String,
    pub name: Option<String>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("address", &super::outbox::mask_address(&self.address))
            .field("name", &self.name)
            .finish()
    }
}

impl Sender {
    /// Parses `no-reply@clinic.example` or `Tabibu Clinic <no-reply@clinic.example>`.
    pub fn parse(value: &str) -> Option<Sender> {
        let value = value.trim();
        let (name, address) = match value.rsplit_once('<') {
            Some((name, rest)) => {
                let address = rest.strip_suffix('>')?;
                let name = name.trim().trim_matches('"').trim();
                ((!name.is_empty()).then(|| name.to_owned()), address.trim())
            }
            None => (None, value),
        };
        let (local, domain) = address.split_once('@')?;
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
        };
        let name_ok = name.as_deref().is_none_or(|n| {
            n.chars().count() <= 100 && !n.chars().any(|c| c.is_control() || "<>\"".contains(c))
        });
        (plain(local) && plain(domain) && !domain.contains(['/', '@']) && name_ok).then(|| Sender {
            address: address.to_owned(),
            name,
        })
    }

    /// The part after `@`, for the `Message-ID`.
    pub fn domain(&self) -> &str {
        self.address.rsplit('@').next().unwrap_or("localhost")
    }
}

impl EmailConfig {
    /// Reads the configuration through `lookup`. A blank value counts as unset. Only the
    /// chosen provider's variables are required.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<EmailConfig, EmailConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let timeout = match get("TABIBU_EMAIL_TIMEOUT_SECS") {
            None => DEFAULT_TIMEOUT_SECS,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=120).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "TABIBU_EMAIL_TIMEOUT_SECS",
                        "must be a whole number of seconds from 1 to 120",
                    ));
                }
            },
        };
        let kind = get("TABIBU_EMAIL_PROVIDER").map(|v| v.to_ascii_lowercase());
        let provider = match kind.as_deref() {
            None | Some("log") => ProviderConfig::Log,
            Some("sendgrid") => ProviderConfig::SendGrid(SendGridConfig {
                api_key: get("TABIBU_SENDGRID_API_KEY")
                    .map(SecretString::from)
                    .ok_or_else(|| {
                        invalid(
                            "TABIBU_SENDGRID_API_KEY",
                            "is required when TABIBU_EMAIL_PROVIDER=sendgrid",
                        )
                    })?,
                base_url: sendgrid_base_url(
                    get("TABIBU_SENDGRID_BASE_URL")
                        .unwrap_or_else(|| DEFAULT_SENDGRID_BASE_URL.into()),
                )?,
            }),
            Some("smtp") => ProviderConfig::Smtp(smtp_config(&get)?),
            Some(_) => {
                return Err(invalid(
                    "TABIBU_EMAIL_PROVIDER",
                    "must be `log`, `sendgrid` or `smtp`",
                ));
            }
        };
        let from = match get("TABIBU_EMAIL_FROM") {
            Some(value) => Sender::parse(&value).ok_or_else(|| {
                invalid(
                    "TABIBU_EMAIL_FROM",
                    "expected an address such as `no-reply@clinic.example` or \
                     `Tabibu Clinic <no-reply@clinic.example>`",
                )
            })?,
            None if matches!(provider, ProviderConfig::Log) => Sender {
                address: DEFAULT_FROM_ADDRESS.to_owned(),
                name: Some("Tabibu".to_owned()),
            },
            None => {
                return Err(invalid(
                    "TABIBU_EMAIL_FROM",
                    format!("is required when TABIBU_EMAIL_PROVIDER={}", provider.name()),
                ));
            }
        };
        Ok(EmailConfig {
            provider,
            from,
            timeout: Duration::from_secs(timeout),
        })
    }
}

fn smtp_config(get: &impl Fn(&str) -> Option<String>) -> Result<SmtpConfig, EmailConfigError> {
    let host = get("TABIBU_SMTP_HOST").ok_or_else(|| {
        invalid(
            "TABIBU_SMTP_HOST",
            "is required when TABIBU_EMAIL_PROVIDER=smtp",
        )
    })?;
    let host_ok = host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !host_ok {
        return Err(invalid(
            "TABIBU_SMTP_HOST",
            "expected a host name or an IP address, without a port or a scheme",
        ));
    }
    let tls = match get("TABIBU_SMTP_TLS")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("starttls") => SmtpTls::StartTls,
        Some("implicit") => SmtpTls::Implicit,
        Some("none") => SmtpTls::None,
        Some(_) => {
            return Err(invalid(
                "TABIBU_SMTP_TLS",
                "must be `starttls`, `implicit` or `none`",
            ));
        }
    };
    if tls == SmtpTls::None && !is_loopback(&host) {
        // Mail and a password in clear text across a network: refused, not warned about.
        return Err(invalid(
            "TABIBU_SMTP_TLS",
            "`none` is only allowed when TABIBU_SMTP_HOST is localhost or 127.0.0.1",
        ));
    }
    let port = match get("TABIBU_SMTP_PORT") {
        None => tls.default_port(),
        Some(v) => match v.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(invalid(
                    "TABIBU_SMTP_PORT",
                    "must be a port number from 1 to 65535",
                ));
            }
        },
    };
    let credentials = match (get("TABIBU_SMTP_USERNAME"), get("TABIBU_SMTP_PASSWORD")) {
        (None, None) => None,
        (Some(user), Some(password)) => Some((user, SecretString::from(password))),
        (Some(_), None) => {
            return Err(invalid(
                "TABIBU_SMTP_PASSWORD",
                "is required when TABIBU_SMTP_USERNAME is set",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "TABIBU_SMTP_USERNAME",
                "is required when TABIBU_SMTP_PASSWORD is set",
            ));
        }
    };
    let ca_file = get("TABIBU_SMTP_CA_FILE").map(PathBuf::from);
    if let Some(path) = &ca_file {
        let readable = std::fs::read(path).ok().is_some_and(|pem| {
            String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----")
        });
        if !readable {
            return Err(invalid(
                "TABIBU_SMTP_CA_FILE",
                "must be a readable PEM file with at least one certificate",
            ));
        }
    }
    Ok(SmtpConfig {
        host,
        port,
        tls,
        credentials,
        ca_file,
    })
}

/// Whether `host` names this machine.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The API root: `https://`, or `http://` towards this machine only (a test's fake server),
/// since the key travels in a header.
fn sendgrid_base_url(url: String) -> Result<String, EmailConfigError> {
    const VARIABLE: &str = "TABIBU_SENDGRID_BASE_URL";
    let parsed = reqwest::Url::parse(&url)
        .map_err(|_| invalid(VARIABLE, "must be an absolute https:// URL"))?;
    let host = parsed.host_str().unwrap_or_default();
    let scheme_ok = parsed.scheme() == "https" || (parsed.scheme() == "http" && is_loopback(host));
    if !scheme_ok || host.is_empty() {
        return Err(invalid(
            VARIABLE,
            "must be an absolute https:// URL (http:// only towards localhost)",
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(invalid(
            VARIABLE,
            "must not contain credentials or a query string; the key has its own variable",
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<EmailConfig, EmailConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        EmailConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_default_is_the_log_provider() {
        let c = config(&[]).unwrap();
        assert!(matches!(c.provider, ProviderConfig::Log));
        assert_eq!(c.from.address, "no-reply@localhost");
        assert_eq!(c.timeout, Duration::from_secs(20));
    }

    #[test]
    fn sendgrid_needs_a_key_and_a_sender() {
        let err = config(&[("TABIBU_EMAIL_PROVIDER", "sendgrid")]).unwrap_err();
        assert_eq!(err.variable, "TABIBU_SENDGRID_API_KEY");
        let err = config(&[
            ("TABIBU_EMAIL_PROVIDER", "sendgrid"),
            ("TABIBU_SENDGRID_API_KEY", "SG.secret-key"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "TABIBU_EMAIL_FROM");
        let c = config(&[
            ("TABIBU_EMAIL_PROVIDER", "sendgrid"),
            ("TABIBU_SENDGRID_API_KEY", "SG.secret-key"),
            (
                "TABIBU_EMAIL_FROM",
                "Tabibu Clinic <no-reply@clinic.example>",
            ),
        ])
        .unwrap();
        let ProviderConfig::SendGrid(sg) = &c.provider else {
            panic!("sendgrid expected");
        };
        assert_eq!(sg.base_url, "https://api.sendgrid.com");
        assert_eq!(sg.api_key.expose_secret(), "SG.secret-key");
        assert_eq!(c.from.name.as_deref(), Some("Tabibu Clinic"));
        assert_eq!(c.from.domain(), "clinic.example");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("secret-key") && !shown.contains("no-reply"),
            "{shown}"
        );
    }

    #[test]
    fn the_sendgrid_key_never_travels_over_plain_http_to_another_machine() {
        let base = |url: &str| {
            config(&[
                ("TABIBU_EMAIL_PROVIDER", "sendgrid"),
                ("TABIBU_SENDGRID_API_KEY", "k"),
                ("TABIBU_EMAIL_FROM", "a@b.example"),
                ("TABIBU_SENDGRID_BASE_URL", url),
            ])
        };
        assert!(base("http://127.0.0.1:8025/").is_ok());
        assert!(base("http://localhost:8025").is_ok());
        for bad in [
            "http://sendgrid.example",
            "ftp://x",
            "https://u:p@x.example",
            "x",
        ] {
            assert_eq!(
                base(bad).unwrap_err().variable,
                "TABIBU_SENDGRID_BASE_URL",
                "{bad}"
            );
        }
    }

    #[test]
    fn smtp_ports_follow_the_tls_mode_and_plain_text_stays_on_this_machine() {
        let smtp = |extra: &[(&str, &str)]| {
            let mut pairs = vec![
                ("TABIBU_EMAIL_PROVIDER", "smtp"),
                ("TABIBU_EMAIL_FROM", "no-reply@clinic.example"),
            ];
            pairs.extend_from_slice(extra);
            config(&pairs)
        };
        assert_eq!(
            smtp(&[]).unwrap_err().variable,
            "TABIBU_SMTP_HOST",
            "the host is required"
        );
        let port = |extra: &[(&str, &str)]| match smtp(extra).unwrap().provider {
            ProviderConfig::Smtp(s) => (s.port, s.tls),
            _ => panic!("smtp expected"),
        };
        assert_eq!(
            port(&[("TABIBU_SMTP_HOST", "smtp.example")]),
            (587, SmtpTls::StartTls)
        );
        assert_eq!(
            port(&[
                ("TABIBU_SMTP_HOST", "smtp.example"),
                ("TABIBU_SMTP_TLS", "implicit")
            ]),
            (465, SmtpTls::Implicit)
        );
        assert_eq!(
            port(&[
                ("TABIBU_SMTP_HOST", "127.0.0.1"),
                ("TABIBU_SMTP_TLS", "none"),
                ("TABIBU_SMTP_PORT", "2525")
            ]),
            (2525, SmtpTls::None)
        );
        let err = smtp(&[
            ("TABIBU_SMTP_HOST", "smtp.example"),
            ("TABIBU_SMTP_TLS", "none"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "TABIBU_SMTP_TLS");
        for (var, value) in [
            ("TABIBU_SMTP_TLS", "ssl"),
            ("TABIBU_SMTP_PORT", "0"),
            ("TABIBU_SMTP_PORT", "70000"),
            ("TABIBU_SMTP_HOST", "smtp://smtp.example"),
            ("TABIBU_SMTP_CA_FILE", "/no/such/file.pem"),
        ] {
            let mut pairs = vec![("TABIBU_SMTP_HOST", "smtp.example")];
            pairs.retain(|(k, _)| *k != var);
            pairs.push((var, value));
            assert_eq!(smtp(&pairs).unwrap_err().variable, var, "{var}={value}");
        }
    }

    #[test]
    fn smtp_credentials_come_in_pairs_and_are_never_shown() {
        let err = config(&[
            ("TABIBU_EMAIL_PROVIDER", "smtp"),
            ("TABIBU_EMAIL_FROM", "no-reply@clinic.example"),
            ("TABIBU_SMTP_HOST", "smtp.example"),
            ("TABIBU_SMTP_USERNAME", "mailer@clinic.example"),
        ])
        .unwrap_err();
        assert_eq!(err.variable, "TABIBU_SMTP_PASSWORD");
        let c = config(&[
            ("TABIBU_EMAIL_PROVIDER", "smtp"),
            ("TABIBU_EMAIL_FROM", "no-reply@clinic.example"),
            ("TABIBU_SMTP_HOST", "smtp.example"),
            ("TABIBU_SMTP_USERNAME", "mailer@clinic.example"),
            ("TABIBU_SMTP_PASSWORD", "hunter2-secret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("mailer@"),
            "{shown}"
        );
    }

    #[test]
    fn an_invalid_value_is_named_but_not_echoed() {
        for (var, value) in [
            ("TABIBU_EMAIL_PROVIDER", "mailgun-secret"),
            ("TABIBU_EMAIL_FROM", "not an address secret"),
            ("TABIBU_EMAIL_TIMEOUT_SECS", "0"),
            ("TABIBU_EMAIL_TIMEOUT_SECS", "ten"),
        ] {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn senders_parse_with_and_without_a_name() {
        let s = Sender::parse("no-reply@clinic.example").unwrap();
        assert_eq!(
            (s.address.as_str(), s.name),
            ("no-reply@clinic.example", None)
        );
        let s = Sender::parse("\"Kliniki Tabibu\" <hello@clinic.example>").unwrap();
        assert_eq!(s.name.as_deref(), Some("Kliniki Tabibu"));
        for bad in [
            "clinic.example",
            "a b@c.example",
            "X <a@b",
            "<>",
            "X\r\nBcc: y <a@b.c>",
        ] {
            assert!(Sender::parse(bad).is_none(), "{bad}");
        }
    }
}
