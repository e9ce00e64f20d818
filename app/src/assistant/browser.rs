//! Browser-only plumbing for the chat page: posting a message and reading the server-sent
//! events as they arrive (`fetch` and a `ReadableStream` reader), the draft kept in
//! `localStorage`, and fresh message ids. Compiled only with `hydrate`.
//!
//! It never sends a message anywhere but the same-origin endpoint, and keeps nothing in the
//! browser except the unsent draft, which is removed once the message is sent.

use super::types::{MESSAGES_PATH, PostMessage};
use crate::error::AppError;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

const DRAFT_PREFIX: &str = "tabibu.assistant.draft.";

/// A fresh id for a message: 128 random bits as hex.
pub fn new_client_id() -> String {
    let mut bytes = [0u8; 16];
    let filled = web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .is_some();
    if !filled {
        for b in &mut bytes {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let random = (js_sys::Math::random() * 256.0) as u8;
            *b = random;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

fn draft_key(conversation: Option<&str>) -> String {
    format!("{DRAFT_PREFIX}{}", conversation.unwrap_or("new"))
}

/// The unsent draft for a conversation (`None` for a new one).
pub fn load_draft(conversation: Option<&str>) -> Option<String> {
    storage()?
        .get_item(&draft_key(conversation))
        .ok()?
        .filter(|d| !d.is_empty())
}

/// Keeps the draft; an empty one is removed.
pub fn save_draft(conversation: Option<&str>, text: &str) {
    if let Some(s) = storage() {
        let key = draft_key(conversation);
        let _ = if text.is_empty() {
            s.remove_item(&key)
        } else {
            s.set_item(&key, text)
        };
    }
}

/// Posts `message` and calls `on_event(name, data)` for every event as it arrives.
pub async fn post_message(
    message: &PostMessage,
    mut on_event: impl FnMut(&str, &str),
) -> Result<(), AppError> {
    let window = web_sys::window().ok_or(AppError::Transport)?;
    let body = serde_json::to_string(message).map_err(|_| AppError::Transport)?;
    let headers = web_sys::Headers::new().map_err(|_| AppError::Transport)?;
    let _ = headers.set("content-type", "application/json");
    let _ = headers.set("accept", "text/event-stream");
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&JsValue::from_str(&body));
    let response: web_sys::Response =
        JsFuture::from(window.fetch_with_str_and_init(MESSAGES_PATH, &init))
            .await
            .map_err(|_| AppError::Transport)?
            .dyn_into()
            .map_err(|_| AppError::Transport)?;
    if response.status() != 200 {
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|t| t.as_string()),
            Err(_) => None,
        };
        return Err(text
            .and_then(|t| serde_json::from_str::<AppError>(&t).ok())
            .unwrap_or(AppError::Transport));
    }
    let stream = response.body().ok_or(AppError::Transport)?;
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let chunk: web_sys::ReadableStreamReadResult = JsFuture::from(reader.read())
            .await
            .map_err(|_| AppError::Transport)?
            .unchecked_into();
        if chunk.get_done().unwrap_or(true) {
            break;
        }
        let bytes = js_sys::Uint8Array::new(&chunk.get_value()).to_vec();
        pending.extend_from_slice(&bytes);
        // Events end with a blank line; a multi-byte character never contains `\n`, so
        // splitting the bytes there never cuts one in half.
        while let Some(end) = pending.windows(2).position(|w| w == b"\n\n") {
            let raw: Vec<u8> = pending.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&raw);
            let mut name = "message";
            let mut data = String::new();
            for line in text.lines() {
                if let Some(n) = line.strip_prefix("event:") {
                    name = n.trim();
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            on_event(name, &data);
        }
    }
    Ok(())
}
