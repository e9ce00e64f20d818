//! Tabibu's AI layer: the triage engine lands here (issue 4).
pub mod types;
