//! Checks on what patients and doctors send, the same in the browser (for speed) and on the
//! server (for truth). Each failure is a field name and a message key the page translates.

use crate::error::AppError;
use tabibu_ai::TriageLevel;

/// The most documents shared with one consultation.
pub const MAX_DOCUMENTS: usize = 20;

/// The longest note, message, outcome or advice, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;

/// A non-empty text of at most [`MAX_TEXT_CHARS`], trimmed.
pub fn text(field: &str, value: &str, required: bool) -> Result<String, AppError> {
    let trimmed = value.trim();
    if trimmed.is_empty() && required {
        return Err(AppError::invalid(field, "consult.required"));
    }
    if trimmed.chars().count() > MAX_TEXT_CHARS {
        return Err(AppError::invalid(field, "consult.too_long"));
    }
    Ok(trimmed.to_owned())
}

/// A key the page makes up so that a retried request is recognised: 8 to 64 letters, digits
/// and dashes.
pub fn client_key(field: &str, value: &str) -> Result<String, AppError> {
    let ok = (8..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::invalid(field, "error.bad_request"))
    }
}

/// An id as the server hands them out (hex, or a hyphenated UUID), so that nothing else
/// reaches a query.
pub fn id(value: &str) -> Result<String, AppError> {
    let ok = (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(AppError::NotFound)
    }
}

/// The least a break-glass reason must say, in characters.
pub const MIN_REASON_CHARS: usize = 15;

/// A reason for an exceptional access: a real sentence, not "x".
pub fn reason(field: &str, value: &str) -> Result<String, AppError> {
    let text = text(field, value, true)?;
    if text.chars().count() < MIN_REASON_CHARS {
        return Err(AppError::invalid(field, "consult.reason_short"));
    }
    Ok(text)
}

/// A triage level by its stored name.
pub fn level(field: &str, value: &str) -> Result<TriageLevel, AppError> {
    TriageLevel::parse(value.trim()).ok_or_else(|| AppError::invalid(field, "consult.level"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_trimmed_required_and_capped() {
        assert_eq!(text("note", "  hi ", true), Ok("hi".to_owned()));
        assert!(text("note", "   ", true).is_err());
        assert_eq!(text("note", "   ", false), Ok(String::new()));
        assert!(text("note", &"x".repeat(MAX_TEXT_CHARS + 1), true).is_err());
    }

    #[test]
    fn keys_and_ids_admit_only_plain_characters() {
        assert!(client_key("k", "abcd-1234").is_ok());
        assert!(client_key("k", "short").is_err());
        assert!(client_key("k", "abcd 1234").is_err());
        assert!(id("0f3a").is_ok());
        assert!(id("../etc").is_err());
        assert!(id("").is_err());
    }

    #[test]
    fn levels_read_by_name() {
        assert_eq!(level("l", "urgent"), Ok(TriageLevel::Urgent));
        assert!(level("l", "soon").is_err());
    }
}
