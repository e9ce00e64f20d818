//! External model providers: Google Gemini and any OpenAI-compatible chat server, behind one
//! trait, with timeouts, bounded retries and a circuit breaker.
//!
//! A provider sends exactly the request it is given: redacting personal identifiers and
//! deciding whether a model may be asked at all (consent) happen before, in
//! [`crate::assistant`]. Nothing here logs, and no error's `Display` holds a request, a reply,
//! a URL with secrets or an API key. A provider's answer is an opinion for
//! [`crate::guard::combine`], never a level on its own.
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use tokio::time::Instant;

mod breaker;
mod config;
mod gemini;
mod openai;
mod retry;
mod sse;

pub use breaker::{BreakerPolicy, BreakerState, CircuitBreaker};
pub use config::{
    AiConfig, AiConfigError, DEFAULT_GEMINI_BASE_URL, DEFAULT_GEMINI_MODEL, DEFAULT_MAX_RETRIES,
    DEFAULT_OPENAI_BASE_URL, DEFAULT_TIMEOUT_SECS, GeminiConfig, OpenAiConfig, ProviderConfig,
};
pub use gemini::GeminiProvider;
pub use openai::OpenAiProvider;
pub use retry::RetryPolicy;
pub use sse::SseDecoder;

/// The largest response body read from a provider; more is treated as malformed.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Why a model call failed. `Display` is safe to log: it never holds content or secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the model did not answer in time")]
    Timeout,
    #[error("the model provider is rate limiting requests")]
    RateLimited { retry_after: Option<Duration> },
    #[error("the model provider failed with HTTP status {0}")]
    Server(u16),
    /// A 4xx other than 429: a wrong key, model name or request shape. Retrying cannot help.
    #[error("the model provider refused the request with HTTP status {0}")]
    Rejected(u16),
    #[error("the model provider blocked the request or its reply on safety grounds")]
    SafetyBlocked,
    #[error("the model provider's answer could not be understood")]
    Malformed,
    /// Connecting failed, or the connection broke or ended before the reply was complete.
    #[error("the connection to the model provider failed or ended early")]
    Transport,
    #[error("model calls are paused after repeated failures")]
    CircuitOpen,
    #[error("the model provider is not configured correctly")]
    Config,
}

impl ProviderError {
    /// Whether another attempt may succeed.
    fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout
                | ProviderError::RateLimited { .. }
                | ProviderError::Server(_)
                | ProviderError::Transport
        )
    }

    /// Whether this says something about the provider's health (and so counts towards opening
    /// the circuit). A safety block is about one text, not about the provider.
    fn is_provider_failure(&self) -> bool {
        !matches!(
            self,
            ProviderError::SafetyBlocked | ProviderError::CircuitOpen | ProviderError::Config
        )
    }
}

/// Who said a message in a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the conversation sent to a model. The text must already be redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    pub text: String,
}

/// What to ask a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRequest {
    /// The instructions, sent as the system prompt.
    pub system: String,
    pub messages: Vec<Message>,
    /// Ask the provider for a JSON object (Gemini's `responseMimeType`, OpenAI's
    /// `response_format`). The caller still validates what comes back.
    pub json: bool,
    pub max_output_tokens: u32,
    pub temperature: f32,
}

/// Tokens counted by the provider, when it says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: Option<u32>,
    pub completion_tokens: Option<u32>,
    pub total_tokens: Option<u32>,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelReply {
    pub text: String,
    pub usage: Usage,
}

/// One item of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The next piece of the reply's text.
    Text(String),
    /// Token counts; usually once, near the end.
    Usage(Usage),
}

/// A streamed answer. It ends after the provider's end marker; an `Err` item (after which
/// nothing follows) means the reply stopped early and what came before is partial.
pub type ReplyStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// A future boxed so that [`ModelProvider`] can be used as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A chat model behind an HTTP API.
pub trait ModelProvider: Send + Sync {
    /// The provider's configuration name (`gemini`, `openai`), for usage records.
    fn name(&self) -> &'static str;
    /// The model asked, for usage records.
    fn model(&self) -> &str;
    /// Asks for a whole answer. Retried within the configured bounds.
    fn complete<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelReply, ProviderError>>;
    /// Asks for a streamed answer. Retried only until the provider starts answering.
    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ProviderError>>;
}

/// Timeouts, retries and the circuit breaker for one provider.
#[derive(Debug, Clone)]
pub struct CallPolicy {
    /// The most a whole call may take: every attempt, every back-off and the whole stream.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retry: RetryPolicy,
    pub breaker: BreakerPolicy,
}

impl CallPolicy {
    /// The policy for a configuration, with the default back-off and breaker.
    pub fn from_config(config: &AiConfig) -> CallPolicy {
        CallPolicy {
            timeout: config.timeout,
            connect_timeout: config.connect_timeout,
            retry: RetryPolicy {
                max_retries: config.max_retries,
                ..RetryPolicy::default()
            },
            breaker: BreakerPolicy::default(),
        }
    }
}

/// The provider the configuration asks for; `None` for `builtin`.
pub fn build_provider(config: &AiConfig) -> Result<Option<Arc<dyn ModelProvider>>, ProviderError> {
    let policy = CallPolicy::from_config(config);
    Ok(match &config.provider {
        ProviderConfig::Builtin => None,
        ProviderConfig::Gemini(c) => Some(Arc::new(GeminiProvider::new(c.clone(), policy)?)),
        ProviderConfig::OpenAi(c) => Some(Arc::new(OpenAiProvider::new(c.clone(), policy)?)),
    })
}

/// The HTTP client every provider uses: no redirects (a redirect would resend the key
/// elsewhere), the connect timeout, rustls.
fn http_client(policy: &CallPolicy) -> Result<reqwest::Client, ProviderError> {
    reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tabibu/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| ProviderError::Config)
}

/// Maps a client error to a content-free [`ProviderError`]. The client's own message is
/// dropped: it can hold the URL.
fn transport_error(err: &reqwest::Error) -> ProviderError {
    if err.is_timeout() {
        ProviderError::Timeout
    } else if err.is_builder() {
        ProviderError::Config
    } else {
        ProviderError::Transport
    }
}

/// Sends one POST and checks its status, all before `deadline`.
async fn send(
    request: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<reqwest::Response, ProviderError> {
    let response = tokio::time::timeout_at(deadline, request.send())
        .await
        .map_err(|_| ProviderError::Timeout)?
        .map_err(|e| transport_error(&e))?;
    let status = response.status().as_u16();
    match status {
        200..=299 => Ok(response),
        429 => Err(ProviderError::RateLimited {
            retry_after: retry::parse_retry_after(response.headers()),
        }),
        408 => Err(ProviderError::Timeout),
        500..=599 => Err(ProviderError::Server(status)),
        _ => Err(ProviderError::Rejected(status)),
    }
}

/// Reads a whole body, at most [`MAX_BODY_BYTES`], before `deadline`.
async fn read_body(
    mut response: reqwest::Response,
    deadline: Instant,
) -> Result<Vec<u8>, ProviderError> {
    let mut body = Vec::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .map_err(|_| ProviderError::Timeout)?
            .map_err(|e| transport_error(&e))?;
        match chunk {
            None => return Ok(body),
            Some(bytes) => {
                if body.len() + bytes.len() > MAX_BODY_BYTES {
                    return Err(ProviderError::Malformed);
                }
                body.extend_from_slice(&bytes);
            }
        }
    }
}

/// A JSON number as a token count, when it is one.
fn token_count(value: Option<&serde_json::Value>) -> Option<u32> {
    value
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_provider_builds_nothing_that_could_send_text() {
        assert!(build_provider(&AiConfig::default()).unwrap().is_none());
    }

    #[test]
    fn a_configured_provider_reports_its_name_and_model() {
        let config = AiConfig::from_lookup(|k| match k {
            "TABIBU_AI_PROVIDER" => Some("openai".into()),
            "TABIBU_OPENAI_MODEL" => Some("llama3.1:8b".into()),
            _ => None,
        })
        .unwrap();
        let provider = build_provider(&config).unwrap().unwrap();
        assert_eq!(provider.name(), "openai");
        assert_eq!(provider.model(), "llama3.1:8b");
    }

    #[test]
    fn errors_say_what_failed_and_nothing_else() {
        assert_eq!(
            ProviderError::Server(503).to_string(),
            "the model provider failed with HTTP status 503"
        );
        assert!(!ProviderError::SafetyBlocked.is_retryable());
        assert!(ProviderError::Timeout.is_retryable());
        assert!(!ProviderError::SafetyBlocked.is_provider_failure());
    }
}
