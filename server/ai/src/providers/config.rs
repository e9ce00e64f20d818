//! Which model provider the assistant uses, read once at start from `TABIBU_AI_*`,
//! `TABIBU_GEMINI_*` and `TABIBU_OPENAI_*` variables.
//!
//! API keys are held as [`SecretString`] and `Debug` prints them as `[redacted]`. This module
//! must never put a key's value into an error, a log line or a `Debug` string.
use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

/// Used when `TABIBU_GEMINI_MODEL` is unset.
pub const DEFAULT_GEMINI_MODEL: &str = "gemini-2.5-flash";
/// Used when `TABIBU_GEMINI_BASE_URL` is unset.
pub const DEFAULT_GEMINI_BASE_URL: &str = "https://generativelanguage.googleapis.com";
/// Used when `TABIBU_OPENAI_BASE_URL` is unset: a local Ollama server.
pub const DEFAULT_OPENAI_BASE_URL: &str = "http://127.0.0.1:11434/v1";
/// Used when `TABIBU_AI_TIMEOUT_SECS` is unset.
pub const DEFAULT_TIMEOUT_SECS: u64 = 20;
/// Used when `TABIBU_AI_MAX_RETRIES` is unset.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Connecting never gets longer than this, whatever the total timeout: a server that does not
/// accept a connection in five seconds will not answer in time either.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A configuration variable that is missing or malformed. Names the variable, never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct AiConfigError {
    pub variable: &'static str,
    pub problem: String,
}

/// The AI layer's configuration.
#[derive(Debug, Clone)]
pub struct AiConfig {
    pub provider: ProviderConfig,
    /// The most a whole model call may take, streaming included.
    pub timeout: Duration,
    /// The most establishing a connection may take (at most 5 s and at most `timeout`).
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for failures worth retrying.
    pub max_retries: u32,
}

/// The chosen provider and what it needs.
#[derive(Debug, Clone)]
pub enum ProviderConfig {
    /// The offline engine alone; no text leaves the server.
    Builtin,
    Gemini(GeminiConfig),
    OpenAi(OpenAiConfig),
}

impl ProviderConfig {
    /// The provider's configuration name: `builtin`, `gemini` or `openai`.
    pub fn name(&self) -> &'static str {
        match self {
            ProviderConfig::Builtin => "builtin",
            ProviderConfig::Gemini(_) => "gemini",
            ProviderConfig::OpenAi(_) => "openai",
        }
    }
}

/// Google's Gemini REST API.
#[derive(Clone)]
pub struct GeminiConfig {
    pub api_key: SecretString,
    pub model: String,
    /// Without a trailing slash.
    pub base_url: String,
}

/// Any server speaking OpenAI's `/chat/completions` (Ollama, vLLM, llama.cpp, OpenAI).
#[derive(Clone)]
pub struct OpenAiConfig {
    /// Local servers usually need none.
    pub api_key: Option<SecretString>,
    pub model: String,
    /// Up to and including `/v1`, without a trailing slash.
    pub base_url: String,
}

impl fmt::Debug for GeminiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeminiConfig")
            .field("api_key", &"[redacted]")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl Default for AiConfig {
    /// The built-in engine alone, with the default timeout and retries.
    fn default() -> Self {
        let timeout = Duration::from_secs(DEFAULT_TIMEOUT_SECS);
        AiConfig {
            provider: ProviderConfig::Builtin,
            timeout,
            connect_timeout: timeout.min(MAX_CONNECT_TIMEOUT),
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }
}

impl AiConfig {
    /// Reads the configuration through `lookup` (normally `std::env::var(..).ok()`). A blank
    /// value counts as unset. Only the chosen provider's variables are required.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<AiConfig, AiConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let timeout_secs = match get("TABIBU_AI_TIMEOUT_SECS") {
            None => DEFAULT_TIMEOUT_SECS,
            Some(v) => match v.parse::<u64>() {
                Ok(n) if (1..=600).contains(&n) => n,
                _ => {
                    return Err(AiConfigError {
                        variable: "TABIBU_AI_TIMEOUT_SECS",
                        problem: "must be a whole number of seconds from 1 to 600".into(),
                    });
                }
            },
        };
        let max_retries = match get("TABIBU_AI_MAX_RETRIES") {
            None => DEFAULT_MAX_RETRIES,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n <= 10 => n,
                _ => {
                    return Err(AiConfigError {
                        variable: "TABIBU_AI_MAX_RETRIES",
                        problem: "must be a whole number from 0 to 10".into(),
                    });
                }
            },
        };

        let provider = match get("TABIBU_AI_PROVIDER")
            .map(|v| v.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("builtin") => ProviderConfig::Builtin,
            Some("gemini") => {
                let api_key = get("TABIBU_GEMINI_API_KEY").ok_or(AiConfigError {
                    variable: "TABIBU_GEMINI_API_KEY",
                    problem: "is required when TABIBU_AI_PROVIDER=gemini".into(),
                })?;
                ProviderConfig::Gemini(GeminiConfig {
                    api_key: SecretString::from(api_key),
                    model: model_name(
                        "TABIBU_GEMINI_MODEL",
                        get("TABIBU_GEMINI_MODEL").unwrap_or_else(|| DEFAULT_GEMINI_MODEL.into()),
                    )?,
                    base_url: base_url(
                        "TABIBU_GEMINI_BASE_URL",
                        get("TABIBU_GEMINI_BASE_URL")
                            .unwrap_or_else(|| DEFAULT_GEMINI_BASE_URL.into()),
                    )?,
                })
            }
            Some("openai") => {
                let model = get("TABIBU_OPENAI_MODEL").ok_or(AiConfigError {
                    variable: "TABIBU_OPENAI_MODEL",
                    problem: "is required when TABIBU_AI_PROVIDER=openai (for Ollama, e.g. \
                              `llama3.1:8b`)"
                        .into(),
                })?;
                ProviderConfig::OpenAi(OpenAiConfig {
                    api_key: get("TABIBU_OPENAI_API_KEY").map(SecretString::from),
                    model: model_name("TABIBU_OPENAI_MODEL", model)?,
                    base_url: base_url(
                        "TABIBU_OPENAI_BASE_URL",
                        get("TABIBU_OPENAI_BASE_URL")
                            .unwrap_or_else(|| DEFAULT_OPENAI_BASE_URL.into()),
                    )?,
                })
            }
            Some(_) => {
                return Err(AiConfigError {
                    variable: "TABIBU_AI_PROVIDER",
                    problem: "must be `builtin`, `gemini` or `openai`".into(),
                });
            }
        };

        let timeout = Duration::from_secs(timeout_secs);
        Ok(AiConfig {
            provider,
            timeout,
            connect_timeout: timeout.min(MAX_CONNECT_TIMEOUT),
            max_retries,
        })
    }
}

/// A model name goes into a URL path (Gemini), so it may hold only the characters model names
/// use.
fn model_name(variable: &'static str, model: String) -> Result<String, AiConfigError> {
    let ok = model
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if ok && !model.contains("..") {
        Ok(model)
    } else {
        Err(AiConfigError {
            variable,
            problem: "may contain only letters, digits and - _ . : /".into(),
        })
    }
}

fn base_url(variable: &'static str, url: String) -> Result<String, AiConfigError> {
    let parsed = reqwest::Url::parse(&url).map_err(|_| AiConfigError {
        variable,
        problem: "must be an absolute http:// or https:// URL".into(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AiConfigError {
            variable,
            problem: "must be an absolute http:// or https:// URL".into(),
        });
    }
    // A key in the URL would end up in proxies' and servers' logs; keys go in headers.
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(AiConfigError {
            variable,
            problem: "must not contain credentials or a query string; keys have their own \
                      variables"
                .into(),
        });
    }
    Ok(url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<AiConfig, AiConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AiConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_the_builtin_engine_with_default_limits() {
        let c = config(&[]).unwrap();
        assert!(matches!(c.provider, ProviderConfig::Builtin));
        assert_eq!(c.timeout, Duration::from_secs(20));
        assert_eq!(c.connect_timeout, Duration::from_secs(5));
        assert_eq!(c.max_retries, 2);
    }

    #[test]
    fn gemini_needs_a_key_and_the_error_names_the_variable() {
        let err = config(&[("TABIBU_AI_PROVIDER", "gemini")]).unwrap_err();
        assert_eq!(err.variable, "TABIBU_GEMINI_API_KEY");
    }

    #[test]
    fn gemini_uses_the_default_model_and_base_url() {
        let c = config(&[
            ("TABIBU_AI_PROVIDER", "Gemini"),
            ("TABIBU_GEMINI_API_KEY", "AIza-secret"),
        ])
        .unwrap();
        let ProviderConfig::Gemini(g) = c.provider else {
            panic!("expected gemini");
        };
        assert_eq!(g.model, DEFAULT_GEMINI_MODEL);
        assert_eq!(g.base_url, DEFAULT_GEMINI_BASE_URL);
        assert_eq!(g.api_key.expose_secret(), "AIza-secret");
    }

    #[test]
    fn openai_needs_a_model_but_not_a_key() {
        let err = config(&[("TABIBU_AI_PROVIDER", "openai")]).unwrap_err();
        assert_eq!(err.variable, "TABIBU_OPENAI_MODEL");
        let c = config(&[
            ("TABIBU_AI_PROVIDER", "openai"),
            ("TABIBU_OPENAI_MODEL", "llama3.1:8b"),
            ("TABIBU_OPENAI_BASE_URL", "http://ollama:11434/v1/"),
        ])
        .unwrap();
        let ProviderConfig::OpenAi(o) = c.provider else {
            panic!("expected openai");
        };
        assert!(o.api_key.is_none());
        assert_eq!(o.base_url, "http://ollama:11434/v1");
    }

    #[test]
    fn debug_output_never_shows_an_api_key() {
        let c = config(&[
            ("TABIBU_AI_PROVIDER", "gemini"),
            ("TABIBU_GEMINI_API_KEY", "AIza-very-secret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains("very-secret"));
        let c = config(&[
            ("TABIBU_AI_PROVIDER", "openai"),
            ("TABIBU_OPENAI_MODEL", "gpt-4o-mini"),
            ("TABIBU_OPENAI_API_KEY", "sk-very-secret"),
        ])
        .unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("[redacted]"));
        assert!(!shown.contains("very-secret"));
    }

    #[test]
    fn bad_values_are_rejected_with_the_variable_named_and_not_echoed() {
        for (vars, variable) in [
            (vec![("TABIBU_AI_PROVIDER", "claude")], "TABIBU_AI_PROVIDER"),
            (
                vec![("TABIBU_AI_TIMEOUT_SECS", "0")],
                "TABIBU_AI_TIMEOUT_SECS",
            ),
            (
                vec![("TABIBU_AI_TIMEOUT_SECS", "soon")],
                "TABIBU_AI_TIMEOUT_SECS",
            ),
            (
                vec![("TABIBU_AI_MAX_RETRIES", "-1")],
                "TABIBU_AI_MAX_RETRIES",
            ),
            (
                vec![
                    ("TABIBU_AI_PROVIDER", "openai"),
                    ("TABIBU_OPENAI_MODEL", "m"),
                    ("TABIBU_OPENAI_BASE_URL", "ftp://x"),
                ],
                "TABIBU_OPENAI_BASE_URL",
            ),
            (
                vec![
                    ("TABIBU_AI_PROVIDER", "gemini"),
                    ("TABIBU_GEMINI_API_KEY", "k"),
                    ("TABIBU_GEMINI_BASE_URL", "https://x/?key=leaked"),
                ],
                "TABIBU_GEMINI_BASE_URL",
            ),
            (
                vec![
                    ("TABIBU_AI_PROVIDER", "gemini"),
                    ("TABIBU_GEMINI_API_KEY", "k"),
                    ("TABIBU_GEMINI_MODEL", "../../admin"),
                ],
                "TABIBU_GEMINI_MODEL",
            ),
        ] {
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(!err.to_string().contains("leaked"));
        }
    }

    #[test]
    fn a_short_timeout_also_shortens_the_connect_timeout() {
        let c = config(&[("TABIBU_AI_TIMEOUT_SECS", "3")]).unwrap();
        assert_eq!(c.connect_timeout, Duration::from_secs(3));
    }
}
