//! The symptom assistant: a patient describes what is wrong in their own words and the reply
//! streams in, with the triage level, its reasons, advice and follow-up questions. An
//! emergency shows the banner with the local emergency number before any other text.
//!
//! Shared with the browser: [`types`] (and the checks a message must pass), the pages, the
//! strings and the server functions' signatures. Server only: [`service`] (storage, audited)
//! and [`http`] (the streaming endpoint). The engine and the models are in `tabibu-ai`;
//! consent and usage records in `crate::triage`. Nothing here logs what a patient wrote.

pub mod api;
pub mod pages;
pub mod strings;
pub mod types;

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "ssr")]
pub mod http;
#[cfg(feature = "ssr")]
pub mod service;

pub use types::*;
