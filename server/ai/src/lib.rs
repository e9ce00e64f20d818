//! Tabibu's AI layer: the shared triage types and, with the `engine` feature, the offline
//! built-in triage engine, its knowledge base, the safety guard and the evaluation harness.
//!
//! With `providers` (server only) also: the Gemini and OpenAI-compatible model providers,
//! redaction of personal identifiers, the prompts, and the [`assistant`] that puts a model's
//! opinion next to the engine's without ever letting it lower the level.
//!
//! Without `engine` only [`types`] compiles, for the browser bundle. Nothing in this crate
//! logs or prints patient text.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod types;

#[cfg(feature = "engine")]
mod engine;
#[cfg(feature = "engine")]
pub mod eval;
#[cfg(feature = "engine")]
mod extract;
#[cfg(feature = "engine")]
pub mod guard;
#[cfg(feature = "engine")]
mod kb;
#[cfg(feature = "engine")]
mod render;
#[cfg(feature = "engine")]
mod summary;
#[cfg(feature = "engine")]
mod text;

#[cfg(feature = "providers")]
pub mod assistant;
#[cfg(feature = "providers")]
pub mod prompt;
#[cfg(feature = "providers")]
pub mod providers;
#[cfg(feature = "providers")]
pub mod redact;

#[cfg(feature = "engine")]
pub use engine::Engine;
#[cfg(feature = "engine")]
pub use kb::{FILES as KB_FILES, KbError, KnowledgeBase};
#[cfg(feature = "engine")]
pub use render::render_result_text;
#[cfg(feature = "engine")]
pub use summary::pre_consult_summary;
#[cfg(feature = "engine")]
pub use text::MAX_CHARS;
pub use types::*;

/// A fuzzing entry point: decodes bytes lossily, triages them with the default knowledge base
/// (the first two bytes also choose a profile), and panics if a safety invariant breaks.
#[cfg(feature = "engine")]
pub fn fuzz_triage(bytes: &[u8]) {
    use std::sync::OnceLock;
    static ENGINE: OnceLock<Option<Engine>> = OnceLock::new();
    let Some(engine) = ENGINE.get_or_init(|| KnowledgeBase::load_default().ok().map(Engine::new))
    else {
        return;
    };
    let ctx = match bytes {
        [a, b, ..] => PatientContext {
            age_years: (*a < 200).then_some(f32::from(*a) / 2.0),
            sex: match b % 3 {
                0 => Some(Sex::Female),
                1 => Some(Sex::Male),
                _ => None,
            },
            pregnant: (b % 5 == 0).then_some(true),
        },
        _ => PatientContext::default(),
    };
    let text = String::from_utf8_lossy(bytes);
    let result = engine.triage(&text, &ctx);
    if let Err(v) = guard::check(&result) {
        panic!("safety invariant broken: {v:?}");
    }
    for external in TriageLevel::ALL {
        let combined = guard::combine(&result, external);
        assert!(
            combined.level.rank() >= result.level.rank(),
            "combine lowered the level"
        );
        assert!(
            guard::check(&combined).is_ok(),
            "combine broke an invariant"
        );
    }
}

/// A fuzzing entry point for redaction: the first line is taken as the profile's name, the
/// rest as the patient's text. Panics if redaction panics, or if an email address or phone
/// number can still be found in what it returns.
#[cfg(feature = "providers")]
pub fn fuzz_redact(bytes: &[u8]) {
    let input = String::from_utf8_lossy(bytes);
    let (name, text) = input.split_once('\n').unwrap_or(("", &input));
    let out = redact::redact(text, &[name]);
    let again = redact::redact(&out.text, &[]);
    assert!(
        !again
            .found
            .iter()
            .any(|k| matches!(k, redact::Kind::Email | redact::Kind::Phone)),
        "an email address or phone number survived redaction"
    );
}
