//! Google's Gemini REST API: `models/{model}:generateContent` and
//! `:streamGenerateContent?alt=sse`, the key in the `x-goog-api-key` header (never in the
//! URL, where proxies would log it).
//!
//! A safety block arrives as a normal 200: `promptFeedback.blockReason` when the question was
//! refused, `finishReason: "SAFETY"` (or a sibling) when the answer was. Both become
//! [`ProviderError::SafetyBlocked`].
use std::sync::Arc;

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::breaker::CircuitBreaker;
use super::sse::{self, EventParser};
use super::{
    BoxFuture, CallPolicy, GeminiConfig, ModelProvider, ModelReply, ModelRequest, ProviderError,
    ReplyStream, Role, StreamEvent, Usage, http_client, read_body, retry, send, token_count,
};

/// Finish reasons that mean the answer was withheld on content grounds.
const BLOCKED_FINISH: [&str; 6] = [
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
    "IMAGE_SAFETY",
];

/// A Gemini model.
pub struct GeminiProvider {
    config: GeminiConfig,
    policy: CallPolicy,
    client: reqwest::Client,
    breaker: Arc<CircuitBreaker>,
}

impl std::fmt::Debug for GeminiProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeminiProvider")
            .field("config", &self.config)
            .field("policy", &self.policy)
            .finish()
    }
}

impl GeminiProvider {
    pub fn new(config: GeminiConfig, policy: CallPolicy) -> Result<Self, ProviderError> {
        Ok(GeminiProvider {
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

    fn post(&self, method: &str, request: &ModelRequest) -> reqwest::RequestBuilder {
        let url = format!(
            "{}/v1beta/models/{}:{method}",
            self.config.base_url, self.config.model
        );
        self.client
            .post(url)
            .header("x-goog-api-key", self.config.api_key.expose_secret())
            .json(&body(request))
    }
}

/// The `generateContent` request body.
fn body(request: &ModelRequest) -> Value {
    let contents: Vec<Value> = request
        .messages
        .iter()
        .map(|m| {
            json!({
                "role": match m.role { Role::User => "user", Role::Assistant => "model" },
                "parts": [{ "text": m.text }],
            })
        })
        .collect();
    let mut generation = json!({
        "temperature": request.temperature,
        "maxOutputTokens": request.max_output_tokens,
    });
    if request.json {
        generation["responseMimeType"] = json!("application/json");
    }
    // Medical questions touch on self-harm, sex and drugs as a matter of course; the default
    // thresholds would refuse patients who most need an answer. Only high-probability harm is
    // blocked, and a block still falls back to the built-in engine.
    let safety: Vec<Value> = [
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
    ]
    .into_iter()
    .map(|category| json!({ "category": category, "threshold": "BLOCK_ONLY_HIGH" }))
    .collect();
    json!({
        "contents": contents,
        "systemInstruction": { "parts": [{ "text": request.system }] },
        "generationConfig": generation,
        "safetySettings": safety,
    })
}

/// What one response (or one streamed chunk) holds.
struct Chunk {
    text: String,
    usage: Option<Usage>,
    finished: bool,
}

fn parse_chunk(value: &Value) -> Result<Chunk, ProviderError> {
    if !value.is_object() {
        return Err(ProviderError::Malformed);
    }
    if value
        .pointer("/promptFeedback/blockReason")
        .is_some_and(|r| !r.is_null())
    {
        return Err(ProviderError::SafetyBlocked);
    }
    let usage = value.get("usageMetadata").map(|u| Usage {
        prompt_tokens: token_count(u.get("promptTokenCount")),
        completion_tokens: token_count(u.get("candidatesTokenCount")),
        total_tokens: token_count(u.get("totalTokenCount")),
    });
    let candidate = value.pointer("/candidates/0");
    let finish = candidate
        .and_then(|c| c.get("finishReason"))
        .and_then(Value::as_str);
    if finish.is_some_and(|f| BLOCKED_FINISH.contains(&f)) {
        return Err(ProviderError::SafetyBlocked);
    }
    let mut text = String::new();
    if let Some(parts) = candidate
        .and_then(|c| c.pointer("/content/parts"))
        .and_then(Value::as_array)
    {
        for part in parts {
            // Thinking models may return their reasoning as parts marked `thought`; only the
            // answer is for the patient.
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if let Some(t) = part.get("text").and_then(Value::as_str) {
                text.push_str(t);
            }
        }
    }
    Ok(Chunk {
        text,
        usage,
        finished: finish.is_some(),
    })
}

fn parse_reply(body: &[u8]) -> Result<ModelReply, ProviderError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| ProviderError::Malformed)?;
    let chunk = parse_chunk(&value)?;
    if chunk.text.trim().is_empty() {
        return Err(ProviderError::Malformed);
    }
    Ok(ModelReply {
        text: chunk.text,
        usage: chunk.usage.unwrap_or_default(),
    })
}

/// Streamed chunks: text as it comes, usage when given; the reply ends at a `finishReason`.
struct GeminiEvents;

impl EventParser for GeminiEvents {
    fn on_data(&mut self, data: &str) -> Result<(Vec<StreamEvent>, bool), ProviderError> {
        let value: Value = serde_json::from_str(data).map_err(|_| ProviderError::Malformed)?;
        let chunk = parse_chunk(&value)?;
        let mut events = Vec::new();
        if !chunk.text.is_empty() {
            events.push(StreamEvent::Text(chunk.text));
        }
        if let Some(usage) = chunk.usage {
            events.push(StreamEvent::Usage(usage));
        }
        Ok((events, chunk.finished))
    }
}

impl ModelProvider for GeminiProvider {
    fn name(&self) -> &'static str {
        "gemini"
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
                let response = send(self.post("generateContent", request), deadline).await?;
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
                send(
                    self.post("streamGenerateContent?alt=sse", request),
                    deadline,
                )
            })
            .await?;
            Ok(sse::events(
                response,
                GeminiEvents,
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
    fn parts_are_joined_and_thoughts_left_out() {
        let reply = parse_reply(
            br#"{"candidates":[{"content":{"role":"model","parts":[
                {"text":"hidden","thought":true},{"text":"Hello "},{"text":"there"}]},
                "finishReason":"STOP"}],
                "usageMetadata":{"promptTokenCount":12,"candidatesTokenCount":3,"totalTokenCount":15}}"#,
        )
        .unwrap();
        assert_eq!(reply.text, "Hello there");
        assert_eq!(reply.usage.prompt_tokens, Some(12));
        assert_eq!(reply.usage.completion_tokens, Some(3));
    }

    #[test]
    fn a_blocked_prompt_or_answer_is_a_safety_block() {
        assert_eq!(
            parse_reply(br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#),
            Err(ProviderError::SafetyBlocked)
        );
        assert_eq!(
            parse_reply(br#"{"candidates":[{"finishReason":"SAFETY"}]}"#),
            Err(ProviderError::SafetyBlocked)
        );
    }

    #[test]
    fn an_answer_without_text_is_malformed() {
        for body in [
            &b"{}"[..],
            b"[]",
            b"not json",
            br#"{"candidates":[]}"#,
            br#"{"candidates":[{"content":{"parts":[{"text":"  "}]}}]}"#,
        ] {
            assert_eq!(parse_reply(body), Err(ProviderError::Malformed));
        }
    }
}
