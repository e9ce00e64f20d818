//! Triage: the assistant a patient describes their problem to. The engine, the providers and
//! the safety guard live in `tabibu-ai`; this feature owns what the app keeps about them.
//!
//! So far that is [`store`] (server only): whether a patient consented to an external model
//! seeing their redacted words, and per-call usage for metrics. Nothing in this feature may
//! store or log what a patient wrote or what a model answered.

#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod store;
