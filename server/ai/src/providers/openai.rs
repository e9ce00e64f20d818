//! Any OpenAI-compatible chat server (`POST {base}/chat/completions`): Ollama, vLLM,
//! llama.cpp's server, OpenAI itself. `Authorization: Bearer` only when a key is configured.
//!
//! Streaming is SSE with `choices[0].delta.content` pieces and a final `data: [DONE]`; a
//! stream that ends without `[DONE]` was cut short. `finish_reason: "content_filter"` or a
//! `refusal` is a safety block.
use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::breaker::CircuitBreaker;
use super::sse::{self, EventParser};
use super::{
    BoxFuture, CallPolicy, ModelProvider, ModelReply, ModelRequest, OpenAiConfig, ProviderError,
    ReplyStream, Role, StreamEvent, Usage, http_client, read_body, retry, send, token_count,
};

/// An OpenAI-compatible model.
pub struct OpenAiProvider {
    config: OpenAiConfig,
    policy: CallPolicy,
    client: reqwest::Client,
    breaker: Arc<CircuitBreaker>,
}

impl std::fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish()
    }
}

impl OpenAiProvider {
    pub fn new(config: OpenAiConfig, policy: CallPolicy) -> Result<Self, ProviderError> {
        Ok(OpenAiProvider {
            client: http_client(&policy)?,
            breaker: Arc::new(CircuitBreaker::new(policy.breaker)),
            config,
            policy,
        })
    }

    /// This provider's breaker, for health reporting.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    fn post(&self, request: &ModelRequest, stream: bool) -> reqwest::RequestBuilder {
        let url = format!("{}/chat/completions", self.config.base_url);
        let mut builder = self
            .client
            .post(url)
            .json(&body(&self.config.model, request, stream));
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key.expose_secret());
        }
        builder
    }
}

fn body(model: &str, request: &ModelRequest, stream: bool) -> Value {
    let mut messages = vec![json!({ "role": "system", "content": request.system })];
    messages.extend(request.messages.iter().map(|m| {
        json!({
            "role": match m.role { Role::User => "user", Role::Assistant => "assistant" },
            "content": m.text,
        })
    }));
    let mut body = json!({
        "model": model,
        "messages": messages,
        "stream": stream,
        "temperature": request.temperature,
        "max_tokens": request.max_output_tokens,
    });
    if request.json {
        body["response_format"] = json!({ "type": "json_object" });
    }
    if stream {
        // Without this, OpenAI sends no token counts on a stream; servers that do not know the
        // option ignore it.
        body["stream_options"] = json!({ "include_usage": true });
    }
    body
}

fn parse_usage(value: &Value) -> Option<Usage> {
    let u = value.get("usage").filter(|u| u.is_object())?;
    Some(Usage {
        prompt_tokens: token_count(u.get("prompt_tokens")),
        completion_tokens: token_count(u.get("completion_tokens")),
        total_tokens: token_count(u.get("total_tokens")),
    })
}

fn refused(choice: &Value, part: &str) -> bool {
    choice.get("finish_reason").and_then(Value::as_str) == Some("content_filter")
        || choice
            .pointer(&format!("/{part}/refusal"))
            .and_then(Value::as_str)
            .is_some_and(|r| !r.is_empty())
}

fn parse_reply(body: &[u8]) -> Result<ModelReply, ProviderError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ProviderError::Malformed)?;
    let choice = value
        .pointer("/choices/0")
        .ok_or(ProviderError::Malformed)?;
    if refused(choice, "message") {
        return Err(ProviderError::SafetyBlocked);
    }
    let text = choice
        .pointer("/message/content")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or(ProviderError::Malformed)?;
    Ok(ModelReply {
        text: text.to_owned(),
        usage: parse_usage(&value).unwrap_or_default(),
    })
}

struct OpenAiEvents;

impl EventParser for OpenAiEvents {
    fn on_data(&mut self, data: &str) -> Result<(Vec<StreamEvent>, bool), ProviderError> {
        if data.trim() == "[DONE]" {
            return Ok((Vec::new(), true));
        }
        let value: Value = serde_json::from_str(data).map_err(|_| ProviderError::Malformed)?;
        if value.get("error").is_some_and(|e| !e.is_null()) {
            // Some servers report a failure inside the stream after a 200.
            return Err(ProviderError::Server(500));
        }
        let mut events = Vec::new();
        if let Some(choice) = value.pointer("/choices/0") {
            if refused(choice, "delta") {
                return Err(ProviderError::SafetyBlocked);
            }
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str)
                && !text.is_empty()
            {
                events.push(StreamEvent::Text(text.to_owned()));
            }
        } else if !value.get("choices").is_some_and(Value::is_array) {
            return Err(ProviderError::Malformed);
        }
        if let Some(usage) = parse_usage(&value) {
            events.push(StreamEvent::Usage(usage));
        }
        Ok((events, false))
    }
}

impl ModelProvider for OpenAiProvider {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.config.model
    }

    fn complete<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ModelReply, ProviderError>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.policy.timeout;
            retry::run(&self.policy.retry, &self.breaker, deadline, || async {
                let response = send(self.post(request, false), deadline).await?;
                parse_reply(&read_body(response, deadline).await?)
            })
            .await
        })
    }

    fn stream<'a>(
        &'a self,
        request: &'a ModelRequest,
    ) -> BoxFuture<'a, Result<ReplyStream, ProviderError>> {
        Box::pin(async move {
            let deadline = Instant::now() + self.policy.timeout;
            let response = retry::run(&self.policy.retry, &self.breaker, deadline, || {
                send(self.post(request, true), deadline)
            })
            .await?;
            Ok(sse::events(
                response,
                OpenAiEvents,
                deadline,
                self.breaker.clone(),
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_content_and_usage_are_read() {
        let reply = parse_reply(
            br#"{"id":"x","object":"chat.completion","choices":[{"index":0,
                "message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],
                "usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}}"#,
        )
        .unwrap();
        assert_eq!(reply.text, "Hi");
        assert_eq!(reply.usage.total_tokens, Some(10));
    }

    #[test]
    fn a_content_filter_or_refusal_is_a_safety_block() {
        assert_eq!(
            parse_reply(
                br#"{"choices":[{"message":{"content":null},"finish_reason":"content_filter"}]}"#
            ),
            Err(ProviderError::SafetyBlocked)
        );
        assert_eq!(
            parse_reply(br#"{"choices":[{"message":{"content":null,"refusal":"no"}}]}"#),
            Err(ProviderError::SafetyBlocked)
        );
    }

    #[test]
    fn a_stream_chunk_without_choices_is_malformed_but_a_usage_chunk_is_not() {
        let mut p = OpenAiEvents;
        assert_eq!(p.on_data("{}"), Err(ProviderError::Malformed));
        let (events, done) = p
            .on_data(r#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}"#)
            .unwrap();
        assert!(!done);
        assert!(matches!(events[..], [StreamEvent::Usage(_)]));
        assert_eq!(p.on_data("[DONE]").unwrap(), (vec![], true));
    }
}
