//! What the chat page and the server exchange: conversations, messages, the streaming
//! endpoint's request and its events, and the checks a message must pass (the same on both
//! sides). Compiled into the browser too, so it holds no server logic.

use crate::error::FieldErrors;
use serde::{Deserialize, Serialize};
use tabibu_ai::{PreConsultSummary, TriageLevel, TriageResult};

/// The most characters one message may have: what the triage engine reads
/// (`tabibu_ai::MAX_CHARS`, checked at compile time on the server).
pub const MAX_MESSAGE_CHARS: usize = 20_000;

#[cfg(feature = "ssr")]
const _: () = assert!(MAX_MESSAGE_CHARS == tabibu_ai::MAX_CHARS);

/// The path of the streaming endpoint.
pub const MESSAGES_PATH: &str = "/api/assistant/messages";

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Patient,
    Assistant,
}

impl Author {
    pub fn as_str(self) -> &'static str {
        match self {
            Author::Patient => "patient",
            Author::Assistant => "assistant",
        }
    }

    pub fn parse(s: &str) -> Option<Author> {
        match s {
            "patient" => Some(Author::Patient),
            "assistant" => Some(Author::Assistant),
            _ => None,
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub id: String,
    pub author: Author,
    pub body: String,
    /// For assistant messages: the level the reply was given at.
    pub triage_level: Option<TriageLevel>,
    /// False when a streamed reply was cut off; its text is what arrived.
    pub complete: bool,
    /// For patient messages: the id the browser gave it (sending it again retries).
    pub client_message_id: Option<String>,
    pub created_at: i64,
}

/// A conversation as the list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub id: String,
    /// The latest level; `None` before the first reply.
    pub triage_level: Option<TriageLevel>,
    /// The start of the patient's first message.
    pub preview: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The patient's conversations, newest first, and whether the page must ask for consent
/// before an external model may read their words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub conversations: Vec<ConversationSummary>,
    /// An external provider is configured and this patient has not consented to it.
    pub consent_needed: bool,
}

/// One whole conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub messages: Vec<ChatMessage>,
    /// The latest triage result of the whole conversation.
    pub triage: Option<TriageResult>,
    /// The pre-consultation summary a doctor would read.
    pub summary: Option<PreConsultSummary>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The body of `POST /api/assistant/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostMessage {
    /// Absent for the first message of a new conversation.
    #[serde(default)]
    pub conversation_id: Option<String>,
    pub text: String,
    /// Made by the browser, once per message: sending it again never stores it twice.
    pub client_message_id: String,
}

/// The `done` event: the reply as stored, the final level and result, and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Done {
    pub conversation_id: String,
    /// The reply as stored: replaces whatever the deltas showed.
    pub reply: String,
    pub level: TriageLevel,
    pub result: TriageResult,
    /// False when the model's stream was cut: `reply` is the part that arrived.
    pub complete: bool,
}

/// SSE event names.
pub const EVENT_TRIAGE: &str = "triage";
pub const EVENT_DELTA: &str = "delta";
pub const EVENT_DONE: &str = "done";
pub const EVENT_ERROR: &str = "error";

/// Removes what no message needs and a database cannot store: NUL and other control
/// characters (line breaks and tabs stay). Surrounding whitespace goes too.
pub fn clean_text(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Whether `id` can be a client message id: 8 to 64 letters, digits, `-` or `_`.
pub fn valid_client_id(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks a message as sent; returns the cleaned text, or a message key per field.
pub fn validate(message: &PostMessage) -> Result<String, FieldErrors> {
    let mut fields = FieldErrors::new();
    let text = clean_text(&message.text);
    if text.is_empty() {
        fields.insert("text".into(), "assistant.empty".into());
    } else if text.chars().count() > MAX_MESSAGE_CHARS {
        fields.insert("text".into(), "assistant.too_long".into());
    }
    if !valid_client_id(&message.client_message_id) {
        fields.insert("client_message_id".into(), "error.bad_request".into());
    }
    if let Some(id) = &message.conversation_id
        && !valid_client_id(id)
    {
        fields.insert("conversation_id".into(), "error.bad_request".into());
    }
    if fields.is_empty() {
        Ok(text)
    } else {
        Err(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> PostMessage {
        PostMessage {
            conversation_id: None,
            text: text.into(),
            client_message_id: "0123456789abcdef".into(),
        }
    }

    #[test]
    fn empty_and_whitespace_only_messages_are_refused() {
        for text in ["", "   ", "\n\t", "\u{0}\u{0}"] {
            let fields = validate(&message(text)).unwrap_err();
            assert_eq!(fields["text"], "assistant.empty");
        }
    }

    #[test]
    fn a_message_longer_than_the_engine_reads_is_refused() {
        let long = "a".repeat(MAX_MESSAGE_CHARS + 1);
        assert_eq!(
            validate(&message(&long)).unwrap_err()["text"],
            "assistant.too_long"
        );
        let longest = "é".repeat(MAX_MESSAGE_CHARS);
        assert!(validate(&message(&longest)).is_ok());
    }

    #[test]
    fn control_characters_are_dropped_but_line_breaks_stay() {
        assert_eq!(
            clean_text(" fever\u{0}\nand\tcough\u{7} "),
            "fever\nand\tcough"
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        let mut m = message("fever");
        m.client_message_id = "short".into();
        assert!(validate(&m).unwrap_err().contains_key("client_message_id"));
        m.client_message_id = "0123456789abcdef".into();
        m.conversation_id = Some("../../etc/passwd".into());
        assert!(validate(&m).unwrap_err().contains_key("conversation_id"));
    }
}
